#!/usr/bin/env bash
# `authgate login` against a scripted identity provider (issue 15): RFC 8628 polling
# (interval, slow_down +5 s, never faster), expired_token / access_denied with their own
# exit statuses, spec.interactive=false, Azure AD v2 and v1 request shapes, and hostile or
# broken answers (wrong JSON, missing fields, huge bodies, http: endpoints off loopback,
# terminal escapes) that must fail clearly with nothing on stdout.
. "$(dirname "$0")/oidc_lib.sh"
. "$(dirname "$0")/login_lib.sh"

scripted_start
n=0
# sc_login [ARGS...]: authgate login at the scripted IdP, fresh cache; RC, OUT, ERR set.
sc_login() {
    n=$((n + 1))
    RC=0
    KUBERNETES_EXEC_INFO=${EXEC:-$EXEC_V1} timeout 60 "$AUTHGATE" login --issuer-url "$SC_ISSUER" \
        --client-id cli --token-cache-dir "$T/c$n" "$@" >"$T/o$n" 2>"$T/e$n.log" || RC=$?
    OUT=$(cat "$T/o$n")
    ERR=$(cat "$T/e$n.log")
}
sc_script() { printf '%s\n' "$1" >"$SC_SCRIPT"; : >"$SC_LOG"; }
# token_times: ms between the device request and each token request.
token_times() {
    local t0
    t0=$(sc_requests 'device/auth|devicecode' | jq -r .t | head -1)
    sc_requests 'token$' | jq -r --argjson t0 "$t0" '.t - $t0'
}
PENDING='{"status":400,"body":{"error":"authorization_pending"}}'
SLOW='{"status":400,"body":{"error":"slow_down"}}'
OK='{"body":"$TOKEN"}'

# ---- polling: interval, slow_down ---------------------------------------------------------
sc_script "{\"token\": [$PENDING, $SLOW, $OK]}"
sc_login
expect_eq "$RC" 0 "pending, slow_down, then tokens: exit status ($ERR)"
expect_eq "$(jq -r .kind <<<"$OUT")" ExecCredential "credential printed"
mapfile -t ts < <(token_times)
expect_eq "${#ts[@]}" 3 "three token requests"
# interval 1 s before the first and second poll; after slow_down 1+5 = 6 s
[ "${ts[0]}" -ge 1000 ] || fail "first poll after ${ts[0]} ms, before the 1 s interval"
[ $((ts[1] - ts[0])) -ge 1000 ] || fail "second poll $((ts[1] - ts[0])) ms after the first"
[ $((ts[2] - ts[1])) -ge 6000 ] || fail "poll after slow_down came $((ts[2] - ts[1])) ms later, not >= 6 s"
[ $((ts[2] - ts[1])) -lt 8000 ] || fail "poll after slow_down came $((ts[2] - ts[1])) ms later"
pass "device flow polls at the interval; slow_down adds 5 s (${ts[*]} ms)"

# ---- the end of a flow: expired, denied, unknown error --------------------------------------
sc_script '{"token": [{"status":400,"body":{"error":"expired_token"}}]}'
sc_login
expect_eq "$RC" 5 "expired_token exit status"
expect_match "$ERR" "code expired" "expired_token message"
expect_eq "$OUT" "" "nothing on stdout"
sc_script '{"token": [{"status":400,"body":{"error":"access_denied"}}]}'
sc_login
expect_eq "$RC" 4 "access_denied exit status"
expect_match "$ERR" "sign-in was declined" "access_denied message"
expect_eq "$OUT" "" "nothing on stdout"
sc_script '{"token": [{"status":400,"body":{"error":"invalid_client","error_description":"no such client"}}]}'
sc_login
expect_eq "$RC" 3 "other OAuth error"
expect_match "$ERR" "invalid_client: no such client" "error and description shown"
sc_script '{"device": {"body": {"device_code":"d","user_code":"U","verification_uri":"VERIFY","expires_in":2,"interval":1}}, "token": ['"$PENDING"']}'
sed -i "s|VERIFY|$SC_ISSUER/device|" "$SC_SCRIPT"
start=$(date +%s)
sc_login
expect_eq "$RC" 5 "the code's own expires_in ends the wait"
[ $(($(date +%s) - start)) -le 5 ] || fail "waited past expires_in"
pass "expired_token -> 5, access_denied -> 4, other errors -> 3, expires_in bounds the wait"

