/* libFuzzer target: TokenReview request bodies (untrusted bytes from any webhook
 * caller) through ag_tokenreview_parse, and every accepted request back out through
 * ag_tokenreview_write, whose output must itself parse as JSON. */
#include <stdint.h>
#include <stdlib.h>

#include "base/json.h"
#include "review/tokenreview.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ag_arena_t arena;
    ag_tokenreview_req_t req;
    const char *why = NULL;
    ag_buf_t out = AG_BUF_INIT(1 << 20);

    ag_arena_init(&arena, 0, 1 << 24);
    if (ag_tokenreview_parse(ag_str_make((const char *)data, size), &arena, &req, &why) == 0) {
        if (req.token.n == 0)
            abort(); /* "token is required" must have refused it */
        ag_identity_t u = {.username = req.token,
                           .uid = req.token,
                           .groups = req.audiences,
                           .ngroups = req.naudiences};
        ag_tokenreview_status_t st = {.authenticated = true,
                                      .user = &u,
                                      .audiences = req.audiences,
                                      .naudiences = req.naudiences,
                                      .error = req.token};
        if (ag_tokenreview_write(&out, &req, &st) == 0) {
            ag_json_t doc;
            if (ag_json_parse(&doc, ag_buf_str(&out), NULL, &arena, NULL) != 0)
                abort(); /* we wrote something that is not JSON */
        }
    } else if (!why) {
        abort();
    }
    ag_buf_dispose(&out);
    ag_arena_dispose(&arena);
    return 0;
}
