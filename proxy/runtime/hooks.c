/* The reload and stop hook registries (hooks.h). */
#include "runtime/hooks.h"

#define MAX_HOOKS 32

typedef struct {
    void (*fn)(void *ud);
    void *ud;
} hook_t;

static hook_t reload_hooks[MAX_HOOKS], stop_hooks[MAX_HOOKS];
static int nreload, nstop;

static ag_err add(hook_t *hooks, int *n, void (*fn)(void *ud), void *ud)
{
    if (*n >= MAX_HOOKS)
        return AG_E_TOO_BIG;
    hooks[(*n)++] = (hook_t){fn, ud};
    return 0;
}

ag_err ag_reload_register(ag_reload_fn fn, void *ud)
{
    return add(reload_hooks, &nreload, fn, ud);
}

ag_err ag_stop_register(ag_stop_fn fn, void *ud)
{
    return add(stop_hooks, &nstop, fn, ud);
}

void ag_reload_run(void)
{
    for (int i = 0; i < nreload; i++)
        reload_hooks[i].fn(reload_hooks[i].ud);
}

int ag_reload_count(void)
{
    return nreload;
}

void ag_stop_run(void)
{
    for (int i = 0; i < nstop; i++)
        stop_hooks[i].fn(stop_hooks[i].ud);
}
