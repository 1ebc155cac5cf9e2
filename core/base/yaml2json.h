/* YAML policy input (over libyaml's event parser): RBAC manifests and `az -o yaml` exports
 * are converted to JSON text plus a position map, so the same strict loaders (rbac_load.c,
 * azrbac_load.c) read both formats and their FILE:LINE:COL errors point into the YAML. Bytes in,
 * bytes out: no I/O here.
 *
 * What YAML allows and two readers could take differently is refused with a position:
 * aliases (and so "billion laughs"), merge keys, tags other than !!str, complex keys, and
 * plain scalars that YAML 1.1 (go-yaml v2 behind sigs.k8s.io/yaml) and YAML 1.2 type
 * differently (yes/no/on/off/y/n, 0x1F, 012, 1_000, .inf, 1:30, unquoted dates). Plain
 * true/false, null/~/empty and JSON-grammar numbers become JSON bool, null and number;
 * every quoted or block scalar is a string. Duplicate keys are refused by the JSON reader
 * (after unescaping), with the YAML position of the mapping. */
#ifndef AG_YAML2JSON_H
#define AG_YAML2JSON_H

#include <stdbool.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "base/str.h"

#define AG_YAML_MAX_DEPTH 64

typedef struct {
    ag_buf_t json;        /* a JSON array: one element per non-empty YAML document */
    ag_json_posmap_t map; /* JSON offsets -> YAML line:col */
} ag_yaml_json_t;

/* Converts the YAML stream <yaml> (borrowed) into <out> (init'ed here; the caller
 * disposes it even on failure). The JSON text is bounded by <max_bytes>. On failure
 * returns AG_E_PARSE, AG_E_UNSUPPORTED, AG_E_TOO_DEEP, AG_E_TOO_BIG or AG_E_NOMEM and
 * fills <e> (line, col in the YAML; msg static or NULL). */
ag_err ag_yaml_to_json(ag_str_t yaml, size_t max_bytes, ag_yaml_json_t *out, ag_json_error_t *e);
void ag_yaml_json_dispose(ag_yaml_json_t *y);

/* ag_json_parse over the converted text, with <doc> mapped to YAML positions (doc borrows
 * <y>). A JSON error (a duplicate key) is reported at its YAML position in <e>. */
ag_err ag_yaml_json_parse(const ag_yaml_json_t *y, ag_json_t *doc, const ag_json_limits_t *lim,
                          ag_arena_t *arena, ag_json_error_t *e);

/* True when <name> ends in .yaml or .yml (any case): the policy file format follows the
 * name; everything else is JSON. */
bool ag_yaml_is_yaml_name(const char *name);

#endif
