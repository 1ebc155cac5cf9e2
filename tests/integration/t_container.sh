#!/usr/bin/env bash
# The container image (Dockerfile, .dockerignore). With a Docker daemon it is built and
# run for real; without one (this machine, CI) the test says SKIP for that part only and
# checks what can be checked here:
# - the Dockerfile: Debian 12 stages, the CI's deps.sh and CMake build/install, a numeric
#   non-root USER, exec-form ENTRYPOINT and CMD (no shell needed), the CMD's config path
#   is the one deploy/deployment.yaml mounts;
# - its runtime packages exist in Debian 12 (installed here) and provide every library
#   the binary links (readelf NEEDED -> dpkg -S), and what it COPYs is what
#   `cmake --install` produces;
# - the runtime stage simulated: the installed tree bind-mounted at /usr/local in a
#   private mount namespace whose root filesystem is read-only (no writable /tmp either),
#   run as UID 65532 with no new privileges: --version, serve --check, then serve until
#   /readyz is 200 and a request is answered, and SIGTERM drains to exit 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/authz_lib.sh"

DF=$AG_SOURCE_DIR/Dockerfile
[ -f "$DF" ] && [ -f "$AG_SOURCE_DIR/.dockerignore" ] || fail "Dockerfile or .dockerignore missing"
# instr NAME: the Dockerfile's NAME instructions, continuation lines joined
instr() { sed ':a; /\\$/ {N; s/\\\n//; ba}' "$DF" | grep -E "^$1 " | sed -E "s/^$1 +//"; }
expect_eq "$(instr ARG | grep '^DEBIAN_IMAGE=')" "DEBIAN_IMAGE=debian:bookworm-slim" "base image"
expect_eq "$(instr FROM | paste -sd'|')" '${DEBIAN_IMAGE} AS build|${DEBIAN_IMAGE}' "two Debian 12 stages"
build=$(instr RUN | head -3)
expect_match "$build" 'scripts/deps\.sh' "build stage installs with scripts/deps.sh"
for w in '-DAG_WERROR=ON' 'RelWithDebInfo' 'cmake --install build --prefix /usr/local'; do
    grep -qF -- "$w" <<<"$build" || fail "build stage lacks $w (as CI builds)"
done
grep -qF -- '-DAG_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo' "$AG_SOURCE_DIR/scripts/test.sh" ||
    fail "scripts/test.sh no longer configures as the Dockerfile does"
user=$(instr USER)
expect_match "$user" '^[0-9]+:[0-9]+$' "USER numeric uid:gid"
[ "${user%%:*}" -gt 0 ] && [ "${user##*:}" -gt 0 ] || fail "USER $user is root"
ep=$(instr ENTRYPOINT) cmd=$(instr CMD)
expect_eq "$(jq -r '.[0]' <<<"$ep")" /usr/local/bin/authgate "exec-form ENTRYPOINT"
expect_eq "$(jq -r 'type' <<<"$cmd")" array "exec-form CMD"
[ -z "$(instr SHELL)$(instr HEALTHCHECK)" ] || fail "no SHELL or HEALTHCHECK (they need a shell)"
kubectl kustomize "$AG_SOURCE_DIR/deploy" >"$T/all.yaml" || fail "kubectl kustomize"
(cd "$AG_SOURCE_DIR/tests" && node fixtures/k8s_validate.mjs "$T/all.yaml" --json "$T/all.json") >/dev/null ||
    fail "deploy/ does not validate"
deploy_args=$(jq -c '.[] | select(.kind == "Deployment") | .spec.template.spec.containers[0].args' "$T/all.json")
expect_eq "$(jq -c . <<<"$cmd")" "$(jq -c . <<<"$deploy_args")" "CMD = the Deployment's args"
for x in .git 'build*/' tests/node_modules; do
    grep -qxF "$x" "$AG_SOURCE_DIR/.dockerignore" || fail ".dockerignore lacks $x"
done
pass "Dockerfile: bookworm-slim stages, CI build, USER $user, exec-form $ep $cmd"

# runtime packages: in Debian 12, and covering every library the binary links
pkgs=$(instr RUN | tail -1 | grep -oE 'install -y --no-install-recommends [a-z0-9. +-]+' |
    sed 's/install -y --no-install-recommends //' | xargs)
[ "$(wc -w <<<"$pkgs")" -ge 6 ] || fail "runtime packages not found in the last RUN: $pkgs"
for p in $pkgs; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
        fail "runtime package $p is not a Debian 12 package installed here"
