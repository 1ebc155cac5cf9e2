#!/usr/bin/env bash
# Installs what authgate needs on Debian 12, from Debian's packages and the npm
# registry only. Idempotent: installs only what is missing. Run as root.
#   scripts/deps.sh          build + run dependencies
#   scripts/deps.sh test     + what the test suite uses (clang, node packages, kubectl)
#   scripts/deps.sh bench    + load generators and peers (wrk, h2load, nginx, haproxy)
set -euo pipefail
cd "$(dirname "$0")/.."

want=(build-essential cmake pkg-config libuv1-dev libmbedtls-dev libjsmn-dev libyaml-dev
      libcurl4-openssl-dev libssl-dev node-llhttp openssl curl ca-certificates)
case "${1:-}" in
  test)  want+=(clang clang-format libclang-rt-14-dev nodejs python3 iproute2 procps jq nginx-light wrk) ;;
  bench) want+=(clang nodejs wrk nghttp2-client nginx-light haproxy procps python3) ;;
esac
# t_install: systemd-analyze verify (which runs man for Documentation=) and groff check the
# installed unit and man page; t_container: unshare/setpriv (util-linux) and readelf.
[[ "${1:-}" == test ]] && want+=(systemd man-db groff-base util-linux binutils)
# t_proxy_protocol: HAProxy in front of the gateway sending PROXY protocol v1 and v2.
[[ "${1:-}" == test ]] && want+=(haproxy)

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# promtool (t_metrics_promtool) ships in prometheus; without its recommended node exporter.
# The server itself is never run.
if [[ "${1:-}" == test ]] && ! command -v promtool >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

if [[ "${1:-}" == test || "${1:-}" == bench ]]; then
  command -v npm >/dev/null || { apt-get install -y -qq npm >/dev/null; }
  # kubectl: the end-to-end tests use the kubectl on PATH when it is 1.30 or later and say
  # SKIP otherwise (Debian 12's kubernetes-client is 1.20, too old for what they assert).
  if [[ -f tests/package.json && ! -d tests/node_modules ]]; then
    (cd tests && npm ci --no-audit --no-fund --loglevel=error 2>/dev/null ||
                 npm install --no-audit --no-fund --loglevel=error)
  fi
fi
