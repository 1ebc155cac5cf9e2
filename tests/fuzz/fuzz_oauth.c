/* libFuzzer target: what `authgate login` reads from an identity provider, from kubectl
 * and from its cache (core/login/oauth.c, core/login/execcred.c), and an existing kubeconfig it
 * merges into (core/login/kubeconfig.c). Whatever the bytes: no crash; a token set that parses is
 * written back as a cache entry that parses to the same values; an accepted access token
 * is only b64token characters (it becomes an HTTP header in kubectl); a merged kubeconfig
 * is JSON the strict reader accepts. */
#include <stdint.h>
#include <string.h>

#include "base/json.h"
#include "login/execcred.h"
#include "login/kubeconfig.h"
#include "login/oauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_tokens(ag_str_t in, ag_arena_t *a)
{
    ag_oauth_tokens_t t, back;
    ag_buf_t b = AG_BUF_INIT(1 << 20);
    if (ag_oauth_parse_tokens(in, 1800000000LL, a, &t) == 0 ||
        ag_oauth_tokens_parse(in, a, &t) == 0) {
        for (size_t i = 0; i < t.access_token.n; i++)
            if (strchr(" \t\r\n\"\\,;", t.access_token.p[i]))
                __builtin_trap();
        if (ag_oauth_tokens_write(&b, &t) != 0 || ag_oauth_tokens_parse(ag_buf_str(&b), a, &back) ||
            !ag_str_eq(back.access_token, t.access_token) ||
            !ag_str_eq(back.refresh_token, t.refresh_token) || back.expires_at != t.expires_at)
            __builtin_trap(); /* a cache entry must read back as written */
    }
    ag_buf_dispose(&b);
}

static void check_kubeconfig(ag_str_t in, ag_arena_t *a)
{
    static const char *const args[] = {"login", "--issuer-url", "https://i", NULL};
    ag_kubeconfig_entry_t e = {.name = "gw", .server = "https://g", .command = "/a", .args = args};
    ag_buf_t out = AG_BUF_INIT(16u << 20);
    ag_json_error_t je;
    ag_json_t doc;
    if (ag_kubeconfig_merge(in, &e, &out, &je) == 0 &&
        ag_json_parse(&doc, ag_buf_str(&out), NULL, a, NULL) != 0)
        __builtin_trap(); /* the merge wrote something that is not JSON */
    ag_buf_dispose(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ag_str_t in = ag_str_make((const char *)data, size);
    ag_arena_t a;
    ag_oauth_discovery_t d;
    ag_oauth_device_t dev;
    ag_oauth_error_t e;
    ag_execcred_info_t info;
    ag_arena_init(&a, 0, 1 << 26);
    ag_oauth_parse_discovery(in, AG_STR("https://idp"), &a, &d);
    ag_oauth_parse_device(in, &a, &dev);
    ag_oauth_parse_error(in, &a, &e);
    ag_execcred_parse_info(in, &a, &info);
    ag_oauth_url_allowed(in);
    check_tokens(in, &a);
    check_kubeconfig(in, &a);
    ag_arena_dispose(&a);
    return 0;
}
