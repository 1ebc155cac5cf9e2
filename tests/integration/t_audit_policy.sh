#!/usr/bin/env bash
# An audit.k8s.io/v1 Policy document (a cluster's existing audit policy file, YAML) as the
# audit rules: first match wins as in kube-apiserver; users, userGroups, verbs, resources
# by group/resources/resourceNames ("pods/*"), namespaces, nonResourceURLs with a
# wildcard suffix, omitStages per rule and at the top; no rule matched: None. A wrong
# document is refused with its FILE:LINE:COL.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/authz_lib.sh"

start_upstream
authz_keys
POLICY="$AG_SOURCE_DIR/tests/integration/authz_policy.json"
AUDIT=$T/audit.log
cat >"$T/audit-policy.yaml" <<'YAML'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages:
  - "RequestReceived"
omitManagedFields: true
rules:
  - level: None
    users: ["quiet"]
  - level: None
    userGroups: ["ops"]
    verbs: ["get"]
    resources:
      - group: ""
        resources: ["pods"]
        resourceNames: ["skip-me"]
  - level: Metadata
    resources:
      - group: ""
        resources: ["secrets", "configmaps"]
  - level: None
    nonResourceURLs:
      - /healthz*
      - /version
  - level: Request
    verbs: ["list"]
    namespaces: ["default"]
  - level: Metadata
    omitStages: ["ResponseStarted"]
    resources:
      - group: ""
        resources: ["pods/*"]
YAML
authz_config "$T/gw.json" "\"$POLICY\"" "" '"audit": {"file": "'"$AUDIT"'", "policy_file": "audit-policy.yaml"}'
start_gateway "$T/gw.json"
read -r ALICE BOB QUIET < <(node "$MINT" tokens "$T" alice:devs bob:ops quiet | paste -sd' ')

req GET /api/v1/namespaces/default/pods "$QUIET" >/dev/null                 # rule 1: None
req GET /api/v1/namespaces/default/pods/skip-me "$BOB" >/dev/null           # rule 2: None
req GET /api/v1/namespaces/default/pods/other "$BOB" >/dev/null             # rule 6 (pods/*)
req GET /api/v1/namespaces/default/secrets/db "$ALICE" >/dev/null           # rule 3
req GET /healthz/etcd "$ALICE" >/dev/null                                   # rule 4: None
req GET /api/v1/namespaces/default/pods "$ALICE" >/dev/null                 # rule 5: Request
req GET '/api/v1/namespaces/default/pods/x/log?follow=true' "$ALICE" --max-time 2 >/dev/null || true # rule 6, ResponseStarted omitted
req GET /apis/apps/v1/namespaces/other/deployments "$ALICE" >/dev/null      # no rule: None
req GET /api/v1/namespaces/default/configmaps/c1 "$ALICE" >/dev/null        # rule 3
for ((i = 0; i < 40; i++)); do [ "$(wc -l <"$AUDIT" 2>/dev/null || echo 0)" -ge 4 ] && break; sleep 0.05; done
sleep 0.3
got=$(jq -c '[.user.username, .verb, .requestURI, .level, .stage]' "$AUDIT")
expected='["bob","get","/api/v1/namespaces/default/pods/other","Metadata","ResponseComplete"]
["alice","get","/api/v1/namespaces/default/secrets/db","Metadata","ResponseComplete"]
["alice","list","/api/v1/namespaces/default/pods","Metadata","ResponseComplete"]
["alice","get","/api/v1/namespaces/default/configmaps/c1","Metadata","ResponseComplete"]'
expect_eq "$got" "$expected" "events the Policy selects, in order"
python3 "$AG_SOURCE_DIR/tests/integration/audit_schema.py" "$AUDIT" >/dev/null || fail "schema"
pass "audit.k8s.io/v1 Policy (YAML): first match wins, group/resources/resourceNames, userGroups, namespaces, nonResourceURLs, omitStages"
kill "$GW_PID"
wait "$GW_PID" 2>/dev/null || true

# the same rules as JSON; a top-level omitStages of ResponseComplete leaves nothing
cat >"$T/p.json" <<'JSON'
{"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": ["ResponseComplete"],
 "rules": [{"level": "Metadata"}]}
JSON
: >"$AUDIT"
authz_config "$T/gw2.json" "\"$POLICY\"" "" '"audit": {"file": "'"$AUDIT"'", "policy_file": "p.json"}'
start_gateway "$T/gw2.json" gw2
req GET /api/v1/namespaces/default/pods "$ALICE" >/dev/null
req GET '/api/v1/namespaces/default/pods/x/log?follow=true' "$ALICE" --max-time 2 >/dev/null || true
sleep 0.4
expect_eq "$(jq -r .stage "$AUDIT" | sort -u | tr '\n' ' ')" "ResponseStarted " "only the ResponseStarted event"
pass "JSON Policy; top-level omitStages"
kill "$GW_PID"
wait "$GW_PID" 2>/dev/null || true

# errors point into the policy file
printf 'apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Verbose\n' >"$T/bad.yaml"
authz_config "$T/gw3.json" "\"$POLICY\"" "" '"audit": {"file": "'"$AUDIT"'", "policy_file": "bad.yaml"}'
out=$("$AUTHGATE" serve --check --config "$T/gw3.json" 2>&1) && fail "a bad level accepted"
expect_match "$out" "bad\.yaml:4:[0-9]+: rules\[0\]\.level" "FILE:LINE:COL of the bad level"
printf '{"apiVersion": "v1", "kind": "ConfigMap", "rules": []}' >"$T/cm.json"
authz_config "$T/gw4.json" "\"$POLICY\"" "" '"audit": {"file": "'"$AUDIT"'", "policy_file": "cm.json"}'
out=$("$AUTHGATE" serve --check --config "$T/gw4.json" 2>&1) && fail "a ConfigMap accepted as a Policy"
expect_match "$out" "not an audit.k8s.io/v1 Policy" "not a Policy"
authz_config "$T/gw5.json" "\"$POLICY\"" "" '"audit": {"file": "'"$AUDIT"'", "policy_file": "p.json", "rules": []}'
out=$("$AUTHGATE" serve --check --config "$T/gw5.json" 2>&1) && fail "policy_file and rules accepted together"
expect_match "$out" "not both" "policy_file with rules"
pass "bad Policy documents refused with their position"
