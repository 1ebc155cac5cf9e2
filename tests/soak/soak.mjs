#!/usr/bin/env node
// Soak test for authgate (issue 11): the real binary, on loopback, against the real OIDC
// provider fixture, the Graph fixture and the upstream fixture, under a mix of clients and
// faults for a bounded time. It stops by itself and kills every process it started.
//
//   node tests/soak/soak.mjs [--seconds N | --minutes N] [--binary PATH] [--rss-bound-mb N]
//        [--warmup-seconds N] [--scale N] [--rate N] [--tls] [--json FILE] [--keep]
//
// --tls: the gateway listens with TLS (a generated P-256 certificate) and every client
// speaks TLS; one more kind sends junk where a ClientHello belongs.
//
// Clients (kinds): keep-alive GETs with mostly fresh tokens (token-cache misses), OIDC
// provider tokens, Azure AD overage tokens resolved through Graph, watches, exec-style
// upgrade tunnels (101 + echo), uploads and downloads of several MB, clients that stall
// reading a 64 MB response, slowloris heads, slow bodies, garbage bytes, a denied
// request (403) and anonymous ones (401).
// Faults: policy rewrite + SIGHUP every few seconds (sometimes a broken file), OIDC key
// rotation, IdP JWKS outages (500, garbage, html, empty, slow), Graph slow and failing,
// upstream restarts (SIGKILL or SIGTERM). A status outside a kind's expected set is
// allowed only for requests that overlapped a fault window of the class that explains it.
//
// IdP outages include the provider being down altogether (killed, restarted on its port
// with new keys).
// Asserts: the gateway never dies and exits 0 on SIGTERM at the end; every request got a
// status or an expected close; only expected statuses per kind; VmRSS after warm-up grows
// less than --rss-bound-mb (not on a sanitizer build, whose allocator quarantine grows
// by design); open fds return to the baseline; no sanitizer report in the gateway's
// output. Prints a summary; exit status 0 = all assertions held, 1 = one failed.
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.resolve(HERE, '../..');
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : dflt;
};
const flag = (name) => argv.includes(name);

const DURATION_S = opt('--minutes') ? Number(opt('--minutes')) * 60 : Number(opt('--seconds', 120));
const BINARY = path.resolve(opt('--binary', path.join(SRC, 'build/authgate')));
const WARMUP_S = Number(opt('--warmup-seconds', Math.min(60, Math.max(10, DURATION_S / 5))));
const RSS_BOUND_MB = Number(opt('--rss-bound-mb', 16));
const SCALE = Math.max(1, Number(opt('--scale', 1)));
const RATE = Number(opt('--rate', 100)); // ops/s per keep-alive GET client at most
const JSON_OUT = opt('--json', null);
const KEEP = flag('--keep');
const TLS = flag('--tls');
if (!(DURATION_S > 0) || !fs.existsSync(BINARY)) {
  console.error(`usage: soak.mjs [--seconds N|--minutes N] [--binary PATH]  (binary: ${BINARY})`);
  process.exit(2);
}
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'ag-soak.'));
const SANITIZED = fs.readFileSync(BINARY).includes('__asan_init');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => Date.now();
const log = (...a) => console.log(`[soak +${((now() - T0) / 1000).toFixed(1)}s]`, ...a);
const T0 = now();

