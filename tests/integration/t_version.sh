#!/usr/bin/env bash
# `authgate --version`: the project version (CMakeLists.txt), the commit the build was
# configured from, and each library's version as built and as running; the running ones
# are those of the shared objects the binary loads (asked of dpkg through ldd). The same
# facts as the authgate_build_info gauge, value 1, on /metrics.
. "$(dirname "$0")/lib.sh"

out=$("$AUTHGATE" --version)
want=$(sed -n 's/^project(authgate VERSION \([0-9.]*\).*/\1/p' "$AG_SOURCE_DIR/CMakeLists.txt")
[ -n "$want" ] || fail "no project VERSION in CMakeLists.txt"
expect_eq "$(head -1 <<<"$out")" "authgate $want" "version line"
commit=$(awk '$1 == "commit" {print $2}' <<<"$out")
if git -C "$AG_SOURCE_DIR" rev-parse HEAD >/dev/null 2>&1; then
    expect_eq "$commit" "$(git -C "$AG_SOURCE_DIR" rev-parse --short=12 HEAD)" "commit"
else
    expect_match "$commit" '^[0-9a-z._+-]+$' "commit"
fi
expect_eq "$("$AUTHGATE" version)" "$out" "'authgate version' is the same"
expect_match "$("$AUTHGATE" --help)" '--version' "--help names --version"
pass "version $want, commit $commit"

# running LIB: the version column of LIB's line; built LIB: the one before it.
running() { awk -v l="$1" '$1 == l {print $3}' <<<"$out"; }
built() { awk -v l="$1" '$1 == l {print $2}' <<<"$out"; }
# pkgver SONAME-PATTERN: the upstream version of the Debian package holding the library
# the binary loads ("1.44.2-1" -> "1.44.2").
pkgver() {
    local so pkg
    so=$(ldd "$AUTHGATE" | awk -v p="$1" '$1 ~ p {print $3; exit}')
    [ -n "$so" ] || fail "the binary does not load $1"
    pkg=$(dpkg -S "$(readlink -f "$so")" 2>/dev/null | head -1 | cut -d: -f1) ||
        pkg=$(dpkg -S "$so" | head -1 | cut -d: -f1)
    dpkg-query -W -f '${Version}' "$pkg" | sed 's/^[0-9]*://; s/-[^-]*$//; s/+.*//'
}
for l in "mbedtls libmbedtls" "libuv libuv" "libcurl libcurl"; do
    set -- $l
    expect_eq "$(running "$1")" "$(pkgver "$2")" "$1 running"
    expect_match "$(built "$1")" '^[0-9]+\.[0-9]+\.[0-9]+$' "$1 built"
done
expect_eq "$(built mbedtls)" "$(sed -n 's/^#define MBEDTLS_VERSION_STRING *"\(.*\)"/\1/p' \
    /usr/include/mbedtls/version.h)" "mbedtls built"
ll=$(sed -n 's/^#define LLHTTP_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)/\2/p' \
    /usr/share/include/llhttp/llhttp.h | paste -sd.)
expect_eq "$(running llhttp)" "$ll" "llhttp (compiled in)"
pass "library versions: $(awk 'NR > 4 {printf "%s %s; ", $1, $3}' <<<"$out")"

# authgate_build_info on /metrics: the same facts, value 1
start_upstream
plain_config "$T/gw.json"
start_gateway "$T/gw.json"
m=$(curl -s "http://127.0.0.1:$ADMIN_PORT/metrics")
expect_match "$m" '^# TYPE authgate_build_info gauge$' "TYPE gauge"
line=$(grep '^authgate_build_info{' <<<"$m")
labels="version=\"$want\",commit=\"$commit\",mbedtls=\"$(running mbedtls)\",libuv=\"$(running libuv)\""
labels+=",llhttp=\"$ll\",libcurl=\"$(running libcurl)\""
expect_eq "$line" "authgate_build_info{$labels} 1" "build_info series"
pass "authgate_build_info{$labels} 1"