done
for so in $(readelf -d "$AUTHGATE" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    path=$(ldd "$AUTHGATE" | awk -v s="$so" '$1 == s {print $3}')
    pkg=$(dpkg -S "$path" 2>/dev/null || dpkg -S "$(readlink -f "$path")") || fail "no package has $so"
    pkg=${pkg%%:*}
    # libc6 and libgcc-s1 (which libc6 depends on) are in every Debian image
    case $pkg in libc6 | libgcc-s1) continue ;; esac
    grep -qw -- "$pkg" <<<"$pkgs" || fail "$so ($pkg) is not installed by the runtime stage"
done
P=$T/stage/usr/local
cmake --install "${AG_BUILD_DIR:-$AG_SOURCE_DIR/build}" --prefix "$P" >/dev/null || fail "cmake --install"
while read -r src; do
    [ -e "$T/stage$src" ] || fail "COPY --from=build $src: not produced by cmake --install"
done < <(instr COPY | sed -n 's/^--from=build \([^ ]*\) .*/\1/p')
pass "runtime packages ($pkgs) exist in Debian 12 and cover $(readelf -d "$AUTHGATE" | grep -c NEEDED) NEEDED libraries"

# the runtime stage, simulated: read-only root, UID 65532, no writable directory at all
if ! unshare --mount --fork true 2>/dev/null; then
    echo "SKIP: no mount namespaces here: the read-only run was not simulated"
else
    start_upstream
    authz_keys
    authz_config "$T/gw.json" "\"$AG_SOURCE_DIR/tests/integration/authz_policy.json\""
    chmod -R a+rX "$T"
    mkdir -p "$T/run"
    uid=${user%%:*} gid=${user##*:}
    cat >"$T/inner.sh" <<INNER
set -u
mount --bind "$P" /usr/local && mount -o remount,ro,bind /usr/local || exit 90
mount -o remount,ro,bind / || exit 91
mount -o remount,ro,bind /dev/shm 2>/dev/null || true
mount -t tmpfs -o mode=0755,size=1m tmpfs "$T/run" || exit 92 # the harness's log, root's only
run() { setpriv --reuid=$uid --regid=$gid --clear-groups --no-new-privs "\$@"; }
run touch /tmp/probe 2>/dev/null && echo "WRITABLE /tmp"
run touch /usr/local/probe 2>/dev/null && echo "WRITABLE /usr/local"
touch /probe 2>/dev/null && echo "WRITABLE / (as root)"
cd /
run /usr/local/bin/authgate --version | head -1
run /usr/local/bin/authgate serve --config "$T/gw.json" --check || echo "CHECK FAILED"
setpriv --reuid=$uid --regid=$gid --clear-groups --no-new-privs \\
    /usr/local/bin/authgate serve --config "$T/gw.json" >"$T/run/gw.log" 2>&1 &
pid=\$!
for i in \$(seq 100); do grep -q "listening on" "$T/run/gw.log" && break; sleep 0.1; done
admin=\$(sed -n 's/.*admin on [^ ]*:\([0-9]*\).*/\1/p' "$T/run/gw.log" | head -1)
port=\$(sed -n 's/.*listening on [^ ]*:\([0-9]*\) .*/\1/p' "$T/run/gw.log" | head -1)
for i in \$(seq 100); do
    [ "\$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:\$admin/readyz")" = 200 ] && break
    sleep 0.1
done
echo "readyz \$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:\$admin/readyz")"
echo "request \$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:\$port/api/v1/pods")"
echo "uid \$(awk '/^Uid:/ {print \$2}' /proc/\$pid/status)"
kill -TERM \$pid
wait \$pid
echo "exit \$?"
grep -iE "error|cannot|denied|read-only" "$T/run/gw.log" | head -5
INNER
    out=$(timeout 60 unshare --mount --fork bash "$T/inner.sh" 2>&1) || fail "simulation: $out"
    expect_no_match "$out" 'WRITABLE|CHECK FAILED|read-only' "nothing writable, nothing tried"
    expect_match "$out" "^authgate [0-9]" "--version from /usr/local/bin"
    expect_match "$out" '^readyz 200$' "ready on a read-only root"
    expect_match "$out" '^request 401$' "answers requests (401 without a token)"
    expect_match "$out" "^uid $uid$" "runs as UID $uid"
    expect_match "$out" '^exit 0$' "SIGTERM drains to exit 0"
    pass "runtime stage simulated: read-only root, no writable dir, UID $uid: ready, serving, drained"
fi

if docker info >/dev/null 2>&1; then
    tag=authgate-test:$$
    docker build -q -t "$tag" --build-arg AG_GIT_COMMIT=test "$AG_SOURCE_DIR" >/dev/null || fail "docker build"
    out=$(docker run --rm --read-only "$tag" --version) || fail "docker run --version"
    expect_match "$out" '^commit test$' "image --version"
    docker rmi -f "$tag" >/dev/null 2>&1 || true
    pass "docker build and run --read-only"
else
    echo "SKIP: no Docker daemon: the image itself was not built (static checks and the simulation above ran)"
fi
