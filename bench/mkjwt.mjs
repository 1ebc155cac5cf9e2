// Test keys and RS256 tokens for the side-by-side benchmark (bench/run.sh), made with
// Node's built-in crypto only. Writes into OUTDIR:
//   jwt_pub.pem, jwt_priv.pem, jwks.json      the signing key (kid "bench-1")
//   tokens.txt        N tokens for distinct users user-1..user-N, group "bench-users"
//   tokens_azure.txt  N Azure-AD-shaped tokens (tid, oid, AKS server audience)
//   good.txt expired.txt badsig.txt wrongaud.txt   one token each, for the preflight
//   claims.json       issuer, audience, tenant and the first user, for config generation
// Usage: node bench/mkjwt.mjs OUTDIR [N]           everything above
//        node bench/mkjwt.mjs OUTDIR --cold M      tokens_cold.txt: M distinct tokens (a
//                                                  unique jti each) signed by OUTDIR's key
// Test material only: never for real clusters.
import { createHash, createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [outdir, nArg, coldArg] = process.argv.slice(2);
if (!outdir) {
  console.error('usage: node bench/mkjwt.mjs OUTDIR [N | --cold M]');
  process.exit(2);
}
const cold = nArg === '--cold';
const n = Math.min(Math.max(parseInt((cold ? coldArg : nArg) || '1000', 10) || 1000, 1), 500000);
const issuer = 'https://issuer.bench.invalid';
const audience = 'authgate-bench';
const tenant = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const aksAudience = '6dae42f8-4368-4678-94ff-3960e28e3630';
const kid = 'bench-1';

const now = Math.floor(Date.now() / 1000);
const base = (i) => ({ iss: issuer, aud: audience, sub: `user-${i}`, groups: ['bench-users'],
  iat: now - 60, nbf: now - 60, exp: now + 4 * 3600 });
const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
const header = b64({ alg: 'RS256', typ: 'JWT', kid });
const jwtWith = (key, claims) => {
  const input = `${header}.${b64(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
};

if (cold) {
  const key = createPrivateKey(readFileSync(join(outdir, 'jwt_priv.pem')));
  const out = [];
  for (let i = 0; i < n; i++) out.push(jwtWith(key, { ...base((i % 1000) + 1), jti: `cold-${i}` }));
  writeFileSync(join(outdir, 'tokens_cold.txt'), out.join('\n') + '\n');
  process.exit(0);
}

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
writeFileSync(join(outdir, 'jwt_pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
writeFileSync(join(outdir, 'jwt_priv.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
const jwk = publicKey.export({ format: 'jwk' });
writeFileSync(join(outdir, 'jwks.json'),
  JSON.stringify({ keys: [{ ...jwk, kid, alg: 'RS256', use: 'sig' }] }) + '\n');

const jwt = (claims) => jwtWith(privateKey, claims);
// A stable GUID-shaped object id per user, for the Azure role assignments.
const oid = (i) => {
  const h = createHash('sha256').update(`user-${i}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
};

const plain = [], azure = [];
for (let i = 1; i <= n; i++) {
  plain.push(jwt(base(i)));
  azure.push(jwt({ iss: `https://sts.windows.net/${tenant}/`, aud: aksAudience, tid: tenant,
    oid: oid(i), sub: oid(i), groups: [], iat: now - 60, nbf: now - 60, exp: now + 4 * 3600 }));
}
writeFileSync(join(outdir, 'tokens.txt'), plain.join('\n') + '\n');
writeFileSync(join(outdir, 'tokens_azure.txt'), azure.join('\n') + '\n');
writeFileSync(join(outdir, 'good.txt'), plain[0] + '\n');
writeFileSync(join(outdir, 'expired.txt'), jwt({ ...base(1), iat: now - 7200, nbf: now - 7200, exp: now - 3600 }) + '\n');
const good = plain[0].split('.');
const sig = Buffer.from(good[2], 'base64url');
sig[sig.length - 1] ^= 1; // one flipped bit
writeFileSync(join(outdir, 'badsig.txt'), `${good[0]}.${good[1]}.${sig.toString('base64url')}\n`);
writeFileSync(join(outdir, 'wrongaud.txt'), jwt({ ...base(1), aud: 'someone-else' }) + '\n');
writeFileSync(join(outdir, 'claims.json'), JSON.stringify({ issuer, audience, tenant, kid,
  aks_audience: aksAudience, first_user: 'user-1', first_oid: oid(1), users: n,
  oids: Array.from({ length: Math.min(n, 1000) }, (_, k) => oid(k + 1)) }) + '\n');
