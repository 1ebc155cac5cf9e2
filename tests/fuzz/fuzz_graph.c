/* libFuzzer target for the Graph response parsers (core/graph/graph.c): arbitrary bytes as a
 * getMemberObjects page, as a token endpoint answer and as a nextLink URL. Checks the
 * promises the resolver relies on: accepted ids are GUIDs and never more than the room
 * given, an accepted nextLink stays on the base origin, an accepted access token has no
 * byte that could break the Authorization header. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/arena.h"
#include "graph/graph.h"

#define FAIL(msg)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "invariant broken: %s\n", msg);                                            \
        abort();                                                                                   \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ag_str_t in = ag_str_make((const char *)data, size);
    ag_str_t base = AG_STR("https://graph.microsoft.com");
    ag_arena_t a;
    ag_graph_page_t page;
    ag_graph_token_t tok;
    int room = size ? data[0] % 8 : 0;

    ag_arena_init(&a, 0, 1 << 26);
    if (ag_graph_page_parse(in, base, room, &a, &page) == 0) {
        if (page.nids > room)
            FAIL("more ids than room");
        for (int i = 0; i < page.nids; i++)
            if (!ag_graph_guid_valid(page.ids[i]))
                FAIL("accepted id is not a GUID");
        if (page.next.p && !ag_graph_same_origin(base, page.next))
            FAIL("accepted nextLink off the base origin");
    }
    if (ag_graph_token_parse(in, &a, &tok) == 0) {
        if (tok.access_token.n == 0 || tok.expires_in_s <= 0)
            FAIL("empty token or lifetime");
        for (size_t i = 0; i < tok.access_token.n; i++)
            if ((unsigned char)tok.access_token.p[i] <= 0x20 ||
                (unsigned char)tok.access_token.p[i] >= 0x7f)
                FAIL("token byte unsafe in a header");
    }
    ag_str_t code;
    if (ag_graph_error_code(in, &a, &code) == 0) {
        for (size_t i = 0; i < code.n; i++)
            if ((unsigned char)code.p[i] <= 0x20 || (unsigned char)code.p[i] >= 0x7f)
                FAIL("error code byte unsafe in a log line");
    }
    if (ag_graph_same_origin(base, in)) {
        for (size_t i = 0; i < size; i++)
            if (data[i] <= 0x20 || data[i] >= 0x7f || data[i] == '#')
                FAIL("same-origin URL with a forbidden byte");
    }
    ag_arena_dispose(&a);
    return 0;
}
