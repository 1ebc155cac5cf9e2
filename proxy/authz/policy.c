/* The policy snapshot holder (policy.h). Readers: ag_policy_enter on any thread, through
 * the snapshot domain (snapshot.h). Writer: the control thread only (publish, reload,
 * poll). The rebuild runs on the libuv threadpool so the control loop keeps serving the
 * admin listener and key fetches while a large policy loads. */
#include "authz/policy.h"

#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "authz/armsync.h"
#include "files.h"
#include "runtime/admin.h"
#include "runtime/hooks.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

/* Azure RBAC from ARM (armsync.h): the last set the poller built, which every policy
 * built while "azure.arm" is configured takes instead of loading the files itself. Set on
 * the control thread, read by rebuilds on the threadpool. */
static struct {
    pthread_mutex_t mu;
    ag_azrbac_t *az; /* NULL until the first complete poll */
    ag_armsync_t *sync;
} ARM = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL};

static ag_azrbac_t *arm_current(void)
{
    pthread_mutex_lock(&ARM.mu);
    ag_azrbac_t *az = ARM.az;
    if (az)
        ag_azrbac_ref(az);
    pthread_mutex_unlock(&ARM.mu);
    return az;
}

/* ---- snapshots ------------------------------------------------------------------------ */

void ag_policy_destroy(ag_policy_t *p)
{
    if (!p)
        return;
    ag_rbac_unref(p->rbac);
    ag_azrbac_unref(p->azure);
    free(p);
}

static void policy_free(ag_snap_t *s)
{
    ag_policy_destroy((ag_policy_t *)s);
}

ag_err ag_policy_build(const ag_authz_config_t *authz, const ag_azure_config_t *azure,
                       ag_chain_mode mode, ag_policy_t **out, ag_buf_t *errmsg)
{
    ag_rbac_opts_t ro = {.bootstrap = authz->bootstrap};
    ag_rbac_t *rbac = NULL;
    ag_err err = ag_rbac_load(authz->policies, authz->npolicies, &ro, &rbac, errmsg);
    return err ? err : ag_policy_build_rbac(rbac, azure, mode, out, errmsg);
}

ag_err ag_policy_build_rbac(ag_rbac_t *rbac, const ag_azure_config_t *azure, ag_chain_mode mode,
                            ag_policy_t **out, ag_buf_t *errmsg)
{
    ag_policy_t *p = calloc(1, sizeof *p);
    ag_err err = AG_E_NOMEM;
    if (!p) {
        ag_rbac_unref(rbac);
        goto fail;
    }
    p->snap.free = policy_free;
    p->rbac = rbac;
    if (azure && azure->arm.enabled)
        p->azure = arm_current(); /* the poller reads the files too */
    else if (azure && (err = ag_azure_config_load(azure, &p->azure, errmsg)) != 0)
        goto fail;
    p->chain = (ag_authz_chain_t){.mode = mode, .rbac = p->rbac, .azure = p->azure};
    *out = p;
    return 0;
fail:
    ag_policy_destroy(p);
    return err;
}

ag_err ag_policy_effective(const ag_config_t *conf, const ag_azure_config_t **azure,
                           ag_chain_mode *mode, ag_buf_t *errmsg)
{
    const ag_authz_config_t *a = &conf->authz;
    *azure = a->azure_enabled ? &a->azure : conf->azure_enabled ? &conf->azure : NULL;
    *mode = a->mode_set ? a->mode : *azure ? (*azure)->mode : AG_CHAIN_RBAC_ONLY;
    if (*mode != AG_CHAIN_RBAC_ONLY && !*azure) {
        if (errmsg)
            ag_buf_printf(errmsg, "authorization: mode \"%s\" needs an \"azure\" section",
                          ag_chain_mode_name(*mode));
        return AG_E_CONFIG;
    }
    return 0;
}

ag_err ag_policy_check(const ag_config_t *conf, ag_buf_t *errmsg)
{
    const ag_azure_config_t *azure;
    ag_chain_mode mode;
    ag_policy_t *p = NULL;
    ag_err err = ag_policy_effective(conf, &azure, &mode, errmsg);
    if (!err)
        err = ag_policy_build(&conf->authz, azure, mode, &p, errmsg);
    ag_policy_destroy(p);
    return err;
}

/* One domain for the process, made on first use by any thread (a reader may come first:
 * it then finds no policy, which fails closed). */
static ag_snap_domain_t *domain;
static pthread_once_t domain_once = PTHREAD_ONCE_INIT;

