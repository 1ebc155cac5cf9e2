#!/usr/bin/env bash
# Time-bound (just-in-time) RBAC bindings through the real binary (docs/authorization.md,
# "Time-bound bindings"):
#   1. the shipped aks-service ClusterRole (config/policies/aks-service.yaml), bound by its
#      example JIT binding moved to a window around now: `authgate check` shows it reads
#      pods, pods/log, events and the rest, and cannot touch secrets, exec, modify RBAC,
#      create roles or bindings, bind, escalate or impersonate; outside the window it
#      grants nothing and --explain / -o json name the window;
#   2. malformed windows are load errors naming FILE:LINE:COL and the object;
#   3. a running gateway: a binding expiring 2 s ahead grants, then refuses within 1 s of
#      its expires-at, and one starting then begins to grant, with no SIGHUP and no file
#      poll; the audit reasons name the window, and the policy is rebuilt at the boundary;
#   4. the same for a binding read from the cluster (the fake API server's store), where a
#      window that does not parse refuses that object alone (counted, WARN naming it; the
#      rest loads), and an update that breaks a window removes the grant it had.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/authz_lib.sh"
. "$(dirname "$0")/rbacsync_lib.sh"

ms() { date +%s%3N; }
stamp() { date -u -d "@$(($1 / 1000)).$(printf %03d $(($1 % 1000)))" +%Y-%m-%dT%H:%M:%S.%3NZ; }

# ---- 1. aks-service: what it can and cannot do ------------------------------------------
mkdir -p "$T/pol"
now=$(ms)
sed -e "s/2030-01-07T09:00:00Z/$(stamp $((now - 3600000)))/" \
    -e "s/2030-01-07T13:00:00Z/$(stamp $((now + 3600000)))/" \
    "$AG_SOURCE_DIR/config/policies/aks-service.yaml" >"$T/pol/aks-service.yaml"
grep -q "$(stamp $((now + 3600000)))" "$T/pol/aks-service.yaml" || fail "window not moved"
chk() { # chk WANT_RC VERB RESOURCE [args...]: as eng in group aks-support-jit
    local want=$1 rc=0
    shift
    "$AUTHGATE" check --policy "$T/pol" --as eng --as-group aks-support-jit "$@" >"$T/chk.out" 2>&1 || rc=$?
    [ "$rc" = "$want" ] || fail "check $* -> rc $rc, want $want: $(cat "$T/chk.out")"
}
for q in "get pods -n kube-system" "list pods -A" "get pods --subresource log -n default --name web" \
    "list pods --subresource log -n app" "list events -A" "watch events -n app" \
    "list events.events.k8s.io -A" "get nodes" "list deployments.apps -A" \
    "get configmaps -n app" "list customresourcedefinitions.apiextensions.k8s.io" \
    "list clusterroles.rbac.authorization.k8s.io" "get rolebindings.rbac.authorization.k8s.io -n app" \
    "list jobs.batch -A" "get /healthz" "get /metrics" "get /version"; do
    chk 0 $q
