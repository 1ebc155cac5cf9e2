/* `authgate check` and `authgate who-can` (cmd.h) over Kubernetes RBAC: offline answers
 * against policy files, modelled on `kubectl auth can-i` and the kubectl-who-can plugin.
 * Only argument handling, the kubectl-like resource naming (a small built-in table, as no
 * discovery exists offline) and printing live here; decisions are core/rbac.c's, request
 * attributes core/reqinfo.c's. Azure role assignments are handed to cmd_check_azure.c.
 * Exit status: 0 yes, 1 no, 2 usage or policy errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "cmd_args.h"
#include "cmd_check_azure.h"
#include "json.h"
#include "rbac.h"
#include "reqinfo.h"

#define MAX_LIST 64 /* --policy / --as-group occurrences */

typedef struct {
    const char *policies[MAX_LIST];
    int npolicies;
    const char *groups[MAX_LIST];
    int ngroups;
    const char *config, *as, *ns, *subresource, *name, *request;
    const char *pos[3];
    int npos;
    bool no_bootstrap, all_ns, exact_groups, explain, json, websocket, ns_given;
} opts_t;

static const char *prog = "check";

static int usage(const char *why)
{
    if (why)
        fprintf(stderr, "authgate %s: %s\n", prog, why);
    if (strcmp(prog, "who-can") == 0)
        fprintf(stderr,
                "usage: authgate who-can --policy FILE_OR_DIR [--policy ...] [--no-bootstrap]\n"
                "         VERB (TYPE[.GROUP][/NAME] | /NON/RESOURCE/URL) [-n NS | -A]\n"
                "         [--subresource S] [--name N] [-o json]\n");
    else
        fprintf(
            stderr,
            "usage: authgate check --policy FILE_OR_DIR [--policy ...] [--no-bootstrap]\n"
            "         --as USER [--as-group GROUP ...] [--exact-groups]\n"
            "         (VERB (TYPE[.GROUP][/NAME] | /NON/RESOURCE/URL) [-n NS | -A]\n"
            "          [--subresource S] [--name N]\n"
            "         | --request 'METHOD /path?query' [--websocket])\n"
            "         [--explain] [-o json]\n"
            "  prints yes or no; exit 0 yes, 1 no, 2 usage or policy error.\n"
            "  --as/--as-group act like kubectl's impersonation: system:authenticated is added\n"
            "  (service accounts also get their groups) unless --exact-groups.\n"
            "  TYPE: plural, singular or short name of a built-in resource (po, deploy, svc,\n"
            "  ns, cm, ...) or RESOURCE.GROUP; no discovery runs offline.\n"
            "  --config FILE reads the gateway config's \"authorization\": {\"rbac\":\n"
            "  {\"policies\": [paths relative to FILE], \"bootstrap\": true}} section.\n"
            "  Azure role assignments: authgate check --azure-assignments FILE ... "
            "(cmd_check_azure).\n");
    return 2;
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

static int parse_args(opts_t *o, int argc, char **argv)
{
    bool missing = false, full = false;
    const char *v;
    for (int i = 1; i < argc && !missing; i++) {
        const char *a = argv[i];
        if ((v = ag_cmd_opt_value("--policy", argc, argv, &i, &missing)))
            full = !push(o->policies, &o->npolicies, v);
        else if ((v = ag_cmd_opt_value("--as-group", argc, argv, &i, &missing)))
            full = !push(o->groups, &o->ngroups, v);
        else if ((v = ag_cmd_opt_value("--as", argc, argv, &i, &missing)))
            o->as = v;
        else if ((v = ag_cmd_opt_value("--config", argc, argv, &i, &missing)))
            o->config = v;
        else if ((v = ag_cmd_opt_value("--namespace", argc, argv, &i, &missing)) ||
                 (v = ag_cmd_opt_value("-n", argc, argv, &i, &missing)))
            o->ns = v, o->ns_given = true;
        else if ((v = ag_cmd_opt_value("--subresource", argc, argv, &i, &missing)))
            o->subresource = v;
        else if ((v = ag_cmd_opt_value("--name", argc, argv, &i, &missing)))
            o->name = v;
        else if ((v = ag_cmd_opt_value("--request", argc, argv, &i, &missing)))
            o->request = v;
        else if ((v = ag_cmd_opt_value("--output", argc, argv, &i, &missing)) ||
                 (v = ag_cmd_opt_value("-o", argc, argv, &i, &missing))) {
            if (strcmp(v, "json") != 0)
                return usage("only -o json is supported");
            o->json = true;
        } else if (flag(a, "--no-bootstrap", &o->no_bootstrap) || flag(a, "-A", &o->all_ns) ||
                   flag(a, "--all-namespaces", &o->all_ns) ||
                   flag(a, "--exact-groups", &o->exact_groups) ||
                   flag(a, "--explain", &o->explain) || flag(a, "--websocket", &o->websocket)) {
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(NULL);
            exit(0);
        } else if (!missing && a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "authgate %s: unknown option %s\n", prog, a);
            return usage(NULL);
        } else if (!missing && o->npos < 3) {
            o->pos[o->npos++] = a;
        } else if (!missing) {
            return usage("too many arguments");
        }
        if (full)
            return usage("too many --policy or --as-group options");
    }
    if (missing)
        return usage("an option is missing its value");
    if (!o->npolicies && !o->config)
        return usage("give --policy FILE_OR_DIR (or --config FILE)");
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
    *id = (ag_identity_t){.username = ag_str_cstr(o->as)};
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

/* --config: the gateway config's "authorization": {"rbac": {"policies": [..],
 * "bootstrap": bool}} section, read here until config/config.h exposes it. Relative
 * paths are taken from the config file's directory. */
static int policies_from_config(opts_t *o, ag_arena_t *arena)
{
    ag_buf_t text = AG_BUF_INIT(4u << 20), err_text = AG_BUF_INIT(1024);
    ag_json_t doc;
    ag_json_error_t je = {0};
    int rc = 2;
    if (ag_buf_read_file(&text, o->config)) {
        fprintf(stderr, "authgate %s: %s: cannot read file\n", prog, o->config);
        goto out;
    }
    if (ag_json_parse(&doc, ag_buf_str(&text), NULL, arena, &je)) {
        fprintf(stderr, "authgate %s: %s:%d:%d: %s\n", prog, o->config, je.line, je.col,
                je.msg ? je.msg : "malformed JSON");
        goto out;
    }
    ag_json_ref rbac =
        ag_json_get(&doc, ag_json_get(&doc, ag_json_root(&doc), "authorization"), "rbac");
    ag_json_ref pol = ag_json_get(&doc, rbac, "policies"),
                boot = ag_json_get(&doc, rbac, "bootstrap");
    if (ag_json_typeof(&doc, pol) != AG_JSON_ARRAY) {
        fprintf(stderr, "authgate %s: %s: no authorization.rbac.policies list\n", prog, o->config);
        goto out;
    }
    bool b = true;
    if (boot != AG_JSON_NONE && ag_json_bool(&doc, boot, &b) == 0 && !b)
        o->no_bootstrap = true;
    const char *slash = strrchr(o->config, '/');
    for (ag_json_ref e = ag_json_first(&doc, pol); e != AG_JSON_NONE; e = ag_json_next(&doc, e)) {
        ag_str_t s;
        if (ag_json_str(&doc, e, arena, &s) || !s.n) {
            fprintf(stderr, "authgate %s: %s: authorization.rbac.policies: strings expected\n",
                    prog, o->config);
            goto out;
        }
        ag_buf_clear(&err_text);
        if (s.p[0] != '/' && slash)
            ag_buf_printf(&err_text, "%.*s", (int)(slash - o->config + 1), o->config);
        ag_buf_append_str(&err_text, s);
        const char *path = ag_arena_cstr(arena, ag_buf_str(&err_text));
        if (!path || !push(o->policies, &o->npolicies, path)) {
            fprintf(stderr, "authgate %s: %s: too many policies\n", prog, o->config);
            goto out;
        }
    }
    rc = 0;
out:
    ag_buf_dispose(&text);
    ag_buf_dispose(&err_text);
    return rc;
}

static int load_policy(opts_t *o, ag_arena_t *arena, ag_rbac_t **out)
{
    if (o->config && policies_from_config(o, arena))
        return 2;
    ag_rbac_opts_t ro = {.bootstrap = !o->no_bootstrap};
    ag_buf_t err = AG_BUF_INIT(8192);
    ag_err e = ag_rbac_load(o->policies, o->npolicies, &ro, out, &err);
    if (e)
        fprintf(stderr, "authgate %s: policy not loaded: %s\n", prog,
                err.n ? err.p : ag_err_str(e));
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
    ag_buf_append_cstr(b, ",\"groups\":[");
    for (int i = 0; i < id->ngroups; i++) {
        if (i)
            ag_buf_append_cstr(b, ",");
        ag_json_write_str(b, id->groups[i]);
    }
    ag_buf_append_cstr(b, "]}");
}

static void json_decision(ag_buf_t *b, const ag_authz_decision_t *d)
{
    ag_buf_printf(b, "{\"source\":\"%s\"",
                  d->source == AG_AUTHZ_BY_SUPERUSER ? "superuser" : "rbac");
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

/* One decision (plus the WebSocket "create" check when asked) and its report. */
static int decide_and_print(const opts_t *o, const ag_rbac_t *p, const ag_identity_t *id,
                            ag_attrs_t *a)
{
    ag_authz_decision_t d;
    bool allowed = ag_rbac_eval(p, id, a, &d) == AG_AUTHZ_ALLOW;
    bool second = allowed && ag_reqinfo_needs_create_check(a, o->websocket);
    ag_attrs_t create = *a;
    if (second) {
        create.verb = AG_STR("create");
        allowed = ag_rbac_eval(p, id, &create, &d) == AG_AUTHZ_ALLOW;
    }
    const ag_attrs_t *shown = second && !allowed ? &create : a;
    ag_buf_t reason = AG_BUF_INIT(1 << 16), deny = AG_BUF_INIT(1 << 16), out = AG_BUF_INIT(1 << 20);
    ag_authz_reason(&d, &reason);
    if (!allowed)
        ag_authz_deny_message(id, shown, &deny);
    if (o->json) {
        ag_buf_printf(&out, "{\"allowed\":%s,\"user\":", allowed ? "true" : "false");
        json_user(&out, id);
        ag_buf_append_cstr(&out, ",\"attributes\":");
        json_attrs(&out, a);
        if (second)
            ag_buf_append_cstr(&out, ",\"alsoRequired\":\"create\"");
        ag_buf_append_cstr(&out, ",\"decision\":");
        json_decision(&out, &d);
        json_field(&out, "reason", ag_buf_str(&reason), true);
        if (!allowed)
            json_field(&out, "denyMessage", ag_buf_str(&deny), true);
        ag_buf_append_cstr(&out, "}");
        printf("%s\n", out.p);
    } else {
        printf("%s\n", allowed ? "yes" : "no");
        if (o->explain) {
            print_attrs(a);
            printf("user: %.*s groups=[", AG_STR_FMT(id->username));
            for (int i = 0; i < id->ngroups; i++)
                printf("%s%.*s", i ? " " : "", AG_STR_FMT(id->groups[i]));
            printf("]\n");
            if (second)
                printf("also required: create (WebSocket %.*s/%.*s)\n", AG_STR_FMT(a->resource),
                       AG_STR_FMT(a->subresource));
            if (allowed)
                printf("reason: %s\n", reason.p);
            else
                printf("reason: %s%s%s\n", deny.p, reason.n ? ": " : "", reason.n ? reason.p : "");
        }
    }
    ag_buf_dispose(&reason);
    ag_buf_dispose(&deny);
    ag_buf_dispose(&out);
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

int ag_cmd_check(int argc, char **argv)
{
    if (ag_cmd_check_wants_azure(argc, argv))
        return ag_cmd_check_azure(argc, argv);
    opts_t o = {0};
    ag_arena_t arena;
    ag_rbac_t *p = NULL;
    ag_attrs_t a;
    int rc;
    prog = "check";
    ag_arena_init(&arena, 0, 0);
    if ((rc = parse_args(&o, argc, argv)))
        goto out;
    rc = 2;
    if (!o.as && !o.ngroups) {
        usage("--as USER or --as-group GROUP is required (nothing is authenticated offline)");
        goto out;
    }
    if (o.request ? o.npos != 0 : o.npos < 2) {
        usage(o.request ? "--request takes no VERB or resource"
                        : "give VERB and a resource type or URL");
        goto out;
    }
    if ((o.request ? request_attrs(&o, &arena, &a) : attrs_from_args(&o, &a)) ||
        load_policy(&o, &arena, &p))
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
    rc = decide_and_print(&o, p, &id, &a);
    ag_buf_dispose(&sa_group);
out:
    ag_rbac_unref(p);
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
    ag_rbac_t *p = NULL;
    ag_attrs_t a;
    int rc;
    prog = "who-can";
    ag_arena_init(&arena, 0, 0);
    if ((rc = parse_args(&o, argc, argv)))
        goto out;
    rc = 2;
    if (o.npos < 2 || o.request || o.as || o.ngroups) {
        usage(o.npos < 2 ? "give VERB and a resource type or URL"
                         : "who-can takes no --request, --as or --as-group");
        goto out;
    }
    if (attrs_from_args(&o, &a) || load_policy(&o, &arena, &p))
        goto out;
    who_ctx_t w = {.json = o.json, .out = AG_BUF_INIT(64u << 20)};
    if (o.json) {
        ag_buf_append_cstr(&w.out, "{\"attributes\":");
        json_attrs(&w.out, &a);
        ag_buf_append_cstr(&w.out, ",\"subjects\":[");
    } else {
        printf("%-15s %-20s %-40s %-50s %s\n", "KIND", "NAMESPACE", "NAME", "BINDING", "ROLE");
    }
    ag_rbac_who_can(p, &a, on_subject, &w);
    if (o.json) {
        ag_buf_append_cstr(&w.out, "]}");
        printf("%s\n", w.out.p);
    } else if (!w.count) {
        printf("(no subject is granted this)\n");
    }
    ag_buf_dispose(&w.out);
    rc = 0;
out:
    ag_rbac_unref(p);
    ag_arena_dispose(&arena);
    return rc;
}
