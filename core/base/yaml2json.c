/* YAML to JSON (yaml2json.h): one pass over libyaml's events writes the JSON text and records,
 * for every key and value, where it came from. The JSON grammar is produced here and
 * checked again by ag_json_parse, so nothing the YAML side lets through reaches a loader
 * unvalidated. Never evaluates aliases: an alias stops the conversion. */
#include "base/yaml2json.h"

#include <regex.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define YAML_STR_TAG "tag:yaml.org,2002:str"

typedef struct {
    bool map;        /* mapping, else sequence */
    bool want_value; /* mapping: a key was written, its value comes next */
    int count;
} frame_t;

typedef struct {
    ag_yaml_json_t *out;
    const regex_t *numbers; /* number_re */
    frame_t st[AG_YAML_MAX_DEPTH];
    int depth;
    int ndocs;
    const char *msg;
    ag_err err;
    yaml_mark_t at;
    ag_str_t in; /* the whole input (reader errors give an offset only) */
} conv_t;

typedef enum { PLAIN_STR, PLAIN_NULL, PLAIN_TRUE, PLAIN_FALSE, PLAIN_NUM, PLAIN_AMBIG } plain_t;

static ag_err refuse(conv_t *c, yaml_mark_t at, ag_err err, const char *msg)
{
    c->msg = msg;
    c->at = at;
    c->err = err;
    return err;
}

