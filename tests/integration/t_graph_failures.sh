#!/usr/bin/env bash
# Azure AD group overage when Graph misbehaves, through the real gateway: a Graph timeout
# answers 503 within the configured timeout with the reason in the log (never a silent
# 403, never forwarded); a Graph error answers 503; more groups than max_groups answers
# 403 (fail closed); a cached group list is served stale while Graph fails, within the
# bound, and counted; the app token is reused, then refreshed before it expires.
. "$(dirname "$0")/graph_lib.sh"

A=3f2504e0-4f89-41d3-9a0c-0305e82c3301
B=4f2504e0-4f89-41d3-9a0c-0305e82c3302
C=5f2504e0-4f89-41d3-9a0c-0305e82c3303
D=6f2504e0-4f89-41d3-9a0c-0305e82c3304
E=7f2504e0-4f89-41d3-9a0c-0305e82c3305
F=8f2504e0-4f89-41d3-9a0c-0305e82c3306

graph_start
start_upstream
graph_config "$T/gw.json" '"timeout": "500ms", "max_groups": 5, "cache_ttl": "1s",
             "stale_ttl": "1m", "token_refresh_margin": "1m"'
start_gateway "$T/gw.json"
wait_ready
# The app token lives 10 s, so the gateway refreshes it 5 s after fetching it (at half its
# life: the 1 m margin is longer). 5 s is room enough on a loaded machine for the reuse
# check (a 2 s token left 1 s, too little there); the refresh check waits for that point.
graph_ctl '{"tokenExpiresIn":10}'
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# A principal seen while Graph works: cached (for the stale case below).
tok_a=$(graph_token "$A")
expect_eq "$(get /api/v1/pods "$tok_a")" 200 "Graph up"
fetched_ms=$(now_ms) # the gateway fetched its app token before this
expect_eq "$(graph_stat tokens)" 1 "first app token"
tok_f=$(graph_token "$F")
expect_eq "$(get /api/v1/pods "$tok_f")" 200 "second principal"
expect_eq "$(graph_stat tokens)" 1 "app token reused"
pass "app token fetched once and reused"

# The app token (10 s, refreshed at half its life) is renewed before it expires: past 5 s
# after the first fetch the next lookup fetches a new one. (Checked before the Graph
# failures below, which take a varying time and would let a refresh happen among them.)
tok_e=$(graph_token "$E")
wait_ms=$((fetched_ms + 5200 - $(now_ms)))
[ "$wait_ms" -le 0 ] || sleep "$((wait_ms / 1000)).$(printf '%03d' $((wait_ms % 1000)))"
expect_eq "$(get /api/v1/pods "$tok_e")" 200 "after the refresh point"
expect_eq "$(graph_stat tokens)" 2 "app token refreshed"
expect_eq "$(graph_stat badAuth)" 0 "Graph never saw an expired or wrong app token"
pass "app token refreshed before expiry"

# Timeout: Graph takes 8 s, the gateway waits 500 ms (the bound leaves room for a loaded
# machine and stays well below Graph's delay).
before=$(upstream_count)
graph_ctl '{"delayMs":8000}'
tok_b=$(graph_token "$B")
t0=$(now_ms)
expect_eq "$(get /api/v1/pods "$tok_b")" 503 "Graph timeout"
ms=$(($(now_ms) - t0))
[ "$ms" -lt 5000 ] || fail "503 after ${ms} ms, expected about the 500 ms timeout"
expect_match "$(cat "$T/body")" '"kind":"Status".*"code":503' "Status body"
expect_match "$(cat "$GW_LOG")" "Graph did not answer in time" "timeout reason in the log"
expect_eq "$(upstream_count)" "$before" "nothing forwarded"
pass "Graph timeout: 503 after ${ms} ms, reason logged"

# Graph answers an error: 503, reason (with Graph's code) logged.
graph_ctl '{"delayMs":0,"failStatus":503}'
expect_eq "$(get /api/v1/pods "$(graph_token "$C")")" 503 "Graph 503"
expect_match "$(cat "$GW_LOG")" "failed: Graph answered an error status" "Graph error in the log"
pass "Graph error: 503"

# Stale: A's list is past cache_ttl (1 s) but within stale_ttl (1 m) while Graph fails.
sleep 1.1
stale=$(metric authgate_graph_stale_served_total)
expect_eq "$(get /api/v1/pods "$(graph_token "$A")")" 200 "stale groups while Graph fails"
expect_match "$(groups_of "$(tail -1 "$UP_LOG")")" "$(gid $A 2)" "stale groups forwarded"
expect_eq "$(metric authgate_graph_stale_served_total)" "$((stale + 1))" "stale answer counted"
pass "cached groups served stale while Graph is down, visible in /metrics"

# The cap: 6 groups > max_groups 5 -> 403, never forwarded.
graph_ctl "{\"failStatus\":0,\"groups\":{\"$D\":6}}"
before=$(upstream_count)
expect_eq "$(get /api/v1/pods "$(graph_token "$D")")" 403 "over max_groups"
expect_match "$(cat "$GW_LOG")" "more groups than graph.max_groups allows" "cap reason in the log"
expect_eq "$(upstream_count)" "$before" "nothing forwarded"
pass "more than max_groups: 403, fail closed"

expect_eq "$(graph_stat sinkConnections)" 0 "connections to the _claim_sources endpoint"
expect_no_match "$(cat "$GW_LOG")" "s3cret" "client secret in the log"
pass "no _claim_sources contact, no secret in the log"
