# authgate targets for bench/run.sh: one start function per variant, each generating a
# config into the run's temp dir and starting `authgate serve --config FILE` in the
# foreground. Variants:
#   rbac   TLS + JWT (warm token cache) + Kubernetes RBAC + impersonation forwarding
#   azure  the same with Azure RBAC (role definitions/assignments as `az ... -o json` prints)
#   cold   the rbac config driven with a fresh token per request (cache always misses)
#   prod   what a production front door runs (issue 17): config/examples/production.json's
#          settings (TLS with session tickets and optional client certificates, its limits
#          and timeouts, admin listener, workers, log level info), audit at Metadata to a
#          file, 10,000 RoleBindings plus the bootstrap policy, /metrics scraped once a
#          second by run.sh; the upstream stays the bench's plain-HTTP one, as for nginx
#   prod-MOD[-MOD..]  prod with one (or more) of its settings taken back, for
#          bench/prod_diff.sh: noaudit (no audit section), smallpolicy (the bench binding
#          and bootstrap, not the 10,000 RoleBindings), nobootstrap (10,000 RoleBindings
#          without the bootstrap policy), logwarn (log level warn), tlsplain (no client CA,
#          no session tickets), nolimits (production.json's limits and timeouts dropped: the
#          defaults), noupcred (no upstream token_file), pool256 (rbac's pool size),
#          noscrape, old (prod's config under a name of its own: the harness leaves it
#          unscraped, or runs it with another build)
# The config shape below follows config/config.h, config/authn_config.h, core/authn/issuer.h,
# config/azure_config.h and the "authorization.rbac.policies" list `authgate check --config`
# reads. When
# the gateway's schema moves, this file is the one place to change. A target whose
# preflight fails is skipped by run.sh with "SKIP: authgate serve not ready".

AG_BENCH_SUB="00000000-0000-0000-0000-0000000000be"
AG_BENCH_CLUSTER="/subscriptions/$AG_BENCH_SUB/resourceGroups/bench/providers/Microsoft.ContainerService/managedClusters/bench"

# Writes DIR/policy.json (Kubernetes List: get/list pods for group bench-users) and the
# Azure role definitions/assignments for the users in DIR/claims.json.
authgate_policy_files() {
  local d=$1
  python3 - "$d" "$AG_BENCH_SUB" "$AG_BENCH_CLUSTER" <<'PY'
import json, sys, uuid
d, sub, cluster = sys.argv[1:4]
claims = json.load(open(f"{d}/claims.json"))
policy = {"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
   "metadata": {"name": "bench-pod-reader"},
   "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]},
  {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
   "metadata": {"name": "bench-users-read-pods"},
   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "bench-pod-reader"},
   "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "bench-users"}]}]}
json.dump(policy, open(f"{d}/policy.json", "w"))
role = str(uuid.uuid5(uuid.NAMESPACE_URL, "bench-pod-reader"))
role_id = f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role}"
defs = [{"id": role_id, "name": role, "roleName": "Bench Pod Reader", "roleType": "CustomRole",
         "type": "Microsoft.Authorization/roleDefinitions", "description": "benchmark",
         "permissions": [{"actions": [], "notActions": [],
                          "dataActions": ["Microsoft.ContainerService/managedClusters/pods/read"],
                          "notDataActions": []}],
         "assignableScopes": [f"/subscriptions/{sub}"]}]
json.dump(defs, open(f"{d}/azure_roles.json", "w"))
assigns = []
for oid in claims["oids"]:
    name = str(uuid.uuid5(uuid.NAMESPACE_URL, "assign-" + oid))
    assigns.append({"id": f"{cluster}/providers/Microsoft.Authorization/roleAssignments/{name}",
                    "name": name, "principalId": oid, "principalType": "User",
                    "roleDefinitionId": role_id, "roleDefinitionName": "Bench Pod Reader",
                    "scope": cluster, "type": "Microsoft.Authorization/roleAssignments"})
json.dump(assigns, open(f"{d}/azure_assignments.json", "w"))
# prod: the bench-users binding plus 10,000 RoleBindings of other people (100 namespaces,
# 1,000 of them in "default", the namespace the benchmark reads), to Roles of their own.
items = list(policy["items"])
for ns in range(100):
    name = "default" if ns == 0 else f"team-{ns}"
    items.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                  "metadata": {"name": "editor", "namespace": name},
                  "rules": [{"apiGroups": ["", "apps"], "resources": ["pods", "deployments", "configmaps"],
                             "verbs": ["get", "list", "watch", "create", "update", "delete"]}]})
    for k in range(100):
        items.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                      "metadata": {"name": f"dev-{k}", "namespace": name},
                      "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "editor"},
                      "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                                    "name": f"dev-{ns}-{k}@example.com"},
                                   {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                    "name": f"team-{ns}-{k % 10}"}]})
