#!/usr/bin/env bash
# `authgate check` and `authgate who-can` against config/policies: answers, exit codes,
# --explain, -o json, --request, --config, and policy errors with FILE:LINE:COL.
set -u
AUTHGATE=${AUTHGATE:-./build/authgate}
SRC=${AG_SOURCE_DIR:-.}
POL="$SRC/config/policies"
. "$(dirname "$0")/cli_lib.sh"

# kubectl-style resource questions
expect 0 yes -- check --policy "$POL" --as bob --as-group dev-team create deployments.apps -n dev
expect 0 yes -- check --policy "$POL" --as bob --as-group dev-team create deploy -n dev
expect 1 no -- check --policy "$POL" --as bob --as-group dev-team create deploy -n prod
expect 0 yes -- check --policy "$POL" --as bob --as-group dev-team get secrets -n dev
expect 1 no -- check --policy "$POL" --as x --as-group ops get secrets -n dev
expect 0 yes -- check --policy "$POL" --as x --as-group ops list po -A
expect 1 no -- check --policy "$POL" --as x --as-group ops list nodes
# aggregation: a custom role labelled aggregate-to-view reaches view, edit and admin
expect 0 yes -- check --policy "$POL" --as x --as-group ops watch widgets.example.com -n any
expect 0 yes -- check --policy "$POL" --as bob --as-group dev-team get widgets.example.com/w1 -n dev
# resourceNames never grant list; a named get is fine
expect 0 yes -- check --policy "$POL" --as alice@example.com get configmaps/web-config -n prod
expect 0 yes -- check --policy "$POL" --as alice@example.com get cm --name web-config -n prod
expect 1 no -- check --policy "$POL" --as alice@example.com list configmaps -n prod
expect 0 yes -- check --policy "$POL" --as alice@example.com --request 'GET /api/v1/namespaces/prod/configmaps?fieldSelector=metadata.name%3Dweb-config'
expect 1 no -- check --policy "$POL" --as alice@example.com --request 'GET /api/v1/namespaces/prod/configmaps?fieldSelector=metadata.name%3Dweb-config&limit=x'
# a ServiceAccount subject without namespace takes the RoleBinding's
expect 0 yes -- check --policy "$POL" --as system:serviceaccount:prod:deployer update deployments.apps -n prod
expect 1 no -- check --policy "$POL" --as system:serviceaccount:dev:deployer update deployments.apps -n prod
# subresources
expect 0 yes -- check --policy "$POL" --as bob --as-group dev-team create pods --subresource exec -n dev
expect 1 no -- check --policy "$POL" --as x --as-group ops create pods --subresource exec -n dev
# non-resource URLs and the bootstrap policy
expect 0 yes -- check --policy "$POL" --as anyone get /api
expect 1 no -- check --policy "$POL" --as anyone --exact-groups get /api
expect 0 yes -- check --policy "$POL" --as system:anonymous get /healthz
expect 1 no -- check --policy "$POL" --as system:anonymous get /api
expect 1 no -- check --policy "$POL" --no-bootstrap --as anyone get /api
expect 1 no -- check --policy "$POL" --as anyone head /healthz
# §11.14: --as works like impersonation: no caller groups, only system:authenticated;
# a service-account user name gets the SA groups unless groups are given explicitly
expect 0 yes -- check --policy "$POL" --as system:serviceaccount:x:y get /openid/v1/jwks
expect 1 no -- check --policy "$POL" --as system:serviceaccount:x:y --as-group foo get /openid/v1/jwks
expect 0 'groups=[system:serviceaccounts system:serviceaccounts:x system:authenticated]' -- \
    check --policy "$POL" --as system:serviceaccount:x:y get /api --explain
