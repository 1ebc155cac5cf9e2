/* `authgate check` and `authgate who-can` (cmd.h) over Kubernetes RBAC: offline answers
 * against policy files, modelled on `kubectl auth can-i` and the kubectl-who-can plugin.
 * Only argument handling, the kubectl-like resource naming (a small built-in table, as no
 * discovery exists offline) and printing live here; decisions are core/authz/rbac/rbac.c's, request
 * attributes core/authz/reqinfo.c's. Azure role assignments are handed to cmd_check_azure.c.
 * Exit status: 0 yes, 1 no, 2 usage or policy errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/armsync.h"
#include "authz/policy.h"
#include "authz/rbac/rbac.h"
#include "authz/rbacsync.h"
#include "authz/reqinfo.h"
#include "authz/rules.h"
#include "base/json.h"
#include "base/rfc3339.h"
#include "cmd/cmd.h"
#include "cmd/cmd_args.h"
#include "cmd/cmd_check_azure.h"
#include "config.h"

#define MAX_LIST 64 /* --policy / --as-group occurrences */

typedef struct {
    const char *policies[MAX_LIST];
    int npolicies;
    const char *groups[MAX_LIST];
    int ngroups;
    const char *config, *as, *as_uid, *oid, *ns, *subresource, *name, *request;
    const char *pos[3];
    int npos;
    bool no_bootstrap, all_ns, exact_groups, explain, json, websocket, ns_given, quiet;
    bool list, no_headers;
} opts_t;

static const char *prog = "check";

static const char check_help[] =
    "usage: authgate check (--policy FILE_OR_DIR ... [--no-bootstrap] | --config FILE)\n"
    "         (--as USER | --as-group GROUP) [--as-group GROUP ...] [--as-uid UID]\n"
    "         [--oid OID] [--exact-groups]\n"
    "         (VERB (TYPE[.GROUP][/NAME] | /NON/RESOURCE/URL) [NAME] [-n NS | -A]\n"
    "          [--subresource S] [--name N]\n"
    "         | --request 'METHOD /path?query' [--websocket]\n"
    "         | --list [-n NS] [--no-headers])\n"
    "         [--explain] [-o json] [-q]\n"
    "Asks the policy offline whether a subject may do something, as `kubectl auth can-i`\n"
    "asks the API server. Prints yes or no; exit 0 yes, 1 no, 2 usage or policy error.\n"
    "\n"
    "  --policy FILE_OR_DIR  Kubernetes RBAC objects, JSON or YAML (a directory: its *.json,\n"
    "                        *.yaml and *.yml files); repeatable\n"
    "  --no-bootstrap        leave out the built-in bootstrap roles and bindings\n"
    "  --config FILE         the gateway configuration: its authorization section decides\n"
    "                        as `authgate serve` would (RBAC, Azure RBAC and the mode);\n"
    "                        the TLS and key files it names need not exist here\n"
    "  --as USER             the user asking (as kubectl --as: impersonation)\n"
    "  --as-group GROUP      a group of that user; repeatable\n"
    "  --as-uid UID          the user's UID (as kubectl --as-uid)\n"
    "  --oid OID             an Azure AD user with this object id (what the gateway's\n"
    "                        Azure AD issuer yields), judged by Azure RBAC under --config\n"
    "  --exact-groups        add no system:authenticated (nor service-account groups)\n"
    "  -n, --namespace NS    namespace; namespaced resources default to \"default\"\n"
    "  -A, --all-namespaces  in all namespaces (namespace \"\", as kubectl): only\n"
    "                        cluster-wide grants count\n"
    "  --subresource S       a subresource such as log, scale or exec\n"
    "  --name N              a resource name (also TYPE/NAME or a third argument)\n"
    "  --request 'M /path'   the attributes the API server derives from this request\n"
    "  --websocket           the --request is a WebSocket upgrade (exec/attach also need\n"
    "                        create)\n"
    "  --list                everything the subject may do in the namespace, printed as\n"
    "                        `kubectl auth can-i --list` prints it (-o json: the\n"
    "                        SelfSubjectRulesReview the gateway answers)\n"
    "  --no-headers          --list without the header line\n"
    "  --explain             the attributes, the user and what allowed it; for a denial\n"
    "                        also the closest rule or assignment and what it lacks\n"
    "  -o, --output json     the decision as JSON\n"
    "  -q, --quiet           print nothing: the exit status answers\n"
    "  -h, --help            this help\n"
    "TYPE: plural, singular or short name of a built-in resource (po, deploy, svc, ns, cm,\n"
    "...) or RESOURCE.GROUP; no discovery runs offline. Azure RBAC exports without a\n"
    "gateway configuration: authgate check --azure-assignments FILE --help.\n"
    "\n"
    "examples:\n"
    "  authgate check --policy config/policies --as bob --as-group dev-team create deploy -n dev\n"
    "  authgate check --policy rbac.yaml --as carol get pods --subresource log -A --explain\n"
    "  authgate check --config gateway.json --as alice@contoso.com --oid OID list pods -n dev\n"
    "  authgate check --config gateway.json --as alice --request 'GET /api/v1/pods?watch=1'\n"
    "  authgate check --policy config/policies --as carol delete pods -n dev -q && echo may\n"
    "  authgate check --config gateway.json --as alice@contoso.com --oid OID --list -n dev\n";

