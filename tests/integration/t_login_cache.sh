#!/usr/bin/env bash
# The token cache of `authgate login` (issue 15), against the scripted IdP: modes 0700/0600
# whatever the umask, reuse, refusal of an entry, lock file or directory that others can
# write, that someone else owns or that is a symlink (exit 7, nothing used, no sign-in),
# a malformed entry replaced by a new sign-in, refresh of an expired entry and a refused
# refresh without a terminal, and --logout.
. "$(dirname "$0")/oidc_lib.sh"
. "$(dirname "$0")/login_lib.sh"

scripted_start
printf '{}\n' >"$SC_SCRIPT"
C=$T/home/.kube/cache/authgate
# cl [ARGS...]: authgate login with the cache C; RC, OUT, ERR.
cl() {
    RC=0
    KUBERNETES_EXEC_INFO=${EXEC:-$EXEC_V1} timeout 30 "$AUTHGATE" login --issuer-url "$SC_ISSUER" \
        --client-id cli --token-cache-dir "$C" "$@" >"$T/out" 2>"$T/err.log" || RC=$?
    OUT=$(cat "$T/out")
    ERR=$(cat "$T/err.log")
}
devices() { sc_requests 'device/auth' | wc -l; }
entry() { ls "$C"/*.json; }

old_umask=$(umask)
umask 000
cl
umask "$old_umask"
expect_eq "$RC" 0 "first login ($ERR)"
expect_eq "$(mode_of "$C") $(mode_of "$(entry)") $(mode_of "${C}"/*.lock)" "700 600 600" \
    "modes under umask 000"
expect_eq "$(mode_of "$T/home/.kube/cache")" 700 "missing parents created 0700"
tok=$(jq -r .status.token <<<"$OUT")
cl
expect_eq "$(jq -r .status.token <<<"$OUT")" "$tok" "reused"
expect_eq "$(devices)" 1 "one sign-in for two calls"
pass "cache: 0700 directory, 0600 entry and lock whatever the umask; entry reused"

# refused WHAT MESSAGE: the call fails with 7, prints nothing, signs nobody in.
refused() {
    local before
    before=$(devices)
    cl
    expect_eq "$RC" 7 "$1: exit status ($ERR)"
    expect_eq "$OUT" "" "$1: nothing on stdout"
    expect_match "$ERR" "$2" "$1: message"
    expect_eq "$(devices)" "$before" "$1: no sign-in started"
}
chmod 666 "$(entry)"
refused "entry writable by others" "refusing the cached token file"
chmod 620 "$(entry)"
refused "entry writable by the group" "refusing the cached token file"
chmod 600 "$(entry)"
chown nobody "$(entry)"
refused "entry owned by someone else" "refusing the cached token file"
chown "$(id -u)" "$(entry)"
e=$(entry)
mv "$e" "$T/real.json"
ln -s "$T/real.json" "$e"
refused "entry is a symlink" "refusing the cached token file"
rm "$e"
mv "$T/real.json" "$e"
chmod 777 "$C"
refused "directory writable by others" "refusing the token cache directory"
chmod 700 "$C"
chmod 666 "$C"/*.lock
refused "lock file writable by others" "cannot lock the token cache"
chmod 600 "$C"/*.lock
cl
expect_eq "$(jq -r .status.token <<<"$OUT")" "$tok" "the entry is used again once safe"
pass "unsafe cache refused (exit 7, no token, no sign-in): others/group-writable, foreign owner, symlink, directory, lock"

# ---- malformed entry; expiry and refresh; refused refresh without a terminal ---------------
echo 'garbage' >"$(entry)"
cl
expect_eq "$RC" 0 "malformed entry: a new sign-in ($ERR)"
expect_match "$ERR" "ignoring the cached token file .*: malformed" "malformed entry reported"
expect_eq "$(devices)" 2 "a new device flow replaced it"
jq -c '.obtained_at -= 7200 | .expires_at -= 7200' "$(entry)" >"$T/old.json"
cat "$T/old.json" >"$(entry)" # the same file: owner and mode stay
rt=$(jq -r .refresh_token "$(entry)")
: >"$SC_LOG"
cl
expect_eq "$RC" 0 "expired entry refreshed ($ERR)"
expect_eq "$(sc_requests 'token$' | jq -r '.form.grant_type + " " + .form.refresh_token + " " + .form.client_id')" \
    "refresh_token $rt cli" "refresh_token grant with the cached refresh token"
expect_eq "$(devices)" 0 "no device flow for a refresh"
[ "$(jq -r .expires_at "$(entry)")" -gt "$(date +%s)" ] || fail "refreshed entry not written"
jq -c '.obtained_at -= 7200 | .expires_at -= 7200' "$(entry)" >"$T/old.json"
cat "$T/old.json" >"$(entry)"
printf '{"token":[{"status":400,"body":{"error":"invalid_grant"}}]}\n' >"$SC_SCRIPT"
EXEC=$EXEC_V1_BATCH cl
expect_eq "$RC" 6 "refused refresh without a terminal"
expect_match "$ERR" "refresh token was refused \(invalid_grant\)" "refusal reported"
expect_eq "$OUT" "" "nothing on stdout"
printf '{}\n' >"$SC_SCRIPT"
pass "malformed entry replaced by a sign-in; expired entry refreshed; refused refresh fails batch kubectl (6)"

# ---- logout -------------------------------------------------------------------------------------
cl --logout
expect_eq "$RC" 0 "logout"
[ -z "$(ls "$C"/*.json 2>/dev/null)" ] || fail "entry still there after --logout"
cl
cl --scopes "openid profile" # a second entry
expect_eq "$(ls "$C"/*.json | wc -l)" 2 "two entries (scopes are part of the key)"
RC=0
"$AUTHGATE" login --logout --token-cache-dir "$C" 2>"$T/err.log" || RC=$?
expect_eq "$RC" 0 "logout of everything"
expect_match "$(cat "$T/err.log")" "removed 2 cached token set" "both removed"
[ -z "$(ls "$C"/*.json 2>/dev/null)" ] || fail "entries left"
pass "--logout removes the entry of its flags, or every entry"
