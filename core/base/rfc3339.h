/* RFC 3339 timestamps ("2026-12-07T21:30:00Z", "2026-12-07T23:30:00.25+02:00"), as the
 * validity window of a time-bound RBAC binding is written (rbac.h, the annotations
 * authgate.io/not-before and authgate.io/expires-at). Strict: exactly the grammar of
 * RFC 3339 §5.6 (T and Z also in lower case, §5.6 note), real calendar dates, no leap
 * second, at most 9 fraction digits; anything else is refused, never guessed. Pure: no
 * I/O, no allocation, no locale, no time zone database. */
#ifndef AG_RFC3339_H
#define AG_RFC3339_H

#include <stdint.h>

#include "base/err.h"
#include "base/str.h"

/* Parses <s> (borrowed) into seconds since the Unix epoch (UTC; may be negative) and
 * nanoseconds [0, 1e9). AG_E_PARSE for anything that is not an RFC 3339 date-time. */
ag_err ag_rfc3339_parse(ag_str_t s, int64_t *sec, int32_t *nsec);

/* Milliseconds since the epoch of <s>, rounded toward the side that grants less: <up>
 * rounds a sub-millisecond fraction up (a window's start), otherwise down (its end). */
ag_err ag_rfc3339_parse_ms(ag_str_t s, bool up, int64_t *ms);

/* Writes <ms> as "YYYY-MM-DDTHH:MM:SSZ" (".mmm" before the Z when not a whole second),
 * UTC, NUL-terminated, into <out> (at least AG_RFC3339_BUF bytes). Years outside
 * 0..9999 are written clamped to that range's ends. */
#define AG_RFC3339_BUF 32
void ag_rfc3339_format_ms(int64_t ms, char *out);

#endif