static const char who_can_help[] =
    "usage: authgate who-can (--policy FILE_OR_DIR ... [--no-bootstrap] | --config FILE)\n"
    "         VERB (TYPE[.GROUP][/NAME] | /NON/RESOURCE/URL) [NAME] [-n NS | -A]\n"
    "         [--subresource S] [--name N] [-o json]\n"
    "Lists the subjects (users, groups, service accounts) Kubernetes RBAC grants an action,\n"
    "with the binding and role granting it, as the kubectl-who-can plugin does. Exit 0, or\n"
    "2 for usage or policy errors.\n"
    "\n"
    "  --policy FILE_OR_DIR  Kubernetes RBAC objects, JSON or YAML (a directory: its *.json,\n"
    "                        *.yaml and *.yml files); repeatable\n"
    "  --no-bootstrap        leave out the built-in bootstrap roles and bindings\n"
    "  --config FILE         the RBAC policies of a gateway configuration\n"
    "  -n, --namespace NS    namespace; namespaced resources default to \"default\"\n"
    "  -A, --all-namespaces  in all namespaces: only cluster-wide grants count\n"
    "  --subresource S       a subresource such as log, scale or exec\n"
    "  --name N              a resource name (also TYPE/NAME or a third argument)\n"
    "  -o, --output json     the subjects as JSON\n"
    "  -h, --help            this help\n"
    "\n"
    "examples:\n"
    "  authgate who-can --policy config/policies impersonate users\n"
    "  authgate who-can --policy config/policies delete pods -n dev\n"
    "  authgate who-can --config gateway.json get /metrics -o json\n";

static int usage(const char *why)
{
    bool who = strcmp(prog, "who-can") == 0;
    if (why)
        fprintf(stderr, "authgate %s: %s (authgate %s --help for usage)\n", prog, why, prog);
    else
        fputs(who ? who_can_help : check_help, stdout);
    return why ? 2 : 0;
}

static bool push(const char **list, int *n, const char *v)
{
    if (*n >= MAX_LIST)
        return false;
    list[(*n)++] = v;
    return true;
}

static bool flag(const char *arg, const char *name, bool *out)
{
    if (strcmp(arg, name) != 0)
        return false;
    *out = true;
    return true;
}

/* Options only `check` reads: who-can refuses them by name. */
static bool check_only(const char *a)
{
    static const char *const names[] = {"--as",      "--as-group",     "--as-uid",  "--oid",
                                        "--request", "--exact-groups", "--explain", "--websocket",
                                        "-q",        "--quiet",        "--list",    "--no-headers",
                                        NULL};
    for (int i = 0; names[i]; i++) {
        size_t n = strlen(names[i]);
        if (strncmp(a, names[i], n) == 0 && (a[n] == '\0' || a[n] == '='))
            return true;
    }
    return false;
}

/* One option with a value at argv[*i]; 1 when taken, 0 when not this kind, 2 on error. */
static int value_opt(opts_t *o, int argc, char **argv, int *i, bool *missing)
{
    const char *v;
    bool full = false;
    if ((v = ag_cmd_opt_value("--policy", argc, argv, i, missing)))
        full = !push(o->policies, &o->npolicies, v);
    else if ((v = ag_cmd_opt_value("--as-group", argc, argv, i, missing)))
        full = !push(o->groups, &o->ngroups, v);
    else if ((v = ag_cmd_opt_value("--as-uid", argc, argv, i, missing)))
        o->as_uid = v;
    else if ((v = ag_cmd_opt_value("--as", argc, argv, i, missing)))
        o->as = v;
    else if ((v = ag_cmd_opt_value("--oid", argc, argv, i, missing)))
        o->oid = v;
    else if ((v = ag_cmd_opt_value("--config", argc, argv, i, missing)))
        o->config = v;
    else if ((v = ag_cmd_opt_value("--namespace", argc, argv, i, missing)) ||
             (v = ag_cmd_opt_value("-n", argc, argv, i, missing)))
        o->ns = v, o->ns_given = true;
    else if ((v = ag_cmd_opt_value("--subresource", argc, argv, i, missing)))
        o->subresource = v;
    else if ((v = ag_cmd_opt_value("--name", argc, argv, i, missing)))
        o->name = v;
    else if ((v = ag_cmd_opt_value("--request", argc, argv, i, missing)))
        o->request = v;
    else if ((v = ag_cmd_opt_value("--output", argc, argv, i, missing)) ||
             (v = ag_cmd_opt_value("-o", argc, argv, i, missing))) {
        if (strcmp(v, "json") != 0)
            return usage("only -o json is supported"), 2;
        o->json = true;
    } else {
        return 0;
    }
    return full ? (usage("too many --policy or --as-group options"), 2) : 1;
}

