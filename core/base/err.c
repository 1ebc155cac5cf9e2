/* Names and messages for ag_err codes (err.h). */
#include "base/err.h"

const char *ag_err_str(ag_err err)
{
    switch (err) {
    case AG_OK:
        return "ok";
#define AG_ERR_CASE(name, msg)                                                                     \
    case AG_E_##name:                                                                              \
        return msg;
        AG_ERRORS(AG_ERR_CASE)
#undef AG_ERR_CASE
    }
    return "unknown error";
}

const char *ag_err_name(ag_err err)
{
    switch (err) {
    case AG_OK:
        return "OK";
#define AG_ERR_NAME(name, msg)                                                                     \
    case AG_E_##name:                                                                              \
        return #name;
        AG_ERRORS(AG_ERR_NAME)
#undef AG_ERR_NAME
    }
    return "UNKNOWN";
}
