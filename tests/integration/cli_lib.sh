# Shared set-up for the tests that ask the authgate binary questions one command at a time
# and count failures instead of stopping at the first (t_check_cli.sh, t_azure_check.sh):
# a temp dir $TMP, sanitizer reports checked on exit, $fails, and expect.
TMP=$(mktemp -d)
. "$(dirname "${BASH_SOURCE[0]}")/sanitizers.sh"
san_setup "$TMP"
# A sanitizer report from any run fails the test (sanitizer builds; the exit codes alone
# cannot tell an aborted run from a "no").
trap 'rc=$?; san_check || rc=1; rm -rf "$TMP"; exit $rc' EXIT
fails=0
CLI_PREFIX=() # arguments every expect puts before its own

# expect WANT_RC WANT_STDOUT_SUBSTRING -- ARGS...: runs authgate ${CLI_PREFIX[@]} ARGS.
expect() {
    local want_rc=$1 want_out=$2
    shift 3
    local out rc
    out=$("$AUTHGATE" "${CLI_PREFIX[@]}" "$@" 2>"$TMP/err")
    rc=$?
    if [ "$rc" != "$want_rc" ] || [[ "$out" != *"$want_out"* ]]; then
        echo "FAIL: authgate ${CLI_PREFIX[*]:+${CLI_PREFIX[*]} }$* -> rc=$rc (want $want_rc), stdout:"
        echo "$out" | sed 's/^/    /'
        sed 's/^/    stderr: /' "$TMP/err"
        echo "    wanted stdout containing: $want_out"
        fails=$((fails + 1))
    fi
}
