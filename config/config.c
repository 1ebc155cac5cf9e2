/* Gateway configuration (config.h): strict parse of the top-level object and of the
 * sections the proxy owns. Adding a section: a field in ag_config_t, a parser with the
 * ag_config_section_fn signature, one line in `sections` below. Nothing here opens a
 * socket or starts a thread; file existence is checked so a typo fails at load time. */
#include "config.h"

#include "files.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ag_config_defaults(ag_config_t *c)
{
    c->listen.address = "127.0.0.1:8443";
    c->listen.backlog = 511;
    c->tls.session_tickets = true;
    c->tls.ticket_lifetime_ms = 3600 * 1000;
    c->upstream.pool_size = 64;
    c->limits.header_bytes = 32 * 1024;
    c->limits.header_count = 100;
    c->limits.url_bytes = 8 * 1024;
    c->limits.max_connections = 10000;
    c->limits.linger_bytes = 8 << 20;
    c->timeouts.header_read_ms = 10 * 1000;
    c->timeouts.idle_ms = 60 * 1000;
    c->timeouts.upstream_connect_ms = 5 * 1000;
    c->timeouts.upstream_first_byte_ms = 60 * 1000;
    c->timeouts.upstream_idle_ms = 30 * 1000;
    c->timeouts.drain_ms = 30 * 1000;
    c->timeouts.body_grace_ms = 20 * 1000;
    c->timeouts.body_min_rate = 500;
    c->timeouts.linger_ms = 30 * 1000;
    c->timeouts.linger_idle_ms = 5 * 1000;
    c->timeouts.send_ms = 60 * 1000;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    c->workers = n < 1 ? 1 : n > AG_CONFIG_MAX_WORKERS ? AG_CONFIG_MAX_WORKERS : (int)n;
    c->log.level = AG_LOG_INFO;
    c->log.request_rate = AG_LOG_REQUEST_RATE;
    c->log.request_burst = AG_LOG_REQUEST_BURST;
}

ag_err ag_config_split_address(ag_arena_t *arena, const char *addr, const char **host, int *port)
{
    ag_str_t s = ag_str_cstr(addr), h, p;
    if (s.n && s.p[0] == '[') {
        size_t close = ag_str_find_char(s, ']');
        if (close == s.n || close + 1 >= s.n || s.p[close + 1] != ':')
            return AG_E_INVAL;
        h = ag_str_sub(s, 1, close - 1);
        p = ag_str_sub(s, close + 2, s.n);
    } else {
        size_t colon = s.n;
        for (size_t i = 0; i < s.n; i++)
            if (s.p[i] == ':')
                colon = i;
        if (colon == s.n)
            return AG_E_INVAL;
        h = ag_str_sub(s, 0, colon);
        p = ag_str_sub(s, colon + 1, s.n);
        if (ag_str_find_char(h, ':') != h.n)
            return AG_E_INVAL; /* bare IPv6 needs brackets */
    }
    unsigned long long v;
    if (h.n == 0 || !ag_str_to_u64(p, &v) || v > 65535)
        return AG_E_INVAL;
    *host = ag_arena_cstr(arena, h);
    *port = (int)v;
    return *host ? 0 : AG_E_NOMEM;
}

/* The directory of the config file: relative paths in it resolve against it. */
static const char *config_dir(ag_config_t *c)
{
    const char *file = c->file ? c->file : "";
    const char *slash = strrchr(file, '/');
    return slash ? ag_arena_cstr(&c->arena, ag_str_make(file, (size_t)(slash - file))) : NULL;
}

/* A path that must name a readable file (relative: to the config file's directory). */
static ag_err file_field(ag_cfg_obj_t *o, const char *key, int required, const char **out)
{
    ag_json_ref v = AG_JSON_NONE;
    ag_err err = ag_cfg_value(o, key, AG_CFG_OPTIONAL, &v);
    if (!err)
        err = ag_cfg_file(o, key, required, out);
    if (err || !*out || o->cfg->skip_serving_files)
        return err;
    if (access(*out, R_OK) != 0)
        return ag_cfg_fail(o->cfg, v, ag_cfg_path(o, key), "cannot read file \"%s\"", *out);
    return 0;
}

