#!/usr/bin/env bash
# Real kubectl signs in through `authgate login` (issue 15): a kubeconfig written by
# `authgate kubeconfig` (TLS gateway, embedded CA, exec plugin), the device flow at the
# real OIDC provider driven by the person's HTTP requests, `kubectl get pods` through the
# gateway; then the cache (no new device flow), the refresh token after the (8 s) access
# token expired, a revoked refresh token -> a new device flow, kubectl without a terminal ->
# no device flow and a clear error, and 5 kubectl processes at once with an empty cache
# -> exactly one device flow, all five succeed.
# kubectl decides spec.interactive from its stdin: a "person at a terminal" is kubectl
# run under script(1), which gives it a pseudo-terminal.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/login_lib.sh"

kubectl_recent || { echo "SKIP: needs kubectl 1.30 or later on PATH"; exit 0; }
command -v script >/dev/null || { echo "SKIP: needs script(1) (util-linux)"; exit 0; }

OIDC_ARGS=(--device)
e2e_start
e2e_rbac_gateway <<<"$E2E_ALICE_VIEW"
ALICE=(alice developers oncall system:authenticated)
KC=$T/kube/config.json
CACHE=$T/cache

"$AUTHGATE" kubeconfig --server "https://127.0.0.1:$GW_PORT" --certificate-authority "$PKI/ca.crt" \
    --kubeconfig "$KC" --namespace default \
    --issuer-url "$OIDC_ISSUER" --client-id kubectl --audience "$AUD" --token-cache-dir "$CACHE" \
    2>"$T/kc.err.log" || fail "authgate kubeconfig: $(cat "$T/kc.err.log")"
expect_eq "$(jq -r '.users[0].user.exec | .apiVersion + " " + .interactiveMode + " " + (.provideClusterInfo|tostring)' "$KC")" \
    "client.authentication.k8s.io/v1 IfAvailable false" "exec plugin entry"

