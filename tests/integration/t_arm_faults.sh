#!/usr/bin/env bash
# The ARM poller when ARM misbehaves, through the real gateway against the ARM fixture:
# throttled (429 + Retry-After) - no request before Retry-After has passed, readiness
# "azure-rbac-sync" false and Azure AD identities denied until the first complete poll;
# garbage (HTML, a list of the wrong shape, an item the loader refuses) - the last good
# set keeps serving, never an empty one, counted by reason, one WARN per 10 s; 5xx -
# backed off 1 s then 2 s, then the poll completes; ETags - If-None-Match sent, 304 reuses
# the last pages, a change is still picked up.
. "$(dirname "$0")/arm_lib.sh"

gap_ok() { # gap_ok T1 T2 MS: T2 - T1 >= MS (1 ms of clock rounding allowed)
    [ $(($2 - $1)) -ge $(($3 - 1)) ] || fail "requests $(($2 - $1)) ms apart, expected >= $3 ms"
}

start_upstream
authz_keys
arm_start
arm_data "{\"assignments\":[$(asg $ALICE $R_READER +/namespaces/dev)]}"
arm_ctl '{"throttle":2,"retryAfter":2}'
arm_config "$T/gw.json" "$(arm_secret_members)"
start_gateway "$T/gw.json"
TOK_ALICE=$(aad $ALICE alice@contoso.com)

# A. Throttled first poll.
expect_eq "$(readyz)" 503 "not ready before the first complete poll"
expect_match "$(cat "$T/readyz")" 'azure-rbac-sync' "readiness names the sync"
expect_eq "$(req GET /api/v1/namespaces/dev/pods "$TOK_ALICE")" 403 "Azure AD identity denied before the first poll"
wait_ready 10
expect_eq "$(req GET /api/v1/namespaces/dev/pods "$TOK_ALICE")" 200 "allowed after it"
read -r s1 s2 s3 t1 t2 t3 < <(arm_stats | jq -r '.requests[0:3] | [.[].status] + [.[].t] | map(tostring) | join(" ")')
expect_eq "$s1 $s2 $s3" "429 429 200" "statuses of the first three requests"
gap_ok "$t1" "$t2" 2000
gap_ok "$t2" "$t3" 2000
expect_eq "$(metric authgate_arm_throttled_total)" 2 "throttled counted"
pass "429: waited Retry-After twice ($((t2 - t1)) and $((t3 - t2)) ms), then ready"

# B. Garbage keeps the last good set. The data behind it would revoke alice.
arm_data '{"assignments":[]}'
arm_ctl '{"garbage":1000,"garbageKind":"html"}'
sleep 3.5
expect_eq "$(req GET /api/v1/namespaces/dev/pods "$TOK_ALICE")" 200 "last good set kept under HTML answers"
[ "$(metric 'authgate_arm_poll_failures_total{reason="garbage"}')" -ge 2 ] || fail "garbage not counted"
expect_eq "$(grep -c 'arm: poll failed' "$GW_LOG")" 1 "one WARN in 3.5 s of failing polls"
expect_eq "$(metric 'authgate_arm_objects{kind="role_assignments"}')" 1 "gauge shows the set in force"
[ "$(metric authgate_arm_last_success_age_seconds)" -ge 2 ] || fail "last success age"
arm_ctl '{"garbageKind":"shape"}'
sleep 1.5
expect_eq "$(req GET /api/v1/namespaces/dev/pods "$TOK_ALICE")" 200 "kept under a list of the wrong shape"
arm_ctl '{"garbageKind":"item"}'
before=$(metric 'authgate_arm_poll_failures_total{reason="invalid"}')
sleep 1.5
expect_eq "$(req GET /api/v1/namespaces/dev/pods "$TOK_ALICE")" 200 "kept under an item the loader refuses"
[ "$(metric 'authgate_arm_poll_failures_total{reason="invalid"}')" -gt "$before" ] || fail "invalid not counted"
arm_ctl '{"garbage":0}'
ms=$(wait_status /api/v1/namespaces/dev/pods "$TOK_ALICE" 403)
pass "garbled polls keep the last good set; the real change applies ${ms} ms after ARM recovers"

# C. 5xx: backed off 1 s, then 2 s; the poll then completes with the new data.
arm_data "{\"assignments\":[$(asg $ALICE $R_READER +/namespaces/dev)]}"
curl -sf -X POST "$ARM_URL/_reset" >/dev/null
arm_ctl '{"fail":2,"failStatus":503}'
wait_status /api/v1/namespaces/dev/pods "$TOK_ALICE" 200 8 >/dev/null
read -r s1 s2 s3 t1 t2 t3 < <(arm_stats | jq -r '[.requests[] | select(.status != 200)][0:2] + [.requests[] | select(.status == 200)][0:1] | [.[].status] + [.[].t] | map(tostring) | join(" ")')
expect_eq "$s1 $s2 $s3" "503 503 200" "statuses"
gap_ok "$t1" "$t2" 1000
gap_ok "$t2" "$t3" 2000
pass "5xx: retried after $((t2 - t1)) and $((t3 - t2)) ms, then applied"

# D. ETags: If-None-Match with the last ETag, 304 reuses the pages; a change still lands.
arm_ctl '{"etag":true}'
sleep 2.5
[ "$(arm_stats | jq .notModified)" -ge 3 ] || fail "no 304 answers ($(arm_stats | jq .notModified))"
expect_eq "$(req GET /api/v1/namespaces/dev/pods "$TOK_ALICE")" 200 "304: the set stays"
arm_data "{\"assignments\":[$(asg $ALICE $R_READER +/namespaces/prod)]}"
wait_status /api/v1/namespaces/prod/pods "$TOK_ALICE" 200 >/dev/null
expect_eq "$(req GET /api/v1/namespaces/dev/pods "$TOK_ALICE")" 403 "the changed list replaced the old"
pass "conditional requests: 304 reuses the last pages, a new ETag brings the change"
expect_eq "$(arm_stats | jq .badAuth)" 0 "ARM never saw a bad token"