static ag_err address_field(ag_cfg_obj_t *o, const char *key, int required, const char **out)
{
    ag_json_ref v = AG_JSON_NONE;
    const char *host;
    int port;
    ag_err err = ag_cfg_value(o, key, AG_CFG_OPTIONAL, &v);
    if (!err)
        err = ag_cfg_cstr(o, key, required, out);
    if (err || v == AG_JSON_NONE)
        return err;
    if (ag_config_split_address(o->cfg->arena, *out, &host, &port) != 0)
        return ag_cfg_fail(o->cfg, v, ag_cfg_path(o, key),
                           "must be \"HOST:PORT\" (IPv6 as \"[ADDR]:PORT\")");
    return 0;
}

#define MAX_TRUSTED_NETS 256 /* each connection is checked against the list: keep it short */

/* listen.proxy_protocol: {"trusted": ["CIDR", ...]}, at least one network. */
static ag_err parse_proxy_protocol(ag_cfg_t *cfg, ag_json_ref ref, const char *path,
                                   ag_config_listen_t *l)
{
    ag_cfg_obj_t o;
    ag_json_ref arr = AG_JSON_NONE;
    ag_err err;
    if ((err = ag_cfg_obj_begin(cfg, ref, path, &o)) ||
        (err = ag_cfg_value(&o, "trusted", AG_CFG_REQUIRED, &arr)) || (err = ag_cfg_obj_end(&o)))
        return err;
    const char *apath = ag_cfg_path(&o, "trusted");
    int n = ag_json_typeof(cfg->doc, arr) == AG_JSON_ARRAY ? ag_json_count(cfg->doc, arr) : -1;
    if (n < 1 || n > MAX_TRUSTED_NETS)
        return ag_cfg_fail(cfg, arr, apath, "must be an array of 1 to %d networks (\"CIDR\")",
                           MAX_TRUSTED_NETS);
    l->pp_trusted = ag_arena_calloc(cfg->arena, sizeof(ag_ipaddr_net_t) * (size_t)n);
    if (!l->pp_trusted)
        return AG_E_NOMEM;
    int i = 0;
    for (ag_json_ref e = ag_json_first(cfg->doc, arr); e != AG_JSON_NONE;
         e = ag_json_next(cfg->doc, e), i++) {
        ag_str_t s;
        const char *why = "must be a string";
        if (ag_json_str(cfg->doc, e, cfg->arena, &s) != 0 ||
            !ag_ipaddr_net_parse(s, &l->pp_trusted[i], &why))
            return ag_cfg_fail(cfg, e, ag_cfg_index_path(cfg, apath, i), "%s", why);
    }
    l->pp_ntrusted = n;
    return 0;
}

static ag_err parse_listen(ag_cfg_t *cfg, ag_json_ref ref, const char *path, ag_config_t *c)
{
    ag_cfg_obj_t o;
    ag_json_ref pp = AG_JSON_NONE;
    long long backlog = c->listen.backlog;
    ag_err err;
    if ((err = ag_cfg_obj_begin(cfg, ref, path, &o)) ||
        (err = address_field(&o, "address", AG_CFG_REQUIRED, &c->listen.address)) ||
        (err = ag_cfg_int(&o, "backlog", AG_CFG_OPTIONAL, 1, 65535, &backlog)) ||
        (err = ag_cfg_value(&o, "proxy_protocol", AG_CFG_OPTIONAL, &pp)) ||
        (pp != AG_JSON_NONE &&
         (err = parse_proxy_protocol(cfg, pp, ag_cfg_path(&o, "proxy_protocol"), &c->listen))) ||
        (err = ag_cfg_obj_end(&o)))
        return err;
    c->listen.backlog = (int)backlog;
    return 0;
}

