#!/usr/bin/env bash
# The whole test suite, fastest signal first: installs what is missing, checks that every C
# file matches .clang-format (scripts/format.sh), builds with warnings as errors and runs
# the unit tests; the unit tests again under ASan+UBSan; every integration test (real
# gateway on loopback); the integration and end-to-end tests again against the ASan+UBSan
# gateway; the unit tests and a multi-worker integration subset under ThreadSanitizer; a
# 2-minute soak of the ASan+UBSan gateway; then each libFuzzer target for a few seconds.
# Exits non-zero on any failure.
#
# Build directories (stable names, other scripts use them):
#   build       RelWithDebInfo, -Werror
#   build-asan  Debug, ASan+UBSan (-DAG_SANITIZE=ON); build-asan/authgate is the gateway
#               to run other suites (tests/soak) against. A sanitizer report from any
#               process an integration test starts fails that test (tests/integration/
#               sanitizers.sh: one report file per process, halt on the first error).
#   build-tsan  ThreadSanitizer (-DAG_TSAN=ON): unit tests, multi-worker integration tests
#   build-fuzz  libFuzzer targets
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
jobs=$(nproc)
SECONDS=0
step() { echo "== $* (at ${SECONDS} s)"; }

step "formatting (scripts/format.sh: clang-format 14 against .clang-format)"
scripts/format.sh

step "build and unit tests"
cmake -S . -B build -DAG_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs" -L unit)

step "unit tests under ASan+UBSan"
CC=clang cmake -S . -B build-asan -DAG_WERROR=ON -DAG_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$jobs"
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
(cd build-asan && ctest --output-on-failure -j"$jobs" -L unit)

step "integration tests"
# No retries: a test that fails once fails the suite, so an intermittent defect cannot hide
# behind a second run. Tests that depend on time wait for events with bounds (lib.sh
# wait_until) or judge by when requests were sent, and hold on a loaded machine.
(cd build && ctest --output-on-failure -j"$jobs" -L integration)

step "integration and end-to-end tests against the ASan+UBSan gateway"
# All but the "bench" label: t_bench_report runs only bench/report.py (no C code), and
# t_loadgen tests the load generator (bench/loadgen), not the gateway, by comparing the
# latencies it measures with its schedule, which instrumenting the generator distorts.
(cd build-asan && ctest --output-on-failure -j"$jobs" -L integration -LE bench)

step "unit tests and multi-worker integration tests under ThreadSanitizer"
# Every unit test (those with threads: token cache, snapshots and reader slots,
# mailbox, audit ring, key snapshots, credential, metrics cells, fetch, graph), then the
# integration tests labelled "tsan" (2 workers with reloads, key rotation, audit, token
# cache and Graph lookups crossing loops). ignore_noninstrumented_modules: interceptor
# calls made from uninstrumented libraries (libuv, libcurl) are not checked, because libuv
# closes descriptors with a raw syscall TSan cannot see, which makes every reuse of a
# descriptor number by another thread look like a race (e.g. pipe2 in uv_pipe against
# epoll_create1); our own code stays fully checked, and the mutexes libuv takes for us
# still count as synchronisation.
CC=clang cmake -S . -B build-tsan -DAG_WERROR=ON -DAG_TSAN=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-tsan -j"$jobs"
(cd build-tsan && TSAN_OPTIONS=ignore_noninstrumented_modules=1:halt_on_error=1 \
  ctest --output-on-failure -j"$jobs" -L 'unit|tsan')

step "soak: 2 minutes of mixed clients and faults (tests/soak/soak.mjs)"
# Against the ASan+UBSan gateway when that build has it (any sanitizer report fails the
# soak), else the normal one; TLS listener (mbedTLS under the sanitizers too);
# AG_SOAK_SECONDS changes the length.
soak_bin=build/authgate
[[ -x build-asan/authgate ]] && soak_bin=build-asan/authgate
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  node tests/soak/soak.mjs --seconds "${AG_SOAK_SECONDS:-120}" --binary "$soak_bin" --tls

step "fuzz targets (a few seconds each)"
CC=clang cmake -S . -B build-fuzz -DAG_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$jobs"
shopt -s nullglob
for f in build-fuzz/fuzz_*; do
  [[ -x "$f" ]] || continue
  name=$(basename "$f")
  seeds=()
  for d in "tests/fuzz/corpus/${name#fuzz_}" "tests/fuzz/corpus/$name"; do
    [[ -d $d ]] && seeds+=("$d")
  done
  dict=()
  [[ -f tests/fuzz/corpus/${name#fuzz_}.dict ]] && dict=(-dict="tests/fuzz/corpus/${name#fuzz_}.dict")
  mkdir -p "build-fuzz/corpus-$name"
  echo "-- $name (seeds: ${seeds[*]:-none})"
  "$f" -max_total_time="${AG_FUZZ_SECONDS:-10}" -timeout=5 -rss_limit_mb=2048 "${dict[@]}" \
       "build-fuzz/corpus-$name" "${seeds[@]}" 2>&1 | tail -n 2
done
echo "all tests passed (${SECONDS} s)"
