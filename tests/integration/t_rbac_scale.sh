#!/usr/bin/env bash
# Scale of Kubernetes RBAC from the cluster (issue 13), label "bench" (not in the sanitizer
# pass): the fake API server holds 100,000 RBAC objects (1,000 Roles, 98,999 RoleBindings,
# one ClusterRoleBinding for the traffic's user); the gateway lists them by pages of 500
# (time to ready and its RSS are printed), then takes 1,000 changes/s for 30 s
# (tests/integration/rbac_churn.mjs) while loadgen sends keep-alive requests at a constant
# rate. Asserts: every request answered 2xx, every probe flip seen (within 5 s), the churn
# delivered. Prints event-to-effect p50/p99 both as the gateway measures it
# (authgate_rbac_sync_event_to_effect_seconds: watch event in -> snapshot with it in force)
# and from the outside (a binding changed in the store -> the gateway's answer flips), the
# rebuild times and the machine's load, and whether p99 is under 1 s (the issue's goal);
# SCALE_ENFORCE_P99=1 makes a miss fail the test (not the default: on a shared machine the
# figure measures the neighbours as much as the gateway). SCALE_N, SCALE_RATE and
# SCALE_SECONDS override the sizes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/authz_lib.sh"
. "$(dirname "$0")/rbacsync_lib.sh"

N=${SCALE_N:-100000}
RATE=${SCALE_RATE:-1000}
SECS=${SCALE_SECONDS:-30}
NNS=1000
LOADGEN=${AG_BUILD_DIR:-$AG_SOURCE_DIR/build}/loadgen
[ -x "$LOADGEN" ] || fail "no loadgen at $LOADGEN"

authz_keys
python3 - "$T/initial.json" "$N" "$NNS" <<'PY'
import json, sys
out, n, nns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
G = "rbac.authorization.k8s.io"
items = [{"apiVersion": G + "/v1", "kind": "Role", "metadata": {"name": "reader", "namespace": f"ns-{i}"},
          "rules": [{"apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": ["get", "list"]}]}
         for i in range(nns)]
items.append({"apiVersion": G + "/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "load-view"},
              "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": "view"},
              "subjects": [{"apiGroup": G, "kind": "User", "name": "load"}]})
nb = n - len(items)
for i in range(nb):
    items.append({"apiVersion": G + "/v1", "kind": "RoleBinding",
                  "metadata": {"name": f"rb-{i}", "namespace": f"ns-{i % nns}"},
                  "roleRef": {"apiGroup": G, "kind": "Role" if i % 2 == 0 else "ClusterRole",
                              "name": "reader" if i % 2 == 0 else "edit"},
                  "subjects": [{"apiGroup": G, "kind": "User", "name": f"user-{i}"},
                               {"apiGroup": G, "kind": "Group", "name": f"group-{i % 500}"}]})
json.dump({"apiVersion": "v1", "kind": "List", "items": items}, open(out, "w"))
print(nb)
PY
NB=$((N - NNS - 1))
rbac_api_start --rbac-file "$T/initial.json" --bookmark-ms 1000
read -r LOAD PROBE < <(node "$MINT" tokens "$T" load probe | paste -sd' ')
echo "$LOAD" >"$T/tokens.txt"

# ---- initial sync ------------------------------------------------------------------------
rbac_config "$T/gw.json" "" '"page_size": 500, "coalesce": "50ms"'
t0=$(date +%s%3N)
start_gateway "$T/gw.json"
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/readyz")" = 200 ]; }
wait_until 120 "the initial sync of $N objects" ready
sync_ms=$(($(date +%s%3N) - t0))
rss() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$GW_PID/status"; }
rss_sync=$(rss VmRSS)
objs=$(admin_metric "$ADMIN_PORT" 'authgate_rbac_sync_objects{kind="RoleBinding"}')
[ "$objs" = "$NB" ] || fail "rolebindings in the store: $objs, want $NB"
expect_eq "$(gw_req "$GW_PORT" GET /api/v1/namespaces/default/pods "$LOAD")" 200 "the traffic's user"
echo "initial sync: $N objects by pages of 500 in $sync_ms ms (gateway start to /readyz 200); VmRSS $((rss_sync / 1024)) MiB"

