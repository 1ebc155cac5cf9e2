// The same reads as the kubectl cases, from a script with @kubernetes/client-node through
// the gateway (tests/integration/t_e2e_kubectl.sh). Run from tests/:
//   node e2e/client-node.mjs KUBECONFIG
// Prints one JSON object: {"pods": [names in default], "pod": name of web-1 read back,
//   "deployments": [names], "secret": {"code": N, "message": S} | {"name": S}}.
//   node e2e/client-node.mjs KUBECONFIG streams
// Exec (`cat` on web-1, stdin echoed; WebSocket v5.channel.k8s.io) and port-forward
// (v4.channel.k8s.io WebSocket, bytes echoed): {"exec": S, "status": S, "portforward": S}.
//   node e2e/client-node.mjs KUBECONFIG reviews
// The reviews the gateway answers itself (issue 14): {"list": allowed to list pods in default,
//   "delete": allowed to delete pods/web-1, "rules": the resourceRules naming pods,
//   "whoami": username, "local": a LocalSubjectAccessReview for bob deleting pods/web-1
//   ({"allowed": B} or {"code": N})}.
// Any other failure exits 1 with the error on stderr.
import { KubeConfig, CoreV1Api, AppsV1Api, AuthorizationV1Api, AuthenticationV1Api, Exec,
  PortForward } from '@kubernetes/client-node';
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

async function reviews() {
  const authz = kc.makeApiClient(AuthorizationV1Api), authn = kc.makeApiClient(AuthenticationV1Api);
  const av = 'authorization.k8s.io/v1';
  const can = async (verb, name) => (await authz.createSelfSubjectAccessReview({ body: {
    apiVersion: av, kind: 'SelfSubjectAccessReview',
    spec: { resourceAttributes: { namespace: 'default', verb, resource: 'pods', name } } } })).status.allowed;
  const rules = await authz.createSelfSubjectRulesReview({ body: {
    apiVersion: av, kind: 'SelfSubjectRulesReview', spec: { namespace: 'default' } } });
  const who = await authn.createSelfSubjectReview({ body: {
    apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
  let local;
  try {
    local = { allowed: (await authz.createNamespacedLocalSubjectAccessReview({ namespace: 'default',
      body: { apiVersion: av, kind: 'LocalSubjectAccessReview', spec: { user: 'bob',
        resourceAttributes: { namespace: 'default', verb: 'delete', resource: 'pods', name: 'web-1' } } } }))
      .status.allowed };
  } catch (e) {
    if (typeof e.code !== 'number') throw e;
    local = { code: e.code };
  }
  return { list: await can('list'), delete: await can('delete', 'web-1'),
    rules: rules.status.resourceRules.filter((r) => r.resources.includes('pods')),
    whoami: who.status.userInfo.username, local };
}

if (process.argv[3] === 'reviews') {
  try {
    console.log(JSON.stringify(await reviews()));
    process.exit(0);
  } catch (e) {
    console.error(e.code ? `HTTP ${e.code}: ${e.body}` : e.stack || String(e));
    process.exit(1);
  }
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
