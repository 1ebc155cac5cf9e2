/* What identifies the file behind a path, for following files that are rotated on disk
 * (a token file, a certificate): a rewrite changes size or times, a symlink swap (as in
 * Kubernetes secret volumes) or a rename changes the device/inode. stat() follows the
 * symlink, so it is the file the name points at now. */
#ifndef AG_FILEID_H
#define AG_FILEID_H

#include <stdbool.h>
#include <sys/stat.h>

typedef struct {
    bool ok;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
} ag_fileid_t;

static inline ag_fileid_t ag_fileid_stat(const char *path)
{
    ag_fileid_t id = {0};
    struct stat st;
    if (!path || stat(path, &st) != 0)
        return id;
    id.ok = true;
    id.dev = st.st_dev, id.ino = st.st_ino, id.size = st.st_size;
    id.mtime = st.st_mtim, id.ctime = st.st_ctim;
    return id;
}

static inline bool ag_fileid_same(const ag_fileid_t *a, const ag_fileid_t *b)
{
    return a->ok == b->ok && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

#endif
