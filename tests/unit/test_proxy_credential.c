/* Tests for proxy/http/credential.c: token file validation, the first read at start, reloads
 * after a kubelet-style symlink swap and a plain rename, an invalid new file keeping the
 * old token (with the error counted), unchanged files not re-read, the poll timer on a
 * real loop, and readers on another thread seeing only whole snapshots while the control
 * thread publishes new ones. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "http/credential.h"
#include "runtime/metrics.h"
#include "testlib.h"

static char dir[64];

static void mkdir_tmp(void)
{
    snprintf(dir, sizeof dir, "/tmp/ag-cred.XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
}

static void write_file(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fwrite(text, 1, n, f);
        fclose(f);
    }
}

/* Writes <text> to a new file and renames it over <name> in dir (an atomic replace). */
static void replace(const char *name, const char *text)
{
    char tmp[128], path[128];
    snprintf(tmp, sizeof tmp, "%s/.new", dir);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_file(tmp, text, strlen(text));
    CHECK(rename(tmp, path) == 0);
}

static void rm_tmp(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

static bool cred_is(const ag_credential_t *c, const char *want)
{
    ag_str_t s = ag_credential_enter(c);
    bool same = s.n == strlen(want) && memcmp(s.p, want, s.n) == 0;
    ag_credential_leave(c);
    return same;
}

TEST(credential_parse_trims_trailing_newline_and_keeps_the_token)
{
    ag_str_t t;
    CHECK_EQ(ag_credential_parse(AG_STR("abc.DEF-123_~\r\n \n"), &t), 0);
    CHECK_SLICE(t, "abc.DEF-123_~");
    CHECK_EQ(ag_credential_parse(AG_STR("x"), &t), 0);
    CHECK_SLICE(t, "x");
}

TEST(credential_parse_rejects_empty_spaces_controls_and_non_ascii)
{
    ag_str_t t = AG_STR_NULL;
    CHECK_EQ(ag_credential_parse(AG_STR(""), &t), AG_E_PARSE);
    CHECK_EQ(ag_credential_parse(AG_STR("\n\r\n  "), &t), AG_E_PARSE);
    CHECK_EQ(ag_credential_parse(AG_STR(" leading"), &t), AG_E_PARSE);
    CHECK_EQ(ag_credential_parse(AG_STR("two words"), &t), AG_E_PARSE);
    CHECK_EQ(ag_credential_parse(AG_STR("inject\r\nX-Evil: 1"), &t), AG_E_PARSE);
    CHECK_EQ(ag_credential_parse(ag_str_make("nul\0byte", 8), &t), AG_E_PARSE);
    CHECK_EQ(ag_credential_parse(AG_STR("tab\tin"), &t), AG_E_PARSE);
    CHECK_EQ(ag_credential_parse(AG_STR("caf\xc3\xa9"), &t), AG_E_PARSE);
    CHECK_EQ(ag_credential_parse(AG_STR("del\x7f"), &t), AG_E_PARSE);
    CHECK(t.p == NULL); /* untouched on failure */
}

TEST(credential_parse_bounds_the_size)
{
    size_t n = AG_CREDENTIAL_MAX_BYTES + 1;
    char *big = malloc(n + 1);
    ag_str_t t;
    memset(big, 'a', n);
    big[n] = '\n';
    CHECK_EQ(ag_credential_parse(ag_str_make(big, n + 1), &t), AG_E_TOO_BIG);
    CHECK_EQ(ag_credential_parse(ag_str_make(big, n - 1), &t), 0);
    CHECK_EQ(t.n, AG_CREDENTIAL_MAX_BYTES);
    free(big);
}

TEST(credential_create_reports_a_missing_or_invalid_file)
{
    ag_credential_t *c = NULL;
    ag_buf_t msg = AG_BUF_INIT(1024);
    char path[128];
    mkdir_tmp();
    snprintf(path, sizeof path, "%s/token", dir);
    CHECK(ag_credential_create(path, &c, &msg) != 0);
    CHECK(c == NULL);
    CHECK(msg.n > 20 && memcmp(msg.p, "upstream.token_file ", 20) == 0);
    write_file(path, "bad token\n", 10);
    ag_buf_clear(&msg);
    CHECK_EQ(ag_credential_create(path, &c, &msg), AG_E_PARSE);
    CHECK(c == NULL);
    write_file(path, "good\n", 5);
    CHECK_EQ(ag_credential_create(path, &c, &msg), 0);
    CHECK(cred_is(c, "Bearer good"));
    CHECK_EQ(ag_credential_generation(c), 1);
    ag_credential_destroy(c);
    CHECK_EQ(ag_credential_enter(NULL).n, 0);
    ag_credential_leave(NULL);
    ag_buf_dispose(&msg);
    rm_tmp();
}

/* kubelet's AtomicWriter: token -> ..data/token, ..data -> ..<timestamp>; an update
 * writes a new timestamped directory and renames a new ..data symlink over the old. */
TEST(credential_reload_follows_a_symlink_swap)
{
    ag_credential_t *c = NULL;
    ag_buf_t msg = AG_BUF_INIT(1024);
    char p[160], q[160];
    mkdir_tmp();
    snprintf(p, sizeof p, "%s/..v1", dir);
    CHECK(mkdir(p, 0700) == 0);
    snprintf(p, sizeof p, "%s/..v1/token", dir);
    write_file(p, "one\n", 4);
    snprintf(p, sizeof p, "%s/..data", dir);
    CHECK(symlink("..v1", p) == 0);
    snprintf(p, sizeof p, "%s/token", dir);
    CHECK(symlink("..data/token", p) == 0);
    CHECK_EQ(ag_credential_create(p, &c, &msg), 0);
    CHECK(cred_is(c, "Bearer one"));
    ag_str_t before = ag_credential_enter(c);    /* held across the reload below */
    CHECK_EQ(ag_credential_reload(c, false), 0); /* nothing changed */
    CHECK_EQ(ag_credential_generation(c), 1);

    snprintf(p, sizeof p, "%s/..v2", dir);
    CHECK(mkdir(p, 0700) == 0);
    snprintf(p, sizeof p, "%s/..v2/token", dir);
    write_file(p, "two\n", 4);
    snprintf(p, sizeof p, "%s/..data_tmp", dir);
    CHECK(symlink("..v2", p) == 0);
    snprintf(q, sizeof q, "%s/..data", dir);
    CHECK(rename(p, q) == 0);
    CHECK_EQ(ag_credential_reload(c, false), 0);
    CHECK_EQ(ag_credential_generation(c), 2);
    CHECK(memcmp(before.p, "Bearer one", before.n) == 0); /* retired, not yet freed */
    ag_credential_leave(c);
    CHECK(cred_is(c, "Bearer two"));
    ag_credential_destroy(c);
    ag_buf_dispose(&msg);
    rm_tmp();
}

TEST(credential_invalid_new_file_keeps_the_old_token)
{
    ag_credential_t *c = NULL;
    ag_buf_t msg = AG_BUF_INIT(1024);
    char path[128];
    mkdir_tmp();
    snprintf(path, sizeof path, "%s/token", dir);
    replace("token", "first\n");
    CHECK_EQ(ag_credential_create(path, &c, &msg), 0);
    replace("token", "");
    CHECK_EQ(ag_credential_reload(c, false), AG_E_PARSE);
    CHECK(cred_is(c, "Bearer first"));
    CHECK_EQ(ag_credential_reload(c, false), 0); /* the same broken file: not again */
    replace("token", "has space\n");
    CHECK_EQ(ag_credential_reload(c, false), AG_E_PARSE);
    CHECK(cred_is(c, "Bearer first"));
    CHECK(unlink(path) == 0);
    CHECK(ag_credential_reload(c, false) != 0); /* gone: an error once, not every tick */
    CHECK_EQ(ag_credential_reload(c, false), 0);
    CHECK(cred_is(c, "Bearer first"));
    replace("token", "second\n");
    CHECK_EQ(ag_credential_reload(c, false), 0);
    CHECK(cred_is(c, "Bearer second"));
    CHECK_EQ(ag_credential_generation(c), 2);
    ag_credential_destroy(c);
    ag_buf_dispose(&msg);
    rm_tmp();
}

TEST(credential_same_token_is_not_republished)
{
    ag_credential_t *c = NULL;
    ag_buf_t msg = AG_BUF_INIT(1024);
    char path[128];
    mkdir_tmp();
    snprintf(path, sizeof path, "%s/token", dir);
    replace("token", "same\n");
    CHECK_EQ(ag_credential_create(path, &c, &msg), 0);
    replace("token", "same"); /* new inode, same token */
    CHECK_EQ(ag_credential_reload(c, false), 0);
    CHECK_EQ(ag_credential_reload(c, true), 0); /* SIGHUP */
    CHECK_EQ(ag_credential_generation(c), 1);
    ag_credential_destroy(c);
    ag_buf_dispose(&msg);
    rm_tmp();
}

static void close_all(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static int64_t metric_value(const char *name)
{
    ag_buf_t out = AG_BUF_INIT(1 << 20);
    int64_t v = -1;
    ag_metrics_render(&out);
    ag_str_t s = ag_buf_str(&out), key = ag_str_cstr(name);
    for (size_t i = 0; i + key.n < s.n; i++) {
        if ((i == 0 || s.p[i - 1] == '\n') && memcmp(s.p + i, key.p, key.n) == 0 &&
            s.p[i + key.n] == ' ') {
            v = strtoll(s.p + i + key.n + 1, NULL, 10);
            break;
        }
    }
    ag_buf_dispose(&out);
    return v;
}

/* The timer on a real loop picks up a rotation and an invalid file; both are counted. */
TEST(credential_poll_timer_reloads_and_counts)
{
    ag_credential_t *c = NULL;
    ag_buf_t msg = AG_BUF_INIT(1024);
    uv_loop_t loop;
    uv_timer_t keep;
    char path[128];
    mkdir_tmp();
    snprintf(path, sizeof path, "%s/token", dir);
    replace("token", "a1\n");
    ag_metrics_init();
    CHECK_EQ(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &keep); /* the credential timer is unref'd: keep the loop alive */
    uv_timer_start(&keep, on_tick, 5, 5);
    CHECK_EQ(ag_credential_create(path, &c, &msg), 0);
    CHECK_EQ(ag_credential_start(c, &loop, 10), 0);
    replace("token", "a2\n");
    for (int i = 0; i < 200 && ag_credential_generation(c) < 2; i++)
        uv_run(&loop, UV_RUN_ONCE);
    CHECK(cred_is(c, "Bearer a2"));
    CHECK_EQ(metric_value("authgate_upstream_credential_reloads_total"), 1);
    replace("token", "\x01\n");
    for (int i = 0; i < 200 && metric_value("authgate_upstream_credential_reload_errors_total") < 1;
         i++)
        uv_run(&loop, UV_RUN_ONCE);
    CHECK_EQ(metric_value("authgate_upstream_credential_reload_errors_total"), 1);
    CHECK(cred_is(c, "Bearer a2"));
    uv_walk(&loop, close_all, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(uv_loop_close(&loop), 0);
    ag_credential_destroy(c);
    ag_buf_dispose(&msg);
    rm_tmp();
}

/* Readers on another thread always see a whole "Bearer tok-N" while snapshots change
 * (under ASan a freed snapshot would be a use-after-free report). */
static atomic_bool stop_readers;
static atomic_int bad_reads, reads;

static void *reader(void *arg)
{
    const ag_credential_t *c = arg;
    while (!atomic_load(&stop_readers)) {
        ag_str_t s = ag_credential_enter(c);
        char copy[64];
        if (s.n < 11 || s.n >= sizeof copy || memcmp(s.p, "Bearer tok-", 11) != 0) {
            ag_credential_leave(c);
            atomic_fetch_add(&bad_reads, 1);
            continue;
        }
        memcpy(copy, s.p, s.n); /* what ag_forward_head does */
        ag_credential_leave(c);
        for (size_t i = 11; i < s.n; i++)
            if (copy[i] < '0' || copy[i] > '9')
                atomic_fetch_add(&bad_reads, 1);
        atomic_fetch_add(&reads, 1);
    }
    return NULL;
}

TEST(credential_readers_see_whole_snapshots_during_rotation)
{
    ag_credential_t *c = NULL;
    ag_buf_t msg = AG_BUF_INIT(1024);
    pthread_t th[2];
    char path[128], tok[32];
    mkdir_tmp();
    snprintf(path, sizeof path, "%s/token", dir);
    replace("token", "tok-0\n");
    CHECK_EQ(ag_credential_create(path, &c, &msg), 0);
    for (int i = 0; i < 2; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, reader, c), 0);
    for (int i = 1; i <= 40; i++) {
        snprintf(tok, sizeof tok, "tok-%d%s\n", i, i % 2 ? "0000000" : "");
        replace("token", tok);
        CHECK_EQ(ag_credential_reload(c, false), 0);
        usleep(500);
    }
    atomic_store(&stop_readers, true);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ(atomic_load(&bad_reads), 0);
    CHECK(atomic_load(&reads) > 0);
    CHECK_EQ(ag_credential_generation(c), 41);
    CHECK(cred_is(c, "Bearer tok-40"));
    ag_credential_destroy(c);
    ag_buf_dispose(&msg);
    rm_tmp();
}
