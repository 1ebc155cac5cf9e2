#!/usr/bin/env bash
# While the upstream is down every request is answered 503; the log says so at most once a
# second per worker, with the number of lines held back since the previous one (STYLE:
# repeated upstream failures are rate-limited), instead of two WARN lines per request.
# Found by the soak: each upstream restart wrote two lines per request in flight. With one
# worker, every 503 is accounted for: the lines plus their held-back counts add up to the
# number of answers, for "answered 503" and for "while connecting" alike.
. "$(dirname "$0")/lib.sh"

# a port nothing listens on
UP_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
plain_config "$T/gw.json"
sed -i 's/"workers": 2/"workers": 1/' "$T/gw.json"
start_gateway "$T/gw.json"

# 300 requests from 10 keep-alive clients, then (past the 1 s window) one more, whose line
# carries the count held back during the burst.
burst() {
    python3 - "$GW_PORT" "$1" <<'PY'
import http.client, sys, threading
port, n = int(sys.argv[1]), int(sys.argv[2])
codes = []
def run(k):
    for _ in range(k):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/api/v1/pods")
        codes.append(c.getresponse().status)
        c.close()
ts = [threading.Thread(target=run, args=(n // 10 or 1,)) for _ in range(min(n, 10))]
[t.start() for t in ts]
[t.join() for t in ts]
print(" ".join(sorted(set(map(str, codes)))), len(codes))
PY
}
t0=$(date +%s%N)
expect_eq "$(burst 300)" "503 300" "every request of the burst answered 503"
secs=$((($(date +%s%N) - t0) / 1000000000 + 1))
sleep 1.1
expect_eq "$(burst 1)" "503 1" "one more after the window"

# lines COUNT_REGEX: "<number of lines> <lines + held-back counts>"
account() {
    grep -E "$1" "$GW_LOG" |
        awk '{n++; h = 0; if (match($0, /[0-9]+ more /)) h = substr($0, RSTART, RLENGTH) + 0
              s += h + 1} END {print n + 0, s + 0}'
}
read -r n_ans sum_ans < <(account 'answered 503 ')
expect_match "$(grep -m1 'answered 503 ' "$GW_LOG")" ' client=127\.0\.0\.1 auditID=[0-9a-f-]{36}$' \
  "the 503 line names the client and the request's audit ID"
read -r n_conn sum_conn < <(account 'while connecting')
echo "# $n_ans 'answered 503' lines for 301 answers, $n_conn 'while connecting' lines (burst ${secs} s)"
((n_ans >= 2 && n_ans <= secs + 2)) || fail "$n_ans 'answered 503' lines for a ${secs} s burst"
((n_conn >= 2 && n_conn <= secs + 2)) || fail "$n_conn 'while connecting' lines for a ${secs} s burst"
expect_eq "$sum_ans" 301 "503 answers accounted for by the log lines and their held-back counts"
expect_eq "$sum_conn" 301 "connect failures accounted for likewise"
pass "upstream down: $n_ans + $n_conn WARN lines for 301 requests, every one counted"