static ag_err parse_tls(ag_cfg_t *cfg, ag_json_ref ref, const char *path, ag_config_t *c)
{
    static const char *const modes[] = {"none", "optional", "require", NULL};
    static const char *const layers[] = {"libcrypto", "mbedtls", NULL}; /* AG_TLS_RECORD_* */
    ag_config_tls_t *t = &c->tls;
    ag_cfg_obj_t o;
    ag_json_ref mode_ref = AG_JSON_NONE;
    ag_err err;
    t->client_auth = -1;
    if ((err = ag_cfg_obj_begin(cfg, ref, path, &o)) ||
        (err = file_field(&o, "cert", AG_CFG_REQUIRED, &t->cert_file)) ||
        (err = file_field(&o, "key", AG_CFG_REQUIRED, &t->key_file)) ||
        (err = file_field(&o, "client_ca", AG_CFG_OPTIONAL, &t->client_ca_file)) ||
        (err = ag_cfg_value(&o, "client_auth", AG_CFG_OPTIONAL, &mode_ref)) ||
        (err = ag_cfg_enum(&o, "client_auth", AG_CFG_OPTIONAL, modes, &t->client_auth)) ||
        (err = ag_cfg_bool(&o, "session_tickets", AG_CFG_OPTIONAL, &t->session_tickets)) ||
        (err = ag_cfg_duration_ms(&o, "session_ticket_lifetime", AG_CFG_OPTIONAL, 60 * 1000,
                                  24LL * 3600 * 1000, &t->ticket_lifetime_ms)) ||
        (err = ag_cfg_enum(&o, "record_layer", AG_CFG_OPTIONAL, layers, &t->record_layer)) ||
        (err = ag_cfg_obj_end(&o)))
        return err;
    if (t->client_auth < 0) /* default: ask for a certificate when a CA is configured */
        t->client_auth = t->client_ca_file ? AG_CLIENT_AUTH_OPTIONAL : AG_CLIENT_AUTH_NONE;
    if (t->client_auth != AG_CLIENT_AUTH_NONE && !t->client_ca_file)
        return ag_cfg_fail(cfg, mode_ref, ag_cfg_path(&o, "client_auth"),
                           "needs tls.client_ca to verify client certificates against");
    t->enabled = true;
    return 0;
}

/* "http(s)://host[:port][/]" into the upstream fields. */
static ag_err parse_url(ag_cfg_t *cfg, ag_json_ref at, const char *path, ag_config_upstream_t *u)
{
    ag_str_t s = ag_str_cstr(u->url), rest;
    if (ag_str_istarts_with(s, AG_STR("https://"))) {
        u->https = true;
        rest = ag_str_sub(s, 8, s.n);
    } else if (ag_str_istarts_with(s, AG_STR("http://"))) {
        rest = ag_str_sub(s, 7, s.n);
    } else {
        return ag_cfg_fail(cfg, at, path, "must start with http:// or https://");
    }
    size_t slash = ag_str_find_char(rest, '/');
    ag_str_t auth = ag_str_sub(rest, 0, slash), tail = ag_str_sub(rest, slash, rest.n);
    if (!(tail.n == 0 || ag_str_eq_lit(tail, "/")))
        return ag_cfg_fail(cfg, at, path, "must not have a path, query or fragment");
    for (size_t i = 0; i < auth.n; i++)
        if ((unsigned char)auth.p[i] <= ' ' || auth.p[i] == '@' || auth.p[i] >= 0x7f)
            return ag_cfg_fail(cfg, at, path, "has an invalid host");
    u->authority = ag_arena_strdup(cfg->arena, auth);
    char *with_port = ag_arena_alloc(cfg->arena, auth.n + 8);
    if (!u->authority.p || !with_port)
        return AG_E_NOMEM;
    bool has_port = auth.n && auth.p[auth.n - 1] != ']' && ag_str_find_char(auth, ':') != auth.n;
    if (auth.n && auth.p[0] == '[') {
        size_t close = ag_str_find_char(auth, ']');
        has_port = close + 1 < auth.n;
    }
    snprintf(with_port, auth.n + 8, "%.*s%s", AG_STR_FMT(auth),
             has_port   ? ""
             : u->https ? ":443"
                        : ":80");
    if (ag_config_split_address(cfg->arena, with_port, &u->host, &u->port) != 0 || u->port == 0)
        return ag_cfg_fail(cfg, at, path, "has an invalid host or port");
    return 0;
}

/* upstream.in_cluster: what client-go's rest.InClusterConfig takes from the pod: the
 * API server's address from KUBERNETES_SERVICE_HOST/_PORT, the mounted service-account
 * token (followed as it rotates) and cluster CA. */
