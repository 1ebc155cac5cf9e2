/* Token cache of `authgate login` (login_cache.h): a directory descriptor checked once,
 * then every file reached with *at() calls relative to it and O_NOFOLLOW, so a path
 * swapped after the check cannot redirect a read or a write. */
#include "login/login_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/sha256.h"

#include <mbedtls/platform_util.h>

#define NAME_HEX 32            /* 128 bits of SHA-256 of the key */
#define ENTRY_MAX (64u * 1024) /* an entry is a few KiB of tokens */

struct ag_login_cache {
    int dfd, lock_fd;
    char name[NAME_HEX + 1];
};

static void say(char *why, size_t n, const char *fmt, const char *a, const char *b)
{
    snprintf(why, n, fmt, a, b);
}

/* Not ours, or writable by group/others: somebody else could plant a token. */
static bool unsafe(const struct stat *st)
{
    return st->st_uid != geteuid() || (st->st_mode & (S_IWGRP | S_IWOTH)) != 0;
}

/* mkdir -p <dir> with 0700 for what is created; existing components are left alone. */
static int make_dirs(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return ENAMETOOLONG;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return errno;
        *p = '/';
    }
    return mkdir(path, 0700) != 0 && errno != EEXIST ? errno : 0;
}

ag_err ag_login_cache_open(const char *dir, ag_str_t key, ag_login_cache_t **out, char *why,
                           size_t why_n)
{
    unsigned char sum[AG_SHA256_LEN];
    struct stat st;
    int e = make_dirs(dir);
    if (e) {
        say(why, why_n, "cannot create the token cache directory %s: %s", dir, strerror(e));
        return AG_E_IO;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fstat(dfd, &st) != 0) {
        say(why, why_n, "cannot open the token cache directory %s: %s", dir, strerror(errno));
        if (dfd >= 0)
            close(dfd);
        return AG_E_IO;
    }
    if (unsafe(&st)) {
        say(why, why_n, "refusing the token cache directory %s: %s", dir,
            "it is not owned by you or group/others can write it (chmod 700 it)");
        close(dfd);
        return AG_E_CONFIG;
    }
    ag_login_cache_t *c = calloc(1, sizeof *c);
    if (!c) {
        close(dfd);
        return AG_E_NOMEM;
    }
    c->dfd = dfd;
    c->lock_fd = -1;
    ag_sha256(key.p, key.n, sum);
    for (int i = 0; i < NAME_HEX / 2; i++)
        snprintf(c->name + 2 * i, 3, "%02x", sum[i]);
    *out = c;
    return 0;
}

void ag_login_cache_close(ag_login_cache_t *c)
{
    if (!c)
        return;
    if (c->lock_fd >= 0)
        close(c->lock_fd); /* drops the flock */
    close(c->dfd);
    free(c);
}

static void file_name(const ag_login_cache_t *c, const char *suffix, char out[64])
{
    snprintf(out, 64, "%s%s", c->name, suffix);
}

ag_err ag_login_cache_lock(ag_login_cache_t *c, void (*waiting)(void))
{
    char name[64];
    struct stat st;
    file_name(c, ".lock", name);
    int fd = openat(c->dfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return AG_E_IO;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || unsafe(&st)) {
        close(fd);
        return AG_E_CONFIG;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK) {
            close(fd);
            return AG_E_IO;
        }
        if (waiting)
            waiting();
        while (flock(fd, LOCK_EX) != 0)
            if (errno != EINTR) {
                close(fd);
                return AG_E_IO;
            }
    }
    c->lock_fd = fd;
    return 0;
}

static ag_err read_fd(int fd, ag_buf_t *b)
{
    char chunk[4096];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return AG_E_IO;
        if (n == 0)
            return 0;
        ag_err err = ag_buf_append(b, chunk, (size_t)n);
        if (err)
            return err;
    }
}

