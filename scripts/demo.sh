#!/usr/bin/env bash
# Installs what is missing, builds authgate and starts it on its embedded demo setup.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target authgate
exec build/authgate demo "$@"
