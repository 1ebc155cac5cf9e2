/* `authgate serve --config FILE [--check]`: load the configuration strictly (errors as
 * "FILE:LINE:COL: path: message", exit 2), bind, run until drained (exit 0). --check stops
 * after the configuration and the authorization policy files it names loaded. The demo
 * command lives in cmd_demo.c.
 *
 * The one place the request pipeline (pipeline.h) is built: every component a request
 * meets is constructed and registered here, and the steps are added in the order they
 * run (build_pipeline). docs/ARCHITECTURE.md opens with the same table. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "authn/authenticate.h"
#include "authn/graph.h"
#include "authn/sa_lookup.h"
#include "authz/audit.h"
#include "authz/authorize.h"
#include "authz/policy.h"
#include "authz/rbacsync.h"
#include "cmd/cmd.h"
#include "config.h"
#include "http/gate.h"
#include "http/pipeline.h"
#include "review/webhook_callers.h"
#include "review/webhook_sar.h"
#include "review/webhook_tokenreview.h"
#include "runtime/admin.h"
#include "runtime/log.h"
#include "runtime/server.h"

/* What `serve` builds (lives as long as the server runs). */
typedef struct {
    ag_pipeline_t pipeline;
    ag_authenticator_t *authn; /* NULL: no "authentication" section */
    ag_graph_t *graph;         /* NULL: no "graph" section */
    ag_authorizer_t *authz;    /* NULL: neither "authorization" nor "audit" */
    /* Who may call the "webhooks" listener. */
    ag_webhook_callers_t webhook_callers;
} serve_t;

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

/* Service-account token lookups go to the upstream (the cluster's API server) with the
 * TLS material and credential forwarding uses; only when some issuer asks for them. */
static ag_err start_sa_lookup(const ag_config_t *conf, ag_server_t *srv, ag_sa_lookup_t **out,
                              ag_buf_t *errmsg)
{
    bool any = false;
    ag_err err = 0;
    for (int i = 0; i < ag_issuer_count(conf->authn.issuers); i++)
        any |= ag_issuer_at(conf->authn.issuers, i)->lookup;
    if (any &&
        (err = ag_sa_lookup_create(ag_server_loop(srv), &conf->upstream, ag_server_credential(srv),
                                   conf->authn.fetch_timeout_ms, out)) != 0)
        ag_buf_printf(errmsg, "authentication: service-account lookup: %s", ag_err_str(err));
    return err;
}

/* Authentication (issuers, keys, token cache), its Graph resolver and service-account
 * checker, its readiness checks and the TokenReview routes. */
static ag_err start_authentication(const ag_config_t *conf, ag_server_t *srv, serve_t *sv,
                                   ag_buf_t *errmsg)
{
    uv_loop_t *control = ag_server_loop(srv);
    ag_sa_lookup_t *lookup = NULL;
    ag_err err;
    if ((err = ag_authenticator_create(control, &conf->authn, &sv->authn, errmsg)) != 0)
        return err;
    if (conf->graph_enabled && (err = ag_graph_create(control, ag_authenticator_fetch(sv->authn),
                                                      &conf->graph, &sv->graph)) != 0) {
        ag_buf_printf(errmsg, "graph: cannot start: %s", ag_err_str(err));
        return err; /* the process exits; nothing to unwind on a loop that never ran */
    }
    if ((err = start_sa_lookup(conf, srv, &lookup, errmsg)) != 0)
        return err;
    ag_authenticator_attach(sv->authn, sv->graph, lookup);
    if ((err = ag_ready_register_list(ag_authenticator_report, sv->authn)) != 0 ||
        (err = ag_authenticator_follow(sv->authn, conf->file)) != 0)
        return err;
    if (conf->authn.tokenreview &&
        (err = ag_webhook_tokenreview_register(
             &sv->pipeline.routes, sv->authn, conf->authn.tokenreview_callers,
             conf->authn.ntokenreview_callers, conf->authz_enabled, NULL)) != 0)
        return err;
    ag_info("authentication: %d issuer(s), token cache %d entries, anonymous %s",
            ag_issuer_count(conf->authn.issuers), conf->authn.cache_entries,
            conf->authn.anonymous ? "on" : "off");
    return 0;
}

