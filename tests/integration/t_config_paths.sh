#!/usr/bin/env bash
# One rule for relative paths: every path-valued key (tls cert/key/client_ca, upstream
# token_file, issuer jwks_file, authorization policies, audit file, webhooks.tls files)
# resolves against the config file's directory, not the working directory. A config in
# a subdirectory that names its files relatively is started from two other working
# directories (/ and the parent, with a relative --config) and serves: TLS with the
# relative certificate, a token checked against the relative JWKS, the relative policy,
# the relative upstream token sent upstream, audit events in the relative file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/authz_lib.sh"

gen_certs
start_upstream
authz_keys
E=$T/etc/authgate
mkdir -p "$E/pki" "$E/policy" "$E/keys" "$E/secrets"
cp "$PKI/server.crt" "$PKI/server.key" "$PKI/ca.crt" "$E/pki/"
cp "$T/jwks.json" "$E/keys/"
echo "upstream-secret-token" >"$E/secrets/token"
cat >"$E/policy/alice.json" <<'JSON'
{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
 "metadata": {"name": "alice-view"},
 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
 "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}]}
JSON
cat >"$E/gw.json" <<JSON
{
  "listen": {"address": "127.0.0.1:0"},
  "tls": {"cert": "pki/server.crt", "key": "pki/server.key", "client_ca": "pki/ca.crt"},
  "upstream": {"url": "http://127.0.0.1:$UP_PORT", "token_file": "secrets/token"},
  "admin": {"address": "127.0.0.1:0"},
  "workers": 1,
  "authentication": {"issuers": [{"issuer": "https://idp.test", "audiences": ["authgate"],
      "keys": {"jwks_file": "keys/jwks.json"},
      "claims": {"username": "sub", "username_prefix": "-", "groups": "groups"}}]},
  "authorization": {"rbac": {"policies": ["policy"]}},
  "audit": {"file": "audit.log"}
}
JSON
ALICE=$(token alice)

# run_from DIR CONFIG: serve from working directory DIR, one authorized request over TLS
run_from() {
    (cd "$1" && exec "$AUTHGATE" serve --check --config "$2") >"$T/check.out" 2>&1 ||
        fail "serve --check from $1: $(cat "$T/check.out")"
    (cd "$1" && exec "$AUTHGATE" serve --config "$2") >"$T/gw-$3.log" 2>&1 &
    GW_PID=$!
    AG_PIDS+=($GW_PID)
    GW_LOG=$T/gw-$3.log
    wait_until 20 "the gateway started from $1" grep -q "listening on" "$GW_LOG"
    GW_PORT=$(sed -n 's/.*listening on [^ ]*:\([0-9]*\) .*/\1/p' "$GW_LOG" | head -1)
    code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.crt" \
        -H "Authorization: Bearer $ALICE" "https://127.0.0.1:$GW_PORT/api/v1/namespaces/default/pods")
    expect_eq "$code" 200 "authorized request through a gateway started from $1"
    expect_match "$(tail -1 "$UP_LOG")" '"Bearer upstream-secret-token"' "upstream token from secrets/token"
    wait_until 10 "audit events in $E/audit.log" grep -q '"user":{"username":"alice"' "$E/audit.log"
    kill "$GW_PID"
    wait "$GW_PID" 2>/dev/null || true
    rm -f "$E/audit.log"
}
run_from / "$E/gw.json" root
pass "started from /: relative tls, token_file, jwks_file, policies and audit file resolve against $E"
run_from "$T" etc/authgate/gw.json rel
pass "started from the parent with a relative --config: the same files"
[ ! -e "$T/audit.log" ] && [ ! -e /audit.log ] || fail "audit file written relative to the working directory"
pass "nothing resolved against the working directory"
