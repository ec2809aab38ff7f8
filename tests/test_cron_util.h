/* Helpers for the cron tests: instants written as text. "2026-03-08 03:00 -04:00" is
 * local 03:00 at UTC-4; "Z" is UTC; seconds and a fraction are optional
 * ("2026-01-01 00:00:00.5 Z"). Returns UTC microseconds; fails the test on bad text. */
#ifndef TASKER_TEST_CRON_UTIL_H
#define TASKER_TEST_CRON_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static inline int64_t test_instant_us(const char *text, int *ok)
{
    struct tm tm = {0};
    int year, mon, day, hour, min, n = 0, used = 0;
    double sec = 0;
    char zone[16] = "";
    *ok = 0;
    if (sscanf(text, "%d-%d-%d %d:%d%n", &year, &mon, &day, &hour, &min, &used) != 5) return 0;
    text += used;
    if (*text == ':') {
        if (sscanf(text, ":%lf%n", &sec, &n) != 1) return 0;
        text += n;
    }
    if (sscanf(text, " %15s", zone) != 1) return 0;
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    int64_t whole_s = (int64_t)timegm(&tm);
    int64_t us = whole_s * 1000000 + (int64_t)(sec * 1000000 + 0.5);
    if (strcmp(zone, "Z") != 0) {
        int oh = 0, om = 0;
        char sign = zone[0];
        if ((sign != '+' && sign != '-') || sscanf(zone + 1, "%d:%d", &oh, &om) < 1) return 0;
        int64_t off_us = ((int64_t)oh * 3600 + om * 60) * 1000000;
        us -= sign == '+' ? off_us : -off_us;
    }
    *ok = 1;
    return us;
}

/* Formats us as "YYYY-MM-DD HH:MM:SS[.ffffff] Z" for failure messages. */
static inline const char *test_format_us(int64_t us, char *buf, size_t size)
{
    time_t s = (time_t)(us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000));
    int frac = (int)(us - (int64_t)s * 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
    if (frac)
        snprintf(buf + n, size - n, ".%06d Z", frac);
    else
        snprintf(buf + n, size - n, " Z");
    return buf;
}

#endif
