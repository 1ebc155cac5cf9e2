#!/usr/bin/env bash
# Canonical requests: every head two parsers could read differently is answered 400 (or
# the listed status) with a Kubernetes Status body, the connection is closed, and nothing
# reaches the upstream. Cases are data: tests/integration/canonical_cases.txt.
. "$(dirname "$0")/lib.sh"

start_upstream
plain_config "$T/gw.json"
start_gateway "$T/gw.json"

python3 - "$GW_PORT" "$UP_LOG" "$AG_SOURCE_DIR/tests/integration/canonical_cases.txt" <<'PY'
import json, socket, sys
port, uplog, cases = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def send(raw):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(raw)
    out = b""
    s.settimeout(3)
    try:
        while True:
            c = s.recv(65536)
            if not c:
                break
            out += c
    except socket.timeout:
        out += b"<<still open>>"
    return out

def upstream_lines():
    with open(uplog) as f:
        return [json.loads(l) for l in f if l.strip()]

failures = 0
for line in open(cases, encoding="utf-8"):
    line = line.rstrip("\n")
    if not line or line.startswith("#"):
        continue
    want, name, raw = line.split("|", 2)
    raw = raw.encode("latin-1").decode("unicode_escape").encode("latin-1")
    before = len(upstream_lines())
    out = send(raw)
    status = out.split(b" ", 2)[1].decode() if out.startswith(b"HTTP/1.1 ") else "none"
    forwarded = len(upstream_lines()) - before
    ok = status == want
    if want.startswith("4") or want.startswith("5"):
        ok = ok and forwarded == 0 and b'"kind":"Status"' in out and b"<<still open>>" not in out
        ok = ok and b"application/json" in out
    elif want == "fwd":
        ok = status == "200" and forwarded == 1
    if not ok:
        failures += 1
        print(f"FAIL {name}: want {want}, got {status}, forwarded {forwarded}: {out[:200]!r}")
    else:
        print(f"ok - {name}: {want}")
sys.exit(1 if failures else 0)
PY
pass "canonical-request cases"

# The target judged is the target forwarded, byte for byte (percent-encodings kept).
out=$(printf 'GET /api/v1/namespaces/a%%3Ab/pods?labelSelector=app%%3Dx&limit=5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | raw "$GW_PORT")
expect_eq "$(status_of "$out")" "200" "encoded target answered"
expect_match "$(tail -1 "$UP_LOG")" '"target":"/api/v1/namespaces/a%3Ab/pods\?labelSelector=app%3Dx&limit=5"' "target byte for byte"
pass "target forwarded byte for byte"

# An absolute-form target for this gateway is reduced to origin-form.
out=$(printf 'GET http://127.0.0.1:%s/api/v1/pods HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$GW_PORT" "$GW_PORT" | raw "$GW_PORT")
expect_eq "$(status_of "$out")" "200" "absolute-form for this host"
expect_match "$(tail -1 "$UP_LOG")" '"target":"/api/v1/pods"' "reduced to origin-form"
pass "absolute-form for this host reduced to origin-form"
