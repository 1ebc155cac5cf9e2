#!/usr/bin/env bash
# The gateway's own upstream credential follows its token file (proxy/http/credential.c) in front
# of the fake API server (tests/fixtures/apiserver.mjs, which refuses anything but exactly
# its current token and re-reads its own token file when it changes):
#  - both sides rotate (new file + rename; the API server keeps accepting the previous token
#    for a grace period, as a real one does until the old token expires): no request fails
#    in a bounded loop across the rotation and the new token is in use within 3 s;
#  - an invalid new file (empty, two words) keeps the old token working, with a WARN and
#    the reload-error counter; SIGHUP reloads at once;
#  - in-cluster mode: KUBERNETES_SERVICE_HOST/_PORT and AUTHGATE_SERVICEACCOUNT_DIR (token +
#    ca.crt), the API server's certificate naming only kubernetes.default.svc, its token
#    rotated by a kubelet-style symlink swap; start-up errors for a missing environment
#    and for in_cluster next to url.
. "$(dirname "$0")/oidc_lib.sh" # get, metric (no OIDC provider is started)

gen_certs

# start_api NAME TOKEN_FILE CERT KEY: a fake API server; sets API_PORT and API_LOG.
start_api() {
    API_LOG=$T/$1.jsonl
    : >"$API_LOG"
    (cd "$AG_SOURCE_DIR/tests" && exec node fixtures/apiserver.mjs --cert "$3" --key "$4" \
        --token-file "$2" --log "$API_LOG" --port-file "$T/$1.port" --previous-grace 5000) \
        >"$T/$1.out" 2>&1 &
    AG_PIDS+=($!)
    wait_for_file "$T/$1.port" 200
    API_PORT=$(cat "$T/$1.port")
}

# rotate FILE TOKEN: writes a new file and renames it over FILE (atomic replace).
rotate() {
    printf '%s\n' "$2" >"$1.new"
    mv -f "$1.new" "$1"
}

now_ms() { date +%s%3N; }

# first_use LOG TOKEN -> ms timestamp of the first recorded request carrying TOKEN
first_use() {
    python3 - "$1" "$2" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if ["Authorization", "Bearer " + sys.argv[2]] in r["headers"]:
        print(r["t"]); break
else:
    print(-1)
PY
}

# last_use LOG TOKEN -> ms timestamp of the last recorded request carrying TOKEN (-1: none)
last_use() {
    python3 - "$1" "$2" <<'PY'
import json, sys
t = -1
for line in open(sys.argv[1]):
    r = json.loads(line)
    if ["Authorization", "Bearer " + sys.argv[2]] in r["headers"]:
        t = r["t"]
print(t)
PY
}

# last_token LOG -> the bearer token of the last recorded request
last_token() {
    tail -1 "$1" | python3 -c 'import json,sys; r=json.load(sys.stdin); print([v for k,v in r["headers"] if k=="Authorization"][0][7:])'
}

# loop_requests N ROTATE_AT CMD...: N requests 50 ms apart, running CMD before request
# ROTATE_AT (its time in ms into $T/rotated_ms); prints the status codes that were not
# 200 (nothing when all succeeded).
loop_requests() {
    local n=$1 at=$2 i code bad=""
    shift 2
    for ((i = 0; i < n; i++)); do
        [ "$i" = "$at" ] && { now_ms >"$T/rotated_ms"; "$@"; }
        code=$(get /api/v1/namespaces)
        [ "$code" = 200 ] || bad="$bad $i:$code"
        sleep 0.05
    done
    echo "$bad"
}

# ---- token file rotation on both sides ---------------------------------------------------
rotate "$T/api.token" tok-A
rotate "$T/gw.token" tok-A
start_api api "$T/api.token" "$PKI/server.crt" "$PKI/server.key"
cat >"$T/gw.json" <<JSON
{
  "listen": {"address": "127.0.0.1:0"},
  "insecure_passthrough": true,
  "upstream": {"url": "https://127.0.0.1:$API_PORT", "ca": "$PKI/ca.crt",
               "server_name": "localhost", "token_file": "$T/gw.token"},
  "admin": {"address": "127.0.0.1:0"},
  "workers": 2
}
JSON
start_gateway "$T/gw.json"
wait_ready
expect_eq "$(get /api/v1/namespaces)" 200 "request with the first token"
expect_eq "$(last_token "$API_LOG")" tok-A "first token upstream"

