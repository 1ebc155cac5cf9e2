#!/usr/bin/env bash
# End to end (issue 13): real kubectl 1.32 -> two authgate replicas (TLS, sharing nothing)
# -> the fake API server with its RBAC store; each replica lists and watches the cluster's
# RBAC. As admin (cluster-admin from each replica's local break-glass file), `kubectl apply`
# a RoleBinding through replica 1: alice's next request is allowed within 1 s on BOTH
# replicas; an update (apply again with bob added: a PATCH) through replica 2 lets bob in
# within 1 s on both; `kubectl delete` through replica 2 revokes both within 1 s on both. The binding
# really went through the gateway to the API server (kubectl's POST and DELETE recorded,
# impersonating admin) and nothing else gave alice the grant.
. "$(dirname "$0")/../e2e/lib.sh"

kubectl_recent || { echo "SKIP: needs kubectl 1.30 or later on PATH"; exit 0; }
kubectl_pin 1.32 # as t_kubectl_reviews.sh

e2e_start --bookmark-ms 500
cat >"$T/break-glass.json" <<'JSON'
{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
 "metadata": {"name": "break-glass-admin"},
 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
 "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "admin"}]}
JSON
AUTHZ="\"authorization\": {\"rbac\": {\"policies\": [\"$T/break-glass.json\"], \"cluster\": {}}}"
e2e_gateway "$AUTHZ"
GW1=$GW_PORT ADMIN1=$ADMIN_PORT
e2e_config "$T/gw2.json" "$AUTHZ"
start_gateway "$T/gw2.json" gw2
GW2=$GW_PORT ADMIN2=$ADMIN_PORT
for a in "$ADMIN1" "$ADMIN2"; do
    wait_until 15 "replica on admin port $a ready (rbac-sync)" \
        curl -sf -o /dev/null "http://127.0.0.1:$a/readyz"
done

ALICE_TOKEN=$(oidc_token alice "$AUD")
ADMIN_TOKEN=$(static_token admin ops)
for n in 1 2; do
    GW_PORT=$(eval echo "\$GW$n")
    kubeconfig "alice$n" "$ALICE_TOKEN"
    kubeconfig "admin$n" "$ADMIN_TOKEN"
done

# code PORT: what alice gets for a pod list in default from the replica on PORT
code() {
    curl -s -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.crt" -H "Authorization: Bearer $ALICE_TOKEN" \
        "https://127.0.0.1:$1/api/v1/namespaces/default/pods"
}
# both_within MS WANT: polls both replicas every 20 ms from now; prints "ms1 ms2", the time
# each first answered WANT; fails when one did not within MS.
both_within() {
    local limit=$1 want=$2 t0 now d1="" d2=""
    t0=$(date +%s%3N)
    while [ -z "$d1" ] || [ -z "$d2" ]; do
        now=$(date +%s%3N)
        [ -z "$d1" ] && [ "$(code "$GW1")" = "$want" ] && d1=$((now - t0))
        [ -z "$d2" ] && [ "$(code "$GW2")" = "$want" ] && d2=$((now - t0))
        [ $((now - t0)) -le "$limit" ] || fail "not $want on both replicas within $limit ms (replica 1: ${d1:-no}, replica 2: ${d2:-no})"
        sleep 0.02
    done
    echo "$d1 $d2"
}

out=$(kc alice1 get pods 2>&1) && fail "alice listed pods before any binding: $out"
expect_match "$out" 'User "alice" cannot list resource "pods"' "alice refused on replica 1"
out=$(kc alice2 get pods 2>&1) && fail "alice listed pods before any binding: $out"
pass "before: alice has no grant on either replica"

cat >"$T/rb.yaml" <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: alice-view
  namespace: default
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: view
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: alice
YAML
api_mark
out=$(kc admin1 apply --validate=false -f "$T/rb.yaml" 2>&1) || fail "kubectl apply: $out"
expect_eq "$out" "rolebinding.rbac.authorization.k8s.io/alice-view created" "kubectl apply output"
read -r d1 d2 < <(both_within 1000 200)
echo "# kubectl apply through replica 1 -> alice allowed: replica 1 after $d1 ms, replica 2 after $d2 ms"
post=$(api_new | jq -c 'select(.method == "POST" and (.target | startswith("/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings")))')
[ -n "$post" ] || fail "kubectl's create did not reach the API server"
expect_eq "$(jq -r '[.headers[] | select(.[0] | ascii_downcase == "impersonate-user") | .[1]] | join(",")' <<<"$post")" admin \
    "the create was forwarded as admin"
out=$(kc alice1 get pods 2>&1) || fail "alice get pods on replica 1: $out"
expect_match "$out" 'web-1' "alice lists pods through replica 1"
out=$(kc alice2 get pods 2>&1) || fail "alice get pods on replica 2: $out"
expect_match "$out" 'web-1' "alice lists pods through replica 2"
pass "kubectl apply of a RoleBinding through replica 1: in force on both replicas within 1 s"

# an update: kubectl apply of the same binding with bob added (GET + strategic-merge PATCH)
BOB_TOKEN=$(oidc_token bob "$AUD")
bob_code() {
    curl -s -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.crt" -H "Authorization: Bearer $BOB_TOKEN" \
        "https://127.0.0.1:$1/api/v1/namespaces/default/pods"
}
expect_eq "$(bob_code "$GW1")$(bob_code "$GW2")" 403403 "bob before the update"
sed 's/^  name: alice$/  name: alice\n- apiGroup: rbac.authorization.k8s.io\n  kind: User\n  name: bob/' "$T/rb.yaml" >"$T/rb2.yaml"
api_mark
out=$(kc admin2 apply --validate=false -f "$T/rb2.yaml" 2>&1) || fail "kubectl apply (update): $out"
expect_eq "$out" "rolebinding.rbac.authorization.k8s.io/alice-view configured" "kubectl apply (update) output"
[ -n "$(api_new | jq -c 'select(.method == "PATCH")')" ] || fail "kubectl's update was not a PATCH"
t0=$(date +%s%3N)
until [ "$(bob_code "$GW1")$(bob_code "$GW2")" = 200200 ]; do
    [ $(($(date +%s%3N) - t0)) -le 1000 ] || fail "bob not allowed on both replicas within 1 s of the update"
    sleep 0.02
done
echo "# kubectl apply (update, PATCH) through replica 2 -> bob allowed on both after $(($(date +%s%3N) - t0)) ms"
expect_eq "$(code "$GW1")$(code "$GW2")" 200200 "alice still allowed after the update"
pass "kubectl apply of a changed binding (PATCH, MODIFIED event): in force on both replicas within 1 s"

api_mark
out=$(kc admin2 delete rolebinding alice-view 2>&1) || fail "kubectl delete: $out"
expect_eq "$out" 'rolebinding.rbac.authorization.k8s.io "alice-view" deleted' "kubectl delete output"
read -r d1 d2 < <(both_within 1000 403)
expect_eq "$(bob_code "$GW1")$(bob_code "$GW2")" 403403 "bob refused too after the delete"
echo "# kubectl delete through replica 2 -> alice refused: replica 1 after $d1 ms, replica 2 after $d2 ms"
[ -n "$(api_new | jq -c 'select(.method == "DELETE" and (.target | test("/namespaces/default/rolebindings/alice-view([?]|$)")))')" ] ||
    fail "kubectl's delete did not reach the API server"
out=$(kc alice1 get pods 2>&1) && fail "alice still lists pods on replica 1: $out"
out=$(kc alice2 get pods 2>&1) && fail "alice still lists pods on replica 2: $out"
pass "kubectl delete through replica 2: revoked on both replicas within 1 s"

for a in "$ADMIN1" "$ADMIN2"; do
    n=$(curl -s "http://127.0.0.1:$a/metrics" | awk '$1 == "authgate_rbac_sync_event_to_effect_seconds_count" {print $2}')
    [ "${n:-0}" -ge 2 ] || fail "event-to-effect not observed on admin port $a ($n)"
done
e2e_assert_no_client_tokens
pass "two replicas, one API server: each follows the cluster's RBAC by its own watch"