// ---- child processes ---------------------------------------------------------------------
const children = new Set();
function startChild(name, cmd, args, cwd = SRC, env = process.env) {
  const out = fs.openSync(path.join(WORK, `${name}.log`), 'a');
  const p = spawn(cmd, args, { cwd, env, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  p.name = name;
  p.exited = new Promise((r) => p.on('exit', (code, sig) => { children.delete(p); r({ code, sig }); }));
  children.add(p);
  return p;
}
function killAll() {
  for (const p of children) {
    try { p.kill('SIGKILL'); } catch { /* gone */ }
  }
}
process.on('exit', killAll);
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => { killAll(); process.exit(130); });
process.on('uncaughtException', (e) => { console.error('soak: internal error', e); killAll(); process.exit(3); });
process.on('unhandledRejection', (e) => { console.error('soak: internal error', e); killAll(); process.exit(3); });
// The run stops by itself: a watchdog well past the planned end.
setTimeout(() => { console.error('soak: watchdog expired, aborting'); killAll(); process.exit(3); },
  (DURATION_S + 240) * 1000).unref();

async function waitFor(what, fn, ms = 15000) {
  const end = now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
const readIf = (f) => { try { return fs.readFileSync(f, 'utf8'); } catch { return ''; } };
const jsonLine = (f) => { // the first JSON line (a fixture's "ready" line; warnings may precede it)
  for (const l of readIf(f).split('\n')) {
    if (l.startsWith('{')) { try { return JSON.parse(l); } catch { /* partial line */ } }
  }
  return null;
};

// ---- fixtures ----------------------------------------------------------------------------
const fx = {};
async function startUpstream(port) {
  const pf = path.join(WORK, 'up.port');
  fs.rmSync(pf, { force: true });
  const args = ['tests/fixtures/upstream.mjs', '--port-file', pf];
  if (port) args.push('--port', String(port));
  fx.up = startChild('upstream', 'node', args);
  fx.upPort = Number(await waitFor('upstream port', () => readIf(pf).trim()));
}
let oidcStarts = 0;
async function startOidc(port) {
  const name = `oidc-${++oidcStarts}`;
  fx.oidc = startChild(name, 'node', ['fixtures/oidc/provider.mjs', ...(port ? ['--port', String(port)] : [])],
    path.join(SRC, 'tests'));
  const info = await waitFor('oidc provider', () => jsonLine(path.join(WORK, `${name}.log`)), 30000);
  fx.issuer = info.issuer;
  fx.oidcPort = info.port;
}
async function startGraph() {
  fx.graph = startChild('graph', 'node',
    ['tests/fixtures/graph/server.mjs', '--jwks', path.join(WORK, 'graph-jwks.json')]);
  const info = await waitFor('graph fixture', () => jsonLine(path.join(WORK, 'graph.log')), 30000);
  fx.graphUrl = `http://127.0.0.1:${info.port}`;
  fx.graphPort = info.port;
  fs.writeFileSync(path.join(WORK, 'graph-secret'), 's3cret\n');
}

// Local ES256 issuer: the driver mints its own tokens, so every GET can carry a new one.
const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const LOCAL_ISS = 'https://soak.local';
fs.writeFileSync(path.join(WORK, 'local-jwks.json'), JSON.stringify({
  keys: [{ ...ec.publicKey.export({ format: 'jwk' }), kid: 's1', alg: 'ES256', use: 'sig' }],
}));
const b64u = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
function localToken(sub) {
  const t = Math.floor(now() / 1000);
  const input = `${b64u({ alg: 'ES256', typ: 'JWT', kid: 's1' })}.${b64u({
    iss: LOCAL_ISS, aud: 'authgate', sub, groups: ['soakers'], iat: t - 5, exp: t + 600,
    jti: crypto.randomBytes(8).toString('hex') })}`;
  const sig = crypto.sign('sha256', Buffer.from(input), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

// ---- gateway -----------------------------------------------------------------------------
const WORKERS = 2;
const GRAPH_TID = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const GRAPH_AKS = '6dae42f8-4368-4678-94ff-3960e28e3630';
const POLICY = path.join(WORK, 'policy');

function writePolicy(gen, broken = false) {
  const rb = (kind, name, subject, role, ns) => ({
    apiVersion: 'rbac.authorization.k8s.io/v1', kind, metadata: { name, ...(ns ? { namespace: ns } : {}) },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', ...subject }],
  });
  const items = [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'soak' },
      rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
              { nonResourceURLs: ['*'], verbs: ['*'] }] },
    rb('ClusterRoleBinding', 'soak', { kind: 'Group', name: 'system:authenticated' }, 'soak'),
  ];
  const filler = (gen % 4) * 500; // the rebuild costs differ from one generation to the next
  for (let i = 0; i < filler; i++) {
    items.push(rb('RoleBinding', `f-${gen}-${i}`, { kind: 'User', name: `u-${i}` }, 'view', `ns-${i % 50}`));
  }
  const tmp = path.join(WORK, 'policy.tmp');
  fs.writeFileSync(tmp, broken ? '{"kind": "List", "items": [' : JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
  fs.renameSync(tmp, path.join(POLICY, 'soak.json'));
}

function gatewayConfig() {
  return {
    listen: { address: '127.0.0.1:0' },
    ...(TLS ? { tls: { cert: path.join(WORK, 'server.crt'), key: path.join(WORK, 'server.key') } } : {}),
    upstream: { url: `http://127.0.0.1:${fx.upPort}`, pool_size: 16 },
    admin: { address: '127.0.0.1:0' },
    workers: WORKERS,
    limits: { max_connections: 2000 },
    // header_read and idle are generous: on a loaded machine the driver's own event loop can
    // stall for seconds, and a connection it opened but has not written to yet must not be
    // closed under it (that would be the driver's fault, counted against the gateway).
    timeouts: { header_read: '8s', idle: '20s', upstream_idle: '2s', drain: '5s', upstream_first_byte: '20s' },
    authentication: {
      issuers: [
        { issuer: LOCAL_ISS, audiences: ['authgate'], keys: { jwks_file: path.join(WORK, 'local-jwks.json') },
          claims: { username: 'sub', username_prefix: 'local:', groups: 'groups' } },
        { issuer: fx.issuer, audiences: ['https://authgate.test'], keys: { discovery: true },
          claims: { username: 'sub', username_prefix: 'oidc:', groups: 'groups', groups_prefix: 'oidc:' } },
        { type: 'azure_ad', tenant_id: GRAPH_TID, audiences: [GRAPH_AKS],
          keys: { jwks_file: path.join(WORK, 'graph-jwks.json') } },
      ],
      token_cache: { max_entries: 2000, ttl: '30s', negative_max_entries: 500 },
      keys: { refresh_min: '10s', refresh_max: '30s', unknown_kid_interval: '1s',
              unknown_kid_wait: '2s', fetch_timeout: '2s' },
    },
    authorization: { rbac: { policies: [POLICY] }, reload_interval: '0s' },
    graph: { base_url: fx.graphUrl, token_url: `${fx.graphUrl}/${GRAPH_TID}/oauth2/v2.0/token`,
             client_id: 'authgate-test', client_secret_file: path.join(WORK, 'graph-secret'),
             timeout: '2s', cache_ttl: '10s', stale_ttl: '10s' },
  };
}

async function startGateway() {
  fs.mkdirSync(POLICY, { recursive: true });
  writePolicy(0);
  const conf = path.join(WORK, 'gw.json');
  fs.writeFileSync(conf, JSON.stringify(gatewayConfig(), null, 2));
  // A sanitizer build writes its reports to WORK/sanitizer.PID (the caller's options come
  // first; the path wins), so one is found whatever else the caller's options say.
  const san = (v, extra) => `${v ? `${v}:` : ''}log_path=${path.join(WORK, 'sanitizer')}${extra}`;
  const gw = startChild('gw', BINARY, ['serve', '--config', conf], SRC, { ...process.env,
    ASAN_OPTIONS: san(process.env.ASAN_OPTIONS, ''),
    UBSAN_OPTIONS: san(process.env.UBSAN_OPTIONS, ':print_stacktrace=1') });
  fx.gw = gw;
  const logf = path.join(WORK, 'gw.log');
  const line = await waitFor('gateway start', () => {
    if (gw.exitCode !== null) throw new Error(`gateway exited at start:\n${readIf(logf)}`);
    return /listening on .*/.exec(readIf(logf))?.[0];
  }, 30000);
  fx.gwPort = Number(/listening on [^ ]*:(\d+) /.exec(line)[1]);
  fx.adminPort = Number(/admin on [^ ]*:(\d+)/.exec(line)[1]);
  await waitFor('readyz', async () => (await httpGetStatus(fx.adminPort, '/readyz')) === 200, 30000);
}

function httpGetStatus(port, p) {
  return new Promise((resolve) => {
    const r = http.get({ host: '127.0.0.1', port, path: p, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    r.on('error', () => resolve(0));
    r.on('timeout', () => r.destroy());
  });
}
async function metrics() {
  try {
    const r = await fetch(`http://127.0.0.1:${fx.adminPort}/metrics`);
    const m = {};
    for (const l of (await r.text()).split('\n')) {
      const i = l.lastIndexOf(' ');
      if (l && !l.startsWith('#') && i > 0) m[l.slice(0, i)] = Number(l.slice(i + 1));
    }
    return m;
  } catch { return {}; }
}

// ---- resources: VmRSS and open descriptors -----------------------------------------------
function rssKb(pid) {
  const m = /VmRSS:\s+(\d+)/.exec(readIf(`/proc/${pid}/status`));
  return m ? Number(m[1]) : 0;
}
// Sockets of the gateway connected to the IdP or Graph fixtures are libcurl's connection
// cache on the control loop (kept alive between key and Graph fetches): counted apart.
// So is /dev/null: stdin, and libuv's reserve descriptor (one per loop that listens,
// opened on its first accept; closed and reopened to shed a connection when descriptors
// run out), at most one per worker plus the control loop.
function fds(pid) {
  let names;
  try { names = fs.readdirSync(`/proc/${pid}/fd`); } catch { return { total: -1, control: 0, app: -1, kinds: {} }; }
  const links = [];
  for (const n of names) {
    try { links.push(fs.readlinkSync(`/proc/${pid}/fd/${n}`)); } catch { /* closed meanwhile */ }
  }
  const tcp = new Map(); // socket inode -> "listen" | remote port
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const l of readIf(f).split('\n').slice(1)) {
      const c = l.trim().split(/\s+/);
      if (c.length >= 10) tcp.set(c[9], c[3] === '0A' ? 'listen' : parseInt(c[2].split(':')[1], 16));
    }
  }
  const ctl = new Set([fx.oidcPort, fx.graphPort]);
  const kinds = {}; // what each descriptor is, for the summary when the counts differ
  let control = 0, reserve = 0;
  for (const link of links) {
    const m = /^socket:\[(\d+)\]$/.exec(link);
    const t = m ? tcp.get(m[1]) : undefined;
    if (ctl.has(t)) control++;
    if (link === '/dev/null') reserve++;
    const kind = !m ? link.replace(/:\[\d+\]$/, '') : t === undefined ? 'socket (not tcp)'
      : t === 'listen' ? 'tcp listen' : ctl.has(t) ? 'tcp to IdP/Graph' : `tcp to :${t}`;
    kinds[kind] = (kinds[kind] || 0) + 1;
  }
  return { total: names.length, control, reserve, app: names.length - control - reserve, kinds };
}

// ---- fault windows and bookkeeping -------------------------------------------------------
const windows = { upstream: [], idp: [], graph: [] };
function openWindow(cls) { const w = { start: now(), end: Infinity }; windows[cls].push(w); return w; }
function closeWindow(w, graceMs) { w.end = now() + graceMs; }
const overlaps = (cls, t0, t1) => windows[cls].some((w) => t0 <= w.end && t1 >= w.start);

// Outcomes allowed always (ok) and, per fault class, for requests overlapping its windows
// (an upstream that is down answers 503, one that breaks a connection 502, a timeout 504;
// 'reset' and 'cut' are a connection closed before or during the answer).
const EXPECT = {
  get: { ok: [200], upstream: [502, 503, 504, 'reset'] },
  oidc: { ok: [200], idp: [401], upstream: [502, 503, 504, 'reset'] },
  graph: { ok: [200], graph: [503], upstream: [502, 503, 504, 'reset'] },
  watch: { ok: [200], upstream: [502, 503, 504, 'reset', 'cut'] },
  exec: { ok: [101], upstream: [502, 503, 504, 'reset', 'cut'] },
  upload: { ok: [200], upstream: [502, 503, 504, 'reset', 'cut'] },
  download: { ok: [200], upstream: [502, 503, 504, 'reset', 'cut'] },
  stall: { ok: [200], upstream: [502, 503, 504, 'reset', 'cut'] },
  slowloris: { ok: [408, 'reset'] },
  slowbody: { ok: [408, 'reset'], upstream: [502, 503, 504] },
  // garbage carries no token: a request that parses (a random header that happens to be valid)
  // is answered 401 by the gate, like any anonymous one.
  garbage: { ok: [400, 401, 408, 414, 431, 501, 505, 'reset'] },
  denied: { ok: [403] },
  anon: { ok: [401] },
  tlsjunk: { ok: ['closed', 'reset'] }, // --tls only
};
if (!TLS) delete EXPECT.tlsjunk;
// The driver's own event loop: on a loaded machine it can stall, which delays what the
// clients send and read. Stalls over 1 s are recorded and named next to an unexpected
// outcome they overlap (a diagnosis aid; they never excuse one).
const eld = monitorEventLoopDelay({ resolution: 20 });
eld.enable();
const stalls = [];
let lastTick = now();
setInterval(() => {
  const t = now();
  if (t - lastTick > 1100) stalls.push({ start: lastTick, end: t });
  lastTick = t;
}, 100).unref();
const stalledDuring = (t0, t1) => stalls.filter((w) => t0 <= w.end && t1 >= w.start).map((w) => w.end - w.start);

const stats = {}; // kind -> {n, outcomes: {o: n}, unexpected: {o: n}, examples: []}
function record(kind, outcome, t0, detail = '') {
  const t1 = now();
  const s = (stats[kind] ??= { n: 0, outcomes: {}, unexpected: {}, examples: [] });
  s.n++;
  s.outcomes[outcome] = (s.outcomes[outcome] || 0) + 1;
  const e = EXPECT[kind];
  const ok = e.ok.includes(outcome) ||
    Object.keys(windows).some((cls) => e[cls]?.includes(outcome) && overlaps(cls, t0, t1));
  if (!ok) {
    s.unexpected[outcome] = (s.unexpected[outcome] || 0) + 1;
    if (s.examples.length < 5) {
      s.examples.push({ outcome, at: ((t0 - T0) / 1000).toFixed(1), ms: t1 - t0, detail,
        driverStallsMs: stalledDuring(t0 - 1000, t1) });
    }
  }
}
const errName = (e) => (e.code === 'ECONNRESET' || e.code === 'EPIPE' || /hang up|aborted/.test(e.message) ? 'reset'
  : e.code === 'ECONNREFUSED' ? 'refused' : e.code === 'SOAK_TIMEOUT' ? 'timeout' : `error:${e.code || e.message}`);

// ---- HTTP helpers ------------------------------------------------------------------------
// A request to the gateway's listener, over TLS with --tls.
function gwRequest(o, cb) {
  const base = { host: '127.0.0.1', port: fx.gwPort };
  if (!TLS) return http.request({ ...base, ...o }, cb);
  return https.request({ ...base, ca: fx.ca, servername: 'localhost', ...o }, cb);
}
// One request with node's http client; resolves {status, body|length, sha} or rejects.
function request(agent, method, p, { token, body, timeout = 30000, collect = false, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    if (token) h.Authorization = `Bearer ${token}`;
    if (body) h['Content-Length'] = body.length;
    const req = gwRequest({ method, path: p, agent, headers: h }, (res) => {
      const hash = crypto.createHash('sha256');
      const chunks = [];
      let len = 0;
      res.on('data', (d) => { len += d.length; hash.update(d); if (collect) chunks.push(d); });
      res.on('end', () => resolve({ status: res.statusCode, len, sha: hash.digest('hex'),
        body: collect ? Buffer.concat(chunks).toString() : '', complete: res.complete }));
      res.on('error', (e) => reject(Object.assign(e, { status: res.statusCode, len })));
      res.on('aborted', () => reject(Object.assign(new Error('aborted'), { status: res.statusCode, len, cut: true })));
    });
    const timer = setTimeout(() => req.destroy(Object.assign(new Error('no answer'), { code: 'SOAK_TIMEOUT' })), timeout);
    req.on('close', () => clearTimeout(timer));
    req.on('error', reject);
    req.end(body);
  });
}

// A raw TCP exchange: writes chunks on a schedule, collects the answer until close.
// Resolves {status, text, reset}.
function rawExchange(steps, { timeout = 20000 } = {}) {
  return new Promise((resolve) => {
    const sock = TLS ? tls.connect({ port: fx.gwPort, host: '127.0.0.1', ca: fx.ca, servername: 'localhost' })
      : net.connect(fx.gwPort, '127.0.0.1');
    let got = Buffer.alloc(0);
    let reset = false, done = false;
    const timers = [];
    const finish = (timedOut = false) => {
      if (done) return;
      done = true;
      timers.forEach(clearTimeout);
      sock.destroy();
      const text = got.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, text, reset, timedOut });
    };
    sock.on('data', (d) => { got = Buffer.concat([got, d]); });
    sock.on('error', (e) => { reset = e.code === 'ECONNRESET' || e.code === 'EPIPE'; finish(); });
    sock.on('close', () => finish());
    sock.on('end', () => finish());
    let at = 0;
    for (const [delay, bytes] of steps) {
      at += delay;
      timers.push(setTimeout(() => { if (!done && sock.writable) sock.write(bytes); }, at));
    }
    timers.push(setTimeout(() => finish(true), timeout));
  });
}
const rawOutcome = (r) => (r.status ? r.status : r.timedOut ? 'timeout' : r.reset ? 'reset' : 'closed');

