/* A stand-in mbedtls/version.h claiming mbedTLS 3.5, found before the system one by the
 * build.mbedtls_version_pin tests (CMakeLists.txt): core/base/mbedtls_pin.h must stop the
 * compilation of core/base/sha256.c and core/authn/jwks.c with its #error. */
#ifndef MBEDTLS_VERSION_H
#define MBEDTLS_VERSION_H
#define MBEDTLS_VERSION_MAJOR 3
#define MBEDTLS_VERSION_MINOR 5
#define MBEDTLS_VERSION_PATCH 0
#define MBEDTLS_VERSION_NUMBER 0x03050000
#define MBEDTLS_VERSION_STRING "3.5.0"
#define MBEDTLS_VERSION_STRING_FULL "mbed TLS 3.5.0"
#endif
