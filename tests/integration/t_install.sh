#!/usr/bin/env bash
# `cmake --install` into a temporary prefix: the binary (runs --version, same as the build
# tree's), the man page authgate(1) (renders without warnings, and names every command
# `authgate --help` lists and every option each command's --help prints), the example
# configurations, sample policies, the Kubernetes manifests with the gateway's cluster
# role, the sysusers.d entry and the systemd unit (ExecStart at the installed binary;
# `systemd-analyze verify` clean, finding the installed man page; the sandbox settings;
# `systemd-analyze security` exposure at most 2.0). DESTDIR staging too.
. "$(dirname "$0")/lib.sh"

B=${AG_BUILD_DIR:-$AG_SOURCE_DIR/build}
P=$T/prefix
cmake --install "$B" --prefix "$P" >"$T/install.out" 2>&1 || { cat "$T/install.out"; fail "cmake --install"; }
[ -x "$P/bin/authgate" ] || fail "bin/authgate not installed"
expect_eq "$("$P/bin/authgate" --version)" "$("$AUTHGATE" --version)" "installed --version"
for f in share/man/man1/authgate.1 lib/sysusers.d/authgate.conf lib/systemd/system/authgate.service \
    share/authgate/kubernetes/kustomization.yaml share/authgate/kubernetes/rbac.yaml \
    share/authgate/policies/gateway.json; do
    [ -s "$P/$f" ] || fail "$f not installed"
done
for ex in "$AG_SOURCE_DIR"/config/examples/*.json; do
    cmp -s "$ex" "$P/share/authgate/examples/$(basename "$ex")" || fail "example $(basename "$ex")"
done
[ ! -e "$P/share/authgate/kubernetes/systemd" ] || fail "the unit belongs in lib/systemd only"
pass "installed: binary (runs --version), man page, examples, policies, manifests, unit"

# the man page: renders cleanly; every command and option of every --help is in it
MAN=$P/share/man/man1/authgate.1
w=$(groff -man -ww -z "$MAN" 2>&1)
expect_eq "$w" "" "groff warnings"
text=$(sed 's/\\-/-/g; s/\\f[BIRP]//g' "$MAN")
cmds=$("$AUTHGATE" --help | awk '/^commands:/ {c=1; next} c && /^  [a-z]/ {print $1} c && /^$/ {exit}')
[ "$(wc -w <<<"$cmds")" -ge 5 ] || fail "commands not found in authgate --help: $cmds"
helps=("$("$AUTHGATE" --help)" "$("$AUTHGATE" check --azure-assignments x --help)")
for c in $cmds; do
    grep -q "^\.SS \"\?$c\b" <<<"$text" || fail "docs/authgate.1 has no .SS section for the command $c"
    helps+=("$("$AUTHGATE" "$c" --help)")
done
n=0
for h in "${helps[@]}"; do
    for opt in $(grep -oE -- '(^|[^A-Za-z0-9-])--[a-z][a-z0-9-]*' <<<"$h" | sed 's/^[^-]*//' | sort -u); do
        grep -qE -- "$opt([^a-z0-9-]|$)" <<<"$text" || fail "docs/authgate.1 lacks $opt (an --help prints it: document it there)"
        n=$((n + 1))
    done
done
pass "authgate(1) covers $(wc -w <<<"$cmds") commands and $n options from --help"

# the systemd unit: verify (with the installed man page on MANPATH), sandbox, exposure
U=$P/lib/systemd/system/authgate.service
expect_match "$(grep '^ExecStart=' "$U")" "^ExecStart=$P/bin/authgate serve --config /etc/authgate/gateway.json$" "ExecStart"
out=$(MANPATH=$P/share/man systemd-analyze verify "$U" 2>&1) || fail "systemd-analyze verify: $out"
expect_eq "$out" "" "systemd-analyze verify output"
for d in 'User=authgate' 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ProtectHome=yes' \
    'PrivateTmp=yes' 'PrivateDevices=yes' 'ProtectKernelTunables=yes' 'ProtectKernelModules=yes' \
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' 'CapabilityBoundingSet=' \
    'ExecReload=/bin/kill -HUP $MAINPID' 'Restart=on-failure' 'LimitNOFILE=1048576'; do
    grep -qxF "$d" "$U" || fail "unit lacks $d"
done
exposure=$(systemd-analyze security --offline=yes "$U" 2>&1 | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
[ -n "$exposure" ] || fail "no exposure level from systemd-analyze security"
awk -v e="$exposure" 'BEGIN {exit !(e <= 2.0)}' || fail "exposure $exposure > 2.0"
expect_match "$(cat "$P/lib/sysusers.d/authgate.conf")" '^u authgate ' "sysusers entry"
pass "systemd unit: verify clean, sandboxed, exposure $exposure"

# DESTDIR staging, as a package build does: paths inside name the final prefix
DESTDIR=$T/stage cmake --install "$B" --prefix /usr >/dev/null 2>&1 || fail "DESTDIR install"
[ -x "$T/stage/usr/bin/authgate" ] || fail "staged binary"
expect_match "$(grep '^ExecStart=' "$T/stage/usr/lib/systemd/system/authgate.service")" \
    '^ExecStart=/usr/bin/authgate ' "staged unit names /usr/bin/authgate"
pass "DESTDIR=... cmake --install --prefix /usr"