// ---- clients -----------------------------------------------------------------------------
let stopping = false;
const rnd = (a, b) => a + Math.floor(Math.random() * (b - a + 1));
const pick = (a) => a[Math.floor(Math.random() * a.length)];
const RANDOM_BODY = crypto.randomBytes(8 << 20);

async function viaHttp(kind, fn) {
  const t0 = now();
  try {
    const r = await fn();
    record(kind, r.outcome ?? r.status, t0, r.detail);
  } catch (e) {
    record(kind, e.cut && e.status ? 'cut' : errName(e), t0, String(e.message));
  }
}

const recentTokens = [];
async function clientGet(agent, last) {
  let tok;
  if (recentTokens.length < 50 || Math.random() < 0.7) {
    tok = localToken(`user-${rnd(0, 1e9)}`);
    recentTokens.push(tok);
    if (recentTokens.length > 200) recentTokens.shift();
  } else tok = pick(recentTokens);
  await viaHttp('get', () => request(agent, 'GET', '/api/v1/namespaces/default/pods', { token: tok }));
  const wait = 1000 / RATE - (now() - last);
  if (wait > 0) await sleep(wait);
}

const oidcPool = [];
async function clientOidc(agent) {
  const tok = oidcPool.length ? pick(oidcPool) : null;
  if (!tok) { await sleep(100); return; }
  tok.uses++;
  if (tok.uses >= 5) oidcPool.splice(oidcPool.indexOf(tok), 1);
  await viaHttp('oidc', () => request(agent, 'GET', '/api/v1/pods', { token: tok.t }));
}
async function mintOidc() {
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: pick(['alice', 'bob', 'carol']),
    resource: 'https://authgate.test', scope: 'api' });
  form.set('client_secret', `${form.get('client_id')}-secret`);
  try {
    const r = await fetch(`${fx.issuer}/token`, { method: 'POST', body: form });
    const j = await r.json();
    if (j.access_token && oidcPool.length < 30) oidcPool.push({ t: j.access_token, uses: 0 });
  } catch { /* the provider is busy; try again */ }
}

