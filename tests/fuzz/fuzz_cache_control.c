/* libFuzzer target: Cache-Control header values as an IdP sends them with its JWKS
 * (untrusted bytes) through ag_fetch_parse_max_age, whose answer must stay within
 * [-1, 2^31] whatever the input (the key manager clamps it further). */
#include <stdint.h>
#include <stdlib.h>

#include "net/fetch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long long v = ag_fetch_parse_max_age(ag_str_make((const char *)data, size));
    if (v < -1 || v > 2147483648LL)
        abort();
    return 0;
}
