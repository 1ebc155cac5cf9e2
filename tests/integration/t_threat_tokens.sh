#!/usr/bin/env bash
# Token attacks through the real binary (threat-model cases 6, 32-36, 40): each attack
# token, minted by tests/fixtures/threats/mint.mjs (jose / node:crypto), is sent as a
# bearer token; the gateway must answer 401 (431 when larger than the head limit) with a
# Status body, forward nothing, and never contact a URL the token names. Controls (the
# valid token, leeway, multi-audience) must pass so that a 401 means "checked", not
# "broken".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/threat_lib.sh"

THREAT_RECORDER=1 threat_start

# controls
expect_eq "$(breq ok)" 200 "valid token"
expect_eq "$(up_headers Impersonate-User)" alice "valid token forwarded as alice"
expect_eq "$(breq expired_in_leeway)" 200 "exp 20 s ago is inside the 60 s leeway (case 35)"
expect_eq "$(breq nbf_in_leeway)" 200 "nbf 20 s ahead is inside the leeway (case 35)"
expect_eq "$(breq aud_multi_ok)" 200 "aud array containing ours (case 34, MatchAny)"
pass "controls: valid tokens pass"

# refused: 401, Status body, nothing forwarded
refused() { # refused NAME CASE...
    local name=$1 n0 code
    shift
    n0=$(upstream_count)
    code=$(breq "$name")
    expect_eq "$code" 401 "token $name ($*)"
    expect_eq "$(jq -r '[.kind,.reason,.code]|join(",")' "$T/body")" "Status,Unauthorized,401" "$name: Status body"
    expect_eq "$(upstream_count)" "$n0" "$name: nothing forwarded"
}
# case 33: alg
refused alg_none "33 alg none"
refused alg_none_kid "33 alg none with a kid"
refused alg_NONE_sig "33 alg NONE, any case"
refused hs256_pubkey_pem "33 HS256 keyed with the RSA public key (PEM)"
refused hs256_pubkey_der "33 HS256 keyed with the RSA public key (DER)"
refused hs256_pubkey_n "33 HS256 keyed with the JWK modulus"
refused alg_rs1 "33 alg not in the allow-list"
refused alg_lower "33 alg compared exactly"
pass "case 33: alg none, HS256 with the public key, unknown algs refused"
# case 33: keys named by the token
refused jku "33 jku names attacker keys"
refused jku_known_kid "33 jku + known kid, attacker signature"
refused x5u "33 x5u"
refused jwk_embedded "33 embedded jwk with a known kid"
refused jwk_embedded_nokid "33 embedded jwk, no kid"
refused x5c "33 x5c"
refused kid_url "33 kid is a URL"
refused kid_traversal "33 kid path traversal"
refused kid_sqli "33 kid injection"
refused iss_url "44 unknown issuer URL"
refused crit_exp "33 crit rejected even for a known name"
refused crit_unknown "33 crit with an unknown extension"
refused wrong_key "signature by another key"
refused sig_stripped "signature removed"
refused sig_flipped "signature altered"
sleep 0.3
expect_eq "$(rec_hits)" 0 "no URL named by a token was ever fetched (jku/x5u/kid/iss): $(cat "$T/rec/jwks.log")"
pass "case 33: jku/x5u/jwk/x5c/kid never trusted or fetched; crit refused"
# case 35: time; case 34: audience; case 32: issuer
refused expired "35 exp past the leeway"
refused nbf_future "35 nbf in the future"
refused no_exp "35 exp required"
refused exp_float "35 NumericDate must be an integer"
refused exp_string "35 NumericDate must be a number"
refused aud_other "34 token for another app"
refused aud_prefix "34 audience prefix match"
refused aud_case "34 audience case"
refused aud_missing "34 no audience"
refused iss_slash "32 issuer with a trailing slash"
refused iss_case "32 issuer case"
refused iss_missing "32 no issuer"
refused iss_a_kid_b "32 B's kid under A's iss"
refused iss_b_signed_by_a "32 B's iss signed with A's key"
pass "cases 32/34/35: time, audience and issuer checked exactly"
# case 36: shapes
for t in dup_iss dup_sub dup_alg jwe four padded std_b64 nonutf8 deep; do refused "$t" "36 $t"; done
pass "case 36: duplicate keys, JWE, extra segments, padding, non-UTF-8, deep nesting refused"
# case 6 / 2: reserved names and header injection from claims
refused sub_system "6 system: username from an IdP"
refused sub_sa "6 service-account username from an IdP"
refused sub_crlf "2 CR/LF in the username"
refused group_crlf "2 CR/LF in a group"
refused group_nul "2 NUL in a group"
n0=$(upstream_count)
code=$(breq group_masters /api/v1/nodes)
[ "$code" = 401 ] || [ "$code" = 403 ] || fail "system:masters from an IdP granted ($code)"
expect_eq "$(upstream_count)" "$n0" "system:masters claim never forwarded"
pass "case 6: reserved names from claims never become identity"