# ---- kubectl says nobody is at a terminal -----------------------------------------------------
sc_script '{}'
EXEC=$EXEC_V1_BATCH sc_login
expect_eq "$RC" 6 "interactive=false exit status"
expect_match "$ERR" "sign-in is needed, but kubectl runs without a terminal" "message"
expect_eq "$(sc_requests 'device' | wc -l)" 0 "no device authorization started"
EXEC='{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","spec":{"interactive":true}}' sc_login
expect_eq "$(jq -r .apiVersion <<<"$OUT")" client.authentication.k8s.io/v1beta1 "v1beta1 answered in v1beta1"
EXEC='{"apiVersion":"client.authentication.k8s.io/v1alpha1","kind":"ExecCredential"}' sc_login
expect_eq "$RC" 2 "unknown apiVersion"
pass "spec.interactive=false starts no device flow (exit 6); v1beta1 echoed; v1alpha1 refused"

# ---- Azure AD request shapes (authority host pointed at the fixture) ---------------------------
az_login() { # az_login ARGS...
    n=$((n + 1))
    RC=0
    KUBERNETES_EXEC_INFO=$EXEC_V1 timeout 30 "$AUTHGATE" login --tenant-id contoso.example \
        --authority-host "$SC_ISSUER" --token-cache-dir "$T/c$n" "$@" >"$T/o$n" 2>"$T/e$n.log" || RC=$?
    ERR=$(cat "$T/e$n.log")
}
sc_script '{}'
az_login
expect_eq "$RC" 0 "Azure v2 device flow ($ERR)"
d=$(sc_requests devicecode)
expect_eq "$(jq -r .path <<<"$d")" /contoso.example/oauth2/v2.0/devicecode "v2 device path"
expect_eq "$(jq -r .form.client_id <<<"$d")" 80faf920-1908-4b52-b5ef-a8e7bedfc67a "AKS client app by default"
expect_eq "$(jq -r .form.scope <<<"$d")" "6dae42f8-4368-4678-94ff-3960e28e3630/.default offline_access" "AKS server app scope"
tk=$(sc_requests 'token$')
expect_eq "$(jq -r .path <<<"$tk")" /contoso.example/oauth2/v2.0/token "v2 token path"
expect_eq "$(jq -r .form.grant_type <<<"$tk")" urn:ietf:params:oauth:grant-type:device_code "v2 grant type"
expect_eq "$(jq -r .form.device_code <<<"$tk")" dc-1 "device_code sent"
entry=$(ls "$T/c$n"/*.json)
jq -c '.obtained_at -= 7200 | .expires_at -= 7200' "$entry" >"$T/aged.json"
cat "$T/aged.json" >"$entry"
rt=$(jq -r .refresh_token "$entry")
: >"$SC_LOG"
n=$((n - 1)) # the same cache directory
az_login
expect_eq "$RC" 0 "Azure v2 refresh ($ERR)"
tk=$(sc_requests 'token$')
expect_eq "$(jq -r '.path + " " + .form.grant_type + " " + .form.refresh_token + " " + .form.scope' <<<"$tk")" \
    "/contoso.example/oauth2/v2.0/token refresh_token $rt 6dae42f8-4368-4678-94ff-3960e28e3630/.default offline_access" \
    "v2 refresh: same token endpoint, the cached refresh token, the scope again"
expect_eq "$(sc_requests devicecode | wc -l)" 0 "no device flow for the refresh"
sc_script '{"device": {"body": {"device_code":"dc-v1","user_code":"X1","verification_url":"https://microsoft.com/devicelogin","expires_in":"900","interval":"1","message":"To sign in..."}}}'
az_login --legacy --server-id api://my-server --client-id my-client
expect_eq "$RC" 0 "Azure v1 device flow ($ERR)"
d=$(sc_requests devicecode)
expect_eq "$(jq -r .path <<<"$d")" "/contoso.example/oauth2/devicecode?api-version=1.0" "v1 device path"
expect_eq "$(jq -r '.form.resource + " " + .form.client_id + " " + (.form.scope // "-")' <<<"$d")" \
    "api://my-server my-client -" "v1: resource=, no scope"
tk=$(sc_requests 'token$')
expect_eq "$(jq -r '.form.grant_type + " " + .form.code + " " + .form.resource' <<<"$tk")" \
    "device_code dc-v1 api://my-server" "v1 token request"
expect_match "$ERR" "open https://microsoft.com/devicelogin and enter the code X1" "v1 verification_url shown"
pass "Azure AD v2 (tenant path, AKS client and server app ids) and v1 (resource=, code=) requests"

# ---- hostile or broken answers: a clear failure, never a token on stdout ------------------------
# hostile WHAT SCRIPT MESSAGE_REGEX [ARGS...]
hostile() {
    local what=$1 msg=$3
    sc_script "${2//ISS/$SC_ISSUER}"
    shift 3
    local t0=$SECONDS
    sc_login "$@"
    expect_eq "$RC" 3 "$what: exit status ($ERR)"
    expect_eq "$OUT" "" "$what: nothing on stdout"
    expect_match "$ERR" "$msg" "$what: message"
    [ $((SECONDS - t0)) -le 10 ] || fail "$what: took $((SECONDS - t0)) s"
    [ ! -e "$T/c$n" ] || [ -z "$(ls "$T/c$n"/*.json 2>/dev/null)" ] || fail "$what: something was cached"
}
hostile "token answer not JSON" '{"token":[{"body":"<html>hello</html>"}]}' "token response .* is malformed"
hostile "token answer without expires_in" \
    '{"token":[{"body":{"token_type":"Bearer","access_token":"abc"}}]}' "is malformed"
hostile "token type mac" \
    '{"token":[{"body":{"token_type":"mac","access_token":"abc","expires_in":60}}]}' "is malformed"
hostile "header injection in the token" \
    '{"token":[{"body":{"token_type":"Bearer","access_token":"abc\r\nX-Evil: 1","expires_in":60}}]}' "is malformed"
hostile "duplicate access_token" \
    '{"token":[{"body":"{\"token_type\":\"Bearer\",\"access_token\":\"a\",\"access_token\":\"b\",\"expires_in\":60}"}]}' "is malformed"
hostile "token answer of 3 MB" '{"token":[{"bytes":3000000}]}' "too large"
hostile "token endpoint 500" '{"token":[{"status":500,"body":{"error":"server_error"}}]}' "HTTP 500"
hostile "400 without an OAuth error" '{"token":[{"status":400,"body":"bad"}]}' "HTTP 400 without an OAuth error"
hostile "device answer without user_code" \
    '{"device":{"body":{"device_code":"d","verification_uri":"https://x/d","expires_in":30}}}' \
    "device authorization response .* is malformed"
hostile "device answer of 3 MB" '{"device":{"bytes":3000000}}' "too large"
hostile "verification URI over http to another host" \
    '{"device":{"body":{"device_code":"d","user_code":"U","verification_uri":"http://evil.example/d","expires_in":30}}}' \
    "is malformed"
hostile "terminal escape in the user code" \
    '{"device":{"body":{"device_code":"d","user_code":"\u001b]0;pwned\u0007","verification_uri":"https://x/d","expires_in":30}}}' \
    "is malformed"
hostile "token endpoint over http off loopback" \
    '{"discovery":{"issuer":"ISS","token_endpoint":"http://idp.example.com/token","device_authorization_endpoint":"ISS/device/auth"}}' \
    "neither https:// nor loopback"
hostile "discovery names another issuer" \
    '{"discovery":{"issuer":"https://other.example","token_endpoint":"ISS/token","device_authorization_endpoint":"ISS/device/auth"}}' \
    "names another issuer"
hostile "discovery not JSON" '{"discovery":"not json"}' "malformed"
hostile "no device endpoint" '{"discovery":{"issuer":"ISS","token_endpoint":"ISS/token"}}' \
    "does not offer the device authorization grant"
n=$((n + 1))
RC=0
"$AUTHGATE" login --issuer-url http://10.255.255.1 --client-id cli --token-cache-dir "$T/c$n" \
    >"$T/o$n" 2>"$T/e$n.log" || RC=$?
expect_eq "$RC" 3 "http: issuer off loopback"
expect_match "$(cat "$T/e$n.log")" "refusing http://10.255.255.1/.well-known/openid-configuration: only https:// or http:// to loopback" "refused before connecting"
expect_eq "$(cat "$T/o$n")" "" "nothing on stdout"
pass "hostile answers (wrong JSON, missing fields, 3 MB bodies, http: off loopback, escapes) fail with exit 3, no token"
