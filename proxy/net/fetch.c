/* Outbound HTTP(S) (fetch.h): libcurl multi on the control loop, after curl's
 * multi-uv pattern. curl asks for socket watches (on_curl_socket) and a single timer
 * (on_curl_timer); libuv reports readiness back through curl_multi_socket_action, and
 * finished transfers are collected by collect_done. A request is a job: created (and
 * validated, and copied) on the caller's thread, run on the control loop, and, when it
 * was submitted from another loop, sent back through that loop's mailbox.
 * Never blocks: no curl_easy_perform, no DNS outside curl's resolver thread. */
#include "net/fetch.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"

typedef struct job job_t;
typedef struct sock sock_t;

struct ag_fetch {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    ag_mailbox_t *inbox;           /* submissions from other threads */
    char *ca_file;                 /* owned */
    char *cert_file, *key_file;    /* owned; NULL: no client certificate */
    struct curl_slist *connect_to; /* owned; NULL: connect to the URL's host */
    long timeout_ms;
    size_t max_bytes;
    job_t *jobs;      /* running jobs (doubly linked) */
    sock_t *socks;    /* watched sockets (doubly linked) */
    int open_handles; /* libuv handles not yet closed; free at 0 after destroy */
    bool closing;
    ag_fetch_stats_t stats; /* updated with relaxed atomics */
};

struct sock {
    uv_poll_t poll;
    curl_socket_t fd;
    ag_fetch_t *f;
    sock_t *prev, *next;
};

struct job {
    ag_mailbox_msg_t msg; /* first member: the mailbox hands it back to us */
    ag_fetch_t *f;
    CURL *easy;
    struct curl_slist *hdrs;
    char *url;
    char *body;
    size_t body_n;
    bool post, too_big, aborted;
    long timeout_ms;
    bool (*on_data)(void *arg, long status, ag_str_t data); /* NULL: collect the body */
    ag_buf_t resp;
    ag_fetch_cb cb;
    void *arg;
    ag_mailbox_t *reply; /* NULL when started on the control loop */
    ag_fetch_res_t res;  /* kept for the reply hop */
    char etag[256];      /* res.etag points here */
    char errbuf[CURL_ERROR_SIZE];
    job_t *prev, *next;
};

#define STAT_INC(f, field) __atomic_fetch_add(&(f)->stats.field, 1, __ATOMIC_RELAXED)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_code;

