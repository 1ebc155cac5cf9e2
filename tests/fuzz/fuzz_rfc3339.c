/* libFuzzer target for RFC 3339 timestamps (core/base/rfc3339.c), which a time-bound RBAC
 * binding's window annotations carry from policy files and from the cluster. Anything
 * accepted must be a real instant that formats back to a stamp naming the same
 * millisecond (both roundings), and the parser must read nothing past the slice. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/rfc3339.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1); /* exact size: ASan sees any read past the end */
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    ag_str_t in = ag_str_make(copy, size);
    int64_t sec, down, up, again;
    int32_t nsec;
    char out[AG_RFC3339_BUF];
    if (ag_rfc3339_parse(in, &sec, &nsec) == 0) {
        if (nsec < 0 || nsec >= 1000000000)
            abort();
        if (ag_rfc3339_parse_ms(in, false, &down) != 0 || ag_rfc3339_parse_ms(in, true, &up) != 0 ||
            up - down != (nsec % 1000000 ? 1 : 0))
            abort(); /* rounding toward granting less: up only for a sub-ms fraction */
        ag_rfc3339_format_ms(down, out);
        if (ag_rfc3339_parse_ms(ag_str_cstr(out), false, &again) != 0 ||
            (again != down && down >= -62167219200000LL && down <= 253402300799999LL))
            abort(); /* what is written reads back (within the formatter's 0000..9999) */
    }
    free(copy);
    return 0;
}
