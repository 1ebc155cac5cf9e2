#!/usr/bin/env bash
# `authgate login` by itself (issue 15): the device authorization grant (RFC 8628) against
# the real OIDC provider, the ExecCredential on stdout only, the token accepted by the
# gateway, the second call from the cache (modes 0700/0600), a person who declines at the
# provider (access_denied: exit 4), and the arguments `authgate kubeconfig` writes.
. "$(dirname "$0")/oidc_lib.sh"
. "$(dirname "$0")/login_lib.sh"
AUD=https://authgate.test

start_upstream
oidc_start --device
oidc_config "$T/gw.json"
start_gateway "$T/gw.json"
wait_ready
CACHE=$T/cache/authgate

# ---- first sign-in: device flow ----------------------------------------------------
KUBERNETES_EXEC_INFO=$EXEC_V1 login --token-cache-dir "$CACHE" >"$T/l1.out" 2>"$T/l1.err.log" &
pid=$!
sign_in "$T/l1.err.log" alice
wait "$pid" || fail "login exited $?: $(cat "$T/l1.err.log")"
expect_eq "$(jq -r '.apiVersion + " " + .kind' "$T/l1.out")" \
    "client.authentication.k8s.io/v1 ExecCredential" "ExecCredential on stdout"
expect_eq "$(wc -l <"$T/l1.out")" 1 "stdout is the one JSON object"
expect_match "$(jq -r .status.expirationTimestamp "$T/l1.out")" \
    '^20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z$' "RFC 3339 expiry"
expect_match "$(cat "$T/l1.err.log")" "To sign in, open $OIDC_ISSUER/device and enter the code" \
    "the person is told where to go, on stderr"
TOKEN=$(jq -r .status.token "$T/l1.out")
expect_eq "$(get /api/v1/namespaces/default/pods "$TOKEN")" 200 "the gateway accepts the token"
expect_eq "$(login_device_count)" 1 "one device authorization"
expect_eq "$(mode_of "$CACHE")" 700 "cache directory mode after the sign-in"
pass "device flow: ExecCredential v1 on stdout, messages on stderr, token accepted"

# ---- cache: reuse, permissions --------------------------------------------------------
out=$(KUBERNETES_EXEC_INFO=$EXEC_V1_BATCH login --token-cache-dir "$CACHE" 2>"$T/l2.err.log") ||
    fail "cached login: $(cat "$T/l2.err.log")"
expect_eq "$(jq -r .status.token <<<"$out")" "$TOKEN" "the cached token is handed out"
expect_eq "$(login_device_count)" 1 "no second device flow"
expect_eq "$(mode_of "$CACHE")" 700 "cache directory mode"
entry=$(ls "$CACHE"/*.json)
expect_eq "$(mode_of "$entry")" 600 "cache entry mode"
expect_eq "$(ls "$CACHE" | grep -c tmp || true)" 0 "no temporary file left"
pass "second call served from the cache (0700 dir, 0600 entry)"

# ---- the person declines at the provider: access_denied -------------------------------------
RC=0
KUBERNETES_EXEC_INFO=$EXEC_V1 login --token-cache-dir "$T/deny-cache" >"$T/d.out" 2>"$T/d.err.log" &
pid=$!
sign_in "$T/d.err.log" alice --deny
wait "$pid" || RC=$?
expect_eq "$RC" 4 "declined sign-in exit status"
expect_match "$(cat "$T/d.err.log")" "sign-in was declined \(access_denied\)" "declined message"
expect_eq "$(cat "$T/d.out")" "" "nothing on stdout"
pass "the person aborts at the provider: exit 4, no token"

# ---- authgate kubeconfig: arguments as kubectl will run them ---------------------------------
out=$(cd "$T" && "$AUTHGATE" kubeconfig --server https://127.0.0.1:1 --kubeconfig - \
    --issuer-url "$OIDC_ISSUER" --client-id kubectl --token-cache-dir rel/cache \
    --idp-certificate-authority ca.pem --name gw 2>&1) || fail "kubeconfig to stdout: $out"
expect_eq "$(jq -c '.users[0].user.exec.args' <<<"$out")" \
    "[\"login\",\"--issuer-url\",\"$OIDC_ISSUER\",\"--client-id\",\"kubectl\",\"--token-cache-dir\",\"$T/rel/cache\",\"--idp-certificate-authority\",\"$T/ca.pem\"]" \
    "login arguments passed through, relative paths made absolute"
expect_eq "$(jq -r '."current-context" + " " + .contexts[0].context.user' <<<"$out")" "gw gw" "context"
if out=$("$AUTHGATE" kubeconfig --server http://127.0.0.1:1 --kubeconfig - --issuer-url "$OIDC_ISSUER" \
    --client-id kubectl 2>&1); then fail "http: --server accepted"; fi
expect_match "$out" "must be an https:// URL" "http: server refused"
if out=$("$AUTHGATE" kubeconfig --server https://x --kubeconfig - --issuer-url "$OIDC_ISSUER" 2>&1); then
    fail "kubeconfig without --client-id accepted"
fi
expect_match "$out" "client-id is required" "login's own checks apply"
echo 'clusters: {broken: 1}' >"$T/bad.yaml"
if out=$("$AUTHGATE" kubeconfig --server https://x --kubeconfig "$T/bad.yaml" --issuer-url "$OIDC_ISSUER" \
    --client-id k 2>&1); then fail "merged into a non-kubeconfig"; fi
expect_match "$out" "KUBECONFIG=" "refusal suggests a separate file"
expect_eq "$(cat "$T/bad.yaml")" 'clusters: {broken: 1}' "the file is left alone"
pass "authgate kubeconfig: login args checked and passed, relative paths absolute, https only, bad files untouched"
