/* Logging: one line per event on stderr, "TIME LEVEL message". Cheap level check via
 * AG_LOG_ENABLED so DEBUG formatting costs nothing when off. Never log tokens, secrets
 * or private keys: log iss, kid, sub and a hash prefix instead. Thread-safe (one
 * fprintf per line). */
#ifndef AG_LOG_H
#define AG_LOG_H

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
/* Parses "error|warn|info|debug"; returns -1 if unknown. */
int ag_log_level_parse(const char *name);

#endif
