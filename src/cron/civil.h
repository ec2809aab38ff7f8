/* Internal: proleptic Gregorian calendar arithmetic on day numbers (days since
 * 1970-01-01), shared by the cron search and the time zone rules. Pure functions. */
#ifndef TASKER_CRON_CIVIL_H
#define TASKER_CRON_CIVIL_H

#include <stdbool.h>
#include <stdint.h>

#define CIVIL_DAY_S 86400

/* Floor division and its remainder (always >= 0 for b > 0), so instants before the
 * epoch land in the right day. */
static inline int64_t civil_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static inline int64_t civil_floor_mod(int64_t a, int64_t b)
{
    return a - civil_floor_div(a, b) * b;
}

static inline bool civil_is_leap(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static inline int civil_days_in_month(int64_t year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && civil_is_leap(year) ? 29 : days[month - 1];
}

/* Day number of year-month-day. The year is split into 400-year eras (146097 days,
 * a whole number of weeks) counted from March, so February's leap day comes last. */
static inline int64_t civil_days_from(int64_t year, int month, int day)
{
    int64_t y = month <= 2 ? year - 1 : year;
    int64_t era = civil_floor_div(y, 400);
    int64_t yoe = y - era * 400; /* 0..399 */
    int64_t doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* 0..146096 */
    return era * 146097 + doe - 719468;                  /* 719468: 0000-03-01 to 1970 */
}

/* The inverse of civil_days_from. */
static inline void civil_from_days(int64_t days, int64_t *year, int *month, int *day)
{
    int64_t z = days + 719468;
    int64_t era = civil_floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2 ? 1 : 0);
}

/* 0 = Sunday ... 6 = Saturday; 1970-01-01 was a Thursday. */
static inline int civil_weekday(int64_t days)
{
    return (int)civil_floor_mod(days + 4, 7);
}

#endif