both_to_B() {
    rotate "$T/api.token" tok-B
    rotate "$T/gw.token" tok-B
}
bad=$(loop_requests 80 10 both_to_B)
expect_eq "$bad" "" "requests that failed across the rotation"
# Within one poll (2 s) plus slack, no request reaches the API server with the old token any
# more (judged by the old token's last use, so a loaded machine that sends the loop's
# requests further apart cannot make a prompt switch look slow).
first=$(first_use "$API_LOG" tok-B)
[ "$first" -gt 0 ] || fail "the new token never reached the API server"
lag=$(($(last_use "$API_LOG" tok-A) - $(cat "$T/rotated_ms")))
[ "$lag" -le 3000 ] || fail "old token still used ${lag} ms after the rotation"
expect_eq "$(last_token "$API_LOG")" tok-B "token of the last request"
expect_eq "$(metric authgate_upstream_credential_reloads_total)" 1 "reloads counted"
pass "rotation on both sides: 80 requests all 200, old token last used ${lag} ms after it"

# Past the API server's grace period only tok-B is accepted: still 200.
sleep 5.2
expect_eq "$(get /api/v1/namespaces)" 200 "request after the old token expired"
# And the API server really refuses the old token now (the check is not vacuous).
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.crt" \
    -H 'Authorization: Bearer tok-A' "https://localhost:$API_PORT/api/v1/namespaces")" 401 \
    "old token at the API server"
pass "after the grace period the gateway keeps succeeding with the new token only"

# ---- an invalid new file keeps the old token ---------------------------------------------
reload_errors() {
    local v
    v=$(metric authgate_upstream_credential_reload_errors_total)
    [ "${v:-0}" -ge "$1" ]
}
rotate "$T/gw.token" ""
wait_until 10 "the empty token file to be noticed" reload_errors 1
expect_eq "$(get /api/v1/namespaces)" 200 "request after an empty token file"
rotate "$T/gw.token" "two words"
wait_until 10 "the invalid token file to be noticed" reload_errors 2
expect_eq "$(get /api/v1/namespaces)" 200 "request after an invalid token file"
expect_eq "$(last_token "$API_LOG")" tok-B "old token kept upstream"
expect_eq "$(metric authgate_upstream_credential_reload_errors_total)" 2 "reload errors counted"
expect_eq "$(metric authgate_upstream_credential_reloads_total)" 1 "no reload counted"
expect_match "$(cat "$GW_LOG")" 'WARN upstream credential: cannot reload' "WARN logged"
expect_no_match "$(cat "$GW_LOG")" 'tok-[AB]|two words' "tokens never logged"
pass "an empty or invalid new token file keeps the old token (WARN, reload_errors_total)"

# ---- SIGHUP reloads at once --------------------------------------------------------------
rotate "$T/api.token" tok-C
rotate "$T/gw.token" tok-C
hup_done() { [ "$(grep -c 'new token from' "$GW_LOG")" -ge "$1" ]; }
reloads=$(grep -c 'new token from' "$GW_LOG" || true)
kill -HUP "$GW_PID"
wait_until 10 "the SIGHUP reload" hup_done $((reloads + 1))
expect_eq "$(get /api/v1/namespaces)" 200 "request after SIGHUP"
expect_eq "$(last_token "$API_LOG")" tok-C "new token right after SIGHUP"
expect_match "$(grep -A1 'SIGHUP' "$GW_LOG" | tail -1)" 'new token from' "reload done by the hook"
pass "SIGHUP takes the new token into use at once"

# ---- in-cluster --------------------------------------------------------------------------
# The API server's certificate names only kubernetes.default.svc (no IP SAN).
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=kube-apiserver" \
    -keyout "$PKI/kube.key" -out "$PKI/kube.csr" 2>/dev/null
printf 'subjectAltName=DNS:kubernetes.default.svc,DNS:kubernetes\nextendedKeyUsage=serverAuth\n' \
    >"$PKI/kube.ext"
