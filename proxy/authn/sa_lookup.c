/* Service-account token confirmation by TokenReview (sa_lookup.h). A check builds the
 * review body and the gateway's Authorization line on the worker, hands both to the fetch
 * engine (control loop) with the worker's mailbox, and judges the answer back on the
 * worker in on_review. One check per new token: the token cache's single flight already
 * coalesces concurrent first uses, and a confirmed token is cached for at most the
 * issuer's lookup_ttl. */
#include "authn/sa_lookup.h"

#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "net/fetch.h"
#include "net/upstream_api.h"
#include "runtime/log.h"

struct ag_sa_lookup {
    ag_fetch_t *fetch;
    const ag_credential_t *cred;
    char *url; /* owned: the upstream's tokenreviews URL */
};

typedef struct {
    ag_arena_t *arena;
    ag_str_t username; /* arena copy */
    ag_sa_lookup_cb cb;
    void *arg;
} check_t;

ag_err ag_sa_lookup_create(uv_loop_t *control, const ag_config_upstream_t *up,
                           const ag_credential_t *cred, long timeout_ms, ag_sa_lookup_t **out)
{
    ag_buf_t url = AG_BUF_INIT(4096), via = AG_BUF_INIT(1024);
    ag_sa_lookup_t *l = calloc(1, sizeof *l);
    bool renamed = false;
    ag_err err = AG_E_NOMEM;

    if (!l)
        goto out;
    l->cred = cred;
    if ((err = ag_upstream_api_target(up, &url, &via, &renamed)) != 0 ||
        (err = ag_buf_append_cstr(&url, AG_SA_LOOKUP_PATH)) != 0)
        goto out;
    ag_fetch_opts_t fo = {.ca_file = up->https ? up->ca_file : NULL,
                          .cert_file = up->cert_file,
                          .key_file = up->key_file,
                          .connect_to = renamed ? via.p : NULL,
                          .timeout_ms = timeout_ms,
                          .max_bytes = AG_SA_LOOKUP_MAX_BYTES};
    err = AG_E_NOMEM;
    if (!(l->url = strdup(url.p)) || (err = ag_fetch_create(control, &fo, &l->fetch)) != 0)
        goto out;
    *out = l;
    l = NULL; /* ownership moved to the caller */
out:
    ag_sa_lookup_destroy(l);
    ag_buf_dispose(&url);
    ag_buf_dispose(&via);
    return err;
}

void ag_sa_lookup_destroy(ag_sa_lookup_t *l)
{
    if (!l)
        return;
    ag_fetch_destroy(l->fetch);
    free(l->url);
    free(l);
}

ag_err ag_sa_lookup_body(ag_str_t token, const ag_str_t *audiences, int naudiences, ag_buf_t *out)
{
    ag_err err;
    if ((err = ag_buf_append_cstr(out, "{\"apiVersion\":\"authentication.k8s.io/v1\","
                                       "\"kind\":\"TokenReview\",\"spec\":{\"token\":")) ||
        (err = ag_json_write_str(out, token)))
        return err;
    if (naudiences > 0 && (err = ag_buf_append_cstr(out, ",\"audiences\":[")))
        return err;
    for (int i = 0; i < naudiences; i++)
        if ((i > 0 && (err = ag_buf_append_cstr(out, ","))) ||
            (err = ag_json_write_str(out, audiences[i])))
            return err;
    if (naudiences > 0 && (err = ag_buf_append_cstr(out, "]")))
        return err;
    return ag_buf_append_cstr(out, "}}");
}

