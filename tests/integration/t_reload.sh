#!/usr/bin/env bash
# Policy reload under load: while a bounded loop of keep-alive requests runs (alice, whose
# grant is in every version of the policy), the policy directory changes on disk (a new
# binding for bob; then a broken file; then a fix) and SIGHUP arrives. Expected: zero
# failed requests; the new rule takes effect within the poll interval; a broken file keeps
# the old policy, says why in the log and in authgate_policy_reloads_total{result="error"},
# and /readyz stays 200. The policy carries 20,000 filler RoleBindings so a rebuild takes
# long enough to overlap many requests.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/authz_lib.sh"

start_upstream
authz_keys
mkdir -p "$T/policy"
python3 - "$T/policy" <<'PY'
import json, sys
d = sys.argv[1]
rb = lambda name, ns, user, role: {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
    "metadata": {"name": name, "namespace": ns},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]}
items = [rb("alice-view", "default", "alice", "view")]
items += [rb(f"filler-{i}", f"ns-{i % 500}", f"user-{i}", "view") for i in range(20000)]
json.dump({"apiVersion": "v1", "kind": "List", "items": items}, open(f"{d}/base.json", "w"))
json.dump(rb("bob-edit", "default", "bob", "edit"), open(f"{d}/../bob.json", "w"))
PY
authz_config "$T/gw.json" "\"$T/policy\"" '"reload_interval": "200ms"'
start_gateway "$T/gw.json"
read -r ALICE BOB < <(node "$MINT" tokens "$T" alice bob | paste -sd' ')
expect_eq "$(req GET /api/v1/namespaces/default/pods "$BOB")" 403 "bob before the reload"
expect_eq "$(metric authgate_policy_generation)" 1 "generation 1"

# the load: 4 keep-alive clients, at most 8 s or 4000 requests each
python3 - "$GW_PORT" "$ALICE" "$T/load.json" <<'PY' &
import http.client, json, sys, threading, time
port, tok, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
res = {"ok": 0, "fail": 0, "codes": {}}
lock = threading.Lock()
stop = time.time() + 8
def run():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    n = 0
    while time.time() < stop and n < 4000:
        n += 1
        try:
            c.request("GET", "/api/v1/namespaces/default/pods", headers={"Authorization": "Bearer " + tok})
            r = c.getresponse(); r.read(); code = r.status
        except Exception as e:
            code = type(e).__name__
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        with lock:
            res["ok" if code == 200 else "fail"] += 1
            res["codes"][str(code)] = res["codes"].get(str(code), 0) + 1
ts = [threading.Thread(target=run) for _ in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
json.dump(res, open(out, "w"))
PY
LOAD=$!
sleep 1

# 1. a new file appears (written elsewhere, renamed in: one step)
cp "$T/bob.json" "$T/bob.tmp" && mv "$T/bob.tmp" "$T/policy/bob.json"
wait_generation 2
expect_eq "$(req GET /api/v1/namespaces/default/pods "$BOB")" 200 "bob after the reload"
expect_eq "$(req DELETE /api/v1/namespaces/default/pods/x "$BOB")" 200 "edit took effect"
pass "file change reloaded under load"

# 2. a broken file: the old policy stays, the log and the metric say why, still ready
printf '{"kind": "RoleBinding", "metadata": ' >"$T/broken.tmp" && mv "$T/broken.tmp" "$T/policy/zz.json"
for ((i = 0; i < 100; i++)); do
    [ "$(metric 'authgate_policy_reloads_total{result="error"}')" -ge 1 ] && break
    sleep 0.05
done
expect_eq "$(metric 'authgate_policy_reloads_total{result="error"}')" 1 "failed reload counted"
expect_eq "$(metric authgate_policy_last_reload_ok)" 0 "last reload failed"
expect_match "$(cat "$GW_LOG")" 'policy reload failed, keeping generation 2: .*zz.json' "log names the file"
expect_eq "$(metric authgate_policy_generation)" 2 "generation kept"
expect_eq "$(req GET /api/v1/namespaces/default/pods "$BOB")" 200 "bob still allowed (old policy)"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/readyz")" 200 "still ready"
pass "a broken file keeps the old policy"

# `serve --check` validates the policy files too, so the fix can be checked before it lands
out=$("$AUTHGATE" serve --config "$T/gw.json" --check 2>&1) && fail "--check accepted a broken policy"
expect_match "$out" 'zz.json:1:[0-9]+: ' "--check names the broken file"

# 3. fixed, then SIGHUP on top
rm "$T/policy/zz.json" "$T/policy/bob.json"
wait_generation 3
expect_eq "$(req GET /api/v1/namespaces/default/pods "$BOB")" 403 "bob's binding removed"
expect_match "$("$AUTHGATE" serve --config "$T/gw.json" --check)" ': ok$' "--check passes again"
kill -HUP "$GW_PID"
wait_generation 4
expect_eq "$(metric authgate_policy_last_reload_ok)" 1 "last reload ok"
pass "recovery and SIGHUP"

wait "$LOAD"
expect_eq "$(jq -r .fail "$T/load.json")" 0 "failed requests during reloads ($(cat "$T/load.json"))"
[ "$(jq -r .ok "$T/load.json")" -ge 500 ] || fail "load too small: $(cat "$T/load.json")"
echo "load: $(cat "$T/load.json"), reloads ok=$(metric 'authgate_policy_reloads_total{result="ok"}')"
pass "zero failed requests during four reloads"
