#!/usr/bin/env bash
# `authgate webhook-kubeconfig`: the two kubeconfig files kube-apiserver's
# --authentication-token-webhook-config-file and --authorization-webhook-config-file read.
# Each parses as a kubeconfig for real kubectl (`kubectl config view`), and what it names
# (server URL, CA, client certificate and key; as paths or embedded data) reaches the
# running gateway's webhooks listener and gets a TokenReview / SubjectAccessReview answer,
# as the API server would. Defaults from --config, the webhooks.callers check and the
# refusals (no https, unusable address, missing files) are checked too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/authz_lib.sh"

command -v kubectl >/dev/null || fail "kubectl not on PATH (scripts/deps.sh test)"
start_upstream
authz_keys
gen_certs
client_cert() { # client_cert NAME SUBJECT
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$2" \
        -keyout "$T/$1.key" -out "$T/$1.csr" 2>/dev/null
    openssl x509 -req -in "$T/$1.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
        -days 2 -extfile "$PKI/client.ext" -out "$T/$1.crt" 2>/dev/null
}
client_cert kas "/CN=kube-apiserver"
client_cert other "/CN=someone-else"
D="$AG_SOURCE_DIR/tests/integration"
webhooks() { # webhooks ADDRESS: the "webhooks" member
    echo "\"webhooks\": {\"address\": \"$1\", \"callers\": [\"kube-apiserver\"],
     \"tls\": {\"cert\": \"$PKI/server.crt\", \"key\": \"$PKI/server.key\",
             \"client_ca\": \"$PKI/ca.crt\"}}"
}
authz_config "$T/gw.json" "\"$D/authz_policy.json\", \"$D/authz_sar_policy.json\"" "" \
    "$(webhooks 127.0.0.1:0)"
start_gateway "$T/gw.json"
WH_PORT=$(sed -n 's/.*webhooks on [^ ]*:\([0-9]*\).*/\1/p' "$GW_LOG" | head -1)
[ -n "$WH_PORT" ] || fail "webhooks listener port not reported"
ALICE=$(token alice devs)
WK=("$AUTHGATE" webhook-kubeconfig --client-cert "$T/kas.crt" --client-key "$T/kas.key")

# view FILE JSONPATH: a field of the kubeconfig as kubectl reads it
view() { kubectl config view --kubeconfig "$1" --raw -o "jsonpath=$2"; }
# review KUBECONFIG BODY: POSTs BODY as the API server would with KUBECONFIG (server URL,
# CA, client certificate and key, as paths or data); prints the code, body in $T/body.
review() {
    local k=$1 ca crt key
    ca=$(view "$k" '{.clusters[0].cluster.certificate-authority}')
    crt=$(view "$k" '{.users[0].user.client-certificate}')
    key=$(view "$k" '{.users[0].user.client-key}')
    if [ -z "$ca" ]; then # embedded
        ca=$T/ca.data crt=$T/crt.data key=$T/key.data
        view "$k" '{.clusters[0].cluster.certificate-authority-data}' | base64 -d >"$ca"
        view "$k" '{.users[0].user.client-certificate-data}' | base64 -d >"$crt"
        view "$k" '{.users[0].user.client-key-data}' | base64 -d >"$key"
    fi
    curl -s -o "$T/body" -w '%{http_code}' --cacert "$ca" --cert "$crt" --key "$key" -X POST \
        -H 'Content-Type: application/json' --data-binary "$2" "$(view "$k" '{.clusters[0].cluster.server}')"
}
TR='{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"'$ALICE'"}}'
SAR='{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"alice","groups":["devs"],"resourceAttributes":{"namespace":"default","verb":"list","resource":"pods"}}}'

# 1. --output-dir: two files, mode 0600, kubeconfigs for kubectl, pointing at the listener
mkdir -p "$T/out"
out=$("${WK[@]}" --config "$T/gw.json" --server "https://127.0.0.1:$WH_PORT/" --ca "$PKI/ca.crt" \
    --output-dir "$T/out")
AN=$T/out/authentication-webhook.kubeconfig AZ=$T/out/authorization-webhook.kubeconfig
for f in "$AN" "$AZ"; do
    [ -f "$f" ] || fail "$f not written"
    expect_eq "$(stat -c %a "$f")" 600 "$(basename "$f") mode"
    expect_eq "$(view "$f" '{.current-context}')" webhook "$(basename "$f") current-context"
    expect_eq "$(view "$f" '{.clusters[0].cluster.certificate-authority}')" "$PKI/ca.crt" "CA path"
    expect_eq "$(view "$f" '{.users[0].user.client-certificate}')" "$T/kas.crt" "client cert path"
done
expect_eq "$(view "$AN" '{.clusters[0].cluster.server}')" \
    "https://127.0.0.1:$WH_PORT/apis/authentication.k8s.io/v1/tokenreviews" "authn server"
expect_eq "$(view "$AZ" '{.clusters[0].cluster.server}')" \
    "https://127.0.0.1:$WH_PORT/apis/authorization.k8s.io/v1/subjectaccessreviews" "authz server"