static ag_err in_cluster(ag_cfg_t *cfg, ag_json_ref at, const char *path, ag_config_upstream_t *u)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
    const char *dir = getenv(AG_SERVICEACCOUNT_DIR_ENV);
    char tmp[512];
    unsigned long long p;
    if (!host || !*host || !port || !ag_str_to_u64(ag_str_cstr(port), &p) || p == 0 || p > 65535)
        return ag_cfg_fail(cfg, at, path,
                           "needs KUBERNETES_SERVICE_HOST and a numeric "
                           "KUBERNETES_SERVICE_PORT in the environment (set in every pod)");
    bool v6 = strchr(host, ':') != NULL; /* an IPv6 address goes in brackets */
    snprintf(tmp, sizeof tmp, "https://%s%s%s:%llu", v6 ? "[" : "", host, v6 ? "]" : "", p);
    if (!(u->url = ag_arena_cstr(cfg->arena, ag_str_cstr(tmp))))
        return AG_E_NOMEM;
    ag_err err = parse_url(cfg, at, path, u); /* "has an invalid host" names the key */
    if (err)
        return err;
    if (!dir || !*dir)
        dir = AG_SERVICEACCOUNT_DIR;
    const char *names[2] = {"token", "ca.crt"}, **outs[2] = {&u->token_file, &u->ca_file};
    for (int i = 0; i < 2; i++) {
        snprintf(tmp, sizeof tmp, "%s/%s", dir, names[i]);
        if (!(*outs[i] = ag_arena_cstr(cfg->arena, ag_str_cstr(tmp))))
            return AG_E_NOMEM;
        if (!cfg->skip_serving_files && access(tmp, R_OK) != 0)
            return ag_cfg_fail(cfg, at, path,
                               "cannot read the service-account file \"%s\" "
                               "(directory from %s, if set)",
                               tmp, AG_SERVICEACCOUNT_DIR_ENV);
    }
    if (!u->server_name)
        u->server_name = AG_IN_CLUSTER_SERVER_NAME;
    return 0;
}

static ag_err parse_upstream(ag_cfg_t *cfg, ag_json_ref ref, const char *path, ag_config_t *c)
{
    ag_config_upstream_t *u = &c->upstream;
    ag_cfg_obj_t o;
    ag_json_ref url_ref = AG_JSON_NONE, ic_ref = AG_JSON_NONE;
    long long pool = u->pool_size;
    ag_err err;
    if ((err = ag_cfg_obj_begin(cfg, ref, path, &o)) ||
        (err = ag_cfg_value(&o, "in_cluster", AG_CFG_OPTIONAL, &ic_ref)) ||
        (err = ag_cfg_bool(&o, "in_cluster", AG_CFG_OPTIONAL, &u->in_cluster)) ||
        (err = ag_cfg_value(&o, "url", AG_CFG_OPTIONAL, &url_ref)) ||
        (err =
             ag_cfg_cstr(&o, "url", u->in_cluster ? AG_CFG_OPTIONAL : AG_CFG_REQUIRED, &u->url)) ||
        (err = (u->url ? parse_url(cfg, url_ref, ag_cfg_path(&o, "url"), u) : 0)) ||
        (err = file_field(&o, "ca", AG_CFG_OPTIONAL, &u->ca_file)) ||
        (err = file_field(&o, "cert", AG_CFG_OPTIONAL, &u->cert_file)) ||
        (err = file_field(&o, "key", AG_CFG_OPTIONAL, &u->key_file)) ||
        (err = ag_cfg_cstr(&o, "server_name", AG_CFG_OPTIONAL, &u->server_name)) ||
        (err = file_field(&o, "token_file", AG_CFG_OPTIONAL, &u->token_file)) ||
        (err = ag_cfg_int(&o, "pool_size", AG_CFG_OPTIONAL, 0, 4096, &pool)) ||
        (err = ag_cfg_obj_end(&o)))
        return err;
    if (!u->cert_file != !u->key_file)
        return ag_cfg_fail(cfg, ref, path, "cert and key must be given together");
    if (u->in_cluster && (u->url || u->token_file || u->ca_file))
        return ag_cfg_fail(cfg, ic_ref, ag_cfg_path(&o, "in_cluster"),
                           "takes the URL, token and CA from the pod: remove url, token_file "
                           "and ca");
    if (u->in_cluster && (err = in_cluster(cfg, ic_ref, ag_cfg_path(&o, "in_cluster"), u)) != 0)
        return err;
    if (!u->https && (u->ca_file || u->cert_file || u->server_name))
        return ag_cfg_fail(cfg, url_ref, ag_cfg_path(&o, "url"),
                           "ca, cert, key and server_name need an https:// URL");
    u->pool_size = (int)pool;
    return 0;
}

