#!/usr/bin/env bash
# `authgate demo`: no files needed. A TLS gateway with a generated certificate, the built-in
# demo issuer, an RBAC policy (viewer@demo: view in default; admin@demo: cluster-admin) and
# the built-in demo API server; it prints a kubeconfig and tokens. Real kubectl with that
# kubeconfig sees an allowed and a forbidden request; Ctrl-C (SIGINT) drains, exits 0 and
# removes the files (they hold tokens and keys).
. "$(dirname "$0")/lib.sh"

"$AUTHGATE" demo --listen 127.0.0.1:0 >"$T/demo.out" 2>"$T/gw-demo.log" &
pid=$!
AG_PIDS+=($pid)
wait_for_file "$T/demo.out"
for _ in $(seq 1 100); do grep -q 'Ctrl-C' "$T/demo.out" && break; sleep 0.05; done
for _ in $(seq 1 100); do grep -q 'listening on' "$T/gw-demo.log" && break; sleep 0.05; done
banner=$(cat "$T/demo.out")
ca=$(sed -n 's/.*its certificate: *//p' <<<"$banner")
gw=$(sed -n 's#.*gateway (TLS, self-signed): *https://##p' <<<"$banner")
kc=$(sed -n 's/.*kubeconfig: *\([^ ]*\) .*/\1/p' <<<"$banner")
dir=$(dirname "$kc")
[ -s "$ca" ] || fail "demo printed no certificate path"
[ -s "$kc" ] || fail "demo printed no kubeconfig path: $banner"
expect_match "$banner" "export KUBECONFIG=$kc" "next steps printed"
viewer=$(sed -n 's/.*viewer@demo .*token: *//p' <<<"$banner")
admin=$(sed -n 's/.*admin@demo .*token: *//p' <<<"$banner")
expect_match "$viewer" '^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' "viewer token printed"
expect_eq "$viewer" "$(cat "$dir/viewer.token")" "printed token = token file"
expect_eq "$(stat -c %a "$dir")" 700 "private demo directory"

# curl with the printed tokens
out=$(curl -sS --fail --cacert "$ca" -H "Authorization: Bearer $viewer" "https://$gw/version")
expect_match "$out" '"gitVersion":"v1.30.0-authgate-demo"' "version"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ca" -H "Authorization: Bearer $viewer" \
    -H 'Impersonate-User: admin@demo' "https://$gw/api/v1/namespaces/default/pods")
expect_eq "$code" 403 "the viewer may not impersonate"
out=$(curl -sS --fail --cacert "$ca" -H "Authorization: Bearer $viewer" "https://$gw/api/v1/namespaces/default/pods")
expect_match "$out" '"kind":"PodList"' "pods"
expect_match "$out" '"Impersonate-User: viewer@demo"' "the demo API server saw the viewer"
expect_match "$out" '"Authorization: \(the gateway.s credential\)"' "and the gateway's credential"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ca" "https://$gw/api/v1/namespaces/default/pods")
expect_eq "$code" 401 "no token"
up=$(sed -n 's#.*demo API server behind it: *\(http://[0-9.:]*\).*#\1#p' <<<"$banner")
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $viewer" "$up/version")
expect_eq "$code" 401 "the demo API server refuses anyone but the gateway"
pass "demo: TLS gateway, demo issuer tokens, identity forwarded to the demo API server"

if kubectl_recent; then
    k() { kubectl --kubeconfig "$kc" --cache-dir "$T/kcache-$RANDOM" --request-timeout=10s "$@"; }
    out=$(k get pods 2>&1) || fail "viewer get pods: $out"
    expect_match "$out" 'demo-web +Running +viewer@demo \(groups: demo:viewers, system:authenticated\)' "viewer allowed"
    out=$(k get secrets 2>&1) && fail "viewer read secrets: $out"
    expect_eq "$out" 'Error from server (Forbidden): secrets is forbidden: User "viewer@demo" cannot list resource "secrets" in API group "" in the namespace "default"' "viewer forbidden"
    out=$(k --context admin get secrets 2>&1) || fail "admin get secrets: $out"
    expect_match "$out" 'demo-db-password +Opaque' "admin allowed"
    out=$(k --context admin get pods 2>&1) || fail "admin get pods: $out"
    expect_match "$out" 'admin@demo \(groups: demo:admins' "admin forwarded as admin@demo"
    pass "demo: kubectl with the printed kubeconfig: viewer allowed and forbidden, admin allowed"
else
    echo "SKIP: kubectl is not installed (kubectl part of the demo test)"
fi

kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
expect_eq "$rc" "0" "demo exit status"
[ ! -e "$dir" ] || fail "demo left its files behind: $(ls "$dir")"
pass "demo stops cleanly on SIGINT and removes its files"
