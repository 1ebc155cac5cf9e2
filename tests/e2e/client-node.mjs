// The same reads as the kubectl cases, from a script with @kubernetes/client-node through
// the gateway (tests/integration/t_e2e_kubectl.sh). Run from tests/:
//   node e2e/client-node.mjs KUBECONFIG
// Prints one JSON object: {"pods": [names in default], "pod": name of web-1 read back,
//   "deployments": [names], "secret": {"code": N, "message": S} | {"name": S}}.
// Any other failure exits 1 with the error on stderr.
import { KubeConfig, CoreV1Api, AppsV1Api } from '@kubernetes/client-node';

const kc = new KubeConfig();
kc.loadFromFile(process.argv[2]);
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);

async function outcome(fn) {
  try {
    return { name: (await fn()).metadata.name };
  } catch (e) {
    if (typeof e.code !== 'number') throw e;
    let message = '';
    try { message = JSON.parse(e.body).message; } catch { message = String(e.body); }
    return { code: e.code, message };
  }
}

try {
  const pods = await core.listNamespacedPod({ namespace: 'default' });
  const pod = await core.readNamespacedPod({ name: 'web-1', namespace: 'default' });
  const deps = await outcome(() => apps.listNamespacedDeployment({ namespace: 'default' })
    .then((l) => ({ metadata: { name: l.items.map((d) => d.metadata.name).join(',') } })));
  const secret = await outcome(() => core.readNamespacedSecret({ name: 'db-password', namespace: 'default' }));
  console.log(JSON.stringify({ pods: pods.items.map((p) => p.metadata.name), pod: pod.metadata.name,
    deployments: deps, secret }));
} catch (e) {
  console.error(e.code ? `HTTP ${e.code}: ${e.body}` : e.stack || String(e));
  process.exit(1);
}
