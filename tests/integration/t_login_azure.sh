#!/usr/bin/env bash
# `authgate login` against an Azure AD-shaped token service (tests/fixtures/azure/aad.mjs,
# issue 15): the non-interactive modes (service principal with a secret or a certificate,
# workload identity's federated token file) through the variables Azure's SDKs read, checked
# by a fixture that verifies the client assertion against the registered certificate and
# the federated token against its issuer; the device flow's Azure error codes and exit
# statuses, slow_down measured at the fixture, the v1 shape; hostile answers print nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/login_lib.sh"

MINT=$AG_SOURCE_DIR/tests/fixtures/authz/mint.mjs
AAD=fixtures/azure/aad.mjs

mkdir -p "$T/sa" && node "$MINT" keys "$T/sa" || fail "keys"  # the cluster's SA issuer
for c in spn wrong; do
    openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=$c" -days 2 -keyout "$T/$c.key" \
        -out "$T/$c.crt" 2>/dev/null || fail "openssl"
    cat "$T/$c.crt" "$T/$c.key" >"$T/$c.pem"
done
cat >"$T/clients.json" <<JSON
{"$SPN": {"secret": "s3cret~value", "oid": "22222222-0000-4000-8000-000000000001"},
 "$CERT_APP": {"certificate": "$T/spn.crt", "oid": "22222222-0000-4000-8000-000000000002"},
 "$WI_APP": {"federated": {"issuer": "$SA_ISS", "jwks": "$T/sa/jwks.json", "subject": "$SA_SUB"},
             "oid": "22222222-0000-4000-8000-000000000003"}}
JSON
aad_start "$TID" "$T/clients.json" # the tokens it issues: $T/key.json
LOG=$AAD_LOG
SCRIPT=$AAD_SCRIPT

n=0
# az_login [ARGS...]: authgate login with the Azure tenant at the fixture; RC, OUT, ERR.
az_login() {
    n=$((n + 1))
    RC=0
    KUBERNETES_EXEC_INFO=${EXEC:-$EXEC_V1_BATCH} AZURE_AUTHORITY_HOST=$AUTHORITY timeout 60 \
        "$AUTHGATE" login --token-cache-dir "$T/c$n" "$@" >"$T/o$n" 2>"$T/e$n" || RC=$?
    OUT=$(cat "$T/o$n")
    ERR=$(cat "$T/e$n")
}
claims() { jq -r '.status.token' <<<"$OUT" | cut -d. -f2 | tr '_-' '/+' | base64 -d 2>/dev/null; }
last_form() { tail -1 "$LOG" | jq -r ".form.$1 // empty"; }
no_token() { # no_token WHAT: failed, nothing on stdout, nothing cached
    [ -z "$OUT" ] || fail "$1: stdout not empty: $OUT"
    [ -z "$(ls "$T/c$n"/*.json 2>/dev/null)" ] || fail "$1: a token was cached"
}

# ---- service principal, secret -------------------------------------------------------
AZURE_CLIENT_ID=$SPN AZURE_CLIENT_SECRET='s3cret~value' az_login --login spn --tenant-id "$TID"
expect_eq "$RC" 0 "spn secret: $ERR"
expect_eq "$(jq -r '.kind + " " + .apiVersion' <<<"$OUT")" "ExecCredential client.authentication.k8s.io/v1" "ExecCredential"
expect_eq "$(claims | jq -r '.aud + " " + .azp + " " + .idtyp')" "$AKS $SPN app" "token for the AKS server app, as the spn"
expect_eq "$(last_form grant_type) $(last_form scope)" "client_credentials $AKS/.default" "client credentials, .default scope only"
expect_eq "$(tail -1 "$LOG" | jq -r .path)" "/$TID/oauth2/v2.0/token" "v2 token endpoint"
[ -z "$(ls -A "$T/c$n" 2>/dev/null)" ] || fail "an spn token was cached: $(ls -A "$T/c$n")"
expect_eq "$ERR" "" "nothing said on success"
AAD_SERVICE_PRINCIPAL_CLIENT_ID=$SPN AAD_SERVICE_PRINCIPAL_CLIENT_SECRET='s3cret~value' \
    az_login --login spn --tenant-id "$TID"