const graphOids = Array.from({ length: 100 }, () => crypto.randomUUID());
async function clientGraph(agent) {
  const oid = Math.random() < 0.5 ? crypto.randomUUID() : pick(graphOids);
  const t = Math.floor(now() / 1000);
  let tok;
  try {
    const r = await fetch(`${fx.graphUrl}/_mint`, { method: 'POST', body: JSON.stringify({
      iss: `https://sts.windows.net/${GRAPH_TID}/`, aud: GRAPH_AKS, tid: GRAPH_TID, oid,
      upn: `u-${oid.slice(0, 8)}@contoso.com`, ver: '1.0', jti: crypto.randomUUID(),
      iat: t - 5, nbf: t - 5, exp: t + 600, _claim_names: { groups: 'src1' },
      _claim_sources: { src1: { endpoint: `http://127.0.0.1:9/${GRAPH_TID}/users/${oid}/getMemberObjects` } },
    }) });
    tok = await r.text();
  } catch { await sleep(100); return; }
  await viaHttp('graph', () => request(agent, 'GET', '/api/v1/namespaces/default/pods', { token: tok }));
}

async function clientWatch() {
  const n = rnd(3, 8);
  await viaHttp('watch', async () => {
    const r = await request(false, 'GET', `/watch?events=${n}&interval=${rnd(100, 500)}`,
      { token: localToken('watcher'), collect: true });
    const lines = r.body.split('\n').filter(Boolean).length;
    if (r.status === 200 && lines !== n) return { outcome: 'cut', detail: `${lines}/${n} events` };
    return r;
  });
}

