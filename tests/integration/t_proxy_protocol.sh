#!/usr/bin/env bash
# PROXY protocol on the main listener (listen.proxy_protocol). HAProxy in TCP mode in
# front sends v1 (send-proxy) and v2 (send-proxy-v2), the TLS session passes through it to
# the gateway, and the client address HAProxy saw is the one the audit log's sourceIPs
# (followed by HAProxy's own), the upstream's X-Forwarded-For and the log lines carry.
# Raw bytes (proxyproto_cases.py) for everything else, on a TLS and a plain listener:
# each address family and command; from an untrusted source a header is a 400 and a
# close; from the trusted one a missing, malformed, oversized, truncated or slow header is
# refused within timeouts.header_read and counted in authgate_proxy_protocol_errors_total.
# Trust on loopback: trusted is 127.0.0.2/32 (HAProxy connects from it with "source");
# the other clients connect from 127.0.0.1 and 127.0.0.3.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/authz_lib.sh"

command -v haproxy >/dev/null || fail "haproxy is not installed (scripts/deps.sh test installs it)"
gen_certs
start_upstream
authz_keys
ALICE=$(token alice devs)
POLICY="$AG_SOURCE_DIR/tests/integration/authz_policy.json"
AUDIT=$T/audit.log
HEADER_TIMEOUT=2
CASES="$AG_SOURCE_DIR/tests/integration/proxyproto_cases.py"

# pp_config FILE LISTEN_EXTRA TOP_EXTRA: authenticated, authorized, audited gateway.
pp_config() {
    cat >"$1" <<JSON
{
  "listen": {"address": "127.0.0.1:0"$2},
  "upstream": {"url": "http://127.0.0.1:$UP_PORT"},
  "admin": {"address": "127.0.0.1:0"},
  "workers": 2,
  "log": {"level": "debug"},
  "timeouts": {"header_read": "${HEADER_TIMEOUT}s"},
  "authentication": {"issuers": [{"issuer": "https://idp.test", "audiences": ["authgate"],
      "keys": {"jwks_file": "$T/jwks.json"},
      "claims": {"username": "sub", "username_prefix": "-", "groups": "groups"}}]},
  "authorization": {"rbac": {"policies": ["$POLICY"]}},
  "audit": {"file": "$AUDIT"}$3
}
JSON
}
TRUST=', "proxy_protocol": {"trusted": ["127.0.0.2/32", "::1/128"]}'
TLS=", \"tls\": {\"cert\": \"$PKI/server.crt\", \"key\": \"$PKI/server.key\"}"

# audit_ips CASE: the sourceIPs of the audit event whose requestURI names ?case=CASE.
audit_ips() {
    local i
    for ((i = 0; i < 200; i++)); do
        grep -q "case=$1\"" "$AUDIT" 2>/dev/null && break
        sleep 0.05
    done
    grep "case=$1\"" "$AUDIT" | tail -n 1 | jq -c .sourceIPs
}
# upstream_xff CASE: X-Forwarded-For of the upstream request for ?case=CASE.
upstream_xff() {
    grep "case=$1\"" "$UP_LOG" | tail -n 1 |
        jq -r '.headers[] | select(.[0] | ascii_downcase == "x-forwarded-for") | .[1]'
}
pp_metric() { metric "authgate_proxy_protocol_errors_total{reason=\"$1\"}"; }
# The refusal counts are compared as deltas over a step, each read once no client
# connection is open: start_haproxy's readiness probes reach the gateway through HAProxy
# and close at once, and one reset before the gateway read its peer address is refused
# from "an unknown address" and counted as untrusted (seen under ASan: 4 for 3); a late
# connection of an earlier step must not land in a later step's count either.
PP_REASONS="untrusted missing malformed oversized truncated timeout"
declare -A PP_BASE
no_conns() { [ "$(metric authgate_connections_open)" = 0 ]; }
pp_snapshot() { # the counts now, once every connection so far is closed (and counted)
    local r
    wait_until 20 "the gateway's connections to close" no_conns
    for r in $PP_REASONS; do PP_BASE[$r]=$(pp_metric "$r"); done
}
pp_delta() { echo $(($(pp_metric "$1") - ${PP_BASE[$1]})); }

