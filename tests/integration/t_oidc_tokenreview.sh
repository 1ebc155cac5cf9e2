#!/usr/bin/env bash
# The TokenReview webhook end to end: an API server (here curl and the official
# @kubernetes/client-node) POSTs a TokenReview with a token from the real OIDC provider;
# the gateway answers on its own (nothing reaches the upstream) exactly as the API defines
# it: status.authenticated, user{username,uid,groups,extra}, audiences, error. The caller
# itself passes the gate first (here with its own bearer token; no authorization section,
# so any authenticated caller may create tokenreviews). A token with a kid the gateway has
# not seen yet defers the answer until the key refresh is done.
. "$(dirname "$0")/oidc_lib.sh"

oidc_gateway
tok=$(oidc_token alice)
U=http://127.0.0.1:$GW_PORT/apis/authentication.k8s.io

caller=$(oidc_token svc) # the "API server" calling the webhook
review() { # review VERSION TOKEN [AUDIENCES_JSON] -> status code; body in $T/review
  local spec
  spec=$(jq -cn --arg t "$2" --argjson a "${3:-null}" '{token: $t} + (if $a then {audiences: $a} else {} end)')
  curl -s -o "$T/review" -w '%{http_code}' -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $caller" \
    -d "{\"apiVersion\":\"authentication.k8s.io/$1\",\"kind\":\"TokenReview\",\"spec\":$spec}" \
    "$U/$1/tokenreviews"
}

expect_eq "$(review v1 "$tok")" 201 "v1 review"
r=$(cat "$T/review")
expect_eq "$(jq -r .kind <<<"$r")/$(jq -r .apiVersion <<<"$r")" "TokenReview/authentication.k8s.io/v1" "kind"
expect_eq "$(jq -r .status.authenticated <<<"$r")" true "authenticated"
expect_eq "$(jq -r .status.user.username <<<"$r")" "oidc:alice" "username"
expect_eq "$(jq -c .status.user.groups <<<"$r")" '["oidc:developers","oidc:oncall","system:authenticated"]' "groups"
expect_no_match "$r" "$tok" "token echoed"
expect_eq "$(upstream_count)" 0 "nothing forwarded"
pass "v1 TokenReview authenticates a provider token"

expect_eq "$(review v1beta1 "$tok")" 201 "v1beta1 review"
expect_eq "$(jq -r .apiVersion "$T/review")" "authentication.k8s.io/v1beta1" "v1beta1 answer"
expect_eq "$(review v1 "$tok" '["https://kubernetes.default.svc","https://authgate.test"]')" 201 "audiences"
expect_eq "$(jq -c .status.audiences "$T/review")" '["https://authgate.test"]' "audience intersection"
expect_eq "$(review v1 "$tok" '["https://kubernetes.default.svc"]')" 201 "other audience"
expect_eq "$(jq -r .status.authenticated "$T/review")" false "token not for that audience"
pass "v1beta1 and spec.audiences"

expect_eq "$(review v1 "${tok%.*}.AAAA")" 201 "bad token"
expect_eq "$(jq -c .status "$T/review")" '{"authenticated":false,"error":"invalid bearer token"}' "failure status"
expect_eq "$(review v1 "")" 400 "empty token"
expect_eq "$(jq -r '.kind + " " + .message' "$T/review")" "Status token is required" "400 Status"
{ printf '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"'
  head -c 200000 /dev/zero | tr '\0' 'a'
  printf '"}}'; } >"$T/big.json"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  -H "Authorization: Bearer $caller" --data-binary "@$T/big.json" "$U/v1/tokenreviews")
expect_eq "$code" 413 "oversized body"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -d '{}' "$U/v1/tokenreviews")" 401 \
  "unauthenticated caller"
pass "bad token, missing token, oversized body, unauthenticated caller"

# A token signed with a key the provider just published: the review waits for the refresh.
oidc_admin rotate >/dev/null
fresh=$(oidc_token bob)
expect_eq "$(review v1 "$fresh")" 201 "review of a token with a new kid"
expect_eq "$(jq -r '.status.authenticated' "$T/review")/$(jq -r .status.user.username "$T/review")" \
  "true/oidc:bob" "deferred review"
pass "new kid: the review is answered after the key refresh"

# Keep-alive: several reviews and a proxied request on one connection.
out=$(curl -s -w '\n%{http_code}\n' -H 'Content-Type: application/json' \
  -H "Authorization: Bearer $caller" \
  -d "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":{\"token\":\"$tok\"}}" \
  "$U/v1/tokenreviews" "$U/v1/tokenreviews" 2>&1)
expect_eq "$(grep -c '"authenticated":true' <<<"$out")" 2 "two reviews on one connection"

# A real client: @kubernetes/client-node's AuthenticationV1Api.
cat >"$T/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: gw, cluster: {server: "http://127.0.0.1:$GW_PORT", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: "$caller"}}]
contexts: [{name: c, context: {cluster: gw, user: u}}]
current-context: c
KC
user=$(cd "$AG_SOURCE_DIR/tests" && KUBECONFIG=$T/kubeconfig node --input-type=module -e '
  import * as k8s from "@kubernetes/client-node";
  const kc = new k8s.KubeConfig(); kc.loadFromDefault();
  const api = kc.makeApiClient(k8s.AuthenticationV1Api);
  const r = await api.createTokenReview({ body: { apiVersion: "authentication.k8s.io/v1",
    kind: "TokenReview", spec: { token: process.argv[1] } } });
  console.log(r.status.authenticated, r.status.user.username);' "$tok")
expect_eq "$user" "true oidc:alice" "client-node createTokenReview"
pass "keep-alive reviews and @kubernetes/client-node"

# With "anonymous": true and no authorization section, nothing decides `create tokenreviews`:
# an unauthenticated caller (system:anonymous) is refused, as the API server's RBAC refuses
# it, so the endpoint is no token oracle for anyone who reaches the listener; an
# authenticated caller is still answered.
kill "$GW_PID"
oidc_config "$T/gw-anon.json" '"anonymous": true'
start_gateway "$T/gw-anon.json" gw-anon
wait_ready
U=http://127.0.0.1:$GW_PORT/apis/authentication.k8s.io
anon=$(curl -s -o "$T/review" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":{\"token\":\"$tok\"}}" \
    "$U/v1/tokenreviews")
expect_eq "$anon" 403 "anonymous TokenReview caller without authorization"
expect_eq "$(jq -r .reason "$T/review")" Forbidden "403 Status"
expect_eq "$(review v1 "$tok")" 201 "an authenticated caller is still answered"
expect_eq "$(upstream_count)" 0 "nothing forwarded"
pass "anonymous on, no authorization: system:anonymous may not create tokenreviews"
