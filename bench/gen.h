/* Policy generators shared by the benchmark programs (bench_rbac.c, bench_azrbac.c,
 * micro.c): the synthetic Kubernetes RBAC and Azure role-assignment documents whose
 * decision and load costs they measure, so every program measures the same shapes, and
 * the resident-memory probe their load figures use. Header-only (static functions): each
 * benchmark is one translation unit. Writes JSON text into a caller-owned ag_buf_t; never
 * loads or judges anything itself. */
#ifndef AG_BENCH_GEN_H
#define AG_BENCH_GEN_H

#include <stdio.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"

/* ---- Kubernetes RBAC ------------------------------------------------------------------
 * Policy shape for N RoleBindings: 1000 namespaces (N/10 + 1 for small N), one Role
 * "reader" per namespace (get/list configmaps and secrets, get deployments), and N
 * RoleBindings rb-<i> in ns-<i % namespaces>, each granting user-<i> and group-<i % 500>
 * the namespace's Role (even i) or the bootstrap "edit" ClusterRole (odd i). */

static inline int gen_rbac_namespaces(int nbind)
{
    return nbind < 1000 ? nbind / 10 + 1 : 1000;
}

static inline ag_err gen_rbac_policy(int nbind, ag_buf_t *out)
{
    int nns = gen_rbac_namespaces(nbind);
    ag_err err = ag_buf_append_cstr(out, "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[");
    for (int i = 0; !err && i < nns; i++)
        err = ag_buf_printf(
            out,
            "%s{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\","
            "\"metadata\":{\"name\":\"reader\",\"namespace\":\"ns-%d\"},\"rules\":["
            "{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\",\"secrets\"],\"verbs\":[\"get\","
            "\"list\"]},"
            "{\"apiGroups\":[\"apps\"],\"resources\":[\"deployments\"],\"verbs\":[\"get\"]}]}",
            i ? "," : "", i);
    for (int i = 0; !err && i < nbind; i++)
        err = ag_buf_printf(
            out,
            ",{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\","
            "\"metadata\":{\"name\":\"rb-%d\",\"namespace\":\"ns-%d\"},"
            "\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"%s\",\"name\":\"%"
            "s\"},"
            "\"subjects\":[{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"User\",\"name\":"
            "\"user-%d\"},"
            "{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Group\",\"name\":\"group-%d\"}]"
            "}",
            i, i % nns, i & 1 ? "ClusterRole" : "Role", i & 1 ? "edit" : "reader", i, i % 500);
    return err ? err : ag_buf_append_cstr(out, "]}");
}

/* ---- Azure RBAC -----------------------------------------------------------------------
 * One principal (gen_az_oid) with GEN_AZ_NGROUPS groups (gen_az_groups). With <worst>
 * false, 5 assignments are its own or its groups' (RBAC Reader in "dev", Writer in "ci",
 * group 3's Cluster User at the cluster, group 7's Cluster Admin at the resource group,
 * group 11's Reader in "team-11"); the rest belong to other principals at the cluster,
 * its namespaces, other clusters and the subscription. With <worst> true, all N sit on
 * the principal's last group, each at another namespace (none applies to "dev"). */

#define GEN_AZ_SUB "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
#define GEN_AZ_RG GEN_AZ_SUB "/resourceGroups/rg1"
#define GEN_AZ_CLUSTER GEN_AZ_RG "/providers/Microsoft.ContainerService/managedClusters/web"
#define GEN_AZ_NGROUPS 20

/* unused attributes: a program including this header may use only the RBAC half */
__attribute__((unused)) static const char *const gen_az_roles[] = {
    "7f6c6a51-bcf8-42ba-9220-52d62157d7db", /* RBAC Reader */
    "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb", /* RBAC Writer */
    "3498e952-d568-435e-9b2c-8d77e338d7f7", /* RBAC Admin */
    "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b", /* RBAC Cluster Admin */
    "4abbcc35-e782-43d8-92c5-2d3f1bd2253f", /* Cluster User Role */
};

__attribute__((unused)) static char gen_az_oid[37], gen_az_groups[GEN_AZ_NGROUPS][37];

/* Fills gen_az_oid and gen_az_groups; call once before the other gen_az_ functions. */
static inline void gen_az_ids(void)
{
    snprintf(gen_az_oid, sizeof gen_az_oid, "aaaaaaaa-0000-4000-8000-000000000001");
    for (int g = 0; g < GEN_AZ_NGROUPS; g++)
        snprintf(gen_az_groups[g], sizeof gen_az_groups[g], "bbbbbbbb-0000-4000-8000-%012d", g);
}

static inline ag_err gen_az_put(ag_buf_t *b, int i, const char *principal, int role,
                                const char *scope)
{
    return ag_buf_printf(
        b,
        "%s{\"id\":\"%s/providers/Microsoft.Authorization/roleAssignments/"
        "%08x-0000-4000-8000-000000000000\",\"principalId\":\"%s\",\"principalType\":"
        "\"User\",\"roleDefinitionId\":\"" GEN_AZ_SUB "/providers/Microsoft.Authorization/"
        "roleDefinitions/%s\",\"scope\":\"%s\",\"condition\":null}",
        i ? "," : "", scope, (unsigned)i, principal, gen_az_roles[role], scope);
}

static inline void gen_az_scope(int i, int worst, char *scope, size_t n)
{
    if (worst) /* the group's grants are all elsewhere: a request scans them all */
        snprintf(scope, n, GEN_AZ_CLUSTER "/namespaces/ns%d", i);
    else if (i % 4 == 0)
        snprintf(scope, n, GEN_AZ_CLUSTER "/namespaces/ns%d", i % 500);
    else if (i % 4 == 1)
        snprintf(scope, n, "%s", GEN_AZ_CLUSTER);
    else if (i % 4 == 2)
        snprintf(scope, n, GEN_AZ_RG "/providers/Microsoft.ContainerService/managedClusters/c%d",
                 i % 50);
    else
        snprintf(scope, n, "%s", GEN_AZ_SUB);
}

/* Appends the JSON array of <n> role assignments (shape above) to <out>. */
static inline ag_err gen_az_assignments(int n, int worst, ag_buf_t *out)
{
    char other[37], scope[512];
    int i = 0;
    ag_err err = ag_buf_append_cstr(out, "[");
    if (!worst && !err) {
        err = gen_az_put(out, i++, gen_az_oid, 0, GEN_AZ_CLUSTER "/namespaces/dev");
        err = err ? err : gen_az_put(out, i++, gen_az_oid, 1, GEN_AZ_CLUSTER "/namespaces/ci");
        err = err ? err : gen_az_put(out, i++, gen_az_groups[3], 4, GEN_AZ_CLUSTER);
        err = err ? err : gen_az_put(out, i++, gen_az_groups[7], 3, GEN_AZ_RG);
        err =
            err ? err
                : gen_az_put(out, i++, gen_az_groups[11], 0, GEN_AZ_CLUSTER "/namespaces/team-11");
    }
    for (; !err && i < n; i++) {
        snprintf(other, sizeof other, "cccccccc-%04x-4000-8000-%012x", i % 65536, i);
        gen_az_scope(i, worst, scope, sizeof scope);
        err = gen_az_put(out, i, worst ? gen_az_groups[GEN_AZ_NGROUPS - 1] : other, i % 5, scope);
    }
    return err ? err : ag_buf_append_cstr(out, "]");
}

/* ---- memory --------------------------------------------------------------------------- */

/* Resident set size of this process in KiB (/proc/self/statm), 0 when unreadable. */
static inline long gen_rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

#endif
