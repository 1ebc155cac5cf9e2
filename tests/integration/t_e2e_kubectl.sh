#!/usr/bin/env bash
# End to end (issue 7): real kubectl and @kubernetes/client-node -> authgate (TLS) -> the
# fake API server (TLS, tests/fixtures/apiserver.mjs), with tokens from the real OIDC
# provider (alice, bob) and from a static-key issuer minted with jose (admin, an expired
# token). Policy: alice has `view` in default, admin `cluster-admin`, bob nothing.
# After every case the API server's record is checked: exactly the gateway's credential,
# the right Impersonate-User/-Group, and no client token anywhere.
. "$(dirname "$0")/../e2e/lib.sh"

kubectl_recent || { echo "SKIP: needs kubectl 1.30 or later on PATH"; exit 0; }

e2e_start --watch-events 3 --watch-interval 1000 --log-lines 5

e2e_rbac_gateway ", \"audit\": {\"file\": \"$T/audit.log\"}" <<JSON
$E2E_ALICE_VIEW,
  {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
   "metadata": {"name": "admin-cluster-admin"},
   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
   "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "admin"}]}
JSON

ALICE=(alice developers oncall system:authenticated)
ADMIN=(admin ops system:authenticated)
kubeconfig alice "$(oidc_token alice "$AUD")"
kubeconfig bob "$(oidc_token bob "$AUD")"
kubeconfig admin "$(static_token admin ops)"
kubeconfig expired "$(static_token alice developers -120)"

# ---- get and list ----------------------------------------------------------------------
api_mark
out=$(kc alice get pods 2>&1) || fail "alice get pods: $out"
expect_match "$out" '^NAME +READY +STATUS' "table header"
expect_match "$out" 'web-1 +1/1 +Running' "pods listed"
expect_no_match "$out" 'coredns' "only the default namespace"
e2e_assert_upstream "get pods" "${ALICE[@]}"
out=$(kc alice get pod web-1 -o jsonpath='{.metadata.name}/{.spec.containers[0].image}' 2>&1) || fail "$out"
expect_eq "$out" "web-1/example/web:1" "get one pod as JSON"
out=$(kc alice get deployments 2>&1) || fail "alice get deployments: $out"
expect_match "$out" 'web +2/2' "deployments (apps/v1)"
e2e_assert_upstream "get pod, deployments" "${ALICE[@]}"
api_mark
out=$(kc admin get pods -A 2>&1) || fail "admin get pods -A: $out"
expect_match "$out" 'kube-system +coredns-1' "cluster-wide list"
out=$(kc admin get secrets 2>&1) || fail "admin get secrets: $out"
expect_match "$out" 'db-password +Opaque' "secrets for cluster-admin"
e2e_assert_upstream "admin lists" "${ADMIN[@]}"
pass "kubectl get/list through the gateway, forwarded as the token's user and groups"

# ---- watch -------------------------------------------------------------------------------
api_mark
mark_t=$(date +%s%3N)
timeout 10 kubectl --kubeconfig "$T/kc-alice" --cache-dir "$T/kcache-w" get pods -w 2>"$T/watch.err" |
    while IFS= read -r l; do printf '%s %s\n' "$(date +%s%3N)" "$l"; done >"$T/watch.out" || true
# The API server sends an event every second and never ends the stream: each event must be
# printed before the API server sends the next one (the last within the same second), so
# a gateway that holds events back (until more bytes come, or the stream ends) fails,
# while a loaded machine has a whole second to pass one event through.
delays=""
sent_at() { jq -r --arg n "watch-$1" 'select(.event and .name == $n) | .t' "$API_LOG" | tail -1; }
for i in 1 2 3; do
    got=$(awk -v n="watch-$i" '$2 == n {print $1; exit}' "$T/watch.out")
    [ -n "$got" ] || fail "watch event watch-$i not printed: $(cat "$T/watch.out" "$T/watch.err")"
    sent=$(sent_at "$i")
    [ -n "$sent" ] && [ "$sent" -ge "$mark_t" ] || fail "fixture did not record watch-$i"
    next=$((sent + 1000))
    [ "$i" -lt 3 ] && next=$(sent_at $((i + 1)))
    [ -n "$next" ] && [ "$got" -lt "$next" ] ||
        fail "watch-$i reached kubectl $((got - sent)) ms after the API server sent it, after the next event"
    delays+="$((got - sent)) "
done
echo "# watch event delays (API server write -> kubectl printed), ms: $delays"
expect_match "$(api_new | jq -r .target)" 'watch=true' "a watch request went upstream"
e2e_assert_upstream "watch" "${ALICE[@]}"
pass "kubectl get pods -w: every event printed before the API server sent the next"

# ---- logs -f -------------------------------------------------------------------------------
api_mark
out=$(timeout 10 kubectl --kubeconfig "$T/kc-alice" --cache-dir "$T/kcache-l" logs -f web-1 2>&1) ||
    fail "logs -f: $out"
expect_eq "$(grep -c 'web-1 log line' <<<"$out")" 5 "log lines followed"
expect_match "$(api_new | jq -r .target)" '/pods/web-1/log\?.*follow=true' "follow request"
e2e_assert_upstream "logs -f" "${ALICE[@]}"
pass "kubectl logs -f streams the pod's log"

# ---- exec (WebSocket v5.channel.k8s.io) ---------------------------------------------------
api_mark
out=$(echo "hello through the gateway" | timeout 10 kubectl --kubeconfig "$T/kc-admin" \
    --cache-dir "$T/kcache-e" exec -i web-1 -- cat 2>&1) || fail "exec: $out"
expect_eq "$out" "hello through the gateway" "exec stdin echoed to stdout"
proto=$(api_new | jq -r 'select(.upgrade) | .subprotocol')
expect_eq "$proto" "v5.channel.k8s.io" "exec subprotocol"
out=$(timeout 10 kubectl --kubeconfig "$T/kc-admin" exec web-1 -- echo one two 2>&1) || fail "exec: $out"
expect_eq "$out" "one two" "exec command output"
e2e_assert_upstream "exec" "${ADMIN[@]}"
pass "kubectl exec over WebSocket (v5.channel.k8s.io) through the gateway"

# ---- port-forward (SPDY/3.1, and SPDY tunnelled in WebSocket) ------------------------------
port_forward() { # port_forward TAG [env...]: forwards, sends a line through, checks the echo
    local tag=$1 lport out
    shift
    env "$@" timeout 15 kubectl --kubeconfig "$T/kc-admin" --cache-dir "$T/kcache-pf" \
        port-forward pod/web-1 :8080 >"$T/pf-$tag.out" 2>"$T/pf-$tag.err" &
    local pid=$!
    for _ in $(seq 100); do grep -q 'Forwarding from 127.0.0.1' "$T/pf-$tag.out" && break; sleep 0.05; done
    lport=$(sed -n 's/Forwarding from 127.0.0.1:\([0-9]*\).*/\1/p;T;q' "$T/pf-$tag.out")
    [ -n "$lport" ] || { kill "$pid" 2>/dev/null; fail "port-forward ($tag) did not start: $(cat "$T/pf-$tag.err")"; }
    out=$(python3 "$AG_SOURCE_DIR/tests/e2e/pf_echo.py" "$lport" "bytes via $tag")
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
    expect_eq "$out" "bytes via $tag" "port-forward ($tag) echo"
}
api_mark
port_forward spdy KUBECTL_PORT_FORWARD_WEBSOCKETS=false
expect_match "$(api_new | jq -r 'select(.upgrade) | .method + " " + .subprotocol')" \
    '^POST portforward.k8s.io$' "SPDY/3.1 upgrade"
api_mark
port_forward websocket KUBECTL_PORT_FORWARD_WEBSOCKETS=true
expect_match "$(api_new | jq -r 'select(.upgrade) | .method + " " + .subprotocol')" \
    '^GET SPDY/3.1\+portforward.k8s.io$' "WebSocket tunnel"
e2e_assert_upstream "port-forward" "${ADMIN[@]}"
pass "kubectl port-forward over SPDY/3.1 and over WebSocket"

# ---- 403 in the API server's words ----------------------------------------------------------
api_mark
out=$(kc alice get secret db-password 2>&1) && fail "alice read a secret: $out"
expect_eq "$out" 'Error from server (Forbidden): secrets "db-password" is forbidden: User "alice" cannot get resource "secrets" in API group "" in the namespace "default"' "403 get"
out=$(kc alice get pods -n kube-system 2>&1) && fail "alice listed kube-system: $out"
expect_eq "$out" 'Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "kube-system"' "403 list"
out=$(kc bob get deployments 2>&1) && fail "bob listed deployments: $out"
expect_eq "$out" 'Error from server (Forbidden): deployments.apps is forbidden: User "bob" cannot list resource "deployments" in API group "apps" in the namespace "default"' "403 list apps"
out=$(echo x | timeout 10 kubectl --kubeconfig "$T/kc-alice" exec -i web-1 -- cat 2>&1) && fail "alice exec: $out"
expect_eq "$out" 'Error from server (Forbidden): pods "web-1" is forbidden: User "alice" cannot create resource "pods/exec" in API group "" in the namespace "default"' "exec denied for view (WebSocket GET judged as create)"
out=$(timeout 10 kubectl --kubeconfig "$T/kc-alice" port-forward pod/web-1 :80 2>&1) && fail "alice port-forward: $out"
expect_eq "$out" 'error: error upgrading connection: pods "web-1" is forbidden: User "alice" cannot create resource "pods/portforward" in API group "" in the namespace "default"' "port-forward denied for view"
n=$(api_new | jq -r 'select(.target | test("secrets|kube-system|deployments|/exec|/portforward")) | .target' | wc -l)
expect_eq "$n" 0 "denied requests never reach the API server"
pass "403 printed by kubectl in the API server's wording; nothing denied was forwarded"

# ---- 401 for an expired token -------------------------------------------------------------
# kubectl >= 1.26 reports a 401 met during discovery as "(the server has asked for the
# client to provide credentials)", older ones and plain requests as "(Unauthorized)"; the
# reference is what this kubectl prints for the API server's own 401 (the fixture answers
# a wrong credential with kube-apiserver's Status body).
api_mark
out=$(kc expired get pods 2>&1) && fail "expired token accepted: $out"
expect_match "$(tail -1 <<<"$out")" '^error: You must be logged in to the server \((Unauthorized|the server has asked for the client to provide credentials)\)$' "401"
sed -e "s#server: https://127.0.0.1:$GW_PORT#server: https://localhost:$API_PORT#" \
    -e "s#token: .*#token: not-the-gateway-token#" "$T/kc-expired" >"$T/kc-direct"
ref=$(kubectl --kubeconfig "$T/kc-direct" --cache-dir "$T/kcache-d" get pods 2>&1) && fail "fixture accepted a client token"
expect_eq "$(tail -1 <<<"$out")" "$(tail -1 <<<"$ref")" "kubectl's words for the gateway's 401 and the API server's"
out=$(kc expired get --raw /api/v1/namespaces/default/pods 2>&1) && fail "expired token accepted: $out"
expect_eq "$out" 'error: You must be logged in to the server (Unauthorized)' "401 on a plain request"
expect_eq "$(api_new | jq -c 'select(.status != 401)' | wc -l)" 0 "nothing forwarded for an expired token"
pass "expired token: kubectl prints 'You must be logged in to the server', as for the API server's 401"

# ---- kubectl --as (impersonation authorized for the requester) ----------------------------
api_mark
out=$(kc admin get pods --as alice 2>&1) || fail "admin --as alice: $out"
expect_match "$out" 'web-1' "admin acting as alice lists pods"
e2e_assert_upstream "--as alice" alice system:authenticated
api_mark
out=$(kc admin get secrets --as alice 2>&1) && fail "--as alice read secrets: $out"
expect_eq "$out" 'Error from server (Forbidden): secrets is forbidden: User "alice" cannot list resource "secrets" in API group "" in the namespace "default"' "impersonated identity is what gets authorized"
api_mark
out=$(kc admin get pods --as bob --as-group viewers 2>&1) && fail "bob has no binding: $out"
expect_match "$out" 'User "bob" cannot list resource "pods"' "impersonated user and group judged"
api_mark
# The denial covers discovery too, where this kubectl cannot decode a Status (it prints
# "Forbidden: unknown", as for the 401 above); a plain request shows the message.
out=$(kc alice get pods --as admin 2>&1) && fail "alice impersonated admin: $out"
expect_match "$(tail -1 <<<"$out")" '^Error from server \(Forbidden\)' "impersonate denied"
out=$(kc alice get --raw /api/v1/namespaces/default/pods --as admin 2>&1) && fail "alice impersonated admin: $out"
expect_eq "$out" 'Error from server (Forbidden): users "admin" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope' "impersonate denied"
n=$(api_new | wc -l)
expect_eq "$n" 0 "a denied impersonation is not forwarded"
pass "kubectl --as: authorized with the impersonate verb, forwarded as the impersonated identity"

# ---- @kubernetes/client-node ----------------------------------------------------------------
api_mark
out=$(cd "$AG_SOURCE_DIR/tests" && node e2e/client-node.mjs "$T/kc-alice") || fail "client-node: $out"
expect_eq "$(jq -c .pods <<<"$out")" '["web-1","web-2"]' "client-node list"
expect_eq "$(jq -r .pod <<<"$out")" "web-1" "client-node read"
expect_eq "$(jq -r .deployments.name <<<"$out")" "web" "client-node apps list"
expect_eq "$(jq -r .secret.code <<<"$out")" 403 "client-node 403"
expect_eq "$(jq -r .secret.message <<<"$out")" 'secrets "db-password" is forbidden: User "alice" cannot get resource "secrets" in API group "" in the namespace "default"' "client-node 403 message"
e2e_assert_upstream "client-node" "${ALICE[@]}"
pass "@kubernetes/client-node lists, reads and gets the API server's 403"
api_mark
out=$(cd "$AG_SOURCE_DIR/tests" && node e2e/client-node.mjs "$T/kc-admin" streams) || fail "client-node streams: $out"
expect_eq "$out" '{"exec":"hello from client-node\n","status":"Success","portforward":"client-node bytes"}' "client-node exec and port-forward"
expect_eq "$(api_new | jq -r 'select(.upgrade) | .subprotocol' | tr '\n' ' ')" "v5.channel.k8s.io v4.channel.k8s.io " "client-node subprotocols"
e2e_assert_upstream "client-node streams" "${ADMIN[@]}"
pass "@kubernetes/client-node exec (v5.channel.k8s.io) and port-forward (v4.channel.k8s.io) through the gateway"

# ---- no client token ever reached the API server --------------------------------------------
e2e_assert_no_client_tokens
refused=$(jq -c 'select(.status == 401) | .headers[] | select(.[0] == "Authorization") | .[1]' "$API_LOG" | sort -u)
expect_eq "$refused" '"Bearer not-the-gateway-token"' "the only requests the API server refused (the direct reference run)"
pass "the API server only ever saw the gateway's credential"

# ---- audit: one event per request, with the decision; no token in it ------------------------
audit() { # audit JQ-FILTER -> the first matching event (compact), waiting up to 3 s for the writer
    local i out
    for ((i = 0; i < 60; i++)); do
        out=$(jq -cn "first(inputs | select($1))" "$T/audit.log" 2>/dev/null)
        [ -n "$out" ] && break
        sleep 0.05
    done
    printf '%s' "$out"
}
ev=$(audit '.user.username == "alice" and .objectRef.resource == "secrets" and .objectRef.name == "db-password"')
[ -n "$ev" ] || fail "no audit event for alice's denied secret read"
expect_eq "$(jq -r '[.verb, .objectRef.namespace, .responseStatus.code, .annotations["authorization.k8s.io/decision"]] | join(" ")' <<<"$ev")" \
    "get default 403 forbid" "audit event of a denial"
ev=$(audit '.user.username == "admin" and .impersonatedUser.username == "alice" and .objectRef.resource == "pods"')
[ -n "$ev" ] || fail "no audit event for admin acting as alice"
expect_eq "$(jq -r '[.verb, .responseStatus.code, .annotations["authorization.k8s.io/decision"]] | join(" ")' <<<"$ev")" \
    "list 200 allow" "audit event of an impersonated request"
ev=$(audit '.user.username == "admin" and .objectRef.subresource == "exec"')
[ -n "$ev" ] || fail "no audit event for exec"
expect_eq "$(jq -r '.annotations["authorization.k8s.io/decision"]' <<<"$ev")" allow "exec audited as allowed"
while read -r t; do
    if grep -qF -- "${t##*.}" "$T/audit.log"; then fail "a client token is in the audit log"; fi
done <"$T/client-tokens"
if grep -qF -- "$GW_TOKEN" "$T/audit.log"; then fail "the gateway's token is in the audit log"; fi
pass "audit: denied, impersonated and exec requests recorded with the decision; no token in the log"

# ---- metrics: the decision path -------------------------------------------------------------
ge() { [ "${1%.*}" -ge "$2" ] || fail "$3: $1 < $2"; }
ge "$(metric 'authgate_authz_decisions_total{verb="get",decision="forbid"}')" 1 "get forbid counted"
ge "$(metric 'authgate_authz_decisions_total{verb="list",decision="allow"}')" 5 "list allow counted"
ge "$(metric 'authgate_authz_decisions_total{verb="list",decision="forbid"}')" 3 "list forbid counted"
ge "$(metric 'authgate_authn_total{result="expired"}')" 1 "expired tokens counted"
ge "$(metric 'authgate_impersonation_requests_total{mode="authorize"}')" 1 "impersonation counted"
pass "metrics count decisions by verb, authentication failures by reason, impersonation"
