#!/usr/bin/env bash
# Cold token verification (bench_jwt: ag_authn_verify end to end, mbedTLS signatures)
# beside `openssl speed` verify/s for the same key types on this machine, as ratios.
# OpenSSL's figure is the bare signature check; ours includes base64url, strict JSON,
# issuer/key lookup, hashing, claims and the identity, so the ratio is an upper bound
# on what the crypto library alone costs.
#
#   bench/jwt_vs_openssl.sh [BUILD_DIR] [SECONDS]     (defaults: build, 2)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
secs=${2:-2}
[[ -x $build/bench_jwt ]] || { echo "no $build/bench_jwt: cmake --build $build --target bench_jwt" >&2; exit 2; }

ours=$("$build/bench_jwt" --seconds "$secs" --source "$src")
ossl=$(openssl speed -seconds "$secs" rsa2048 ecdsap256 ecdsap384 ecdsap521 2>/dev/null)
verify_of() { awk -v pat="$1" 'index($0, pat) { v = $NF } END { print v }' <<<"$ossl"; }
declare -A ref=(
  [rsa]=$(verify_of "rsa 2048 bits") [p256]=$(verify_of "(nistp256)")
  [p384]=$(verify_of "(nistp384)") [p521]=$(verify_of "(nistp521)")
)

echo "# $(openssl version | cut -d' ' -f1-2) speed -seconds $secs vs bench_jwt (1 thread), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
printf '%-6s %12s %14s %-16s %7s\n' alg authgate/s openssl/s "openssl test" ratio
while read -r alg rate _us _claims; do
  case $alg in
    rs*|ps*) key=rsa name="rsa2048" ;;
    es256) key=p256 name="ecdsap256" ;;
    es384) key=p384 name="ecdsap384" ;;
    es512) key=p521 name="ecdsap521" ;;
    *) continue ;;
  esac
  awk -v a="$alg" -v r="$rate" -v o="${ref[$key]}" -v n="$name" \
    'BEGIN { printf "%-6s %12.0f %14.0f %-16s %6.2fx\n", a, r, o, n, (o > 0 ? r / o : 0) }'
done <<<"$ours"