expect_match "$out" "--authentication-token-webhook-config-file=$AN" "flags printed (authn)"
expect_match "$out" "--authorization-webhook-config-file=$AZ" "flags printed (authz)"
expect_eq "$(review "$AN" "$TR")" 201 "TokenReview through the authn kubeconfig"
expect_eq "$(jq -c '[.status.authenticated, .status.user.username]' "$T/body")" '[true,"alice"]' \
    "token reviewed"
expect_eq "$(review "$AZ" "$SAR")" 201 "SubjectAccessReview through the authz kubeconfig"
expect_eq "$(jq -r .status.allowed "$T/body")" true "allowed"
pass "--output-dir: kubectl reads both; they reach the webhooks listener (201 reviews)"

# 2. stdout, one webhook, --embed-certs: data instead of paths, same answers
(cd "$T" && "$AUTHGATE" webhook-kubeconfig --client-cert kas.crt --client-key ./kas.key \
    --server "https://127.0.0.1:$WH_PORT" --ca pki/ca.crt --embed-certs \
    --webhook authentication >"$T/embedded.kubeconfig")
expect_eq "$(view "$T/embedded.kubeconfig" '{.clusters[0].cluster.certificate-authority-data}' |
    base64 -d | cmp - "$PKI/ca.crt" && echo same)" same "CA data"
expect_eq "$(grep -c 'apiVersion: v1' "$T/embedded.kubeconfig")" 1 "only the one asked for"
expect_no_match "$(cat "$T/embedded.kubeconfig")" "$T" "no paths when embedded"
expect_eq "$(review "$T/embedded.kubeconfig" "$TR")" 201 "TokenReview with embedded data"
expect_eq "$(jq -r .status.authenticated "$T/body")" true "authenticated"
both=$("${WK[@]}" --server "https://127.0.0.1:$WH_PORT")
expect_eq "$(grep -c '^apiVersion: v1' <<<"$both")" 2 "stdout: both"
expect_match "$both" '^# kube-apiserver --authorization-webhook-config-file' "each names its flag"
rel=$(cd "$T" && "$AUTHGATE" webhook-kubeconfig --client-cert kas.crt --client-key ./kas.key \
    --server https://h:1 --webhook authorization)
expect_match "$rel" "client-certificate: \"$(realpath "$T")/kas.crt\"" "relative path made absolute"
pass "--embed-certs and stdout; relative paths made absolute"

# 3. defaults from --config, and what it refuses
authz_config "$T/fixed.json" "\"$D/authz_policy.json\"" "" "$(webhooks 127.0.0.1:18444)"
out=$("${WK[@]}" --config "$T/fixed.json" --webhook authorization)
expect_match "$out" 'server: "https://127.0.0.1:18444/apis/authorization.k8s.io/v1/subjectaccessreviews"' \
    "server from webhooks.address"
refused() { # refused MESSAGE-REGEX ARGS...: exit 2 with that message
    local rc=0 msg=$1
    shift
    out=$("$@" 2>&1) || rc=$?
    expect_eq "$rc" 2 "exit status of $*"
    expect_match "$out" "$msg" "message of $*"
}
refused 'webhooks.address "127.0.0.1:0".*give --server' "${WK[@]}" --config "$T/gw.json"
authz_config "$T/any.json" "\"$D/authz_policy.json\"" "" "$(webhooks 0.0.0.0:8444)"
refused 'webhooks.address "0.0.0.0:8444".*give --server' "${WK[@]}" --config "$T/any.json"
refused 'CN "someone-else"\) has a CN that is not among webhooks.callers' "$AUTHGATE" \
    webhook-kubeconfig --config "$T/fixed.json" --client-cert "$T/other.crt" --client-key "$T/other.key"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=rogue CA" \
    -keyout "$T/rogue-ca.key" -out "$T/rogue-ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=kube-apiserver" \
    -keyout "$T/rogue.key" -out "$T/rogue.csr" 2>/dev/null
openssl x509 -req -in "$T/rogue.csr" -CA "$T/rogue-ca.crt" -CAkey "$T/rogue-ca.key" -CAcreateserial \
    -days 2 -extfile "$PKI/client.ext" -out "$T/rogue.crt" 2>/dev/null
refused 'does not verify against webhooks.tls.client_ca' "$AUTHGATE" webhook-kubeconfig \
    --config "$T/fixed.json" --client-cert "$T/rogue.crt" --client-key "$T/rogue.key"
refused 'is not a PEM certificate' "$AUTHGATE" webhook-kubeconfig --config "$T/fixed.json" \
    --client-cert "$T/kas.key" --client-key "$T/kas.key"
refused 'https only' "${WK[@]}" --server "http://127.0.0.1:$WH_PORT"
refused 'https only' "${WK[@]}" --server "https://127.0.0.1:$WH_PORT/some/path"
refused '--client-cert and --client-key are required' "$AUTHGATE" webhook-kubeconfig \
    --server https://127.0.0.1:1
refused "$T/missing.crt: No such file" "$AUTHGATE" webhook-kubeconfig --server https://h:1 \
    --client-cert "$T/missing.crt" --client-key "$T/kas.key"
refused 'authentication or authorization' "${WK[@]}" --server https://h:1 --webhook both
pass "--config defaults; refusals exit 2 and say why"