done
pass "aks-service reads pods, logs, events, workloads, CRDs and RBAC objects"
for q in "get secrets -n app --name db" "list secrets -A" "watch secrets -n app" \
    "create pods --subresource exec -n app --name web" "get pods --subresource exec -n app --name web" \
    "create pods --subresource attach -n app --name web" "create pods --subresource portforward -n app --name web" \
    "get pods --subresource proxy -n app --name web" "get services --subresource proxy -n app --name web" \
    "get nodes --subresource proxy --name n1" "create serviceaccounts --subresource token -n app --name default" \
    "delete pods -n app --name web" "patch deployments.apps -n app --name web" \
    "update configmaps -n app --name c" "create namespaces" \
    "create clusterroles.rbac.authorization.k8s.io" "create roles.rbac.authorization.k8s.io -n app" \
    "update clusterroles.rbac.authorization.k8s.io --name aks-service" \
    "patch roles.rbac.authorization.k8s.io -n app --name r" \
    "delete clusterroles.rbac.authorization.k8s.io --name aks-service" \
    "create clusterrolebindings.rbac.authorization.k8s.io" \
    "create rolebindings.rbac.authorization.k8s.io -n app" \
    "update clusterrolebindings.rbac.authorization.k8s.io --name aks-support-jit" \
    "delete rolebindings.rbac.authorization.k8s.io -n app --name x" \
    "bind clusterroles.rbac.authorization.k8s.io --name cluster-admin" \
    "bind roles.rbac.authorization.k8s.io -n app --name r" \
    "escalate clusterroles.rbac.authorization.k8s.io --name aks-service" \
    "escalate roles.rbac.authorization.k8s.io -n app --name r" \
    "impersonate users --name admin" "impersonate groups --name system:masters" \
    "impersonate serviceaccounts -n kube-system --name default" "impersonate uids.authentication.k8s.io --name 1" \
    "impersonate userextras.authentication.k8s.io --subresource scopes --name x" \
    "update certificatesigningrequests.certificates.k8s.io --subresource approval --name c" \
    "approve signers.certificates.k8s.io --name kubernetes.io/kube-apiserver-client" \
    "create tokenreviews.authentication.k8s.io" \
    "update validatingwebhookconfigurations.admissionregistration.k8s.io --name w"; do
    chk 1 $q
done
pass "aks-service cannot read secrets, exec, proxy, write, create roles or bindings, bind, escalate or impersonate"

# the window shows in --explain and -o json; outside it nothing is granted
chk 0 get pods --subresource log -n app --name web --explain
expect_match "$(grep '^reason:' "$T/chk.out")" \
  "^reason: RBAC: allowed by ClusterRoleBinding \"aks-support-jit\" of ClusterRole \"aks-service\" to Group \"aks-support-jit\", time-bound from $(stamp $((now - 3600000))) until $(stamp $((now + 3600000)))\$" \
  "--explain names the window"
chk 0 get pods -n app -o json
expect_eq "$(jq -c '.decision.window' "$T/chk.out")" \
  "{\"notBefore\":\"$(stamp $((now - 3600000)))\",\"expiresAt\":\"$(stamp $((now + 3600000)))\",\"outside\":false}" "-o json window"
sed -i "s/$(stamp $((now + 3600000)))/$(stamp $((now - 1000)))/" "$T/pol/aks-service.yaml"
chk 1 get pods -n app --explain
expect_match "$(grep '^reason:' "$T/chk.out")" \
  "cannot get resource \"pods\" .*: RBAC: outside the validity window of ClusterRoleBinding \"aks-support-jit\" .* \\(expired at $(stamp $((now - 1000)))\\)\$" \
  "--explain names the lapsed window"
"$AUTHGATE" check --policy "$AG_SOURCE_DIR/config/policies" --as eng --as-group aks-support-jit \
  get pods -A --explain >"$T/chk.out" || true
expect_match "$(cat "$T/chk.out")" 'not yet valid, starts at 2030-01-07T09:00:00Z' "the shipped example is a future window"
pass "check --explain and -o json show the window"

# ---- 2. malformed windows: load errors naming the file and the object -----------------
bad() { # bad ANNOTATIONS EXPECTED_STDERR_REGEX
    cat >"$T/bad.yaml" <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: oncall
  namespace: app
  annotations:
$1
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: User, name: eng}]
YAML
    local rc=0
    "$AUTHGATE" check --policy "$T/bad.yaml" --as eng get pods -n app >"$T/bad.out" 2>&1 || rc=$?
    [ "$rc" = 2 ] || fail "malformed window loaded (rc $rc): $1"
    expect_match "$(cat "$T/bad.out")" "$2" "error for: $1"
}
bad '    authgate.io/expires-at: "next friday"' \
  "$T/bad.yaml:7:29: RoleBinding \"oncall\" in namespace \"app\": metadata.annotations\\[\"authgate.io/expires-at\"\\]: \"next friday\" is not an RFC 3339 time"
