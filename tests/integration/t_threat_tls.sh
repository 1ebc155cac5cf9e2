#!/usr/bin/env bash
# TLS client certificates as an identity (threat-model cases 1, 6 and the x509 path of
# issue 3): only a certificate that verifies against tls.client_ca (and is meant for client
# authentication) yields an identity; any other certificate is no identity at all -- the
# request is then judged by its bearer token or refused -- and never one that an attacker
# chose (CN, O=system:masters).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/threat_lib.sh"

gen_certs
start_upstream
threat_keys
threat_tokens
# A CA the gateway does not trust, issuing "mallory" in system:masters; a self-signed
# "alice"; a cert from the trusted CA that is only for servers; one without a CN.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=rogue CA" \
    -keyout "$T/rogue-ca.key" -out "$T/rogue-ca.crt" 2>/dev/null
leaf() { # leaf NAME SUBJECT CA_CRT CA_KEY EKU
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$2" \
        -keyout "$T/$1.key" -out "$T/$1.csr" 2>/dev/null
    printf 'extendedKeyUsage=%s\n' "$5" >"$T/$1.ext"
    openssl x509 -req -in "$T/$1.csr" -CA "$3" -CAkey "$4" -CAcreateserial -days 2 \
        -extfile "$T/$1.ext" -out "$T/$1.crt" 2>/dev/null
}
leaf mallory "/O=system:masters/CN=mallory" "$T/rogue-ca.crt" "$T/rogue-ca.key" clientAuth
leaf serveronly "/O=devs/CN=bob" "$PKI/ca.crt" "$PKI/ca.key" serverAuth
leaf nocn "/O=system:masters" "$PKI/ca.crt" "$PKI/ca.key" clientAuth
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/O=system:masters/CN=alice" \
    -keyout "$T/self.key" -out "$T/self.crt" 2>/dev/null

threat_config "$T/gw.json" "" "" "\"tls\": {\"cert\": \"$PKI/server.crt\", \"key\": \"$PKI/server.key\",
    \"client_ca\": \"$PKI/ca.crt\", \"client_auth\": \"optional\"}"
start_gateway "$T/gw.json"
PODS=/api/v1/namespaces/default/pods
treq() { # treq CERT_NAME|- PATH [curl args] -> status; body in $T/body
    local c=$1 p=$2 cert=()
    shift 2
    case "$c" in
    -) ;;
    client) cert=(--cert "$PKI/client.crt" --key "$PKI/client.key") ;;
    *) cert=(--cert "$T/$c.crt" --key "$T/$c.key") ;;
    esac
    curl -s -o "$T/body" -w '%{http_code}' --cacert "$PKI/ca.crt" "${cert[@]}" "$@" "https://127.0.0.1:$GW_PORT$p"
}

# the trusted certificate: CN -> user, O -> groups
expect_eq "$(treq client $PODS)" 200 "trusted client certificate"
expect_eq "$(up_headers Impersonate-User)" alice "CN is the user"
expect_eq "$(up_headers Impersonate-Group | paste -sd,)" "devs,ops,system:authenticated" "O values are the groups"
pass "a certificate verified against client_ca is an identity"

# untrusted certificates: no identity (401), nothing forwarded
n0=$(upstream_count)
for c in mallory self nocn -; do
    code=$(treq "$c" $PODS)
    [ "$code" = 401 ] || [ "$code" = 000 ] || fail "certificate $c: got $code, expected 401 (or no handshake)"
done
code=$(treq serveronly $PODS)
[ "$code" = 401 ] || [ "$code" = 000 ] || fail "serverAuth-only certificate accepted as a client identity ($code)"
expect_eq "$(upstream_count)" "$n0" "nothing forwarded for unverified certificates"
expect_eq "$(treq mallory /api/v1/nodes)" 401 "rogue system:masters certificate"
pass "rogue CA, self-signed, CN-less, server-only certificates and no certificate: no identity"

# an unverified certificate beside a bearer token: the token's identity only
expect_eq "$(treq mallory $PODS -H "Authorization: Bearer $(tok ok)")" 200 "rogue cert + alice's token"
expect_eq "$(up_headers Impersonate-User)" alice "judged and forwarded as alice"
expect_eq "$(up_headers Impersonate-Group | grep -c system:masters)" 0 "no group from the rogue certificate"
expect_eq "$(treq mallory /api/v1/nodes -H "Authorization: Bearer $(tok ok)")" 403 "alice cannot list nodes"
pass "an unverified certificate adds nothing to a token's identity"

# a verified certificate cannot impersonate without the right
n0=$(upstream_count)
expect_eq "$(treq client $PODS -H 'Impersonate-User: admin')" 403 "cert user impersonating"
expect_eq "$(treq client $PODS -H 'Impersonate-Group: system:masters' -H 'Impersonate-User: alice')" 403 "cert user adding a group"
expect_eq "$(upstream_count)" "$n0" "nothing forwarded"
pass "certificate identities are subject to the impersonate check"

# plain HTTP on the TLS port: no answer that could be mistaken, nothing forwarded
out=$(printf 'GET %s HTTP/1.1\r\nHost: x\r\n\r\n' "$PODS" | rawsend)
expect_no_match "$out" '^HTTP/1.1 200' "plain HTTP served on the TLS port"
expect_eq "$(upstream_count)" "$n0" "nothing forwarded"
check_forward_invariant
pass "plain HTTP on the TLS listener is never served"