expect_eq "$RC" 0 "kubelogin's AAD_SERVICE_PRINCIPAL_* variables: $ERR"
AZURE_TENANT_ID=$TID az_login --login spn --client-id "$SPN" --client-secret 's3cret~value' --legacy
expect_eq "$RC" 0 "v1 with flags: $ERR"
expect_eq "$(last_form resource) $(tail -1 "$LOG" | jq -r .path)" "$AKS /$TID/oauth2/token" "v1: resource=, /oauth2/token"
AZURE_CLIENT_ID=$SPN AZURE_CLIENT_SECRET=wrong az_login --login spn --tenant-id "$TID"
expect_eq "$RC" 8 "wrong secret: exit 8"
expect_match "$ERR" "invalid_client: AADSTS7000215: Invalid client secret" "AADSTS description shown"
no_token "wrong secret"
az_login --login spn --tenant-id "$TID" --client-id "$SPN"
expect_eq "$RC" 2 "spn without a credential: usage"
expect_match "$ERR" "exactly one of --client-secret" "says what is missing"
az_login --login spn --tenant-id "$TID" --client-id "$SPN" --client-secret x --client-certificate "$T/spn.pem"
expect_eq "$RC" 2 "spn with two credentials: usage"
pass "spn with a secret: env (AZURE_*, AAD_SERVICE_PRINCIPAL_*) and flags, v2 and v1, not cached, invalid_client -> 8"

# ---- service principal, certificate --------------------------------------------------
AZURE_CLIENT_ID=$CERT_APP AZURE_CLIENT_CERTIFICATE_PATH=$T/spn.pem az_login --login spn --tenant-id "$TID"
expect_eq "$RC" 0 "spn certificate: $ERR"
expect_eq "$(claims | jq -r .azp)" "$CERT_APP" "token for the certificate's app"
expect_eq "$(last_form client_assertion_type)" "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" "assertion type"
[ -z "$(last_form client_secret)" ] || fail "a secret was sent"
az_login --login spn --tenant-id "$TID" --client-id "$CERT_APP" --client-certificate "$T/spn.crt" --client-key "$T/spn.key"
expect_eq "$RC" 0 "certificate and key in two files (a second assertion, new jti): $ERR"
az_login --login spn --tenant-id "$TID" --client-id "$CERT_APP" --client-certificate "$T/wrong.pem"
expect_eq "$RC" 8 "unregistered certificate: exit 8"
expect_match "$ERR" "invalid_client: AADSTS700027" "the fixture refused the assertion"
no_token "wrong certificate"
az_login --login spn --tenant-id "$TID" --client-id "$CERT_APP" --client-certificate "$T/spn.crt" --client-key "$T/wrong.key"
expect_eq "$RC" 2 "key of another certificate: refused before sending"
expect_match "$ERR" "cannot use the client certificate" "says why"
lines=$(wc -l <"$LOG")
az_login --login spn --tenant-id "$TID" --client-id "$CERT_APP" --client-certificate "$T/spn.crt"
expect_eq "$RC" 2 "a certificate file without its key"
expect_eq "$(wc -l <"$LOG")" "$lines" "nothing was sent"
pass "spn with a certificate: RS256 assertion verified by the fixture (x5t, aud, exp, jti); wrong certificate -> invalid_client, no token"

# ---- workload identity ---------------------------------------------------------------
fed() { (cd "$AG_SOURCE_DIR/tests" && node $AAD mint-federated "$1" "$SA_ISS" "${2:-$SA_SUB}" ${3:+"$3"}); }
fed "$T/sa/key.json" >"$T/sa-token"
A=$(cat "$T/sa-token")
wi() {
    AZURE_CLIENT_ID=$WI_APP AZURE_TENANT_ID=$TID AZURE_FEDERATED_TOKEN_FILE=$T/sa-token \
        az_login --login workloadidentity "$@"
}
wi
expect_eq "$RC" 0 "workload identity from the environment alone: $ERR"
expect_eq "$(claims | jq -r .azp)" "$WI_APP" "token for the workload's app"
expect_eq "$(last_form client_assertion)" "$A" "the file's token is the assertion"
B=$(fed "$T/sa/key.json")
[ "$A" != "$B" ] || B=$(sleep 1; fed "$T/sa/key.json")
printf '%s\n' "$B" >"$T/sa-token.new" && mv "$T/sa-token.new" "$T/sa-token" # kubelet's rotation
wi
expect_eq "$RC" 0 "after rotation: $ERR"
expect_eq "$(last_form client_assertion)" "$B" "the rotated token is sent"
fed "$T/sa/key.json" system:serviceaccount:ci:other >"$T/sa-token"
wi
expect_eq "$RC" 8 "another subject: exit 8"
expect_match "$ERR" "AADSTS70021: No matching federated identity record" "federation refused"
no_token "wrong subject"
fed "$T/key.json" >"$T/sa-token" # signed by a key the SA issuer does not have
wi
expect_eq "$RC" 8 "token from another key: exit 8"
fed "$T/sa/key.json" "$SA_SUB" api://other >"$T/sa-token"
wi
expect_eq "$RC" 8 "token for another audience: exit 8"
printf 'not a token\n' >"$T/sa-token"
lines=$(wc -l <"$LOG")
wi
expect_eq "$RC" 2 "a file without a JWT: usage"
expect_eq "$(wc -l <"$LOG")" "$lines" "nothing was sent"
AZURE_CLIENT_ID=$WI_APP AZURE_TENANT_ID=$TID az_login --login workloadidentity
expect_eq "$RC" 2 "no AZURE_FEDERATED_TOKEN_FILE: usage"
pass "workload identity: AZURE_* environment, rotated file re-read, wrong subject/key/audience -> 8"