static void make_domain(void)
{
    if (ag_snap_domain_create("policy", &domain) != 0)
        abort(); /* a few KiB at start-up */
}

static ag_snap_domain_t *policy_domain(void)
{
    pthread_once(&domain_once, make_domain);
    return domain;
}

const ag_policy_t *ag_policy_enter(void)
{
    return (const ag_policy_t *)ag_snap_enter(policy_domain());
}

void ag_policy_leave(void)
{
    ag_snap_leave(policy_domain());
}

void ag_policy_publish(ag_policy_t *p)
{
    ag_snap_publish(policy_domain(), &p->snap);
}

/* ---- reload ---------------------------------------------------------------------------- */

static struct {
    const ag_config_t *conf;
    const ag_azure_config_t *azure;
    ag_chain_mode mode;
    uv_loop_t *loop;
    uv_timer_t poll;
    bool poll_started;
    uv_work_t work;
    bool running, again;
    /* the rebuild in flight */
    ag_policy_source_t source; /* take NULL: none */
    ag_rbac_view_t *cluster;   /* the source's objects this rebuild reads */
    ag_rbac_set_t *files;      /* the files' objects over a source (threadpool only) */
    ag_log_limit_t source_log; /* rebuilds from the source: their log lines */
    ag_rbac_t *last_rbac;      /* the last RBAC built over the source (ref): the next is
                                  built as a delta of it (rbac_set.h) when it can be */
    uint64_t files_sig;        /* the inputs <files> was read from */
    ag_policy_t *built;
    ag_err err;
    ag_buf_t why;
    uint64_t sig_building, sig_loaded, sig_seen;
    uint64_t generation;
    uint64_t build_ms; /* the last rebuild's duration */
    bool last_ok;
    uv_timer_t window; /* the next time-bound binding's window boundary */
    int64_t window_at; /* that boundary (ms since the epoch) */
    bool window_started;
    ag_metric_id m_ok, m_error, m_generation, m_last_ok, m_window;
} R;

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h;
}

static uint64_t stat_mix(uint64_t h, const struct stat *st)
{
    h = mix(h, (uint64_t)st->st_ino);
    h = mix(h, (uint64_t)st->st_size);
    h = mix(h, (uint64_t)st->st_mtim.tv_sec);
    return mix(h, (uint64_t)st->st_mtim.tv_nsec);
}

/* A fingerprint of every policy input: files by inode, size and mtime; directories by
 * their entries too (a file added, replaced or removed changes it). */
static uint64_t path_sig(uint64_t h, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return mix(h, 1);
    h = stat_mix(h, &st);
    if (!S_ISDIR(st.st_mode))
        return h;
    DIR *d = opendir(path);
    if (!d)
        return mix(h, 2);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char full[4096];
        if (e->d_name[0] == '.' ||
            snprintf(full, sizeof full, "%s/%s", path, e->d_name) >= (int)sizeof full)
            continue;
        h = mix(h, ag_str_hash(ag_str_cstr(e->d_name)));
        if (stat(full, &st) == 0)
            h ^= stat_mix(0, &st); /* order-independent: readdir order is arbitrary */
    }
    closedir(d);
    return h;
}

static uint64_t inputs_sig(void)
{
    const ag_authz_config_t *a = &R.conf->authz;
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < a->npolicies; i++)
        h = path_sig(h, a->policies[i]);
    if (R.azure) {
        for (int i = 0; i < R.azure->nassignments; i++)
            h = path_sig(h, R.azure->assignments[i]);
        for (int i = 0; i < R.azure->ndefinitions; i++)
            h = path_sig(h, R.azure->definitions[i]);
        for (int i = 0; i < R.azure->ndeny; i++)
            h = path_sig(h, R.azure->deny[i]);
    }
    return h;
}

static void log_loaded(const ag_policy_t *p, const char *what)
{
    ag_rbac_stats_t s;
    ag_rbac_stats(p->rbac, &s);
    ag_info("policy %s (generation %llu, mode %s): %d roles, %d cluster roles, %d role "
            "bindings, %d cluster role bindings%s",
            what, (unsigned long long)p->generation, ag_chain_mode_name(p->chain.mode), s.roles,
            s.cluster_roles, s.role_bindings, s.cluster_role_bindings,
            p->azure ? ", Azure RBAC on" : "");
}

/* ---- time-bound bindings: re-publish at each window boundary ------------------------ */

/* Decisions check a binding's window themselves, so a lapsed binding stops granting at
 * its expires-at even if this timer is late; the rebuild at the boundary keeps the rest
 * (rules reviews, logs, metrics, later snapshots) in step with no outside signal. A
 * boundary far ahead is re-checked at least hourly, so a wall clock step is caught. */