static void curl_init(void)
{
    curl_init_code = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- Cache-Control --------------------------------------------------------------- */

static bool all_digits(ag_str_t s)
{
    for (size_t i = 0; i < s.n; i++)
        if (s.p[i] < '0' || s.p[i] > '9')
            return false;
    return s.n > 0;
}

long long ag_fetch_parse_max_age(ag_str_t value)
{
    long long max_age = -1;
    ag_str_t rest = value, item;
    while (rest.p) {
        rest = ag_str_split(rest, ',', &item);
        item = ag_str_trim_ows(item);
        ag_str_t name, arg = ag_str_split(item, '=', &name);
        name = ag_str_trim_ows(name);
        if (ag_str_ieq(name, AG_STR("no-store")) || ag_str_ieq(name, AG_STR("no-cache")))
            return 0; /* RFC 9111 5.2.2.3-5: must revalidate, so never trust the copy long */
        if (!ag_str_ieq(name, AG_STR("max-age")) || !arg.p)
            continue;
        arg = ag_str_trim_ows(arg);
        if (arg.n >= 2 && arg.p[0] == '"' && arg.p[arg.n - 1] == '"')
            arg = ag_str_sub(arg, 1, arg.n - 2);
        unsigned long long v;
        if (!all_digits(arg))
            continue; /* malformed: ignored, the caller's default applies */
        /* RFC 9111 1.2.2: a delta-seconds too large to represent saturates at 2^31. */
        if (arg.n > 10 || !ag_str_to_u64(arg, &v) || v > 2147483648ULL)
            v = 2147483648ULL;
        max_age = (long long)v;
    }
    return max_age;
}

/* ---- jobs ------------------------------------------------------------------------ */

static void job_free(job_t *j)
{
    if (!j)
        return;
    if (j->easy)
        curl_easy_cleanup(j->easy);
    curl_slist_free_all(j->hdrs);
    free(j->url);
    free(j->body);
    ag_buf_dispose(&j->resp);
    free(j);
}

static bool header_ok(const char *h)
{
    return strchr(h, ':') != NULL && strpbrk(h, "\r\n") == NULL;
}

/* Validates and copies <req> into a new job; runs on the caller's thread. */
static ag_err job_create(ag_fetch_t *f, const ag_fetch_req_t *req, ag_fetch_cb cb, void *arg,
                         job_t **out)
{
    job_t *j = NULL;
    ag_err err = AG_E_INVAL;
    int nh = 0;

    if (!req->url || !cb ||
        !(ag_str_istarts_with(ag_str_cstr(req->url), AG_STR("http://")) ||
          ag_str_istarts_with(ag_str_cstr(req->url), AG_STR("https://"))))
        goto out;
    if (req->method && strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0)
        goto out;
    for (; req->headers && req->headers[nh]; nh++)
        if (nh >= AG_FETCH_MAX_HEADERS || !header_ok(req->headers[nh]))
            goto out;
    err = AG_E_NOMEM;
    if (!(j = calloc(1, sizeof *j)) || !(j->url = strdup(req->url)))
        goto out;
    j->f = f;
    j->cb = cb;
    j->arg = arg;
    j->res.max_age_s = j->res.retry_after_s = -1;
    j->res.etag = j->etag;
    j->post = req->method && strcmp(req->method, "POST") == 0;
    j->on_data = req->on_data;
    j->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : f->timeout_ms;
    ag_buf_init(&j->resp, req->max_bytes ? req->max_bytes : f->max_bytes);
    if (j->post && (!(j->body = malloc(req->body.n + 1))))
        goto out;
    if (j->post) {
        if (req->body.n)
            memcpy(j->body, req->body.p, req->body.n);
        j->body_n = req->body.n;
    }
    /* "Expect:" off: curl would otherwise wait for 100-continue on larger bodies. */
    if (!(j->hdrs = curl_slist_append(NULL, "Expect:")))
        goto out;
    for (int i = 0; i < nh; i++) {
        struct curl_slist *l = curl_slist_append(j->hdrs, req->headers[i]);
        if (!l)
            goto out;
        j->hdrs = l;
    }
    *out = j;
    j = NULL;
    err = 0;
out:
    job_free(j);
    return err;
}

static size_t on_curl_write(char *p, size_t size, size_t n, void *userp)
{
    job_t *j = userp;
    if (j->on_data) {
        long status = 0;
        curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
        if (j->on_data(j->arg, status, ag_str_make(p, size * n)))
            return size * n;
        j->aborted = true; /* short return: CURLE_WRITE_ERROR */
        return 0;
    }
    if (ag_buf_append(&j->resp, p, size * n) != 0) {
        j->too_big = true; /* returning short aborts the transfer: CURLE_WRITE_ERROR */
        return 0;
    }
    return size * n;
}

static ag_err job_configure(job_t *j)
{
    ag_fetch_t *f = j->f;
    CURL *e = j->easy;
    CURLcode c = CURLE_OK;
#define SET(opt, val)                                                                              \
    if (c == CURLE_OK)                                                                             \
    c = curl_easy_setopt(e, opt, val)
    SET(CURLOPT_URL, j->url);
    SET(CURLOPT_PRIVATE, (void *)j);
    SET(CURLOPT_ERRORBUFFER, j->errbuf);
    SET(CURLOPT_WRITEFUNCTION, on_curl_write);
    SET(CURLOPT_WRITEDATA, (void *)j);
    SET(CURLOPT_HTTPHEADER, j->hdrs);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L); /* a redirect could lead a fetch anywhere */
    SET(CURLOPT_PROXY, "");          /* ignore http_proxy & co. from the environment */
    SET(CURLOPT_TIMEOUT_MS, j->timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, j->timeout_ms);
    if (!j->on_data)
        SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)j->resp.max);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    SET(CURLOPT_USERAGENT, "authgate");
    if (f->ca_file)
        SET(CURLOPT_CAINFO, f->ca_file);
    if (f->cert_file && f->key_file) {
        SET(CURLOPT_SSLCERT, f->cert_file);
        SET(CURLOPT_SSLKEY, f->key_file);
    }
    if (f->connect_to)
        SET(CURLOPT_CONNECT_TO, f->connect_to);
    if (j->post) {
        SET(CURLOPT_POST, 1L);
        SET(CURLOPT_POSTFIELDS, j->body);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->body_n);
    }
