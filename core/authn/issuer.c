/* Issuer configuration (issuer.h): one strict reader per config element, key files
 * loaded at parse time, the Azure AD preset expanded into its v1 and v2 issuers. All
 * strings are copied into the set's own arena so the set outlives the config text.
 * Never fetches anything: remote keys are the proxy's job. */
#include "authn/issuer.h"

#include <stdlib.h>

#define MAX_ISSUERS 64

struct ag_issuer_set {
    ag_arena_t arena;
    int n;
    long long max_token;
    ag_issuer_t *items[MAX_ISSUERS];
};

typedef struct {
    ag_cfg_t *cfg;
    ag_issuer_set_t *set;
    const char *dir;
    ag_read_file_fn read; /* reads a key file: core does no file I/O */
} pctx;

/* ---- accessors -------------------------------------------------------------------- */

int ag_issuer_count(const ag_issuer_set_t *s)
{
    return s ? s->n : 0;
}
const ag_issuer_t *ag_issuer_at(const ag_issuer_set_t *s, int i)
{
    return s && i >= 0 && i < s->n ? s->items[i] : NULL;
}
long long ag_issuer_set_max_token(const ag_issuer_set_t *s)
{
    return s ? s->max_token : 0;
}
ag_str_t ag_issuer_url(const ag_issuer_t *i)
{
    return i->url;
}
bool ag_issuer_uses_discovery(const ag_issuer_t *i)
{
    return i->discovery_url.n > 0;
}
ag_str_t ag_issuer_discovery_url(const ag_issuer_t *i)
{
    return i->discovery_url;
}
ag_str_t ag_issuer_jwks_uri(const ag_issuer_t *i)
{
    return i->jwks_uri;
}
bool ag_issuer_keys_remote(const ag_issuer_t *i)
{
    return !i->static_keys;
}
const ag_jwks_t *ag_issuer_static_keys(const ag_issuer_t *i)
{
    return i->static_keys;
}
ag_issuer_type ag_issuer_type_of(const ag_issuer_t *i)
{
    return i->type;
}

const ag_issuer_t *ag_issuer_find(const ag_issuer_set_t *s, ag_str_t iss)
{
    for (int i = 0; s && i < s->n; i++)
        if (ag_str_eq(s->items[i]->url, iss)) /* exact: no case or slash folding */
            return s->items[i];
    return NULL;
}

void ag_issuer_set_free(ag_issuer_set_t *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n; i++)
        ag_jwks_unref(s->items[i]->static_keys);
    ag_arena_dispose(&s->arena);
    free(s);
}

/* ---- helpers ---------------------------------------------------------------------- */

static ag_str_t dup(pctx *c, ag_str_t s)
{
    ag_str_t d = ag_arena_strdup(&c->set->arena, s);
    return d.p ? d : AG_STR("");
}

static ag_str_t concat(pctx *c, ag_str_t a, const char *b)
{
    ag_buf_t t = AG_BUF_INIT(8192);
    ag_str_t out = AG_STR("");
    if (ag_buf_append_str(&t, a) == 0 && ag_buf_append_cstr(&t, b) == 0)
        out = dup(c, ag_buf_str(&t));
    ag_buf_dispose(&t);
    return out;
}

/* Remote URLs must be https, except on loopback (test fixtures). */
static bool url_ok(ag_str_t u)
{
    static const char *const loop[] = {"http://127.0.0.1", "http://localhost", "http://[::1]"};
    if (ag_str_starts_with(u, AG_STR("https://")) && u.n > 8)
        return true;
    for (size_t i = 0; i < sizeof loop / sizeof loop[0]; i++) {
        ag_str_t l = ag_str_cstr(loop[i]);
        if (ag_str_starts_with(u, l) && (u.n == l.n || u.p[l.n] == ':' || u.p[l.n] == '/'))
            return true;
    }
    return false;
}

static bool is_guid(ag_str_t s)
{
    if (s.n != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        char ch = s.p[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? ch != '-'
                 : !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
                     (ch >= 'A' && ch <= 'F')))
            return false;
    }
    return true;
}

/* Extra keys: lower case (to survive an impersonation round trip) and never in the
 * kubernetes.io / k8s.io namespaces the API server reserves for itself. */
