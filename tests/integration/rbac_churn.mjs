// Churn for the RBAC scale test (t_rbac_scale.sh): drives RATE changes per second for
// SECONDS through the fake API server's bulk control (tests/fixtures/rbacstore.mjs), in
// batches every 50 ms, each change a RoleBinding of the initial set given a new subject
// (a MODIFIED watch event). Meanwhile a probe measures event-to-effect from the outside:
// every PROBE_MS it grants or revokes user "probe" (a RoleBinding "probe" in namespace
// "probe") in the same bulk stream and polls the gateway every 5 ms until its answer flips;
// the time from the fixture's acknowledgement to the flip is one sample.
//   node rbac_churn.mjs API_PORT GW_PORT PROBE_TOKEN RATE SECONDS NBINDINGS NNS OUT.json
// Prints one JSON line: changes sent, probe samples, p50/p99/max in ms, flips that never
// came (within 5 s).
import fs from 'node:fs';
import https from 'node:https';
import http from 'node:http';

const [apiPort, gwPort, probeToken, rate, seconds, nb, nns, out] = process.argv.slice(2);
const RATE = Number(rate), SECONDS = Number(seconds), NB = Number(nb), NNS = Number(nns);
const PROBE_MS = 500;
const agent = new https.Agent({ keepAlive: true, rejectUnauthorized: false });
const gwAgent = new http.Agent({ keepAlive: true });

const rb = (name, ns, user) => ({
  apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name, namespace: ns },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
  subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
});

function bulk(ops) {
  const body = JSON.stringify(ops);
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: apiPort, path: '/_fixture/rbac/bulk', method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`bulk ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function probeStatus() {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: gwPort, path: '/api/v1/namespaces/probe/pods', agent: gwAgent,
      headers: { authorization: `Bearer ${probeToken}` } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', () => resolve(0));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let sent = 0, gen = 0, probeOn = false, missed = 0;
const samples = [];

async function probe() {
  probeOn = !probeOn;
  const ops = [probeOn ? { op: 'put', object: rb('probe', 'probe', 'probe') } : { op: 'delete', object: rb('probe', 'probe', 'probe') }];
  await bulk(ops);
  const t0 = performance.now(), want = probeOn ? 200 : 403;
  while (performance.now() - t0 < 5000) {
    if ((await probeStatus()) === want) { samples.push(performance.now() - t0); return; }
    await sleep(5);
  }
  missed++;
}

async function churn() {
  const end = performance.now() + SECONDS * 1000, perBatch = Math.round(RATE / 20);
  let next = performance.now(), nextProbe = next + PROBE_MS, probing = null;
  while (performance.now() < end) {
    const ops = [];
    for (let k = 0; k < perBatch; k++, gen++) {
      const i = (gen * 7919) % NB;
      ops.push({ op: 'put', object: rb(`rb-${i}`, `ns-${i % NNS}`, `moved-${i}-${gen}`) });
    }
    await bulk(ops);
    sent += ops.length;
    if (!probing && performance.now() >= nextProbe) {
      probing = probe().finally(() => { probing = null; });
      nextProbe += PROBE_MS;
    }
    next += 50;
    const wait = next - performance.now();
    if (wait > 0) await sleep(wait);
  }
  if (probing) await probing;
}

await churn();
samples.sort((a, b) => a - b);
const pct = (p) => (samples.length ? samples[Math.min(samples.length - 1, Math.floor(p * samples.length))] : NaN);
const res = { sent, rate: sent / SECONDS, probes: samples.length, missed,
  p50_ms: +pct(0.5).toFixed(1), p99_ms: +pct(0.99).toFixed(1), max_ms: +(samples.at(-1) ?? NaN).toFixed?.(1) };
fs.writeFileSync(out, JSON.stringify(res));
console.log(JSON.stringify(res));