#undef SET
    return c == CURLE_OK ? 0 : AG_E_INVAL;
}

static void link_job(ag_fetch_t *f, job_t *j)
{
    j->prev = NULL;
    j->next = f->jobs;
    if (f->jobs)
        f->jobs->prev = j;
    f->jobs = j;
}

static void unlink_job(ag_fetch_t *f, job_t *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        f->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    j->prev = j->next = NULL;
}

/* Control loop: creates the easy handle and adds it to the multi. */
static ag_err job_begin(job_t *j)
{
    ag_fetch_t *f = j->f;
    ag_err err;
    if (f->closing)
        return AG_E_CANCELED;
    if (!(j->easy = curl_easy_init()))
        return AG_E_NOMEM;
    if ((err = job_configure(j)) != 0)
        return err;
    if (curl_multi_add_handle(f->multi, j->easy) != CURLM_OK)
        return AG_E_NOMEM;
    link_job(f, j);
    STAT_INC(f, started);
    return 0;
}

static void on_reply(ag_mailbox_msg_t *msg)
{
    job_t *j = (job_t *)msg;
    j->res.body = ag_buf_str(&j->resp);
    j->cb(j->arg, &j->res);
    job_free(j);
}

/* Control loop: delivers the outcome of a job that was accepted, then frees it (or
 * hands it to the reply mailbox, whose loop frees it). */
static void job_deliver(job_t *j)
{
    ag_fetch_t *f = j->f;
    if (j->res.err == 0)
        STAT_INC(f, ok);
    else if (j->res.err == AG_E_TIMEOUT)
        STAT_INC(f, timeouts);
    else if (j->res.err == AG_E_TOO_BIG)
        STAT_INC(f, too_big);
    else if (j->res.err == AG_E_CANCELED)
        STAT_INC(f, canceled);
    else
        STAT_INC(f, failed);
    if (j->easy) {
        curl_easy_cleanup(j->easy); /* errbuf lives in the job, not the handle */
        j->easy = NULL;
    }
    if (j->reply) {
        j->msg.fn = on_reply;
        ag_mailbox_post(j->reply, &j->msg);
        return;
    }
    j->res.body = ag_buf_str(&j->resp);
    j->cb(j->arg, &j->res);
    job_free(j);
}

static long long response_max_age(CURL *e)
{
    struct curl_header *h;
    long long best = -1;
    for (size_t i = 0; curl_easy_header(e, "Cache-Control", i, CURLH_HEADER, -1, &h) == CURLHE_OK;
         i++) {
        long long v = ag_fetch_parse_max_age(ag_str_cstr(h->value));
        if (v >= 0 && (best < 0 || v < best))
            best = v; /* several fields: the most restrictive wins */
        if (i + 1 >= h->amount)
            break;
    }
    return best;
}

long long ag_fetch_parse_retry_after(const char *value, long long now_s)
{
    ag_str_t v = ag_str_trim_ows(ag_str_cstr(value));
    unsigned long long secs;
    if (v.n && all_digits(v))
        return v.n > 10 || !ag_str_to_u64(v, &secs) || secs > 2147483648ULL ? 2147483648LL
                                                                            : (long long)secs;
    time_t at = curl_getdate(value, NULL);
    if (at < 0)
        return -1;
    return (long long)at > now_s ? (long long)at - now_s : 0;
}

static void res_clear(job_t *j)
{
    j->res.max_age_s = -1;
    j->res.retry_after_s = -1;
    j->etag[0] = '\0';
    j->res.etag = j->etag;
}

