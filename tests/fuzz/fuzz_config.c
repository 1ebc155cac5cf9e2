/* libFuzzer target for the gateway configuration model (config/config.c): arbitrary bytes
 * through ag_config_parse. Invariants: success and failure are exclusive and complete (a
 * config on success, an error of the form "FILE:LINE:COL: ..." on failure), a parsed
 * config satisfies the documented ranges, and nothing leaks or crashes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define FAIL(msg)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "invariant broken: %s\n", msg);                                            \
        abort();                                                                                   \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ag_config_t *c = NULL;
    ag_buf_t err = AG_BUF_INIT(1 << 16);
    ag_err rc = ag_config_parse("fuzz.json", ag_str_make((const char *)data, size), &c, &err);
    if (rc == 0) {
        if (!c || err.n)
            FAIL("success without a config or with an error");
        if (!c->listen.address || !c->upstream.url || !c->upstream.host)
            FAIL("required fields missing after success");
        if (c->upstream.port < 1 || c->upstream.port > 65535)
            FAIL("upstream port out of range");
        if (c->limits.url_bytes > c->limits.header_bytes)
            FAIL("url_bytes above header_bytes");
        if (c->workers < 1 || c->workers > AG_CONFIG_MAX_WORKERS)
            FAIL("workers out of range");
        if (c->tls.client_auth != AG_CLIENT_AUTH_NONE && !c->tls.client_ca_file)
            FAIL("client auth without a CA");
        ag_config_destroy(c);
    } else {
        if (c)
            FAIL("failure with a config");
        if (rc == AG_E_CONFIG && (err.n < 12 || strncmp(err.p, "fuzz.json:", 10) != 0))
            FAIL("config error without FILE:LINE:COL");
    }
    ag_buf_dispose(&err);
    return 0;
}