static bool one_of(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

/* JSON's number grammar (RFC 8259 §6), exactly. */
static bool json_number(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9')
            s++;
    else
        return false;
    if (*s == '.') {
        if (!(*++s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

/* What some YAML reader types as a number or a timestamp (YAML 1.1 int, float and
 * timestamp, YAML 1.2 core int and float): one POSIX ERE, alternatives in that order. */
static const char number_re[] =
    "^([-+]?(0b[01_]+|0[0-7_]+|0|[1-9][0-9_]*|0x[0-9a-fA-F_]+|[1-9][0-9_]*(:[0-5]?[0-9])+)"
    "|[-+]?([0-9][0-9_]*)?\\.[0-9.]*([eE][-+][0-9]+)?"
    "|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\\.[0-9_]*"
    "|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)"
    "|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(([Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(\\.[0-9]*)?"
    "([ \t]*Z|[-+][0-9]{1,2}(:[0-9]{2})?)?)?"
    "|[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"
    "|[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?)$";

/* number_re compiled once per process (compiling costs ~110 us, more than converting a small
 * policy file); regexec on it is thread-safe. A racing loser frees its copy. Process
 * lifetime: never freed. */
static const regex_t *numbers_regex(void)
{
    static _Atomic(regex_t *) compiled;
    regex_t *r = atomic_load_explicit(&compiled, memory_order_acquire), *none = NULL;
    if (r)
        return r;
    if (!(r = malloc(sizeof *r)) || regcomp(r, number_re, REG_EXTENDED | REG_NOSUB) != 0) {
        free(r);
        return NULL;
    }
    if (atomic_compare_exchange_strong(&compiled, &none, r))
        return r;
    regfree(r);
    free(r);
    return none; /* another thread published first */
}

static plain_t resolve_plain(const regex_t *numbers, const char *s)
{
    static const char *const nul[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const yes[] = {"true", "True", "TRUE", NULL};
    static const char *const no[] = {"false", "False", "FALSE", NULL};
    static const char *const yaml11[] = {"yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON",
                                         "off", "Off", "OFF", "y",  "Y",  "n",  "N",  NULL};
    if (one_of(s, nul))
        return PLAIN_NULL;
    if (one_of(s, yes))
        return PLAIN_TRUE;
    if (one_of(s, no))
        return PLAIN_FALSE;
    if (json_number(s))
        return PLAIN_NUM;
    if (one_of(s, yaml11) || (strchr("+-.0123456789", *s) && !regexec(numbers, s, 0, NULL, 0)))
        return PLAIN_AMBIG;
    return PLAIN_STR;
}

static ag_err put(conv_t *c, const char *s, size_t n)
{
    ag_err err = ag_buf_append(&c->out->json, s, n);
    return err ? refuse(c, c->at, err, "converted document exceeds the size limit") : 0;
}

static ag_err mark(conv_t *c, yaml_mark_t at)
{
    ag_json_posmap_t *m = &c->out->map;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 256;
        ag_json_mark_t *v = realloc(m->v, cap * sizeof *v);
        if (!v)
            return refuse(c, at, AG_E_NOMEM, NULL);
        m->v = v, m->cap = cap;
    }
    m->v[m->n++] = (ag_json_mark_t){c->out->json.n, (int)at.line + 1, (int)at.column + 1};
    return 0;
}

static ag_err put_string(conv_t *c, const yaml_event_t *ev)
{
    ag_str_t s = ag_str_make((const char *)ev->data.scalar.value, ev->data.scalar.length);
    ag_err err = ag_json_write_str(&c->out->json, s);
    return err ? refuse(c, ev->start_mark, err, "converted document exceeds the size limit") : 0;
}

/* The JSON for a scalar value: plain scalars resolved (yaml2json.h), the rest strings. */
static ag_err put_scalar(conv_t *c, const yaml_event_t *ev, bool key)
{
    const char *tag = (const char *)ev->data.scalar.tag, *v = (const char *)ev->data.scalar.value;
    if (tag && strcmp(tag, YAML_STR_TAG) != 0)
        return refuse(c, ev->start_mark, AG_E_UNSUPPORTED,
                      "tags other than !!str are not supported");
    if (tag || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return put_string(c, ev);
    if (strlen(v) != ev->data.scalar.length)
        return put_string(c, ev); /* a plain scalar cannot hold NUL; never resolve past one */
    plain_t kind = resolve_plain(c->numbers, v);
    if (key && strcmp(v, "<<") == 0)
        return refuse(c, ev->start_mark, AG_E_UNSUPPORTED, "merge keys (<<) are not supported");
    if (kind == PLAIN_AMBIG)
        return refuse(c, ev->start_mark, AG_E_PARSE,
                      "plain scalar is typed differently by YAML 1.1 and 1.2: quote it");
    if (key && kind != PLAIN_STR)
        return refuse(c, ev->start_mark, AG_E_PARSE, "a mapping key must be a string: quote it");
    switch (kind) {
    case PLAIN_NULL:
        return put(c, "null", 4);
    case PLAIN_TRUE:
        return put(c, "true", 4);
    case PLAIN_FALSE:
        return put(c, "false", 5);
    case PLAIN_NUM:
        return put(c, v, ev->data.scalar.length);
    default:
        return put_string(c, ev);
    }
}

static bool empty_root(conv_t *c, const yaml_event_t *ev)
{
    return ev->type == YAML_SCALAR_EVENT && !ev->data.scalar.tag &&
           ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           strlen((const char *)ev->data.scalar.value) == ev->data.scalar.length &&
           resolve_plain(c->numbers, (const char *)ev->data.scalar.value) == PLAIN_NULL;
}

/* Writes what comes before a node (separator, or a whole key) and its position.
 * Returns 1 when the event was a mapping key and is fully written, 2 when the node is an
 * empty document to leave out, 0 when the caller writes the node, < 0 on error. */
static int before_node(conv_t *c, const yaml_event_t *ev)
{
    ag_err err = 0;
    if (c->depth == 0) {
        if (empty_root(c, ev))
            return 2;
        if (c->ndocs++ && (err = put(c, ",", 1)))
            return err;
        return mark(c, ev->start_mark);
    }
    frame_t *f = &c->st[c->depth - 1];
    if (f->map && !f->want_value) {
        if (ev->type != YAML_SCALAR_EVENT)
            return refuse(c, ev->start_mark, AG_E_UNSUPPORTED, "mapping keys must be scalars");
        if ((f->count && (err = put(c, ",", 1))) || (err = mark(c, ev->start_mark)) ||
            (err = put_scalar(c, ev, true)) || (err = put(c, ":", 1)))
            return err;
        f->want_value = true;
        return 1;
    }
    if (f->map)
        f->want_value = false;
    else if (f->count && (err = put(c, ",", 1)))
        return err;
    f->count++;
    return mark(c, ev->start_mark);
}

static ag_err on_event(conv_t *c, const yaml_event_t *ev)
{
    int rc;
    switch (ev->type) {
    case YAML_STREAM_START_EVENT:
        return put(c, "[", 1);
    case YAML_STREAM_END_EVENT:
        return put(c, "]", 1);
    case YAML_ALIAS_EVENT:
        return refuse(c, ev->start_mark, AG_E_UNSUPPORTED, "aliases (*name) are not supported");
    case YAML_SCALAR_EVENT:
        rc = before_node(c, ev);
        return rc < 0 ? rc : rc ? 0 : put_scalar(c, ev, false);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if ((rc = before_node(c, ev)) < 0)
            return rc;
        if (c->depth == AG_YAML_MAX_DEPTH)
            return refuse(c, ev->start_mark, AG_E_TOO_DEEP, "nesting too deep");
        if (ev->type == YAML_MAPPING_START_EVENT && ev->data.mapping_start.tag)
            return refuse(c, ev->start_mark, AG_E_UNSUPPORTED,
                          "tags on mappings are not supported");
        if (ev->type == YAML_SEQUENCE_START_EVENT && ev->data.sequence_start.tag)
            return refuse(c, ev->start_mark, AG_E_UNSUPPORTED,
                          "tags on sequences are not supported");
        c->st[c->depth++] = (frame_t){.map = ev->type == YAML_MAPPING_START_EVENT};
        return put(c, c->st[c->depth - 1].map ? "{" : "[", 1);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        c->depth--;
        return put(c, ev->type == YAML_MAPPING_END_EVENT ? "}" : "]", 1);
    default:
        return 0; /* document start/end, no event */
    }
}

/* The position of byte <offset> of the input: a reader error (invalid UTF-8, a control
 * character) sets problem_offset, not problem_mark, which would point at 1:1. */
static yaml_mark_t offset_mark(ag_str_t in, size_t offset)
{
    yaml_mark_t m = {.index = offset};
    for (size_t i = 0; i < offset && i < in.n; i++)
        if (in.p[i] == '\n')
            m.line++, m.column = 0;
        else
            m.column++;
    return m;
}

static ag_err parser_error(conv_t *c, const yaml_parser_t *p)
{
    yaml_mark_t at =
        p->error == YAML_READER_ERROR ? offset_mark(c->in, p->problem_offset) : p->problem_mark;
    if (p->error == YAML_MEMORY_ERROR)
        return refuse(c, at, AG_E_NOMEM, NULL);
    return refuse(c, at, AG_E_PARSE, p->problem ? p->problem : "malformed YAML");
}

ag_err ag_yaml_to_json(ag_str_t yaml, size_t max_bytes, ag_yaml_json_t *out, ag_json_error_t *e)
{
    conv_t c = {.out = out, .in = yaml};
    yaml_parser_t parser;
    ag_err err = 0;
    *out = (ag_yaml_json_t){.json = AG_BUF_INIT(max_bytes)};
    if (!(c.numbers = numbers_regex()) || !yaml_parser_initialize(&parser))
        return AG_E_NOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)(yaml.p ? yaml.p : ""), yaml.n);
    for (bool done = false; !done && !err;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            err = parser_error(&c, &parser);
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        err = on_event(&c, &ev);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    if (err && e)
        *e = (ag_json_error_t){.offset = c.at.index,
                               .line = (int)c.at.line + 1,
                               .col = (int)c.at.column + 1,
                               .msg = c.msg};
    return err;
}

void ag_yaml_json_dispose(ag_yaml_json_t *y)
{
    ag_buf_dispose(&y->json);
    ag_json_posmap_dispose(&y->map);
}

ag_err ag_yaml_json_parse(const ag_yaml_json_t *y, ag_json_t *doc, const ag_json_limits_t *lim,
                          ag_arena_t *arena, ag_json_error_t *e)
{
    ag_err err = ag_json_parse(doc, ag_buf_str(&y->json), lim, arena, e);
    if (err && e)
        ag_json_posmap_find(&y->map, e->offset, &e->line, &e->col);
    doc->posmap = &y->map;
    return err;
}

bool ag_yaml_is_yaml_name(const char *name)
{
    size_t n = strlen(name);
    return (n > 5 && strcasecmp(name + n - 5, ".yaml") == 0) ||
           (n > 4 && strcasecmp(name + n - 4, ".yml") == 0);
}
