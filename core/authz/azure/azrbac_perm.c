/* Azure permission-string and scope matching (azrbac_perm.h). Compiles pattern lists at load
 * and answers "does this set grant/touch this action" per request without allocating.
 * Matching is ASCII case-insensitive because Azure says permission strings and resource
 * names are; both sides are lower-cased once (patterns at load, the action per request). */
#include "authz/azure/azrbac_perm.h"

#include <stdint.h>
#include <string.h>

static bool has_star(ag_str_t s)
{
    return ag_str_find_char(s, '*') < s.n;
}

static ag_str_t lower_copy(ag_arena_t *arena, ag_str_t s)
{
    ag_str_t c = ag_arena_strdup(arena, s);
    if (c.p)
        for (size_t i = 0; i < c.n; i++)
            ((char *)c.p)[i] = ag_ascii_lower(c.p[i]);
    return c;
}

/* Hash of a lower-cased action, 8 bytes per multiply (FNV's byte-wise chain costs more
 * than the rest of a decision). Keys come from configuration, not from attackers. */
static unsigned long long action_hash(ag_str_t s)
{
    unsigned long long h = 0x9e3779b97f4a7c15ULL ^ s.n;
    size_t i = 0;
    for (; i + 8 <= s.n; i += 8) {
        unsigned long long w;
        memcpy(&w, s.p + i, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 29;
    }
    unsigned long long tail = 0;
    memcpy(&tail, s.p + i, s.n - i);
    h = (h ^ tail) * 0x94d049bb133111ebULL;
    return h ^ (h >> 32);
}

static unsigned table_size_for(int n)
{
    unsigned size = 4;
    while (size < (unsigned)n * 2u)
        size <<= 1;
    return size;
}

/* Fills the open-addressing table over the exact strings (duplicates are harmless). */
static void build_table(int *table, unsigned mask, const unsigned long long *hashes, int n)
{
    for (unsigned i = 0; i <= mask; i++)
        table[i] = -1;
    for (int i = 0; i < n; i++) {
        unsigned slot = (unsigned)hashes[i] & mask;
        while (table[slot] >= 0)
            slot = (slot + 1) & mask;
        table[slot] = i;
    }
}

ag_err ag_azperm_set_compile(ag_azperm_set_t *set, const ag_str_t *patterns, int n,
                             ag_arena_t *arena)
{
    memset(set, 0, sizeof *set);
    if (n <= 0)
        return 0;
    ag_str_t *exact = ag_arena_alloc(arena, sizeof *exact * (size_t)n);
    ag_str_t *globs = ag_arena_alloc(arena, sizeof *globs * (size_t)n);
    unsigned long long *hashes = ag_arena_alloc(arena, sizeof *hashes * (size_t)n);
    if (!exact || !globs || !hashes)
        return AG_E_NOMEM;
    for (int i = 0; i < n; i++) {
        if (patterns[i].n == 0)
            return AG_E_INVAL;
        ag_str_t lc = lower_copy(arena, patterns[i]);
        if (!lc.p)
            return AG_E_NOMEM;
        if (has_star(lc)) {
            globs[set->nglobs++] = lc;
        } else {
            hashes[set->nexact] = action_hash(lc);
            exact[set->nexact++] = lc;
        }
    }
    if (set->nexact > 0) {
        unsigned size = table_size_for(set->nexact);
        int *table = ag_arena_alloc(arena, sizeof *table * size);
        if (!table)
            return AG_E_NOMEM;
        build_table(table, size - 1, hashes, set->nexact);
        set->table = table;
        set->table_mask = size - 1;
    }
    set->exact = exact;
    set->hashes = hashes;
    set->globs = globs;
    return 0;
}

ag_err ag_azperm_action_init(ag_azperm_action_t *out, ag_str_t action, char *buf, size_t cap)
{
    if (action.n >= cap)
        return AG_E_TOO_BIG;
    for (size_t i = 0; i < action.n; i++)
        buf[i] = ag_ascii_lower(action.p[i]);
    buf[action.n] = '\0';
    out->lc = ag_str_make(buf, action.n);
    out->hash = action_hash(out->lc);
    out->has_star = has_star(out->lc);
    return 0;
}

bool ag_azperm_glob(ag_str_t pattern, ag_str_t s)
{
    size_t pi = 0, si = 0, star = SIZE_MAX, mark = 0;
    while (si < s.n) {
        if (pi < pattern.n && pattern.p[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (pi < pattern.n && pattern.p[pi] == s.p[si]) {
            pi++;
            si++;
        } else if (star != SIZE_MAX) {
            pi = star + 1; /* let the last '*' absorb one more byte and retry */
            si = ++mark;
        } else {
            return false;
        }
    }
    while (pi < pattern.n && pattern.p[pi] == '*')
        pi++;
    return pi == pattern.n;
}

static bool exact_has(const ag_azperm_set_t *set, const ag_azperm_action_t *a)
{
    if (set->nexact == 0)
        return false;
    unsigned slot = (unsigned)a->hash & set->table_mask;
    for (int idx; (idx = set->table[slot]) >= 0; slot = (slot + 1) & set->table_mask)
        if (set->hashes[idx] == a->hash && ag_str_eq(set->exact[idx], a->lc))
            return true;
    return false;
}

bool ag_azperm_covers(const ag_azperm_set_t *set, const ag_azperm_action_t *a)
{
    if (exact_has(set, a))
        return true;
    /* A '*' in a wildcard request is a literal byte here, and pattern literals never
     * contain '*', so a match means a pattern '*' absorbs it: every expansion matches. */
    for (int i = 0; i < set->nglobs; i++)
        if (ag_azperm_glob(set->globs[i], a->lc))
            return true;
    return false;
}

/* Whether two globs can match a common string, judged by their literal heads (before
 * the first '*') and tails (after the last '*'). Exact for one '*' each, and errs towards
 * "yes" otherwise, which is the fail-closed direction for every caller. */
static bool globs_may_meet(ag_str_t x, ag_str_t y)
{
    size_t hx = ag_str_find_char(x, '*'), hy = ag_str_find_char(y, '*');
    size_t h = hx < hy ? hx : hy;
    if (memcmp(x.p, y.p, h) != 0)
        return false;
    size_t tx = x.n - 1 - (size_t)((const char *)memrchr(x.p, '*', x.n) - x.p);
    size_t ty = y.n - 1 - (size_t)((const char *)memrchr(y.p, '*', y.n) - y.p);
    size_t t = tx < ty ? tx : ty;
    return memcmp(x.p + x.n - t, y.p + y.n - t, t) == 0;
}

bool ag_azperm_overlaps(const ag_azperm_set_t *set, const ag_azperm_action_t *a)
{
    if (!a->has_star)
        return ag_azperm_covers(set, a);
    for (int i = 0; i < set->nexact; i++)
        if (ag_azperm_glob(a->lc, set->exact[i]))
            return true;
    for (int i = 0; i < set->nglobs; i++)
        if (globs_may_meet(set->globs[i], a->lc))
            return true;
    return false;
}

bool ag_azscope_covers(ag_str_t anc, ag_str_t s)
{
    if (anc.n == 1 && anc.p[0] == '/')
        return s.n > 0 && s.p[0] == '/';
    if (!ag_str_starts_with(s, anc))
        return false;
    /* whole segments: /resourceGroups/rg1 is no ancestor of /resourceGroups/rg10 */
    return s.n == anc.n || s.p[anc.n] == '/';
}

ag_err ag_azscope_normalize(ag_str_t scope, ag_arena_t *arena, ag_str_t *out)
{
    if (scope.n == 0 || scope.p[0] != '/')
        return AG_E_PARSE;
    if (scope.n > 1 && scope.p[scope.n - 1] == '/')
        scope.n--;
    for (size_t i = 1; i < scope.n; i++)
        if (scope.p[i] == '/' && scope.p[i - 1] == '/')
            return AG_E_PARSE;
    *out = lower_copy(arena, scope);
    return out->p ? 0 : AG_E_NOMEM;
}

/* hex digit value + 1; 0 for any other byte (GUIDs are parsed per principal per request) */
static const unsigned char hexv[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};
/* offsets of the 32 hex digits in 8-4-4-4-12 */
static const unsigned char digit_at[32] = {0,  1,  2,  3,  4,  5,  6,  7,  9,  10, 11,
                                           12, 14, 15, 16, 17, 19, 20, 21, 22, 24, 25,
                                           26, 27, 28, 29, 30, 31, 32, 33, 34, 35};

bool ag_az_guid_parse(ag_str_t s, ag_az_guid_t *out)
{
    if (s.n != 36 || s.p[8] != '-' || s.p[13] != '-' || s.p[18] != '-' || s.p[23] != '-')
        return false;
    const unsigned char *p = (const unsigned char *)s.p;
    uint64_t hi = 0, lo = 0;
    unsigned ok = 1;
    for (int i = 0; i < 16; i++) {
        unsigned v = hexv[p[digit_at[i]]];
        ok &= v != 0;
        hi = hi << 4 | ((v - 1) & 15);
    }
    for (int i = 16; i < 32; i++) {
        unsigned v = hexv[p[digit_at[i]]];
        ok &= v != 0;
        lo = lo << 4 | ((v - 1) & 15);
    }
    out->hi = hi;
    out->lo = lo;
    return ok;
}
