# Shared helpers for the integration tests (sourced by every t_*.sh). Each test runs the
# real authgate binary on loopback against tests/fixtures/upstream.mjs, in its own temp
# directory; every process it starts is killed on exit. Ports: port 0 everywhere, and the
# bound port is read back from the process (no fixed ports, no races).
set -euo pipefail

AUTHGATE=${AUTHGATE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/authgate}
AG_SOURCE_DIR=${AG_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
T=$(mktemp -d "${TMPDIR:-/tmp}/ag-it.XXXXXX")
AG_PIDS=()
AG_FAILED=0
. "$(dirname "${BASH_SOURCE[0]}")/sanitizers.sh"
san_setup "$T"

ag_cleanup() {
    local rc=$?
    # Every process the test started: the registered ones and any other background job
    # of this shell (so the wait below cannot hang on a job nobody registered).
    for p in "${AG_PIDS[@]:-}" $(jobs -p); do
        [ -n "$p" ] && kill "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    # A sanitizer report from any process the test ran fails the test (sanitizer builds).
    san_check "$T"/*.log "$T"/*.out || rc=1
    if [ "$rc" -ne 0 ] || [ "$AG_FAILED" -ne 0 ]; then
        echo "--- gateway log ---" >&2
        tail -n 40 "$T"/gw*.log 2>/dev/null >&2 || true
        echo "(temp dir kept: $T)" >&2
    else
        rm -rf "$T"
    fi
    exit "$rc"
}
trap ag_cleanup EXIT

# True when $AUTHGATE is a sanitizer build (memory figures are then not meaningful).
sanitized() { # (grep -c reads all input: grep -q would SIGPIPE nm under pipefail)
    [ "$(nm "$AUTHGATE" 2>/dev/null | grep -c __asan_init)" -gt 0 ]
}

fail() {
    echo "FAIL: $*" >&2
    AG_FAILED=1
    exit 1
}
pass() { echo "ok - $*"; }
expect_eq() { # expect_eq ACTUAL EXPECTED WHAT
    [ "$1" == "$2" ] || fail "$3: got '$1', expected '$2'"
}
expect_match() { # expect_match TEXT REGEX WHAT
    grep -Eq -- "$2" <<<"$1" || fail "$3: '$1' does not match /$2/"
}
expect_no_match() {
    if grep -Eqi -- "$2" <<<"$1"; then fail "$3: '$1' matches /$2/"; fi
}

wait_for_file() { # wait_for_file PATH [TRIES]
    local i
    for ((i = 0; i < ${2:-100}; i++)); do
        [ -s "$1" ] && return 0
        sleep 0.05
    done
    fail "timed out waiting for $1"
}

# wait_until SECONDS WHAT CMD [ARGS...]: runs CMD every 50 ms until it succeeds; fails the
# test after SECONDS. For waiting on something a loaded machine may do late (a log line, a
# metric, a signal handled), instead of a fixed sleep.
wait_until() {
    local limit=$1 what=$2 end
    shift 2
    end=$(($(date +%s) + limit))
    until "$@"; do
        [ "$(date +%s)" -lt "$end" ] || fail "timed out after ${limit} s waiting for $what"
        sleep 0.05
    done
}

# start_upstream [fixture args...]: sets UP_PID, UP_PORT and UP_LOG.
start_upstream() {
    UP_LOG=$T/upstream.jsonl
    : >"$UP_LOG"
    rm -f "$T/up.port"
    node "$AG_SOURCE_DIR/tests/fixtures/upstream.mjs" --port-file "$T/up.port" --log "$UP_LOG" "$@" \
        >"$T/upstream.out" 2>&1 &
    UP_PID=$!
    AG_PIDS+=($UP_PID)
    wait_for_file "$T/up.port"
    UP_PORT=$(cat "$T/up.port")
}

# start_gateway CONFIG [NAME]: runs `authgate serve`, sets GW_PID, GW_PORT, ADMIN_PORT, GW_LOG.
start_gateway() {
    local name=${2:-gw}
    GW_LOG=$T/$name.log
    "$AUTHGATE" serve --config "$1" >"$GW_LOG" 2>&1 &
    GW_PID=$!
    AG_PIDS+=($GW_PID)
    local i
    for ((i = 0; i < 200; i++)); do
        grep -q "listening on" "$GW_LOG" 2>/dev/null && break
        kill -0 "$GW_PID" 2>/dev/null || { cat "$GW_LOG" >&2; fail "gateway exited at start"; }
        sleep 0.05
    done
    GW_PORT=$(sed -n 's/.*listening on [^ ]*:\([0-9]*\) .*/\1/p' "$GW_LOG" | head -1)
    ADMIN_PORT=$(sed -n 's/.*admin on [^ ]*:\([0-9]*\).*/\1/p' "$GW_LOG" | head -1)
    [ -n "$GW_PORT" ] || fail "gateway did not report its port"
}

# plain_config FILE [extra top-level JSON members]: plain HTTP gateway to the fixture.
# Unless the extra members authenticate or authorize, an explicit unauthenticated
# pass-through (the proxy tests): without it the gateway refuses every request.
plain_config() {
    local open='"insecure_passthrough": true,'
    case ${2:-} in *'"authentication"'* | *'"authorization"'* | *'"azure"'*) open='' ;; esac
    cat >"$1" <<JSON
{
  "listen": {"address": "127.0.0.1:0"},
  "upstream": {"url": "http://127.0.0.1:$UP_PORT"},
  "admin": {"address": "127.0.0.1:0"},
  $open
  "workers": 2${2:+,
  $2}
}
JSON
}

