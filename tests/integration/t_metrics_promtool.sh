#!/usr/bin/env bash
# /metrics as Prometheus' own linter reads it: a live scrape of a gateway that has served
# 200, 401 and 403 answers, fetched discovery and JWKS from a real OIDC provider and
# decided by RBAC must pass `promtool check metrics` with no warning at all. Also checks
# the conventions promtool does not: each histogram one family (_bucket/_sum/_count under
# one TYPE histogram), process_* from /proc, and the labels the README
# documents.
. "$(dirname "$0")/oidc_lib.sh"

command -v promtool >/dev/null || { echo "SKIP: promtool not installed (Debian package prometheus)"; exit 0; }

oidc_start
start_upstream
cat >"$T/policy.json" <<'JSON'
{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
 "metadata": {"name": "alice-view"},
 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
 "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "oidc:alice"}]}
JSON
oidc_config "$T/gw.json"
# every optional family too: audit, PROXY protocol (trusting a network no test client is in)
jq --arg p "$T/policy.json" --arg a "$T/audit.log" '.authorization = {"rbac": {"policies": [$p]}}
   | .audit = {"file": $a} | .listen.proxy_protocol = {"trusted": ["10.0.0.0/8"]}' \
  "$T/gw.json" >"$T/gw2.json"
start_gateway "$T/gw2.json"
wait_ready

tok=$(oidc_token alice)
expect_eq "$(get /api/v1/namespaces/default/pods "$tok")" 200 "allowed"
expect_eq "$(get /api/v1/namespaces/default/pods "$tok")" 200 "allowed (cached token)"
expect_eq "$(get /api/v1/pods)" 401 "no token"
expect_eq "$(get /api/v1/pods not-a-jwt)" 401 "malformed token"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $tok" \
  "http://127.0.0.1:$GW_PORT/api/v1/namespaces/default/pods/x")" 403 "forbidden"
expect_eq "$(curl -s --path-as-is -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" \
  "http://127.0.0.1:$GW_PORT/api/v1/../pods")" 400 "dot segment"

# a PROXY header from outside the trusted network: 400, counted
curl -s -o /dev/null --haproxy-protocol "http://127.0.0.1:$GW_PORT/api/v1/pods" || true
curl -sf "http://127.0.0.1:$ADMIN_PORT/metrics" >"$T/metrics.txt"
for f in authgate_audit_events_total authgate_proxy_protocol_errors_total authgate_build_info \
  authgate_jwks_fetch_total authgate_token_cache_total; do
  grep -q "^# TYPE $f " "$T/metrics.txt" || fail "family $f not in the scrape"
done
expect_eq "$(awk '$1 == "authgate_proxy_protocol_errors_total{reason=\"untrusted\"}" {print $2}' "$T/metrics.txt")" 1 \
  "untrusted PROXY header counted"
promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1 || true
if [ -s "$T/promtool.out" ]; then
  cat "$T/promtool.out" >&2
  fail "promtool check metrics reported $(wc -l <"$T/promtool.out") problem(s)"
fi
pass "promtool check metrics: no warnings"

m=$T/metrics.txt
# every family: one HELP and one TYPE line, and its samples only under it
awk '/^# TYPE/ {t[$3]++} END {for (n in t) if (t[n] != 1) {print n; bad=1} exit bad}' "$m" ||
  fail "a family with more than one TYPE line"
for h in authgate_http_request_duration_seconds authgate_authz_duration_seconds; do
  expect_match "$(grep "^# TYPE $h " "$m")" "histogram$" "$h is a histogram"
  for s in _bucket _sum _count; do
    grep -q "^$h$s[{ ]" "$m" || fail "$h has no $s series"
  done
  inf=$(awk -v n="${h}_bucket" 'index($1, n "{") == 1 && $1 ~ /le="\+Inf"/ {print $2}' "$m" | head -1)
  cnt=$(awk -v n="${h}_count" '$1 == n {print $2}' "$m")
  expect_eq "$inf" "$cnt" "$h +Inf bucket equals _count"
done
pass "histograms are single families with _bucket, _sum and _count"

for p in process_cpu_seconds_total process_resident_memory_bytes process_virtual_memory_bytes \
  process_open_fds process_max_fds process_start_time_seconds; do
  v=$(awk -v n="$p" '$1 == n {print $2}' "$m")
  [ -n "$v" ] || fail "$p missing"
done
rss_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$GW_PID/status")
rss=$(awk '$1 == "process_resident_memory_bytes" {printf "%d", $2}' "$m")
# the scrape and the read above are a moment apart: within 25%
[ "$rss" -gt $((rss_kb * 1024 * 3 / 4)) ] && [ "$rss" -lt $((rss_kb * 1024 * 5 / 4)) ] ||
  fail "process_resident_memory_bytes $rss vs VmRSS ${rss_kb} kB"
fds=$(ls "/proc/$GW_PID/fd" | wc -l)
ofd=$(awk '$1 == "process_open_fds" {print $2}' "$m")
[ $((ofd - fds)) -le 3 ] && [ $((fds - ofd)) -le 3 ] || fail "process_open_fds $ofd vs $fds"
expect_eq "$(awk '$1 == "process_max_fds" {print $2}' "$m")" "$(awk '/^Max open files/ {print $4}' "/proc/$GW_PID/limits")" "process_max_fds"
start=$(awk '$1 == "process_start_time_seconds" {printf "%d", $2}' "$m")
now=$(date +%s)
[ "$start" -le "$now" ] && [ "$start" -gt $((now - 120)) ] || fail "process_start_time_seconds $start (now $now)"
pass "process_* metrics from /proc"

# The README's labels: requests by code; authorization decisions by verb and decision.
reqs=$(grep '^authgate_http_requests_total{' "$m" | tr '\n' ' ')
expect_match "$reqs" 'code="200"} 2 ' "two 200s by code"
expect_match "$reqs" 'code="401"} 2 ' "two 401s by code"
expect_match "$reqs" 'code="403"} 1 ' "one 403 by code"
dec=$(grep '^authgate_authz_decisions_total{' "$m" | tr '\n' ' ')
expect_match "$dec" 'verb="list",decision="allow"} 2 ' "allowed lists by verb and decision"
expect_match "$dec" 'verb="delete",decision="forbid"} 1 ' "forbidden delete by verb and decision"
grep -q 'authgate_http_requests_total{code}' "$AG_SOURCE_DIR/README.md" ||
  fail "README does not name authgate_http_requests_total's labels"
pass "authgate_http_requests_total by code, authgate_authz_decisions_total by verb and decision"
