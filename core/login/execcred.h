/* The kubectl exec credential plugin protocol (client.authentication.k8s.io v1 and
 * v1beta1 ExecCredential), for `authgate login`: reading KUBERNETES_EXEC_INFO and
 * writing the one JSON object kubectl reads from the plugin's stdout. No I/O here.
 * Strings parsed live in the caller's arena. */
#ifndef AG_EXECCRED_H
#define AG_EXECCRED_H

#include <stdbool.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"

#define AG_EXECCRED_V1 "client.authentication.k8s.io/v1"
#define AG_EXECCRED_V1BETA1 "client.authentication.k8s.io/v1beta1"

typedef struct {
    const char *api_version; /* AG_EXECCRED_V1 or AG_EXECCRED_V1BETA1 (static) */
    bool interactive;        /* spec.interactive: kubectl has a person on a terminal */
} ag_execcred_info_t;

/* Reads KUBERNETES_EXEC_INFO's value: kind ExecCredential, a known apiVersion, and
 * spec.interactive (required in v1; false when absent in v1beta1). AG_E_UNSUPPORTED for
 * another apiVersion, AG_E_PARSE for any other shape. */
ag_err ag_execcred_parse_info(ag_str_t text, ag_arena_t *arena, ag_execcred_info_t *out);

/* Appends {"apiVersion":..,"kind":"ExecCredential","status":{"token":..,
 * "expirationTimestamp":RFC 3339}} and a newline. */
ag_err ag_execcred_write(ag_buf_t *out, const char *api_version, ag_str_t token,
                         long long expires_at);

#endif