static int parse_args(opts_t *o, int argc, char **argv)
{
    bool missing = false;
    for (int i = 1; i < argc && !missing; i++) {
        const char *a = argv[i];
        int rc;
        char why[256];
        if (strcmp(prog, "who-can") == 0 && check_only(a)) {
            snprintf(why, sizeof why, "who-can takes no %.*s", (int)strcspn(a, "="), a);
            return usage(why);
        }
        if ((rc = value_opt(o, argc, argv, &i, &missing)) == 2)
            return 2;
        if (rc == 1 || missing || flag(a, "--no-bootstrap", &o->no_bootstrap) ||
            flag(a, "-A", &o->all_ns) || flag(a, "--all-namespaces", &o->all_ns) ||
            flag(a, "--exact-groups", &o->exact_groups) || flag(a, "--explain", &o->explain) ||
            flag(a, "--websocket", &o->websocket) || flag(a, "-q", &o->quiet) ||
            flag(a, "--quiet", &o->quiet) || flag(a, "--list", &o->list) ||
            flag(a, "--no-headers", &o->no_headers))
            continue;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
            exit(usage(NULL));
        if (a[0] == '-' && a[1] != '\0') {
            snprintf(why, sizeof why, "unknown option %s", a);
            return usage(why);
        }
        if (o->npos == 3)
            return usage("too many arguments");
        o->pos[o->npos++] = a;
    }
    if (missing)
        return usage("an option is missing its value");
    if (!o->npolicies && !o->config)
        return usage("give --policy FILE_OR_DIR (or --config FILE)");
    if (o->npolicies && o->config)
        return usage("give --policy or --config, not both");
    if (o->quiet && (o->json || o->explain))
        return usage("-q prints nothing: it takes no --explain or -o json");
    return 0;
}

/* ---- resource names as kubectl spells them ------------------------------------------ */

typedef struct {
    const char *plural, *singular, *shorts, *group; /* shorts: space-separated */
    bool namespaced;
} res_t;

/* Built-in resources, for the names kubectl accepts without discovery. */
static const res_t resources[] = {
    {"pods", "pod", "po", "", true},
    {"services", "service", "svc", "", true},
    {"configmaps", "configmap", "cm", "", true},
    {"secrets", "secret", "", "", true},
    {"serviceaccounts", "serviceaccount", "sa", "", true},
    {"endpoints", "endpoints", "ep", "", true},
    {"events", "event", "ev", "", true},
    {"persistentvolumeclaims", "persistentvolumeclaim", "pvc", "", true},
    {"replicationcontrollers", "replicationcontroller", "rc", "", true},
    {"limitranges", "limitrange", "limits", "", true},
    {"resourcequotas", "resourcequota", "quota", "", true},
    {"podtemplates", "podtemplate", "", "", true},
    {"namespaces", "namespace", "ns", "", false},
    {"nodes", "node", "no", "", false},
    {"persistentvolumes", "persistentvolume", "pv", "", false},
    {"componentstatuses", "componentstatus", "cs", "", false},
    {"users", "user", "", "", false},
    {"groups", "group", "", "", false},
    {"deployments", "deployment", "deploy", "apps", true},
    {"replicasets", "replicaset", "rs", "apps", true},
    {"statefulsets", "statefulset", "sts", "apps", true},
    {"daemonsets", "daemonset", "ds", "apps", true},
    {"controllerrevisions", "controllerrevision", "", "apps", true},
    {"jobs", "job", "", "batch", true},
    {"cronjobs", "cronjob", "cj", "batch", true},
    {"horizontalpodautoscalers", "horizontalpodautoscaler", "hpa", "autoscaling", true},
    {"ingresses", "ingress", "ing", "networking.k8s.io", true},
    {"networkpolicies", "networkpolicy", "netpol", "networking.k8s.io", true},
    {"ingressclasses", "ingressclass", "", "networking.k8s.io", false},
    {"poddisruptionbudgets", "poddisruptionbudget", "pdb", "policy", true},
    {"roles", "role", "", "rbac.authorization.k8s.io", true},
    {"rolebindings", "rolebinding", "", "rbac.authorization.k8s.io", true},
    {"clusterroles", "clusterrole", "", "rbac.authorization.k8s.io", false},
    {"clusterrolebindings", "clusterrolebinding", "", "rbac.authorization.k8s.io", false},
    {"leases", "lease", "", "coordination.k8s.io", true},
    {"endpointslices", "endpointslice", "", "discovery.k8s.io", true},
    {"storageclasses", "storageclass", "sc", "storage.k8s.io", false},
    {"volumeattachments", "volumeattachment", "", "storage.k8s.io", false},
    {"csidrivers", "csidriver", "", "storage.k8s.io", false},
    {"priorityclasses", "priorityclass", "pc", "scheduling.k8s.io", false},
    {"customresourcedefinitions", "customresourcedefinition", "crd crds", "apiextensions.k8s.io",
     false},
    {"apiservices", "apiservice", "", "apiregistration.k8s.io", false},
    {"certificatesigningrequests", "certificatesigningrequest", "csr", "certificates.k8s.io",
     false},
    {"mutatingwebhookconfigurations", "mutatingwebhookconfiguration", "",
     "admissionregistration.k8s.io", false},
    {"validatingwebhookconfigurations", "validatingwebhookconfiguration", "",
     "admissionregistration.k8s.io", false},
    {"tokenreviews", "tokenreview", "", "authentication.k8s.io", false},
    {"selfsubjectreviews", "selfsubjectreview", "", "authentication.k8s.io", false},
    {"subjectaccessreviews", "subjectaccessreview", "", "authorization.k8s.io", false},
    {"selfsubjectaccessreviews", "selfsubjectaccessreview", "", "authorization.k8s.io", false},
    {"selfsubjectrulesreviews", "selfsubjectrulesreview", "", "authorization.k8s.io", false},
    {"localsubjectaccessreviews", "localsubjectaccessreview", "", "authorization.k8s.io", true},
};