/* Retry-After (throttling, outages) and ETag (conditional requests) of a response. */
static void response_retry_etag(job_t *j)
{
    struct curl_header *h;
    if (curl_easy_header(j->easy, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
        j->res.retry_after_s = ag_fetch_parse_retry_after(h->value, (long long)time(NULL));
    if (curl_easy_header(j->easy, "ETag", 0, CURLH_HEADER, -1, &h) == CURLHE_OK &&
        strlen(h->value) < sizeof j->etag)
        snprintf(j->etag, sizeof j->etag, "%s", h->value);
}

static void job_finish(job_t *j, CURLcode code)
{
    long status = 0;
    double secs = 0;
    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(j->easy, CURLINFO_TOTAL_TIME, &secs);
    j->res.status = status;
    j->res.seconds = secs;
    res_clear(j);
    j->res.detail = j->errbuf[0] ? j->errbuf : curl_easy_strerror(code);
    if (code == CURLE_OK) {
        j->res.err = 0;
        j->res.detail = "";
        j->res.max_age_s = response_max_age(j->easy);
        response_retry_etag(j);
    } else if (j->aborted) {
        j->res.err = AG_E_CANCELED;
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
        j->res.err = AG_E_TIMEOUT;
    } else if (j->too_big || code == CURLE_FILESIZE_EXCEEDED) {
        j->res.err = AG_E_TOO_BIG;
    } else {
        j->res.err = AG_E_IO;
    }
    job_deliver(j);
}

static void collect_done(ag_fetch_t *f)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(f->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        job_t *j = NULL;
        CURL *e = m->easy_handle;
        CURLcode code = m->data.result;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&j);
        curl_multi_remove_handle(f->multi, e);
        unlink_job(f, j);
        job_finish(j, code);
    }
}

/* ---- libuv <-> curl ---------------------------------------------------------------- */

static void free_opts(ag_fetch_t *f)
{
    free(f->ca_file);
    free(f->cert_file);
    free(f->key_file);
    curl_slist_free_all(f->connect_to);
}

static void release_if_done(ag_fetch_t *f)
{
    if (f->closing && f->open_handles == 0) {
        free_opts(f);
        free(f);
    }
}

static void on_sock_close(uv_handle_t *h)
{
    sock_t *s = h->data;
    ag_fetch_t *f = s->f;
    free(s);
    f->open_handles--;
    release_if_done(f);
}

static void sock_close(ag_fetch_t *f, sock_t *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        f->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_sock_close);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    sock_t *s = h->data;
    ag_fetch_t *f = s->f;
    int flags = 0, running;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(f->multi, s->fd, flags, &running); /* may close <s> */
    collect_done(f);
}

