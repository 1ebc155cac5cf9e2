/* Files read from disk for core's in-memory loaders and parsers (files.h). */
#include "files.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/yaml2json.h"

ag_err ag_buf_read_file(ag_buf_t *b, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return AG_E_IO;
    ag_err err = 0;
    char chunk[16384];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if ((err = ag_buf_append(b, chunk, got)) != 0)
            break;
    }
    if (!err && ferror(f))
        err = AG_E_IO;
    if (!err && !b->p)
        err = ag_buf_reserve(b, 0); /* empty file: still a valid empty string */
    fclose(f);
    return err;
}

ag_err ag_issuers_parse(ag_cfg_t *cfg, ag_json_ref arr, const char *path, const char *config_dir,
                        ag_issuer_set_t **out)
{
    return ag_issuers_parse_with(cfg, arr, path, config_dir, ag_buf_read_file, out);
}

ag_err ag_graph_creds_load(const ag_graph_cfg_t *c, ag_graph_creds_t **out)
{
    return ag_graph_creds_load_with(c, ag_buf_read_file, out);
}

/* Reads <n> files into <bufs> and describes them in <srcs>. */
static ag_err read_files(const char *const *paths, int n, ag_buf_t *bufs, ag_azrbac_src_t *srcs,
                         ag_buf_t *errmsg)
{
    for (int i = 0; i < n; i++) {
        bufs[i] = AG_BUF_INIT(AG_AZRBAC_MAX_FILE_BYTES);
        ag_err err = ag_buf_read_file(&bufs[i], paths[i]);
        if (err) {
            if (errmsg && errmsg->n == 0)
                ag_buf_printf(errmsg, "%s: %s", paths[i], ag_err_str(err));
            return err;
        }
        srcs[i] = (ag_azrbac_src_t){ag_buf_str(&bufs[i]), paths[i], false};
    }
    return 0;
}

ag_err ag_azrbac_load(const char *const *definition_files, int ndef,
                      const char *const *assignment_files, int nasg, const char *const *deny_files,
                      int ndeny, const ag_azrbac_opts_t *opts, ag_azrbac_t **out, ag_buf_t *errmsg)
{
    int total = (ndef > 0 ? ndef : 0) + (nasg > 0 ? nasg : 0) + (ndeny > 0 ? ndeny : 0);
    ag_buf_t *bufs = calloc((size_t)total + 1, sizeof *bufs);
    ag_azrbac_src_t *srcs = calloc((size_t)total + 1, sizeof *srcs);
    ag_err err = AG_E_NOMEM;
    if (!bufs || !srcs || ndef < 0 || nasg < 0 || ndeny < 0) {
        err = bufs && srcs ? AG_E_INVAL : AG_E_NOMEM;
        goto out;
    }
    if ((err = read_files(definition_files, ndef, bufs, srcs, errmsg)) ||
        (err = read_files(assignment_files, nasg, bufs + ndef, srcs + ndef, errmsg)) ||
        (err = read_files(deny_files, ndeny, bufs + ndef + nasg, srcs + ndef + nasg, errmsg)))
        goto out;
    ag_azrbac_srcs_t in = {srcs, srcs + ndef, srcs + ndef + nasg, ndef, nasg, ndeny};
    err = ag_azrbac_load_srcs(&in, opts, out, errmsg);
out:
    for (int i = 0; bufs && i < total; i++)
        ag_buf_dispose(&bufs[i]);
    free(bufs);
    free(srcs);
    return err;
}

/* ---- RBAC policy files: a document source (rbac.h ag_rbac_docs_t) over paths ---------- */

typedef struct {
    const char *const *paths;
    int npaths, i; /* paths[i] is the next path */
    char **names;  /* the files of the directory being read, sorted */
    int n, k;      /* names[k] is the next of them */
    ag_buf_t text; /* the document last read */
    ag_buf_t *errmsg;
} rbac_walk_t;

static int by_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_policy_name(const char *name)
{
    size_t len = strlen(name);
    bool json = len > 5 && strcmp(name + len - 5, ".json") == 0;
    return name[0] != '.' && (json || ag_yaml_is_yaml_name(name));
}