static bool word_in(ag_str_t w, const char *list)
{
    ag_str_t rest = ag_str_cstr(list);
    while (rest.p && rest.n) {
        ag_str_t item;
        rest = ag_str_split(rest, ' ', &item);
        if (ag_str_eq(item, w))
            return true;
    }
    return false;
}

static const res_t *find_resource(ag_str_t name, ag_str_t group, bool group_given)
{
    for (size_t i = 0; i < sizeof resources / sizeof resources[0]; i++) {
        const res_t *r = &resources[i];
        if (group_given && !ag_str_eq_lit(group, r->group))
            continue;
        if (ag_str_eq_lit(name, r->plural) || ag_str_eq_lit(name, r->singular) ||
            word_in(name, r->shorts))
            return r;
    }
    return NULL;
}

/* VERB TYPE[.GROUP][/NAME] or VERB /URL, as kubectl auth can-i reads them. "RES.VER.GROUP"
 * (three or more parts) drops the version. Unknown types keep their spelling and count as
 * namespaced. */
static int attrs_from_args(const opts_t *o, ag_attrs_t *a)
{
    *a = (ag_attrs_t){.verb = ag_str_cstr(o->pos[0])};
    ag_str_t what = ag_str_cstr(o->pos[1]);
    if (what.n && what.p[0] == '/') {
        if (o->subresource || o->name)
            return usage("a non-resource URL takes no --subresource or --name");
        a->path = what;
        return 0;
    }
    ag_str_t type, name = ag_str_split(what, '/', &type), base, group;
    if (o->npos == 3)
        name = ag_str_cstr(o->pos[2]);
    if (o->name)
        name = ag_str_cstr(o->name);
    group = ag_str_split(type, '.', &base);
    if (group.p) {
        ag_str_t ver, rest = ag_str_split(group, '.', &ver);
        if (rest.p && ver.n >= 2 && ver.p[0] == 'v' && ver.p[1] >= '0' && ver.p[1] <= '9')
            group = rest; /* resource.version.group */
    }
    const res_t *r = find_resource(base, group, group.p != NULL);
    a->resource_request = true;
    a->resource = r ? ag_str_cstr(r->plural) : base;
    a->api_group = r ? ag_str_cstr(r->group) : (group.p ? group : AG_STR(""));
    a->subresource = o->subresource ? ag_str_cstr(o->subresource) : AG_STR("");
    a->name = name.p ? name : AG_STR("");
    bool namespaced = r ? r->namespaced : true;
    if (namespaced && !o->all_ns)
        a->namespace_ = o->ns ? ag_str_cstr(o->ns) : AG_STR("default");
    if (!a->resource.n)
        return usage("empty resource type");
    return 0;
}

/* ---- identity ----------------------------------------------------------------------- */

/* The user kubectl --as/--as-group would end up as (impersonation, reference §7.3). */
static void build_identity(const opts_t *o, ag_identity_t *id, ag_str_t *groups,
                           ag_str_t *sa_ns_group)
{
    int n = 0;
    *id = (ag_identity_t){.username = ag_str_cstr(o->as ? o->as : o->oid),
                          .uid = ag_str_cstr(o->as_uid)};
    if (o->oid) /* as the gateway's Azure AD issuer marks its users */
        id->flags |= AG_ID_AZURE_AD, id->oid = ag_str_cstr(o->oid);
    for (int i = 0; i < o->ngroups; i++)
        groups[n++] = ag_str_cstr(o->groups[i]);
    id->groups = groups;
    if (o->exact_groups) {
        id->ngroups = n;
        return;
    }
    ag_str_t pre = AG_STR("system:serviceaccount:");
    if (!n && ag_str_starts_with(id->username, pre)) {
        ag_str_t ns, rest = ag_str_split(ag_str_sub(id->username, pre.n, id->username.n), ':', &ns);
        if (ns.n && rest.p && rest.n && ag_str_find_char(rest, ':') == rest.n) {
            groups[n++] = AG_STR("system:serviceaccounts");
            groups[n++] = *sa_ns_group;
        }
    }
    bool anon = ag_str_eq_lit(id->username, "system:anonymous"), has = false;
    for (int i = 0; i < n; i++)
        has = has || ag_str_eq_lit(groups[i], "system:unauthenticated") ||
              (!anon && ag_str_eq_lit(groups[i], "system:authenticated"));
    if (!has)
        groups[n++] = anon ? AG_STR("system:unauthenticated") : AG_STR("system:authenticated");
    id->ngroups = n;
}

