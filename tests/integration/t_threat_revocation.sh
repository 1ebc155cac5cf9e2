#!/usr/bin/env bash
# Revocation bound (threat-model case 28): a group removed at the directory (Graph, for an
# overage token) stops reaching the API server within graph.cache_ttl, while the user keeps
# presenting the very same token; and a transient Graph failure after that is never served
# from a stale list once stale_ttl is 0 (case 26: no stale grant outlives its bound).
. "$(dirname "$0")/graph_lib.sh"

graph_start
start_upstream
graph_config "$T/gw.json" '"cache_ttl": "2s", "stale_ttl": "0s"'
start_gateway "$T/gw.json"
wait_ready
OID=0a1b2c3d-0000-4000-8000-00000000a028
TOKEN=$(graph_token "$OID")
graph_ctl "{\"groups\":{\"$OID\":3}}"
groups_now() { # the groups forwarded for one request with $TOKEN ("-" when not forwarded)
    local n0 code
    n0=$(upstream_count)
    code=$(get /api/v1/namespaces/default/pods "$TOKEN")
    if [ "$code" != 200 ] || [ "$(upstream_count)" = "$n0" ]; then echo "- $code"; return; fi
    groups_of "$(tail -1 "$UP_LOG")" | grep -vc '^system:' || true
}
# The checks look at when requests were sent and answered, never at how long a loaded
# machine took in between: the list is fetched between t0 and t1, so it is fresh until
# about t0 + 2 s (the loop's clock may lag a little) and expired at t1 + 2 s.
now_ms() { echo $(($(date +%s%N) / 1000000)); }
t0=$(now_ms)
expect_eq "$(groups_now)" 3 "three directory groups forwarded"
t1=$(now_ms)
graph_ctl "{\"groups\":{\"$OID\":1}}" # two groups removed in the directory
n=$(groups_now)
if [ $(($(now_ms) - t0)) -lt 1500 ]; then # answered well inside cache_ttl: the cached list
    expect_eq "$n" 3 "inside cache_ttl the cached list is used (documented bound)"
else
    echo "# skip the inside-cache_ttl check: the machine took 1.5 s for two requests"
fi
last3=0 sent=0
while [ "$n" != 1 ] && [ "$sent" -lt 10000 ]; do
    sleep 0.1
    sent=$(($(now_ms) - t1))
    n=$(groups_now)
    [ "$n" = 3 ] && last3=$sent
done
expect_eq "$n" 1 "removed groups gone"
[ "$last3" -le 3200 ] || fail "a request sent $last3 ms after the fill still got the removed groups (cache_ttl 2 s)"
pass "case 28: removed groups stop reaching the upstream (the old list last sent ${last3} ms after the fill; cache_ttl 2 s), same token"

graph_ctl '{"failStatus": 503}'
sleep 2.2
out=$(groups_now)
expect_match "$out" '^- 5' "Graph down after cache_ttl, stale_ttl 0: refused, not served stale ($out)"
graph_ctl '{"failStatus": 0}'
for i in $(seq 1 30); do n=$(groups_now); [ "$n" = 1 ] && break; sleep 0.1; done
expect_eq "$n" 1 "back once Graph answers (the failure was not cached as a deny)"
pass "case 26/28: with stale_ttl 0 an expired list is never served while Graph fails"