static const char *extra_key_problem(ag_str_t k)
{
    ag_str_t domain;
    if (k.n == 0 || k.n > 253)
        return "must be 1..253 characters";
    for (size_t i = 0; i < k.n; i++) {
        char ch = k.p[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
              ch == '_' || ch == '/'))
            return "must be lower case letters, digits, '-', '.', '_' or '/'";
    }
    (void)ag_str_split(k, '/', &domain);
    static const ag_str_t res[] = {AG_STR("kubernetes.io"), AG_STR("k8s.io")};
    for (int i = 0; i < 2; i++) {
        bool sub = domain.n > res[i].n && domain.p[domain.n - res[i].n - 1] == '.' &&
                   ag_str_eq(ag_str_sub(domain, domain.n - res[i].n, res[i].n), res[i]);
        if (ag_str_eq(domain, res[i]) || sub)
            return "uses a reserved domain (kubernetes.io, k8s.io)";
    }
    return NULL;
}

static ag_err read_file(pctx *c, ag_json_ref at, const char *path, ag_str_t file, ag_buf_t *out)
{
    ag_buf_t full = AG_BUF_INIT(4096);
    ag_err err;
    if (file.n && file.p[0] != '/' && c->dir && *c->dir)
        err = ag_buf_printf(&full, "%s/%.*s", c->dir, AG_STR_FMT(file));
    else
        err = ag_buf_append_str(&full, file);
    if (!err && (err = c->read ? c->read(out, full.p) : AG_E_IO) != 0)
        err = ag_cfg_fail(c->cfg, at, path, "cannot read %s: %s", full.p, ag_err_str(err));
    ag_buf_dispose(&full);
    return err;
}

/* ---- discovery -------------------------------------------------------------------- */

ag_err ag_issuer_parse_discovery(const ag_issuer_t *i, ag_str_t json, ag_arena_t *arena,
                                 ag_str_t *jwks_uri)
{
    ag_json_t doc;
    ag_json_limits_t lim = {32, 1 << 16};
    ag_str_t iss, uri;
    ag_err err = ag_json_parse(&doc, json, &lim, arena, NULL);
    if (err)
        return err == AG_E_NOMEM ? err : AG_E_PARSE;
    ag_json_ref root = ag_json_root(&doc);
    if (ag_json_str(&doc, ag_json_get(&doc, root, "issuer"), arena, &iss) ||
        ag_json_str(&doc, ag_json_get(&doc, root, "jwks_uri"), arena, &uri))
        return AG_E_PARSE;
    if (!ag_str_eq(iss, i->url) || !url_ok(uri))
        return AG_E_INVAL;
    *jwks_uri = ag_arena_strdup(arena, uri);
    return jwks_uri->p ? 0 : AG_E_NOMEM;
}

/* ---- keys ------------------------------------------------------------------------- */

static ag_err parse_keys(pctx *c, ag_json_ref ref, const char *path, ag_issuer_t *is)
{
    ag_cfg_obj_t o;
    bool disc = false;
    ag_str_t uri = AG_STR_NULL, jwks_file = AG_STR_NULL, pem_file = AG_STR_NULL;
    ag_json_ref inl = AG_JSON_NONE;
    ag_err err;

    if ((err = ag_cfg_obj_begin(c->cfg, ref, path, &o)) ||
        (err = ag_cfg_bool(&o, "discovery", AG_CFG_OPTIONAL, &disc)) ||
        (err = ag_cfg_str(&o, "jwks_uri", AG_CFG_OPTIONAL, &uri)) ||
        (err = ag_cfg_str(&o, "jwks_file", AG_CFG_OPTIONAL, &jwks_file)) ||
        (err = ag_cfg_str(&o, "pem_file", AG_CFG_OPTIONAL, &pem_file)) ||
        (err = ag_cfg_value(&o, "jwks", AG_CFG_OPTIONAL, &inl)) || (err = ag_cfg_obj_end(&o)))
        return err;
    int sources = disc + (uri.p != NULL) + (jwks_file.p != NULL) + (pem_file.p != NULL) +
                  (inl != AG_JSON_NONE);
    if (sources != 1)
        return ag_cfg_fail(c->cfg, ref, path,
                           "exactly one of discovery, jwks_uri, jwks_file, pem_file, jwks");
    if (disc) {
        if (!url_ok(is->url))
            return ag_cfg_fail(c->cfg, ref, path, "discovery needs an https issuer URL");
        ag_str_t base = is->url;
        if (base.n && base.p[base.n - 1] == '/')
            base.n--; /* OpenID Connect Discovery §4 */
        is->discovery_url = concat(c, base, "/.well-known/openid-configuration");
        return 0;
    }
    if (uri.p) {
        if (!url_ok(uri))
            return ag_cfg_fail(c->cfg, ref, path, "jwks_uri must be an https URL");
        is->jwks_uri = dup(c, uri);
        return 0;
    }
    if (inl == AG_JSON_NONE && c->cfg->skip_serving_files)
        return 0; /* a tool that verifies no token (cfg.h) */
    ag_buf_t text = AG_BUF_INIT(1u << 20);
    ag_str_t doc = inl != AG_JSON_NONE ? ag_json_raw(c->cfg->doc, inl) : AG_STR_NULL;
    if (inl == AG_JSON_NONE &&
        (err = read_file(c, ref, path, jwks_file.p ? jwks_file : pem_file, &text)))
        goto out;
    if (inl == AG_JSON_NONE)
        doc = ag_buf_str(&text);
    if (ag_json_typeof(c->cfg->doc, inl) != AG_JSON_OBJECT && inl != AG_JSON_NONE)
        err = ag_cfg_fail(c->cfg, inl, path, "jwks must be an object");
    else if ((err = pem_file.p ? ag_jwks_from_pem(doc, &is->static_keys)
                               : ag_jwks_parse(doc, &is->static_keys)) != 0)
        err = ag_cfg_fail(c->cfg, ref, path, "no usable keys in %s: %s",
                          pem_file.p ? "PEM file" : "JWKS", ag_err_str(err));
out:
    ag_buf_dispose(&text);
    return err;
}