/* Authorization (policy, impersonation), its review routes and the audit log. */
static ag_err start_authorization(const ag_config_t *conf, ag_server_t *srv, serve_t *sv,
                                  ag_buf_t *errmsg)
{
    ag_err err;
    if (conf->authz_enabled && ((err = ag_policy_setup(conf, ag_server_loop(srv), errmsg)) != 0 ||
                                (err = ag_rbacsync_setup(conf, ag_server_loop(srv),
                                                         ag_server_credential(srv), errmsg)) != 0 ||
                                (err = ag_webhook_sar_register(&sv->pipeline.routes)) != 0))
        return err;
    if ((err = ag_audit_setup(conf, errmsg)) != 0)
        return err;
    return ag_authorizer_create(conf, &sv->authz);
}

/* The request pipeline, in the order its steps run. Without authentication every request
 * is system:anonymous to authorization; with neither authentication nor authorization
 * (nor an audit-only authorization step) only insecure_passthrough forwards, and an empty
 * pipeline refuses everything with 401. */
static ag_err build_pipeline(const ag_config_t *conf, serve_t *sv)
{
    ag_pipeline_t *p = &sv->pipeline;
    bool authorize = (conf->authz_enabled || conf->audit_enabled) &&
                     (conf->authn_enabled || conf->authz_enabled || conf->insecure_passthrough);
    ag_err err = 0;
    if (conf->authn_enabled &&
        (err = ag_pipeline_add(p, "authenticate", ag_authenticator_gate, sv->authn)) == 0)
        err = ag_pipeline_add(p, "groups", ag_authenticator_groups_gate, sv->authn);
    if (!err && authorize)
        err = ag_pipeline_add(p, "authorize", ag_authorize_gate, sv->authz);
    else if (!err && conf->insecure_passthrough && !conf->authn_enabled)
        err = ag_pipeline_add(p, "passthrough", ag_gate_passthrough, NULL);
    p->finish = conf->audit_enabled ? ag_audit_finish : NULL;
    ag_webhook_callers_init(&sv->webhook_callers, conf->webhooks.callers, conf->webhooks.ncallers);
    p->webhook_caller = ag_webhook_caller;
    p->webhook_caller_ud = &sv->webhook_callers;
    return err;
}

/* Constructs every component of the request path on <srv>'s control loop and hands the
 * pipeline to its workers. */
static ag_err start_pipeline(const ag_config_t *conf, ag_server_t *srv, serve_t *sv,
                             ag_buf_t *errmsg)
{
    ag_err err;
    if (conf->authn_enabled && (err = start_authentication(conf, srv, sv, errmsg)) != 0)
        return err;
    if ((conf->authz_enabled || conf->audit_enabled) &&
        (err = start_authorization(conf, srv, sv, errmsg)) != 0)
        return err;
    if ((err = build_pipeline(conf, sv)) != 0)
        return err;
    ag_server_set_pipeline(srv, &sv->pipeline);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: authgate serve --config FILE [--check]\n"
               "Runs the gateway. SIGHUP reloads the policy, the authentication section and\n"
               "the serving certificates;\n"
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
    serve_t sv = {0};
    ag_routes_init(&sv.pipeline.routes);
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
    if (start_pipeline(conf, srv, &sv, &err) != 0) {
        fprintf(stderr, "authgate serve: %s\n", err.p ? err.p : "cannot start the pipeline");
        rc = 1;
        goto out;
    }
    rc = ag_server_run(srv);
out:
    ag_audit_shutdown(); /* after the workers stopped: flushes queued events */
    ag_server_destroy(srv);
    ag_authorizer_destroy(sv.authz);
    ag_routes_dispose(&sv.pipeline.routes);
    ag_config_destroy(conf);
    ag_buf_dispose(&err);
    return rc;
}
