#!/usr/bin/env bash
# The "webhooks" listener: a separate TLS port that serves only the TokenReview and
# SubjectAccessReview webhooks to a caller known by its client certificate alone (the API
# server's webhook kubeconfig). A certificate from webhooks.tls.client_ca whose CN is in
# webhooks.callers gets 201 reviews; no certificate or one from another CA never gets an
# HTTP answer; a listed CA but unlisted CN gets 403 (a bearer token does not help); any
# other path gets a 404 Status and nothing reaches the upstream. The main listener keeps
# serving the same routes behind the gate, as before.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/authz_lib.sh"

start_upstream
authz_keys
gen_certs
# client_cert NAME SUBJECT CA-PREFIX: a client certificate signed by CA-PREFIX.{crt,key}.
client_cert() {
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$2" \
        -keyout "$T/$1.key" -out "$T/$1.csr" 2>/dev/null
    openssl x509 -req -in "$T/$1.csr" -CA "$3.crt" -CAkey "$3.key" -CAcreateserial -days 2 \
        -extfile "$PKI/client.ext" -out "$T/$1.crt" 2>/dev/null
}
client_cert kas "/O=system:masters/CN=kube-apiserver" "$PKI/ca"
client_cert other "/CN=someone-else" "$PKI/ca"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=rogue CA" \
    -keyout "$T/rogue-ca.key" -out "$T/rogue-ca.crt" 2>/dev/null
client_cert rogue "/O=system:masters/CN=kube-apiserver" "$T/rogue-ca"

D="$AG_SOURCE_DIR/tests/integration"
authz_config "$T/gw.json" "\"$D/authz_policy.json\", \"$D/authz_sar_policy.json\"" "" \
  "\"webhooks\": {\"address\": \"127.0.0.1:0\",
     \"tls\": {\"cert\": \"$PKI/server.crt\", \"key\": \"$PKI/server.key\",
             \"client_ca\": \"$PKI/ca.crt\", \"client_auth\": \"require\"},
     \"callers\": [\"kube-apiserver\"]}"
start_gateway "$T/gw.json"
WH_PORT=$(sed -n 's/.*webhooks on [^ ]*:\([0-9]*\).*/\1/p' "$GW_LOG" | head -1)
[ -n "$WH_PORT" ] && [ "$WH_PORT" != "$GW_PORT" ] || fail "webhooks listener port not reported"
read -r KAS ALICE < <(node "$MINT" tokens "$T" kube-apiserver alice:devs | paste -sd' ')
TR=/apis/authentication.k8s.io/v1/tokenreviews
SAR=/apis/authorization.k8s.io/v1/subjectaccessreviews
J='Content-Type: application/json'
# wh CERT PATH JSON [curl args...]: POST to the webhooks listener with client cert CERT
# ("" for none); prints the HTTP code (000: no HTTP answer), body in $T/body.
wh() {
    local cert=$1 path=$2 body=$3
    shift 3
    local auth=()
    [ -n "$cert" ] && auth=(--cert "$T/$cert.crt" --key "$T/$cert.key")
    curl -s -o "$T/body" -w '%{http_code}' --cacert "$PKI/ca.crt" "${auth[@]}" -X POST \
        -H "$J" --data-binary "$body" "$@" "https://127.0.0.1:$WH_PORT$path" || true
}
n0=$(upstream_count)

# 1. the API server's certificate: TokenReview and SubjectAccessReview answered (201)
tr='{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"'$ALICE'"}}'
expect_eq "$(wh kas $TR "$tr")" 201 "TokenReview"
expect_eq "$(jq -c '[.kind, .status.authenticated, .status.user.username]' "$T/body")" \
  '["TokenReview",true,"alice"]' "token reviewed"
expect_match "$(jq -c .status.user.groups "$T/body")" '"devs"' "groups from the token"
bad='{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"not-a-token"}}'
expect_eq "$(wh kas $TR "$bad")" 201 "TokenReview of a bad token"
expect_eq "$(jq -c '[.status.authenticated, .status.error]' "$T/body")" \
  '[false,"invalid bearer token"]' "bad token not authenticated"
