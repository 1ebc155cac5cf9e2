/* The webhooks listener's caller allow-list (webhook_callers.h). */
#include "review/webhook_callers.h"

void ag_webhook_callers_init(ag_webhook_callers_t *wc, const ag_str_t *cns, int n)
{
    *wc = (ag_webhook_callers_t){.cns = cns, .ncns = n};
}

static bool listed(const ag_webhook_callers_t *wc, ag_str_t cn)
{
    if (wc->ncns == 0)
        return true;
    for (int i = 0; i < wc->ncns; i++)
        if (ag_str_eq(wc->cns[i], cn))
            return true;
    return false;
}

int ag_webhook_caller(const void *ud, const ag_tls_peer_t *peer, ag_arena_t *a, ag_identity_t *id)
{
    const ag_webhook_callers_t *wc = ud;
    if (!wc || !peer || !peer->verified || !peer->cn[0])
        return 401;
    ag_str_t cn = ag_str_cstr(peer->cn);
    if (!listed(wc, cn))
        return 403;
    ag_str_t *groups = ag_arena_alloc(a, sizeof(ag_str_t) * (size_t)(peer->norgs + 1));
    if (!groups)
        return 500;
    for (int i = 0; i < peer->norgs; i++)
        groups[i] = ag_str_cstr(peer->orgs[i]);
    groups[peer->norgs] = AG_STR("system:authenticated");
    *id = (ag_identity_t){.username = cn, .groups = groups, .ngroups = peer->norgs + 1};
    return 0;
}
