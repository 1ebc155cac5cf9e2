/* Metric labels of the authentication outcomes (authn_result.h). */
#include "authn/authn_result.h"

static const char *const result_names[] = {
#define AG_AUTHN_NAME(name, label) label,
    AG_AUTHN_RESULTS(AG_AUTHN_NAME)
#undef AG_AUTHN_NAME
};

const char *ag_authn_result_name(ag_authn_result r)
{
    return (unsigned)r < AG_AUTHN_RESULT_COUNT ? result_names[r] : "invalid";
}