/* ---- claims ----------------------------------------------------------------------- */

/* Object of string to string at <ref> -> kv[i][0..1] (set arena); <what> names values. */
static ag_err str_map(pctx *c, ag_json_ref ref, const char *path, int max, const char *what,
                      ag_str_t (**kv)[2], int *n)
{
    const ag_json_t *d = c->cfg->doc;
    int i = 0;
    if (ag_json_typeof(d, ref) != AG_JSON_OBJECT)
        return ag_cfg_fail(c->cfg, ref, path, "must be an object of %s", what);
    if ((*n = ag_json_count(d, ref)) > max)
        return ag_cfg_fail(c->cfg, ref, path, "at most %d entries", max);
    if (!(*kv = ag_arena_calloc(&c->set->arena, sizeof(**kv) * (size_t)(*n + 1))))
        return AG_E_NOMEM;
    for (ag_json_ref k = ag_json_first(d, ref); k != AG_JSON_NONE; k = ag_json_next(d, k), i++) {
        ag_str_t key, val;
        if (ag_json_str(d, k, c->cfg->arena, &key) ||
            ag_json_str(d, ag_json_value(k), c->cfg->arena, &val))
            return ag_cfg_fail(c->cfg, ag_json_value(k), path, "values must be strings");
        (*kv)[i][0] = dup(c, key);
        (*kv)[i][1] = dup(c, val);
    }
    return 0;
}

static ag_err parse_extra(pctx *c, ag_json_ref ref, const char *path, ag_issuer_t *is)
{
    ag_str_t(*kv)[2];
    int n;
    ag_err err = str_map(c, ref, path, AG_ISSUER_MAX_EXTRA, "extra key to claim name", &kv, &n);
    ag_issuer_extra_t *ex =
        err ? NULL : ag_arena_calloc(&c->set->arena, sizeof(*ex) * (size_t)(n + 1));
    if (err || !ex)
        return err ? err : AG_E_NOMEM;
    for (int i = 0; i < n; i++) {
        const char *why = extra_key_problem(kv[i][0]);
        if (why)
            return ag_cfg_fail(c->cfg, ref, path, "extra key \"%s\" %s", kv[i][0].p, why);
        if (kv[i][1].n == 0)
            return ag_cfg_fail(c->cfg, ref, path, "claim names must not be empty");
        ex[i] = (ag_issuer_extra_t){kv[i][0], kv[i][1]};
    }
    is->extra = ex;
    is->nextra = n;
    return 0;
}