static ag_err parse_limits(ag_cfg_t *cfg, ag_json_ref ref, const char *path, ag_config_t *c)
{
    ag_config_limits_t *l = &c->limits;
    long long hb = l->header_bytes, hc = l->header_count, ub = l->url_bytes,
              mc = l->max_connections;
    ag_cfg_obj_t o;
    ag_err err;
    if ((err = ag_cfg_obj_begin(cfg, ref, path, &o)) ||
        (err = ag_cfg_int(&o, "header_bytes", AG_CFG_OPTIONAL, 1024, 1 << 20, &hb)) ||
        (err = ag_cfg_int(&o, "header_count", AG_CFG_OPTIONAL, 8, 1000, &hc)) ||
        (err = ag_cfg_int(&o, "url_bytes", AG_CFG_OPTIONAL, 256, 1 << 20, &ub)) ||
        (err = ag_cfg_int(&o, "max_connections", AG_CFG_OPTIONAL, 1, 1000000, &mc)) ||
        (err = ag_cfg_int(&o, "linger_bytes", AG_CFG_OPTIONAL, 0, 1LL << 40, &l->linger_bytes)) ||
        (err = ag_cfg_obj_end(&o)))
        return err;
    if (ub > hb)
        return ag_cfg_fail(cfg, ref, ag_cfg_path(&o, "url_bytes"),
                           "must not exceed limits.header_bytes (%lld)", hb);
    l->header_bytes = (int)hb, l->header_count = (int)hc, l->url_bytes = (int)ub;
    l->max_connections = (int)mc;
    return 0;
}

static ag_err parse_timeouts(ag_cfg_t *cfg, ag_json_ref ref, const char *path, ag_config_t *c)
{
    ag_config_timeouts_t *t = &c->timeouts;
    const long long day = 24LL * 3600 * 1000;
    ag_cfg_obj_t o;
    ag_err err;
    if ((err = ag_cfg_obj_begin(cfg, ref, path, &o)) ||
        (err =
             ag_cfg_duration_ms(&o, "header_read", AG_CFG_OPTIONAL, 10, day, &t->header_read_ms)) ||
        (err = ag_cfg_duration_ms(&o, "idle", AG_CFG_OPTIONAL, 10, day, &t->idle_ms)) ||
        (err = ag_cfg_duration_ms(&o, "upstream_connect", AG_CFG_OPTIONAL, 10, day,
                                  &t->upstream_connect_ms)) ||
        (err = ag_cfg_duration_ms(&o, "upstream_first_byte", AG_CFG_OPTIONAL, 10, day,
                                  &t->upstream_first_byte_ms)) ||
        (err = ag_cfg_duration_ms(&o, "upstream_idle", AG_CFG_OPTIONAL, 10, day,
                                  &t->upstream_idle_ms)) ||
        (err = ag_cfg_duration_ms(&o, "drain", AG_CFG_OPTIONAL, 0, day, &t->drain_ms)) ||
        (err = ag_cfg_duration_ms(&o, "body_grace", AG_CFG_OPTIONAL, 10, day, &t->body_grace_ms)) ||
        (err = ag_cfg_int(&o, "body_min_rate", AG_CFG_OPTIONAL, 0, 1LL << 40, &t->body_min_rate)) ||
        (err = ag_cfg_duration_ms(&o, "linger", AG_CFG_OPTIONAL, 0, 3600 * 1000, &t->linger_ms)) ||
        (err = ag_cfg_duration_ms(&o, "linger_idle", AG_CFG_OPTIONAL, 10, 3600 * 1000,
                                  &t->linger_idle_ms)) ||
        (err = ag_cfg_duration_ms(&o, "send", AG_CFG_OPTIONAL, 10, day, &t->send_ms)) ||
        (err = ag_cfg_obj_end(&o)))
        return err;
    return 0;
}

