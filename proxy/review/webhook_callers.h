/* Who may call the "webhooks" listener (config.h's ag_config_webhooks_t): an authorization
 * decision on the caller's verified client certificate, made before any route runs. The
 * caller is the certificate's CN as the username with its O values as groups (as the API
 * server's x509 authenticator does), when the CN is among webhooks.callers (none given:
 * any verified certificate). The TLS layer already refuses a handshake without a
 * certificate from webhooks.tls.client_ca; the check is repeated here so a configuration
 * slip fails closed. `authgate serve` (cmd_serve.c) builds one and hands it to the
 * listener through the pipeline (pipeline.h). Lifetime: process; read-only after start. */
#ifndef AG_WEBHOOK_CALLERS_H
#define AG_WEBHOOK_CALLERS_H

#include "authn/identity.h"
#include "base/arena.h"
#include "base/str.h"
#include "net/tls.h"

typedef struct {
    const ag_str_t *cns; /* the allowed CNs, owned by the caller (the configuration) */
    int ncns;            /* 0: any verified certificate */
} ag_webhook_callers_t;

/* Fills <wc> with the <n> allowed CNs <cns> (kept, not copied). */
void ag_webhook_callers_init(ag_webhook_callers_t *wc, const ag_str_t *cns, int n);

/* Decides <peer> (NULL: no certificate): 0 with *id set (groups in <a>); 401 without a
 * verified certificate with a CN; 403 for a CN that is not allowed; 500 when <a> is out of
 * memory. Matches ag_caller_fn (pipeline.h) with <ud> an ag_webhook_callers_t. */
int ag_webhook_caller(const void *ud, const ag_tls_peer_t *peer, ag_arena_t *a, ag_identity_t *id);

#endif