static ag_err parse_claims(pctx *c, ag_json_ref ref, const char *path, ag_issuer_t *is)
{
    ag_cfg_obj_t o;
    ag_str_t user = AG_STR("sub"), uprefix = AG_STR_NULL, groups = AG_STR_NULL,
             gprefix = AG_STR_NULL, uid = AG_STR_NULL;
    ag_json_ref extra = AG_JSON_NONE;
    ag_err err;

    if (ref != AG_JSON_NONE &&
        ((err = ag_cfg_obj_begin(c->cfg, ref, path, &o)) ||
         (err = ag_cfg_str(&o, "username", AG_CFG_OPTIONAL, &user)) ||
         (err = ag_cfg_str(&o, "username_prefix", AG_CFG_OPTIONAL, &uprefix)) ||
         (err = ag_cfg_str(&o, "groups", AG_CFG_OPTIONAL, &groups)) ||
         (err = ag_cfg_str(&o, "groups_prefix", AG_CFG_OPTIONAL, &gprefix)) ||
         (err = ag_cfg_str(&o, "uid", AG_CFG_OPTIONAL, &uid)) ||
         (err = ag_cfg_value(&o, "extra", AG_CFG_OPTIONAL, &extra)) || (err = ag_cfg_obj_end(&o))))
        return err;
    if (user.n == 0)
        return ag_cfg_fail(c->cfg, ref, path, "username claim must not be empty");
    is->username_claim = dup(c, user);
    /* As kube-apiserver's --oidc-username-prefix: unset means "<issuer>#" unless the
     * claim is email; "-" means no prefix. */
    if (!uprefix.p)
        is->username_prefix = ag_str_eq_lit(user, "email") ? AG_STR("") : concat(c, is->url, "#");
    else
        is->username_prefix = ag_str_eq_lit(uprefix, "-") ? AG_STR("") : dup(c, uprefix);
    /* a prefix exists to keep IdP names out of system: (threat model #6) */
    if (ag_str_starts_with(is->username_prefix, AG_STR("system:")) ||
        (gprefix.p && ag_str_starts_with(gprefix, AG_STR("system:"))))
        return ag_cfg_fail(c->cfg, ref, path, "prefixes must not start with \"system:\"");
    is->groups_claim = groups.p ? dup(c, groups) : AG_STR("");
    is->groups_prefix = gprefix.p && !ag_str_eq_lit(gprefix, "-") ? dup(c, gprefix) : AG_STR("");
    is->uid_claim = uid.p ? dup(c, uid) : AG_STR("");
    if (extra != AG_JSON_NONE)
        return parse_extra(c, extra, ag_cfg_path(&o, "extra"), is);
    return 0;
}

static ag_err parse_required(pctx *c, ag_json_ref ref, const char *path, ag_issuer_t *is)
{
    ag_str_t(*kv)[2];
    int n;
    if (ref == AG_JSON_NONE)
        return 0;
    ag_err err = str_map(c, ref, path, AG_ISSUER_MAX_REQUIRED, "claim to value", &kv, &n);
    ag_issuer_required_t *rq =
        err ? NULL : ag_arena_calloc(&c->set->arena, sizeof(*rq) * (size_t)(n + 1));
    if (err || !rq)
        return err ? err : AG_E_NOMEM;
    for (int i = 0; i < n; i++)
        rq[i] = (ag_issuer_required_t){kv[i][0], kv[i][1]};
    is->required = rq;
    is->nrequired = n;
    return 0;
}

/* ---- issuers ---------------------------------------------------------------------- */

static ag_err add_issuer(pctx *c, ag_json_ref at, const char *path, ag_issuer_t *is)
{
    if (c->set->n == MAX_ISSUERS)
        return ag_cfg_fail(c->cfg, at, path, "at most %d issuers", MAX_ISSUERS);
    if (ag_issuer_find(c->set, is->url))
        return ag_cfg_fail(c->cfg, at, path, "issuer %.*s is configured twice",
                           AG_STR_FMT(is->url));
    if (is->max_token_bytes > c->set->max_token)
        c->set->max_token = is->max_token_bytes;
    c->set->items[c->set->n++] = is;
    return 0;
}

/* The Azure AD preset: the v1 issuer from the parsed template, and a v2 twin. */
static ag_err add_azure(pctx *c, ag_json_ref at, const char *path, ag_issuer_t *v1, bool own_keys)
{
    ag_issuer_t *v2 = ag_arena_alloc(&c->set->arena, sizeof(*v2));
    ag_str_t tid = v1->tenant_id;
    ag_str_t login = concat(c, AG_STR("https://login.microsoftonline.com/"), tid.p);
    ag_err err;
    if (!v2)
        return AG_E_NOMEM;
    *v2 = *v1;
    v1->url = concat(c, concat(c, AG_STR("https://sts.windows.net/"), tid.p), "/");
    v2->url = concat(c, login, "/v2.0");
    if (!own_keys) { /* discovery, each version against its own metadata (§10.2) */
        v1->discovery_url = concat(c, login, "/.well-known/openid-configuration");
        v2->discovery_url = concat(c, login, "/v2.0/.well-known/openid-configuration");
    }
    if (v2->static_keys)
        ag_jwks_ref(v2->static_keys);
    if ((err = add_issuer(c, at, path, v1)) != 0) {
        ag_jwks_unref(v2->static_keys);
        return err;
    }
    return add_issuer(c, at, path, v2);
}

