/* Blocking HTTP for `authgate login` (login_http.h): the fetch engine on a private loop,
 * run until the one outstanding request has answered. */
#include "login/login_http.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "login/oauth.h"
#include "net/fetch.h"

struct ag_login_http {
    uv_loop_t loop;
    ag_fetch_t *fetch;
    char *ca_file; /* NULL = the system's */
    bool used;     /* the engine has made a request (and may hold a connection) */
};

typedef struct {
    bool done;
    ag_err err;
    long status;
    ag_buf_t *body;
    char *detail;
    size_t detail_n;
} wait_t;

static ag_err engine_create(ag_login_http_t *h)
{
    ag_fetch_opts_t fo = {.ca_file = h->ca_file,
                          .timeout_ms = AG_LOGIN_HTTP_TIMEOUT_MS,
                          .max_bytes = AG_OAUTH_MAX_BODY};
    h->used = false;
    return ag_fetch_create(&h->loop, &fo, &h->fetch);
}

static void engine_destroy(ag_login_http_t *h)
{
    ag_fetch_destroy(h->fetch);
    h->fetch = NULL;
    uv_run(&h->loop, UV_RUN_DEFAULT); /* close callbacks free the engine */
}

ag_err ag_login_http_create(const char *ca_file, ag_login_http_t **out)
{
    ag_login_http_t *h = calloc(1, sizeof *h);
    ag_err err = AG_E_NOMEM;
    if (!h || (ca_file && !(h->ca_file = strdup(ca_file))))
        goto fail;
    err = AG_E_IO;
    if (uv_loop_init(&h->loop) != 0)
        goto fail;
    if ((err = engine_create(h)) != 0) {
        uv_loop_close(&h->loop);
        goto fail;
    }
    *out = h;
    return 0;
fail:
    if (h)
        free(h->ca_file);
    free(h);
    return err;
}

void ag_login_http_destroy(ag_login_http_t *h)
{
    if (!h)
        return;
    engine_destroy(h);
    uv_loop_close(&h->loop);
    free(h->ca_file);
    free(h);
}

static void on_fetched(void *arg, const ag_fetch_res_t *res)
{
    wait_t *w = arg;
    w->done = true;
    w->err = res->err;
    w->status = res->status;
    if (res->err)
        snprintf(w->detail, w->detail_n, "%s", res->detail);
    else if ((w->err = ag_buf_append_str(w->body, res->body)) != 0)
        snprintf(w->detail, w->detail_n, "response larger than %zu bytes", w->body->max);
}

ag_err ag_login_http_do(ag_login_http_t *h, const char *url, ag_str_t form, long *status,
                        ag_buf_t *body, char *detail, size_t detail_n)
{
    static const char *const post_hdrs[] = {
        "Accept: application/json", "Content-Type: application/x-www-form-urlencoded", NULL};
    static const char *const get_hdrs[] = {"Accept: application/json", NULL};
    wait_t w = {.body = body, .detail = detail, .detail_n = detail_n};
    ag_fetch_req_t req = {.url = url,
                          .method = form.p ? "POST" : "GET",
                          .body = form,
                          .headers = form.p ? post_hdrs : get_hdrs,
                          .max_bytes = body->max};
    ag_err err;

    snprintf(detail, detail_n, "%s", "");
    ag_buf_clear(body);
    if (!ag_oauth_url_allowed(ag_str_cstr(url))) {
        snprintf(detail, detail_n, "refusing %s: only https:// or http:// to loopback", url);
        return AG_E_INVAL;
    }
    /* A fresh connection for every request: between two polls the loop does not run, so
     * a kept-alive connection the server closed meanwhile (Node's 5 s idle timeout < a
     * 6 s slow_down interval) was reused and failed ("select/poll returned error"). */
    if (h->used) {
        engine_destroy(h);
        if ((err = engine_create(h)) != 0) {
            snprintf(detail, detail_n, "%s", ag_err_str(err));
            return err;
        }
    }
    h->used = true;
    if ((err = ag_fetch_start(h->fetch, &req, on_fetched, &w)) != 0) {
        snprintf(detail, detail_n, "%s", ag_err_str(err));
        return err;
    }
    while (!w.done)
        uv_run(&h->loop, UV_RUN_ONCE);
    *status = w.status;
    return w.err;
}