# ---- device flow: Azure's error codes ------------------------------------------------
dev() { # dev SCRIPT-JSON [ARGS]: a device flow at the fixture with a person at the terminal
    printf '{"device": %s}\n' "$1" >"$SCRIPT"
    : >"$LOG"
    shift
    EXEC=$EXEC_V1 az_login --tenant-id "$TID" "$@"
}
poll_gaps() { jq -r 'select(.path|endswith("/token")) | .t' "$LOG" | awk 'NR>1{print $1-p} {p=$1}'; }
dev '["authorization_pending", "slow_down", "authorization_pending", "$TOKEN"]'
expect_eq "$RC" 0 "pending, slow_down, pending, token: $ERR"
expect_match "$ERR" "To sign in, open https://microsoft.com/devicelogin and enter the code ABCD1234" "code shown"
expect_eq "$(last_form client_id)" 80faf920-1908-4b52-b5ef-a8e7bedfc67a "AKS client app by default"
mapfile -t gaps < <(poll_gaps)
expect_eq "${#gaps[@]}" 3 "four polls"
[ "${gaps[0]}" -ge 1000 ] && [ "${gaps[0]}" -lt 3000 ] || fail "first gap ${gaps[0]} ms (interval 1 s)"
[ "${gaps[1]}" -ge 6000 ] && [ "${gaps[2]}" -ge 6000 ] || fail "after slow_down: ${gaps[*]} ms (want >= 6000)"
[ -n "$(ls "$T/c$n"/*.json)" ] || fail "the device flow's token was not cached"
echo "  poll gaps (ms): ${gaps[*]}"
pass "slow_down adds 5 s to the interval, kept for later polls (measured at the fixture)"

dev '["expired_token"]'
expect_eq "$RC" 5 "expired_token: exit 5"
expect_match "$ERR" "the code expired" "expired message"
no_token "expired"
dev '["access_denied"]'
expect_eq "$RC" 4 "access_denied: exit 4"
expect_match "$ERR" "the sign-in was declined \(access_denied\)" "declined message"
no_token "denied"
dev '["invalid_grant"]'
expect_eq "$RC" 3 "invalid_grant during the device flow: exit 3"
expect_match "$ERR" "the sign-in failed: invalid_grant: AADSTS70000: Provided grant is invalid" "AADSTS description"
no_token "invalid_grant"
dev '["$TOKEN"]' --legacy
expect_eq "$RC" 0 "v1 device flow: $ERR"
expect_eq "$(last_form grant_type) $(last_form resource)" "device_code $AKS" "v1 poll shape"
expect_eq "$(jq -r 'select(.path|endswith("devicecode")) | .path' "$LOG")" "/$TID/oauth2/devicecode" "v1 devicecode path"
EXEC=$EXEC_V1_BATCH az_login --tenant-id "$TID"
expect_eq "$RC" 6 "interactive false: no device flow"
pass "device flow: expired_token 5, access_denied 4, invalid_grant 3, v1 shape, interactive=false 6"

# ---- hostile answers to client credentials -------------------------------------------
hostile() { # hostile BODY-JSON WHAT
    printf '{"client": {"status": 200, "body": %s}}\n' "$1" >"$SCRIPT"
    AZURE_CLIENT_ID=$SPN AZURE_CLIENT_SECRET='s3cret~value' az_login --login spn --tenant-id "$TID"
    expect_eq "$RC" 3 "$2: exit 3 ($ERR)"
    no_token "$2"
}
hostile '"{\"token_type\":\"Bearer\",\"access_token\":\"x\""' "truncated JSON"
hostile '{"access_token":"abc","expires_in":3600}' "no token_type"
hostile '{"token_type":"Bearer","access_token":"a\u001b[2Jb","expires_in":3600}' "control characters in the token"
hostile '{"token_type":"Bearer","access_token":"abc","expires_in":-5}' "negative expires_in"
hostile '[1,2,3]' "not an object"
printf '{"client": {"status": 500, "body": "<html>oops</html>"}}\n' >"$SCRIPT"
AZURE_CLIENT_ID=$SPN AZURE_CLIENT_SECRET='s3cret~value' az_login --login spn --tenant-id "$TID"
expect_eq "$RC" 3 "HTTP 500: exit 3"
no_token "500"
az_login --login spn --tenant-id "$TID" --client-id "$SPN" --client-secret x --authority-host http://10.0.0.1
expect_eq "$RC" 3 "http: off loopback refused"
rm -f "$SCRIPT"
pass "hostile client-credentials answers: exit 3, nothing printed"
