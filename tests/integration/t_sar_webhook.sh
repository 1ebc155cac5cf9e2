#!/usr/bin/env bash
# The SubjectAccessReview webhook on the main listener, end to end: the caller (a token
# for "kube-apiserver", bound to system:auth-delegator) is authenticated and authorized
# like any request; the review is judged against the gateway's policy (alice: view in
# default) and answered locally (never forwarded), in v1 and v1beta1; a caller without
# the right gets the API server's 403; malformed and oversized bodies are refused; the
# same through @kubernetes/client-node.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/authz_lib.sh"

start_upstream
authz_keys
D="$AG_SOURCE_DIR/tests/integration"
authz_config "$T/gw.json" "\"$D/authz_policy.json\", \"$D/authz_sar_policy.json\""
start_gateway "$T/gw.json"
read -r KAS ALICE < <(node "$MINT" tokens "$T" kube-apiserver alice:devs | paste -sd' ')
URL=/apis/authorization.k8s.io/v1/subjectaccessreviews
sar() { # sar TOKEN JSON [PATH]
    curl -s -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $1" \
        -H 'Content-Type: application/json' --data-binary "$2" "http://127.0.0.1:$GW_PORT${3:-$URL}"
}
n0=$(upstream_count)

# 1. allowed, with the binding named in the reason
body='{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"alice","groups":["devs"],"resourceAttributes":{"namespace":"default","verb":"list","resource":"pods"}}}'
expect_eq "$(sar "$KAS" "$body")" 201 "review answered"
expect_eq "$(jq -c '[.apiVersion, .kind, .status.allowed]' "$T/body")" \
  '["authorization.k8s.io/v1","SubjectAccessReview",true]' "allowed"
expect_match "$(jq -r .status.reason "$T/body")" 'RoleBinding "alice-view/default" of ClusterRole "view"' "reason names the binding"
expect_eq "$(jq -c .spec.resourceAttributes "$T/body")" \
  '{"namespace":"default","verb":"list","resource":"pods"}' "spec echoed"
pass "allowed review"

# 2. not allowed (RBAC has no opinion: allowed false, denied absent/false)
body='{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"alice","resourceAttributes":{"namespace":"default","verb":"get","resource":"secrets"}}}'
expect_eq "$(sar "$KAS" "$body")" 201 "review answered"
expect_eq "$(jq -c '[.status.allowed, (.status.denied // false)]' "$T/body")" '[false,false]' "not allowed"
# a review adds no groups: bob's group-only grant is not implied by system:authenticated
body='{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"carol","resourceAttributes":{"namespace":"kube-system","verb":"list","resource":"pods"}}}'
expect_eq "$(sar "$KAS" "$body")" 201 "carol elsewhere"
expect_eq "$(jq -r .status.allowed "$T/body")" false "carol not allowed in kube-system"
pass "denied review"

# 3. v1beta1 ("group" instead of "groups") and a non-resource review
body='{"apiVersion":"authorization.k8s.io/v1beta1","kind":"SubjectAccessReview","spec":{"user":"nobody","group":["system:masters"],"resourceAttributes":{"verb":"delete","resource":"nodes"}}}'
expect_eq "$(sar "$KAS" "$body" /apis/authorization.k8s.io/v1beta1/subjectaccessreviews)" 201 "v1beta1"
expect_eq "$(jq -c '[.apiVersion, .status.allowed]' "$T/body")" '["authorization.k8s.io/v1beta1",true]' "v1beta1 masters"
body='{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"alice","groups":["system:authenticated"],"nonResourceAttributes":{"path":"/version","verb":"get"}}}'
expect_eq "$(sar "$KAS" "$body")" 201 "non-resource"
expect_eq "$(jq -r .status.allowed "$T/body")" true "system:authenticated may get /version (bootstrap)"
pass "v1beta1 and non-resource reviews"

# 4. a caller without create subjectaccessreviews: the API server's 403
body='{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"alice","resourceAttributes":{"verb":"list","resource":"pods"}}}'
expect_eq "$(sar "$ALICE" "$body")" 403 "alice may not review"
expect_eq "$(jq -r .message "$T/body")" \
  'subjectaccessreviews.authorization.k8s.io is forbidden: User "alice" cannot create resource "subjectaccessreviews" in API group "authorization.k8s.io" at the cluster scope' "403 message"
expect_eq "$(sar "bad" "$body")" 401 "unauthenticated"
pass "the caller is authorized"

# 5. malformed, invalid, oversized; Expect: 100-continue; keep-alive across reviews
expect_eq "$(sar "$KAS" '{"spec":')" 400 "malformed JSON"
expect_eq "$(jq -r .kind "$T/body")" Status "Status body"
expect_eq "$(sar "$KAS" '{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"resourceAttributes":{"verb":"get","resource":"pods"}}}')" 422 "no user"
head -c 1100000 /dev/zero | tr '\0' ' ' >"$T/big"
J='Content-Type: application/json'
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $KAS" -H "$J" \
  --data-binary @"$T/big" "http://127.0.0.1:$GW_PORT$URL")
expect_eq "$code" 413 "oversized body"
ok='{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"alice","resourceAttributes":{"namespace":"default","verb":"get","resource":"pods"}}}'
expect_eq "$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $KAS" -H "$J" \
  -H 'Expect: 100-continue' --data-binary "$ok" "http://127.0.0.1:$GW_PORT$URL")" 201 "100-continue"