# case 32: the same sub from issuer B is another user ("b:alice"), not alice
n0=$(upstream_count)
expect_eq "$(breq iss_b_ok)" 403 "b:alice may not list alice's pods"
expect_match "$(jq -r .message "$T/body")" 'User "b:alice" cannot list' "B's alice is b:alice"
expect_eq "$(upstream_count)" "$n0" "nothing forwarded"
pass "case 32: same sub from two issuers gives two users"

# case 40 / huge tokens: a 20 KiB token is refused by size (401), a 40 KiB one by the
# head limit (431); 1500 groups are refused or capped, never forwarded whole
refused big_20k "40 token above max_token_bytes"
big=$(tok big_20k)
out=$(printf 'GET /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s%s\r\n\r\n' "$big" "$big" | rawsend)
expect_eq "$(status_of "$out")" 431 "40 KiB head"
refused groups_huge "40 1500 groups: above the per-identity cap, refused not truncated"
pass "case 40: huge tokens and group arrays bounded"

# tokens are never logged (case 45)
for name in ok hs256_pubkey_pem jku big_20k; do
    sig=$(tok "$name" | cut -d. -f3 | cut -c1-24)
    [ -z "$sig" ] && continue
    if grep -qF -- "$sig" "$GW_LOG"; then fail "token $name appears in the gateway log"; fi
done
pass "case 45: no token in the gateway log"

# case 44: with anonymous requests enabled, a token that fails (unknown issuer, forged,
# expired) is still a 401 -- never downgraded to system:anonymous; case 45 at debug level
threat_config "$T/gw2.json" "" '"anonymous": true' '"log": {"level": "debug"}'
start_gateway "$T/gw2.json" gw2
expect_eq "$(hreq GET /version)" 200 "anonymous may get /version (bootstrap public-info-viewer)"
for name in iss_url alg_none expired wrong_key aud_other; do
    expect_eq "$(hreq GET /version -H "Authorization: Bearer $(tok "$name")")" 401 "44 $name is not anonymous"
done
expect_eq "$(breq ok)" 200 "valid token with anonymous on"
for name in ok iss_url alg_none expired; do
    sig=$(tok "$name" | cut -d. -f3 | cut -c1-24)
    body=$(tok "$name" | cut -d. -f2 | cut -c1-24)
    for s in $sig $body; do
        if grep -qF -- "$s" "$GW_LOG"; then fail "token $name appears in the debug log"; fi
    done
done
pass "case 44/45: failed tokens never fall back to anonymous; no token at debug level"

# Authentication failures counted by reason
expect_match "$(curl -s "http://127.0.0.1:$ADMIN_PORT/metrics")" 'authgate_authn_total\{result="[a-z_]*"\} [1-9]' "authn metrics"
check_forward_invariant
pass "every forwarded request carried only the gateway's credential and an Impersonate-User"