#define WINDOW_MAX_WAIT_MS (3600u * 1000u)

static void schedule_window(void);

static void on_window(uv_timer_t *t)
{
    (void)t;
    if (ag_rbac_now_ms() < R.window_at) { /* the monotonic timer ran ahead of the wall clock */
        schedule_window();
        return;
    }
    ag_info("policy: a time-bound RBAC binding's window opens or closes now; rebuilding");
    ag_metrics_inc(R.m_window);
    ag_policy_reload();
    if (!R.running) /* not queued (a failure was logged): try again at the next boundary */
        schedule_window();
}

/* Arms R.window for the earliest window boundary of the snapshot in force after now. */
static void schedule_window(void)
{
    const ag_policy_t *p = (const ag_policy_t *)ag_snap_current(policy_domain()); /* writer */
    if (!R.window_started || !p)
        return;
    uv_timer_stop(&R.window);
    int64_t now = ag_rbac_now_ms(), next = ag_rbac_next_boundary(p->rbac, now);
    if (next == INT64_MAX)
        return;
    uint64_t wait = (uint64_t)(next - now) + 1; /* +1: at the boundary, not a hair before */
    R.window_at = next;
    uv_update_time(R.loop); /* the wait counts from now, not from this loop turn's start */
    uv_timer_start(&R.window, on_window, wait < WINDOW_MAX_WAIT_MS ? wait : WINDOW_MAX_WAIT_MS, 0);
}

/* The files layer over a live source: re-read only when the inputs changed, and read as
 * strictly as a file policy (ag_rbac_load validates them, duplicates included: a broken
 * file keeps the old snapshot); then the source's view with the files' objects over it.
 * build_over_source runs on the threadpool, one rebuild at a time (the only user of
 * R.files). */
/* The files' objects as a set (no bootstrap), read as strictly as a file policy. */
static ag_err files_set(const ag_authz_config_t *a, ag_rbac_set_t **out, ag_buf_t *why)
{
    ag_rbac_opts_t none = {.bootstrap = false};
    ag_rbac_t *check = NULL;
    ag_rbac_set_t *fs = NULL;
    int refused = 0;
    ag_err err = ag_rbac_load(a->policies, a->npolicies, &none, &check, why);
    ag_rbac_unref(check);
    if (!err)
        err = ag_rbac_set_create(&none, &fs);
    if (!err)
        err = ag_rbac_set_put_files(fs, a->policies, a->npolicies, &refused, why);
    if (err || refused) {
        ag_rbac_set_destroy(fs);
        return err ? err : AG_E_CONFIG;
    }
    *out = fs;
    return 0;
}

/* <files> laid over <view>, indexed, with the Azure part and the chain. */
/* <prev>: the last RBAC built over the same source (NULL: none), the next is built as a
 * delta of it when it can be (rbac_set.h ag_rbac_view_build_since). */
static ag_err build_over(const ag_rbac_view_t *view, ag_rbac_set_t *files, const ag_rbac_t *prev,
                         const ag_azure_config_t *azure, ag_chain_mode mode, ag_policy_t **out,
                         ag_buf_t *why)
{
    ag_rbac_view_t *v = NULL;
    ag_rbac_t *rbac = NULL;
    ag_err err = ag_rbac_view_over(view, files, &v);
    if (!err)
        err = ag_rbac_view_build_since(v, prev, &rbac, why);
    ag_rbac_view_destroy(v);
    return err ? err : ag_policy_build_rbac(rbac, azure, mode, out, why);
}

ag_err ag_policy_build_over(const ag_authz_config_t *authz, const ag_azure_config_t *azure,
                            ag_chain_mode mode, const ag_rbac_view_t *view, ag_policy_t **out,
                            ag_buf_t *errmsg)
{
    ag_rbac_set_t *fs = NULL;
    ag_err err = files_set(authz, &fs, errmsg);
    if (!err)
        err = build_over(view, fs, NULL, azure, mode, out, errmsg);
    ag_rbac_set_destroy(fs);
    return err;
}

static ag_err build_over_source(ag_policy_t **out, ag_buf_t *why)
{
    ag_err err = 0;
    if (!R.files || R.files_sig != R.sig_building) {
        ag_rbac_set_t *fs = NULL;
        if ((err = files_set(&R.conf->authz, &fs, why)) != 0)
            return err;
        ag_rbac_set_destroy(R.files);
        R.files = fs;
        R.files_sig = R.sig_building;
    }
    return build_over(R.cluster, R.files, R.last_rbac, R.azure, R.mode, out, why);
}

