/* Process-wide hook registries a module fills at start-up (control thread, before the
 * worker threads start), so reading them needs no lock: what runs on SIGHUP and what runs
 * once the drain is done. The server (server.c) runs them; a module registers its own
 * without depending on the server. At most 32 of each. Lifetime: process. */
#ifndef AG_HOOKS_H
#define AG_HOOKS_H

#include "base/err.h"

/* SIGHUP: every hook runs on the control thread, in registration order. */
typedef void (*ag_reload_fn)(void *ud);
ag_err ag_reload_register(ag_reload_fn fn, void *ud);
/* Runs the reload hooks (server.c, on SIGHUP); how many there are. */
void ag_reload_run(void);
int ag_reload_count(void);

/* Drained: every hook runs on the control thread, in registration order, while the control
 * loop still runs, before its remaining handles are closed (a module stops its timers and
 * pollers and frees what they hold, so the leak check sees a whole serve/drain cycle). */
typedef void (*ag_stop_fn)(void *ud);
ag_err ag_stop_register(ag_stop_fn fn, void *ud);
/* Runs the stop hooks (server.c, once every worker is done). */
void ag_stop_run(void);

#endif