static ag_err parse_admin(ag_cfg_t *cfg, ag_json_ref ref, const char *path, ag_config_t *c)
{
    ag_cfg_obj_t o;
    ag_err err;
    if ((err = ag_cfg_obj_begin(cfg, ref, path, &o)) ||
        (err = address_field(&o, "address", AG_CFG_REQUIRED, &c->admin.address)) ||
        (err = ag_cfg_obj_end(&o)))
        return err;
    return 0;
}

/* "webhooks": the listener the API server's webhook kubeconfigs point at. Its callers are
 * known only by their client certificate, so a CA to verify them against is required and
 * a handshake without a certificate fails (no bearer tokens on this listener). */
static ag_err parse_webhooks(ag_cfg_t *cfg, ag_json_ref ref, const char *path, ag_config_t *c)
{
    static const char *const modes[] = {"require", NULL};
    ag_config_webhooks_t *wh = &c->webhooks;
    ag_config_tls_t *t = &wh->tls;
    ag_cfg_obj_t o, to;
    ag_json_ref tls = AG_JSON_NONE;
    int mode = 0;
    ag_err err;
    wh->serve_on_main = true;
    if ((err = ag_cfg_obj_begin(cfg, ref, path, &o)) ||
        (err = address_field(&o, "address", AG_CFG_REQUIRED, &wh->address)) ||
        (err = ag_cfg_value(&o, "tls", AG_CFG_REQUIRED, &tls)) ||
        (err = ag_cfg_str_array(&o, "callers", AG_CFG_OPTIONAL, &wh->callers, &wh->ncallers)) ||
        (err = ag_cfg_bool(&o, "serve_on_main", AG_CFG_OPTIONAL, &wh->serve_on_main)) ||
        (err = ag_cfg_obj_begin(cfg, tls, ag_cfg_path(&o, "tls"), &to)) ||
        (err = file_field(&to, "cert", AG_CFG_REQUIRED, &t->cert_file)) ||
        (err = file_field(&to, "key", AG_CFG_REQUIRED, &t->key_file)) ||
        (err = file_field(&to, "client_ca", AG_CFG_REQUIRED, &t->client_ca_file)) ||
        (err = ag_cfg_enum(&to, "client_auth", AG_CFG_OPTIONAL, modes, &mode)) ||
        (err = ag_cfg_obj_end(&to)) || (err = ag_cfg_obj_end(&o)))
        return err;
    t->enabled = true;
    t->client_auth = AG_CLIENT_AUTH_REQUIRE;
    t->session_tickets = false; /* no resumption across listeners: see server.c */
    return 0;
}

static ag_err parse_workers(ag_cfg_t *cfg, ag_json_ref ref, const char *path, ag_config_t *c)
{
    long long n = 0;
    if (ag_json_typeof(cfg->doc, ref) != AG_JSON_NUMBER || ag_json_int(cfg->doc, ref, &n) != 0)
        return ag_cfg_fail(cfg, ref, path, "must be an integer (0 = one per core)");
    if (n < 0 || n > AG_CONFIG_MAX_WORKERS)
        return ag_cfg_fail(cfg, ref, path, "must be between 0 and %d", AG_CONFIG_MAX_WORKERS);
    if (n > 0)
        c->workers = (int)n;
    return 0;
}

static ag_err parse_log(ag_cfg_t *cfg, ag_json_ref ref, const char *path, ag_config_t *c)
{
    static const char *const levels[] = {"error", "warn", "info", "debug", NULL};
    static const char *const formats[] = {"text", "json", NULL};
    ag_cfg_obj_t o;
    ag_err err;
    if ((err = ag_cfg_obj_begin(cfg, ref, path, &o)) ||
        (err = ag_cfg_enum(&o, "level", AG_CFG_OPTIONAL, levels, &c->log.level)) ||
        (err = ag_cfg_enum(&o, "format", AG_CFG_OPTIONAL, formats, &c->log.format)) ||
        (err = ag_cfg_int(&o, "request_rate", AG_CFG_OPTIONAL, 0, 1000000, &c->log.request_rate)) ||
        (err =
             ag_cfg_int(&o, "request_burst", AG_CFG_OPTIONAL, 1, 1000000, &c->log.request_burst)) ||
        (err = ag_cfg_obj_end(&o)))
        return err;
    return 0;
}

