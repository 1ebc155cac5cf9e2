/* What an identity may do in a namespace, as rules: the answer of a SelfSubjectRulesReview
 * (`kubectl auth can-i --list`) and of `authgate check --list`. Authorizers add rules
 * (Kubernetes RBAC: rbac.h ag_rbac_rules_for; Azure RBAC: azrbac.h), evaluation errors
 * and "incomplete"; this module collects them and writes the review object, or the table
 * kubectl prints for it. Pure. Lifetime: an ag_rules_t and the rules it holds live in the
 * caller's arena; the strings are borrowed (policy snapshot or arena). */
#ifndef AG_RULES_H
#define AG_RULES_H

#include <stdbool.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"

typedef struct {
    const ag_str_t *v;
    int n;
} ag_strs_t;

/* One rule as rbac/v1 PolicyRule says it. A rule with resources is a resource rule, one
 * with nonResourceURLs a non-resource rule (a rule with both is both, one with neither
 * neither, as kube-apiserver's RBAC rule resolver lists them). */
typedef struct {
    ag_strs_t verbs, groups, resources, names, urls;
} ag_rule_t;

#define AG_RULES_MAX_ERRORS 32

typedef struct {
    ag_arena_t *arena;
    ag_rule_t *v;
    int n, cap;
    bool incomplete;
    const char *errors[AG_RULES_MAX_ERRORS]; /* distinct messages (static or snapshot) */
    int nerrors;
} ag_rules_t;

void ag_rules_init(ag_rules_t *r, ag_arena_t *arena);
/* Adds a copy of <rule> (its lists borrowed). AG_E_NOMEM when the arena is full. */
ag_err ag_rules_add(ag_rules_t *r, const ag_rule_t *rule);
/* Records an evaluation error (<msg> borrowed; kept once however often it comes). */
void ag_rules_error(ag_rules_t *r, const char *msg);
/* The evaluationError as kube-apiserver words an aggregate: one message as is, several as
 * "[a, b]"; empty when there is none. */
ag_err ag_rules_write_errors(ag_buf_t *out, const ag_rules_t *r);

/* Appends the SelfSubjectRulesReview answer ({"kind":"SelfSubjectRulesReview", ...,
 * "spec":{"namespace":<ns>},"status":{"resourceRules":[...],"nonResourceRules":[...],
 * "incomplete":..,"evaluationError":..}}). */
ag_err ag_rules_write_review(ag_buf_t *out, ag_str_t api_version, ag_str_t ns, const ag_rules_t *r);

/* Appends the table `kubectl auth can-i --list` prints for these rules: each rule broken
 * down to one (group, resource, name) or one URL, the resource ones merged by their verbs,
 * sorted as kubectl sorts them, under "Resources  Non-Resource URLs  Resource Names
 * Verbs" (without the header when <no_headers>), columns padded as kubectl's tabwriter
 * does. Uses <r>'s arena for the breakdown. */
ag_err ag_rules_print_table(ag_buf_t *out, const ag_rules_t *r, bool no_headers);

#endif