static void on_build(uv_work_t *w)
{
    (void)w;
    uint64_t t0 = uv_hrtime();
    ag_buf_clear(&R.why);
    R.built = NULL;
    R.err = R.cluster ? build_over_source(&R.built, &R.why)
                      : ag_policy_build(&R.conf->authz, R.azure, R.mode, &R.built, &R.why);
    R.build_ms = (uv_hrtime() - t0) / 1000000;
}

static void start_build(void);

static void on_built(uv_work_t *w, int status)
{
    (void)w;
    uint64_t published = 0;
    R.running = false;
    R.sig_loaded = R.sig_building; /* a broken file is not retried until it changes */
    if (status == 0 && R.err == 0 && R.built && R.azure && R.azure->arm.enabled) {
        ag_azrbac_t *az = arm_current(); /* ARM may have published during the rebuild */
        ag_azrbac_unref(R.built->azure);
        R.built->azure = az;
        R.built->chain.azure = az;
    }
    if (status == 0 && R.err == 0 && R.built) {
        published = R.generation + 1;
        R.built->generation = ++R.generation;
        char what[80];
        unsigned held = 0;
        snprintf(what, sizeof what, "reloaded in %llu ms", (unsigned long long)R.build_ms);
        /* a live source rebuilds per burst of changes: one line a second at most */
        if (!R.cluster || ag_log_limit(&R.source_log, uv_hrtime() / 1000000u, &held)) {
            if (held)
                snprintf(what, sizeof what, "reloaded in %llu ms (%u more since the last line)",
                         (unsigned long long)R.build_ms, held);
            log_loaded(R.built, what);
        }
        if (R.cluster) { /* the next rebuild over the source starts from this one */
            ag_rbac_unref(R.last_rbac);
            ag_rbac_ref(R.last_rbac = R.built->rbac);
        }
        ag_policy_publish(R.built);
        R.built = NULL;
        ag_metrics_inc(R.m_ok);
        ag_metrics_add(R.m_generation, 1);
        if (!R.last_ok)
            ag_metrics_add(R.m_last_ok, 1);
        R.last_ok = true;
    } else {
        ag_warn("policy reload failed, keeping generation %llu: %s",
                (unsigned long long)R.generation,
                R.why.n ? R.why.p : ag_err_str(status ? AG_E_IO : R.err));
        ag_metrics_inc(R.m_error);
        if (R.last_ok)
            ag_metrics_add(R.m_last_ok, -1);
        R.last_ok = false;
    }
    schedule_window();
    if (R.source.done) {
        ag_rbac_view_t *view = R.cluster;
        R.cluster = NULL;
        R.source.done(R.source.ud, view, published);
    }
    if (R.again) {
        R.again = false;
        start_build();
    }
}

static void start_build(void)
{
    R.sig_building = inputs_sig();
    R.running = true;
    R.cluster = R.source.take ? R.source.take(R.source.ud) : NULL;
    if (uv_queue_work(R.loop, &R.work, on_build, on_built) != 0) {
        R.running = false;
        ag_warn("policy reload: cannot queue the rebuild");
        if (R.source.done)
            R.source.done(R.source.ud, R.cluster, 0);
        R.cluster = NULL;
    }
}

void ag_policy_reload(void)
{
    if (!R.conf)
        return;
    if (R.running) {
        R.again = true;
        return;
    }
    start_build();
}

static void on_sighup(void *ud)
{
    (void)ud;
    ag_policy_reload();
}

/* Reloads once a change has held still for one interval (a file being written is not
 * read half-way; an editor's rename lands in one step anyway). */
static void on_poll(uv_timer_t *t)
{
    (void)t;
    uint64_t sig = inputs_sig();
    bool stable = sig == R.sig_seen;
    R.sig_seen = sig;
    if (sig != R.sig_loaded && stable && !R.running)
        ag_policy_reload();
}

/* A new Azure RBAC set from ARM: the policy in force with it in place of the old one (the
 * Kubernetes RBAC part is shared, not rebuilt). Control thread. */