function clientExec() {
  const t0 = now();
  return new Promise((resolve) => {
    const data = crypto.randomBytes(rnd(1, 256) * 1024);
    let settled = false;
    const done = (o, d) => { if (!settled) { settled = true; clearTimeout(timer); record('exec', o, t0, d); resolve(); } };
    const req = gwRequest({ path: '/upgrade-ok/exec', agent: false,
      headers: { Authorization: `Bearer ${localToken('execer')}`, Connection: 'Upgrade', Upgrade: 'SPDY/3.1' } });
    const timer = setTimeout(() => { req.destroy(); done('timeout'); }, 30000);
    req.on('upgrade', (res, sock, head) => {
      let got = head.length ? [head] : [];
      let len = head.length;
      sock.on('data', (d) => {
        got.push(d); len += d.length;
        if (len >= data.length) {
          const same = Buffer.concat(got).subarray(0, data.length).equals(data);
          sock.destroy();
          done(same ? 101 : 'mismatch');
        }
      });
      sock.on('error', () => done('cut', `${len}/${data.length}`));
      sock.on('close', () => done('cut', `${len}/${data.length}`));
      for (let i = 0; i < data.length; i += 16384) sock.write(data.subarray(i, i + 16384));
    });
    req.on('response', (res) => { res.resume(); res.on('end', () => done(res.statusCode)); res.on('error', () => done('cut')); });
    req.on('error', (e) => done(errName(e), e.message));
    req.end();
  });
}

async function clientUpload() {
  const n = rnd(1, 6) << 20;
  const off = rnd(0, RANDOM_BODY.length - n);
  const body = RANDOM_BODY.subarray(off, off + n);
  const want = crypto.createHash('sha256').update(body).digest('hex');
  await viaHttp('upload', async () => {
    const r = await request(false, 'POST', '/echo', { token: localToken('uploader'), body,
      headers: { 'Content-Type': 'application/octet-stream' } });
    if (r.status === 200 && r.sha !== want) return { outcome: 'mismatch', detail: `${r.len}/${n}` };
    return r;
  });
}

async function clientDownload() {
  const n = rnd(2, 8) << 20;
  await viaHttp('download', async () => {
    const r = await request(false, 'GET', `/big?bytes=${n}&cl=${rnd(0, 1)}`, { token: localToken('downloader') });
    if (r.status === 200 && r.len !== n) return { outcome: 'cut', detail: `${r.len}/${n}` };
    return r;
  });
}

// A client that reads the head of a 64 MB response, then stops reading for 3-8 s (well
// under timeouts.send, 60 s by default: a pause, not a cut); then it either reads the rest
// (checking the length) or walks away.
function clientStall() {
  const t0 = now();
  const n = 64 << 20;
  const finishAll = Math.random() < 0.5;
  return new Promise((resolve) => {
    let settled = false;
    const done = (o, d) => { if (!settled) { settled = true; clearTimeout(timer); record('stall', o, t0, d); resolve(); } };
    const timer = setTimeout(() => { req.destroy(); done('timeout'); }, 60000);
    const req = gwRequest({ path: `/big?bytes=${n}&cl=1`, agent: false,
      headers: { Authorization: `Bearer ${localToken('staller')}` } }, (res) => {
      let len = 0;
      res.once('data', (d) => {
        len += d.length;
        res.pause();
        setTimeout(() => {
          if (!finishAll) { req.destroy(); done(res.statusCode); return; }
          res.on('data', (x) => { len += x.length; });
          res.resume();
        }, rnd(3000, 8000));
      });
      res.on('end', () => done(len === n || res.statusCode !== 200 ? res.statusCode : 'cut', `${len}/${n}`));
      res.on('aborted', () => done('cut', `${len}/${n}`));
      res.on('error', () => done('cut', `${len}/${n}`));
    });
    req.on('error', (e) => done(errName(e), e.message));
    req.end();
  });
}

