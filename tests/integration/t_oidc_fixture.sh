# The OIDC provider fixture itself works, checked by an independent verifier (the npm
# jose package's jwtVerify over the provider's published JWKS): client-credentials
# tokens are JWTs with the requested audience and the configured extra claims; key
# rotation publishes a new kid that signs new tokens; a removed kid stops verifying.
. "$(dirname "$0")/oidc_lib.sh"
oidc_start

verify() { # verify TOKEN AUDIENCE -> prints payload JSON, exit 1 on failure
  (cd "$AG_SOURCE_DIR/tests" && node --input-type=module -e '
    import { createRemoteJWKSet, jwtVerify } from "jose";
    const [iss, tok, aud] = process.argv.slice(1);
    const jwks = createRemoteJWKSet(new URL(iss + "/jwks"), { cacheMaxAge: 0, cooldownDuration: 0 });
    try { const { payload } = await jwtVerify(tok, jwks, { issuer: iss, audience: aud });
          console.log(JSON.stringify(payload)); }
    catch (e) { console.error(e.code || e.message); process.exit(1); }' "$OIDC_ISSUER" "$1" "$2")
}

disc=$(curl -sf "$OIDC_ISSUER/.well-known/openid-configuration")
[[ $(jq -r .issuer <<<"$disc") == "$OIDC_ISSUER" ]] || fail "discovery issuer"
[[ $(jq -r .jwks_uri <<<"$disc") == "$OIDC_ISSUER/jwks" ]] || fail "discovery jwks_uri"

t1=$(oidc_token alice https://authgate.test)
[[ $(jwt_kid "$t1") == "$OIDC_KID" ]] || fail "first token not signed with $OIDC_KID"
p=$(verify "$t1" https://authgate.test) || fail "jose rejected a fresh token"
[[ $(jq -r .sub <<<"$p") == alice ]] || fail "sub"
[[ $(jq -c .groups <<<"$p") == '["developers","oncall"]' ]] || fail "groups claim: $p"
[[ $(jq -r .oid <<<"$p") == 11111111-1111-1111-1111-111111111111 ]] || fail "oid claim"
verify "$t1" https://other.test >/dev/null 2>&1 && fail "wrong audience accepted"

new=$(oidc_admin rotate | jq -r .kid)
[[ $new != "$OIDC_KID" ]] || fail "rotate kept the kid"
t2=$(oidc_token bob)
[[ $(jwt_kid "$t2") == "$new" ]] || fail "new token not signed with the new kid"
verify "$t2" https://authgate.test >/dev/null || fail "token with rotated key"
verify "$t1" https://authgate.test >/dev/null || fail "old kid must still verify before removal"

oidc_admin "remove?kid=$OIDC_KID" >/dev/null
[[ $(oidc_stats kids | jq -r 'length') == 1 ]] || fail "remove"
verify "$t1" https://authgate.test >/dev/null 2>&1 && fail "removed kid still verifies"
verify "$t2" https://authgate.test >/dev/null || fail "remaining kid"

oidc_admin "jwks-mode?mode=500" >/dev/null
[[ $(curl -s -o /dev/null -w '%{http_code}' "$OIDC_ISSUER/jwks") == 500 ]] || fail "jwks-mode 500"
oidc_admin "jwks-mode?mode=ok" >/dev/null
oidc_admin "cache-control?value=max-age=7" >/dev/null
curl -sfi "$OIDC_ISSUER/jwks" | grep -qi '^cache-control: max-age=7' || fail "cache-control override"
pass "oidc fixture: tokens, extra claims, rotation, removal, failure modes"
