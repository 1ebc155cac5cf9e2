/* Logging (log.h). */
#include "runtime/log.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/json.h"

ag_log_level ag_log_threshold = AG_LOG_INFO;
ag_log_format ag_log_fmt = AG_LOG_TEXT;

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
static const char *const json_levels[] = {"error", "warn", "info", "debug"};
#define LINE_MAX_BYTES 4096

/* Per-request lines: a token bucket per thread (each worker its own), <rate> lines per
 * second up to <burst>. */
static double req_rate = AG_LOG_REQUEST_RATE;
static double req_burst = AG_LOG_REQUEST_BURST;
static _Thread_local struct {
    bool init;
    double tokens;
    uint64_t last_ns;
    unsigned long long suppressed;
} bucket;

void ag_log_request_limit(int per_second, int burst)
{
    req_rate = per_second > 0 ? per_second : 0;
    req_burst = burst > 0 ? burst : 1;
}

/* JSON: {"time":..,"level":..,"msg":..[,"client":..][,"auditID":..]}. Text: the message
 * then " client=.. auditID=..". CR/LF never survive into a line. */
static void emit(ag_log_level lvl, const char *client, const char *audit_id, const char *msg)
{
    char line[LINE_MAX_BYTES + 1], ts[64];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    ag_buf_t b = {line, 0, sizeof line, sizeof line - 1};
    line[0] = '\0';
    if (ag_log_fmt == AG_LOG_JSON) {
        snprintf(ts + n, sizeof ts - n, ".%09ldZ", now.tv_nsec);
        ag_buf_printf(&b, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":", ts, json_levels[lvl]);
        ag_json_write_str(&b, ag_str_cstr(msg));
        if (client && *client) {
            ag_buf_append_cstr(&b, ",\"client\":");
            ag_json_write_str(&b, ag_str_cstr(client));
        }
        if (audit_id && *audit_id)
            ag_buf_printf(&b, ",\"auditID\":\"%s\"", audit_id);
        ag_buf_append_cstr(&b, "}");
    } else {
        snprintf(ts + n, sizeof ts - n, ".%03ldZ", now.tv_nsec / 1000000);
        ag_buf_printf(&b, "%s %s %s", ts, level_names[lvl], msg);
        if (client && *client)
            ag_buf_printf(&b, " client=%s", client);
        if (audit_id && *audit_id)
            ag_buf_printf(&b, " auditID=%s", audit_id);
    }
    for (char *p = line; *p; p++) /* a hostile value cannot forge log lines */
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    fprintf(stderr, "%s\n", line);
}

static void vemit(ag_log_level lvl, const char *client, const char *audit_id, const char *fmt,
                  va_list ap)
{
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    emit(lvl, client, audit_id, msg);
}

void ag_log_write(ag_log_level lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vemit(lvl, NULL, NULL, fmt, ap);
    va_end(ap);
}

/* True when a per-request line may go out now; says first how many did not. */
static bool take_token(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    if (!bucket.init) {
        bucket.init = true;
        bucket.tokens = req_burst;
    } else {
        bucket.tokens += (double)(now - bucket.last_ns) / 1e9 * req_rate;
        if (bucket.tokens > req_burst)
            bucket.tokens = req_burst;
    }
    bucket.last_ns = now;
    if (bucket.tokens < 1) {
        bucket.suppressed++;
        return false;
    }
    bucket.tokens -= 1;
    if (bucket.suppressed) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "%llu per-request log lines suppressed (log.request_rate %g/s, burst %g)",
                 bucket.suppressed, req_rate, req_burst);
        emit(AG_LOG_WARN, NULL, NULL, msg);
        bucket.suppressed = 0;
    }
    return true;
}

void ag_log_fields(ag_log_level lvl, const char *client, const char *audit_id, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vemit(lvl, client, audit_id, fmt, ap);
    va_end(ap);
}

void ag_log_request_write(ag_log_level lvl, const char *client, const char *audit_id,
                          const char *fmt, ...)
{
    if (!take_token())
        return;
    va_list ap;
    va_start(ap, fmt);
    vemit(lvl, client, audit_id, fmt, ap);
    va_end(ap);
}

bool ag_log_limit(ag_log_limit_t *l, uint64_t now_ms, unsigned *held)
{
    if (l->logged && now_ms - l->last_ms < 1000) {
        l->held++;
        return false;
    }
    *held = l->held;
    l->held = 0;
    l->last_ms = now_ms;
    l->logged = true;
    return true;
}

int ag_log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return i;
    return -1;
}