async function clientSlowloris() {
  const t0 = now();
  const steps = [[0, 'GET /api/v1/pods HTTP/1.1\r\nHost: soak\r\n']];
  for (let i = 0; i < 24; i++) steps.push([500, 'X']); // a header name byte by byte, never done
  const r = await rawExchange(steps, { timeout: 30000 }); // header_read (8 s) answers 408
  record('slowloris', rawOutcome(r), t0, r.text.slice(0, 60));
}

async function clientSlowbody() {
  const t0 = now();
  const head = `POST /slow?ms=1 HTTP/1.1\r\nHost: soak\r\nAuthorization: Bearer ${localToken('slowpoke')}\r\n` +
    'Content-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n';
  const steps = [[0, head]];
  for (let i = 0; i < 16; i++) steps.push([500, 'y']); // a trickle, then silence: idle answers 408
  const r = await rawExchange(steps, { timeout: 60000 });
  record('slowbody', rawOutcome(r), t0, r.text.slice(0, 60));
}

const GARBAGE = [
  () => crypto.randomBytes(rnd(16, 4096)),
  () => `GET /api/v1/pods HTTP/1.1\r\nHost: x\r\n${crypto.randomBytes(64).toString('latin1')}\r\n\r\n`,
  () => 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n',
  () => 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  () => `GET /${'a'.repeat(rnd(9000, 20000))} HTTP/1.1\r\nHost: x\r\n\r\n`,
  () => `GET / HTTP/1.1\r\n${'X-A: b\r\n'.repeat(rnd(101, 300))}\r\n`,
  () => Buffer.from('16030100a5010000a10303', 'hex'), // a TLS ClientHello on the plain port
  () => 'GET / HTTP/9.9\r\nHost: x\r\n\r\n',
];
async function clientGarbage() {
  const t0 = now();
  const g = rnd(0, GARBAGE.length - 1);
  const r = await rawExchange([[0, GARBAGE[g]()]], { timeout: 10000 });
  record('garbage', rawOutcome(r), t0, `variant ${g}: ${r.text.slice(0, 40)}`);
}

// --tls only: junk where a ClientHello belongs; the handshake fails and the gateway closes.
async function clientTlsJunk() {
  const t0 = now();
  const r = await new Promise((resolve) => {
    const sock = net.connect(fx.gwPort, '127.0.0.1');
    let got = 0;
    const timer = setTimeout(() => { sock.destroy(); resolve('timeout'); }, 20000);
    sock.on('data', (d) => { got += d.length; });
    sock.on('error', (e) => { clearTimeout(timer); resolve(e.code === 'ECONNRESET' ? 'reset' : errName(e)); });
    sock.on('close', () => { clearTimeout(timer); resolve('closed'); });
    sock.write(Math.random() < 0.5 ? crypto.randomBytes(rnd(1, 2048))
      : Buffer.concat([Buffer.from('160303ffff', 'hex'), crypto.randomBytes(rnd(1, 512))]));
  });
  record('tlsjunk', r, t0);
  await sleep(100);
}

async function clientDenied(agent) {
  await viaHttp('denied', () => request(agent, 'GET', '/api/v1/namespaces/default/secrets',
    { token: localToken(`user-${rnd(0, 1e6)}`) }));
  await sleep(50);
}
async function clientAnon(agent) {
  const tok = pick([null, 'not-a-jwt', `${localToken('x').slice(0, -4)}AAAA`]);
  await viaHttp('anon', () => request(agent, 'GET', '/api/v1/pods', { token: tok }));
  await sleep(50);
}

// Runs fn in a loop until the stop flag; each loop is one operation.
async function loop(fn, keepAlive = false) {
  const agent = keepAlive ? new (TLS ? https : http).Agent({ keepAlive: true, maxSockets: 1, ca: fx.ca }) : false;
  while (!stopping) {
    const t = now();
    await fn(agent, t);
  }
  if (agent) agent.destroy();
}

// ---- faults ------------------------------------------------------------------------------
const faults = { reloads: 0, broken: 0, rotations: 0, idp: 0, graph: 0, upstream: 0 };
async function every(ms, fn) {
  while (!stopping) {
    await sleep(ms);
    if (!stopping) await fn();
  }
}
async function faultPolicy() {
  faults.reloads++;
  const broken = faults.reloads % 7 === 0;
  if (broken) faults.broken++;
  writePolicy(faults.reloads, broken);
  fx.gw.kill('SIGHUP');
  if (broken) { await sleep(1000); writePolicy(faults.reloads); fx.gw.kill('SIGHUP'); }
}
const oidcAdmin = (p) => fetch(`${fx.issuer}/admin/${p}`, { method: 'POST' }).then((r) => r.json()).catch(() => ({}));
async function rotate() {
  faults.rotations++;
  const r = await oidcAdmin('rotate');
  oidcPool.length = 0; // tokens of the old kid are dropped; new ones carry the new kid
  if (r.kids && r.kids.length > 3) await oidcAdmin(`remove?kid=${r.kids[r.kids.length - 1]}`);
}
const IDP_MODES = ['500', 'down', 'garbage', 'html', 'empty', 'slow'];
async function faultIdp() {
  const mode = IDP_MODES[faults.idp++ % IDP_MODES.length];
  const w = openWindow('idp');
  if (mode === 'down') { // killed; back on the same port with new keys (old tokens dropped)
    fx.oidc.kill('SIGKILL');
    await fx.oidc.exited;
    oidcPool.length = 0;
    await sleep(6000);
    await startOidc(fx.oidcPort);
    oidcPool.length = 0;
  } else {
    await oidcAdmin(`jwks-mode?mode=${mode}`);
    if (faults.idp % 2 === 0) { await sleep(1000); await rotate(); } // a new kid while the IdP is down
    await sleep(6000);
    await oidcAdmin('jwks-mode?mode=ok');
  }
  closeWindow(w, 5000); // unknown_kid_interval 1 s, fetch_timeout 2 s, wait 2 s: settled by then
}
const GRAPH_FAULTS = [{ delayMs: 500 }, { failStatus: 503 }, { delayMs: 3000 }, { garbage: true },
  { tokenFailStatus: 500, revoke: true }, { failStatus: 429, failCode: 'TooManyRequests' }];
