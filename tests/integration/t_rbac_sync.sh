#!/usr/bin/env bash
# Kubernetes RBAC from the cluster (issue 13): the gateway lists (by pages) and watches the
# four RBAC kinds on the fake API server and judges requests by them, combined with a local
# break-glass file. Cases: /readyz 503 naming rbac-sync until the first complete list;
# paginated initial sync; a binding added / removed in the store takes effect within 1 s;
# aggregated ClusterRoles recomputed when a labelled ClusterRole appears; a file object wins
# over a cluster object of the same identity; a dropped watch is re-watched from the last
# resourceVersion (no relist, changes made meanwhile arrive); a compacted version (410) and a
# garbage or oversized event make it relist, serving the last good state meanwhile; a
# broken watch keeps the gateway ready, unless stale_after says otherwise; the metrics.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/authz_lib.sh"
. "$(dirname "$0")/rbacsync_lib.sh"

authz_keys
python3 - "$T/initial.json" <<'PY'
import json, sys
rb = lambda name, ns, user, role: {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
    "metadata": {"name": name, "namespace": ns},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]}
items = [rb("alice-view", "default", "alice", "view")]
items += [rb(f"filler-{i}", f"ns-{i % 3}", f"user-{i}", "view") for i in range(6)]
items.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
    "metadata": {"name": "pod-reader"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]})
items.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
    "metadata": {"name": "team"}, "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"team": "yes"}}]}})
items.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
    "metadata": {"name": "dave-team"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "team"},
    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "dave"}]})
# the same identity as the break-glass file's binding, granting more: the file must win
items.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
    "metadata": {"name": "break-glass"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "mallory"}]})