bad '    authgate.io/not-before: "2026-02-30T00:00:00Z"' 'bad.yaml:7:29: RoleBinding "oncall" .*"2026-02-30T00:00:00Z" is not an RFC 3339 time'
bad '    authgate.io/expires-at: "1796679000"' 'bad.yaml:7:29: .*"1796679000" is not an RFC 3339 time'
bad '    authgate.io/expires-at: 2026-12-07' 'bad.yaml:7:29: plain scalar is typed differently' # YAML's own refusal
bad '    authgate.io/expiry: "2026-12-07T21:30:00Z"' 'RoleBinding "oncall" in namespace "app": .*"authgate.io/expiry"\]: unknown annotation'
bad $'    authgate.io/not-before: "2026-12-07T22:00:00Z"\n    authgate.io/expires-at: "2026-12-07T21:00:00Z"' 'the window is empty'
pass "malformed windows are load errors with FILE:LINE:COL and the object's name"

# ---- 3. a running gateway: expiry and start with no outside signal ---------------------
PODS=/api/v1/namespaces/default/pods
start_upstream
authz_keys
read -r ALICE BOB < <(node "$MINT" tokens "$T" alice bob | paste -sd' ')
mkdir -p "$T/live"
boundary=$(($(ms) + 2000))
cat >"$T/live/jit.yaml" <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: alice-jit
  annotations: {authgate.io/expires-at: "$(stamp $boundary)"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: User, name: alice}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: bob-jit
  namespace: default
  annotations: {authgate.io/not-before: "$(stamp $boundary)"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: User, name: bob}]
YAML
authz_config "$T/gw.json" "\"$T/live\"" '"reload_interval": "0s"' \
  '"audit": {"file": "'"$T"'/audit.log", "level": "Metadata"}'
start_gateway "$T/gw.json"
expect_eq "$(metric authgate_policy_generation)" 1 "first generation"
# Every 50 ms until 2.2 s past the boundary: (ms, alice's code, bob's code)
: >"$T/trace"
while :; do
    t=$(ms)
    [ "$t" -gt $((boundary + 2200)) ] && break
    a=$(req GET /api/v1/namespaces/default/pods "$ALICE")
    b=$(req GET /api/v1/namespaces/default/pods "$BOB")
    echo "$t $(ms) $a $b" >>"$T/trace"
    sleep 0.05
done
# t0 t1 (the two requests ran in [t0, t1]) alice bob
awk -v B="$boundary" '
  $2 < B - 50 && ($3 != 200 || $4 != 403) { print "before the boundary: " $0; bad = 1 }
  $1 >= B + 1000 && ($3 != 403 || $4 != 200) { print "a second after the boundary: " $0; bad = 1 }
  $2 < B - 50 { early++ } $1 >= B + 1000 { late++ }
  END { if (early < 2 || late < 2) { print "too few samples: " early " before, " late " after"; bad = 1 }
        exit bad }' "$T/trace" || fail "window not enforced on time: $(cat "$T/trace")"
first403=$(awk '$3 == 403 { print $1; exit }' "$T/trace")
[ $((first403 - boundary)) -le 1000 ] || fail "alice refused only $((first403 - boundary)) ms after expiry"
kill -0 "$GW_PID" || fail "gateway died"
grep -q 'SIGHUP\|reloaded because' "$GW_LOG" && fail "something signalled a reload"
pass "a binding expiring 2 s ahead granted, then refused (first refused request sent $((first403 - boundary)) ms from expires-at); bob's began at not-before"
# the gateway rebuilt at the boundary by itself; the audit reasons name the window
wait_generation 2
expect_eq "$(metric authgate_policy_window_rebuilds_total)" 1 "one rebuild at the boundary"
grep -q "window opens or closes now" "$GW_LOG" || fail "no boundary log line"
audit_done() { [ "$(grep -c '"username":"alice"' "$T/audit.log")" -ge "$(wc -l <"$T/trace")" ]; }
wait_until 5 "the audit events" audit_done
reasons=$(jq -r 'select(.user.username == "alice") | .annotations["authorization.k8s.io/reason"] // ""' "$T/audit.log")
expect_match "$(head -1 <<<"$reasons")" \
  "^RBAC: allowed by ClusterRoleBinding \"alice-jit\" of ClusterRole \"view\" to User \"alice\", time-bound until $(stamp $boundary)\$" "allowed reason"