# ---- HAProxy in front of the TLS listener ---------------------------------------------
pp_config "$T/gw.json" "$TRUST" "$TLS"
start_gateway "$T/gw.json"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
free_port6() { python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0)); print(s.getsockname()[1])'; }
start_haproxy() { # HAProxy needs fixed ports: free ones, again on a collision
    local try
    for try in 1 2 3 4 5; do
        P1=$(free_port) P2=$(free_port) P3=$(free_port6)
        cat >"$T/haproxy.cfg" <<CFG
global
    maxconn 200
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend v1
    bind 127.0.0.1:$P1
    default_backend gw_v1
frontend v2
    bind 127.0.0.1:$P2
    bind [::1]:$P3
    default_backend gw_v2
backend gw_v1
    server gw 127.0.0.1:$GW_PORT send-proxy source 127.0.0.2
backend gw_v2
    server gw 127.0.0.1:$GW_PORT send-proxy-v2 source 127.0.0.2
CFG
        haproxy -db -f "$T/haproxy.cfg" >"$T/haproxy.log" 2>&1 &
        HAPROXY_PID=$!
        AG_PIDS+=($HAPROXY_PID)
        local i
        for ((i = 0; i < 50; i++)); do
            kill -0 "$HAPROXY_PID" 2>/dev/null || break
            if python3 -c "import socket,sys; [socket.create_connection(a, 1).close() for a in
                [('127.0.0.1', $P1), ('127.0.0.1', $P2), ('::1', $P3)]]" 2>/dev/null; then
                return 0
            fi
            sleep 0.1
        done
        kill "$HAPROXY_PID" 2>/dev/null || true
        echo "haproxy did not start on $P1/$P2/$P3 (try $try): $(tail -2 "$T/haproxy.log")" >&2
    done
    fail "haproxy did not start"
}
start_haproxy
via() { # via CASE URL [curl args]: GET through HAProxy from 127.0.0.3, prints the status
    local c=$1 u=$2
    shift 2
    curl -s -o "$T/body" -w '%{http_code}' --cacert "$PKI/ca.crt" -H "Authorization: Bearer ${TOKEN:-$ALICE}" \
        "$@" "$u/api/v1/namespaces/default/pods?case=$c"
}
expect_eq "$(via haproxy-v1 "https://127.0.0.1:$P1" --interface 127.0.0.3)" 200 "v1 through HAProxy"
expect_eq "$(audit_ips haproxy-v1)" '["127.0.0.3","127.0.0.2"]' "v1: audit sourceIPs = client, HAProxy"
expect_eq "$(upstream_xff haproxy-v1)" 127.0.0.3 "v1: X-Forwarded-For upstream"
expect_eq "$(via haproxy-v2 "https://127.0.0.1:$P2" --interface 127.0.0.3)" 200 "v2 through HAProxy"
expect_eq "$(audit_ips haproxy-v2)" '["127.0.0.3","127.0.0.2"]' "v2: audit sourceIPs"
expect_eq "$(upstream_xff haproxy-v2)" 127.0.0.3 "v2: X-Forwarded-For upstream"
expect_eq "$(via haproxy-v2-ipv6 "https://localhost:$P3" --resolve "localhost:$P3:[::1]")" 200 \
    "v2 through HAProxy from an IPv6 client"
expect_eq "$(audit_ips haproxy-v2-ipv6)" '["::1","127.0.0.2"]' "v2 TCP6: audit sourceIPs"
expect_eq "$(upstream_xff haproxy-v2-ipv6)" ::1 "v2 TCP6: X-Forwarded-For upstream"
# the per-request log lines name the client, not HAProxy
expect_eq "$(TOKEN=nope via haproxy-v1-denied "https://127.0.0.1:$P1" --interface 127.0.0.3)" 401 \
    "bad token through HAProxy"
client_logged() { grep -E '401' "$GW_LOG" | tail -3 | grep -q '127\.0\.0\.3'; }
wait_until 10 "the 401 log line" client_logged
expect_match "$(grep -E '401' "$GW_LOG" | tail -3)" '127\.0\.0\.3' "log line names the client"
# direct, untrusted, no header: the TCP peer is the client
expect_eq "$(via direct "https://127.0.0.1:$GW_PORT" --interface 127.0.0.1)" 200 "direct client"
expect_eq "$(audit_ips direct)" '["127.0.0.1"]' "direct: audit sourceIPs"
# HAProxy's own address without its header: trusted, so refused
out=$(curl -sS --cacert "$PKI/ca.crt" --interface 127.0.0.2 "https://127.0.0.1:$GW_PORT/" 2>&1 || true)
expect_match "$out" 'SSL|TLS|wrong version' "trusted source without a header: no TLS session"
pass "HAProxy v1 and v2 in front of TLS: client address in audit, X-Forwarded-For and logs"

