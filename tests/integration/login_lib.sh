# Helpers for the `authgate login` tests (t_login_*.sh): the real OIDC provider with its
# device flow (tests/fixtures/oidc/provider.mjs --device), and the person who signs in
# (tests/fixtures/oidc/device_user.mjs) when authgate prints a code. Sourced after
# e2e/lib.sh or oidc_lib.sh.

EXEC_V1='{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":true}}'
EXEC_V1_BATCH='{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":false}}'

# login_stat FIELD: a counter of the provider (device = device authorizations started,
# grants.<type> = successful token grants of that type).
login_stat() { curl -sf "$OIDC_ISSUER/admin/stats" | jq -r ".$1 // 0"; }
login_device_count() { curl -sf "$OIDC_ISSUER/admin/stats" | jq -r '.device'; }
login_refresh_count() { curl -sf "$OIDC_ISSUER/admin/stats" | jq -r '.grants.refresh_token // 0'; }

# wait_code FILE [TRIES]: waits until FILE (someone's stderr) shows a user code; sets
# CODE and CODE_URI.
wait_code() {
    local i
    for ((i = 0; i < ${2:-200}; i++)); do
        [ -f "$1" ] || { sleep 0.05; continue; }
        CODE=$(sed -n 's/.*and enter the code \([^ ]*\)$/\1/p' "$1" | tail -1)
        CODE_URI=$(sed -n 's/.*To sign in, open \([^ ]*\) and enter.*/\1/p' "$1" | tail -1)
        [ -n "$CODE" ] && [ -n "$CODE_URI" ] && return 0
        sleep 0.05
    done
    fail "no user code in $1: $(cat "$1")"
}

# sign_in FILE [LOGIN] [--deny]: the person reads the code from FILE and signs in.
sign_in() {
    local f=$1 who=${2:-alice}
    shift 2 || shift $#
    wait_code "$f"
    (cd "$AG_SOURCE_DIR/tests" && timeout 20 node fixtures/oidc/device_user.mjs "$CODE_URI" "$CODE" "$who" "$@") \
        >>"$T/person.out" 2>&1 || fail "the person could not sign in: $(tail -3 "$T/person.out")"
}

# mode_of PATH: the octal mode of PATH (stat -c %a). A missing PATH fails the test with what
# its parent directory holds, instead of comparing an empty string against the expected
# mode (which said "got ''" and nothing about where the path went).
mode_of() {
    local m
    m=$(stat -c %a -- "$1" 2>&1) ||
        fail "cannot stat $1 ($m); parent: $(ls -la -- "$(dirname -- "$1")" 2>&1 | tr '\n' ';')"
    echo "$m"
}

# login ARGS...: authgate login against the provider, client kubectl, audience $AUD.
login() {
    "$AUTHGATE" login --issuer-url "$OIDC_ISSUER" --client-id kubectl --audience "$AUD" "$@"
}

# scripted_start: the scripted IdP (tests/fixtures/oidc/scripted_idp.mjs); sets SC_ISSUER,
# SC_SCRIPT (write the script there) and SC_LOG (its request log).
scripted_start() {
    SC_SCRIPT=$T/idp-script.json
    SC_LOG=$T/idp-requests.jsonl
    echo '{}' >"$SC_SCRIPT"
    : >"$SC_LOG"
    (cd "$AG_SOURCE_DIR/tests" && exec node fixtures/oidc/scripted_idp.mjs --script "$SC_SCRIPT" \
        --log "$SC_LOG") >"$T/idp.out" 2>"$T/idp.err" &
    AG_PIDS+=($!)
    wait_for_file "$T/idp.out" 200
    SC_ISSUER=$(jq -r .issuer "$T/idp.out")
}

# sc_requests PATH_REGEX: the logged requests whose path matches, one JSON per line.
sc_requests() { jq -c --arg re "$1" 'select(.path | test($re))' "$SC_LOG"; }

# The Azure tests' tenant, AKS server app, apps (secret, certificate, workload identity)
# and the cluster's service account issuer whose tokens the workload app federates.
TID=72f988bf-86f1-41af-91ab-2d7cd011db47
AKS=6dae42f8-4368-4678-94ff-3960e28e3630
SPN=11111111-0000-4000-8000-000000000001
CERT_APP=11111111-0000-4000-8000-000000000002
WI_APP=11111111-0000-4000-8000-000000000003
SA_ISS=https://oidc.cluster.test
SA_SUB=system:serviceaccount:ci:deployer

# aad_start TENANT CLIENTS-FILE: the Azure AD-shaped token service
# (tests/fixtures/azure/aad.mjs) issuing tokens signed with $T/key.json (created here, with
# $T/jwks.json for the gateway); sets AUTHORITY, AAD_LOG (its request log) and AAD_SCRIPT.
aad_start() {
    AAD_LOG=$T/aad.jsonl
    AAD_SCRIPT=$T/aad-script.json
    : >"$AAD_LOG"
    node "$AG_SOURCE_DIR/tests/fixtures/authz/mint.mjs" keys "$T" || fail "aad keys"
    (cd "$AG_SOURCE_DIR/tests" && exec node fixtures/azure/aad.mjs --tenant "$1" --key "$T/key.json" \
        --clients "$2" --log "$AAD_LOG" --script "$AAD_SCRIPT") >"$T/aad.out" 2>"$T/aad.err" &
    AG_PIDS+=($!)
    wait_for_file "$T/aad.out" 200
    AUTHORITY=$(jq -r .authority "$T/aad.out")
    [ -n "$AUTHORITY" ] || fail "aad fixture: $(cat "$T/aad.err")"
}
