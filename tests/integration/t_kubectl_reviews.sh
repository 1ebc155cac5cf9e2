#!/usr/bin/env bash
# Issue 14: kubectl's own questions answered by the gateway, with real kubectl (>= 1.30,
# which sends SelfSubjectAccessReview as protobuf): `auth can-i` (yes and no, with and
# without --as), `auth can-i --list`, `auth whoami`, in the rbac mode; every answer is
# compared with what the gateway enforces for the same request (the real request is made
# too), and the fake API server never sees a review.
. "$(dirname "$0")/../e2e/lib.sh"

. "$(dirname "$0")/reviews_lib.sh"

e2e_start
e2e_rbac_gateway <<JSON
$E2E_ALICE_VIEW,
  {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
   "metadata": {"name": "impersonate-bob"},
   "rules": [{"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"], "resourceNames": ["bob"]}]},
  {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
   "metadata": {"name": "alice-impersonates-bob"},
   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "impersonate-bob"},
   "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}]},
  {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
   "metadata": {"name": "pod-deleter", "namespace": "default"},
   "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"], "resourceNames": ["web-1"]}]},
  {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
   "metadata": {"name": "bob-deletes-web-1", "namespace": "default"},
   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-deleter"},
   "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}]},
  {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
   "metadata": {"name": "carol-admin", "namespace": "default"},
   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
   "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "carol"}]}
JSON
kubeconfig alice "$(oidc_token alice "$AUD")"
kubeconfig bob "$(oidc_token bob "$AUD")"
kubeconfig carol "$(static_token carol)"

# ---- kubectl auth can-i (protobuf) ----------------------------------------------------------
api_mark
expect_eq "$(same alice "get pods" "get pods")" yes "alice may list pods in default"
expect_eq "$(same alice "delete pods/web-1" "delete pod web-1 --dry-run=server")" no "alice may not delete"
expect_eq "$(same alice "get pods -n kube-system" "get pods -n kube-system")" no "not in kube-system"
expect_eq "$(same bob "delete pods/web-1" "delete pod web-1 --dry-run=server")" yes "bob may delete web-1"
expect_eq "$(same bob "get pods" "get pods")" no "bob may not list"
expect_eq "$(same alice "delete pods/web-1 --as bob" "delete pod web-1 --dry-run=server --as bob")" yes \
    "alice as bob: bob's rights"
expect_eq "$(same alice "get pods --as bob" "get pods --as bob")" no "alice as bob may not list"
out=$(kc alice auth can-i get pods -v=8 2>&1) || fail "can-i -v=8: $out"
kubectl_protobuf_answer "$out" selfsubjectaccessreviews
n=$(api_new | jq -s '[.[] | select(.target | test("accessreview|rulesreview|selfsubjectreview"))] | length')
expect_eq "$n" 0 "no review reached the API server"
transcript alice auth can-i get pods
transcript alice auth can-i delete pods/web-1
transcript alice auth can-i delete pods/web-1 --as bob
pass "kubectl auth can-i answered locally (protobuf), as the gateway enforces"

# ---- kubectl auth can-i --list ------------------------------------------------------------
api_mark
list_alice=$(kc alice auth can-i --list 2>&1) || fail "can-i --list: $list_alice"
echo "$list_alice" >"$T/list-alice.txt"
expect_match "$list_alice" '^Resources +Non-Resource URLs +Resource Names +Verbs' "table header"
expect_match "$list_alice" '^pods +\[\] +\[\] +\[get list watch\]' "view: pods"
expect_match "$list_alice" '^selfsubjectaccessreviews.authorization.k8s.io +\[\] +\[\] +\[create\]' "basic-user"
expect_match "$list_alice" '^ +\[/healthz\] +\[\] +\[get\]' "non-resource URLs"
expect_match "$list_alice" '^users +\[\] +\[bob\] +\[impersonate\]' "impersonate bob"
expect_no_match "$list_alice" 'pods +\[\] +\[web-1\] +\[delete\]' "not bob's rules"
list_ks=$(kc alice auth can-i --list -n kube-system 2>&1) || fail "$list_ks"
expect_no_match "$list_ks" '^pods +\[' "no pods in kube-system"
list_bob=$(kc alice auth can-i --list --as bob 2>&1) || fail "$list_bob"
expect_match "$list_bob" '^pods +\[\] +\[web-1\] +\[delete\]' "bob: delete web-1"
expect_no_match "$list_bob" '^pods +\[\] +\[\] +\[get' "bob: no list"
# what it lists is what the gateway enforces
expect_eq "$(enforced alice get pods)" yes "listed and allowed"
expect_eq "$(enforced alice get pods -n kube-system)" no "not listed, not allowed"
expect_eq "$(enforced alice delete pod web-1 --dry-run=server --as bob)" yes "listed for bob, allowed"
expect_eq "$(api_new | jq -s '[.[] | select(.target | test("rulesreview"))] | length')" 0 \
    "no SelfSubjectRulesReview reached the API server"
# authgate check --list: the same answer, printed the same way
expect_eq "$("$AUTHGATE" check --config "$T/gw.json" --as alice --as-group developers --as-group oncall --list)" \
    "$list_alice" "authgate check --list = kubectl auth can-i --list (alice)"
expect_eq "$("$AUTHGATE" check --config "$T/gw.json" --as bob --list)" "$list_bob" \
    "authgate check --list = kubectl auth can-i --list --as bob"
expect_eq "$("$AUTHGATE" check --config "$T/gw.json" --as alice --list -n kube-system --no-headers)" \
    "$(kc alice auth can-i --list -n kube-system --no-headers)" "--no-headers, -n"
transcript alice auth can-i --list --as bob
pass "kubectl auth can-i --list answered locally (RBAC rule resolver), with and without --as; authgate check --list prints the same"

# ---- kubectl auth whoami ------------------------------------------------------------------
api_mark
expect_eq "$(whoami alice)" "alice developers,oncall,system:authenticated" "whoami: alice"
expect_eq "$(whoami alice)" "$(upstream alice)" "whoami = the identity forwarded"
expect_eq "$(whoami alice --as bob)" "bob system:authenticated" "whoami --as bob"
out=$(kc bob auth whoami 2>&1) || fail "bob whoami: $out"
expect_match "$out" '^ATTRIBUTE +VALUE' "whoami table"
expect_match "$out" 'Username +bob' "whoami username row"
out=$(kc bob auth whoami -v=8 2>&1) || fail "$out"
kubectl_protobuf_answer "$out" selfsubjectreviews
expect_eq "$(api_new | jq -s '[.[] | select(.target | test("selfsubjectreviews"))] | length')" 0 \
    "no SelfSubjectReview reached the API server"
transcript alice auth whoami
transcript alice auth whoami --as bob
pass "kubectl auth whoami answered locally: the identity the gateway forwards"

# ---- malformed or unsupported bodies: a Status, never forwarded ---------------------------
ALICE_TOKEN=$(oidc_token alice "$AUD")
# post PATH CONTENT-TYPE BODY-FILE [ACCEPT]: the gateway's status; the body in $T/resp
post() {
    curl -s -o "$T/resp" -w '%{http_code}' --cacert "$PKI/ca.crt" -X POST \
        -H "Authorization: Bearer $ALICE_TOKEN" -H "Content-Type: $2" -H "Accept: ${4:-application/json}" \
        --data-binary "@$3" "https://127.0.0.1:$GW_PORT$1"
}
SSAR=/apis/authorization.k8s.io/v1/selfsubjectaccessreviews
api_mark
printf 'k8s\0\x12\x04\x12\x02\x08\x80' >"$T/trunc.pb"         # truncated varint in spec
printf 'k8s\0\x12\x02\x10\x01' >"$T/wire.pb"                   # spec as a varint
printf 'k8s\0\x12\x05\x12\x09\x0a\x01' >"$T/long.pb"           # length past the end
printf 'k8s\0\x0a\x06\x12\x04Node\x12\x00' >"$T/kind.pb"       # another kind
printf 'k8s\0\x0b' >"$T/group.pb"                              # a group (wire type 3)
printf '\x0a\x00' >"$T/nomagic.pb"                             # no k8s\0 prefix
for f in trunc wire long kind group nomagic; do
    expect_eq "$(post $SSAR application/vnd.kubernetes.protobuf "$T/$f.pb")" 400 "malformed protobuf ($f)"
    expect_eq "$(jq -r '.kind + " " + .reason' "$T/resp")" "Status BadRequest" "a Status ($f)"
done
printf 'kind: SelfSubjectAccessReview\n' >"$T/ssar.yaml"
expect_eq "$(post $SSAR application/yaml "$T/ssar.yaml")" 415 "YAML body"
expect_eq "$(jq -r .reason "$T/resp")" UnsupportedMediaType "415 Status"
echo '{"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","spec":{"nonResourceAttributes":{"path":"/healthz","verb":"get"}}}' >"$T/ssar.json"
expect_eq "$(post $SSAR application/json "$T/ssar.json" text/html)" 406 "nothing acceptable"
expect_eq "$(post $SSAR application/json "$T/ssar.json" 'application/vnd.kubernetes.protobuf, */*')" 201 "JSON in"
expect_eq "$(head -c 4 "$T/resp" | od -An -c | tr -d ' ')" 'k8s\0' "protobuf out"
echo '{"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","spec":{"nonResourceAttributes":{"path":"/healthz","verb":"get"},"futureField":{"a":1}}}' >"$T/unknown.json"
expect_eq "$(post $SSAR application/json "$T/unknown.json" application/vnd.kubernetes.protobuf)" 201 \
    "an unknown JSON field, answered in protobuf (dropped, as kube-apiserver drops it)"
expect_eq "$(post $SSAR application/json "$T/ssar.json")" 201 "JSON in, JSON out"
expect_eq "$(jq -r .status.allowed "$T/resp")" true "system:discovery-like /healthz for everyone"
echo '{"spec":{"nonResourceAttributes":{"path":"/healthz","verb":"get"}}}' >"$T/nokind.json"
expect_eq "$(post $SSAR application/json "$T/nokind.json")" 201 "kind and apiVersion default to the URL's"
expect_eq "$(jq -r '.kind + " " + .apiVersion' "$T/resp")" "SelfSubjectAccessReview authorization.k8s.io/v1" "defaulted"
sed 's|authorization.k8s.io/v1|authorization.k8s.io/v1beta1|' "$T/ssar.json" >"$T/beta-in-v1.json"
expect_eq "$(post $SSAR application/json "$T/beta-in-v1.json")" 400 "another apiVersion than the URL's"
expect_eq "$(api_new | wc -l)" 0 "nothing reached the API server"
pass "malformed protobuf, YAML and unacceptable Accept: 400/415/406 Status, nothing forwarded"

# ---- LocalSubjectAccessReview (JSON and protobuf) ---------------------------------------------
CAROL_TOKEN=$(static_token carol)
# lsar TOKEN NS BODY-FILE CONTENT-TYPE [ACCEPT]: status; the answer in $T/resp
lsar() {
    curl -s -o "$T/resp" -w '%{http_code}' --cacert "$PKI/ca.crt" -X POST \
        -H "Authorization: Bearer $1" -H "Content-Type: $4" -H "Accept: ${5:-application/json}" \
        --data-binary "@$3" "https://127.0.0.1:$GW_PORT/apis/authorization.k8s.io/v1/namespaces/$2/localsubjectaccessreviews"
}
lsar_body() { # lsar_body USER VERB NAME NS
    echo "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"LocalSubjectAccessReview\",\"spec\":{\"user\":\"$1\",\"resourceAttributes\":{\"namespace\":\"$4\",\"verb\":\"$2\",\"resource\":\"pods\",\"name\":\"$3\"}}}"
}
api_mark
lsar_body bob delete web-1 default >"$T/l1.json"
lsar_body alice delete web-1 default >"$T/l2.json"
lsar_body bob delete web-1 kube-system >"$T/l3.json"
expect_eq "$(lsar "$CAROL_TOKEN" default "$T/l1.json" application/json)" 201 "carol (admin in default) may ask"
expect_eq "$(jq -c '[.kind, .metadata.namespace, .status.allowed]' "$T/resp")" \
    '["LocalSubjectAccessReview","default",true]' "bob may delete web-1"
expect_eq "$(lsar "$CAROL_TOKEN" default "$T/l2.json" application/json)" 201 "alice"
expect_eq "$(jq -r .status.allowed "$T/resp")" false "alice may not"
expect_eq "$(lsar "$CAROL_TOKEN" default "$T/l3.json" application/json)" 422 "spec namespace must be the URL's"
expect_eq "$(jq -r .reason "$T/resp")" Invalid "422 Status"
for meta in '"x"' '{"namespace":7}' '[]'; do # not an ObjectMeta: 400 as kube-apiserver's decoder
    jq -c --argjson m "$meta" '.metadata = $m' "$T/l1.json" >"$T/lm.json"
    expect_eq "$(lsar "$CAROL_TOKEN" default "$T/lm.json" application/json)" 400 "metadata $meta"
    expect_eq "$(jq -r .reason "$T/resp")" BadRequest "metadata $meta: Status"
done
expect_eq "$(lsar "$ALICE_TOKEN" default "$T/l1.json" application/json)" 403 "alice (view) may not create the review"
expect_eq "$(lsar "$CAROL_TOKEN" kube-system "$T/l3.json" application/json)" 403 "carol is admin in default only"
# protobuf: the gateway's own protobuf answer is a valid request (it carries a status, which
# a create ignores)
expect_eq "$(lsar "$CAROL_TOKEN" default "$T/l1.json" application/json application/vnd.kubernetes.protobuf)" 201 "pb out"
cp "$T/resp" "$T/l1.pb"
expect_eq "$(head -c 4 "$T/l1.pb" | od -An -c | tr -d ' ')" 'k8s\0' "protobuf answer"
expect_eq "$(lsar "$CAROL_TOKEN" default "$T/l1.pb" application/vnd.kubernetes.protobuf)" 201 "pb in"
expect_eq "$(jq -c '[.kind, .status.allowed]' "$T/resp")" '["LocalSubjectAccessReview",true]' "pb request judged"
echo '{"apiVersion":"authorization.k8s.io/v1beta1","kind":"LocalSubjectAccessReview","spec":{"user":"dave","group":["developers"],"resourceAttributes":{"namespace":"default","verb":"get","resource":"pods"}}}' >"$T/beta.json"
code=$(curl -s -o "$T/resp" -w '%{http_code}' --cacert "$PKI/ca.crt" -X POST -H "Authorization: Bearer $CAROL_TOKEN" \
    -H 'Content-Type: application/json' --data-binary "@$T/beta.json" \
    "https://127.0.0.1:$GW_PORT/apis/authorization.k8s.io/v1beta1/namespaces/default/localsubjectaccessreviews")
expect_eq "$code" 201 "v1beta1"
expect_eq "$(jq -c '[.apiVersion, .spec.group, .status.allowed]' "$T/resp")" \
    '["authorization.k8s.io/v1beta1",["developers"],false]' "v1beta1 says group"
expect_eq "$(api_new | jq -s '[.[] | select(.target | test("localsubjectaccessreviews"))] | length')" 0 \
    "no LocalSubjectAccessReview reached the API server"
pass "LocalSubjectAccessReview: create authorized in the namespace first, judged locally, JSON and protobuf"

# ---- @kubernetes/client-node ---------------------------------------------------------------------
api_mark
out=$(cd "$AG_SOURCE_DIR/tests" && node e2e/client-node.mjs "$T/kc-carol" reviews) || fail "client-node: $out"
expect_eq "$(jq -c '[.list, .delete, .whoami, .local.allowed]' <<<"$out")" '[true,true,"carol",true]' \
    "client-node: carol (admin in default)"
expect_eq "$(jq -r '.rules | map(.verbs | join(",")) | join(" ")' <<<"$out" | grep -c 'delete')" 1 "rules"
out=$(cd "$AG_SOURCE_DIR/tests" && node e2e/client-node.mjs "$T/kc-alice" reviews) || fail "client-node: $out"
expect_eq "$(jq -c '[.list, .delete, .whoami, .local.code]' <<<"$out")" '[true,false,"alice",403]' \
    "client-node: alice (view)"
expect_eq "$(same alice "delete pods/web-1" "delete pod web-1 --dry-run=server")" no "as enforced"
expect_eq "$(api_new | jq -s '[.[] | select(.target | test("review"))] | length')" 0 \
    "no review reached the API server"
pass "@kubernetes/client-node: SelfSubjectAccessReview, SelfSubjectRulesReview, SelfSubjectReview, LocalSubjectAccessReview"
