// The same reads as the kubectl cases, from a script with @kubernetes/client-node through
// the gateway (tests/integration/t_e2e_kubectl.sh). Run from tests/:
//   node e2e/client-node.mjs KUBECONFIG
// Prints one JSON object: {"pods": [names in default], "pod": name of web-1 read back,
//   "deployments": [names], "secret": {"code": N, "message": S} | {"name": S}}.
//   node e2e/client-node.mjs KUBECONFIG streams
// Exec (`cat` on web-1, stdin echoed; WebSocket v5.channel.k8s.io) and port-forward
// (v4.channel.k8s.io WebSocket, bytes echoed): {"exec": S, "status": S, "portforward": S}.
// Any other failure exits 1 with the error on stderr.
import { KubeConfig, CoreV1Api, AppsV1Api, Exec, PortForward } from '@kubernetes/client-node';
import { PassThrough } from 'node:stream';

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

const withTimeout = (p, what) => Promise.race([p, new Promise((_, reject) =>
  setTimeout(() => reject(new Error(`${what}: timed out`)), 10000))]);

async function execCat(text) {
  const stdout = new PassThrough(), stdin = new PassThrough();
  let out = '';
  stdout.on('data', (d) => { out += d; });
  const status = await withTimeout(new Promise((resolve, reject) => {
    new Exec(kc).exec('default', 'web-1', 'web', ['cat'], stdout, null, stdin, false, resolve)
      .then(() => stdin.end(text), reject);
  }), 'exec');
  return { exec: out, status: status.status };
}

async function portForward(text) {
  const output = new PassThrough(), input = new PassThrough();
  let got = '';
  const ws = await new PortForward(kc).portForward('default', 'web-1', [8080], output, null, input);
  const echoed = new Promise((resolve) => output.on('data', (d) => {
    got += d;
    if (got.length >= text.length) resolve(got);
  }));
  input.write(text);
  const result = await withTimeout(echoed, 'port-forward');
  ws.close();
  return result;
}

if (process.argv[3] === 'streams') {
  try {
    const e = await execCat('hello from client-node\n');
    const portforward = await portForward('client-node bytes');
    console.log(JSON.stringify({ ...e, portforward }));
    process.exit(0);
  } catch (e) {
    console.error(e.code ? `HTTP ${e.code}: ${e.body}` : e.stack || String(e));
    process.exit(1);
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
