/* The mbedTLS version authgate is written against. core/base/sha256.c (mbedtls_sha256_context
 * state, mbedtls_internal_sha256_process) and core/authn/jwks.c (ecp group fields, the base
 * point's comb table staying read-only once warmed, RSA context fields) depend on mbedTLS
 * 2.28 internals that 3.x made private or changed. Any other major/minor fails the build
 * here instead of compiling into subtly wrong or racy code. Include it first. */
#ifndef AG_MBEDTLS_PIN_H
#define AG_MBEDTLS_PIN_H

#include <mbedtls/version.h>

#if !defined(MBEDTLS_VERSION_MAJOR) || MBEDTLS_VERSION_MAJOR != 2 || MBEDTLS_VERSION_MINOR != 28
#error "authgate needs mbedTLS 2.28.x: install Debian 12's libmbedtls-dev"
#endif

#endif