# kube_tty NAME ARGS...: kubectl at a terminal; stdout $T/NAME.out, stderr $T/NAME.err.log.
kube_tty() {
    local name=$1
    shift
    script -qefc "kubectl --kubeconfig '$KC' --cache-dir '$T/kcache' --request-timeout=20s $* \
        >'$T/$name.out' 2>'$T/$name.err.log'" /dev/null </dev/null >/dev/null
}
# kube_batch ARGS...: kubectl with no terminal (stdin not a tty: interactive false).
kube_batch() {
    kubectl --kubeconfig "$KC" --cache-dir "$T/kcache" --request-timeout=20s "$@" </dev/null
}
cached_token() { jq -r .access_token "$CACHE"/*.json; }
# wait_stale: sleeps until the cached access token is past the point where authgate
# hands it out (expires_at minus min(60 s, a quarter of its lifetime)).
wait_stale() {
    local until
    until=$(jq -r '.expires_at - ([60, ((.expires_at - .obtained_at) / 4 | floor)] | min)' "$CACHE"/*.json)
    while [ "$(date +%s)" -lt "$until" ]; do sleep 0.2; done
    sleep 0.2
}

# ---- first use: device flow through kubectl ------------------------------------------
api_mark
kube_tty k1 get pods &
pid=$!
sign_in "$T/k1.err.log" alice
wait "$pid" || fail "kubectl get pods: $(cat "$T/k1.out" "$T/k1.err.log")"
expect_match "$(cat "$T/k1.out")" 'web-1 +1/1 +Running' "pods listed"
expect_match "$(cat "$T/k1.err.log")" "To sign in, open $OIDC_ISSUER/device" "kubectl passed the sign-in message on"
e2e_assert_upstream "first get pods" "${ALICE[@]}"
expect_eq "$(login_device_count)" 1 "one device authorization"
cached_token >>"$T/client-tokens"
pass "kubectl -> authgate login (device flow, person at the IdP) -> gateway: get pods as alice"

# ---- second use: the cache --------------------------------------------------------------
out=$(kube_batch get pods 2>&1) || fail "second get pods: $out"
expect_match "$out" 'web-1' "pods listed again"
expect_eq "$(login_device_count)" 1 "no new device flow"
expect_eq "$(login_refresh_count)" 0 "no refresh either"
expect_eq "$(mode_of "$CACHE")" 700 "cache dir 0700"
expect_eq "$(mode_of "$CACHE"/*.json)" 600 "cache entry 0600"
pass "second kubectl served from the cache"

# ---- expiry: refresh --------------------------------------------------------------------
# Access tokens of 8 s from here (handed out for 6 s). kubectl itself runs the plugin again
# when a token expires during its run, so refreshes are counted from a baseline.
curl -sf -X POST "$OIDC_ISSUER/admin/access-ttl?seconds=8" >/dev/null
"$AUTHGATE" login --logout --token-cache-dir "$CACHE" 2>/dev/null
kube_tty k2 get pods &
pid=$!
sign_in "$T/k2.err.log" alice
wait "$pid" || fail "kubectl after logout: $(cat "$T/k2.err.log")"
expect_eq "$(login_device_count)" 2 "logout -> a new device flow"
wait_stale
old=$(cached_token)
r0=$(login_refresh_count)
out=$(kube_batch get pods 2>&1) || fail "get pods after expiry: $out"
expect_match "$out" 'web-1' "pods listed with the refreshed token"
[ "$(login_refresh_count)" -gt "$r0" ] || fail "the refresh token was not used"
expect_eq "$(login_device_count)" 2 "no device flow for a refresh"
[ "$(cached_token)" != "$old" ] || fail "the cache still holds the expired token"
cached_token >>"$T/client-tokens"
pass "expired access token -> refresh_token grant, no person needed"

# ---- revoked refresh token: a new device flow (interactive), a clear error (batch) -------
rt=$(jq -r .refresh_token "$CACHE"/*.json)
curl -sf -X POST "$OIDC_ISSUER/token/revocation" -d client_id=kubectl -d "token=$rt" \
    -d token_type_hint=refresh_token >/dev/null || fail "revocation"
wait_stale
if out=$(kube_batch get pods 2>&1); then fail "batch kubectl with a revoked refresh token: $out"; fi
expect_match "$out" 'refresh token was refused' "the refusal is reported"
expect_match "$out" 'sign-in is needed, but kubectl runs without a terminal' "no device flow without a terminal"
expect_eq "$(login_device_count)" 2 "no device flow started without a terminal"
kube_tty k3 get pods &
pid=$!
sign_in "$T/k3.err.log" alice
wait "$pid" || fail "kubectl after revocation: $(cat "$T/k3.err.log")"
expect_match "$(cat "$T/k3.out")" 'web-1' "pods listed after signing in again"
expect_eq "$(login_device_count)" 3 "revoked refresh token -> a new device flow"
pass "revoked refresh token: batch kubectl fails clearly, kubectl at a terminal signs in again"

# ---- 5 kubectl processes at once, empty cache: one device flow ----------------------------
curl -sf -X POST "$OIDC_ISSUER/admin/access-ttl?seconds=3600" >/dev/null
"$AUTHGATE" login --logout --token-cache-dir "$CACHE" 2>/dev/null
pids=()
for i in 1 2 3 4 5; do
    kube_tty "c$i" get pods &
    pids+=($!)
done
for ((n = 0; n < 200; n++)); do
    f=$(grep -l 'and enter the code' "$T"/c[1-5].err.log 2>/dev/null | head -1) && [ -n "$f" ] && break
    sleep 0.05
done
[ -n "${f:-}" ] || fail "none of the five kubectl printed a code"
sign_in "$f" alice
# Bounded: without the lock the other four would wait for their own codes until they expire.
for ((n = 0; n < 600; n++)); do
    running=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && running=$((running + 1)); done
    [ "$running" -eq 0 ] && break
    sleep 0.05
done
expect_eq "$(login_device_count)" 4 "exactly one device flow for five kubectl processes"
expect_eq "$(grep -l 'and enter the code' "$T"/c[1-5].err.log | wc -l)" 1 "one code shown"
[ "$running" -eq 0 ] || fail "$running kubectl still running 30 s after the sign-in"
for i in 1 2 3 4 5; do
    wait "${pids[$((i - 1))]}" || fail "kubectl c$i: $(cat "$T/c$i.err.log")"
    expect_match "$(cat "$T/c$i.out")" 'web-1' "kubectl c$i listed pods"
done
cached_token >>"$T/client-tokens"
e2e_assert_no_client_tokens
pass "5 concurrent kubectl, empty cache: one device flow (lock), all five succeed"
