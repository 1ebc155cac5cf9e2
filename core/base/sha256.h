/* SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) for the hot path: the token-cache key
 * of every request is an HMAC of a ~900-byte token. On x86 CPUs with the SHA extensions
 * the compression runs on SHA256RNDS2/MSG1/MSG2 (chosen once at run time from CPUID);
 * elsewhere it falls back to mbedTLS's block function. Contexts are plain values: no
 * allocation, copyable (a precomputed HMAC key is copied into a per-call context).
 * Lifetime: whatever holds the struct. Never hashes secrets into logs. */
#ifndef AG_SHA256_H
#define AG_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define AG_SHA256_LEN 32
#define AG_SHA256_BLOCK 64

typedef struct {
    uint32_t h[8];
    uint64_t total; /* bytes fed so far */
    unsigned char buf[AG_SHA256_BLOCK];
    size_t nbuf;
} ag_sha256_t;

void ag_sha256_init(ag_sha256_t *s);
void ag_sha256_update(ag_sha256_t *s, const void *data, size_t n);
/* Writes the digest; <s> must be re-initialised before reuse. */
void ag_sha256_finish(ag_sha256_t *s, unsigned char out[AG_SHA256_LEN]);
void ag_sha256(const void *data, size_t n, unsigned char out[AG_SHA256_LEN]);

/* A key with its padded blocks already compressed: a MAC then costs the message's
 * blocks plus two (inner tail, outer). */
typedef struct {
    uint32_t inner[8], outer[8];
} ag_hmac_sha256_key_t;

/* Keys longer than a block are hashed first (RFC 2104 §2). Wipe with ag_hmac_sha256_wipe. */
void ag_hmac_sha256_key(ag_hmac_sha256_key_t *k, const void *key, size_t n);
void ag_hmac_sha256_wipe(ag_hmac_sha256_key_t *k);
/* Streaming: start, ag_sha256_update any number of times, finish. */
void ag_hmac_sha256_start(const ag_hmac_sha256_key_t *k, ag_sha256_t *s);
void ag_hmac_sha256_finish(const ag_hmac_sha256_key_t *k, ag_sha256_t *s,
                           unsigned char out[AG_SHA256_LEN]);
void ag_hmac_sha256(const ag_hmac_sha256_key_t *k, const void *msg, size_t n,
                    unsigned char out[AG_SHA256_LEN]);

typedef enum {
    AG_SHA256_AUTO = 0,     /* SHA-NI when the CPU has it, else portable */
    AG_SHA256_PORTABLE = 1, /* mbedTLS block function */
    AG_SHA256_SHANI = 2,    /* x86 SHA extensions */
} ag_sha256_impl_t;

/* Tests and benchmarks: forces an implementation for the whole process (not thread
 * safe against concurrent hashing). AG_E_UNSUPPORTED when the CPU lacks it. */
ag_err ag_sha256_force(ag_sha256_impl_t impl);
/* The implementation in use now (never AUTO). */
ag_sha256_impl_t ag_sha256_active(void);

#endif
