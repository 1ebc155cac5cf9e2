#!/usr/bin/env bash
# Path and request-info confusion through the real binary (threat-model cases 15, 18, 20,
# 21, 22): alice may view "default" (pods, not secrets); lena may only list pods; nina may
# get/list/watch only the pod "web"; nico has a namespace Role naming cluster-scoped nodes
# and custom resource widgets; wes may get nodes/proxy; erin may only get pods/exec. Every
# request is either refused (nothing forwarded) or forwarded with exactly the target that
# was judged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/threat_lib.sh"

threat_start
declare -A TOK
for u in ok lena nina nico wes erin; do TOK[$u]=$(tok $u); done

# at WHO TARGET [HEADERS...]: raw GET (target byte for byte); prints the status
at() {
    local who=$1 target=$2 extra="" l
    shift 2
    for l in "$@"; do extra+="$l\r\n"; done
    printf "GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n${extra}Connection: close\r\n\r\n" "$target" "${TOK[$who]}" |
        rawsend >"$T/out"
    status_of "$(cat "$T/out")"
}
# never_secrets TARGET: refused, or forwarded byte for byte and not judged as something else
not_granted() { # not_granted WHO TARGET WHAT
    local n0 code
    n0=$(upstream_count)
    code=$(at "$1" "$2")
    case "$code" in
    400 | 403 | 404) expect_eq "$(upstream_count)" "$n0" "$3: refused yet forwarded" ;;
    *) fail "$3: $2 answered $code (forwarded: $(($(upstream_count) - n0)))" ;;
    esac
}
byte_exact() { # byte_exact WHO TARGET WHAT: allowed and forwarded exactly as sent
    expect_eq "$(at "$1" "$2")" 200 "$3"
    expect_eq "$(last_upstream | jq -r .target)" "$2" "$3: target forwarded byte for byte"
}

# case 18: traversal and encodings toward secrets, from a user who may read pods
S=/api/v1/namespaces/default
for t in "$S/pods/../secrets" "$S/pods/./../secrets" "$S/pods/%2e%2e/secrets" "$S/pods/%2E%2e/secrets" \
    "$S/pods/.%2e/secrets" "$S/pods%2f..%2fsecrets" "$S/pods%2F..%2Fsecrets" "$S/pods%2Fsecrets" \
    "$S//secrets" "//api/v1/namespaces/default/secrets" "$S/pods;/../secrets" "$S/pods/..;/secrets" \
    "$S/pods/%252e%252e/secrets" "$S/pods%252f..%252fsecrets" "$S/secrets/" "$S/Secrets" \
    "$S/secrets?x=/../pods" "$S/secrets#/../pods" "/api/v1/namespaces/default/pods/..%5csecrets" \
    "/api/v1/namespaces/default/pods/%u002e%u002e/secrets" "/api/v1/namespaces/default/pods\\..\\secrets" \
    "/api/v1/namespaces/default/se%63rets" "/API/v1/namespaces/default/secrets"; do
    not_granted ok "$t" "case 18 $t"
done
pass "case 18: traversal, encoded slashes/dots, double encoding, ';', case, trailing '/' never reach secrets"
byte_exact ok "$S/pods/" "case 18 trailing slash on an allowed list"
byte_exact ok "$S/pods?labelSelector=app%3Dweb%2Cx%20in%20(a)&limit=1" "case 18 encoded query"
# an encoded unreserved byte: refused, or judged and forwarded as sent
n0=$(upstream_count)
case "$(at ok "$S/pods/we%62")" in
400) expect_eq "$(upstream_count)" "$n0" "refused yet forwarded" ;;
200) expect_eq "$(last_upstream | jq -r .target)" "$S/pods/we%62" "encoded name forwarded as judged" ;;
*) fail "encoded name: $(status_of "$(cat "$T/out")")" ;;
esac
pass "case 18: allowed requests are forwarded exactly as judged"

# case 22 / 21: repeated query parameters are read as the API server reads them (first value)
expect_eq "$(at lena "$S/pods")" 200 "lena lists"
for q in "watch=true" "watch=1" "watch=TRUE" "watch=" "watch=true&watch=false" "watch=1&watch=0"; do
    not_granted lena "$S/pods?$q" "case 22 lena ?$q is a watch"