# tls_config FILE WORKERS [extra top-level members]: an open (passthrough) gateway behind
# TLS with the gen_certs server certificate, in front of the plain upstream.
tls_config() {
    cat >"$1" <<JSON
{
  "listen": {"address": "127.0.0.1:0"},
  "insecure_passthrough": true,
  "tls": {"cert": "$PKI/server.crt", "key": "$PKI/server.key"},
  "upstream": {"url": "http://127.0.0.1:$UP_PORT"},
  "workers": $2${3:+,
  $3}
}
JSON
}

# gen_certs: CA, server cert (127.0.0.1/localhost) and a client cert (CN=alice, O=devs,
# O=ops) into $T/pki.
gen_certs() {
    local d=$T/pki
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=authgate test CA" -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
        -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$d/server.ext"
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
        -days 2 -extfile "$d/server.ext" -out "$d/server.crt" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=devs/O=ops/CN=alice" \
        -keyout "$d/client.key" -out "$d/client.csr" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >"$d/client.ext"
    openssl x509 -req -in "$d/client.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
        -days 2 -extfile "$d/client.ext" -out "$d/client.crt" 2>/dev/null
    PKI=$d
}

# start_apiserver [fixture args...]: the fake API server (tests/fixtures/apiserver.mjs, TLS
# with $PKI's server certificate, accepting only the token in $T/gw.token); sets API_PORT
# and API_LOG (its record of every request).
start_apiserver() {
    API_LOG=$T/apiserver.jsonl
    : >"$API_LOG"
    (cd "$AG_SOURCE_DIR/tests" && exec node fixtures/apiserver.mjs --cert "$PKI/server.crt" \
        --key "$PKI/server.key" --token-file "$T/gw.token" --log "$API_LOG" \
        --port-file "$T/api.port" "$@") >"$T/apiserver.out" 2>&1 &
    AG_PIDS+=($!)
    wait_for_file "$T/api.port" 200
    API_PORT=$(cat "$T/api.port")
}

# raw PORT: sends stdin byte for byte to 127.0.0.1:PORT and prints everything received
# until the server closes (or 3 s of silence).
raw() {
    python3 "$AG_SOURCE_DIR/tests/integration/raw.py" "$1"
}

# status_of RESPONSE: the status code of the first response in RESPONSE.
status_of() {
    head -1 <<<"$1" | awk '{print $2}'
}

# upstream_count: requests the fixture recorded.
upstream_count() {
    wc -l <"$UP_LOG" | tr -d ' '
}

# vmhwm PID: peak resident set size in kB.
vmhwm() {
    awk '/VmHWM/ {print $2}' "/proc/$1/status"
}

# kubectl_pin VERSION: the Cloud SDK's kubectl is a dispatcher that runs the release
# matching the server's version (the fake API server says 1.30); puts kubectl.VERSION
# first on PATH, when present, so a test runs the release it is about.
kubectl_pin() {
    local dir
    dir=$(dirname "$(readlink -f "$(command -v kubectl)")")
    if [ -x "$dir/kubectl.$1" ]; then
        mkdir -p "$T/bin" && ln -sf "$dir/kubectl.$1" "$T/bin/kubectl" && PATH=$T/bin:$PATH
    fi
    echo "# $(kubectl version --client 2>/dev/null | head -n 1)"
}

# True when a kubectl of 1.30 or later is on PATH. The end-to-end tests assert what a
# current kubectl sends and prints (WebSocket exec, error wording); Debian 12's own
# kubernetes-client is 1.20, so with it those cases are skipped with a message.
kubectl_recent() {
  command -v kubectl >/dev/null || return 1
  local minor
  minor=$(kubectl version --client -o json 2>/dev/null |
    sed -n 's/.*"minor": *"\([0-9]*\).*/\1/p' | head -n 1)
  [[ -n "$minor" && "$minor" -ge 30 ]]
}
