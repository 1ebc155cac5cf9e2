/* RFC 3339 date-time parsing and formatting (rfc3339.h). Calendar arithmetic is the
 * proleptic Gregorian "days from civil" conversion; every field is range-checked before
 * any arithmetic, so no input overflows. Never reads past the slice it is given. */
#include "base/rfc3339.h"

#include <stdbool.h>
#include <stdio.h>

/* <n> decimal digits at s.p[*at], advancing *at; false when any is not a digit. */
static bool digits(ag_str_t s, size_t *at, int n, int *out)
{
    int v = 0;
    if (s.n - *at < (size_t)n)
        return false;
    for (int i = 0; i < n; i++) {
        char c = s.p[*at + (size_t)i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *at += (size_t)n;
    *out = v;
    return true;
}

static bool expect(ag_str_t s, size_t *at, char c)
{
    if (*at >= s.n || s.p[*at] != c)
        return false;
    (*at)++;
    return true;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a valid date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* ".digits" (1..9 of them) when present; *nsec 0 otherwise. */
static bool fraction(ag_str_t s, size_t *at, int32_t *nsec)
{
    *nsec = 0;
    if (*at >= s.n || s.p[*at] != '.')
        return true;
    (*at)++;
    int n = 0;
    int32_t v = 0;
    while (*at < s.n && s.p[*at] >= '0' && s.p[*at] <= '9') {
        if (++n > 9)
            return false; /* more precision than a nanosecond: refused, not rounded */
        v = v * 10 + (s.p[(*at)++] - '0');
    }
    for (int i = n; i < 9; i++)
        v *= 10;
    *nsec = v;
    return n > 0;
}

/* "Z", "z" or "+hh:mm" / "-hh:mm": the offset to subtract, in seconds. */
static bool offset(ag_str_t s, size_t *at, int *off)
{
    int hh, mm;
    *off = 0;
    if (*at < s.n && (s.p[*at] == 'Z' || s.p[*at] == 'z')) {
        (*at)++;
        return true;
    }
    if (*at >= s.n || (s.p[*at] != '+' && s.p[*at] != '-'))
        return false;
    int sign = s.p[(*at)++] == '-' ? -1 : 1;
    if (!digits(s, at, 2, &hh) || !expect(s, at, ':') || !digits(s, at, 2, &mm) || hh > 23 ||
        mm > 59)
        return false;
    *off = sign * (hh * 3600 + mm * 60);
    return true;
}

ag_err ag_rfc3339_parse(ag_str_t s, int64_t *sec, int32_t *nsec)
{
    int y, mo, d, h, mi, se, off;
    size_t at = 0;
    if (!s.p || !digits(s, &at, 4, &y) || !expect(s, &at, '-') || !digits(s, &at, 2, &mo) ||
        !expect(s, &at, '-') || !digits(s, &at, 2, &d))
        return AG_E_PARSE;
    if (at >= s.n || (s.p[at] != 'T' && s.p[at] != 't'))
        return AG_E_PARSE;
    at++;
    if (!digits(s, &at, 2, &h) || !expect(s, &at, ':') || !digits(s, &at, 2, &mi) ||
        !expect(s, &at, ':') || !digits(s, &at, 2, &se) || !fraction(s, &at, nsec) ||
        !offset(s, &at, &off) || at != s.n)
        return AG_E_PARSE;
    if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 || mi > 59 || se > 59)
        return AG_E_PARSE; /* se 60: a leap second names no instant we can compare */
    *sec = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
    return 0;
}

ag_err ag_rfc3339_parse_ms(ag_str_t s, bool up, int64_t *ms)
{
    int64_t sec;
    int32_t nsec;
    ag_err err = ag_rfc3339_parse(s, &sec, &nsec);
    if (err)
        return err;
    *ms = sec * 1000 + nsec / 1000000 + (up && nsec % 1000000 ? 1 : 0);
    return 0;
}

/* The civil date of day <z> since the epoch (H. Hinnant's civil_from_days). */
static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

#define MS_MIN (-62167219200000LL) /* 0000-01-01T00:00:00Z */
#define MS_MAX (253402300799999LL) /* 9999-12-31T23:59:59.999Z */

void ag_rfc3339_format_ms(int64_t ms, char *out)
{
    ms = ms < MS_MIN ? MS_MIN : ms > MS_MAX ? MS_MAX : ms;
    int64_t days = (ms >= 0 ? ms : ms - 86399999) / 86400000;
    int64_t rest = ms - days * 86400000;
    int y, mo, d;
    civil_from_days(days, &y, &mo, &d);
    int secs = (int)(rest / 1000), frac = (int)(rest % 1000);
    int n = snprintf(out, AG_RFC3339_BUF, "%04d-%02d-%02dT%02d:%02d:%02d", y, mo, d, secs / 3600,
                     secs / 60 % 60, secs % 60);
    if (frac)
        snprintf(out + n, (size_t)(AG_RFC3339_BUF - n), ".%03dZ", frac);
    else
        snprintf(out + n, (size_t)(AG_RFC3339_BUF - n), "Z");
}