json.dump({"apiVersion": "v1", "kind": "List", "items": items}, open(sys.argv[1], "w"))
PY
cat >"$T/break-glass.json" <<'JSON'
{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
 "metadata": {"name": "break-glass"},
 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
 "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "root"}]}
JSON
rbac_api_start --rbac-file "$T/initial.json" --bookmark-ms 300
read -r ALICE BOB DAVE ROOT MALLORY < <(node "$MINT" tokens "$T" alice bob dave root mallory | paste -sd' ')
PODS=/api/v1/namespaces/default/pods

# ---- readiness before the first complete list ----------------------------------------------
rbac_ctl fail -G -d status=503 >/dev/null
rbac_config "$T/gw.json" "\"$T/break-glass.json\"" '"page_size": 2, "coalesce": "20ms", "max_event_bytes": 65536'
start_gateway "$T/gw.json"
ready() { curl -s -o "$T/ready.out" -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/readyz?verbose"; }
ready_is() { [ "$(ready)" = "$1" ]; }
metric_ge() { [ "$(metric "$1")" -ge "$2" ]; }
watches_ge() { [ "$(rbac_ctl state | jq .watches)" -ge "$1" ]; }
sleep 1
expect_eq "$(ready)" 503 "not ready while the lists fail"
expect_match "$(cat "$T/ready.out")" '\[-\]rbac-sync failed: waiting for the first list of clusterroles clusterrolebindings roles rolebindings' "readyz names rbac-sync"
expect_eq "$(gw_req "$GW_PORT" GET $PODS "$ALICE")" 403 "alice (bound only in the cluster) before the sync"
expect_eq "$(gw_req "$GW_PORT" GET $PODS "$ROOT")" 200 "root (break-glass file) before the sync"
expect_match "$(cat "$GW_LOG")" 'WARN rbac sync: .*list failed: HTTP 503' "failed lists logged"
rbac_ctl fail -G -d status=0 >/dev/null
wait_until 10 "ready after the lists succeed" ready_is 200
pass "/readyz is 503 naming rbac-sync until the first complete list of all four kinds"

# ---- initial sync: pages, objects ---------------------------------------------------------
expect_eq "$(gw_req "$GW_PORT" GET $PODS "$ALICE")" 200 "alice (view in default) after the sync"
expect_eq "$(gw_req "$GW_PORT" GET /api/v1/namespaces/ns-1/pods "$(token user-1)")" 200 "a binding from page 2"
expect_eq "$(metric 'authgate_rbac_sync_objects{kind="RoleBinding"}')" 7 "RoleBindings stored"
expect_eq "$(metric 'authgate_rbac_sync_objects{kind="ClusterRole"}')" 2 "ClusterRoles stored"
expect_eq "$(metric 'authgate_rbac_sync_ready')" 1 "ready gauge"
expect_match "$(cat "$GW_LOG")" 'listed 7 rolebindings at resourceVersion [0-9]+ in 4 page\(s\)' "listed by pages of 2"
lists=$(grep -c '"target":"/apis/rbac.authorization.k8s.io/v1/rolebindings?limit=2' "$API_LOG")
[ "$lists" -ge 4 ] || fail "rolebindings listed in $lists requests, expected pages of 2"
expect_eq "$(gw_req "$GW_PORT" GET $PODS "$MALLORY")" 403 "a cluster object does not replace the file's object"
expect_eq "$(gw_req "$GW_PORT" GET /api/v1/secrets "$ROOT")" 200 "the break-glass file still grants"
pass "initial sync by pages; cluster + break-glass file, the file's object wins"

# ---- authgate check --config: the cluster listed once, the file over it ----------------------
chk() { "$AUTHGATE" check --config "$T/gw.json" --as "$1" "${@:2}"; }
expect_eq "$(chk alice get pods -n default)" yes "check: alice (cluster binding)"
expect_eq "$(chk alice get pods -n kube-system)" no "check: alice elsewhere"
expect_eq "$(chk root get secrets -A)" yes "check: root (break-glass file)"
expect_eq "$(chk mallory get pods -n default)" no "check: the file's object wins in check too"
rbac_ctl fail -G -d status=503 >/dev/null
out=$(chk alice get pods -n default 2>&1) && fail "check answered without the cluster's RBAC: $out"
expect_match "$out" 'authorization.rbac.cluster: .*list failed: HTTP 503' "check says why"
rbac_ctl fail -G -d status=0 >/dev/null
pass "authgate check --config lists the cluster's RBAC once and answers as the gateway"

# ---- changes through the watch -------------------------------------------------------------
expect_eq "$(gw_req "$GW_PORT" GET $PODS "$BOB")" 403 "bob before"
rbac_bulk "[{\"op\":\"put\",\"object\":$(rb bob-view default bob view)}]"
ms=$(within_ms 1000 "$GW_PORT" "$BOB" $PODS 200)
echo "# added binding in force after $ms ms"
rbac_bulk "[{\"op\":\"delete\",\"object\":$(rb bob-view default bob view)}]"
ms=$(within_ms 1000 "$GW_PORT" "$BOB" $PODS 403)
echo "# deleted binding revoked after $ms ms"
expect_eq "$(gw_req "$GW_PORT" GET $PODS "$DAVE")" 403 "dave: the aggregated role is empty"
rbac_bulk '[{"op":"put","object":{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"team-pods","labels":{"team":"yes"}},"rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["list"]}]}}]'
ms=$(within_ms 1000 "$GW_PORT" "$DAVE" $PODS 200)
echo "# aggregated ClusterRole recomputed after $ms ms"
[ "$(metric 'authgate_rbac_sync_event_to_effect_seconds_count')" -ge 3 ] || fail "event-to-effect not observed"
rbac_ctl kindless -G -d on=1 >/dev/null # objects in events without kind/apiVersion
rbac_bulk "[{\"op\":\"put\",\"object\":$(rb bob-view default bob view)}]"
ms=$(within_ms 1000 "$GW_PORT" "$BOB" $PODS 200)
rbac_bulk "[{\"op\":\"delete\",\"object\":$(rb bob-view default bob view)}]"
ms=$(within_ms 1000 "$GW_PORT" "$BOB" $PODS 403)
rbac_ctl kindless -G -d on=0 >/dev/null
expect_no_match "$(cat "$GW_LOG")" 'refused' "no object refused"
expect_eq "$(metric 'authgate_rbac_sync_relists_total{reason="garbage"}')" 0 "kindless events applied, not relisted"
pass "watch: a binding added, deleted, an aggregated ClusterRole recomputed, each within 1 s (also without kind in the events)"

# ---- a dropped watch: watched again from the last version, no relist -----------------------
lists_before=$(rbac_ctl state | jq .requests.list)
rbac_ctl disconnect >/dev/null
rbac_bulk "[{\"op\":\"put\",\"object\":$(rb bob-view default bob view)}]"
ms=$(within_ms 3000 "$GW_PORT" "$BOB" $PODS 200)
echo "# change made while the watch was down in force after $ms ms"
expect_eq "$(rbac_ctl state | jq .requests.list)" "$lists_before" "no list after a dropped watch"
[ "$(metric 'authgate_rbac_sync_watch_restarts_total{reason="dropped"}')" -ge 1 ] || fail "dropped watch not counted"
expect_match "$(cat "$GW_LOG")" 'WARN rbac sync: .*watch dropped.*watching again from resourceVersion [0-9]+' "drop logged"
pass "a dropped watch is re-watched from the last resourceVersion; the change made meanwhile arrives"

# ---- 410: compacted while away -> relist ---------------------------------------------------
rbac_ctl pause -G -d ms=0 >/dev/null
rbac_ctl fail -G -d status=503 >/dev/null # the watches cannot come back at once ...
rbac_ctl disconnect >/dev/null
rbac_bulk "[{\"op\":\"delete\",\"object\":$(rb bob-view default bob view)}]"
rbac_ctl compact >/dev/null # ... and their version is compacted meanwhile
sleep 0.3
expect_eq "$(ready)" 200 "still ready while the watches fail (last good state)"
expect_eq "$(gw_req "$GW_PORT" GET $PODS "$ALICE")" 200 "alice served from the last good state"
rbac_ctl fail -G -d status=0 >/dev/null
ms=$(within_ms 5000 "$GW_PORT" "$BOB" $PODS 403)
echo "# relisted after 410, deletion in force after $ms ms"
[ "$(metric 'authgate_rbac_sync_relists_total{reason="expired"}')" -ge 1 ] || fail "410 relist not counted"
pass "410 Gone after compaction: relist; the last good state served meanwhile"

# ---- garbage and oversized events -> relist -------------------------------------------------
wait_until 5 "watches open again" watches_ge 4
lists_before=$(rbac_ctl state | jq .requests.list)
rbac_ctl garbage >/dev/null
wait_until 5 "relist after garbage" metric_ge 'authgate_rbac_sync_relists_total{reason="garbage"}' 1
expect_eq "$(gw_req "$GW_PORT" GET $PODS "$ALICE")" 200 "alice still allowed after the garbage"
wait_until 5 "watches open again" watches_ge 4
rbac_ctl oversized -G -d bytes=100000 >/dev/null
wait_until 5 "relist after an oversized event" metric_ge 'authgate_rbac_sync_relists_total{reason="oversized"}' 1
[ "$(rbac_ctl state | jq .requests.list)" -gt "$lists_before" ] || fail "no list after garbage"
expect_eq "$(gw_req "$GW_PORT" GET $PODS "$ALICE")" 200 "alice still allowed after the oversized event"
expect_eq "$(metric 'authgate_rbac_sync_objects{kind="RoleBinding"}')" 7 "no half-applied state: 7 RoleBindings"
rbac_bulk "[{\"op\":\"put\",\"object\":$(rb bob-view default bob view)}]"
ms=$(within_ms 3000 "$GW_PORT" "$BOB" $PODS 200)
kill -0 "$GW_PID" || fail "gateway died"
pass "a garbage and an oversized event: relist, never a crash or a half-applied state"

# ---- stale_after: a second gateway goes unready when its watches stay down -----------------
rbac_config "$T/gw2.json" "" '"stale_after": "1s"'
GW1=$GW_PORT ADMIN1=$ADMIN_PORT
start_gateway "$T/gw2.json" gw2
wait_until 10 "second gateway ready" ready_is 200
rbac_ctl fail -G -d status=503 >/dev/null
rbac_ctl disconnect >/dev/null
wait_until 5 "stale gateway unready" ready_is 503
expect_match "$(cat "$T/ready.out")" 'rbac-sync failed: the watch of [a-z]+ has been down for [0-9]+ ms \(stale_after\)' "staleness named"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN1/readyz")" 200 "without stale_after: still ready"
rbac_ctl fail -G -d status=0 >/dev/null
wait_until 10 "ready again once the watches are back" ready_is 200
pass "stale_after: unready while the watches stay down, ready again after"
age=$(admin_metric "$ADMIN1" authgate_rbac_sync_last_event_age_seconds)
[ "$age" -le 5 ] || fail "last event age $age s with bookmarks every 300 ms"
[ "$(admin_metric "$ADMIN1" authgate_rbac_sync_snapshot_generation)" -ge 2 ] || fail "snapshot generation"
curl -sf "http://127.0.0.1:$ADMIN1/metrics" >"$T/metrics.txt"
for f in authgate_rbac_sync_objects authgate_rbac_sync_relists_total authgate_rbac_sync_watch_restarts_total \
    authgate_rbac_sync_last_event_age_seconds authgate_rbac_sync_snapshot_generation authgate_rbac_sync_ready; do
    [ "$(grep -c "^# TYPE $f " "$T/metrics.txt")" = 1 ] || fail "family $f: not exactly one TYPE line"
done
expect_match "$(grep '^# TYPE authgate_rbac_sync_event_to_effect_seconds ' "$T/metrics.txt")" 'histogram$' "latency histogram"
if command -v promtool >/dev/null; then
    promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1 || true
    [ ! -s "$T/promtool.out" ] || fail "promtool check metrics: $(cat "$T/promtool.out")"
fi
pass "metrics: objects, relists, watch restarts, last event age, generation, latency (promtool clean)"