# ---- raw bytes against the TLS listener -------------------------------------------------
pp_snapshot
echo "PROXY protocol matrix, TLS listener (case | expected | observed):"
python3 "$CASES" --port "$GW_PORT" --ca "$PKI/ca.crt" --token "$ALICE" \
    --header-timeout "$HEADER_TIMEOUT" | tee "$T/matrix-tls.txt" || fail "TLS listener matrix"
for c in v1-tcp4:'["198.51.100.7","127.0.0.2"]' v1-tcp6:'["2001:db8::7","127.0.0.2"]' \
    v1-unknown:'["127.0.0.2"]' v2-tcp4-tlvs:'["203.0.113.9","127.0.0.2"]' \
    v2-tcp6:'["2001:db8::9","127.0.0.2"]' v2-local:'["127.0.0.2"]' v2-unspec:'["127.0.0.2"]' \
    untrusted-no-header:'["127.0.0.1"]'; do
    expect_eq "$(audit_ips "${c%%:*}")" "${c#*:}" "audit sourceIPs for ${c%%:*}"
done
expect_eq "$(upstream_xff v2-tcp6)" 2001:db8::9 "X-Forwarded-For for v2-tcp6"
# counted by reason: exactly the matrix's own refusals
wait_until 20 "the matrix's connections to close" no_conns
expect_eq "$(pp_delta untrusted)" 3 "untrusted refusals counted"
expect_eq "$(pp_delta missing)" 3 "missing headers counted"
expect_eq "$(pp_delta malformed)" 11 "malformed headers counted"
expect_eq "$(pp_delta oversized)" 2 "oversized headers counted"
expect_eq "$(pp_delta truncated)" 2 "truncated headers counted"
expect_eq "$(pp_delta timeout)" 2 "slow headers counted (a silent connection is not)"
# Refusal lines are limited to one a second per worker, so the matrix's own refusals from
# 127.0.0.1 may all have shared their second with another one (seen under ASan on a
# loaded machine): one more untrusted header, in a fresh second, must be logged.
sleep 1.1
printf 'PROXY TCP4 192.0.2.1 192.0.2.2 1000 443\r\n' | raw "$GW_PORT" >/dev/null || true
refusal_logged() { grep -q 'refused a connection from 127.0.0.1' "$GW_LOG"; }
wait_until 10 "the refusal log line" refusal_logged
expect_match "$(grep 'refused a connection from 127.0.0.1' "$GW_LOG" | head -1)" \
    'PROXY protocol header not accepted from this address \(listen.proxy_protocol.trusted does not list it' \
    "refusal logged with the reason"
kill -0 "$GW_PID" || fail "gateway died"
pass "TLS listener: every case as expected, audited and counted"

# ---- raw bytes against a plain HTTP listener ---------------------------------------------
kill "$GW_PID"
wait "$GW_PID" 2>/dev/null || true
: >"$AUDIT"
pp_config "$T/gw2.json" "$TRUST" ""
start_gateway "$T/gw2.json" gw2
echo "PROXY protocol matrix, plain HTTP listener (case | expected | observed):"
python3 "$CASES" --port "$GW_PORT" --token "$ALICE" --header-timeout "$HEADER_TIMEOUT" |
    tee "$T/matrix-plain.txt" || fail "plain listener matrix"
expect_eq "$(audit_ips v1-tcp4)" '["198.51.100.7","127.0.0.2"]' "plain: audit sourceIPs for v1"
expect_eq "$(upstream_xff v2-tcp4-tlvs)" 203.0.113.9 "plain: X-Forwarded-For for v2"
pass "plain listener: every case as expected"

# ---- no proxy_protocol section: a header is refused from everyone -------------------------
kill "$GW_PID"
wait "$GW_PID" 2>/dev/null || true
pp_config "$T/gw3.json" "" "$TLS"
start_gateway "$T/gw3.json" gw3
python3 "$CASES" --port "$GW_PORT" --ca "$PKI/ca.crt" --token "$ALICE" --header-timeout 2 \
    --only untrusted-v1,untrusted-v2,untrusted-no-header ||
    fail "without listen.proxy_protocol"
out=$(python3 - "$GW_PORT" <<'PY'
import socket, sys
s = socket.socket(); s.bind(("127.0.0.2", 0)); s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"PROXY TCP4 198.51.100.7 10.0.0.1 1 2\r\n"); s.settimeout(3)
print(s.recv(100).split(b"\r\n")[0].decode())
PY
)
expect_eq "$out" "HTTP/1.1 400 Bad Request" "without listen.proxy_protocol, 127.0.0.2 is not trusted"
pass "without listen.proxy_protocol every PROXY header is refused"
