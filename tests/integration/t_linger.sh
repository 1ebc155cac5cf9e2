#!/usr/bin/env bash
# Lingering close is bounded (issue 11): after an answer that ends the connection while
# the client may still be sending, the gateway half-closes and reads and drops what comes,
# but for no longer than timeouts.linger in all, timeouts.linger_idle between reads and
# limits.linger_bytes; the gauge authgate_connections_lingering shows such connections
# and returns to 0. (That the client then reads the answer instead of a reset is in
# t_threat_dos and t_slow_body.)
. "$(dirname "$0")/lib.sh"

start_upstream
plain_config "$T/gw.json" '"limits": {"header_bytes": 2048, "url_bytes": 1024, "linger_bytes": 1048576},
  "timeouts": {"linger": "2s", "linger_idle": "600ms"}'
sed -i 's/"workers": 2/"workers": 1/' "$T/gw.json"
start_gateway "$T/gw.json"
lingering() { curl -sS "http://127.0.0.1:$ADMIN_PORT/metrics" | sed -n 's/^authgate_connections_lingering //p'; }

# linger CASE: a head over header_bytes (431), then CASE: "idle" sends nothing more and
# keeps the socket open; "trickle" sends a byte every 200 ms (under linger_idle);
# "flood" sends as fast as it can. Prints the answer's status, the seconds until the
# gateway's end showed (a send failing, or for "idle" the gauge back at 0) and the bytes
# sent after the answer.
linger() {
    python3 - "$GW_PORT" "$ADMIN_PORT" "$1" <<'PY'
import socket, sys, time, urllib.request
port, admin, case = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def gauge():
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % admin, timeout=5).read().decode()
    return [l.split()[1] for l in text.splitlines() if l.startswith("authgate_connections_lingering ")][0]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 3000)  # no end of head: 431
got = b""
while b"\r\n\r\n" not in got:
    got += s.recv(4096)
t0 = time.time(); sent = 0; during = gauge()
try:
    while time.time() - t0 < 10:
        if case == "idle":
            if gauge() == "0":
                break
            time.sleep(0.05)
        elif case == "trickle":
            s.send(b"b"); sent += 1
            time.sleep(0.2)
        else:
            sent += s.send(b"c" * 65536)
except OSError:
    pass
print(got.split(b" ", 2)[1].decode(), "%.1f" % (time.time() - t0), sent, "lingering-while", during)
PY
}

read -r code secs _ _ during <<<"$(linger idle)"
expect_eq "$code/$during" 431/1 "431, then one lingering connection"
python3 -c "import sys; sys.exit(0 if 0.4 <= float('$secs') < 1.8 else 1)" ||
    fail "an idle lingering connection closed after $secs s (linger_idle 600 ms)"
pass "linger_idle: a client that sends nothing more is let go after ${secs} s"

read -r code secs sent _ <<<"$(linger trickle)"
expect_eq "$code" 431 "trickle: 431"
python3 -c "import sys; sys.exit(0 if 1.8 <= float('$secs') < 3.5 else 1)" ||
    fail "a trickling client lingered $secs s (linger 2 s)"
pass "linger: a byte every 200 ms is cut after ${secs} s ($sent bytes)"

read -r code secs sent _ <<<"$(linger flood)"
expect_eq "$code" 431 "flood: 431"
python3 -c "import sys; sys.exit(0 if float('$secs') < 1.8 and $sent >= 1048576 else 1)" ||
    fail "a flooding client: cut after $secs s and $sent bytes (linger_bytes 1 MiB, linger 2 s)"
pass "linger_bytes: a flood is cut after ${secs} s ($sent bytes sent, kernel buffers included)"

sleep 0.3
expect_eq "$(lingering)" 0 "no lingering connection left"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GW_PORT/after")" 200 "served after"
pass "the gauge is back at 0 and the gateway serves"
