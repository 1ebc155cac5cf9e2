#!/usr/bin/env bash
# Issue 14: kubectl's own questions answered by the gateway, with real kubectl (>= 1.30,
# which sends SelfSubjectAccessReview as protobuf): `auth can-i` (yes and no, with and
# without --as), `auth can-i --list`, `auth whoami`, in the rbac mode; every answer is
# compared with what the gateway enforces for the same request (the real request is made
# too), and the fake API server never sees a review.
. "$(dirname "$0")/../e2e/lib.sh"

kubectl_recent || { echo "SKIP: needs kubectl 1.30 or later on PATH"; exit 0; }
# The Cloud SDK's kubectl is a dispatcher that runs the release matching the server's
# version (the fake API server says 1.30, whose kubectl sends JSON reviews): pin 1.32, the
# release this test is about (it sends SelfSubjectAccessReview as protobuf), when present.
KC_DIR=$(dirname "$(readlink -f "$(command -v kubectl)")")
if [ -x "$KC_DIR/kubectl.1.32" ]; then
    mkdir -p "$T/bin" && ln -s "$KC_DIR/kubectl.1.32" "$T/bin/kubectl" && PATH=$T/bin:$PATH
fi
echo "# $(kubectl version --client 2>/dev/null | head -n 1)"

e2e_start
cat >"$T/policy.json" <<'JSON'
{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
   "metadata": {"name": "alice-view", "namespace": "default"},
   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
   "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}]},
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
   "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}]}
]}
JSON
e2e_gateway "\"authorization\": {\"mode\": \"rbac\", \"rbac\": {\"policies\": [\"$T/policy.json\"]},
                \"impersonation\": \"authorize\"}"
kubeconfig alice "$(oidc_token alice "$AUD")"
kubeconfig bob "$(oidc_token bob "$AUD")"

# can_i WHO ARGS...: kubectl auth can-i's answer (yes/no), exit status checked against it
can_i() {
    local who=$1 out rc=0
    shift
    out=$(kc "$who" auth can-i "$@" 2>"$T/cani.err") || rc=$?
    case "$out/$rc" in
    yes/0 | no/1) echo "$out" ;;
    *) fail "kubectl auth can-i $* as $who: '$out' rc $rc: $(cat "$T/cani.err")" ;;
    esac
}
# enforced WHO ARGS...: what the gateway does for the real request (yes: forwarded, which
# the read-only fake API server answers 405 for writes; no: the gateway's 403)
enforced() {
    local who=$1 out
    shift
    if out=$(kc "$who" "$@" 2>&1); then echo yes
    elif grep -q 'the fake API server is read-only' <<<"$out"; then echo yes
    else
        grep -q '(Forbidden)' <<<"$out" || fail "kubectl $* as $who: $out"
        echo no
    fi
}
same() { # same WHO "CAN-I ARGS" "REAL ARGS": can-i answers what the gateway enforces
    local a b
    a=$(can_i "$1" $2)
    b=$(enforced "$1" $3)
    expect_eq "$a" "$b" "can-i $2 as $1 vs the real request $3"
    echo "$a"
}

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
if [[ "$(kubectl version --client 2>/dev/null)" == *v1.3[2-9]* ]]; then
    sect=$(sed -n '/POST .*selfsubjectaccessreviews/,/Response Body/p' <<<"$out")
    expect_match "$(sed -n '/Request Headers/,/Response Status/p' <<<"$sect")" \
        'Content-Type: application/vnd.kubernetes.protobuf' "kubectl sent protobuf"
    expect_match "$(sed -n '/Response Headers/,$p' <<<"$sect")" \
        'Content-Type: application/vnd.kubernetes.protobuf' "and got protobuf back"
fi
n=$(api_new | jq -s '[.[] | select(.target | test("accessreview|rulesreview|selfsubjectreview"))] | length')
expect_eq "$n" 0 "no review reached the API server"
pass "kubectl auth can-i answered locally (protobuf), as the gateway enforces"

# ---- kubectl auth whoami ------------------------------------------------------------------
# whoami WHO [ARGS]: "user group,group,..." from kubectl's JSON; upstream WHO ARGS: the same
# from the Impersonate-* headers the API server got for a real `get pods`
whoami() {
    local who=$1
    shift
    kc "$who" auth whoami -o json "$@" 2>&1 |
        jq -r '.status.userInfo | .username + " " + (.groups | sort | join(","))' ||
        fail "whoami as $who $*"
}
upstream() {
    local who=$1
    shift
    api_mark
    kc "$who" get pods "$@" >/dev/null 2>&1 || true
    api_new | jq -r 'def hv(n): [.headers[] | select(.[0] | ascii_downcase == n) | .[1]];
        select(.target | test("/pods")) | hv("impersonate-user")[0] + " " +
        (hv("impersonate-group") | sort | join(","))' | tail -n 1
}
api_mark
expect_eq "$(whoami alice)" "alice developers,oncall,system:authenticated" "whoami: alice"
expect_eq "$(whoami alice)" "$(upstream alice)" "whoami = the identity forwarded"
expect_eq "$(whoami alice --as bob)" "bob system:authenticated" "whoami --as bob"
out=$(kc bob auth whoami 2>&1) || fail "bob whoami: $out"
expect_match "$out" '^ATTRIBUTE +VALUE' "whoami table"
expect_match "$out" 'Username +bob' "whoami username row"
out=$(kc bob auth whoami -v=8 2>&1) || fail "$out"
if [[ "$(kubectl version --client 2>/dev/null)" == *v1.3[2-9]* ]]; then
    expect_match "$(sed -n '/POST .*selfsubjectreviews/,/Response Body/p' <<<"$out" | sed -n '/Response Headers/,$p')" \
        'Content-Type: application/vnd.kubernetes.protobuf' "whoami answered in protobuf"
fi
expect_eq "$(api_new | jq -s '[.[] | select(.target | test("selfsubjectreviews"))] | length')" 0 \
    "no SelfSubjectReview reached the API server"
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
expect_eq "$(post $SSAR application/json "$T/ssar.json")" 201 "JSON in, JSON out"
expect_eq "$(jq -r .status.allowed "$T/resp")" true "system:discovery-like /healthz for everyone"
expect_eq "$(api_new | wc -l)" 0 "nothing reached the API server"
pass "malformed protobuf, YAML and unacceptable Accept: 400/415/406 Status, nothing forwarded"
