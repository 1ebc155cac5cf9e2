/* Local route registry (localroute.h): a small fixed table filled at start-up. */
#include "localroute.h"

static ag_localroute_t routes[AG_LOCALROUTE_MAX];
static int nroutes;

ag_err ag_localroute_add(const char *method, const char *path, size_t max_body,
                         ag_localroute_fn fn, void *ud)
{
    if (!method || !path || !fn)
        return AG_E_INVAL;
    if (nroutes >= AG_LOCALROUTE_MAX)
        return AG_E_TOO_BIG;
    routes[nroutes++] = (ag_localroute_t){method, path, max_body, fn, ud};
    return 0;
}

const ag_localroute_t *ag_localroute_find(ag_str_t method, ag_str_t path)
{
    for (int i = 0; i < nroutes; i++)
        if (ag_str_eq_lit(method, routes[i].method) && ag_str_eq_lit(path, routes[i].path))
            return &routes[i];
    return NULL;
}
