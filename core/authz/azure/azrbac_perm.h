/* Azure permission strings and scopes, compiled for the authorization hot path
 * (used by azrbac.c). A permission set is the compiled form of one list of a role's
 * permission block (Actions, NotActions, DataActions or NotDataActions): lower-cased at
 * load, exact strings hashed, `*` patterns kept apart and matched as anchored globs where
 * `*` is any run of characters including '/'. Scopes compare by whole path segments,
 * case-insensitively. Pure functions; sets live in the snapshot arena (lifetime: snapshot)
 * and are never modified after load. */
#ifndef AG_AZPERM_H
#define AG_AZPERM_H

#include <stdbool.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/str.h"

typedef struct {
    const ag_str_t *exact;            /* lower-cased strings without '*' (arena) */
    const unsigned long long *hashes; /* ag_str_hash of each exact string */
    const int *table;                 /* open addressing over exact: index or -1 */
    unsigned table_mask;              /* table size - 1 (0 when no exact strings) */
    int nexact;
    const ag_str_t *globs; /* lower-cased strings containing '*' (arena) */
    int nglobs;
} ag_azperm_set_t;

/* A lower-cased action ready for matching: its text and hash, computed once per request. */
typedef struct {
    ag_str_t lc;
    unsigned long long hash;
    bool has_star; /* a wildcard request (verb or resource "*"): matched conservatively */
} ag_azperm_action_t;

/* Compiles <patterns> (borrowed) into <set>, copying into <arena>. AG_E_INVAL for an
 * empty pattern, AG_E_NOMEM. */
ag_err ag_azperm_set_compile(ag_azperm_set_t *set, const ag_str_t *patterns, int n,
                             ag_arena_t *arena);

/* Lower-cases <action> into <buf> (capacity <cap>) and fills <out>. AG_E_TOO_BIG. */
ag_err ag_azperm_action_init(ag_azperm_action_t *out, ag_str_t action, char *buf, size_t cap);

/* Anchored glob: <pattern> and <s> already lower-case; '*' in <pattern> matches any run
 * of bytes (including '/'); a '*' in <s> is an ordinary byte. */
bool ag_azperm_glob(ag_str_t pattern, ag_str_t s);

/* True when every action <a> stands for is in <set> (for a literal action: it matches a
 * pattern). Use for allow lists and for the exceptions of a deny assignment. */
bool ag_azperm_covers(const ag_azperm_set_t *set, const ag_azperm_action_t *a);
/* True when some action <a> stands for may be in <set> (exact for literal actions,
 * conservative for wildcard requests). Use for Not-lists of roles and for the denied
 * set of a deny assignment, so wildcard requests fail closed. */
bool ag_azperm_overlaps(const ag_azperm_set_t *set, const ag_azperm_action_t *a);

/* Scopes: <anc> and <s> lower-case, no trailing '/' (except the root "/"). True when
 * <anc> equals <s> or is an ancestor of it by whole segments ("/" covers everything). */
bool ag_azscope_covers(ag_str_t anc, ag_str_t s);
/* Lower-cases <scope> into <arena>, dropping one trailing '/'. AG_E_PARSE when it does
 * not start with '/' or has an empty segment. */
ag_err ag_azscope_normalize(ag_str_t scope, ag_arena_t *arena, ag_str_t *out);
/* Object ids and role ids as 128 bits: parsed once, compared and hashed as integers. */
typedef struct {
    uint64_t hi, lo;
} ag_az_guid_t;

/* Parses a GUID (8-4-4-4-12 hex digits, either case); false for anything else. */
bool ag_az_guid_parse(ag_str_t s, ag_az_guid_t *out);
static inline bool ag_az_is_guid(ag_str_t s)
{
    ag_az_guid_t g;
    return ag_az_guid_parse(s, &g);
}
static inline bool ag_az_guid_eq(ag_az_guid_t a, ag_az_guid_t b)
{
    return a.hi == b.hi && a.lo == b.lo;
}
/* For load-time tables keyed by ids from configuration (not attacker-chosen keys). */
static inline uint64_t ag_az_guid_hash(ag_az_guid_t g)
{
    uint64_t h = (g.hi ^ (g.lo * 0x9e3779b97f4a7c15ULL)) * 0xbf58476d1ce4e5b9ULL;
    return h ^ (h >> 31);
}

#endif
