#include "base/cfg.h"
#include "testlib.h"

typedef struct {
    ag_str_t url;
    long long pool, timeout_ms;
    bool tls;
} sample_t;

static ag_err load(const char *text, ag_cfg_t *cfg, ag_arena_t *a, sample_t *s)
{
    ag_err err = ag_cfg_init(cfg, "gw.json", ag_str_cstr(text), a);
    if (err)
        return err;
    ag_cfg_obj_t top, up;
    ag_json_ref upref;
    static const char *const modes[] = {"off", "on", NULL};
    int mode = 0;
    if ((err = ag_cfg_obj_begin(cfg, ag_json_root(cfg->doc), "", &top)) ||
        (err = ag_cfg_value(&top, "upstream", AG_CFG_REQUIRED, &upref)) ||
        (err = ag_cfg_enum(&top, "mode", AG_CFG_OPTIONAL, modes, &mode)) ||
        (err = ag_cfg_obj_end(&top)) || (err = ag_cfg_obj_begin(cfg, upref, "upstream", &up)) ||
        (err = ag_cfg_str(&up, "url", AG_CFG_REQUIRED, &s->url)) ||
        (err = ag_cfg_int(&up, "pool", AG_CFG_OPTIONAL, 1, 100, &s->pool)) ||
        (err = ag_cfg_duration_ms(&up, "timeout", AG_CFG_OPTIONAL, 1, 60000, &s->timeout_ms)) ||
        (err = ag_cfg_bool(&up, "tls", AG_CFG_OPTIONAL, &s->tls)) || (err = ag_cfg_obj_end(&up)))
        return err;
    return 0;
}

static void expect_error(const char *text, const char *msg)
{
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    ag_cfg_t cfg;
    sample_t s = {0};
    CHECK_EQ(load(text, &cfg, &a, &s), AG_E_CONFIG);
    CHECK_STREQ(ag_cfg_error(&cfg), msg);
    ag_cfg_dispose(&cfg);
    ag_arena_dispose(&a);
}

TEST(cfg_reads_valid_sections)
{
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    ag_cfg_t cfg;
    sample_t s = {.pool = 8};
    CHECK_EQ(load("{\"upstream\":{\"url\":\"http://x\",\"timeout\":\"250ms\",\"tls\":true}}", &cfg,
                  &a, &s),
             0);
    CHECK_SLICE(s.url, "http://x");
    CHECK_EQ(s.pool, 8);
    CHECK_EQ(s.timeout_ms, 250);
    CHECK(s.tls);
    ag_cfg_dispose(&cfg);
    ag_arena_dispose(&a);
}

TEST(cfg_unknown_key_names_file_line_col_and_path)
{
    expect_error("{\"upstream\":{\"url\":\"x\",\n  \"poool\": 3}}",
                 "gw.json:2:3: upstream: unknown key \"poool\"");
}

TEST(cfg_wrong_type_and_range_are_errors)
{
    expect_error("{\"upstream\":{\"url\":5}}", "gw.json:1:20: upstream.url: must be a string");
    expect_error("{\"upstream\":{\"url\":\"x\",\"pool\":0}}",
                 "gw.json:1:31: upstream.pool: must be between 1 and 100");
    expect_error("{\"upstream\":{\"url\":\"x\",\"timeout\":\"5 s\"}}",
                 "gw.json:1:34: upstream.timeout: must be a duration like \"250ms\", \"30s\", "
                 "\"5m\" or \"1h\"");
    expect_error("{\"upstream\":{\"url\":\"x\"},\"mode\":\"maybe\"}",
                 "gw.json:1:32: mode: must be one of \"off\", \"on\"");
}

TEST(cfg_missing_required_field)
{
    expect_error("{\"upstream\":{}}", "gw.json:1:13: upstream.url: required field is missing");
    expect_error("{}", "gw.json:1:1: upstream: required field is missing");
}

TEST(cfg_syntax_error_has_position)
{
    expect_error("{\n\"upstream\": {,}}", "gw.json:2:14: expected a string key");
}
