# ARM helpers for the t_arm_*.sh integration tests: start the Azure Resource Manager
# fixture (tests/fixtures/arm/server.mjs: the three Microsoft.Authorization lists and a
# token endpoint), set its data and knobs, and write a gateway config whose authorization
# is Azure RBAC from that fixture (azure-then-rbac) with Azure AD tokens minted by
# tests/fixtures/authz/mint.mjs.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/authz_lib.sh"

ARM_TID=72f988bf-86f1-41af-91ab-2d7cd011db47
ARM_SUB=/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590
ARM_CLUSTER=$ARM_SUB/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/web
ARM_MG=/providers/Microsoft.Management/managementGroups/corp
R_READER=7f6c6a51-bcf8-42ba-9220-52d62157d7db
R_CADMIN=b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b
ALICE=1c6f3d1e-2b7a-4f0e-9d3c-5a8b7e6f0001
BOB=2c6f3d1e-2b7a-4f0e-9d3c-5a8b7e6f0002

# arm_start [fixture args]: sets ARM_PORT, ARM_URL; the client secret in $T/arm-secret.
arm_start() {
    node "$AG_SOURCE_DIR/tests/fixtures/arm/server.mjs" \
        --builtin "$AG_SOURCE_DIR/config/azure-builtin-roles.json" "$@" \
        >"$T/arm.out" 2>"$T/arm.err" &
    AG_PIDS+=($!)
    wait_for_file "$T/arm.out" 200
    ARM_PORT=$(jq -r .port "$T/arm.out")
    ARM_URL=http://127.0.0.1:$ARM_PORT
    printf 's3cret\n' >"$T/arm-secret"
}

arm_ctl() { curl -sf -X POST "$ARM_URL/_control" -d "$1" >/dev/null || fail "arm control $1"; }
arm_data() { curl -sf -X POST "$ARM_URL/_data" -d "$1" >/dev/null || fail "arm data $1"; }
arm_stats() { curl -sf "$ARM_URL/_stats"; }
# asg OID ROLE SCOPE: one assignment for arm_data's "assignments" list ("+x" is CLUSTER+x).
asg() {
    local s=$3
    [ "${s:0:1}" = + ] && s=$ARM_CLUSTER${s:1}
    printf '{"p":"%s","r":"%s","s":"%s"}' "$1" "$2" "$s"
}

# arm_config FILE ARM_MEMBERS: authentication (Azure AD + the test issuer), authorization
# azure-then-rbac with the RBAC policies the SAR tests use, "azure.arm" with ARM_MEMBERS.
arm_config() {
    cat >"$1" <<JSON
{
  "listen": {"address": "127.0.0.1:0"},
  "upstream": {"url": "http://127.0.0.1:$UP_PORT"},
  "admin": {"address": "127.0.0.1:0"},
  "workers": 2,
  "authentication": {"issuers": [
      {"type": "azure_ad", "tenant_id": "$ARM_TID", "keys": {"jwks_file": "$T/jwks.json"}},
      {"issuer": "https://idp.test", "audiences": ["authgate"], "keys": {"jwks_file": "$T/jwks.json"},
       "claims": {"username": "sub", "username_prefix": "-", "groups": "groups"}}]},
  "authorization": {"mode": "azure-then-rbac",
      "rbac": {"policies": ["$AG_SOURCE_DIR/tests/integration/authz_sar_policy.json"]},
      "azure": {"cluster_resource_id": "$ARM_CLUSTER",
                "arm": {$2}}}
}
JSON
}

# arm_secret_members [extra]: the ARM members for a client secret and a 1 s poll.
arm_secret_members() {
    printf '"base_url": "%s", "token_url": "%s/%s/oauth2/v2.0/token", "client_id": "authgate-test",
             "client_secret_file": "%s", "poll_interval": "1s"%s' \
        "$ARM_URL" "$ARM_URL" "$ARM_TID" "$T/arm-secret" "${1:+, $1}"
}

aad() { node "$MINT" aad "$T" "$ARM_TID" "$1" "$2"; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# wait_status PATH TOKEN CODE [SECONDS]: until a GET answers CODE; prints the ms it took.
wait_status() {
    local t0 i tries=$((${4:-5} * 20))
    t0=$(now_ms)
    for ((i = 0; i < tries; i++)); do
        [ "$(req GET "$1" "$2")" = "$3" ] && { echo $(($(now_ms) - t0)); return 0; }
        sleep 0.05
    done
    fail "GET $1 did not answer $3 within ${4:-5} s (last $(req GET "$1" "$2"))"
}

readyz() { curl -s -o "$T/readyz" -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/readyz?verbose"; }
# wait_ready [SECONDS]: /readyz answers 200 (the first ARM poll is complete).
wait_ready() {
    local i
    for ((i = 0; i < ${1:-5} * 20; i++)); do
        [ "$(readyz)" = 200 ] && return 0
        sleep 0.05
    done
    fail "gateway not ready: $(cat "$T/readyz")"
}
