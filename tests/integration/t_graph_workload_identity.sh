#!/usr/bin/env bash
# Workload identity for Graph, as the AKS webhook sets a pod up: "workload_identity": true
# takes the client id, tenant, authority and token file from AZURE_CLIENT_ID,
# AZURE_TENANT_ID, AZURE_AUTHORITY_HOST and AZURE_FEDERATED_TOKEN_FILE; the token request
# carries the file's content as the client assertion (the fixture accepts exactly the
# file's current content), and the file is read again for the next token after the kubelet
# rotated it.
. "$(dirname "$0")/graph_lib.sh"

A=3f2504e0-4f89-41d3-9a0c-0305e82c3301
B=4f2504e0-4f89-41d3-9a0c-0305e82c3302
printf 'projected.token.one\n' >"$T/fed-token"
graph_start --federated "$T/fed-token"
start_upstream
graph_config "$T/gw.json"
python3 - "$T/gw.json" "$GRAPH_URL" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["graph"] = {"base_url": sys.argv[2], "workload_identity": True}
json.dump(c, open(sys.argv[1], "w"))
PY
export AZURE_CLIENT_ID=authgate-test AZURE_TENANT_ID=$GRAPH_TID
export AZURE_AUTHORITY_HOST=$GRAPH_URL/ AZURE_FEDERATED_TOKEN_FILE=$T/fed-token
start_gateway "$T/gw.json"
wait_ready
# App tokens live 2 s: the gateway fetches a new one after 1 s (half the life).
graph_ctl '{"tokenExpiresIn":2}'
expect_eq "$(get /api/v1/pods "$(graph_token "$A")")" 200 "overage resolved with the federated token"
expect_eq "$(graph_stat assertions)" 1 "assertions accepted"
expect_eq "$(graph_stat badAuth)" 0 "rejected token requests"
pass "federated token exchanged as the client assertion"

# The kubelet rotates the projected token: only the new content is accepted from now on.
printf 'projected.token.two\n' >"$T/fed-token"
sleep 1.3
expect_eq "$(get /api/v1/pods "$(graph_token "$B")")" 200 "after the rotation"
expect_eq "$(graph_stat tokens)" 2 "a second token request"
expect_eq "$(graph_stat assertions)" 2 "the rotated token accepted"
expect_eq "$(graph_stat badAuth)" 0 "no stale assertion sent"
expect_no_match "$(cat "$GW_LOG")" "projected.token" "federated token in the log"
pass "rotated federated token read again for the next app token"
