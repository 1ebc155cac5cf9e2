#!/usr/bin/env bash
# Fail closed, every configuration shape (issue 11, defect 5, as a class): whatever the
# gateway is configured with short of "insecure_passthrough", no request reaches the
# upstream without an identity the gateway stands for, i.e. every forwarded request
# carries Impersonate-User (the API server then authorizes that user), and a request the
# gateway could not authenticate is never forwarded as the gateway itself. Shapes:
# authorization only (bootstrap policy, an empty policy directory, a policy granting
# system:unauthenticated), an Azure chain mode without Azure RBAC inputs (a configuration
# error), a graph section
# alone, authentication with no issuers and anonymous on, issuers whose keys never load.
. "$(dirname "$0")/lib.sh"

start_upstream
mkdir -p "$T/empty-policy-dir"
cat >"$T/anon-pods.json" <<'JSON'
{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
   "metadata": {"name": "pods"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]},
  {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
   "metadata": {"name": "anon-pods"},
   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "pods"},
   "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:unauthenticated"}]}
]}
JSON
shape() { # shape NAME EXTRA-TOP-LEVEL-JSON: starts a gateway with it (port in GW_PORT)
    cat >"$T/$1.json" <<JSON
{
  "listen": {"address": "127.0.0.1:0"},
  "upstream": {"url": "http://127.0.0.1:$UP_PORT"},
  "admin": {"address": "127.0.0.1:0"},
  "workers": 1,
  $2
}
JSON
    start_gateway "$T/$1.json" "gw-$1"
}
# probe NAME: requests without a token, with a garbage token and with an unverifiable JWT,
# plain and upgrade; every one the upstream saw must carry Impersonate-User
probe() {
    local before n bad p
    before=$(wc -l <"$UP_LOG")
    for auth in "" "Authorization: Bearer garbage" \
        "Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lkcC5pbnZhbGlkIiwic3ViIjoiYWRtaW4ifQ.c2ln"; do
        for p in /api/v1/namespaces/default/pods /api/v1/namespaces/default/secrets /version /api; do
            curl -s -o /dev/null ${auth:+-H "$auth"} "http://127.0.0.1:$GW_PORT$p"
            curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -d '{}' \
                ${auth:+-H "$auth"} "http://127.0.0.1:$GW_PORT$p"
        done
        curl -s -o /dev/null -m 3 ${auth:+-H "$auth"} -H 'Upgrade: websocket' -H 'Connection: Upgrade' \
            "http://127.0.0.1:$GW_PORT/api/v1/namespaces/default/pods/p/exec?command=sh"
    done
    n=$(($(wc -l <"$UP_LOG") - before))
    bad=$(tail -n +"$((before + 1))" "$UP_LOG" | jq -c 'select([.headers[] | select(.[0] |
        ascii_downcase == "impersonate-user")] | length != 1) | [.method, .target]')
    [ -z "$bad" ] || fail "$1: forwarded without exactly one Impersonate-User: $bad"
    echo "# $1: $n request(s) forwarded, each impersonated"
    kill "$GW_PID"
}

shape authz-bootstrap '"authorization": {"mode": "rbac"}'
probe authz-bootstrap
shape authz-empty-dir "\"authorization\": {\"mode\": \"rbac\", \"rbac\": {\"policies\": [\"$T/empty-policy-dir\"]}}"
probe authz-empty-dir
shape authz-anon-granted "\"authorization\": {\"mode\": \"rbac\", \"rbac\": {\"policies\": [\"$T/anon-pods.json\"]}}"
before=$(wc -l <"$UP_LOG")
probe authz-anon-granted
expect_match "$(tail -n +"$((before + 1))" "$UP_LOG" | jq -r '.headers[] | select(.[0] | ascii_downcase ==
    "impersonate-user") | .[1]' | sort -u)" '^system:anonymous$' "granted to anonymous: forwarded as system:anonymous"
# an Azure chain mode without the Azure RBAC inputs is a configuration error, not an open door
cat >"$T/azure-mode-no-inputs.json" <<JSON
{"listen": {"address": "127.0.0.1:0"}, "upstream": {"url": "http://127.0.0.1:$UP_PORT"},
 "authorization": {"mode": "azure-then-rbac"}}
JSON
rc=0
out=$("$AUTHGATE" serve --config "$T/azure-mode-no-inputs.json" --check 2>&1) || rc=$?
expect_eq "$rc" 2 "azure-then-rbac without an azure section: exit status"
expect_match "$out" 'needs an "azure" section' "azure-then-rbac without an azure section: message"
shape graph-only '"graph": {"tenant": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    "client_id": "0f7a4a8e-5d2c-4c8e-9a3b-1e2f3a4b5c6d", "client_secret_file": "/dev/null"}'
probe graph-only
shape anon-no-issuers '"authentication": {"issuers": [], "anonymous": true}'
probe anon-no-issuers
shape keys-never-load '"authentication": {"issuers": [{"issuer": "https://idp.invalid", "audiences": ["x"],
    "keys": {"jwks_uri": "https://127.0.0.1:1/jwks"}}]}'
probe keys-never-load
pass "no configuration shape forwards a request without impersonating a judged identity"