out=$(curl -s -w '\n%{http_code} %{num_connects}\n' -X POST -H "Authorization: Bearer $KAS" -H "$J" \
  --data-binary "$ok" "http://127.0.0.1:$GW_PORT$URL" --next -X POST -H "Authorization: Bearer $KAS" -H "$J" \
  -w '\n%{http_code} %{num_connects}\n' --data-binary "$ok" "http://127.0.0.1:$GW_PORT$URL")
expect_eq "$(grep -c '"allowed":true' <<<"$out")" 2 "two reviews on one connection"
expect_eq "$(grep -E '^201 ' <<<"$out" | awk '{print $2}' | paste -sd,)" "1,0" "second one reused the connection"
expect_eq "$(upstream_count)" "$n0" "no review was forwarded"
pass "bad bodies refused; reviews never forwarded"

# 6. a real client library
cd "$AG_SOURCE_DIR/tests"
out=$(node fixtures/authz/sar-client.mjs "http://127.0.0.1:$GW_PORT" "$KAS" alice list pods default devs)
expect_eq "$(jq -r .allowed <<<"$out")" true "client-node allowed"
out=$(node fixtures/authz/sar-client.mjs "http://127.0.0.1:$GW_PORT" "$KAS" alice delete pods default)
expect_eq "$(jq -r .allowed <<<"$out")" false "client-node not allowed"
expect_match "$(curl -s "http://127.0.0.1:$ADMIN_PORT/metrics")" 'authgate_sar_reviews_total\{result="allowed"\} [1-9]' "metric"
pass "@kubernetes/client-node createSubjectAccessReview"

# 7. SelfSubjectAccessReview (kubectl auth can-i): answered by the gateway for the caller
ssar='{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"resourceAttributes":{"namespace":"default","verb":"list","resource":"pods"}}}'
expect_eq "$(sar "$ALICE" "$ssar" /apis/authorization.k8s.io/v1/selfsubjectaccessreviews)" 201 "self review"
expect_eq "$(jq -c '[.kind, .status.allowed, .spec]' "$T/body")" \
  '["SelfSubjectAccessReview",true,{"resourceAttributes":{"namespace":"default","verb":"list","resource":"pods"}}]' "alice may list pods"
ssar='{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"resourceAttributes":{"namespace":"default","verb":"get","resource":"secrets"}}}'
expect_eq "$(sar "$ALICE" "$ssar" /apis/authorization.k8s.io/v1/selfsubjectaccessreviews)" 201 "self review"
expect_eq "$(jq -r .status.allowed "$T/body")" false "alice may not get secrets"
expect_eq "$(sar "$ALICE" '{"kind":"SubjectAccessReview","spec":{}}' /apis/authorization.k8s.io/v1/selfsubjectaccessreviews)" 400 "wrong kind"
# a SubjectAccessReview's subject fields in a SelfSubjectAccessReview are not part of its
# spec: dropped as kube-apiserver drops unknown fields (201, judged for the caller, not
# echoed), never judged; before, "user" was a 400 and "groups" was echoed
ssar='{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"user":"admin","groups":["system:masters"],"uid":"0","extra":{"oid":["x"]},"resourceAttributes":{"namespace":"default","verb":"get","resource":"secrets"}}}'
expect_eq "$(sar "$ALICE" "$ssar" /apis/authorization.k8s.io/v1/selfsubjectaccessreviews)" 201 "self review with a subject"
expect_eq "$(jq -c '[.status.allowed, .spec]' "$T/body")" \
  '[false,{"resourceAttributes":{"namespace":"default","verb":"get","resource":"secrets"}}]' \
  "the subject fields are dropped: the caller's own answer"
ssar='{"kind":"SelfSubjectAccessReview","metadata":"x","spec":{"resourceAttributes":{"verb":"get","resource":"pods"}}}'
expect_eq "$(sar "$ALICE" "$ssar" /apis/authorization.k8s.io/v1/selfsubjectaccessreviews)" 400 "metadata not an object"
expect_eq "$(upstream_count)" "$n0" "self reviews never forwarded either"
# protobuf (kubectl 1.32) is answered here too; a body that is not protobuf is a 400
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $ALICE" \
  -H 'Content-Type: application/vnd.kubernetes.protobuf' --data-binary 'k8s\0x' \
  "http://127.0.0.1:$GW_PORT/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
expect_eq "$code" 400 "malformed protobuf review"
expect_eq "$(upstream_count)" "$n0" "not forwarded"
pass "SelfSubjectAccessReview (answered here in every encoding, never forwarded)"

# 8. raw HTTP: a chunked review, then a pipelined review and a forwarded request on the
# same connection, answered in order; the last asks to close
b1='{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"alice","resourceAttributes":{"namespace":"default","verb":"list","resource":"pods"}}}'
half=$(( ${#b1} / 2 ))
n0=$(upstream_count)
out=$( {
  printf 'POST %s HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' "$URL" "$KAS"
  printf '%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n' "$half" "${b1:0:half}" "$(( ${#b1} - half ))" "${b1:half}"
  printf 'POST %s HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' "$URL" "$KAS" "${#b1}" "$b1"
  printf 'GET /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n' "$ALICE"
} | raw "$GW_PORT")
statuses=$(grep -oE 'HTTP/1.1 [0-9]{3}' <<<"$out" | awk '{print $2}' | paste -sd,)
expect_eq "$statuses" "201,201,200" "two reviews, then the forwarded request, in order"
expect_eq "$(grep -o '"allowed":true' <<<"$out" | wc -l)" 2 "both allowed"
expect_eq "$(upstream_count)" "$((n0 + 1))" "only the GET was forwarded"
pass "chunked and pipelined reviews on one connection"