/* ---- policy ------------------------------------------------------------------------- */

static ag_err arm_once(const ag_azure_config_t *azure, ag_policy_t *p, ag_buf_t *err)
{
    ag_azrbac_t *az = NULL;
    ag_err e = ag_armsync_once(azure, &az, err);
    if (!e) {
        ag_azrbac_unref(p->azure);
        p->azure = az;
        p->chain.azure = az;
    }
    return e;
}

#define CLUSTER_LIST_TIMEOUT_MS 30000 /* every page of the four kinds, once */

/* "authorization.rbac.cluster": the four kinds listed once from the upstream API server,
 * the policy files over them (--no-bootstrap applies to the cluster layer's bootstrap). */
static ag_err build_with_cluster(ag_config_t *conf, const ag_authz_config_t *authz,
                                 const ag_azure_config_t *azure, ag_chain_mode mode,
                                 ag_policy_t **out, ag_buf_t *err)
{
    ag_rbac_view_t *view = NULL;
    conf->authz.bootstrap = authz->bootstrap;
    ag_err e = ag_rbacsync_once(conf, CLUSTER_LIST_TIMEOUT_MS, &view, err);
    if (!e)
        e = ag_policy_build_over(authz, azure, mode, view, out, err);
    ag_rbac_view_destroy(view);
    return e;
}

/* The policy to ask: the --policy files alone (Kubernetes RBAC), or the chain --config's
 * authorization section builds for `authgate serve` (policy.h): RBAC, Azure RBAC and
 * the mode routing between them. *out has one reference. */
static int load_policy(const opts_t *o, ag_policy_t **out)
{
    ag_buf_t err = AG_BUF_INIT(8192);
    ag_config_t *conf = NULL;
    ag_authz_config_t authz;
    const ag_azure_config_t *azure = NULL;
    ag_chain_mode mode = AG_CHAIN_RBAC_ONLY;
    ag_err e = 0;
    ag_authz_config_defaults(&authz);
    authz.policies = (const char **)o->policies, authz.npolicies = o->npolicies;
    if (o->config && (e = ag_config_load_for_policy(o->config, &conf, &err)) == 0) {
        if (!conf->authz_enabled) {
            ag_buf_printf(&err, "%s: no \"authorization\" or \"azure\" section", o->config);
            e = AG_E_CONFIG;
        } else {
            authz = conf->authz;
            e = ag_policy_effective(conf, &azure, &mode, &err);
        }
    }
    authz.bootstrap = authz.bootstrap && !o->no_bootstrap;
    if (!e && conf && conf->authz.cluster.enabled) /* the cluster's RBAC: one list, as serve's */
        e = build_with_cluster(conf, &authz, azure, mode, out, &err);
    else if (!e)
        e = ag_policy_build(&authz, azure, mode, out, &err);
    if (!e && azure && azure->arm.enabled && (e = arm_once(azure, *out, &err)) != 0) {
        ag_policy_destroy(*out); /* Azure RBAC from ARM: one poll, as serve's */
        *out = NULL;
    }
    if (e)
        fprintf(stderr, "authgate %s: policy not loaded: %s\n", prog,
                err.n ? err.p : ag_err_str(e));
    ag_config_destroy(conf);
    ag_buf_dispose(&err);
    return e ? 2 : 0;
}

/* ---- output ------------------------------------------------------------------------- */

static void json_field(ag_buf_t *b, const char *key, ag_str_t v, bool comma)
{
    ag_buf_printf(b, "%s\"%s\":", comma ? "," : "", key);
    ag_json_write_str(b, v.p ? v : AG_STR("")); /* unset slices are {NULL, 0} */
}

static void json_attrs(ag_buf_t *b, const ag_attrs_t *a)
{
    ag_buf_printf(b, "{\"resourceRequest\":%s", a->resource_request ? "true" : "false");
    json_field(b, "verb", a->verb, true);
    if (a->resource_request) {
        json_field(b, "apiGroup", a->api_group, true);
        json_field(b, "apiVersion", a->api_version, true);
        json_field(b, "namespace", a->namespace_, true);
        json_field(b, "resource", a->resource, true);
        json_field(b, "subresource", a->subresource, true);
        json_field(b, "name", a->name, true);
    }
    json_field(b, "path", a->path, true);
    ag_buf_append_cstr(b, "}");
}