done
byte_exact lena "$S/pods?watch=false" "watch=false is a list"
byte_exact lena "$S/pods?watch=0&watch=1" "first watch value decides (0: list)"
pass "case 22: repeated watch parameters judged on the value the API server uses"
byte_exact nina "$S/pods?fieldSelector=metadata.name%3Dweb" "nina lists by name web"
byte_exact nina "$S/pods/web" "nina gets web"
not_granted nina "$S/pods" "case 21 a named grant does not allow list"
not_granted nina "$S/pods?fieldSelector=metadata.name%3Ddb&fieldSelector=metadata.name%3Dweb" "case 22 first fieldSelector (db) decides"
not_granted nina "$S/pods?fieldSelector=metadata.name%3Dweb,metadata.name%3Ddb" "case 22 two names in one selector"
not_granted nina "$S/pods?fieldSelector=metadata.name!%3Dweb" "case 22 != is not a name"
not_granted nina "$S/pods/db" "another name"
not_granted nina "$S/pods/web/exec?command=sh" "subresource of a named pod"
pass "cases 21/22: resourceNames grants only the named object, whatever the selector tricks"

# case 20: a namespace RoleBinding never grants cluster-scoped resources nor other types
not_granted nico "/api/v1/nodes" "case 20 list nodes at cluster scope"
not_granted nico "/api/v1/nodes/n1" "case 20 get a node"
not_granted nico "/api/v1/namespaces" "case 20 list namespaces"
not_granted nico "/api/v1/namespaces/kube-system" "case 20 get another namespace"
not_granted nico "/apis/example.com/v1/namespaces/default/gadgets" "case 20 other custom resource type"
not_granted nico "/apis/example.com/v1/namespaces/default/widgets/../gadgets" "case 20 traversal to another type"
not_granted nico "/apis/other.com/v1/namespaces/default/widgets" "case 20 same plural, other group"
not_granted nico "/apis/example.com/v1/namespaces/kube-system/widgets" "case 20 other namespace"
byte_exact nico "/apis/example.com/v1/namespaces/default/widgets" "widgets in default"
pass "case 20: namespaced grants stay in their namespace, scope and type"

# case 15: exec/attach/portforward as a WebSocket GET need create, SPDY POST needs create,
# nodes/proxy upgrades count as exec
ws=('Connection: Upgrade' 'Upgrade: websocket' 'Sec-WebSocket-Version: 13'
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' 'Sec-WebSocket-Protocol: v5.channel.k8s.io')
upgrade_refused() { # upgrade_refused WHO METHOD TARGET WHAT HEADERS...
    local who=$1 m=$2 target=$3 what=$4 extra="" l n0
    shift 4
    for l in "$@"; do extra+="$l\r\n"; done
    n0=$(upstream_count)
    printf "$m %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n${extra}\r\n" "$target" "${TOK[$who]}" | rawsend >"$T/out"
    expect_eq "$(status_of "$(cat "$T/out")")" 403 "$what"
    expect_eq "$(upstream_count)" "$n0" "$what: not forwarded"
}
upgrade_refused erin GET "$S/pods/web/exec?command=sh" "case 15 get-only exec over WebSocket" "${ws[@]}"
upgrade_refused erin GET "$S/pods/web/attach?stdout=1" "case 15 get-only attach over WebSocket" "${ws[@]}"
upgrade_refused erin POST "$S/pods/web/exec?command=sh" "case 15 get-only exec over SPDY (POST)" \
    'Connection: Upgrade' 'Upgrade: SPDY/3.1' 'X-Stream-Protocol-Version: v4.channel.k8s.io' 'Content-Length: 0'
upgrade_refused erin GET "$S/pods/web/exec?command=sh" "case 15 get-only exec as SPDY over GET" \
    'Connection: Upgrade' 'Upgrade: SPDY/3.1' 'X-Stream-Protocol-Version: v4.channel.k8s.io'
upgrade_refused erin GET "$S/pods/web/portforward?ports=80" "case 15 get-only portforward, upgrade list" \
    'Connection: Upgrade' 'Upgrade: foo/1, websocket' 'Sec-WebSocket-Version: 13' 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='
upgrade_refused wes GET "/api/v1/nodes/n1/proxy/exec/default/web/c?command=sh" "case 15 nodes/proxy exec over WebSocket" "${ws[@]}"
byte_exact wes "/api/v1/nodes/n1/proxy/healthz" "wes may get nodes/proxy without an upgrade"
pass "case 15: create needed for exec/attach upgrades; nodes/proxy treated as exec"

check_forward_invariant
pass "every forwarded request carried only the gateway's credential and one Impersonate-User"