const graphCtl = (k) => fetch(`${fx.graphUrl}/_control`, { method: 'POST', body: JSON.stringify(k) }).catch(() => {});
async function faultGraph() {
  const k = GRAPH_FAULTS[faults.graph++ % GRAPH_FAULTS.length];
  const w = openWindow('graph');
  await graphCtl(k);
  await sleep(6000);
  await graphCtl({ delayMs: 0, failStatus: 0, garbage: false, tokenFailStatus: 0, failCode: 'serviceNotAvailable' });
  closeWindow(w, 4000); // graph timeout 2 s
}
async function faultUpstream() {
  faults.upstream++;
  const w = openWindow('upstream');
  const up = fx.up;
  up.kill(faults.upstream % 2 ? 'SIGKILL' : 'SIGTERM');
  await up.exited;
  await sleep(1000);
  await startUpstream(fx.upPort);
  closeWindow(w, 3000);
}

// ---- the run -----------------------------------------------------------------------------
const samples = [];
function sample() {
  const f = fds(fx.gw.pid);
  samples.push({ t: now() - T0, rss: rssKb(fx.gw.pid), fds: f.total, app: f.app });
}

function sanitizerReport() {
  const files = fs.readdirSync(WORK).filter((f) => f.startsWith('sanitizer.')).map((f) => path.join(WORK, f));
  const text = [path.join(WORK, 'gw.log'), ...files].map(readIf).join('\n');
  const m = /(ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:|SUMMARY: \w+Sanitizer)/.exec(text);
  return m ? text.slice(Math.max(0, m.index - 200), m.index + 3000) : null;
}

async function main() {
  log(`work dir ${WORK}; binary ${BINARY}${SANITIZED ? ' (sanitizer build)' : ''}; ${DURATION_S} s${TLS ? '; TLS' : ''}`);
  if (TLS) {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout', path.join(WORK, 'server.key'), '-out', path.join(WORK, 'server.crt')], { stdio: 'ignore' });
    fx.ca = fs.readFileSync(path.join(WORK, 'server.crt'));
  }
  await Promise.all([startUpstream(), startOidc(), startGraph()]);
  await startGateway();
  log(`gateway pid ${fx.gw.pid} on 127.0.0.1:${fx.gwPort} (admin ${fx.adminPort})`);
  await sleep(500);
  const base = { rss: rssKb(fx.gw.pid), fd: fds(fx.gw.pid) };
  const c = (n) => Math.max(1, Math.round(n * SCALE));
  const tasks = [];
  const spawnN = (n, fn, ka) => { for (let i = 0; i < c(n); i++) tasks.push(loop(fn, ka)); };
  for (let i = 0; i < 5; i++) await mintOidc();
  tasks.push(every(200, mintOidc));
  spawnN(4, clientGet, true);
  spawnN(1, clientOidc, true);
  spawnN(1, clientGraph, true);
  spawnN(2, clientWatch);
  spawnN(1, clientExec);
  spawnN(1, clientUpload);
  spawnN(1, clientDownload);
  spawnN(1, clientStall);
  spawnN(2, clientSlowloris);
  spawnN(1, clientSlowbody);
  spawnN(1, clientGarbage);
  spawnN(1, clientDenied, true);
  spawnN(1, clientAnon, true);
  if (TLS) spawnN(1, clientTlsJunk);
  const faultTasks = [every(4000, faultPolicy), every(15000, rotate), every(40000, faultIdp),
    every(25000, faultGraph), every(35000, faultUpstream)];
  const sampler = setInterval(sample, 1000);

  let warm = null, dead = null;
  const end = T0 + DURATION_S * 1000;
  let lastReport = now();
  while (now() < end) {
    await sleep(Math.min(1000, Math.max(1, end - now())));
    if (!warm && now() - T0 >= WARMUP_S * 1000) { warm = { rss: rssKb(fx.gw.pid), t: now() - T0 }; log(`warm-up done: VmRSS ${warm.rss} kB`); }
    if (fx.gw.exitCode !== null || fx.gw.signalCode) { dead = `gateway died: ${fx.gw.exitCode ?? fx.gw.signalCode}`; break; }
    if (now() - lastReport >= 60000) {
      lastReport = now();
      const tot = Object.values(stats).reduce((a, s) => a + s.n, 0);
      const bad = Object.values(stats).reduce((a, s) => a + Object.values(s.unexpected).reduce((x, y) => x + y, 0), 0);
      log(`${tot} requests, ${bad} unexpected; VmRSS ${rssKb(fx.gw.pid)} kB, fds ${fds(fx.gw.pid).total}`);
    }
  }
  warm ??= { rss: rssKb(fx.gw.pid), t: now() - T0 };
  log('stopping the clients');
  stopping = true;
  const drained = await Promise.race([Promise.all(tasks).then(() => true), sleep(70000).then(() => false)]);
  await Promise.race([Promise.all(faultTasks), sleep(20000)]);
  clearInterval(sampler);
  // Let pooled upstream connections idle out (upstream_idle 2 s), then compare.
  let endFd = fds(fx.gw.pid);
  const settleEnd = now() + 20000;
  while (endFd.app > base.fd.app && now() < settleEnd && !dead) { await sleep(250); endFd = fds(fx.gw.pid); }
  const endRss = rssKb(fx.gw.pid);
  const m = await metrics();
  const aliveBeforeTerm = fx.gw.exitCode === null && !fx.gw.signalCode;
  let exit = { code: null, sig: null };
  if (aliveBeforeTerm) {
    fx.gw.kill('SIGTERM');
    exit = await Promise.race([fx.gw.exited, sleep(30000).then(() => ({ code: 'timeout' }))]);
  } else exit = await fx.gw.exited;
  return summarize({ base, warm, endRss, endFd, exit, drained, dead, m });
}

