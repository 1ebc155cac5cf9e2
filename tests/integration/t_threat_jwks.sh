#!/usr/bin/env bash
# JWKS abuse through the real binary (threat-model cases 29, 30, 31, 33): the issuer's keys
# come from a loopback JWKS server (threat_server.py) that records every request and can
# answer 500, HTML, an empty set, an oversized body or slowly. Floods of unknown kids, bad
# signatures and kid-less tokens cost at most one fetch per interval; a new kid is picked up
# despite max-age=604800; no bad answer replaces the last good keys; nothing but the
# configured jwks_uri is ever fetched.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/threat_lib.sh"

start_upstream
threat_keys
start_recorder
threat_tokens
KEYS='"keys": {"refresh_min": "1h", "refresh_max": "1h", "unknown_kid_interval": "1s",
               "unknown_kid_wait": "1500ms", "fetch_timeout": "1s", "max_bytes": 65536}'
threat_config "$T/gw.json" "{\"jwks_uri\": \"$REC_URL/jwks\"}" "$KEYS"
start_gateway "$T/gw.json"
ready() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/readyz"; }
for i in $(seq 100); do [ "$(ready)" = 200 ] && break; sleep 0.05; done
expect_eq "$(ready)" 200 "ready once the JWKS is loaded"
fetches() { rec_hits 'GET /jwks'; }
expect_eq "$(breq ok)" 200 "valid token"
pass "keys from jwks_uri"

# case 29: floods. ms_since T0 -> elapsed milliseconds
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
flood() { # flood PREFIX: 40 tokens PREFIX0..39, 8 in parallel; every answer must be 401
    local p=$1
    for i in $(seq 0 39); do echo "$p$i"; done |
        xargs -P 8 -I{} bash -c 'curl -s -o /dev/null -w "%{http_code}\n" -H "Authorization: Bearer $(jq -r ".[\"{}\"]" "$0")" "$1"' \
            "$T/tokens.json" "http://127.0.0.1:$GW_PORT/api/v1/namespaces/default/pods" >"$T/flood.$p"
    expect_eq "$(sort -u "$T/flood.$p" | paste -sd,)" 401 "flood $p: all 401"
}
sleep 1.1
f0=$(fetches)
t0=$(date +%s%N)
flood flood_kid_
ms=$(ms_since "$t0")
df=$(($(fetches) - f0))
[ "$df" -le $((1 + ms / 1000 + 1)) ] || fail "unknown-kid flood: $df JWKS fetches in $ms ms (interval 1 s)"
[ "$df" -ge 1 ] || fail "an unknown kid never triggered a refresh"
pass "case 29: 40 unknown kids in ${ms} ms -> $df JWKS fetch(es) (at most one per interval)"
sleep 1.1
f1=$(fetches)
flood flood_sig_
flood flood_nokid_
expect_eq "$(($(fetches) - f1))" 0 "bad-signature and kid-less floods fetch nothing"
pass "case 29: known kid with a bad signature and kid-less tokens: 401, no fetch"

# case 30: rotation despite Cache-Control: max-age=604800 on every JWKS answer
cp "$T/jwks-rotated.json" "$T/rec/serve.json"
sleep 1.1
f2=$(fetches)
expect_eq "$(breq rotated)" 200 "token signed with the newly published kid"
expect_eq "$(($(fetches) - f2))" 1 "one fetch for the new kid"
pass "case 30: a new kid is accepted at once even with max-age=604800"

# case 31: the JWKS endpoint fails in every way: last good keys (r1 and r2) keep serving
i=0
for mode in 500 html empty big slow; do
    echo "$mode" >"$T/rec/mode"
    sleep 1.1
    f=$(fetches)
    t0=$(date +%s%N)
    expect_eq "$(breq flood_kid_$((i + 20)))" 401 "unknown kid while the JWKS answers $mode"
    ms=$(ms_since "$t0")
    [ "$ms" -lt 4000 ] || fail "unknown kid took $ms ms while the JWKS answers $mode (wait bound 1.5 s, slow JWKS 5 s)"
    expect_eq "$(($(fetches) - f))" 1 "$mode: one attempt"
    expect_eq "$(breq fresh_$i)" 200 "known kid r1 while the JWKS answers $mode"
    expect_eq "$(breq fresh_r2_$i)" 200 "known kid r2 while the JWKS answers $mode"
    expect_eq "$(ready)" 200 "ready while the JWKS answers $mode"
    i=$((i + 1))
done
echo ok >"$T/rec/mode"
pass "case 31: 500/HTML/empty/oversized/slow JWKS answers never replace the last good keys"

# case 33 (and jku/x5u in t_threat_tokens): only the configured URL was ever requested
expect_eq "$(grep -vc '^GET /jwks$' "$T/rec/jwks.log")" 0 "only /jwks fetched: $(sort -u "$T/rec/jwks.log" | head -5)"
pass "case 33: nothing but jwks_uri fetched"

# an oversized JWKS at start: not ready, tokens refused, the process stays up
echo big >"$T/rec/mode"
threat_config "$T/gw2.json" "{\"jwks_uri\": \"$REC_URL/jwks\"}" "$KEYS"
start_gateway "$T/gw2.json" gw2
sleep 1.5
expect_match "$(ready)" '^5' "not ready without keys"
code=$(breq fresh_7)
[ "$code" = 401 ] || [ "$code" = 503 ] || fail "token accepted without keys: $code"
kill -0 "$GW_PID" || fail "gateway died on an oversized JWKS"
pass "case 31: an oversized first JWKS leaves the gateway up, not ready, refusing tokens"
check_forward_invariant
