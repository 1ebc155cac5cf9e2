/* Version and build information (version.h). The version and commit come from a header
 * CMake generates at configure time (ag_build_info.h); each library's version comes from
 * the one file allowed to include its headers (tls.c, fetch.c, http1_parse.c), libuv's from
 * uv.h. Never fails: a value that cannot be known prints as "unknown". */
#include "runtime/version.h"

#include <stdbool.h>
#include <uv.h>

#include "ag_build_info.h"
#include "http/http1_parse.h"
#include "net/fetch.h"
#include "net/tls.h"

#define AG_STR2(x) #x
#define AG_STR1(x) AG_STR2(x)
#define UV_BUILT                                                                                   \
    AG_STR1(UV_VERSION_MAJOR) "." AG_STR1(UV_VERSION_MINOR) "." AG_STR1(UV_VERSION_PATCH)

const char *ag_version(void)
{
    return AG_BUILD_VERSION;
}

const char *ag_version_commit(void)
{
    return AG_BUILD_COMMIT[0] ? AG_BUILD_COMMIT : "unknown";
}

void ag_version_print(FILE *f)
{
    fprintf(f, "authgate %s\ncommit %s\n\n%-8s %-10s %s\n", ag_version(), ag_version_commit(),
            "library", "built", "running");
    fprintf(f, "%-8s %-10s %s\n", "mbedtls", ag_tls_mbedtls_version(false),
            ag_tls_mbedtls_version(true));
    fprintf(f, "%-8s %-10s %s\n", "libuv", UV_BUILT, uv_version_string());
    fprintf(f, "%-8s %-10s %s (compiled in)\n", "llhttp", ag_h1_llhttp_version(),
            ag_h1_llhttp_version());
    fprintf(f, "%-8s %-10s %s\n", "libcurl", ag_fetch_curl_version(false),
            ag_fetch_curl_version(true));
}

const char *ag_version_metric_labels(void)
{
    static char labels[512];
    if (!labels[0])
        snprintf(labels, sizeof labels,
                 "version=\"%s\",commit=\"%s\",mbedtls=\"%s\",libuv=\"%s\",llhttp=\"%s\","
                 "libcurl=\"%s\"",
                 ag_version(), ag_version_commit(), ag_tls_mbedtls_version(true),
                 uv_version_string(), ag_h1_llhttp_version(), ag_fetch_curl_version(true));
    return labels;
}