/* "algorithms": names from the JWS allow-list (jwks.h) into a bit set. */
static ag_err parse_algs(pctx *c, ag_cfg_obj_t *o, ag_issuer_t *is)
{
    ag_str_t *names = NULL;
    int n = 0;
    ag_err err = ag_cfg_str_array(o, "algorithms", AG_CFG_OPTIONAL, &names, &n);
    if (err || !names)
        return err;
    is->algorithms = 0;
    for (int i = 0; i < n; i++) {
        ag_jwt_alg a = ag_jwt_alg_parse(names[i]);
        if (a == AG_JWT_ALG_UNKNOWN) /* none and HMAC are never allowed (alg confusion) */
            return ag_cfg_fail(
                c->cfg, o->obj, ag_cfg_path(o, "algorithms"),
                "unsupported algorithm \"%.*s\" (RS256..512, PS256..512, ES256..512)",
                AG_STR_FMT(names[i]));
        is->algorithms |= 1u << a;
    }
    if (!is->algorithms)
        return ag_cfg_fail(c->cfg, o->obj, ag_cfg_path(o, "algorithms"), "must not be empty");
    return 0;
}

static ag_err parse_one(pctx *c, ag_json_ref ref, const char *path)
{
    static const char *const types[] = {"oidc", "azure_ad", "kubernetes_serviceaccount", NULL};
    ag_cfg_obj_t o;
    int type = AG_ISSUER_OIDC;
    ag_str_t url = AG_STR_NULL, tid = AG_STR_NULL, *auds = NULL;
    int naud = 0;
    ag_json_ref keys = AG_JSON_NONE, claims = AG_JSON_NONE, req = AG_JSON_NONE;
    long long leeway_ms = AG_ISSUER_DEFAULT_LEEWAY_S * 1000, max_tok = AG_ISSUER_DEFAULT_MAX_TOKEN;
    bool lookup = true; /* the upstream is the API server that alone knows revocations */
    bool optional = false;
    long long lookup_ttl_ms = AG_ISSUER_DEFAULT_LOOKUP_TTL_MS;
    ag_issuer_t *is = ag_arena_calloc(&c->set->arena, sizeof(*is));
    ag_err err;

    if (!is)
        return AG_E_NOMEM;
    if ((err = ag_cfg_obj_begin(c->cfg, ref, path, &o)) ||
        (err = ag_cfg_enum(&o, "type", AG_CFG_OPTIONAL, types, &type)) ||
        (err = ag_cfg_str(&o, type == AG_ISSUER_AZURE_AD ? "tenant_id" : "issuer", AG_CFG_REQUIRED,
                          type == AG_ISSUER_AZURE_AD ? &tid : &url)) ||
        (err = ag_cfg_str_array(&o, "audiences", type == AG_ISSUER_OIDC, &auds, &naud)) ||
        (err = ag_cfg_value(&o, "keys", type != AG_ISSUER_AZURE_AD, &keys)) ||
        (type == AG_ISSUER_OIDC && (err = ag_cfg_value(&o, "claims", AG_CFG_OPTIONAL, &claims))) ||
        (err = ag_cfg_value(&o, "required_claims", AG_CFG_OPTIONAL, &req)) ||
        (err = ag_cfg_duration_ms(&o, "clock_leeway", AG_CFG_OPTIONAL, 0, 600000, &leeway_ms)) ||
        (err = ag_cfg_int(&o, "max_token_bytes", AG_CFG_OPTIONAL, 1024, AG_ISSUER_MAX_TOKEN,
                          &max_tok)) ||
        (err = ag_cfg_bool(&o, "optional", AG_CFG_OPTIONAL, &optional)) ||
        (type == AG_ISSUER_KUBERNETES_SA &&
         ((err = ag_cfg_bool(&o, "lookup", AG_CFG_OPTIONAL, &lookup)) ||
          (err = ag_cfg_duration_ms(&o, "lookup_ttl", AG_CFG_OPTIONAL, 1000, 3600 * 1000,
                                    &lookup_ttl_ms)))))
        return err;
    is->lookup = type == AG_ISSUER_KUBERNETES_SA && lookup;
    is->lookup_ttl_ms = lookup_ttl_ms;
    is->optional = optional;
    is->algorithms = ~0u; /* default: the key decides (Entra ID deployments may pin RS256) */
    if ((err = parse_algs(c, &o, is)) || (err = ag_cfg_obj_end(&o)))
        return err;
    is->type = (ag_issuer_type)type;
    is->leeway_s = leeway_ms / 1000;
    is->max_token_bytes = max_tok;
    if (type == AG_ISSUER_AZURE_AD) {
        if (!is_guid(tid)) /* also keeps it safe to splice into URLs */
            return ag_cfg_fail(c->cfg, ref, ag_cfg_path(&o, "tenant_id"), "must be a GUID");
        is->tenant_id = dup(c, tid);
        is->url = concat(c, AG_STR("https://login.microsoftonline.com/"),
                         is->tenant_id.p); /* for discovery check */
        if (naud == 0) {
            static const ag_str_t aks = AG_STR(AG_AZURE_AKS_SERVER_APP);
            auds = (ag_str_t *)&aks, naud = 1;
        }
    } else {
        if (url.n == 0)
            return ag_cfg_fail(c->cfg, ref, ag_cfg_path(&o, "issuer"), "must not be empty");
        is->url = dup(c, url);
        is->legacy_sa =
            type == AG_ISSUER_KUBERNETES_SA && ag_str_eq_lit(url, "kubernetes/serviceaccount");
        if (type == AG_ISSUER_KUBERNETES_SA && !is->legacy_sa && naud == 0)
            return ag_cfg_fail(c->cfg, ref, ag_cfg_path(&o, "audiences"),
                               "required for bound service-account tokens");
    }
    if (type == AG_ISSUER_OIDC && naud == 0)
        return ag_cfg_fail(c->cfg, ref, ag_cfg_path(&o, "audiences"), "must not be empty");
    if (naud > AG_ISSUER_MAX_AUDIENCES)
        return ag_cfg_fail(c->cfg, ref, ag_cfg_path(&o, "audiences"), "at most %d",
                           AG_ISSUER_MAX_AUDIENCES);
    ag_str_t *a = ag_arena_calloc(&c->set->arena, sizeof(*a) * (size_t)(naud + 1));
    if (!a)
        return AG_E_NOMEM;
    for (int i = 0; i < naud; i++)
        a[i] = dup(c, auds[i]);
    is->audiences = a;
    is->naudiences = naud;
    if ((keys != AG_JSON_NONE && (err = parse_keys(c, keys, ag_cfg_path(&o, "keys"), is))) ||
        (err = parse_claims(c, claims, ag_cfg_path(&o, "claims"), is)) ||
        (err = parse_required(c, req, ag_cfg_path(&o, "required_claims"), is))) {
        ag_jwks_unref(is->static_keys);
        return err;
    }
    if (type == AG_ISSUER_AZURE_AD)
        return add_azure(c, ref, path, is, is->static_keys || is->jwks_uri.n);
    if ((err = add_issuer(c, ref, path, is)) != 0)
        ag_jwks_unref(is->static_keys);
    return err;
}

ag_err ag_issuers_parse_with(ag_cfg_t *cfg, ag_json_ref arr, const char *path,
                             const char *config_dir, ag_read_file_fn read, ag_issuer_set_t **out)
{
    pctx c = {cfg, calloc(1, sizeof(ag_issuer_set_t)), config_dir, read};
    ag_err err = 0;
    int i = 0;

    if (!c.set)
        return AG_E_NOMEM;
    ag_arena_init(&c.set->arena, 4096, 0);
    if (ag_json_typeof(cfg->doc, arr) != AG_JSON_ARRAY)
        err = ag_cfg_fail(cfg, arr, path, "must be an array of issuers");
    for (ag_json_ref e = ag_json_first(cfg->doc, arr); !err && e != AG_JSON_NONE;
         e = ag_json_next(cfg->doc, e), i++)
        err = parse_one(&c, e, ag_cfg_index_path(cfg, path, i));
    if (err) {
        ag_issuer_set_free(c.set);
        return err;
    }
    *out = c.set;
    return 0;
}