expect 0 'groups=[system:unauthenticated]' -- check --policy "$POL" --as system:anonymous get /healthz --explain
expect 1 'groups=[system:unauthenticated]' -- check --policy "$POL" --as u --as-group system:unauthenticated get /api --explain
# raw requests, the legacy watch prefix, the WebSocket exec rule
expect 0 yes -- check --policy "$POL" --as x --as-group ops --request 'GET /api/v1/namespaces/default/pods?watch=1'
expect 0 yes -- check --policy "$POL" --as x --as-group ops --request 'DELETE /api/v1/watch/namespaces/default/pods'
expect 1 no -- check --policy "$POL" --as x --as-group ops --request 'DELETE /api/v1/namespaces/default/pods'
expect 1 no -- check --policy "$POL" --as x --as-group ops --request 'GET /api/v1/namespaces/dev/pods/p/exec' --websocket
cat >"$TMP/exec.json" <<'JSON'
{"kind": "List", "apiVersion": "v1", "items": [
 {"kind": "ClusterRole", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {"name": "exec-get"},
  "rules": [{"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get"]}]},
 {"kind": "ClusterRoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {"name": "exec-get"},
  "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "exec-get"},
  "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "ws"}]}]}
JSON
expect 0 yes -- check --policy "$TMP/exec.json" --as ws --request 'GET /api/v1/namespaces/dev/pods/p/exec?command=sh'
expect 1 'also required: create' -- check --policy "$TMP/exec.json" --as ws --request 'GET /api/v1/namespaces/dev/pods/p/exec?command=sh' --websocket --explain
# the gateway's own grants
expect 0 yes -- check --policy "$POL" --as system:serviceaccount:authgate-system:authgate impersonate users --name alice
expect 0 yes -- check --policy "$POL" --as system:serviceaccount:authgate-system:authgate impersonate userextras.authentication.k8s.io --subresource scopes
expect 0 yes -- check --policy "$POL" --as system:serviceaccount:authgate-system:authgate create subjectaccessreviews.authorization.k8s.io
# --explain and -o json
expect 0 'reason: RBAC: allowed by RoleBinding "dev-team-edit/dev" of ClusterRole "edit" to Group "dev-team"' -- \
    check --policy "$POL" --as bob --as-group dev-team delete pods -n dev --explain
expect 1 'reason: User "alice@example.com" cannot list resource "configmaps" in API group "" in the namespace "prod"' -- \
    check --policy "$POL" --as alice@example.com list configmaps -n prod --explain
expect 1 'reason: User "carol" cannot get resource "nodes" in API group "" at the cluster scope' -- \
    check --policy "$POL" --as carol get nodes --explain
expect 1 'reason: User "carol" cannot get path "/metrics"' -- check --policy "$POL" --as carol get /metrics --explain
# --explain for a denial: the closest rule, one field away, and the field
expect 1 'closest: ClusterRole "view" rule 0 (ClusterRoleBinding "ops-view" to Group "ops") allows get,list,watch on ' -- \
    check --policy "$POL" --as x --as-group ops delete pods -n dev --explain
expect 1 '; missing verb "delete"' -- check --policy "$POL" --as x --as-group ops delete pods -n dev --explain
expect 1 '; bound in namespace "dev" only, asked in "prod"' -- \
    check --policy "$POL" --as bob --as-group dev-team get pods -n prod --explain
expect 1 'named "web-config"; the request names no object and the rule only named ones' -- \
    check --policy "$POL" --as alice@example.com list configmaps -n prod --explain
expect 1 '; missing resource "pods/exec"' -- \
    check --policy "$POL" --as dave --as-group support get pods --subresource exec -n dev --explain
expect 1 '"closest":"closest: ClusterRole \"log-reader\" rule 0' -- \
    check --policy "$POL" --as dave --as-group support get pods --subresource exec -n dev -o json
expect 0 '"allowed":true' -- check --policy "$POL" --as bob --as-group dev-team get pods -n dev -o json
expect 0 '"binding":{"kind":"RoleBinding","namespace":"dev","name":"dev-team-edit"}' -- \
    check --policy "$POL" --as bob --as-group dev-team get pods -n dev -o json
expect 1 '"denyMessage":"User \"carol\" cannot get resource \"nodes\"' -- check --policy "$POL" --as carol get nodes -o json
# who-can
expect 0 'ServiceAccount  authgate-system' -- who-can --policy "$POL" impersonate users
expect 0 'Group           -                    dev-team' -- who-can --policy "$POL" delete pods -n dev
expect 0 '"name":"ops"' -- who-can --policy "$POL" list pods -n default -o json
# --config: the gateway config's authorization.rbac section (paths relative to the file)
mkdir -p "$TMP/cfg/pol"
cp "$POL/team.json" "$TMP/cfg/pol/"
cat >"$TMP/cfg/gw.json" <<'JSON'
{"listen": {"address": "127.0.0.1:0"}, "upstream": {"url": "http://127.0.0.1:1"},
 "authorization": {"rbac": {"policies": ["pol"], "bootstrap": true}}}
JSON
expect 0 yes -- check --config "$TMP/cfg/gw.json" --as bob --as-group dev-team create deploy -n dev
expect 1 no -- check --config "$TMP/cfg/gw.json" --as bob --as-group dev-team create deploy -n prod
expect 0 yes -- check --config "$TMP/cfg/gw.json" --as anyone get /api
expect 1 no -- check --config "$TMP/cfg/gw.json" --no-bootstrap --as anyone get /api
expect 0 'KIND' -- who-can --config "$TMP/cfg/gw.json" delete pods -n dev
# the whole configuration is read, strictly, as serve reads it
echo '{"listen": {"address": "127.0.0.1:0"}, "upstream": {"url": "http://127.0.0.1:1"}, "bogus": 1}' >"$TMP/cfg/bad.json"
expect 2 '' -- check --config "$TMP/cfg/bad.json" --as a get pods
grep -q 'bad.json:1:.*bogus' "$TMP/err" || { echo "FAIL: --config error must name the key"; cat "$TMP/err"; fails=$((fails + 1)); }
echo '{"listen": {"address": "127.0.0.1:0"}, "upstream": {"url": "http://127.0.0.1:1"}}' >"$TMP/cfg/noauthz.json"
expect 2 '' -- check --config "$TMP/cfg/noauthz.json" --as a get pods
grep -q 'no "authorization" or "azure" section' "$TMP/err" || { echo "FAIL: --config without authorization"; cat "$TMP/err"; fails=$((fails + 1)); }
expect 2 '' -- check --config "$TMP/cfg/gw.json" --policy "$POL" --as a get pods
# files only serving needs (TLS, issuer keys) need not exist where check runs; serve --check
# still requires them
cat >"$TMP/cfg/prod.json" <<'JSON'
{"listen": {"address": "127.0.0.1:0"}, "upstream": {"url": "http://127.0.0.1:1"},
 "tls": {"cert": "/nonexistent/server.crt", "key": "/nonexistent/server.key"},
 "authentication": {"issuers": [{"issuer": "https://idp.test", "audiences": ["a"],
     "keys": {"jwks_file": "/nonexistent/jwks.json"}}]},
 "authorization": {"rbac": {"policies": ["pol"]}}}
JSON
expect 0 yes -- check --config "$TMP/cfg/prod.json" --as bob --as-group dev-team create deploy -n dev
"$AUTHGATE" serve --config "$TMP/cfg/prod.json" --check >/dev/null 2>&1 && { echo "FAIL: serve --check must still read the TLS files"; fails=$((fails + 1)); }
# kubectl auth can-i parity: -q/--quiet (exit status only), --as-uid, -A, repeated --as-group
quiet() { # quiet WANT_RC ARGS...: nothing on stdout
    local want=$1 out rc
    shift
    out=$("$AUTHGATE" "$@" 2>"$TMP/err")
    rc=$?
    if [ "$rc" != "$want" ] || [ -n "$out" ]; then
        echo "FAIL: authgate $* -> rc=$rc (want $want), stdout must be empty: $out"; fails=$((fails + 1))
    fi
}
quiet 0 check --policy "$POL" --as bob --as-group dev-team create deploy -n dev -q
quiet 1 check --policy "$POL" --as bob --as-group dev-team create deploy -n prod --quiet
quiet 2 check --policy "$POL" --as bob get pods -q --explain
expect 0 'user: bob groups=[dev-team system:authenticated] uid=1234' -- \
    check --policy "$POL" --as bob --as-group dev-team --as-uid 1234 get pods -n dev --explain
expect 0 '"uid":"1234"' -- check --policy "$POL" --as bob --as-group dev-team --as-uid=1234 get pods -n dev -o json
expect 0 yes -- check --policy "$POL" --as x --as-group nobody --as-group ops list pods --all-namespaces
expect 1 no -- check --policy "$POL" --as bob --as-group dev-team list pods --all-namespaces
expect 1 'namespace=""' -- check --policy "$POL" --as bob --as-group dev-team list pods -A --explain
# help: every sub-command, with examples, on stdout, exit 0; never a source file name
for sub in check who-can serve demo login webhook-kubeconfig; do
    out=$("$AUTHGATE" $sub --help 2>&1)
    rc=$?
    if [ "$rc" != 0 ] || [[ "$out" != *examples:* ]] || [[ "$out" =~ \.c\b|\.h\b|cmd_ ]]; then
        echo "FAIL: authgate $sub --help (rc=$rc) must show examples and name no source file:"
        echo "$out" | sed 's/^/    /'; fails=$((fails + 1))
    fi
done
out=$("$AUTHGATE" --help 2>&1)
[[ "$out" == *examples:* && "$out" == *"Each command has --help"* ]] || { echo "FAIL: authgate --help: $out"; fails=$((fails + 1)); }
out=$("$AUTHGATE" check --azure-assignments x --help 2>&1)
[[ "$out" == *examples:* && "$out" != *cmd_* ]] || { echo "FAIL: Azure check --help: $out"; fails=$((fails + 1)); }
# who-can --help lists every flag who-can accepts (and who-can refuses check's own by name)
whohelp=$("$AUTHGATE" who-can --help)
for f in --policy --no-bootstrap --config -n --namespace -A --all-namespaces --subresource --name -o --output -h --help; do
    [[ "$whohelp" == *" $f"[\ ,]* ]] || { echo "FAIL: who-can --help does not list $f"; fails=$((fails + 1)); }
done
for f in --as --as-group --as-uid --oid --request --explain --websocket --exact-groups -q; do
    expect 2 '' -- who-can --policy "$POL" $f x get pods
    grep -q -- "who-can takes no $f\b" "$TMP/err" || { echo "FAIL: who-can $f not refused by name"; cat "$TMP/err"; fails=$((fails + 1)); }
done
# usage errors and policy errors: exit 2 and say where
expect 2 '' -- check --policy "$POL" get pods
expect 2 '' -- check --policy "$POL" --as a get
expect 2 '' -- check --policy "$POL" --as a --bogus get pods
grep -q 'unknown option --bogus' "$TMP/err" || { echo "FAIL: the unknown option is not named"; cat "$TMP/err"; fails=$((fails + 1)); }
for sub in serve demo login webhook-kubeconfig; do
    "$AUTHGATE" $sub --bogus-flag >/dev/null 2>"$TMP/err"
    grep -q -- '--bogus-flag' "$TMP/err" || { echo "FAIL: $sub does not name the unknown option"; cat "$TMP/err"; fails=$((fails + 1)); }
done
"$AUTHGATE" check --azure-assignments x --principal p --bogus-flag get pods >/dev/null 2>"$TMP/err"
grep -q -- 'unknown option --bogus-flag' "$TMP/err" || { echo "FAIL: Azure check does not name the unknown option"; cat "$TMP/err"; fails=$((fails + 1)); }
expect 2 '' -- check --policy "$POL" --as a -o yaml get pods
expect 2 '' -- check --policy "$POL" --as a --request 'GET /api/v1/watch'
printf '{"kind":"ClusterRole","metadata":{"name":"r"},\n "rules":[{"apiGroups":[""]}]}\n' >"$TMP/bad.json"
expect 2 '' -- check --policy "$TMP/bad.json" --as a get pods
if ! grep -q "bad.json:2:11: rule: verbs must contain at least one value" "$TMP/err"; then
    echo "FAIL: policy error did not name FILE:LINE:COL:"; cat "$TMP/err"; fails=$((fails + 1))
fi
expect 2 '' -- check --policy "$TMP/missing.json" --as a get pods
# YAML policy: the sample support.yaml in the directory, a file given directly, and errors
# that name FILE:LINE:COL in the YAML (a .yaml file was once read as JSON: "invalid number")
expect 0 yes -- check --policy "$POL" --as dave --as-group support get pods --subresource log -n dev
expect 1 no -- check --policy "$POL" --as dave --as-group support delete pods -n dev
expect 0 yes -- check --policy "$POL/support.yaml" --as system:serviceaccount:ci:builder create deploy -n ci
expect 1 no -- check --policy "$POL/support.yaml" --as system:serviceaccount:ci:builder create deploy -n dev
printf -- '---\nkind: ClusterRole\nmetadata: {name: r}\nrules:\n- apiGroups: [""]\n  verbs: [on]\n' >"$TMP/bad.yml"
expect 2 '' -- check --policy "$TMP/bad.yml" --as a get pods
if ! grep -q "bad.yml:6:11: plain scalar is typed differently by YAML 1.1 and 1.2: quote it" "$TMP/err"; then
    echo "FAIL: YAML policy error did not name FILE:LINE:COL:"; cat "$TMP/err"; fails=$((fails + 1))
fi
printf 'kind: ClusterRole\nmetadata: {name: r}\nrules: [{apiGroups: [""]}]\n' >"$TMP/bad.yaml"
expect 2 '' -- check --policy "$TMP/bad.yaml" --as a get pods
if ! grep -q "bad.yaml:3:9: rule: verbs must contain at least one value" "$TMP/err"; then
    echo "FAIL: YAML policy error did not name FILE:LINE:COL:"; cat "$TMP/err"; fails=$((fails + 1))
fi

if [ "$fails" -ne 0 ]; then
    echo "$fails case(s) failed"
    exit 1
fi
echo "t_check_cli: all cases passed"