/* "insecure_passthrough": true forwards requests without authentication or authorization
 * with the gateway's own credential. Only without both sections (parsed after them): with
 * either, requests are judged and the key would mean nothing. */
static ag_err parse_passthrough(ag_cfg_t *cfg, ag_json_ref ref, const char *path, ag_config_t *c)
{
    if (ag_json_bool(cfg->doc, ref, &c->insecure_passthrough) != 0)
        return ag_cfg_fail(cfg, ref, path, "must be true or false");
    if (c->insecure_passthrough && (c->authn_enabled || c->authz_enabled))
        return ag_cfg_fail(cfg, ref, path,
                           "only without \"authentication\" and \"authorization\": with "
                           "either, requests are authenticated or authorized");
    return 0;
}

/* "graph": Azure AD group overage resolution (core/graph/graph.c reads the section). */
static ag_err parse_graph(ag_cfg_t *cfg, ag_json_ref ref, const char *path, ag_config_t *c)
{
    ag_graph_cfg_defaults(&c->graph);
    c->graph_enabled = true;
    return ag_graph_cfg_parse(cfg, ref, path, &c->graph);
}

/* "authentication": issuers, token cache, key refresh (config/authn_config.c reads it).
 * Relative key file paths resolve against the config file's directory. */
static ag_err parse_authentication(ag_cfg_t *cfg, ag_json_ref ref, const char *path, ag_config_t *c)
{
    c->authn_enabled = true;
    return ag_authn_config_parse(cfg, ref, path, cfg->dir, &c->authn);
}

/* "authorization": policy files, chain mode, impersonation (config/authz_config.c). */
static ag_err parse_authorization(ag_cfg_t *cfg, ag_json_ref ref, const char *path, ag_config_t *c)
{
    c->authz_enabled = true;
    return ag_authz_config_parse(cfg, ref, path, cfg->dir, &c->authz);
}

/* "azure": Azure RBAC (config/azure_config.c); also enables authorization. */
static ag_err parse_azure(ag_cfg_t *cfg, ag_json_ref ref, const char *path, ag_config_t *c)
{
    c->azure_enabled = true;
    if (!c->authz_enabled)
        ag_authz_config_defaults(&c->authz);
    c->authz_enabled = true;
    return ag_azure_config_parse(cfg, ref, path, cfg->dir, &c->azure);
}

/* "audit": audit log file, rotation and level rules (config/audit_config.c). */
static ag_err parse_audit(ag_cfg_t *cfg, ag_json_ref ref, const char *path, ag_config_t *c)
{
    c->audit_enabled = true;
    return ag_audit_config_parse(cfg, ref, path, cfg->dir, &c->audit);
}

/* Top-level keys. Later sections (issuers, authorization, azure, audit) add one line. */
static const struct {
    const char *key;
    ag_config_section_fn parse;
    int required;
} sections[] = {
    {"listen", parse_listen, AG_CFG_REQUIRED},
    {"tls", parse_tls, AG_CFG_OPTIONAL},
    {"upstream", parse_upstream, AG_CFG_REQUIRED},
    {"limits", parse_limits, AG_CFG_OPTIONAL},
    {"timeouts", parse_timeouts, AG_CFG_OPTIONAL},
    {"admin", parse_admin, AG_CFG_OPTIONAL},
    {"webhooks", parse_webhooks, AG_CFG_OPTIONAL},
    {"workers", parse_workers, AG_CFG_OPTIONAL},
    {"log", parse_log, AG_CFG_OPTIONAL},
    {"graph", parse_graph, AG_CFG_OPTIONAL},
    {"authentication", parse_authentication, AG_CFG_OPTIONAL},
    {"authorization", parse_authorization, AG_CFG_OPTIONAL}, /* before "azure" */
    {"azure", parse_azure, AG_CFG_OPTIONAL},
    {"audit", parse_audit, AG_CFG_OPTIONAL},
    {"insecure_passthrough", parse_passthrough, AG_CFG_OPTIONAL}, /* after authn/authz */
};

