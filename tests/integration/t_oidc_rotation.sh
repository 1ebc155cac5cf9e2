#!/usr/bin/env bash
# Key rotation at a real OIDC provider: a token signed with a newly published kid is
# accepted at once (one refresh on the unknown kid, the request waits for it), concurrent
# first uses share one JWKS fetch, an unknown-kid flood costs no further fetch within the
# interval, and a removed kid stops verifying once the gateway has refreshed.
. "$(dirname "$0")/oidc_lib.sh"

# refresh_max 1h: only the unknown-kid path can pick up a rotation during this test
oidc_gateway '"keys": {"refresh_min": "1h", "refresh_max": "1h",
                       "unknown_kid_interval": "1s", "unknown_kid_wait": "3s"}'
t1=$(oidc_token alice)
t1b=$(oidc_token bob) # signed with the first kid, kept unused for later
expect_eq "$(get /api/v1/pods "$t1")" 200 "first kid"
j0=$(oidc_stats jwks)

k2=$(oidc_admin rotate | jq -r .kid)
t2=$(oidc_token alice)
expect_eq "$(jwt_kid "$t2")" "$k2" "provider signs with the new kid"
expect_eq "$(get /api/v1/pods "$t2")" 200 "token with the new kid"
expect_eq "$(oidc_stats jwks)" "$((j0 + 1))" "one JWKS fetch for the new kid"
expect_eq "$(get /api/v1/pods "$t1")" 200 "old kid still published"
pass "new kid accepted on first use after one refresh"

sleep 1.1 # past unknown_kid_interval
k3=$(oidc_admin rotate | jq -r .kid)
t3=$(oidc_token carol)
j1=$(oidc_stats jwks)
t_refresh=$(date +%s%N) # the refresh for k3 happens after this instant
miss0=$(metric 'authgate_token_cache_total{result="miss"}')
pids=()
for i in $(seq 10); do get /api/v1/pods "$t3" >"$T/c$i" & pids+=($!); done
wait "${pids[@]}"
for i in $(seq 10); do expect_eq "$(cat "$T/c$i")" 200 "concurrent request $i"; done
expect_eq "$(oidc_stats jwks)" "$((j1 + 1))" "ten concurrent first uses, one JWKS fetch"
expect_eq "$(metric 'authgate_token_cache_total{result="miss"}')" "$((miss0 + 1))" \
  "ten concurrent first uses of one token, one verification (the others waited)"
pass "concurrent first uses of a new kid: one fetch, one verification"

# A flood of tokens naming unknown kids right after a refresh: 401 at once, no fetch.
j2=$(oidc_stats jwks)
hdr=$(printf '{"alg":"RS256","kid":"nope-%s"}' "$RANDOM" | base64 -w0 | tr '+/' '-_' | tr -d '=')
body=$(printf '{"iss":"%s","aud":"https://authgate.test","sub":"x","exp":4102444800}' "$OIDC_ISSUER" |
  base64 -w0 | tr '+/' '-_' | tr -d '=')
for i in $(seq 20); do
  expect_eq "$(get /api/v1/pods "$hdr.$body.${t3##*.}")" 401 "unknown kid $i"
done
# One refresh per unknown_kid_interval (1 s) at most: on a loaded machine the flood can
# outlast the interval, and then one more fetch is allowed per whole interval elapsed.
elapsed_ms=$((($(date +%s%N) - t_refresh) / 1000000))
allowed=$((j2 + elapsed_ms / 1000))
j3=$(oidc_stats jwks)
if ((j3 > allowed)); then
  fail "unknown-kid flood: $((j3 - j2)) JWKS fetches in ${elapsed_ms} ms, at most $((allowed - j2)) allowed"
fi
((elapsed_ms >= 1000)) || expect_eq "$j3" "$j2" "no JWKS fetch for an unknown-kid flood within the interval"
pass "unknown-kid flood: 401, no extra fetches"

# Remove the first kid; a rotation makes the gateway refresh; bob's unused token with the
# removed kid now fails.
oidc_admin "remove?kid=$OIDC_KID" >/dev/null
sleep 1.1
oidc_admin rotate >/dev/null
t4=$(oidc_token alice)
expect_eq "$(get /api/v1/pods "$t4")" 200 "token after the removal"
sleep 1.1
expect_eq "$(get /api/v1/pods "$t1b")" 401 "token signed with a removed kid"
expect_match "$(cat "$GW_LOG")" "authentication failed: unknown_kid .*kid=$OIDC_KID" "reason logged"
pass "removed kid no longer verifies"