static int on_curl_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    ag_fetch_t *f = userp;
    sock_t *s = socketp;
    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(f->multi, fd, NULL);
            sock_close(f, s);
        }
        return 0;
    }
    if (!s) {
        if (!(s = calloc(1, sizeof *s)))
            return -1;
        if (uv_poll_init_socket(f->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->fd = fd;
        s->f = f;
        s->poll.data = s;
        s->next = f->socks;
        if (f->socks)
            f->socks->prev = s;
        f->socks = s;
        f->open_handles++;
        curl_multi_assign(f->multi, fd, s);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    return uv_poll_start(&s->poll, events, on_poll) == 0 ? 0 : -1;
}

static void on_timer(uv_timer_t *t)
{
    ag_fetch_t *f = t->data;
    int running;
    curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect_done(f);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    ag_fetch_t *f = userp;
    (void)multi;
    if (timeout_ms < 0)
        uv_timer_stop(&f->timer);
    else
        uv_timer_start(&f->timer, on_timer, (uint64_t)timeout_ms, 0); /* 0: next turn */
    return 0;
}

static void on_timer_close(uv_handle_t *h)
{
    ag_fetch_t *f = h->data;
    f->open_handles--;
    release_if_done(f);
}

/* ---- public ---------------------------------------------------------------------- */

ag_err ag_fetch_create(uv_loop_t *loop, const ag_fetch_opts_t *opts, ag_fetch_t **out)
{
    ag_fetch_t *f = NULL;
    ag_err err = AG_E_NOMEM;

    pthread_once(&curl_once, curl_init);
    if (curl_init_code != CURLE_OK)
        return AG_E_IO;
    if (!(f = calloc(1, sizeof *f)))
        goto out;
    f->loop = loop;
    f->timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : AG_FETCH_DEFAULT_TIMEOUT_MS;
    f->max_bytes = opts && opts->max_bytes ? opts->max_bytes : AG_FETCH_DEFAULT_MAX_BYTES;
    if (opts && opts->ca_file && !(f->ca_file = strdup(opts->ca_file)))
        goto out;
    if (opts && opts->cert_file && opts->key_file &&
        (!(f->cert_file = strdup(opts->cert_file)) || !(f->key_file = strdup(opts->key_file))))
        goto out;
    if (opts && opts->connect_to && !(f->connect_to = curl_slist_append(NULL, opts->connect_to)))
        goto out;
    if (!(f->multi = curl_multi_init()))
        goto out;
    if ((err = ag_mailbox_create(loop, &f->inbox)) != 0)
        goto out;
    if (uv_timer_init(loop, &f->timer) != 0) {
        err = AG_E_IO;
        goto out;
    }
    f->timer.data = f;
    f->open_handles = 1;
    curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
    curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
    *out = f;
    return 0;
out:
    if (f) {
        ag_mailbox_destroy(f->inbox);
        if (f->multi)
            curl_multi_cleanup(f->multi);
        free_opts(f);
        free(f);
    }
    return err;
}

void ag_fetch_destroy(ag_fetch_t *f)
{
    if (!f)
        return;
    f->closing = true;
    ag_mailbox_destroy(f->inbox); /* queued submissions are answered AG_E_CANCELED */
    while (f->jobs) {
        job_t *j = f->jobs;
        unlink_job(f, j);
        curl_multi_remove_handle(f->multi, j->easy);
        j->res.err = AG_E_CANCELED;
        res_clear(j);
        j->res.detail = "fetch engine stopped";
        job_deliver(j);
    }
    curl_multi_cleanup(f->multi); /* may still report socket removals */
    f->multi = NULL;
    while (f->socks)
        sock_close(f, f->socks);
    uv_timer_stop(&f->timer);
    uv_close((uv_handle_t *)&f->timer, on_timer_close);
}

ag_err ag_fetch_start(ag_fetch_t *f, const ag_fetch_req_t *req, ag_fetch_cb cb, void *arg)
{
    job_t *j = NULL;
    ag_err err;
    if ((err = job_create(f, req, cb, arg, &j)) != 0)
        return err;
    if ((err = job_begin(j)) != 0) {
        job_free(j);
        return err;
    }
    return 0;
}

static void on_submitted(ag_mailbox_msg_t *msg)
{
    job_t *j = (job_t *)msg;
    ag_err err = job_begin(j);
    if (err) {
        if (j->easy) {
            curl_easy_cleanup(j->easy);
            j->easy = NULL;
        }
        j->res.err = err;
        res_clear(j);
        j->res.detail = err == AG_E_CANCELED ? "fetch engine stopped" : ag_err_str(err);
        job_deliver(j);
    }
}

ag_err ag_fetch_submit(ag_fetch_t *f, const ag_fetch_req_t *req, ag_mailbox_t *reply,
                       ag_fetch_cb cb, void *arg)
{
    job_t *j = NULL;
    ag_err err;
    if (!reply || req->on_data)
        return AG_E_INVAL;
    if ((err = job_create(f, req, cb, arg, &j)) != 0)
        return err;
    j->reply = reply;
    j->msg.fn = on_submitted;
    ag_mailbox_post(f->inbox, &j->msg);
    return 0;
}

void ag_fetch_stats(const ag_fetch_t *f, ag_fetch_stats_t *out)
{
    out->started = __atomic_load_n(&f->stats.started, __ATOMIC_RELAXED);
    out->ok = __atomic_load_n(&f->stats.ok, __ATOMIC_RELAXED);
    out->failed = __atomic_load_n(&f->stats.failed, __ATOMIC_RELAXED);
    out->timeouts = __atomic_load_n(&f->stats.timeouts, __ATOMIC_RELAXED);
    out->too_big = __atomic_load_n(&f->stats.too_big, __ATOMIC_RELAXED);
    out->canceled = __atomic_load_n(&f->stats.canceled, __ATOMIC_RELAXED);
}

const char *ag_fetch_curl_version(bool running)
{
    return running ? curl_version_info(CURLVERSION_NOW)->version : LIBCURL_VERSION;
}
