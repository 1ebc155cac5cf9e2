/* `authgate serve --config FILE [--check]`: load the configuration strictly (errors as
 * "FILE:LINE:COL: path: message", exit 2), bind, run until drained (exit 0). --check stops
 * after the configuration and the authorization policy files it names loaded. The demo
 * command lives in demo.c. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "authenticate.h"
#include "authorize.h"
#include "cmd.h"
#include "config.h"
#include "gate.h"
#include "log.h"
#include "policy.h"
#include "server.h"

/* What a configuration without authentication and authorization does, said loudly: on
 * stderr for --check, as a WARN line at start-up. NULL when requests are judged. */
static const char *gate_warning(const ag_config_t *c)
{
    if (c->authn_enabled || c->authz_enabled)
        return NULL;
    if (c->insecure_passthrough)
        return "insecure_passthrough: every request is forwarded WITHOUT authentication or "
               "authorization, with the gateway's own upstream credential: anyone who reaches "
               "the listener acts with the gateway's privileges (test setups only)";
    return "no \"authentication\" and no \"authorization\" section: every request is "
           "refused with 401 (\"insecure_passthrough\": true forwards them unauthenticated)";
}

static void usage(FILE *f)
{
    fprintf(f, "usage: authgate serve --config FILE [--check]\n"
               "Runs the gateway. SIGHUP reloads the policy and the serving certificates;\n"
               "SIGTERM drains and stops.\n"
               "\n"
               "  --config FILE   gateway configuration (JSON, see config/README.md)\n"
               "  --check         validate the configuration, certificates, keys and policy\n"
               "                  files, then exit (0 valid, 2 invalid)\n"
               "  -h, --help      this help\n"
               "\n"
               "examples:\n"
               "  authgate serve --config gateway.json\n"
               "  authgate serve --config gateway.json --check\n");
}

int ag_cmd_serve(int argc, char **argv)
{
    const char *path = NULL;
    bool check = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
        else if (strcmp(argv[i], "--check") == 0)
            check = true;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "authgate serve: unexpected argument \"%s\"\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    ag_config_t *conf = NULL;
    ag_server_t *srv = NULL;
    ag_buf_t err = AG_BUF_INIT(8192);
    int rc = 2;
    if (ag_config_load(path, &conf, &err) != 0) {
        fprintf(stderr, "%s\n", err.p ? err.p : "invalid configuration");
        goto out;
    }
    if (check) {
        /* the TLS material loads and the token file is usable */
        if (ag_server_check(conf, &err) != 0) {
            fprintf(stderr, "%s\n", err.p ? err.p : "invalid TLS material");
            goto out;
        }
        /* the policy files too, so a change can be validated before SIGHUP */
        if (conf->authz_enabled && ag_policy_check(conf, &err) != 0) {
            fprintf(stderr, "%s\n", err.p ? err.p : "invalid authorization policy");
            goto out;
        }
        if (gate_warning(conf))
            fprintf(stderr, "WARN %s\n", gate_warning(conf));
        printf("%s: ok\n", path);
        rc = 0;
        goto out;
    }
    ag_log_threshold = (ag_log_level)conf->log.level;
    ag_log_fmt = (ag_log_format)conf->log.format;
    ag_log_request_limit((int)conf->log.request_rate, (int)conf->log.request_burst);
    signal(SIGPIPE, SIG_IGN); /* a peer that went away is an EPIPE, not a process exit */
    ag_err e = ag_server_create(conf, NULL, &srv, &err);
    if (e != 0) {
        fprintf(stderr, "authgate serve: %s\n", err.p ? err.p : "cannot start");
        rc = e == AG_E_IN_USE ? 2 : 1; /* a busy address is a configuration error */
        goto out;
    }
    if (gate_warning(conf))
        ag_warn("%s", gate_warning(conf));
    if (conf->insecure_passthrough) /* the audit-only step may replace it (system:anonymous) */
        ag_gate_install(ag_gate_passthrough, NULL);
    /* authentication (issuers, keys, token cache) plugs into the gate and readiness */
    if (ag_authenticate_setup(conf, ag_server_loop(srv), &err) != 0) {
        fprintf(stderr, "authgate serve: %s\n", err.p ? err.p : "cannot start authentication");
        rc = 1;
        goto out;
    }
    /* authorization (policy, impersonation) and audit chain after authentication */
    if (ag_authorize_setup(conf, ag_server_loop(srv), &err) != 0) {
        fprintf(stderr, "authgate serve: %s\n", err.p ? err.p : "cannot start authorization");
        rc = 1;
        goto out;
    }
    rc = ag_server_run(srv);
out:
    ag_audit_shutdown(); /* after the workers stopped: flushes queued events */
    ag_server_destroy(srv);
    ag_config_destroy(conf);
    ag_buf_dispose(&err);
    return rc;
}
