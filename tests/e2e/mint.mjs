// Token minting for the e2e tests' static-key issuer (tests/e2e/lib.sh), independent of
// authgate: the npm `jose` package. The OIDC provider fixture issues tokens only for its
// fixed clients and only unexpired ones; this issuer covers the other users and the
// expired-token case. Run from tests/:
//   node e2e/mint.mjs keygen DIR               -> DIR/static-key.json (private JWK),
//                                                 DIR/static-jwks.json (public JWKS)
//   node e2e/mint.mjs token DIR ISS AUD SUB [GROUPS,..] [EXP_OFFSET_S]  -> JWT on stdout
import { SignJWT, generateKeyPair, exportJWK, importJWK } from 'jose';
import fs from 'node:fs';
import path from 'node:path';

const [cmd, dir, iss, aud, sub, groups = '', expOffset = '600'] = process.argv.slice(2);
if (cmd === 'keygen') {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = 'e2e-static-1';
  const priv = { ...(await exportJWK(privateKey)), kid, alg: 'ES256' };
  const pub = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  fs.writeFileSync(path.join(dir, 'static-key.json'), JSON.stringify(priv));
  fs.writeFileSync(path.join(dir, 'static-jwks.json'), JSON.stringify({ keys: [pub] }));
} else if (cmd === 'token') {
  const jwk = JSON.parse(fs.readFileSync(path.join(dir, 'static-key.json'), 'utf8'));
  const key = await importJWK(jwk, 'ES256');
  const now = Math.floor(Date.now() / 1000);
  const exp = now + Number(expOffset);
  const claims = groups ? { groups: groups.split(',') } : {};
  const jwt = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: jwk.kid, typ: 'JWT' })
    .setIssuer(iss).setAudience(aud).setSubject(sub)
    .setIssuedAt(Math.min(now, exp - 60)).setNotBefore(Math.min(now, exp - 60)).setExpirationTime(exp)
    .sign(key);
  process.stdout.write(jwt + '\n');
} else {
  console.error('usage: mint.mjs keygen DIR | token DIR ISS AUD SUB [GROUPS] [EXP_OFFSET_S]');
  process.exit(2);
}