function summarize({ base, warm, endRss, endFd, exit, drained, dead, m }) {
  const failures = [];
  if (dead) failures.push(dead);
  if (!drained) failures.push('some clients did not finish within 70 s of the stop');
  if (exit.code !== 0) failures.push(`gateway exit on SIGTERM: code ${exit.code} signal ${exit.sig}`);
  let total = 0;
  console.log('\n== requests by kind (outcome: count; unexpected marked !)');
  for (const [kind, s] of Object.entries(stats).sort()) {
    total += s.n;
    const outs = Object.entries(s.outcomes).map(([o, n]) => `${o}:${n}${s.unexpected[o] ? `(!${s.unexpected[o]})` : ''}`);
    console.log(`  ${kind.padEnd(10)} ${String(s.n).padStart(8)}  ${outs.join(' ')}`);
    const bad = Object.values(s.unexpected).reduce((a, b) => a + b, 0);
    if (bad) failures.push(`${kind}: ${bad} unexpected outcomes ${JSON.stringify(s.unexpected)} e.g. ${JSON.stringify(s.examples)}`);
  }
  for (const kind of Object.keys(EXPECT)) if (!stats[kind]?.n) failures.push(`${kind}: no request completed`);
  const errors = {};
  for (const [kind, s] of Object.entries(stats)) {
    for (const [o, n] of Object.entries(s.outcomes)) if (!/^[123]\d\d$/.test(o)) errors[kind] = { ...errors[kind], [o]: n };
  }
  console.log(`  total      ${String(total).padStart(8)}`);
  console.log('== errors by kind (non-2xx/3xx outcomes, expected or not)');
  for (const [k, v] of Object.entries(errors)) console.log(`  ${k.padEnd(10)} ${JSON.stringify(v)}`);
  console.log(`== faults: ${JSON.stringify(faults)}`);
  console.log(`== driver event loop: max delay ${(eld.max / 1e6).toFixed(0)} ms, p99 ${(eld.percentile(99) / 1e6).toFixed(0)} ms, ` +
    `stalls over 1 s: ${stalls.length}`);
  const peak = Math.max(...samples.map((s) => s.rss), endRss);
  const growth = endRss - warm.rss;
  console.log(`== VmRSS kB: start ${base.rss}, after warm-up (${(warm.t / 1000).toFixed(0)} s) ${warm.rss}, ` +
    `end ${endRss}, peak ${peak}; growth after warm-up ${growth} kB (bound ${RSS_BOUND_MB * 1024} kB` +
    `${SANITIZED ? ', not applied: sanitizer build' : ''})`);
  if (!SANITIZED && growth > RSS_BOUND_MB * 1024) failures.push(`VmRSS grew ${growth} kB after warm-up (bound ${RSS_BOUND_MB} MB)`);
  console.log(`== fds: baseline ${base.fd.total} (${base.fd.control} to IdP/Graph, ${base.fd.reserve} /dev/null), ` +
    `end ${endFd.total} (${endFd.control} to IdP/Graph, ${endFd.reserve} /dev/null), ` +
    `peak ${Math.max(...samples.map((s) => s.fds))}`);
  if (endFd.reserve > 1 + WORKERS + 1) failures.push(`${endFd.reserve} descriptors on /dev/null (at most ${WORKERS + 2})`);
  if (endFd.app > base.fd.app) {
    failures.push(`open fds did not return to the baseline: ${endFd.app} > ${base.fd.app} (IdP/Graph sockets excluded); ` +
      `baseline ${JSON.stringify(base.fd.kinds)}, end ${JSON.stringify(endFd.kinds)}`);
  }
  const pick = (re) => Object.entries(m).filter(([k]) => re.test(k)).map(([k, v]) => `${k} ${v}`).join(', ');
  console.log(`== gateway metrics: ${pick(/^authgate_policy_(generation|reloads_total)/)}`);
  console.log(`   ${pick(/^authgate_token_cache_total|^authgate_jwks_fetch_total/)}`);
  console.log(`   ${pick(/^authgate_graph_lookup_failures_total|^authgate_upstream_errors_total/)}`);
  console.log(`   ${pick(/^authgate_graph_cache_entries|^authgate_token_cache_entries|^authgate_connections/)}`);
  const gen = m.authgate_policy_generation ?? 0;
  if (faults.reloads > 2 && gen < faults.reloads / 2) failures.push(`policy generation ${gen} after ${faults.reloads} reloads`);
  const san = sanitizerReport();
  if (san) failures.push(`sanitizer report in the gateway output:\n${san}`);
  console.log(`== gateway exit on SIGTERM: ${JSON.stringify(exit)}`);
  const summary = { seconds: DURATION_S, binary: BINARY, sanitized: SANITIZED, total, stats, errors, faults,
    rss: { start: base.rss, warm: warm.rss, end: endRss, peak, growth, boundKb: RSS_BOUND_MB * 1024 },
    fds: { baseline: base.fd, end: endFd }, exit, failures };
  if (JSON_OUT) fs.writeFileSync(JSON_OUT, JSON.stringify(summary, null, 2));
  if (failures.length) {
    console.log(`\nFAIL (${failures.length}):`);
    for (const f of failures) console.log(`  - ${f}`);
    console.log(`(work dir kept: ${WORK})`);
  } else {
    console.log(`\nPASS: ${total} requests in ${DURATION_S} s`);
    if (!KEEP) fs.rmSync(WORK, { recursive: true, force: true });
  }
  return failures.length ? 1 : 0;
}

main().then((rc) => { killAll(); process.exit(rc); },
  (e) => { console.error(`soak: ${e.stack || e}`); console.error(`(work dir kept: ${WORK})`); killAll(); process.exit(3); });
