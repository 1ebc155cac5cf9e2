/* `authgate check` for Azure RBAC (cmd_check_azure.h): loads exported role assignments
 * (and optional definitions and deny assignments) with core/authz/azure/azrbac, then answers one
 * question like `kubectl auth can-i` does: a control-plane action (may this principal
 * pull the user or admin kubeconfig?) or a Kubernetes request as an Azure data action.
 * Only argument handling and printing live here; the decision is core's. */
#include "cmd/cmd_check_azure.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/azure/azrbac.h"
#include "cmd/cmd_args.h"
#include "files.h"

typedef struct {
    const char **defs, **asg, **deny;
    int ndef, nasg, ndeny;
    const char *cluster, *principal, *arm_action, *scope, *ns, *subresource;
    ag_str_t *groups;
    int ngroups;
    const char *pos[2];
    int npos;
    bool explain;
} opts_t;

bool ag_cmd_check_wants_azure(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "--azure-", 8) == 0 || strncmp(argv[i], "--arm-action", 12) == 0)
            return true;
    return false;
}

static const char azure_help[] =
    "usage: authgate check --azure-assignments FILE [--azure-definitions FILE]\n"
    "         [--azure-deny FILE] [--cluster-id ID] --principal OID [--group GID ...]\n"
    "         [--explain] (--arm-action ACTION [--scope SCOPE]\n"
    "         | VERB TYPE[.GROUP][/NAME] [--subresource S] [-n NS] | VERB /URL/PATH)\n"
    "Asks exported Azure role assignments (az role assignment list -o json or -o yaml)\n"
    "whether a principal may do something, as the gateway's Azure RBAC would decide.\n"
    "Prints yes or no; exit 0 yes, 1 no, 2 usage or load error.\n"
    "\n"
    "  --azure-assignments FILE  role assignments (JSON or YAML); repeatable; required\n"
    "  --azure-definitions FILE  custom role definitions; repeatable\n"
    "  --azure-deny FILE         deny assignments; repeatable\n"
    "  --cluster-id ID           the managed cluster's resource id (default: the one\n"
    "                            cluster the assignments name)\n"
    "  --principal OID           the user's or service principal's object id; required\n"
    "  --group GID               a group object id of the principal; repeatable\n"
    "  --arm-action ACTION       a control-plane action instead of a Kubernetes request\n"
    "  --scope SCOPE             the scope of --arm-action (default: the cluster)\n"
    "  -n, --namespace NS        namespace of the Kubernetes request\n"
    "  --subresource S           subresource of the Kubernetes request\n"
    "  --explain                 the assignment, role and scope that decided\n"
    "  -h, --help                this help\n"
    "\n"
    "examples:\n"
    "  authgate check --azure-assignments assignments.json --principal OID get pods -n dev\n"
    "  authgate check --azure-assignments assignments.yaml --principal OID --explain \\\n"
    "      --arm-action Microsoft.ContainerService/managedClusters/"
    "listClusterUserCredential/action\n";

static int usage(const char *why)
{
    if (!why) {
        fputs(azure_help, stdout);
        return 0;
    }
    fprintf(stderr,
            "authgate check: %s (authgate check --azure-assignments FILE --help for "
            "usage)\n",
            why);
    return 2;
}

static int parse_args(opts_t *o, int argc, char **argv)
{
    bool bad = false;
    const char *v;
    for (int i = 1; i < argc && !bad; i++) {
        if ((v = ag_cmd_opt_value("--azure-assignments", argc, argv, &i, &bad)))
            o->asg[o->nasg++] = v;
        else if ((v = ag_cmd_opt_value("--azure-definitions", argc, argv, &i, &bad)))
            o->defs[o->ndef++] = v;
        else if ((v = ag_cmd_opt_value("--azure-deny", argc, argv, &i, &bad)))
            o->deny[o->ndeny++] = v;
        else if ((v = ag_cmd_opt_value("--group", argc, argv, &i, &bad)))
            o->groups[o->ngroups++] = ag_str_cstr(v);
        else if ((v = ag_cmd_opt_value("--cluster-id", argc, argv, &i, &bad)))
            o->cluster = v;
        else if ((v = ag_cmd_opt_value("--principal", argc, argv, &i, &bad)))
            o->principal = v;
        else if ((v = ag_cmd_opt_value("--arm-action", argc, argv, &i, &bad)))
            o->arm_action = v;
        else if ((v = ag_cmd_opt_value("--scope", argc, argv, &i, &bad)))
            o->scope = v;
        else if ((v = ag_cmd_opt_value("--namespace", argc, argv, &i, &bad)) ||
                 (v = ag_cmd_opt_value("-n", argc, argv, &i, &bad)))
            o->ns = v;
        else if ((v = ag_cmd_opt_value("--subresource", argc, argv, &i, &bad)))
            o->subresource = v;
        else if (strcmp(argv[i], "--explain") == 0)
            o->explain = true;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            exit(usage(NULL));
        else if (!bad && argv[i][0] == '-' && argv[i][1] != '\0') {
            char why[256];
            snprintf(why, sizeof why, "unknown option %s", argv[i]);
            return usage(why);
        } else if (!bad && o->npos < 2)
            o->pos[o->npos++] = argv[i];
        else if (!bad)
            return usage("too many arguments");
    }
    if (bad)
        return usage("an option is missing its value");
    if (o->nasg == 0 || !o->principal)
        return usage("--azure-assignments and --principal are required");
    if (!o->arm_action && o->npos != 2)
        return usage("give --arm-action ACTION, or VERB and a resource or URL");
    if (o->arm_action && o->npos != 0)
        return usage("--arm-action takes no VERB or resource");
    return 0;
}