ag_sa_lookup_verdict ag_sa_lookup_eval(long status, ag_str_t body, ag_str_t username,
                                       ag_arena_t *arena, const char **reason)
{
    ag_json_t doc;
    ag_json_limits_t lim = {.max_depth = 16, .max_tokens = 4096};
    ag_json_ref root, st, user;
    ag_str_t name;
    bool authenticated = false;

    *reason = "";
    if (status < 200 || status > 299) {
        *reason = "the API server answered the TokenReview with an error status";
        return AG_SA_LOOKUP_FAILED;
    }
    if (ag_json_parse(&doc, body, &lim, arena, NULL) != 0 ||
        ag_json_typeof(&doc, (root = ag_json_root(&doc))) != AG_JSON_OBJECT ||
        !ag_json_str_eq(&doc, ag_json_get(&doc, root, "kind"), "TokenReview")) {
        *reason = "the TokenReview answer is not a TokenReview";
        return AG_SA_LOOKUP_FAILED;
    }
    st = ag_json_get(&doc, root, "status");
    if (ag_json_typeof(&doc, st) != AG_JSON_OBJECT) {
        *reason = "the TokenReview answer has no status";
        return AG_SA_LOOKUP_FAILED;
    }
    /* omitempty: an absent "authenticated" is false (kubernetes-authz.md §8) */
    ag_json_ref a = ag_json_get(&doc, st, "authenticated");
    if (a != AG_JSON_NONE && ag_json_bool(&doc, a, &authenticated) != 0) {
        *reason = "the TokenReview status.authenticated is not a boolean";
        return AG_SA_LOOKUP_FAILED;
    }
    if (!authenticated) {
        *reason = "the API server does not authenticate the token";
        return AG_SA_LOOKUP_REVOKED;
    }
    user = ag_json_get(&doc, st, "user");
    if (ag_json_str(&doc, ag_json_get(&doc, user, "username"), arena, &name) != 0 ||
        !ag_str_eq(name, username)) {
        *reason = "the API server authenticates the token as another user";
        return AG_SA_LOOKUP_REVOKED;
    }
    return AG_SA_LOOKUP_CONFIRMED;
}

static void on_review(void *arg, const ag_fetch_res_t *res)
{
    check_t *c = arg;
    const char *reason = "";
    ag_sa_lookup_verdict v;
    if (res->err) {
        reason = res->err == AG_E_TIMEOUT ? "the TokenReview timed out"
                                          : "the TokenReview request failed";
        ag_warn("service-account token lookup: %s: %s %s", reason, ag_err_str(res->err),
                res->detail);
        v = AG_SA_LOOKUP_FAILED;
    } else {
        v = ag_sa_lookup_eval(res->status, res->body, c->username, c->arena, &reason);
        if (v == AG_SA_LOOKUP_FAILED)
            ag_warn("service-account token lookup: %s (HTTP %ld)", reason, res->status);
    }
    c->cb(c->arg, v, reason);
}

ag_err ag_sa_lookup_check(ag_sa_lookup_t *l, ag_str_t token, const ag_str_t *audiences,
                          int naudiences, ag_str_t username, ag_arena_t *arena, ag_mailbox_t *reply,
                          ag_sa_lookup_cb cb, void *arg)
{
    /* the body is copied by ag_fetch_submit; a token is capped at AG_ISSUER_MAX_TOKEN */
    ag_buf_t body = AG_BUF_INIT(256u * 1024), auth = AG_BUF_INIT(AG_CREDENTIAL_MAX_BYTES + 64);
    check_t *c = ag_arena_calloc(arena, sizeof *c);
    ag_str_t bearer = AG_STR_NULL;
    ag_err err = AG_E_NOMEM;

    if (!c || !reply)
        goto out;
    c->arena = arena;
    c->cb = cb;
    c->arg = arg;
    c->username = ag_arena_strdup(arena, username);
    if (username.n && !c->username.p)
        goto out;
    if ((err = ag_sa_lookup_body(token, audiences, naudiences, &body)) != 0)
        goto out;
    bearer = ag_credential_enter(l->cred); /* copied into <auth> before leaving */
    err = bearer.n ? ag_buf_printf(&auth, "Authorization: %.*s", AG_STR_FMT(bearer)) : 0;
    ag_credential_leave(l->cred);
    if (err)
        goto out;
    const char *headers[] = {"Content-Type: application/json", "Accept: application/json",
                             bearer.n ? auth.p : NULL, NULL};
    ag_fetch_req_t req = {
        .url = l->url, .method = "POST", .body = ag_buf_str(&body), .headers = headers};
    err = ag_fetch_submit(l->fetch, &req, reply, on_review, c);
out:
    ag_buf_dispose(&body);
    ag_buf_dispose(&auth);
    return err;
}