json.dump({"apiVersion": "v1", "kind": "List", "items": items}, open(f"{d}/policy_prod.json", "w"))
PY
}

# authgate_config DIR PORT WORKERS UPSTREAM_PORT VARIANT: prints the config path.
authgate_config() {
  local d=$1 port=$2 workers=$3 up=$4 variant=$5 f
  f="$d/authgate-$variant-w$workers.json"
  python3 - "$d" "$port" "$workers" "$up" "$variant" "$AG_BENCH_CLUSTER" >"$f" <<'PY'
import json, os, sys
d, port, workers, up, variant, cluster = sys.argv[1:7]
c = json.load(open(f"{d}/claims.json"))

def prod_config(d, port, workers, up, c):
    conf = json.load(open("config/examples/production.json"))
    conf["listen"]["address"] = f"127.0.0.1:{port}"
    conf["tls"].update({"cert": f"{d}/cert.pem", "key": f"{d}/key.pem",
                        "client_ca": f"{d}/cert.pem"})
    conf["upstream"] = {"url": f"http://127.0.0.1:{up}", "token_file": f"{d}/upstream.token",
                        "pool_size": conf["upstream"]["pool_size"]}
    conf["admin"]["address"] = f"127.0.0.1:{open(f'{d}/admin-port').read().strip()}"
    conf["workers"] = int(workers)
    conf["authentication"]["issuers"] = [
        {"issuer": c["issuer"], "audiences": [c["audience"]], "keys": {"jwks_file": f"{d}/jwks.json"},
         "claims": {"username": "sub", "groups": "groups"}}]
    conf["authorization"] = {"rbac": {"policies": [f"{d}/policy_prod.json"], "bootstrap": True}}
    # 100 MB files (the default) and backups enough that run.sh counts every line
    conf["audit"] = {"file": f"{d}/audit-w{workers}.log", "level": "Metadata", "max_backups": 40}
    return conf

def prod_without(conf, d, variant):  # prod-MOD-MOD...: the settings MOD taken back
    for mod in variant.split("-")[1:]:
        if mod == "noaudit":
            del conf["audit"]
        elif mod == "smallpolicy":
            conf["authorization"]["rbac"]["policies"] = [f"{d}/policy.json"]
        elif mod == "nobootstrap":
            conf["authorization"]["rbac"]["bootstrap"] = False
        elif mod == "logwarn":
            conf["log"]["level"] = "warn"
        elif mod == "tlsplain":
            for k in ("client_ca", "client_auth", "session_tickets", "session_ticket_lifetime"):
                conf["tls"].pop(k, None)
        elif mod == "nolimits":
            conf["limits"] = {"max_connections": 20000}
            del conf["timeouts"]
        elif mod == "noupcred":
            del conf["upstream"]["token_file"]
        elif mod == "pool256":
            conf["upstream"]["pool_size"] = 256
        elif mod in ("noscrape", "old"):
            pass  # prod's config under its own name (not scraped; run by another build)
        else:
            sys.exit(f"authgate.sh: unknown prod variant {mod}")
    if "audit" in conf and variant != "prod":
        conf["audit"]["file"] = f"{d}/audit-{variant}-w{workers}.log"
    return conf
conf = {"listen": {"address": f"127.0.0.1:{port}", "backlog": 4096},
        "tls": {"cert": f"{d}/cert.pem", "key": f"{d}/key.pem"},
        "upstream": {"url": f"http://127.0.0.1:{up}", "pool_size": 256},
        "workers": int(workers), "log": {"level": "warn"},
        "limits": {"max_connections": 20000},
        "authorization": {"rbac": {"policies": [f"{d}/policy.json"]}}}
if variant == "prod" or variant.startswith("prod-"):
    conf = prod_without(prod_config(d, port, workers, up, c), d, variant)
elif variant == "azure":
    issuer = {"type": "azure_ad", "tenant_id": c["tenant"], "audiences": [c["aks_audience"]],
              "keys": {"jwks_file": f"{d}/jwks.json"}}
    conf["azure"] = {"mode": "azure-then-rbac", "cluster_resource_id": cluster,
                     "role_definitions": [f"{d}/azure_roles.json"],
                     "role_assignments": [f"{d}/azure_assignments.json"]}
else:
    issuer = {"type": "oidc", "issuer": c["issuer"], "audiences": [c["audience"]],
              "keys": {"jwks_file": f"{d}/jwks.json"},
              "claims": {"username": "sub", "groups": "groups"}}
if not variant.startswith("prod"):
    conf["authentication"] = {"issuers": [issuer]}
if os.environ.get("AG_BENCH_RECORD_LAYER") == "mbedtls":
    conf["tls"]["record_layer"] = "mbedtls"
print(json.dumps(conf, indent=1))
PY
  echo "$f"
}