/* TYPE[.GROUP][/NAME] as kubectl auth can-i reads it. */
static ag_attrs_t attrs_of(const opts_t *o)
{
    ag_attrs_t a = {.verb = ag_str_cstr(o->pos[0])};
    ag_str_t what = ag_str_cstr(o->pos[1]), type;
    if (what.n && what.p[0] == '/') {
        a.path = what;
        return a;
    }
    a.resource_request = true;
    a.name = ag_str_split(what, '/', &type);
    a.api_group = ag_str_split(type, '.', &a.resource);
    a.subresource = ag_str_cstr(o->subresource);
    a.namespace_ = ag_str_cstr(o->ns);
    return a;
}

/* The cluster from --cluster-id, else the one the first assignments file names. */
static int cluster_id(const opts_t *o, ag_buf_t *out)
{
    if (o->cluster)
        return ag_buf_append_cstr(out, o->cluster) ? usage("out of memory") : 0;
    ag_buf_t text = AG_BUF_INIT(AG_AZRBAC_MAX_FILE_BYTES);
    ag_err err = ag_buf_read_file(&text, o->asg[0]);
    if (!err)
        err = ag_azrbac_infer_cluster_named(ag_buf_str(&text), o->asg[0], out);
    ag_buf_dispose(&text);
    if (err == AG_E_NOT_FOUND || err == AG_E_DUPLICATE)
        return usage("cannot tell the cluster from the assignments: give --cluster-id");
    if (err)
        fprintf(stderr, "authgate check: %s: %s\n", o->asg[0], ag_err_str(err));
    return err ? 2 : 0;
}

static int decide(const opts_t *o, const ag_azrbac_t *p)
{
    ag_authz_decision_t *d = calloc(1, sizeof *d);
    ag_buf_t why = AG_BUF_INIT(1 << 16), near = AG_BUF_INIT(1 << 16);
    ag_authz_result r;
    if (!d)
        return usage("out of memory");
    if (o->arm_action) {
        r = ag_azrbac_eval_arm(p, ag_str_cstr(o->principal), o->groups, o->ngroups,
                               ag_str_cstr(o->arm_action), ag_str_cstr(o->scope), d);
    } else {
        ag_identity_t u = {.username = ag_str_cstr(o->principal),
                           .oid = ag_str_cstr(o->principal),
                           .groups = o->groups,
                           .ngroups = o->ngroups,
                           .flags = AG_ID_AZURE_AD};
        ag_attrs_t a = attrs_of(o);
        r = ag_azrbac_eval(p, &u, &a, d);
        if (o->explain && r != AG_AUTHZ_ALLOW)
            ag_azrbac_explain_denial(p, &u, &a, d, &near);
    }
    printf("%s\n", r == AG_AUTHZ_ALLOW ? "yes" : "no");
    if (o->explain && ag_azrbac_reason(d, &why) == 0)
        printf("%s\n", why.p);
    if (near.n)
        printf("%s\n", near.p);
    ag_buf_dispose(&near);
    ag_buf_dispose(&why);
    free(d);
    return r == AG_AUTHZ_ALLOW ? 0 : 1;
}

int ag_cmd_check_azure(int argc, char **argv)
{
    opts_t o = {0};
    ag_buf_t cluster = AG_BUF_INIT(4096), err = AG_BUF_INIT(4096);
    ag_azrbac_t *p = NULL;
    int rc = 2;
    o.defs = calloc((size_t)argc, sizeof *o.defs);
    o.asg = calloc((size_t)argc, sizeof *o.asg);
    o.deny = calloc((size_t)argc, sizeof *o.deny);
    o.groups = calloc((size_t)argc, sizeof *o.groups);
    if (!o.defs || !o.asg || !o.deny || !o.groups) {
        rc = usage("out of memory");
        goto out;
    }
    if ((rc = parse_args(&o, argc, argv)) != 0 || (rc = cluster_id(&o, &cluster)) != 0)
        goto out;
    ag_azrbac_opts_t opts = {ag_buf_str(&cluster)};
    if (ag_azrbac_load(o.defs, o.ndef, o.asg, o.nasg, o.deny, o.ndeny, &opts, &p, &err) != 0) {
        fprintf(stderr, "authgate check: %s\n", err.p ? err.p : "cannot load Azure RBAC");
        rc = 2;
        goto out;
    }
    rc = decide(&o, p);
out:
    ag_azrbac_unref(p);
    ag_buf_dispose(&cluster);
    ag_buf_dispose(&err);
    free(o.defs);
    free(o.asg);
    free(o.deny);
    free(o.groups);
    return rc;
}