static void json_user(ag_buf_t *b, const ag_identity_t *id)
{
    ag_buf_append_cstr(b, "{");
    json_field(b, "username", id->username, false);
    if (id->uid.n)
        json_field(b, "uid", id->uid, true);
    if (id->oid.n)
        json_field(b, "oid", id->oid, true);
    ag_buf_append_cstr(b, ",\"groups\":[");
    for (int i = 0; i < id->ngroups; i++) {
        if (i)
            ag_buf_append_cstr(b, ",");
        ag_json_write_str(b, id->groups[i]);
    }
    ag_buf_append_cstr(b, "]}");
}

/* ,"window":{"notBefore":"...","expiresAt":"...","outside":BOOL} of a time-bound binding */
static void json_window(ag_buf_t *b, const ag_authz_decision_t *d)
{
    char t[AG_RFC3339_BUF];
    ag_buf_append_cstr(b, ",\"window\":{");
    if (d->not_before != INT64_MIN) {
        ag_rfc3339_format_ms(d->not_before, t);
        ag_buf_printf(b, "\"notBefore\":\"%s\",", t);
    }
    if (d->expires_at != INT64_MAX) {
        ag_rfc3339_format_ms(d->expires_at, t);
        ag_buf_printf(b, "\"expiresAt\":\"%s\",", t);
    }
    ag_buf_printf(b, "\"outside\":%s}", d->outside_window ? "true" : "false");
}

static void json_decision(ag_buf_t *b, const ag_authz_decision_t *d)
{
    ag_buf_printf(b, "{\"source\":\"%s\"",
                  d->source == AG_AUTHZ_BY_SUPERUSER ? "superuser"
                  : d->source == AG_AUTHZ_BY_AZURE   ? "azure"
                                                     : "rbac");
    if (d->binding_kind.n) {
        ag_buf_append_cstr(b, ",\"binding\":{");
        json_field(b, "kind", d->binding_kind, false);
        json_field(b, "namespace", d->binding_namespace, true);
        json_field(b, "name", d->binding_name, true);
        ag_buf_append_cstr(b, "},\"role\":{");
        json_field(b, "kind", d->role_kind, false);
        json_field(b, "name", d->role_name, true);
        ag_buf_printf(b, "},\"ruleIndex\":%d", d->rule_index);
    }
    if (d->windowed)
        json_window(b, d);
    if (d->subject_kind.n) {
        ag_buf_append_cstr(b, ",\"subject\":{");
        json_field(b, "kind", d->subject_kind, false);
        json_field(b, "namespace", d->subject_namespace, true);
        json_field(b, "name", d->subject_name, true);
        ag_buf_append_cstr(b, "}");
    }
    ag_buf_append_cstr(b, "}");
}

static void print_attrs(const ag_attrs_t *a)
{
    if (a->resource_request)
        printf("request: verb=%.*s apiGroup=\"%.*s\" apiVersion=\"%.*s\" namespace=\"%.*s\" "
               "resource=%.*s "
               "subresource=\"%.*s\" name=\"%.*s\"\n",
               AG_STR_FMT(a->verb), AG_STR_FMT(a->api_group), AG_STR_FMT(a->api_version),
               AG_STR_FMT(a->namespace_), AG_STR_FMT(a->resource), AG_STR_FMT(a->subresource),
               AG_STR_FMT(a->name));
    else
        printf("request: non-resource verb=%.*s path=%.*s\n", AG_STR_FMT(a->verb),
               AG_STR_FMT(a->path));
}

typedef struct {
    const ag_identity_t *id;
    const ag_attrs_t *a, *shown; /* asked; shown in the denial (the create check's) */
    const ag_authz_decision_t *d;
    bool allowed, second;
    ag_buf_t reason, deny, closest;
} report_t;

static void print_json(const report_t *r)
{
    ag_buf_t out = AG_BUF_INIT(1 << 20);
    ag_buf_printf(&out, "{\"allowed\":%s,\"user\":", r->allowed ? "true" : "false");
    json_user(&out, r->id);
    ag_buf_append_cstr(&out, ",\"attributes\":");
    json_attrs(&out, r->a);
    if (r->second)
        ag_buf_append_cstr(&out, ",\"alsoRequired\":\"create\"");
    ag_buf_append_cstr(&out, ",\"decision\":");
    json_decision(&out, r->d);
    json_field(&out, "reason", ag_buf_str(&r->reason), true);
    if (!r->allowed)
        json_field(&out, "denyMessage", ag_buf_str(&r->deny), true);
    if (r->closest.n)
        json_field(&out, "closest", ag_buf_str(&r->closest), true);
    ag_buf_append_cstr(&out, "}");
    printf("%s\n", out.p);
    ag_buf_dispose(&out);
}