openssl x509 -req -in "$PKI/kube.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 2 -extfile "$PKI/kube.ext" -out "$PKI/kube.crt" 2>/dev/null
# kubelet's layout: token -> ..data/token, ..data -> ..v1 (swapped by renaming a new link).
SA=$T/sa
mkdir -p "$SA/..v1"
printf 'sa-tok-1' >"$SA/..v1/token"
cp "$PKI/ca.crt" "$SA/..v1/ca.crt"
ln -s ..v1 "$SA/..data"
ln -s ..data/token "$SA/token"
ln -s ..data/ca.crt "$SA/ca.crt"
start_api kube "$SA/token" "$PKI/kube.crt" "$PKI/kube.key"
cat >"$T/ic.json" <<JSON
{
  "listen": {"address": "127.0.0.1:0"},
  "upstream": {"in_cluster": true},
  "admin": {"address": "127.0.0.1:0"},
  "workers": 2,
  "insecure_passthrough": true
}
JSON
export KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$API_PORT
export AUTHGATE_SERVICEACCOUNT_DIR=$SA
start_gateway "$T/ic.json" gw-ic
wait_ready
expect_eq "$(get /api/v1/namespaces)" 200 "in-cluster request"
expect_eq "$(last_token "$API_LOG")" sa-tok-1 "service-account token upstream"
expect_match "$(cat "$GW_LOG")" "upstream https://127.0.0.1:$API_PORT" "URL from the environment"
pass "in-cluster: API server from KUBERNETES_SERVICE_*, token and CA from the service-account dir, verified as kubernetes.default.svc"

swap_sa() {
    mkdir -p "$SA/..v2"
    printf 'sa-tok-2' >"$SA/..v2/token"
    cp "$PKI/ca.crt" "$SA/..v2/ca.crt"
    ln -s ..v2 "$SA/..data_tmp"
    mv -T "$SA/..data_tmp" "$SA/..data"
}
bad=$(loop_requests 60 5 swap_sa)
expect_eq "$bad" "" "in-cluster requests that failed across the symlink swap"
first=$(first_use "$API_LOG" sa-tok-2)
[ "$first" -gt 0 ] || fail "the rotated service-account token never reached the API server"
lag=$((first - $(cat "$T/rotated_ms")))
[ "$lag" -le 3000 ] || fail "rotated service-account token in use only after ${lag} ms"
expect_eq "$(last_token "$API_LOG")" sa-tok-2 "rotated token upstream"
pass "in-cluster: kubelet symlink swap followed after ${lag} ms, 60 requests all 200"

# The verification is real: another expected name fails the handshake (503, nothing sent).
n_before=$(wc -l <"$API_LOG")
sed 's/"in_cluster": true/"in_cluster": true, "server_name": "localhost"/' "$T/ic.json" >"$T/ic2.json"
start_gateway "$T/ic2.json" gw-ic2
expect_eq "$(get /api/v1/namespaces)" 503 "in-cluster with a name the certificate lacks"
expect_eq "$(wc -l <"$API_LOG")" "$n_before" "nothing reached the API server"
pass "in-cluster: server_name overrides the verified name (a wrong one fails closed)"

# ---- start-up errors ---------------------------------------------------------------------
# start_error CONFIG REGEX [env...]: a non-zero exit (2: configuration, 1: start-up) and
# the message, nothing started.
start_error() {
    local f=$1 re=$2 out rc=0
    shift 2
    out=$(env -u KUBERNETES_SERVICE_HOST -u KUBERNETES_SERVICE_PORT "$@" \
        "$AUTHGATE" serve --config "$f" 2>&1) || rc=$?
    [ "$rc" = 1 ] || [ "$rc" = 2 ] || fail "exit status for $(basename "$f"): $rc"
    expect_match "$out" "$re" "message for $(basename "$f")"
}
start_error "$T/ic.json" 'ic.json:3:30: upstream.in_cluster: needs KUBERNETES_SERVICE_HOST'
start_error "$T/ic.json" 'cannot read the service-account file ".*/nosuch/token"' \
    KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=1 \
    AUTHGATE_SERVICEACCOUNT_DIR="$T/nosuch"
cat >"$T/ic-url.json" <<JSON
{
  "listen": {"address": "127.0.0.1:0"},
  "insecure_passthrough": true,
  "upstream": {"in_cluster": true, "url": "https://127.0.0.1:1"}
}
JSON
start_error "$T/ic-url.json" 'upstream.in_cluster: takes the URL, token and CA from the pod'
rotate "$T/bad.token" "bad token"
sed "s#$T/gw.token#$T/bad.token#" "$T/gw.json" >"$T/gw-bad.json"
start_error "$T/gw-bad.json" "upstream.token_file $T/bad.token: malformed input"
pass "start-up errors: missing environment, unreadable service-account dir, in_cluster with url, invalid token file"
