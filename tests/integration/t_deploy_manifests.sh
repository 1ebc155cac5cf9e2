#!/usr/bin/env bash
# The Kubernetes manifests in deploy/: `kubectl kustomize` renders them; each object is
# checked against the API schema client-node generates from the OpenAPI document (no
# unknown fields, types, required fields: tests/fixtures/k8s_validate.mjs); the properties
# a platform engineer expects hold (replicas, probes on the admin port, resources, the
# restricted security context, PDB and Service selecting the pods, mounts matching the
# config); the ConfigMap's gateway config passes `authgate serve --check` in a simulated
# pod; and the cluster role grants the gateway exactly what it needs (asked of authgate's
# own RBAC evaluator).
. "$(dirname "$0")/lib.sh"

command -v kubectl >/dev/null || fail "kubectl not on PATH (scripts/deps.sh test)"
kubectl kustomize "$AG_SOURCE_DIR/deploy" >"$T/all.yaml" || fail "kubectl kustomize deploy/"
(cd "$AG_SOURCE_DIR/tests" && node fixtures/k8s_validate.mjs "$T/all.yaml" --json "$T/all.json") \
    >"$T/validate.out" || { cat "$T/validate.out"; fail "schema validation"; }
expect_eq "$(jq -r 'map(.kind) | sort | join(",")' "$T/all.json")" \
    "ClusterRole,ClusterRoleBinding,ConfigMap,Deployment,Namespace,PodDisruptionBudget,Service,ServiceAccount" \
    "kinds"
pass "kubectl kustomize deploy/: $(wc -l <"$T/validate.out") objects valid against the API schema"