/* Appends "dir/<name>" to (*names)[*n]. */
static ag_err push_name(char ***names, int *n, const char *dir, const char *name)
{
    if (*n >= AG_RBAC_MAX_FILES)
        return AG_E_TOO_BIG;
    char **nn = realloc(*names, (size_t)(*n + 1) * sizeof *nn);
    if (!nn)
        return AG_E_NOMEM;
    *names = nn;
    ag_buf_t path = AG_BUF_INIT(PATH_MAX);
    if (ag_buf_printf(&path, "%s/%s", dir, name)) {
        ag_buf_dispose(&path);
        return AG_E_NOMEM;
    }
    (*names)[(*n)++] = path.p;
    return 0;
}

/* The policy files (*.json, *.yaml, *.yml; not hidden) of directory <dir>, sorted, as
 * malloc'ed "dir/name" strings. */
static ag_err list_dir(const char *dir, char ***names, int *n, ag_buf_t *errmsg)
{
    DIR *d = opendir(dir);
    ag_err err = 0;
    *names = NULL, *n = 0;
    if (!d) {
        if (errmsg)
            ag_buf_printf(errmsg, "%s: cannot open directory", dir);
        return AG_E_IO;
    }
    struct dirent *e;
    while (!err && (e = readdir(d)) != NULL)
        if (is_policy_name(e->d_name))
            err = push_name(names, n, dir, e->d_name);
    closedir(d);
    if (err && errmsg)
        ag_buf_printf(errmsg, "%s: %s", dir, ag_err_str(err));
    if (*n > 1) /* an empty directory leaves *names NULL, which qsort must not get */
        qsort(*names, (size_t)*n, sizeof **names, by_str);
    return err;
}

static void drop_names(rbac_walk_t *w)
{
    for (int k = 0; k < w->n; k++)
        free(w->names[k]);
    free(w->names);
    w->names = NULL, w->n = w->k = 0;
}

static ag_err read_doc(rbac_walk_t *w, const char *path, ag_str_t *text, const char **name)
{
    ag_buf_clear(&w->text);
    ag_err err = ag_buf_read_file(&w->text, path);
    if (err) {
        if (w->errmsg)
            ag_buf_printf(w->errmsg, "%s: %s", path,
                          err == AG_E_TOO_BIG ? "file exceeds the policy size limit"
                                              : "cannot read file");
        return err;
    }
    *text = ag_buf_str(&w->text), *name = path;
    return 0;
}

static ag_err walk_next(void *ctx, ag_str_t *text, const char **name)
{
    rbac_walk_t *w = ctx;
    *name = NULL;
    while (w->k >= w->n) {
        drop_names(w);
        if (w->i >= w->npaths)
            return 0;
        const char *path = w->paths[w->i++];
        struct stat st;
        if (stat(path, &st) != 0) {
            if (w->errmsg)
                ag_buf_printf(
                    w->errmsg,
                    "%s: no such file or directory (named in authorization.rbac.policies)", path);
            return AG_E_IO;
        }
        if (!S_ISDIR(st.st_mode))
            return read_doc(w, path, text, name);
        ag_err err = list_dir(path, &w->names, &w->n, w->errmsg);
        if (err)
            return err;
    }
    return read_doc(w, w->names[w->k++], text, name);
}

static void walk_begin(rbac_walk_t *w, ag_rbac_docs_t *src, const char *const *paths, int npaths,
                       ag_buf_t *errmsg)
{
    *w = (rbac_walk_t){.paths = paths, .npaths = npaths, .errmsg = errmsg};
    w->text = AG_BUF_INIT(AG_RBAC_MAX_FILE_BYTES);
    *src = (ag_rbac_docs_t){walk_next, w};
}

static void walk_end(rbac_walk_t *w)
{
    drop_names(w);
    ag_buf_dispose(&w->text);
}

ag_err ag_rbac_load(const char *const *paths, int npaths, const ag_rbac_opts_t *opts,
                    ag_rbac_t **out, ag_buf_t *errmsg)
{
    rbac_walk_t w;
    ag_rbac_docs_t src;
    walk_begin(&w, &src, paths, npaths, errmsg);
    ag_err err = ag_rbac_load_from(&src, opts, out, errmsg);
    walk_end(&w);
    return err;
}

ag_err ag_rbac_set_put_files(ag_rbac_set_t *s, const char *const *paths, int npaths, int *refused,
                             ag_buf_t *errmsg)
{
    rbac_walk_t w;
    ag_rbac_docs_t src;
    walk_begin(&w, &src, paths, npaths, errmsg);
    ag_err err = ag_rbac_set_put_from(s, &src, refused, errmsg);
    walk_end(&w);
    return err;
}
