/* Policy files read from disk and handed to core's in-memory loaders: core/ does no file
 * or directory I/O (the build checks it, CMakeLists.txt ag_seal), so the readers live here,
 * next to the configuration that names the files. Names and messages are the ones the
 * loaders had when they read the files themselves. */
#ifndef AG_FILES_H
#define AG_FILES_H

#include "authn/issuer.h"
#include "authz/azure/azrbac.h"
#include "authz/rbac/rbac.h"
#include "authz/rbac/rbac_set.h"
#include "graph/graph.h"

/* Reads the whole file at <path>, appended to <b>; AG_E_TOO_BIG past b->max, AG_E_IO
 * otherwise (an empty file leaves a valid empty string). The one file reader: base/buf.h
 * ag_read_file_fn for the core parsers that take one. */
ag_err ag_buf_read_file(ag_buf_t *b, const char *path);

/* Loads an Azure RBAC snapshot from files (JSON, or YAML by extension): role definitions
 * (custom roles; the built-in ones are compiled in), role assignments and deny
 * assignments, as ag_azrbac_load_srcs does from memory. A file that cannot be read fails
 * the load with "PATH: reason" in <errmsg> (may be NULL) and AG_E_IO / AG_E_TOO_BIG. *out
 * is a new snapshot with one reference (owned by the caller). */
ag_err ag_azrbac_load(const char *const *definition_files, int ndef,
                      const char *const *assignment_files, int nasg, const char *const *deny_files,
                      int ndeny, const ag_azrbac_opts_t *opts, ag_azrbac_t **out, ag_buf_t *errmsg);

/* The policy documents <paths> name, for core's RBAC loaders: each path a file, or a
 * directory whose *.json, *.yaml and *.yml files (not hidden; at most AG_RBAC_MAX_FILES)
 * are read in name order. Files are read one at a time, as the loader asks for them; a
 * missing path, an unreadable directory or file stops the load with AG_E_IO (AG_E_TOO_BIG
 * over AG_RBAC_MAX_FILE_BYTES) and "PATH: reason" in <errmsg>. */
ag_err ag_rbac_load(const char *const *paths, int npaths, const ag_rbac_opts_t *opts,
                    ag_rbac_t **out, ag_buf_t *errmsg);
ag_err ag_rbac_set_put_files(ag_rbac_set_t *s, const char *const *paths, int npaths, int *refused,
                             ag_buf_t *errmsg);

/* ag_issuers_parse_with (authn/issuer.h) reading key files with ag_buf_read_file. */
ag_err ag_issuers_parse(ag_cfg_t *cfg, ag_json_ref arr, const char *path, const char *config_dir,
                        ag_issuer_set_t **out);

/* ag_graph_creds_load_with (graph/graph.h) reading the credential files with
 * ag_buf_read_file. */
ag_err ag_graph_creds_load(const ag_graph_cfg_t *c, ag_graph_creds_t **out);

#endif