# peer_authgate_start DIR PORT WORKERS UPSTREAM_PORT VARIANT: sets AG_LAST_PID and
# AG_LAST_LOG (its stdout+stderr).
peer_authgate_start() {
  local d=$1 port=$2 workers=$3 up=$4 variant=$5 conf
  [[ $variant == cold ]] && variant=rbac # same gateway, driven with fresh tokens
  [[ -f $d/policy.json ]] || authgate_policy_files "$d"
  if [[ $variant == prod* ]]; then
    ag_free_port >"$d/admin-port"
    [[ -f $d/upstream.token ]] || echo "bench-gateway-token" >"$d/upstream.token"
  fi
  conf=$(authgate_config "$d" "$port" "$workers" "$up" "$variant")
  AG_LAST_LOG="$d/authgate-$variant-w$workers.out"
  "$AUTHGATE" serve --config "$conf" >>"$AG_LAST_LOG" 2>&1 &
  AG_LAST_PID=$!
  AG_PIDS+=("$AG_LAST_PID")
}

# authgate_preflight URL GOOD_TOKEN_FILE EXPECT_USER_SUFFIX DIR: 0 when a good token is
# answered 200 with the right Impersonate-User seen upstream and no token, a bad signature,
# an expired token and a wrong audience are refused with 401/403. Prints why otherwise.
authgate_preflight() {
  local url=$1 good=$2 user=$3 d=$4 code seen t
  code=$(curl -sk -o /dev/null -D "$d/pf.h" -w '%{http_code}' --max-time 5 \
    -H "Authorization: Bearer $(cat "$good")" "$url") || true
  [[ $code == 200 ]] || { echo "good token answered $code"; return 1; }
  seen=$(tr -d '\r' <"$d/pf.h" | awk -F': ' 'tolower($1) == "x-seen-impersonate-user" { print $2 }')
  [[ -n $seen && $seen == *"$user" ]] || { echo "upstream saw Impersonate-User '$seen', want *$user"; return 1; }
  code=$(curl -sk -o /dev/null -w '%{http_code}' --max-time 5 "$url") || true
  [[ $code == 401 ]] || { echo "no token answered $code, want 401"; return 1; }
  for t in badsig expired wrongaud; do
    code=$(curl -sk -o /dev/null -w '%{http_code}' --max-time 5 \
      -H "Authorization: Bearer $(cat "$d/$t.txt")" "$url") || true
    [[ $code == 401 || $code == 403 ]] || { echo "$t token answered $code, want 401/403"; return 1; }
  done
}
