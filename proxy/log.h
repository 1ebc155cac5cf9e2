/* Logging: one line per event on stderr, "TIME LEVEL message". Cheap level check via
 * AG_LOG_ENABLED so DEBUG formatting costs nothing when off. Never log tokens, secrets
 * or private keys: log iss, kid, sub and a hash prefix instead. Thread-safe (one
 * fprintf per line). */
#ifndef AG_LOG_H
#define AG_LOG_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { AG_LOG_ERROR = 0, AG_LOG_WARN, AG_LOG_INFO, AG_LOG_DEBUG } ag_log_level;

extern ag_log_level ag_log_threshold;

#define AG_LOG_ENABLED(lvl) ((lvl) <= ag_log_threshold)
#define ag_log(lvl, ...)                                                               \
    do {                                                                               \
        if (AG_LOG_ENABLED(lvl))                                                       \
            ag_log_write(lvl, __VA_ARGS__);                                            \
    } while (0)
#define ag_error(...) ag_log(AG_LOG_ERROR, __VA_ARGS__)
#define ag_warn(...) ag_log(AG_LOG_WARN, __VA_ARGS__)
#define ag_info(...) ag_log(AG_LOG_INFO, __VA_ARGS__)
#define ag_debug(...) ag_log(AG_LOG_DEBUG, __VA_ARGS__)

void ag_log_write(ag_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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
