#!/usr/bin/env bash
# Workload identity for ARM, as the AKS webhook sets a pod up: "arm": {"workload_identity":
# true} takes client id, tenant, authority and token file from AZURE_CLIENT_ID,
# AZURE_TENANT_ID, AZURE_AUTHORITY_HOST and AZURE_FEDERATED_TOKEN_FILE. The fixture's token
# endpoint accepts a client assertion only when it equals the file's current content; the
# app token lives 2 s, so polls keep asking for new ones while the test rotates the file:
# every token request carries the current content, none is refused, polls keep succeeding.
. "$(dirname "$0")/arm_lib.sh"

printf 'projected.sa.token.1\n' >"$T/fed-token"
start_upstream
authz_keys
arm_start --federated "$T/fed-token"
arm_ctl '{"tokenExpiresIn":2}'
arm_data "{\"assignments\":[$(asg $ALICE $R_READER +/namespaces/dev)]}"
arm_config "$T/gw.json" "\"base_url\": \"$ARM_URL\", \"workload_identity\": true, \"poll_interval\": \"500ms\""
export AZURE_CLIENT_ID=authgate-test AZURE_TENANT_ID=$ARM_TID
export AZURE_AUTHORITY_HOST=$ARM_URL/ AZURE_FEDERATED_TOKEN_FILE=$T/fed-token
start_gateway "$T/gw.json"
wait_ready
TOK_ALICE=$(aad $ALICE alice@contoso.com)
expect_eq "$(req GET /api/v1/namespaces/dev/pods "$TOK_ALICE")" 200 "set read with the federated token"
expect_eq "$(arm_stats | jq .assertions)" 1 "assertion accepted"
pass "federated token exchanged as the client assertion"

# Rotate the projected token twice, each time waiting past the app token's refresh point.
for n in 2 3; do
    printf 'projected.sa.token.%s\n' "$n" >"$T/fed-token"
    sleep 1.5
done
expect_eq "$(arm_stats | jq .badAuth)" 0 "no refused token request or ARM call"
[ "$(arm_stats | jq .assertions)" -ge 3 ] || fail "tokens not renewed ($(arm_stats | jq .assertions) assertions)"
ok=$(metric 'authgate_arm_polls_total{result="unchanged"}')
[ "$ok" -ge 4 ] || fail "polls did not keep succeeding ($ok)"
expect_eq "$(metric 'authgate_arm_poll_failures_total{reason="token"}')" 0 "no token failures"
expect_no_match "$(cat "$GW_LOG")" "projected.sa.token" "federated token in the log"
pass "the rotated token is read again for each new app token ($(arm_stats | jq .assertions) exchanges)"