sar='{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"alice","groups":["devs"],"resourceAttributes":{"namespace":"default","verb":"list","resource":"pods"}}}'
expect_eq "$(wh kas $SAR "$sar")" 201 "SubjectAccessReview"
expect_eq "$(jq -c '[.kind, .status.allowed]' "$T/body")" '["SubjectAccessReview",true]' "allowed"
no='{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"alice","resourceAttributes":{"namespace":"default","verb":"get","resource":"secrets"}}}'
expect_eq "$(wh kas $SAR "$no")" 201 "SubjectAccessReview (not allowed)"
expect_eq "$(jq -r .status.allowed "$T/body")" false "not allowed"
b1='{"apiVersion":"authorization.k8s.io/v1beta1","kind":"SubjectAccessReview","spec":{"user":"x","group":["system:masters"],"resourceAttributes":{"verb":"delete","resource":"nodes"}}}'
expect_eq "$(wh kas /apis/authorization.k8s.io/v1beta1/subjectaccessreviews "$b1")" 201 "v1beta1"
expect_eq "$(jq -r .status.allowed "$T/body")" true "v1beta1 masters"
out=$(curl -s -w '\n%{http_code} %{num_connects}\n' --cacert "$PKI/ca.crt" --cert "$T/kas.crt" \
  --key "$T/kas.key" -X POST -H "$J" --data-binary "$sar" "https://127.0.0.1:$WH_PORT$SAR" \
  --next -w '\n%{http_code} %{num_connects}\n' --cacert "$PKI/ca.crt" --cert "$T/kas.crt" \
  --key "$T/kas.key" -X POST -H "$J" --data-binary "$tr" "https://127.0.0.1:$WH_PORT$TR")
expect_eq "$(grep -E '^201 ' <<<"$out" | awk '{print $2}' | paste -sd,)" "1,0" "keep-alive across reviews"
pass "reviews answered for the listed client certificate"

# 2. no certificate, or one from another CA: the handshake fails, no HTTP answer
expect_eq "$(wh "" $SAR "$sar")" 000 "no client certificate"
expect_eq "$(wh "" $SAR "$sar" -H "Authorization: Bearer $KAS")" 000 "bearer token, no certificate"
expect_eq "$(wh rogue $SAR "$sar")" 000 "certificate from another CA"
s=$(openssl s_client -connect "127.0.0.1:$WH_PORT" -CAfile "$PKI/ca.crt" </dev/null 2>&1 || true)
expect_no_match "$s" 'Verify return code: 0 \(ok\).*HTTP' "s_client without certificate"
pass "no HTTP answer without a certificate from webhooks.tls.client_ca"

# 3. a trusted certificate whose CN is not among the callers: 403, a token does not help
expect_eq "$(wh other $SAR "$sar")" 403 "CN not in callers"
expect_eq "$(jq -c '[.kind, .code]' "$T/body")" '["Status",403]' "403 Status"
expect_eq "$(wh other $TR "$tr" -H "Authorization: Bearer $KAS")" 403 "bearer token ignored"
expect_match "$(cat "$GW_LOG")" 'CN "someone-else" is not among webhooks.callers' "refusal logged"
pass "callers outside webhooks.callers refused"

# 4. nothing else is served here, nothing is forwarded
code=$(curl -s -o "$T/body" -w '%{http_code}' --cacert "$PKI/ca.crt" --cert "$T/kas.crt" \
  --key "$T/kas.key" "https://127.0.0.1:$WH_PORT/api/v1/namespaces/default/pods")
expect_eq "$code" 404 "resource path"
expect_eq "$(jq -c '[.kind, .code]' "$T/body")" '["Status",404]' "404 Status"
ssar='{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"resourceAttributes":{"verb":"list","resource":"pods"}}}'
expect_eq "$(wh kas /apis/authorization.k8s.io/v1/selfsubjectaccessreviews "$ssar")" 404 \
  "SelfSubjectAccessReview is not a webhook"
expect_eq "$(wh kas $SAR "$sar" -X PUT)" 404 "wrong method"
expect_eq "$(wh kas /api/v1/namespaces/default/pods '{}' -H "Authorization: Bearer $KAS")" 404 \
  "POST elsewhere with a token"