# ---- churn under keep-alive traffic ----------------------------------------------------------
"$LOADGEN" --rate 200 --duration "$((SECS + 2))" --warmup 1 --connections 8 --tokens "$T/tokens.txt" \
    --timeout 5 --json "$T/load.json" --quiet "http://127.0.0.1:$GW_PORT/api/v1/namespaces/default/pods" \
    >"$T/loadgen.out" 2>&1 &
LG=$!
AG_PIDS+=($LG)
sleep 1.5
node "$AG_SOURCE_DIR/tests/integration/rbac_churn.mjs" "$API_PORT" "$GW_PORT" "$PROBE" "$RATE" "$SECS" \
    "$NB" "$NNS" "$T/churn.json" >"$T/churn.out" 2>&1 || fail "churn driver: $(cat "$T/churn.out")"
lg_rc=0
wait "$LG" || lg_rc=$?
rss_end=$(rss VmRSS)
hwm=$(rss VmHWM)
kill -0 "$GW_PID" || fail "gateway died"

# ---- figures ---------------------------------------------------------------------------------
curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" >"$T/metrics.txt"
read -r hp50 hp99 hn < <(python3 - "$T/metrics.txt" <<'PY'
import re, sys
b = []
for line in open(sys.argv[1]):
    m = re.match(r'authgate_rbac_sync_event_to_effect_seconds_bucket\{le="([^"]+)"\} (\d+)', line)
    if m:
        b.append((float("inf") if m.group(1) == "+Inf" else float(m.group(1)), int(m.group(2))))
n = b[-1][1] if b else 0
q = lambda p: next((le for le, c in b if c >= p * n), float("nan")) * 1000
print(f"{q(0.5):.0f} {q(0.99):.0f} {n}")
PY
)
churn=$(cat "$T/churn.json")
echo "churn: $(jq -r '"\(.sent) changes (\(.rate | floor)/s)"' <<<"$churn") for ${SECS} s under keep-alive traffic"
echo "event-to-effect, gateway histogram (bucket bounds): p50 <= $hp50 ms, p99 <= $hp99 ms over $hn changes"
echo "event-to-effect, outside probe (store write -> answer flips): $(jq -r '"p50 \(.p50_ms) ms, p99 \(.p99_ms) ms, max \(.max_ms) ms over \(.probes) flips, \(.missed) missed"' <<<"$churn")"
echo "traffic: $(jq -r '"\(.completed) requests at \(.achieved_rate | floor)/s, \(.ok_2xx) 2xx, \(.failed) failed, non-2xx \(.non_2xx)"' "$T/load.json") (loadgen exit $lg_rc)"
# rebuilds from the source log one line a second at most: the times are a sample
builds=$(sed -n 's/.*policy reloaded in \([0-9]*\) ms.*/\1/p' "$GW_LOG" | sort -n)
echo "policy rebuilds: $(admin_metric "$ADMIN_PORT" 'authgate_policy_reloads_total{result="ok"}') (wall ms of the $(wc -l <<<"$builds") logged: median $(awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}' <<<"$builds"), max $(tail -1 <<<"$builds")); VmRSS after churn $((rss_end / 1024)) MiB, peak $((hwm / 1024)) MiB; load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"

# ---- verdicts ----------------------------------------------------------------------------------
[ "$lg_rc" = 0 ] || fail "requests failed under churn: $(tail -5 "$T/loadgen.out")"
[ "$(jq '.completed > 0 and .completed == .ok_2xx and .failed == 0' "$T/load.json")" = true ] ||
    fail "not every request answered 2xx: $(jq -c '{completed, ok_2xx, failed, non_2xx, errors}' "$T/load.json")"
[ "$(jq .missed <<<"$churn")" = 0 ] || fail "a probe flip never came"
[ "$(jq '.sent >= '"$((RATE * SECS * 9 / 10))" <<<"$churn")" = true ] || fail "the churn fell short: $churn"
goal=met
{ [ "$hp99" -le 1000 ] 2>/dev/null && [ "$(jq '.p99_ms < 1000' <<<"$churn")" = true ]; } || goal=missed
echo "goal (event-to-effect p99 under 1 s): $goal"
[ "$goal" = met ] || [ "${SCALE_ENFORCE_P99:-0}" != 1 ] || fail "event-to-effect p99: gateway <= $hp99 ms, probe $(jq .p99_ms <<<"$churn") ms"
pass "$N objects synced in $sync_ms ms; $RATE changes/s for $SECS s with zero failed requests (p99 goal $goal)"
