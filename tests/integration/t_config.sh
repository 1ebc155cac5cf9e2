#!/usr/bin/env bash
# Configuration: every config/examples/*.json loads (`serve --check`, run where the files
# it names exist), and every kind of mistake stops the start with
# "FILE:LINE:COL: path.to.key: message" and exit status 2, nothing listening.
. "$(dirname "$0")/lib.sh"

# Examples name their files relative to their own directory (certs/..., ../policies/...:
# config/README.md's one rule for relative paths): each is copied next to real
# certificates and keys (--check loads them) and checked from another working directory.
gen_certs
mkdir -p "$T/ex/certs"
cp "$PKI/server.crt" "$PKI/server.key" "$T/ex/certs/"
cp "$PKI/ca.crt" "$T/ex/certs/client-ca.crt"
cp "$PKI/ca.crt" "$T/ex/certs/apiserver-ca.crt"
cp "$PKI/client.crt" "$T/ex/certs/gateway-client.crt"
cp "$PKI/client.key" "$T/ex/certs/gateway-client.key"
echo "example-token" >"$T/ex/certs/gateway.token"
# in-cluster.json: the pod's environment and service-account mount (config/README.md).
mkdir -p "$T/ex/sa"
echo "example-sa-token" >"$T/ex/sa/token"
cp "$PKI/ca.crt" "$T/ex/sa/ca.crt"
n=0
cp -r "$AG_SOURCE_DIR/config/policies" "$T/policies"
for ex in "$AG_SOURCE_DIR"/config/examples/*.json; do
    cp "$ex" "$T/ex/"
    out=$(cd / && KUBERNETES_SERVICE_HOST=10.96.0.1 KUBERNETES_SERVICE_PORT=443 \
        AUTHGATE_SERVICEACCOUNT_DIR="$T/ex/sa" "$AUTHGATE" serve --config "$T/ex/$(basename "$ex")" \
        --check 2>&1) ||
        fail "$(basename "$ex"): $out"
    # an example is a working starting point: one that refuses every request (or opens the
    # proxy) is not what a user copying it expects
    [[ "$out" != *"every request is refused"* && "$out" != *insecure_passthrough\"*true* ]] ||
        fail "$(basename "$ex") refuses every request or forwards without authentication: $out"
    n=$((n + 1))
done
[ "$n" -ge 2 ] || fail "expected examples in config/examples"
pass "$n example configuration(s) load"

# check_error NAME EXPECTED-MESSAGE <<JSON: the exact first line printed, exit 2.
check_error() {
    local f=$T/$1.json out rc=0
    cat >"$f"
    out=$("$AUTHGATE" serve --config "$f" 2>&1) || rc=$?
    expect_eq "$rc" "2" "$1: exit status"
    local line
    line=$(head -1 <<<"$out")
    expect_eq "${line:0:$((${#f} + ${#2} + 1))}" "$f:$2" "$1: message"
    pass "$1: $2"
}

check_error unknown_key '3:3: (top level): unknown key "upstrem"' <<'JSON'
{
  "listen": {"address": "127.0.0.1:0"},
  "upstrem": {"url": "http://127.0.0.1:1"}
}
JSON
check_error missing_required '1:1: upstream: required field is missing' <<'JSON'
{
  "listen": {"address": "127.0.0.1:0"}
}
JSON
check_error wrong_type '4:14: workers: must be an integer (0 = one per core)' <<'JSON'
{
  "listen": {"address": "127.0.0.1:0"},
  "upstream": {"url": "http://127.0.0.1:1"},
  "workers": "two"
}
JSON
check_error out_of_range '5:21: limits.header_count: must be between 8 and 1000' <<'JSON'
{
  "listen": {"address": "127.0.0.1:0"},
  "upstream": {"url": "http://127.0.0.1:1"},
  "limits": {
    "header_count": 5
  }
}
JSON
check_error nested_unknown '3:45: upstream: unknown key "pool"' <<'JSON'
{
  "listen": {"address": "127.0.0.1:0"},
  "upstream": {"url": "http://127.0.0.1:1", "pool": 3}
}
JSON
check_error bad_url '3:23: upstream.url: must start with http:// or https://' <<'JSON'
{
  "listen": {"address": "127.0.0.1:0"},
  "upstream": {"url": "ftp://127.0.0.1:1"}
}
JSON
check_error bad_address '2:25: listen.address: must be "HOST:PORT" (IPv6 as "[ADDR]:PORT")' <<'JSON'
{
  "listen": {"address": "localhost"},
  "upstream": {"url": "http://127.0.0.1:1"}
}
JSON
check_error missing_file '3:19: tls.cert: cannot read file "/nonexistent/server.crt"' <<'JSON'
{
  "listen": {"address": "127.0.0.1:0"},
  "tls": {"cert": "/nonexistent/server.crt", "key": "/nonexistent/server.key"},
  "upstream": {"url": "http://127.0.0.1:1"}
}
JSON
check_error bad_duration '4:24: timeouts.idle: must be a duration like "250ms", "30s", "5m" or "1h"' <<'JSON'
{
  "listen": {"address": "127.0.0.1:0"},
  "upstream": {"url": "http://127.0.0.1:1"},
  "timeouts": {"idle": "forever"}
}
JSON
check_error bad_enum '3:20: log.level: must be one of "error", "warn", "info", "debug"' <<'JSON'
{
  "listen": {"address": "127.0.0.1:0"},
  "log": {"level": "verbose"},
  "upstream": {"url": "http://127.0.0.1:1"}
}
JSON
# --check loads the TLS material: a certificate file that is not PEM is an error (exit 2).
echo "not a certificate" >"$T/ex/certs/server.crt"
rc=0
out=$("$AUTHGATE" serve --config "$T/ex/production.json" --check 2>&1) || rc=$?
expect_eq "$rc" "2" "--check with a broken certificate"
expect_match "$out" "production.json: tls: loading certificate $T/ex/certs/server.crt" "--check names the file"
pass "--check loads certificates and keys"

check_error syntax '3:3: ' <<'JSON'
{
  "listen": {"address": "127.0.0.1:0"},
  ,
}
JSON

# A policy directory that does not exist: FILE:LINE:COL names the key and the path.
check_error missing_policy_dir '4:48: authorization.rbac.policies[1]: no such file or directory' <<'JSON'
{
  "listen": {"address": "127.0.0.1:0"},
  "upstream": {"url": "http://127.0.0.1:1"},
  "authorization": {"rbac": {"policies": [".", "no-such-dir/"]}}
}
JSON
expect_match "$("$AUTHGATE" serve --config "$T/missing_policy_dir.json" 2>&1)" \
    "no such file or directory \"$T/no-such-dir/\"" "the resolved path"

# A configuration file that does not exist: "no such file" with the path, exit 2.
for cmd in "serve --config" "serve --check --config"; do
    rc=0
    out=$("$AUTHGATE" $cmd "$T/nowhere/gw.json" 2>&1) || rc=$?
    expect_eq "$rc" 2 "$cmd of a missing file: exit status"
    expect_match "$out" "$T/nowhere/gw.json: no such file" "$cmd of a missing file: message"
done
pass "a missing configuration file: no such file, with its path"
