/* kubeconfig writing for `authgate kubeconfig` (proxy/cmd/cmd_kubeconfig.c): one cluster (the
 * gateway), one user whose exec plugin is `authgate login`, one context joining them,
 * merged into an existing kubeconfig (YAML or JSON, read through yaml2json.c) by name:
 * entries of the same name are replaced, every other entry and top-level member is kept
 * byte for byte (as JSON), and current-context becomes ours. The output is JSON, which
 * kubectl reads as it reads YAML. Bytes in, bytes out: no I/O here. */
#ifndef AG_KUBECONFIG_H
#define AG_KUBECONFIG_H

#include <stdbool.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "base/str.h"

#define AG_KUBECONFIG_MAX_BYTES (4u << 20) /* a kubeconfig of thousands of clusters */

typedef struct {
    const char *name;            /* cluster, user and context name */
    const char *server;          /* https://gateway:port */
    const char *ca_data;         /* base64 PEM (certificate-authority-data), or NULL */
    const char *tls_server_name; /* or NULL */
    const char *namespace_;      /* the context's namespace, or NULL */
    const char *command;         /* the exec plugin's command (authgate's path) */
    const char *const *args;     /* its arguments, NULL-terminated ("login", ...) */
} ag_kubeconfig_entry_t;

/* Merges <e> into <existing> (empty: a new kubeconfig) and appends the result to <out>.
 * AG_E_PARSE (with <errinfo>) when <existing> is not a kubeconfig: not one mapping, or
 * clusters/users/contexts that are not lists of named mappings. */
ag_err ag_kubeconfig_merge(ag_str_t existing, const ag_kubeconfig_entry_t *e, ag_buf_t *out,
                           ag_json_error_t *errinfo);

#endif
