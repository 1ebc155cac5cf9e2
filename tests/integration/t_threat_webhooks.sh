#!/usr/bin/env bash
# The review webhooks as an attacker meets them (threat-model cases 6, 33, 34, and the
# webhook topology of DESIGN.md): TokenReview answers only callers it trusts (caller
# authentication and tokenreview_callers), judges attack tokens exactly like the front
# door, honours spec.audiences; SubjectAccessReview judges exactly the groups in the spec
# (adds none, not even system:authenticated); reviews are never forwarded.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/threat_lib.sh"

threat_start "" '"tokenreview_callers": ["kube-apiserver"]'
KAS=$(tok kas)
TR=/apis/authentication.k8s.io/v1/tokenreviews
SAR=/apis/authorization.k8s.io/v1/subjectaccessreviews
n0=$(upstream_count)
post() { # post PATH CALLER_TOKEN JSON -> status, body in $T/body
    curl -s -o "$T/body" -w '%{http_code}' -X POST ${2:+-H "Authorization: Bearer $2"} \
        -H 'Content-Type: application/json' --data-binary "$3" "http://127.0.0.1:$GW_PORT$1"
}
review() { # review TOKEN [AUDIENCES_JSON]
    printf '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"%s"%s}}' \
        "$1" "${2:+,\"audiences\":$2}"
}

# caller authentication: nobody, a user with a valid token who is not a listed caller
expect_eq "$(post $TR "" "$(review "$(tok ok)")")" 401 "anonymous caller"
expect_eq "$(post $TR "$(tok ok)" "$(review "$(tok ok)")")" 403 "alice is not a TokenReview caller"
expect_eq "$(jq -r .kind "$T/body")" Status "403 is a Status"
expect_eq "$(post $TR "$(tok alg_none)" "$(review "$(tok ok)")")" 401 "caller with a forged token"
expect_eq "$(post $TR "$KAS" "$(review "$(tok ok)")")" 201 "the API server"
expect_eq "$(jq -c '[.status.authenticated, .status.user.username, .status.user.groups]' "$T/body")" \
  '[true,"alice",["devs","system:authenticated"]]' "valid token reviewed"
pass "TokenReview: only authenticated, listed callers"

# the review judges attack tokens exactly as the front door does
for name in alg_none hs256_pubkey_pem jku jwk_embedded crit_exp expired aud_other iss_slash \
    iss_case dup_iss sub_system group_crlf jwe big_20k; do
    expect_eq "$(post $TR "$KAS" "$(review "$(tok $name)")")" 201 "review of $name answered"
    expect_eq "$(jq -r .status.authenticated "$T/body")" false "$name not authenticated by review"
    expect_eq "$(jq -r '.status.user.username // ""' "$T/body")" "" "$name: no user in the review"
done
pass "TokenReview: every attack token answered authenticated=false"

# spec.audiences: the token must be for one of them (case 34)
expect_eq "$(post $TR "$KAS" "$(review "$(tok ok)" '["other-app"]')")" 201 "audiences other-app"
expect_eq "$(jq -r .status.authenticated "$T/body")" false "token for authgate, review for other-app"
expect_eq "$(post $TR "$KAS" "$(review "$(tok aud_other_app)")")" 201 "token for other-app, no audiences"
expect_eq "$(jq -r .status.authenticated "$T/body")" false "token for another app refused"
expect_eq "$(post $TR "$KAS" "$(review "$(tok ok)" '["other-app","authgate"]')")" 201 "audiences incl. ours"
expect_eq "$(jq -c '[.status.authenticated, .status.audiences]' "$T/body")" '[true,["authgate"]]' "matched audience echoed"
pass "TokenReview: spec.audiences honoured"

# SubjectAccessReview adds no groups: /version is granted to system:authenticated (bootstrap)
sar() { printf '{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"%s"%s,%s}}' "$@"; }
NR='"nonResourceAttributes":{"path":"/version","verb":"get"}'
expect_eq "$(post $SAR "$KAS" "$(sar zed '' "$NR")")" 201 "SAR without groups"
expect_eq "$(jq -r .status.allowed "$T/body")" false "no group added: system:authenticated not implied"
expect_eq "$(post $SAR "$KAS" "$(sar zed ',"groups":["system:authenticated"]' "$NR")")" 201 "SAR with system:authenticated"
expect_eq "$(jq -r .status.allowed "$T/body")" true "control: the group grants it"
SR='"resourceAttributes":{"namespace":"default","verb":"list","resource":"secrets"}'
expect_eq "$(post $SAR "$KAS" "$(sar alice ',"groups":["devs"],"extra":{"scopes":["all"]},"uid":"0"' "$SR")")" 201 "extra/uid"
expect_eq "$(jq -r .status.allowed "$T/body")" false "extra and uid grant nothing"
expect_eq "$(post $SAR "$KAS" "$(sar alice ',"groups":["secret-readers"]' "$SR")")" 201 "group from the spec"
expect_eq "$(jq -r .status.allowed "$T/body")" true "control: the spec's group decides"
expect_eq "$(post $SAR "$(tok ok)" "$(sar alice ',"groups":["secret-readers"]' "$SR")")" 403 "alice may not ask SARs"
pass "SubjectAccessReview: judges exactly the spec's groups; callers authorized"

# without tokenreview_callers, RBAC still decides (create tokenreviews), as the API server does
threat_config "$T/gw2.json"
start_gateway "$T/gw2.json" gw2
expect_eq "$(post $TR "$(tok ok)" "$(review "$(tok frank)")")" 403 "alice may not create tokenreviews"
expect_match "$(jq -r .message "$T/body")" 'cannot create resource "tokenreviews"' "RBAC message"
expect_eq "$(post $TR "$KAS" "$(review "$(tok frank)")")" 201 "auth-delegator may"
pass "TokenReview: RBAC create tokenreviews required of every caller"

# tokenreview_callers is a check of its own, not RBAC's: the API server, whom RBAC lets create
# tokenreviews, is refused when the list names someone else
threat_config "$T/gw3.json" "" '"tokenreview_callers": ["another-apiserver"]'
start_gateway "$T/gw3.json" gw3
expect_eq "$(post $TR "$KAS" "$(review "$(tok frank)")")" 403 "RBAC-allowed caller not in the list"
pass "TokenReview: tokenreview_callers refuses a caller RBAC would allow"

expect_eq "$(upstream_count)" "$n0" "no review was forwarded"
pass "reviews are answered locally, never forwarded"