expect_eq "$(upstream_count)" "$n0" "the upstream saw nothing"
pass "other paths: 404, never forwarded"

# 5. the main listener keeps serving the webhooks behind the gate, and proxying
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $KAS" -H "$J" \
  --data-binary "$sar" "http://127.0.0.1:$GW_PORT$SAR")
expect_eq "$code" 201 "SubjectAccessReview on the main listener"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $ALICE" -H "$J" \
  --data-binary "$sar" "http://127.0.0.1:$GW_PORT$SAR")
expect_eq "$code" 403 "the gate still decides there"
expect_eq "$(req GET /api/v1/namespaces/default/pods "$ALICE")" 200 "proxying unchanged"
expect_eq "$(upstream_count)" "$((n0 + 1))" "one forwarded request"
pass "main listener unchanged"

# 6. "serve_on_main": false: the reviews only on the webhooks listener; on the main one the
#    same path is an ordinary (gated) request, proxied to the API server
authz_config "$T/gw2.json" "\"$D/authz_policy.json\", \"$D/authz_sar_policy.json\"" "" \
  "\"webhooks\": {\"address\": \"127.0.0.1:0\", \"serve_on_main\": false,
     \"tls\": {\"cert\": \"$PKI/server.crt\", \"key\": \"$PKI/server.key\",
             \"client_ca\": \"$PKI/ca.crt\"}}"
start_gateway "$T/gw2.json" gw2
WH_PORT=$(sed -n 's/.*webhooks on [^ ]*:\([0-9]*\).*/\1/p' "$GW_LOG" | head -1)
n1=$(upstream_count)
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $KAS" -H "$J" \
  --data-binary "$sar" "http://127.0.0.1:$GW_PORT$SAR")
expect_eq "$(upstream_count)" "$((n1 + 1))" "main listener proxied the review"
expect_eq "$(last_upstream | jq -r .target)" "$SAR" "forwarded path"
expect_eq "$(wh other $SAR "$sar")" 201 "no callers list: any certificate from the CA"
expect_eq "$(jq -r .status.allowed "$T/body")" true "answered on the webhooks listener"
expect_eq "$(upstream_count)" "$((n1 + 1))" "webhooks listener forwarded nothing"
pass "serve_on_main false: webhooks listener only"
# SIGTERM drains both listeners: the webhooks port stops accepting, the process exits 0
kill -TERM "$GW_PID"
rc=0
wait "$GW_PID" || rc=$?
expect_eq "$rc" 0 "drained exit status"
expect_eq "$(wh other $SAR "$sar")" 000 "webhooks listener closed after the drain"
pass "drain closes the webhooks listener"

# 7. configuration: a webhooks listener without a client CA does not start
cat >"$T/bad.json" <<JSON
{
  "listen": {"address": "127.0.0.1:0"},
  "upstream": {"url": "http://127.0.0.1:$UP_PORT"},
  "webhooks": {"address": "127.0.0.1:0",
               "tls": {"cert": "$PKI/server.crt", "key": "$PKI/server.key"}}
}
JSON
rc=0
out=$("$AUTHGATE" serve --config "$T/bad.json" 2>&1) || rc=$?
expect_eq "$rc" 2 "exit status"
expect_match "$out" 'webhooks.tls: .*client_ca|webhooks.tls.client_ca' "names the missing client_ca"
cat >"$T/bad.json" <<JSON
{
  "listen": {"address": "127.0.0.1:0"},
  "upstream": {"url": "http://127.0.0.1:$UP_PORT"},
  "webhooks": {"address": "127.0.0.1:0",
               "tls": {"cert": "$PKI/server.crt", "key": "$PKI/server.key",
                       "client_ca": "$PKI/ca.crt", "client_auth": "optional"}}
}
JSON
rc=0
out=$("$AUTHGATE" serve --config "$T/bad.json" 2>&1) || rc=$?
expect_eq "$rc" 2 "exit status (optional client_auth)"
expect_match "$out" 'client_auth' "client_auth must be require"
pass "webhooks.tls needs client_ca and client_auth require"