expect_match "$(tail -1 <<<"$reasons")" \
  "^RBAC: outside the validity window of ClusterRoleBinding \"alice-jit\" .*, time-bound until $(stamp $boundary) \\(expired at $(stamp $boundary)\\)\$" "refused reason"
expect_eq "$(jq -r 'select(.user.username == "bob") | .annotations["authorization.k8s.io/reason"] // ""' "$T/audit.log" | head -1 | grep -c 'not yet valid')" 1 "bob's early reason"
pass "audit reasons name the window; the policy was rebuilt at the boundary"

# ---- 4. from the cluster -------------------------------------------------------------------
read -r CAROL DAVE ERIN < <(node "$MINT" tokens "$T" carol dave erin | paste -sd' ')
rbac_api_start --bookmark-ms 300
crb() { # crb NAME USER ANNOTATIONS-JSON: a ClusterRoleBinding to view
    printf '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"%s","annotations":%s},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"%s"}]}' "$1" "$3" "$2"
}
cboundary=$(($(ms) + 4000))
rbac_bulk "[{\"op\":\"put\",\"object\":$(crb carol-jit carol "{\"authgate.io/expires-at\":\"$(stamp $cboundary)\"}")},
  {\"op\":\"put\",\"object\":$(crb dave-jit dave '{"authgate.io/expires-at":"in two hours"}')},
  {\"op\":\"put\",\"object\":$(crb erin-view erin '{}')}]"
rbac_config "$T/gwc.json" "" '"coalesce": "20ms"'
start_gateway "$T/gwc.json" gwc
cready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/readyz")" = 200 ]; }
wait_until 10 "the cluster sync" cready
expect_eq "$(gw_req "$GW_PORT" GET "$PODS" "$CAROL")" 200 "carol inside her cluster window"
expect_eq "$(gw_req "$GW_PORT" GET "$PODS" "$DAVE")" 403 "dave's binding was refused"
expect_eq "$(gw_req "$GW_PORT" GET "$PODS" "$ERIN")" 200 "the rest loaded"
expect_eq "$(admin_metric "$ADMIN_PORT" authgate_rbac_sync_refused_objects_total)" 1 "one object refused, counted"
grep -q 'clusterrolebindings: 1 object(s) refused, they grant nothing: .*ClusterRoleBinding \\"dave-jit\\".*"in two hours" is not an RFC 3339 time' "$GW_LOG" ||
  grep -q 'refused, they grant nothing: .*dave-jit.*in two hours.* is not an RFC 3339 time' "$GW_LOG" ||
  fail "no WARN naming the refused object: $(grep -i refused "$GW_LOG")"
# the update that breaks erin's window takes her grant away (never left permanent)
rbac_bulk "[{\"op\":\"put\",\"object\":$(crb erin-view erin '{"authgate.io/not-before":"yesterday"}')}]"
within_ms 2000 "$GW_PORT" "$ERIN" "$PODS" 403 >/dev/null
# carol's lapses at expires-at with no change in the store
while [ "$(ms)" -lt $((cboundary - 300)) ]; do sleep 0.05; done
: >"$T/ctrace"
while [ "$(ms)" -lt $((cboundary + 1200)) ]; do
    t0=$(ms)
    c=$(gw_req "$GW_PORT" GET "$PODS" "$CAROL")
    echo "$t0 $(ms) $c" >>"$T/ctrace"
done
took=$(awk -v B="$cboundary" '$3 == 403 && $1 >= B { print $2 - B; exit }' "$T/ctrace")
awk -v B="$cboundary" '($2 < B && $3 != 200) || ($1 >= B && $3 != 403) { bad = 1 } END { exit bad }' "$T/ctrace" ||
  fail "carol's window not enforced to the request: $(awk -v B="$cboundary" '{print $1 - B, $2 - B, $3}' "$T/ctrace" | paste -sd' ')"
pass "cluster JIT binding: every request sent after expires-at refused (first answered ${took} ms after it); a bad window refuses its object alone (counted) and an update breaking one removes the grant"
