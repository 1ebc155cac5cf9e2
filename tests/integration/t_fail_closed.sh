#!/usr/bin/env bash
# Fail closed without authentication (issue 11, defect 5). With neither an
# "authentication" nor an "authorization" section the gateway refuses every request with a
# 401 Status and forwards nothing (an audit section alone changes nothing); `serve --check`
# and the start-up log say so. Forwarding unauthenticated requests with the gateway's own
# credential takes an explicit top-level "insecure_passthrough": true, which --check and
# the start-up log warn about loudly, and which is refused next to authentication or
# authorization. Authentication without an authorization section is a judged mode, not an
# open one: a verified user is forwarded impersonated (the API server authorizes that
# user), a request without a token gets 401.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/authz_lib.sh"

start_upstream
closed() { # closed FILE [extra top-level members]: no authentication, no authorization
    cat >"$1" <<JSON
{
  "listen": {"address": "127.0.0.1:0"},
  "upstream": {"url": "http://127.0.0.1:$UP_PORT"},
  "admin": {"address": "127.0.0.1:0"},
  "workers": 2${2:+,
  $2}
}
JSON
}
refused_all() { # refused_all WHAT: every kind of request gets 401, nothing forwarded
    local code before
    before=$(wc -l <"$UP_LOG")
    for m in GET POST DELETE; do
        for p in /api /api/v1/namespaces/default/pods /version /apis/authentication.k8s.io/v1/tokenreviews; do
            code=$(curl -s -o "$T/body" -w '%{http_code}' -X "$m" -H 'Authorization: Bearer x.y.z' \
                "http://127.0.0.1:$GW_PORT$p")
            expect_eq "$code" 401 "$1: $m $p"
            expect_match "$(cat "$T/body")" '"kind":"Status".*"reason":"Unauthorized".*"code":401' \
                "$1: $m $p Status"
        done
    done
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Upgrade: websocket' -H 'Connection: Upgrade' \
        "http://127.0.0.1:$GW_PORT/api/v1/namespaces/default/pods/p/exec?command=sh")
    expect_eq "$code" 401 "$1: upgrade"
    expect_eq "$(wc -l <"$UP_LOG")" "$before" "$1: nothing reached the upstream"
}

closed "$T/closed.json"
out=$("$AUTHGATE" serve --config "$T/closed.json" --check 2>&1) || fail "--check: $out"
expect_match "$out" '^WARN no "authentication" and no "authorization" section: every request is refused with 401' \
    "--check says every request is refused"
start_gateway "$T/closed.json" gw-closed
expect_match "$(cat "$GW_LOG")" 'WARN .*every request is refused with 401' "start-up WARN"
refused_all "no authentication, no authorization"
pass "no authentication and no authorization: 401 for everything, nothing forwarded"
kill "$GW_PID"

closed "$T/audit.json" "\"audit\": {\"file\": \"$T/audit.log\"}"
start_gateway "$T/audit.json" gw-audit
refused_all "audit section only"
pass "an audit section alone does not open the gateway"
kill "$GW_PID"

closed "$T/open.json" '"insecure_passthrough": true'
out=$("$AUTHGATE" serve --config "$T/open.json" --check 2>&1) || fail "--check: $out"
expect_match "$out" "^WARN insecure_passthrough: every request is forwarded WITHOUT authentication or authorization, with the gateway's own upstream credential" \
    "--check warns about the pass-through"
start_gateway "$T/open.json" gw-open
expect_match "$(cat "$GW_LOG")" 'WARN insecure_passthrough: every request is forwarded WITHOUT' \
    "start-up WARN"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GW_PORT/api/v1/pods")
expect_eq "$code" 200 "pass-through"
expect_match "$(tail -1 "$UP_LOG")" '"target":"/api/v1/pods"' "forwarded"
pass "\"insecure_passthrough\": true forwards, with a loud warning from --check and at start-up"
kill "$GW_PID"

authz_keys
closed "$T/bad.json" "\"insecure_passthrough\": true,
  \"authentication\": {\"issuers\": [{\"issuer\": \"https://idp.test\", \"audiences\": [\"authgate\"],
      \"keys\": {\"jwks_file\": \"$T/jwks.json\"}, \"claims\": {\"username\": \"sub\"}}]}"
rc=0
out=$("$AUTHGATE" serve --config "$T/bad.json" --check 2>&1) || rc=$?
expect_eq "$rc" 2 "insecure_passthrough with authentication: exit code"
expect_match "$out" 'insecure_passthrough: only without "authentication" and "authorization"' \
    "insecure_passthrough with authentication: message"
pass "insecure_passthrough next to authentication is a configuration error"

closed "$T/authn.json" "\"authentication\": {\"issuers\": [{\"issuer\": \"https://idp.test\",
      \"audiences\": [\"authgate\"], \"keys\": {\"jwks_file\": \"$T/jwks.json\"},
      \"claims\": {\"username\": \"sub\", \"username_prefix\": \"-\", \"groups\": \"groups\"}}]}"
out=$("$AUTHGATE" serve --config "$T/authn.json" --check 2>&1) || fail "--check: $out"
expect_no_match "$out" 'WARN' "authentication alone: no warning"
start_gateway "$T/authn.json" gw-authn
before=$(wc -l <"$UP_LOG")
expect_eq "$(req GET /api/v1/pods "")" 401 "authentication only, no token"
expect_eq "$(wc -l <"$UP_LOG")" "$before" "nothing forwarded without a token"
expect_eq "$(req GET /api/v1/pods "$(token alice devs)")" 200 "authentication only, a valid token"
expect_eq "$(up_headers Impersonate-User)" alice "forwarded as the verified user"
pass "authentication without authorization: verified users forwarded impersonated, others 401"
