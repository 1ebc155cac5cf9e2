# Helpers for the tests of kubectl's own questions through the gateway (issue 14; sourced
# after tests/e2e/lib.sh): pin kubectl 1.32, ask `kubectl auth can-i` / `whoami`, and
# compare with what the gateway enforces for the real request (reached the fake API
# server or not).
kubectl_recent || { echo "SKIP: needs kubectl 1.30 or later on PATH"; exit 0; }
# The fake API server says 1.30, whose kubectl sends JSON reviews: pin 1.32, the release
# this test is about (it sends SelfSubjectAccessReview as protobuf).
kubectl_pin 1.32

# can_i WHO ARGS...: kubectl auth can-i's answer (yes/no), exit status checked against it
can_i() {
    local who=$1 out rc=0
    shift
    out=$(kc "$who" auth can-i "$@" 2>"$T/cani.err") || rc=$?
    case "$out/$rc" in
    yes/0 | no/1) echo "$out" ;;
    "no - "*/1) echo no ;; # kubectl prints the review's reason after a no
    *) fail "kubectl auth can-i $* as $who: '$out' rc $rc: $(cat "$T/cani.err")" ;;
    esac
}
# enforced WHO ARGS...: what the gateway does for the real request: no for the gateway's
# 403 (the fake API server never answers one), yes when it reached the API server
# (whatever that answered)
enforced() {
    local who=$1 out m
    shift
    m=$(wc -l <"$API_LOG")
    out=$(kc "$who" "$@" 2>&1) || true
    if grep -q '(Forbidden)' <<<"$out"; then
        echo no
    elif [ "$(tail -n +"$((m + 1))" "$API_LOG" | jq -c 'select(.method)' | grep -c .)" -gt 0 ]; then
        echo yes
    else
        fail "kubectl $* as $who: neither forwarded nor forbidden: $out"
    fi
}
same() { # same WHO "CAN-I ARGS" "REAL ARGS": can-i answers what the gateway enforces
    local a b
    a=$(can_i "$1" $2)
    b=$(enforced "$1" $3)
    expect_eq "$a" "$b" "can-i $2 as $1 vs the real request $3"
    echo "$a"
}

# whoami WHO [ARGS]: "user group,group,..." from kubectl's JSON; upstream WHO ARGS: the same
# from the Impersonate-* headers the API server got for a real `get pods`
whoami() {
    local who=$1
    shift
    kc "$who" auth whoami -o json "$@" 2>&1 |
        jq -r '.status.userInfo | .username + " " + (.groups | sort | join(","))' ||
        fail "whoami as $who $*"
}
upstream() {
    local who=$1
    shift
    api_mark
    kc "$who" get pods "$@" >/dev/null 2>&1 || true
    api_new | jq -r 'def hv(n): [.headers[] | select(.[0] | ascii_downcase == n) | .[1]];
        select(.target | test("/pods")) | hv("impersonate-user")[0] + " " +
        (hv("impersonate-group") | sort | join(","))' | tail -n 1
}
# kubectl_protobuf_answer OUTPUT RESOURCE: kubectl -v=8 OUTPUT shows the RESOURCE review
# going out and coming back as protobuf (kubectl >= 1.32 only; older ones send JSON)
kubectl_protobuf_answer() {
    [[ "$(kubectl version --client 2>/dev/null)" == *v1.3[2-9]* ]] || return 0
    local sect
    sect=$(sed -n "/POST .*$2/,/Response Body/p" <<<"$1")
    expect_match "$(sed -n '/Request Headers/,/Response Status/p' <<<"$sect")" \
        'Content-Type: application/vnd.kubernetes.protobuf' "kubectl sent $2 as protobuf"
    expect_match "$(sed -n '/Response Headers/,$p' <<<"$sect")" \
        'Content-Type: application/vnd.kubernetes.protobuf' "and got protobuf back"
}
# transcript WHO ARGS...: prints "# (WHO) $ kubectl ARGS" and the output, "# "-prefixed (the
# test log then shows what a user sees)
transcript() {
    local who=$1
    shift
    echo "# ($who) \$ kubectl $*"
    kc "$who" "$@" 2>&1 | grep -v 'memcache.go' | sed 's/^/#   /' || true
}
