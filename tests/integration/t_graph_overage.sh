#!/usr/bin/env bash
# Azure AD group overage through the real gateway: tokens that carry `_claim_names.groups`
# (or `hasgroups`) instead of groups get their groups from the Graph fixture by oid; N
# concurrent requests for one principal (distinct tokens, two workers) cause one Graph
# lookup; later ones are cache hits; nextLink pages are followed; the groups reach the API
# server as Impersonate-Group headers; and the `_claim_sources` endpoint each token names
# (a loopback listener) is never contacted.
. "$(dirname "$0")/graph_lib.sh"

A=3f2504e0-4f89-41d3-9a0c-0305e82c3301
B=4f2504e0-4f89-41d3-9a0c-0305e82c3302
C=5f2504e0-4f89-41d3-9a0c-0305e82c3303

graph_start
start_upstream
graph_config "$T/gw.json"
start_gateway "$T/gw.json"
wait_ready

# N concurrent first requests for one oid, each with its own token: one Graph lookup.
graph_ctl '{"delayMs":300}'
N=20
for ((i = 0; i < N; i++)); do graph_token "$A" >"$T/tok.$i"; done
for ((i = 0; i < N; i++)); do
    curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $(cat "$T/tok.$i")" \
        "http://127.0.0.1:$GW_PORT/api/v1/namespaces/default/pods" >"$T/status.$i" &
done
wait_all=0
for ((i = 0; i < 100; i++)); do
    [ "$(cat "$T"/status.* 2>/dev/null | grep -c .)" -ge "$N" ] && wait_all=1 && break
    sleep 0.1
done
[ "$wait_all" = 1 ] || fail "not every concurrent request finished"
expect_eq "$(cat "$T"/status.* | sort -u)" 200 "statuses of $N concurrent requests"
expect_eq "$(graph_lookups "$A")" 1 "Graph lookups for $N concurrent requests"
expect_eq "$(graph_stat tokens)" 1 "app tokens fetched"
expect_eq "$(upstream_count)" "$N" "requests forwarded"
want=$(printf '%s\n' "$(gid $A 0)" "$(gid $A 1)" "$(gid $A 2)" system:authenticated | sort)
while read -r line; do
    expect_eq "$(groups_of "$line")" "$want" "Impersonate-Group of a forwarded request"
done <"$UP_LOG"
pass "$N concurrent requests for one principal: one Graph lookup, groups forwarded"

# Later tokens for the same principal: answered from the per-oid cache.
graph_ctl '{"delayMs":0}'
hits=$(metric 'authgate_graph_requests_total{result="cache_hit"}')
expect_eq "$(get /api/v1/pods "$(graph_token "$A")")" 200 "cached principal"
expect_eq "$(graph_lookups "$A")" 1 "no second lookup"
expect_eq "$(metric 'authgate_graph_requests_total{result="cache_hit"}')" "$((hits + 1))" "cache hit counted"
pass "cache hit for a new token of the same principal"

# Paging: 7 groups, 2 per page, through @odata.nextLink.
graph_ctl "{\"pageSize\":2,\"groups\":{\"$B\":7}}"
pages=$(graph_stat pages)
expect_eq "$(get /api/v1/pods "$(graph_token "$B")")" 200 "paged principal"
expect_eq "$(graph_stat pages)" "$((pages + 4))" "pages fetched"
expect_eq "$(groups_of "$(tail -1 "$UP_LOG")" | grep -c -- '-1111-4222-8333-')" 7 "groups from 4 pages"
pass "nextLink paging"

# hasgroups (implicit-flow marker) is an overage marker too.
graph_ctl '{"pageSize":0}'
expect_eq "$(get /api/v1/pods "$(graph_token "$C" '"hasgroups":true')")" 200 "hasgroups token"
expect_eq "$(graph_lookups "$C")" 1 "lookup for hasgroups"
expect_match "$(groups_of "$(tail -1 "$UP_LOG")")" "$(gid $C 2)" "hasgroups groups forwarded"
pass "hasgroups resolved through Graph"

# The forged _claim_sources endpoint in every token above was never contacted.
expect_eq "$(graph_stat sinkConnections)" 0 "connections to the _claim_sources endpoint"
expect_no_match "$(cat "$GW_LOG")" "127.0.0.1:$GRAPH_SINK" "claim source in the log"
pass "the token's _claim_sources endpoint is never fetched"
