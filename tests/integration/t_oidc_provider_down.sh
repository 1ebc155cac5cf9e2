#!/usr/bin/env bash
# The OIDC provider goes away (stopped, then answering garbage): tokens signed with keys
# the gateway already holds keep working, readiness stays green, the issuer is reported
# stale (metric and log), an unknown kid is refused within the bounded wait, and a JWKS
# response that does not parse never replaces the good keys.
. "$(dirname "$0")/oidc_lib.sh"

oidc_gateway '"keys": {"refresh_min": "1h", "refresh_max": "1h",
                       "unknown_kid_interval": "200ms", "unknown_kid_wait": "1s",
                       "fetch_timeout": "2s"}'
t1=$(oidc_token alice)
t2=$(oidc_token bob) # same key, not used yet: not in the token cache
expect_eq "$(get /api/v1/pods "$t1")" 200 "before the outage"

# A JWKS response that does not parse (or has no usable key) never replaces good keys.
for mode in garbage html empty; do
  oidc_admin "jwks-mode?mode=$mode" >/dev/null
  sleep 0.3
  fake=$(printf '{"alg":"RS256","kid":"%s"}' "new-$mode" | base64 -w0 | tr '+/' '-_' | tr -d '=')
  expect_eq "$(get /api/v1/pods "$fake.${t1#*.}")" 401 "unknown kid while JWKS is $mode"
done
oidc_admin "jwks-mode?mode=ok" >/dev/null
expect_eq "$(metric authgate_jwks_stale_issuers)" 1 "issuer reported stale"
expect_eq "$(metric "authgate_jwks_issuer_stale{issuer=\"$OIDC_ISSUER\"}")" 1 "per-issuer stale gauge"
expect_eq "$(metric "authgate_jwks_issuer_keys{issuer=\"$OIDC_ISSUER\"}")" 1 "keys still published"
ts=$(metric "authgate_jwks_last_success_timestamp_seconds{issuer=\"$OIDC_ISSUER\"}")
[ "$ts" -gt 1700000000 ] || fail "last success timestamp: $ts"
expect_eq "$(get /api/v1/pods "$t2")" 200 "cached keys survive bad JWKS responses"
pass "unparsable JWKS responses keep the last good keys"

oidc_stop
sleep 0.3
t0=$(date +%s%N)
fake=$(printf '{"alg":"RS256","kid":"after-stop"}' | base64 -w0 | tr '+/' '-_' | tr -d '=')
expect_eq "$(get /api/v1/pods "$fake.${t1#*.}")" 401 "unknown kid with the provider down"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt 4000 ] || fail "unknown kid took $ms ms with the provider down (wait bound 1 s)"
expect_eq "$(get /api/v1/pods "$t1")" 200 "cached token, provider down"
expect_eq "$(get /api/v1/namespaces/x/pods "$t2")" 200 "known kid, provider down"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/readyz")" 200 \
  "readiness with stale keys"
expect_eq "$(metric authgate_jwks_stale_issuers)" 1 "still stale"
expect_match "$(cat "$GW_LOG")" "last good keys keep serving \\(stale\\)" "stale logged"
pass "provider stopped: known keys keep working, unknown kid refused in ${ms} ms, ready"
