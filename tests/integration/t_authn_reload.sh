#!/usr/bin/env bash
# SIGHUP reloads the "authentication" section (issue 16): an issuer added to the file is
# trusted for new verifications (a token refused and cached as refused before is accepted);
# an issuer removed from it is not, even for a token cached as valid a moment ago; /readyz
# and the per-issuer metrics follow the new set; an invalid section keeps the one in force
# and logs FILE:LINE:COL, counted in authgate_authn_reloads_total{result="error"}.
. "$(dirname "$0")/oidc_lib.sh"

oidc_start
A_ISSUER=$OIDC_ISSUER
mv "$T/oidc.out" "$T/oidc-a.out"
oidc_start
B_ISSUER=$OIDC_ISSUER
start_upstream

issuer() { # issuer URL -> one issuer object trusting the provider at URL by discovery
  printf '{"issuer": "%s", "audiences": ["https://authgate.test"], "keys": {"discovery": true},
           "claims": {"username": "sub", "username_prefix": "%s:"}}' "$1" "${2:-x}"
}
write_config() { # write_config ISSUER_OBJECTS...: the gateway config trusting them
  local list
  list=$(IFS=,; echo "$*")
  plain_config "$T/gw.json" "\"authentication\": {\"issuers\": [$list]}"
}
reloads() { metric "authgate_authn_reloads_total{result=\"$1\"}"; }
hup_and_wait() { # hup_and_wait RESULT: SIGHUP, then wait until that reload result is counted
  local before i
  before=$(reloads "$1")
  kill -HUP "$GW_PID"
  for ((i = 0; i < 200; i++)); do
    [ "$(reloads "$1")" -gt "$before" ] && return 0
    sleep 0.05
  done
  curl -s -m 5 -w 'HTTP %{http_code}\n' "http://127.0.0.1:$ADMIN_PORT/metrics" | grep -E 'authn_|^HTTP' >&2
  fail "no reload counted as $1 within 10 s (count was $before before the SIGHUP)"
}
readyz() { curl -s "http://127.0.0.1:$ADMIN_PORT/readyz?verbose"; }
issuer_series() { # issuer_series URL -> how many per-issuer key series /metrics has for URL
  curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | grep -c "^authgate_jwks_issuer_keys{issuer=\"$1\"}" || true
}

write_config "$(issuer "$A_ISSUER" a)"
start_gateway "$T/gw.json"
wait_ready
ta=$(OIDC_ISSUER=$A_ISSUER oidc_token alice)
tb=$(OIDC_ISSUER=$B_ISSUER oidc_token bob)
expect_eq "$(get /api/v1/pods "$ta")" 200 "issuer A trusted"
expect_eq "$(get /api/v1/pods "$tb")" 401 "issuer B not configured yet"
expect_eq "$(get /api/v1/pods "$tb")" 401 "issuer B refused again (from the negative cache)"
expect_eq "$(metric 'authgate_token_cache_total{result="negative"}')" 1 "the refusal was cached"
expect_eq "$(issuer_series "$B_ISSUER")" 0 "no metrics for B before the reload"
expect_eq "$(metric authgate_authn_generation)" 1 "generation 1 as started"

# --- add issuer B ---------------------------------------------------------------------
write_config "$(issuer "$A_ISSUER" a)" "$(issuer "$B_ISSUER" b)"
hup_and_wait ok
wait_until 10 "issuer B ready" bash -c "curl -s 'http://127.0.0.1:$ADMIN_PORT/readyz?verbose' | grep -qF '[+]issuer $B_ISSUER ok'"
expect_eq "$(get /api/v1/pods "$tb")" 200 "issuer B trusted after SIGHUP (its cached refusal not used)"
wait_until 5 "B's claim mapping (b:bob) upstream" grep -q '"Impersonate-User","b:bob"' "$UP_LOG"
expect_eq "$(get /api/v1/pods "$ta")" 200 "issuer A still trusted"
expect_eq "$(issuer_series "$B_ISSUER")" 1 "per-issuer metrics registered for B at runtime"
expect_eq "$(metric authgate_authn_generation)" 2 "generation 2"
expect_match "$(cat "$GW_LOG")" "authentication reloaded from .*gw.json \(generation 2\): 2 issuer" "reload logged"
pass "an issuer added by SIGHUP is trusted, its earlier refusal is not replayed"

# --- remove issuer A: a token cached as valid is refused --------------------------------
hits0=$(metric 'authgate_token_cache_total{result="hit"}')
expect_eq "$(get /api/v1/pods "$ta")" 200 "A's token, from the cache"
expect_eq "$(metric 'authgate_token_cache_total{result="hit"}')" "$((hits0 + 1))" "it was a cache hit"
write_config "$(issuer "$B_ISSUER" b)"
hup_and_wait ok
expect_eq "$(get /api/v1/pods "$ta")" 401 "A's token, cached as valid, refused once A is removed"
wait_until 5 "the refusal logged as unknown_issuer" grep -q "authentication failed: unknown_issuer" "$GW_LOG"
expect_eq "$(get /api/v1/pods "$tb")" 200 "B still trusted"
wait_until 10 "issuer A gone from /readyz" bash -c "! curl -s 'http://127.0.0.1:$ADMIN_PORT/readyz?verbose' | grep -qF 'issuer $A_ISSUER'"
expect_match "$(readyz)" "\[\+\]issuer $B_ISSUER ok" "B listed"
wait_until 10 "A's metrics gone" test "$(issuer_series "$A_ISSUER")" = 0
expect_eq "$(issuer_series "$B_ISSUER")" 1 "B's metrics stay"
pass "an issuer removed by SIGHUP is refused even for a cached token; /readyz and metrics follow"

# --- an invalid section keeps the one in force -----------------------------------------
cp "$T/gw.json" "$T/gw-good.json"
write_config "$(issuer "$B_ISSUER" b | sed 's/"audiences"/"audiencez"/')"
bad_line=$(grep -n '"audiencez"' "$T/gw.json" | cut -d: -f1)
hup_and_wait error
expect_eq "$(get /api/v1/pods "$tb")" 200 "B still trusted after an invalid reload"
expect_eq "$(metric authgate_authn_generation)" 3 "generation unchanged"
expect_match "$(cat "$GW_LOG")" "authentication reload failed, keeping generation 3: $T/gw.json:$bad_line:[0-9]+: " \
  "the error names FILE:LINE:COL"
expect_match "$(readyz)" "\[\+\]issuer $B_ISSUER ok" "readiness unchanged"
pass "an invalid authentication section keeps the old one and logs FILE:LINE:COL"