q() { jq -r "$1" "$T/all.json"; }
D='.[] | select(.kind == "Deployment")'
POD="$D | .spec.template.spec"
C="$POD | .containers[0]"
NS=$(q '.[] | select(.kind == "Namespace") | .metadata.name')
expect_eq "$(q "[.[] | select(.kind != \"Namespace\" and .kind != \"ClusterRole\" and .kind != \"ClusterRoleBinding\") | .metadata.namespace] | unique | join(\",\")")" \
    "$NS" "every namespaced object in $NS"
[ "$(q "$D | .spec.replicas")" -ge 2 ] || fail "replicas < 2"
expect_eq "$(q "$C | [.livenessProbe.httpGet.path, .readinessProbe.httpGet.path] | join(\",\")")" \
    "/livez,/readyz" "probe paths"
expect_eq "$(q "$C | [.livenessProbe, .readinessProbe, .startupProbe] | map(.httpGet.port) | unique | join(\",\")")" \
    admin "probes on the admin port"
expect_eq "$(q "$C | [.resources.requests.cpu, .resources.requests.memory, .resources.limits.memory] | map(. != null) | all")" \
    true "resources"
expect_eq "$(q "$POD | [.securityContext.runAsNonRoot, .securityContext.runAsUser > 0, .securityContext.seccompProfile.type] | join(\",\")")" \
    "true,true,RuntimeDefault" "pod securityContext"
expect_eq "$(q "$C | .securityContext | [.readOnlyRootFilesystem, .allowPrivilegeEscalation, (.capabilities.drop | join(\"+\")), .runAsNonRoot] | join(\",\")")" \
    "true,false,ALL,true" "container securityContext"
labels=$(q "$D | .spec.template.metadata.labels")
for sel in "$D | .spec.selector.matchLabels" '.[] | select(.kind == "PodDisruptionBudget") | .spec.selector.matchLabels' \
    '.[] | select(.kind == "Service") | .spec.selector'; do
    expect_eq "$(jq -n --argjson l "$labels" --argjson s "$(q "$sel")" '$s | to_entries | all($l[.key] == .value)')" \
        true "selector $sel matches the pod labels"
done
expect_eq "$(q '.[] | select(.kind == "PodDisruptionBudget") | .spec.minAvailable')" 1 "PDB minAvailable"
expect_eq "$(q "$C | .ports | map(.name) | index(\"$(q '.[] | select(.kind == "Service") | .spec.ports[0].targetPort')\") != null")" \
    true "Service targets a container port"
pass "replicas, probes, resources, restricted securityContext, selectors"

# the ConfigMap, the mounts and the gateway config agree
CM=$(q '.[] | select(.kind == "ConfigMap") | .metadata.name')
expect_eq "$(q "$POD | .volumes[] | select(.configMap) | .configMap.name")" "$CM" "ConfigMap volume (hashed name)"
expect_eq "$(q "$POD | .volumes[] | select(.secret) | .secret.secretName")" authgate-tls "TLS secret volume"
mount() { q "$C | .volumeMounts[] | select(.name == \"$1\") | .mountPath"; }
q '.[] | select(.kind == "ConfigMap") | .data["gateway.json"]' >"$T/gateway.json"
expect_eq "$(q "$C | .args | join(\" \")")" "serve --config $(mount config)/gateway.json" "args"
expect_eq "$(jq -r '.tls.cert, .tls.key' "$T/gateway.json" | xargs -n1 dirname | sort -u)" "$(mount tls)" \
    "certificate and key from the TLS secret mount"
expect_eq "$(jq -r '.upstream.in_cluster' "$T/gateway.json")" true "in-cluster upstream"
port() { jq -r ".$1.address" "$T/gateway.json" | sed 's/.*://'; }
expect_eq "$(port listen)" "$(q "$C | .ports[] | select(.name == \"https\") | .containerPort")" "listen port"
expect_eq "$(port admin)" "$(q "$C | .ports[] | select(.name == \"admin\") | .containerPort")" "admin port"
pass "ConfigMap $CM, mounts and gateway config agree"

# `serve --check` of the ConfigMap's config in a simulated pod: the /etc/authgate mounts
# moved under a temporary root, the service-account mount and environment as kubelet sets
gen_certs
R=$T/root
mkdir -p "$R$(mount tls)" "$R$(mount config)" "$T/sa"
cp "$PKI/server.crt" "$R$(mount tls)/tls.crt"
cp "$PKI/server.key" "$R$(mount tls)/tls.key"
for k in $(q '.[] | select(.kind == "ConfigMap") | .data | keys[]'); do
    q ".[] | select(.kind == \"ConfigMap\") | .data[\"$k\"]" >"$R$(mount config)/$k"
done
sed -i "s#\"/etc/authgate/#\"$R/etc/authgate/#g" "$R$(mount config)/gateway.json"
echo "sa-token" >"$T/sa/token"
cp "$PKI/ca.crt" "$T/sa/ca.crt"
out=$(KUBERNETES_SERVICE_HOST=10.96.0.1 KUBERNETES_SERVICE_PORT=443 AUTHGATE_SERVICEACCOUNT_DIR="$T/sa" \
    "$AUTHGATE" serve --config "$R$(mount config)/gateway.json" --check 2>&1) || fail "serve --check: $out"
pass "the ConfigMap's gateway.json and policy pass serve --check (in-cluster environment)"

# the cluster role: what the gateway needs, asked of authgate's own RBAC evaluator
SA="system:serviceaccount:$NS:$(q "$POD | .serviceAccountName")"
rbac="$AG_SOURCE_DIR/deploy/rbac.yaml"
may() { "$AUTHGATE" check --policy "$rbac" --no-bootstrap --as "$SA" "$@" -q; }
for a in "impersonate users" "impersonate groups" "impersonate serviceaccounts -n x" \
    "impersonate uids.authentication.k8s.io" \
    "impersonate userextras.authentication.k8s.io --subresource scopes" \
    "create tokenreviews.authentication.k8s.io" "list clusterroles.rbac.authorization.k8s.io" \
    "watch clusterrolebindings.rbac.authorization.k8s.io" "list roles.rbac.authorization.k8s.io -A" \
    "watch rolebindings.rbac.authorization.k8s.io -A"; do
    may $a || fail "the gateway's service account may not: $a"
done
for a in "get secrets -A" "create pods" "create subjectaccessreviews.authorization.k8s.io" \
    "update clusterroles.rbac.authorization.k8s.io" "get configmaps -n authgate-system"; do
    if may $a; then fail "the gateway's service account may: $a"; fi
done
expect_eq "$(q '.[] | select(.kind == "ClusterRoleBinding") | .subjects[0] | .namespace + "/" + .name')" \
    "$NS/$(q "$POD | .serviceAccountName")" "binding subject is the Deployment's service account"
pass "cluster role: impersonate, create tokenreviews, list/watch RBAC; nothing else"

# kubectl's own client-side dry run against the fake API server (serving discovery for
# every kind here, and 404 for every object): each object is mapped and would be created.
# (--validate=false: the fixture serves no OpenAPI document; the schema check above
# stands in for it. A server-side dry run needs a real API server.)
echo "fixture-token" >"$T/api-token"
(cd "$AG_SOURCE_DIR/tests" && exec node fixtures/apiserver.mjs --cert "$PKI/server.crt" \
    --key "$PKI/server.key" --token-file "$T/api-token" --port-file "$T/api.port" \
    --discovery-extra) >"$T/api.out" 2>&1 &
AG_PIDS+=($!)
wait_for_file "$T/api.port" 200
kc=(--kubeconfig /dev/null --server "https://127.0.0.1:$(cat "$T/api.port")"
    --certificate-authority "$PKI/ca.crt" --token fixture-token --cache-dir "$T/kcache")
out=$(kubectl "${kc[@]}" apply --dry-run=client --validate=false -f "$T/all.yaml" 2>&1) ||
    fail "kubectl apply --dry-run=client: $out"
expect_eq "$(grep -c 'created (dry run)' <<<"$out")" "$(jq length "$T/all.json")" "every object: $out"
pass "kubectl apply --dry-run=client: $(jq length "$T/all.json") objects would be created"