static void on_arm_publish(void *ud, ag_azrbac_t *az)
{
    (void)ud;
    pthread_mutex_lock(&ARM.mu);
    ag_azrbac_t *old = ARM.az;
    ARM.az = az;
    pthread_mutex_unlock(&ARM.mu);
    ag_azrbac_unref(old);
    const ag_policy_t *cur = (const ag_policy_t *)ag_snap_current(policy_domain()); /* writer */
    ag_policy_t *p = cur ? calloc(1, sizeof *p) : NULL;
    if (!p) {
        ag_warn("policy: cannot publish the new Azure RBAC set (out of memory); a reload will");
        return;
    }
    p->snap.free = policy_free;
    ag_rbac_ref(cur->rbac);
    ag_azrbac_ref(az);
    p->rbac = cur->rbac;
    p->azure = az;
    p->chain = cur->chain;
    p->chain.rbac = p->rbac;
    p->chain.azure = az;
    p->generation = ++R.generation;
    ag_policy_publish(p);
    ag_metrics_add(R.m_generation, 1);
}

static bool arm_ready(void *ud)
{
    (void)ud;
    pthread_mutex_lock(&ARM.mu);
    bool ready = ARM.az != NULL;
    pthread_mutex_unlock(&ARM.mu);
    return ready;
}

static bool policy_ready(void *ud)
{
    (void)ud;
    return ag_snap_current(policy_domain()) != NULL;
}

void ag_policy_set_source(const ag_policy_source_t *src)
{
    R.source = *src;
}

/* Stop hook (ag_stop_register): the ARM poller, the window and poll timers. */
static void policy_stop(void *ud)
{
    (void)ud;
    ag_armsync_destroy(ARM.sync);
    ARM.sync = NULL;
    if (R.window_started) {
        uv_timer_stop(&R.window);
        uv_close((uv_handle_t *)&R.window, NULL);
        R.window_started = false;
    }
    if (R.poll_started) {
        uv_timer_stop(&R.poll);
        uv_close((uv_handle_t *)&R.poll, NULL);
        R.poll_started = false;
    }
}

ag_err ag_policy_setup(const ag_config_t *conf, uv_loop_t *control, ag_buf_t *errmsg)
{
    ag_policy_t *p = NULL;
    ag_err err;
    memset(&R, 0, sizeof R);
    R.why = AG_BUF_INIT(64 * 1024);
    R.conf = conf;
    R.loop = control;
    if ((err = ag_policy_effective(conf, &R.azure, &R.mode, errmsg)) != 0)
        return err;
    R.sig_loaded = R.sig_seen = inputs_sig();
    if ((err = ag_policy_build(&conf->authz, R.azure, R.mode, &p, errmsg)) != 0)
        return err;
    p->generation = R.generation = 1;
    log_loaded(p, "loaded");
    ag_policy_publish(p);
    static const char *h = "Policy reloads by result (a failed reload keeps the old policy).";
    R.m_ok = ag_metrics_counter("authgate_policy_reloads_total", "result=\"ok\"", h);
    R.m_error = ag_metrics_counter("authgate_policy_reloads_total", "result=\"error\"", h);
    R.m_generation = ag_metrics_gauge("authgate_policy_generation", NULL,
                                      "Generation of the policy in force (1 = as started).");
    R.m_last_ok = ag_metrics_gauge("authgate_policy_last_reload_ok", NULL,
                                   "1 when the last policy reload succeeded (or none failed).");
    R.m_window = ag_metrics_counter("authgate_policy_window_rebuilds_total", NULL,
                                    "Rebuilds started because a time-bound RBAC binding's "
                                    "window opened or closed.");
    ag_metrics_add(R.m_generation, 1);
    ag_metrics_add(R.m_last_ok, 1);
    R.last_ok = true;
    uv_timer_init(control, &R.window);
    uv_unref((uv_handle_t *)&R.window);
    R.window_started = true;
    schedule_window();
    if ((err = ag_ready_register("policy", policy_ready, NULL)) != 0 ||
        (err = ag_reload_register(on_sighup, NULL)) != 0 ||
        (err = ag_stop_register(policy_stop, NULL)) != 0)
        return err;
    if (R.azure && R.azure->arm.enabled &&
        ((err = ag_ready_register("azure-rbac-sync", arm_ready, NULL)) != 0 ||
         (err = ag_armsync_create(control, R.azure, on_arm_publish, NULL, &ARM.sync)) != 0)) {
        if (errmsg)
            ag_buf_printf(errmsg, "azure.arm: cannot start the poller: %s", ag_err_str(err));
        return err;
    }
    if (conf->authz.reload_interval_ms > 0) {
        uv_timer_init(control, &R.poll);
        uv_unref((uv_handle_t *)&R.poll);
        uv_timer_start(&R.poll, on_poll, (uint64_t)conf->authz.reload_interval_ms,
                       (uint64_t)conf->authz.reload_interval_ms);
        R.poll_started = true;
    }
    return 0;
}
