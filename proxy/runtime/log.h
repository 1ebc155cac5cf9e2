/* Logging: one line per event on stderr, "TIME LEVEL message" or, with log.format "json",
 * one JSON object {"time" (RFC 3339, nanoseconds), "level", "msg", "client", "auditID"}
 * per line. Per-request lines (ag_log_req) carry the client address and the request's
 * audit ID and are rate limited per thread (token bucket; a WARN line says how many were
 * suppressed when lines flow again). Cheap level check via
 * AG_LOG_ENABLED so DEBUG formatting costs nothing when off. Never log tokens, secrets
 * or private keys: log iss, kid, sub and a hash prefix instead. Thread-safe (one
 * fprintf per line). */
#ifndef AG_LOG_H
#define AG_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h" /* the levels and formats, and the per-request rate defaults */

extern ag_log_level ag_log_threshold;
extern ag_log_format ag_log_fmt;

#define AG_LOG_ENABLED(lvl) ((lvl) <= ag_log_threshold)
#define ag_log(lvl, ...)                                                                           \
    do {                                                                                           \
        if (AG_LOG_ENABLED(lvl))                                                                   \
            ag_log_write(lvl, __VA_ARGS__);                                                        \
    } while (0)
#define ag_error(...) ag_log(AG_LOG_ERROR, __VA_ARGS__)
#define ag_warn(...) ag_log(AG_LOG_WARN, __VA_ARGS__)
#define ag_info(...) ag_log(AG_LOG_INFO, __VA_ARGS__)
#define ag_debug(...) ag_log(AG_LOG_DEBUG, __VA_ARGS__)

void ag_log_write(ag_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A line about one request: <client> (address) and <audit_id> may be NULL. */
#define ag_log_req(lvl, client, audit_id, ...)                                                     \
    do {                                                                                           \
        if (AG_LOG_ENABLED(lvl))                                                                   \
            ag_log_request_write(lvl, client, audit_id, __VA_ARGS__);                              \
    } while (0)
void ag_log_request_write(ag_log_level lvl, const char *client, const char *audit_id,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The same line without the per-request budget (for lines under a limiter of their own). */
void ag_log_fields(ag_log_level lvl, const char *client, const char *audit_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Start-up: the per-request budget (<per_second> 0: only the burst, ever). */
void ag_log_request_limit(int per_second, int burst);

/* A log rate limit for events that repeat with every request during an outage (STYLE:
 * repeated upstream or IdP failures are rate-limited): at most one line a second per
 * limiter. Zero-initialized; not locked (give each thread its own, e.g. _Thread_local). */
typedef struct {
    uint64_t last_ms; /* when the last line passed (valid once <logged>) */
    unsigned held;
    bool logged;
} ag_log_limit_t;

/* True when a line may be written at <now_ms>; *held is then the number of lines held
 * back since the previous one (and the count restarts). False: this one is held back. */
bool ag_log_limit(ag_log_limit_t *l, uint64_t now_ms, unsigned *held);
/* Parses "error|warn|info|debug"; returns -1 if unknown. */
int ag_log_level_parse(const char *name);

#endif