ag_err ag_login_cache_read(ag_login_cache_t *c, ag_arena_t *arena, ag_oauth_tokens_t *out,
                           char *why, size_t why_n)
{
    ag_buf_t text = AG_BUF_INIT(ENTRY_MAX);
    char name[64];
    struct stat st;
    ag_err err;
    file_name(c, ".json", name);
    int fd = openat(c->dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return AG_E_NOT_FOUND;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || unsafe(&st)) {
        say(why, why_n, "refusing the cached token file %s: %s", name,
            fd < 0 && errno != ELOOP ? strerror(errno)
                                     : "it is not a regular file you own that only you can "
                                       "write (remove it, or authgate login --logout)");
        err = fd < 0 && errno != ELOOP ? AG_E_IO : AG_E_CONFIG;
        goto out;
    }
    if ((err = read_fd(fd, &text)) != 0) {
        say(why, why_n, "cannot read the cached token file %s: %s", name, ag_err_str(err));
        goto out;
    }
    if ((err = ag_oauth_tokens_parse(ag_buf_str(&text), arena, out)) != 0) {
        say(why, why_n, "ignoring the cached token file %s: %s", name, "malformed");
        err = AG_E_PARSE;
        goto out;
    }
out:
    if (fd >= 0)
        close(fd);
    if (text.p)
        mbedtls_platform_zeroize(text.p, text.cap);
    ag_buf_dispose(&text);
    return err;
}

static ag_err write_all(int fd, ag_str_t s)
{
    while (s.n) {
        ssize_t n = write(fd, s.p, s.n);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return AG_E_IO;
        s = ag_str_sub(s, (size_t)n, s.n);
    }
    return 0;
}

ag_err ag_login_cache_write(ag_login_cache_t *c, const ag_oauth_tokens_t *t, char *why,
                            size_t why_n)
{
    ag_buf_t text = AG_BUF_INIT(ENTRY_MAX);
    char name[64], tmp[96];
    ag_err err;
    int fd = -1;
    file_name(c, ".json", name);
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", name, (long)getpid());
    if ((err = ag_oauth_tokens_write(&text, t)) != 0)
        goto out;
    unlinkat(c->dfd, tmp, 0); /* a leftover of a crashed run with our pid */
    fd = openat(c->dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    err = AG_E_IO;
    if (fd < 0 || fchmod(fd, 0600) != 0 || write_all(fd, ag_buf_str(&text)) != 0 || fsync(fd) != 0)
        goto out;
    if (close(fd) != 0) {
        fd = -1;
        goto out;
    }
    fd = -1;
    if (renameat(c->dfd, tmp, c->dfd, name) != 0)
        goto out;
    err = 0;
out:
    if (fd >= 0)
        close(fd);
    if (err) {
        unlinkat(c->dfd, tmp, 0);
        say(why, why_n, "cannot write the token cache entry %s: %s", name, strerror(errno));
    }
    if (text.p)
        mbedtls_platform_zeroize(text.p, text.cap);
    ag_buf_dispose(&text);
    return err;
}

ag_err ag_login_cache_remove(ag_login_cache_t *c)
{
    char name[64];
    file_name(c, ".json", name);
    return unlinkat(c->dfd, name, 0) == 0 || errno == ENOENT ? 0 : AG_E_IO;
}

/* "<32 hex>.json": an entry this cache wrote. Lock files stay: removing one that another
 * process holds would let a third lock a new file and run beside it. */
static bool ours(const char *n, const char **suffix)
{
    size_t i = 0;
    for (; i < NAME_HEX; i++)
        if (!((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'f')))
            return false;
    *suffix = n + NAME_HEX;
    return strcmp(*suffix, ".json") == 0;
}

ag_err ag_login_cache_remove_all(const char *dir, int *n, char *why, size_t why_n)
{
    ag_login_cache_t *c = NULL;
    const char *suffix;
    struct dirent *de;
    ag_err err = ag_login_cache_open(dir, AG_STR(""), &c, why, why_n);
    *n = 0;
    if (err)
        return err;
    DIR *d = fdopendir(dup(c->dfd));
    if (!d) {
        ag_login_cache_close(c);
        return AG_E_IO;
    }
    while ((de = readdir(d)))
        if (ours(de->d_name, &suffix) && unlinkat(c->dfd, de->d_name, 0) == 0)
            (*n)++;
    closedir(d);
    ag_login_cache_close(c);
    return 0;
}

ag_err ag_login_cache_default_dir(char *out, size_t n)
{
    const char *home = getenv("HOME");
    if (!home || !*home)
        return AG_E_NOT_FOUND;
    return snprintf(out, n, "%s/.kube/cache/authgate", home) < (int)n ? 0 : AG_E_TOO_BIG;
}
