#!/usr/bin/env bash
# Authentication overhead on the hot path (not a test): wrk through authgate (plain HTTP
# in and out, nginx upstream) without an "authentication" section (an explicit
# "insecure_passthrough"), then with one trusting
# the real OIDC provider fixture, every request carrying the same bearer token (a token
# cache hit after the first), then with N distinct tokens round robin (wrk Lua), so each
# token is verified once and then hit. Prints requests/s, p50, p99 per case.
#
#   bench/authn_bench.sh [AUTHGATE_BINARY]   env: DURATION=5 CONNS=16 THREADS=1 WORKERS=1
#
# Bounded: each wrk run lasts DURATION seconds; every process started is stopped on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
AUTHGATE=${1:-${AUTHGATE:-$here/../build/authgate}}
DURATION=${DURATION:-5}
CONNS=${CONNS:-16}
THREADS=${THREADS:-1}
WORKERS=${WORKERS:-1}
d=$(mktemp -d "${TMPDIR:-/tmp}/ag-authn-bench.XXXXXX")
trap 'ag_stop_all; rm -rf "$d"' EXIT

up=$(ag_free_port)
ag_nginx_start "$d" upstream "  server { listen 127.0.0.1:$up; location / { default_type application/json; return 200 '{\"kind\":\"PodList\",\"items\":[]}'; } }"
ag_wait_port "$up" || { cat "$d"/upstream.error.log; exit 1; }

(cd "$here/../tests" && exec node fixtures/oidc/provider.mjs) >"$d/oidc.out" 2>"$d/oidc.err" &
AG_PIDS+=("$!")
for _ in $(seq 1 100); do [ -s "$d/oidc.out" ] && break; sleep 0.05; done
iss=$(jq -r .issuer "$d/oidc.out")
token() { curl -sf -X POST "$iss/token" -d grant_type=client_credentials -d "client_id=$1" \
  -d "client_secret=$1-secret" -d resource=https://authgate.test -d scope=api | jq -r .access_token; }

start() { # start NAME EXTRA_JSON: sets PORT (INFO logging: the port is read from the log)
  cat >"$d/$1.json" <<JSON
{"listen": {"address": "127.0.0.1:0"}, "upstream": {"url": "http://127.0.0.1:$up", "pool_size": 256},
 "workers": $WORKERS$2}
JSON
  "$AUTHGATE" serve --config "$d/$1.json" >"$d/$1.log" 2>&1 &
  AG_PIDS+=("$!")
  for _ in $(seq 1 100); do grep -q "listening on" "$d/$1.log" 2>/dev/null && break; sleep 0.05; done
  PORT=$(sed -n 's/.*listening on [^ ]*:\([0-9]*\) .*/\1/p' "$d/$1.log" | head -1)
  [ -n "$PORT" ] || { echo "authgate did not start:" >&2; cat "$d/$1.log" >&2; exit 1; }
}
run() { # run NAME URL [wrk args] -> "rps p50_ms p99_ms"
  local name=$1 url=$2
  shift 2
  wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "$@" "$url" >"$d/$name.wrk" 2>&1
  grep -q "Non-2xx" "$d/$name.wrk" && { echo "non-2xx answers in $name" >&2; cat "$d/$name.wrk" >&2; }
  awk 'function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
       /Requests\/sec/ {rps=$2} $1=="50%" {p50=ms($2)} $1=="99%" {p99=ms($2)}
       END {printf "%.0f %.3f %.3f\n", rps, p50, p99}' "$d/$name.wrk"
}

start plain ', "insecure_passthrough": true'
plain=$PORT
start authn ', "authentication": {"issuers": [{"issuer": "'"$iss"'",
  "audiences": ["https://authgate.test"], "keys": {"discovery": true},
  "claims": {"groups": "groups", "username_prefix": "oidc:", "groups_prefix": "oidc:"}}]}'
authn=$PORT
tok=$(token alice)
for _ in $(seq 1 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" "http://127.0.0.1:$authn/api/v1/pods")" = 200 ] && break
  sleep 0.05
done
N=${TOKENS:-200}
{ echo "tokens = {"; for i in $(seq 1 "$N"); do printf '"%s",\n' "$(token bob)"; done; echo "}"
  echo 'i = 0; request = function() i = i % #tokens + 1; return wrk.format("GET", nil, {["Authorization"] = "Bearer " .. tokens[i]}) end'
} >"$d/tokens.lua"

read -r a b c < <(run plain "http://127.0.0.1:$plain/api/v1/pods")
read -r e f g < <(run cached "http://127.0.0.1:$authn/api/v1/pods" -H "Authorization: Bearer $tok")
read -r h i j < <(run many "http://127.0.0.1:$authn/api/v1/pods" -s "$d/tokens.lua")
printf '%-44s %10s %9s %9s\n' case req/s p50_ms p99_ms
printf '%-44s %10s %9s %9s\n' "no authentication" "$a" "$b" "$c"
printf '%-44s %10s %9s %9s\n' "bearer JWT, one token (cache hit)" "$e" "$f" "$g"
printf '%-44s %10s %9s %9s\n' "bearer JWT, $N tokens round robin" "$h" "$i" "$j"
echo "workers=$WORKERS conns=$CONNS threads=$THREADS duration=${DURATION}s"