static void print_text(const opts_t *o, const report_t *r)
{
    const ag_identity_t *id = r->id;
    printf("%s\n", r->allowed ? "yes" : "no");
    if (!o->explain)
        return;
    print_attrs(r->a);
    printf("user: %.*s groups=[", AG_STR_FMT(id->username));
    for (int i = 0; i < id->ngroups; i++)
        printf("%s%.*s", i ? " " : "", AG_STR_FMT(id->groups[i]));
    printf("]%s%.*s%s%.*s\n", id->uid.n ? " uid=" : "", AG_STR_FMT(id->uid),
           id->oid.n ? " oid=" : "", AG_STR_FMT(id->oid));
    if (r->second)
        printf("also required: create (WebSocket %.*s/%.*s)\n", AG_STR_FMT(r->a->resource),
               AG_STR_FMT(r->a->subresource));
    if (r->allowed)
        printf("reason: %s\n", r->reason.p);
    else
        printf("reason: %s%s%s\n", r->deny.p, r->reason.n ? ": " : "",
               r->reason.n ? r->reason.p : "");
    if (r->closest.n)
        printf("%s\n", r->closest.p);
}

/* For a denial: what would have allowed it, from the authorizer that decided. */
static void explain_denial(const ag_authz_chain_t *p, report_t *r)
{
    if (r->d->source == AG_AUTHZ_BY_AZURE)
        ag_azrbac_explain_denial(p->azure, r->id, r->shown, r->d, &r->closest);
    else if (p->rbac)
        ag_rbac_explain_denial(p->rbac, r->id, r->shown, &r->closest);
}

/* One decision (plus the WebSocket "create" check when asked) and its report. */
static int decide_and_print(const opts_t *o, const ag_authz_chain_t *p, const ag_identity_t *id,
                            ag_attrs_t *a)
{
    ag_authz_decision_t d;
    bool allowed = ag_authz_chain_eval(p, id, a, &d) == AG_AUTHZ_ALLOW;
    bool second = allowed && ag_reqinfo_needs_create_check(a, o->websocket);
    ag_attrs_t create = *a;
    if (second) {
        create.verb = AG_STR("create");
        allowed = ag_authz_chain_eval(p, id, &create, &d) == AG_AUTHZ_ALLOW;
    }
    if (o->quiet)
        return allowed ? 0 : 1;
    report_t r = {.id = id,
                  .a = a,
                  .shown = second && !allowed ? &create : a,
                  .d = &d,
                  .allowed = allowed,
                  .second = second,
                  .reason = AG_BUF_INIT(1 << 16),
                  .deny = AG_BUF_INIT(1 << 16),
                  .closest = AG_BUF_INIT(1 << 16)};
    ag_authz_reason(&d, &r.reason);
    if (!allowed)
        ag_authz_deny_message(id, r.shown, &r.deny);
    if (!allowed && (o->explain || o->json))
        explain_denial(p, &r);
    if (o->json)
        print_json(&r);
    else
        print_text(o, &r);
    ag_buf_dispose(&r.reason);
    ag_buf_dispose(&r.deny);
    ag_buf_dispose(&r.closest);
    return allowed ? 0 : 1;
}

static int request_attrs(const opts_t *o, ag_arena_t *arena, ag_attrs_t *a)
{
    ag_str_t method, target = ag_str_split(ag_str_cstr(o->request), ' ', &method);
    while (target.p && target.n && target.p[0] == ' ')
        target = ag_str_sub(target, 1, target.n);
    if (!method.n || !target.p || !target.n)
        return usage("--request needs 'METHOD /path?query'");
    if (ag_reqinfo_parse(method, target, arena, a)) {
        fprintf(stderr, "authgate check: the API server derives no attributes from \"%s\"\n",
                o->request);
        return 2;
    }
    return 0;
}

/* --list: the SelfSubjectRulesReview answer for <id>, as kubectl prints it. */
static int list_and_print(const opts_t *o, const ag_authz_chain_t *c, const ag_identity_t *id,
                          ag_arena_t *arena)
{
    ag_rules_t rules;
    ag_buf_t out = AG_BUF_INIT(64u << 20), why = AG_BUF_INIT(1 << 20);
    ag_str_t ns = o->all_ns ? AG_STR("") : ag_str_cstr(o->ns ? o->ns : "default");
    int rc = 2;
    ag_rules_init(&rules, arena);
    if (ag_authz_chain_rules(c, id, ns, &rules) ||
        (o->json ? ag_rules_write_review(&out, AG_STR("authorization.k8s.io/v1"), ns, &rules)
                 : ag_rules_print_table(&out, &rules, o->no_headers)) ||
        ag_rules_write_errors(&why, &rules)) {
        fprintf(stderr, "authgate check: cannot list the rules\n");
        goto out;
    }
    if (rules.incomplete && !o->quiet)
        fprintf(stderr, "warning: the list may be incomplete: %s\n", why.n ? why.p : "");
    if (!o->quiet)
        fwrite(out.p ? out.p : "", 1, out.n, stdout);
    if (o->json && !o->quiet)
        putchar('\n');
    rc = 0;
out:
    ag_buf_dispose(&out);
    ag_buf_dispose(&why);
    return rc;
}

