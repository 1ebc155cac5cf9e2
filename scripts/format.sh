#!/usr/bin/env bash
# clang-format over every C file git tracks, against .clang-format.
#   scripts/format.sh          check: lists the files that differ and exits 1 (CI)
#   scripts/format.sh --fix    rewrites them in place
# The version is pinned (another major version formats some constructs differently):
# clang-format 14, Debian 12's clang-format package (scripts/deps.sh test installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
want=14
cf=${CLANG_FORMAT:-clang-format}
have=$("$cf" --version 2>/dev/null | sed -n 's/.*clang-format version \([0-9]*\)\..*/\1/p')
if [[ "$have" != "$want" ]]; then
  echo "format: needs clang-format $want (Debian 12: apt-get install clang-format); found '${have:-none}'" >&2
  exit 2
fi
mapfile -t files < <(git ls-files '*.c' '*.h')
if [[ "${1:-}" == --fix ]]; then
  "$cf" -i "${files[@]}"
  exit 0
fi
# One process for all files; each difference is reported as "FILE:LINE:COL: error: ...".
mapfile -t bad < <("$cf" --dry-run --Werror "${files[@]}" 2>&1 |
                   sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: .*/\1/p' | sort -u)
if ((${#bad[@]})); then
  echo "format: ${#bad[@]} file(s) differ from .clang-format (clang-format $want):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  echo "format: run scripts/format.sh --fix (or git clang-format on your change) and commit" >&2
  exit 1
fi
echo "format: ${#files[@]} files match .clang-format"
