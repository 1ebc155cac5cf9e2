#!/usr/bin/env bash
# Header hygiene: what the client sends that must never reach the API server (its
# credentials, impersonation and remote-user headers in any case or '_' spelling (an
# '_' spelling of Impersonate-* is refused outright: canonical_cases.txt),
# forwarding headers, URL-override and method-override headers, hop-by-hop headers and
# anything nominated in Connection, Upgrade: h2c), and what the gateway sets itself.
. "$(dirname "$0")/lib.sh"

start_upstream
plain_config "$T/gw.json"
start_gateway "$T/gw.json"

out=$(printf '%s\r\n' \
    'POST /api/v1/namespaces/default/pods HTTP/1.1' \
    'Host: gateway.example' \
    'Authorization: Bearer client-token' \
    'Proxy-Authorization: Basic Zm9vOmJhcg==' \
    'Impersonate-User: system:admin' \
    'impersonate-group: system:masters' \
    'Impersonate-Extra-Scopes: all' \
    'X-Remote-User: admin' \
    'X_Remote_Group: system:masters' \
    'X-Remote-Extra-Foo: bar' \
    'Forwarded: for=1.2.3.4' \
    'X-Forwarded-For: 1.2.3.4' \
    'X-Forwarded-Proto: https' \
    'X-Forwarded-Host: evil.example' \
    'X-Original-URL: /api/v1/secrets' \
    'X-Rewrite-URL: /api/v1/secrets' \
    'X-HTTP-Method-Override: DELETE' \
    'X-Method-Override: DELETE' \
    'Connection: keep-alive, X-Drop-Me' \
    'X-Drop-Me: 1' \
    'Keep-Alive: timeout=5' \
    'TE: trailers' \
    'Upgrade: h2c' \
    'Proxy-Connection: keep-alive' \
    'X-Keep-Me: yes' \
    'Content-Type: application/json' \
    'Content-Length: 2' \
    '' | sed 's/\r$//' | awk '{printf "%s\r\n", $0}'; printf '{}')
out=$(printf '%s' "$out" | raw "$GW_PORT" || true)
rec=$(tail -1 "$UP_LOG")
expect_match "$rec" '"method":"POST"' "request forwarded"
names=$(python3 -c 'import json,sys; print("\n".join(h[0] for h in json.loads(sys.argv[1])["headers"]))' "$rec")
for bad in authorization proxy-authorization 'impersonate' 'x-remote' 'x_remote' '^forwarded$' \
    'x-forwarded-host' 'x-original-url' 'x-rewrite-url' 'method-override' 'x-drop-me' \
    'keep-alive' '^te$' upgrade 'proxy-connection'; do
    expect_no_match "$names" "$bad" "header $bad must not be forwarded"
done
pass "client credentials, impersonation, spoofable and hop-by-hop headers dropped"

headers=$(python3 -c 'import json,sys; print("\n".join(h[0]+": "+h[1] for h in json.loads(sys.argv[1])["headers"]))' "$rec")
expect_match "$headers" '^X-Keep-Me: yes$' "ordinary header kept"
expect_match "$headers" '^Content-Type: application/json$' "content type kept"
expect_match "$headers" "^Host: 127.0.0.1:$UP_PORT\$" "Host is the upstream's"
expect_match "$headers" '^X-Forwarded-For: 127.0.0.1$' "X-Forwarded-For set by the gateway"
expect_match "$headers" '^X-Forwarded-Proto: http$' "X-Forwarded-Proto set by the gateway"
expect_eq "$(grep -ci '^x-forwarded-for' <<<"$headers")" "1" "one X-Forwarded-For"
expect_match "$rec" '"bodyLen":2' "body forwarded"
pass "gateway-set headers present and ordinary headers kept"

# The gateway's own credential (upstream.token_file) replaces the client's.
echo "gateway-secret-token" >"$T/token"
plain_config "$T/gw2.json"
sed -i "s#\"url\": \"http://127.0.0.1:$UP_PORT\"#\"url\": \"http://127.0.0.1:$UP_PORT\", \"token_file\": \"$T/token\"#" "$T/gw2.json"
start_gateway "$T/gw2.json" gw2
curl -sS --fail -o /dev/null -H 'Authorization: Bearer client-token' "http://127.0.0.1:$GW_PORT/api"
rec=$(tail -1 "$UP_LOG")
expect_match "$rec" '\["Authorization","Bearer gateway-secret-token"\]' "gateway credential"
expect_no_match "$rec" 'client-token' "client credential"
pass "upstream sees the gateway's credential, never the client's"