int ag_cmd_check(int argc, char **argv)
{
    if (ag_cmd_check_wants_azure(argc, argv))
        return ag_cmd_check_azure(argc, argv);
    opts_t o = {0};
    ag_arena_t arena;
    ag_policy_t *p = NULL;
    ag_attrs_t a;
    int rc;
    prog = "check";
    ag_arena_init(&arena, 0, 0);
    if ((rc = parse_args(&o, argc, argv)))
        goto out;
    rc = 2;
    if (!o.as && !o.ngroups && !o.oid) {
        usage("--as USER, --as-group GROUP or --oid OID is required (nothing is authenticated "
              "offline)");
        goto out;
    }
    if (o.list && (o.request || o.npos || o.explain)) {
        usage("--list takes no VERB, resource, --request or --explain");
        goto out;
    }
    if (!o.list && (o.request ? o.npos != 0 : o.npos < 2)) {
        usage(o.request ? "--request takes no VERB or resource"
                        : "give VERB and a resource type or URL");
        goto out;
    }
    if ((!o.list && (o.request ? request_attrs(&o, &arena, &a) : attrs_from_args(&o, &a))) ||
        load_policy(&o, &p))
        goto out;
    ag_str_t groups[MAX_LIST + 3];
    ag_buf_t sa_group = AG_BUF_INIT(1024);
    if (o.as && strncmp(o.as, "system:serviceaccount:", 22) == 0) {
        const char *ns = o.as + 22, *colon = strchr(ns, ':');
        ag_buf_printf(&sa_group, "system:serviceaccounts:%.*s", colon ? (int)(colon - ns) : 0, ns);
    }
    ag_str_t sg = ag_buf_str(&sa_group);
    ag_identity_t id;
    build_identity(&o, &id, groups, &sg);
    rc = o.list ? list_and_print(&o, &p->chain, &id, &arena)
                : decide_and_print(&o, &p->chain, &id, &a);
    ag_buf_dispose(&sa_group);
out:
    ag_policy_destroy(p);
    ag_arena_dispose(&arena);
    return rc;
}

/* ---- who-can ------------------------------------------------------------------------ */

typedef struct {
    bool json;
    int count;
    ag_buf_t out;
} who_ctx_t;

static void on_subject(void *ctx, ag_str_t kind, ag_str_t ns, ag_str_t name,
                       const ag_authz_decision_t *via)
{
    who_ctx_t *w = ctx;
    if (w->json) {
        ag_buf_append_cstr(&w->out, w->count ? ",{" : "{");
        json_field(&w->out, "kind", kind, false);
        json_field(&w->out, "namespace", ns, true);
        json_field(&w->out, "name", name, true);
        ag_buf_append_cstr(&w->out, ",\"via\":");
        json_decision(&w->out, via);
        ag_buf_append_cstr(&w->out, "}");
    } else {
        ag_buf_t binding = AG_BUF_INIT(4096);
        ag_buf_printf(&binding, "%.*s/%.*s%s%.*s", AG_STR_FMT(via->binding_kind),
                      AG_STR_FMT(via->binding_namespace), via->binding_namespace.n ? "/" : "",
                      AG_STR_FMT(via->binding_name));
        printf("%-15.*s %-20.*s %-40.*s %-50s %.*s/%.*s\n", AG_STR_FMT(kind), ns.n ? (int)ns.n : 1,
               ns.n ? ns.p : "-", AG_STR_FMT(name), binding.p, AG_STR_FMT(via->role_kind),
               AG_STR_FMT(via->role_name));
        ag_buf_dispose(&binding);
    }
    w->count++;
}

int ag_cmd_who_can(int argc, char **argv)
{
    opts_t o = {0};
    ag_arena_t arena;
    ag_policy_t *p = NULL;
    ag_attrs_t a;
    int rc;
    prog = "who-can";
    ag_arena_init(&arena, 0, 0);
    if ((rc = parse_args(&o, argc, argv)))
        goto out;
    rc = 2;
    if (o.npos < 2) {
        usage("give VERB and a resource type or URL");
        goto out;
    }
    if (attrs_from_args(&o, &a) || load_policy(&o, &p))
        goto out;
    who_ctx_t w = {.json = o.json, .out = AG_BUF_INIT(64u << 20)};
    if (o.json) {
        ag_buf_append_cstr(&w.out, "{\"attributes\":");
        json_attrs(&w.out, &a);
        ag_buf_append_cstr(&w.out, ",\"subjects\":[");
    } else {
        printf("%-15s %-20s %-40s %-50s %s\n", "KIND", "NAMESPACE", "NAME", "BINDING", "ROLE");
    }
    ag_rbac_who_can(p->rbac, &a, on_subject, &w);
    if (o.json) {
        ag_buf_append_cstr(&w.out, "]}");
        printf("%s\n", w.out.p);
    } else if (!w.count) {
        printf("(no subject is granted this)\n");
    }
    ag_buf_dispose(&w.out);
    rc = 0;
out:
    ag_policy_destroy(p);
    ag_arena_dispose(&arena);
    return rc;
}
