#!/usr/bin/env bash
# `authgate demo`: no files needed; a TLS gateway with a generated certificate in front of
# the built-in demo API server, which echoes the identity headers it received. Ctrl-C
# (SIGINT) drains and exits 0.
. "$(dirname "$0")/lib.sh"

"$AUTHGATE" demo --listen 127.0.0.1:0 >"$T/demo.out" 2>"$T/gw-demo.log" &
pid=$!
AG_PIDS+=($pid)
wait_for_file "$T/demo.out"
for i in $(seq 1 100); do grep -q 'Ctrl-C' "$T/demo.out" && break; sleep 0.05; done
ca=$(sed -n 's/.*its certificate: *//p' "$T/demo.out")
gw=$(sed -n 's#.*gateway (TLS, self-signed): *https://##p' "$T/demo.out")
[ -s "$ca" ] || fail "demo printed no certificate path"
expect_match "$(cat "$T/demo.out")" "curl --cacert $ca https://$gw/version" "next steps printed"

out=$(curl -sS --fail --cacert "$ca" "https://$gw/version")
expect_match "$out" '"gitVersion":"v1.30.0-authgate-demo"' "version"
out=$(curl -sS --fail --cacert "$ca" -H 'Impersonate-User: admin' "https://$gw/api/v1/namespaces/default/pods")
expect_match "$out" '"kind":"PodList"' "pods"
expect_match "$out" '"X-Forwarded-Proto":"https"' "identity echo"
expect_no_match "$out" 'Impersonate-User' "client impersonation stripped"
pass "demo answers through a verified TLS gateway and echoes the forwarded identity"

kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
expect_eq "$rc" "0" "demo exit status"
pass "demo stops cleanly on SIGINT"
