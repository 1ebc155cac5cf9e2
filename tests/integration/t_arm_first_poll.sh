#!/usr/bin/env bash
# Before the first complete ARM poll the gateway is not ready, so a failed first poll is
# retried after at most 10 s rather than after poll_interval (60 s here): the first poll
# meets a garbage answer, the gateway stays unready and denies Azure AD identities, the
# next poll comes about 10 s later and makes it ready.
. "$(dirname "$0")/arm_lib.sh"

start_upstream
authz_keys
arm_start
arm_data "{\"assignments\":[$(asg $ALICE $R_READER +/namespaces/dev)]}"
arm_ctl '{"garbage":1}'
arm_config "$T/gw.json" "$(arm_secret_members | sed 's/"poll_interval": "1s"/"poll_interval": "60s"/')"
start_gateway "$T/gw.json"
TOK_ALICE=$(aad $ALICE alice@contoso.com)
for ((i = 0; i < 100; i++)); do
    [ "$(metric 'authgate_arm_poll_failures_total{reason="garbage"}')" = 1 ] && break
    sleep 0.05
done
expect_eq "$(metric 'authgate_arm_poll_failures_total{reason="garbage"}')" 1 "first poll failed"
expect_eq "$(readyz)" 503 "not ready"
expect_eq "$(req GET /api/v1/namespaces/dev/pods "$TOK_ALICE")" 403 "Azure AD identity denied meanwhile"
expect_match "$(cat "$GW_LOG")" 'arm: poll failed .*no Azure role assignments yet' "WARN says nothing is in force"
wait_ready 15
read -r t1 t2 < <(arm_stats | jq -r '[.requests[0].t, .requests[1].t] | map(tostring) | join(" ")')
[ $((t2 - t1)) -ge 9900 ] && [ $((t2 - t1)) -le 13000 ] || fail "second poll $((t2 - t1)) ms after the first"
expect_eq "$(req GET /api/v1/namespaces/dev/pods "$TOK_ALICE")" 200 "allowed once ready"
pass "failed first poll retried after $((t2 - t1)) ms (poll_interval 60 s), then ready"
