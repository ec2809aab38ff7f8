/* Points in time typed by people, for --since and --until: a duration ago ("10m") or
 * a calendar time ("2026-12-06 10:00"), in the local zone unless it ends in Z. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Fills *tm from "YYYY-MM-DD", then an optional "THH:MM" or " HH:MM" and ":SS", then
 * an optional "Z" (sets *utc). False unless the whole text is one of those forms. */
static bool scan_calendar(const char *s, struct tm *tm, bool *utc)
{
    int year, mon, day, hour = 0, min = 0, sec = 0, used = 0;
    memset(tm, 0, sizeof *tm);
    if (sscanf(s, "%4d-%2d-%2d%n", &year, &mon, &day, &used) != 3 || used != 10) return false;
    s += used;
    if (*s == 'T' || *s == ' ') {
        used = 0;
        if (sscanf(s + 1, "%2d:%2d%n", &hour, &min, &used) != 2 || used != 5) return false;
        s += 1 + used;
        if (*s == ':') {
            used = 0;
            if (sscanf(s + 1, "%2d%n", &sec, &used) != 1 || used != 2) return false;
            s += 1 + used;
        }
    }
    *utc = *s == 'Z';
    if (*utc) s++;
    if (*s) return false;
    tm->tm_year = year - 1900;
    tm->tm_mon = mon - 1;
    tm->tm_mday = day;
    tm->tm_hour = hour;
    tm->tm_min = min;
    tm->tm_sec = sec;
    tm->tm_isdst = -1; /* the zone's rules decide */
    return true;
}

bool cli_parse_when_us(const char *s, int64_t now_us, int64_t *out_us)
{
    int64_t ago_s;
    if (cli_parse_duration_s(s, &ago_s)) {
        if (ago_s > now_us / 1000000) return false; /* before 1970 */
        *out_us = now_us - ago_s * 1000000;
        return true;
    }
    struct tm tm, want;
    bool utc;
    if (!s || !scan_calendar(s, &tm, &utc)) return false;
    want = tm;
    time_t when_s = utc ? timegm(&tm) : mktime(&tm);
    /* mktime and timegm carry 30 February into March: refuse what they had to move. */
    if (when_s == (time_t)-1 || tm.tm_year != want.tm_year || tm.tm_mon != want.tm_mon ||
        tm.tm_mday != want.tm_mday || tm.tm_min != want.tm_min || tm.tm_sec != want.tm_sec)
        return false;
    *out_us = (int64_t)when_s * 1000000;
    return true;
}
