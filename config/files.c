/* Policy files read from disk for core's in-memory loaders (files.h). */
#include "files.h"

#include <stdlib.h>

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