static ag_err parse_top(ag_cfg_t *cfg, ag_config_t *c)
{
    ag_cfg_obj_t top;
    ag_err err = ag_cfg_obj_begin(cfg, ag_json_root(cfg->doc), "", &top);
    /* Unknown keys first: a misspelt section is reported as such, not as a missing one. */
    for (ag_json_ref k = err ? AG_JSON_NONE : ag_json_first(cfg->doc, top.obj); k != AG_JSON_NONE;
         k = ag_json_next(cfg->doc, k)) {
        bool known = false;
        for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
            known = known || ag_json_str_eq(cfg->doc, k, sections[i].key);
        if (!known) {
            ag_str_t name = ag_json_raw(cfg->doc, k);
            return ag_cfg_fail(cfg, k, "", "unknown key \"%.*s\"", AG_STR_FMT(name));
        }
    }
    for (size_t i = 0; !err && i < sizeof sections / sizeof sections[0]; i++) {
        ag_json_ref v = AG_JSON_NONE;
        err = ag_cfg_value(&top, sections[i].key, sections[i].required, &v);
        if (!err && v != AG_JSON_NONE)
            err = sections[i].parse(cfg, v, sections[i].key, c);
    }
    if (!err)
        err = ag_cfg_obj_end(&top);
    return err;
}

static ag_err parse_config(const char *file, ag_str_t text, bool skip_serving_files,
                           ag_config_t **out, ag_buf_t *errmsg)
{
    ag_config_t *c = calloc(1, sizeof(*c));
    ag_cfg_t cfg = {0};
    ag_err err;
    if (!c)
        return AG_E_NOMEM;
    ag_arena_init(&c->arena, 16 * 1024, 0);
    ag_config_defaults(c);
    c->file = ag_arena_cstr(&c->arena, ag_str_cstr(file));
    err = ag_cfg_init(&cfg, c->file ? c->file : file, text, &c->arena);
    cfg.skip_serving_files = skip_serving_files;
    cfg.dir = config_dir(c);
    if (err == 0)
        err = parse_top(&cfg, c);
    if (err && errmsg)
        ag_buf_append_cstr(errmsg, ag_cfg_error(&cfg) ? ag_cfg_error(&cfg) : ag_err_str(err));
    ag_cfg_dispose(&cfg);
    if (err) {
        ag_config_destroy(c);
        return err == AG_E_NOMEM ? err : AG_E_CONFIG;
    }
    *out = c;
    return 0;
}

ag_err ag_config_parse(const char *file, ag_str_t text, ag_config_t **out, ag_buf_t *errmsg)
{
    return parse_config(file, text, false, out, errmsg);
}

static ag_err load_config(const char *path, bool skip_serving_files, ag_config_t **out,
                          ag_buf_t *errmsg)
{
    ag_buf_t text = AG_BUF_INIT(AG_CONFIG_MAX_BYTES);
    ag_err err = ag_buf_read_file(&text, path);
    if (err) {
        if (errmsg && access(path, F_OK) != 0 && errno == ENOENT)
            ag_buf_printf(errmsg, "%s: no such file (the configuration file given with --config)",
                          path);
        else if (errmsg)
            ag_buf_printf(errmsg, "%s:1:1: (top level): cannot read configuration: %s", path,
                          ag_err_str(err));
        goto out;
    }
    err = parse_config(path, ag_buf_str(&text), skip_serving_files, out, errmsg);
out:
    ag_buf_dispose(&text);
    return err;
}

ag_err ag_config_load(const char *path, ag_config_t **out, ag_buf_t *errmsg)
{
    return load_config(path, false, out, errmsg);
}

ag_err ag_config_load_for_policy(const char *path, ag_config_t **out, ag_buf_t *errmsg)
{
    return load_config(path, true, out, errmsg);
}

void ag_config_destroy(ag_config_t *c)
{
    if (!c)
        return;
    ag_authn_config_dispose(&c->authn);
    ag_arena_dispose(&c->arena);
    free(c);
}
