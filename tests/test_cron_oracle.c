/* tasker_cron_next and tasker_cron_prev against a slow, obvious oracle: step through
 * time second by second (or minute by minute), forwards or backwards, take each
 * instant's UTC offset from glibc's localtime_r, and apply the DST rules of docs/cron.md
 * literally. Thousands of random expressions (H fields among them), started near DST
 * changes in zones with odd offsets and odd change times, must agree with the jumping
 * searches. Likewise the days a month's dom/dow fields select (L, L-n, W, LW, L-nW, nL,
 * n#k, Vixie's rule) against the rules written out day by day. The fixed seed keeps the run
 * reproducible. This test process sets TZ
 * for itself (glibc needs it); the library never does. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <tasker/cron.h>
#include <tasker/tasker.h>

#include "cron/cron_internal.h"
#include "cron/tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_cron_util.h"

#define ORACLE_CASES 2400

static const char *const zones[] = {
    "America/New_York", "Europe/London",     "Australia/Lord_Howe", "Australia/Sydney",
    "America/Santiago", "Asia/Kolkata",      "Europe/Dublin",       "America/St_Johns",
    "Pacific/Chatham",  "Africa/Casablanca", "Pacific/Apia",        "America/Havana",
};

static long offset_s(int64_t t_s)
{
    time_t t = (time_t)t_s;
    struct tm tm;
    localtime_r(&t, &tm);
    return tm.tm_gmtoff;
}

/* Does local wall time local_s (seconds on the local calendar) match c's fields? */
static int matches(const tasker_cron *c, int64_t local_s)
{
    time_t t = (time_t)local_s;
    struct tm tm;
    gmtime_r(&t, &tm); /* the local calendar, read as if it were UTC */
    return (c->sec >> tm.tm_sec & 1) && (c->min >> tm.tm_min & 1) && (c->hour >> tm.tm_hour & 1) &&
           (c->mon >> (tm.tm_mon + 1) & 1) &&
           (cron_month_days(c, tm.tm_year + 1900LL, tm.tm_mon + 1) >> tm.tm_mday & 1);
}

/* Has local time local_s (at instant t_s, offset off_s) occurred before t_s? Earlier
 * occurrences lie within a day, at a larger offset. */
static int occurred_before(int64_t t_s, int64_t local_s, long off_s)
{
    for (int k = 1; k <= 30 * 4; k++) {
        long earlier_off = offset_s(t_s - k * 900);
        int64_t earlier_s = local_s - earlier_off;
        if (earlier_off > off_s && earlier_s < t_s && offset_s(earlier_s) == earlier_off) return 1;
    }
    return 0;
}

static int is_fire(const tasker_cron *c, int64_t t_s, int step_s)
{
    long off = offset_s(t_s), before = offset_s(t_s - 1);
    int64_t local_s = t_s + off;
    if (matches(c, local_s) && (c->hour_star || !occurred_before(t_s, local_s, off))) return 1;
    if (!c->hour_star && before < off) /* t_s ends a gap: did a match fall in it? */
        for (int64_t l = t_s + before; l < local_s; l += step_s)
            if (matches(c, l)) return 1;
    return 0;
}

static uint64_t rng_state = 0x7a5e2026c0ffeeULL;

static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33) % n;
}

static const char *pick(const char *const *v, size_t n)
{
    return v[rnd((uint32_t)n)];
}
#define PICK(v) pick(v, sizeof v / sizeof v[0])

static void random_expression(char *buf, size_t size, int six)
{
    static const char *const secs[] = {"0", "*/15", "30", "*", "0,59", "H", "H/20"};
    static const char *const mins[] = {"*",    "0",  "30",   "*/7", "15-45/10", "0,30",
                                       "59",   "*/20", "45", "H",   "H/15",     "H(0-29)"};
    static const char *const hours[] = {"*",    "*/2", "1",   "2",   "1-3", "0",     "23",
                                        "0-23", "*/3", "2,3", "0,1", "3",   "22-23", "12",
                                        "H",    "H/3", "H(1-3)"};
    static const char *const doms[] = {"*",   "*",  "*",  "?",   "L",
                                       "*/2", "1-31", "15W", "L-2W", "LW,L-1"};
    static const char *const dows[] = {"*", "*", "*", "?", "SUN", "1-5", "0#1", "6L"};
    snprintf(buf, size, "%s%s%s %s %s * %s", six ? PICK(secs) : "", six ? " " : "", PICK(mins),
             PICK(hours), PICK(doms), PICK(dows));
}

/* A start instant near one of the zone's offset changes between 2010 and 2045: up to
 * before_s earlier, or up to after_s later. */
static int64_t start_near_change(const char *zone_name, int before_s, int after_s)
{
    const tz_zone *zone = NULL;
    tz_span sp;
    int64_t changes[200];
    int n = 0;
    assert_int_equal(tz_find(zone_name, strlen(zone_name), &zone), TASKER_OK);
    tz_span_at(zone, 1262304000LL, &sp);         /* 2010 */
    while (sp.end_s < 2366841600LL && n < 200) { /* 2045 */
        if (sp.end_s == INT64_MAX) break;
        changes[n++] = sp.end_s;
        tz_span_at(zone, sp.end_s, &sp);
    }
    int64_t base_s = n ? changes[rnd((uint32_t)n)] : 1767225600LL + rnd(365) * 86400LL;
    return base_s - before_s + rnd((uint32_t)(before_s + after_s));
}

/* The oracle's answer from from_s, stepping forwards (next: strictly after) or backwards
 * (prev: at or before) over window_s; -1 when the window holds no fire. */
static int64_t oracle_fire(const tasker_cron *c, int64_t from_s, int backwards, int step_s,
                           int64_t window_s)
{
    if (backwards) {
        for (int64_t t_s = from_s / step_s * step_s; t_s >= from_s - window_s; t_s -= step_s)
            if (is_fire(c, t_s, step_s)) return t_s;
        return -1;
    }
    for (int64_t t_s = (from_s / step_s + 1) * step_s; t_s <= from_s + window_s; t_s += step_s)
        if (is_fire(c, t_s, step_s)) return t_s; /* instants are positive here */
    return -1;
}

/* ORACLE_CASES random expressions in the zones above, each with its own H key, asked
 * next() (backwards = 0) or prev() (1) from near an offset change. */
static void agree_with_the_oracle(int backwards)
{
    int failures = 0, checked = 0, found = 0;
    for (int i = 0; i < ORACLE_CASES; i++) {
        const char *zone_name = zones[i % (sizeof zones / sizeof zones[0])];
        int six = rnd(4) == 0;
        int step_s = six ? 1 : 60;
        int64_t window_s = six ? 6 * 3600 : 3 * 86400;
        char fields[128], expr[192], key[32];
        tasker_cron *c = NULL;
        random_expression(fields, sizeof fields, six);
        snprintf(expr, sizeof expr, "CRON_TZ=%s %s", zone_name, fields);
        snprintf(key, sizeof key, "oracle-task-%d", i);
        assert_int_equal(tasker_cron_parse_key(expr, key, &c), TASKER_OK);
        setenv("TZ", zone_name, 1);
        tzset();
        int64_t near_s = six ? 5 * 3600 : 20 * 3600;
        int64_t from_s = backwards ? start_near_change(zone_name, 3600, (int)near_s)
                                   : start_near_change(zone_name, (int)near_s, 3600);
        int64_t want_s = oracle_fire(c, from_s, backwards, step_s, window_s);
        int64_t got_us = 0;
        int rc = backwards ? tasker_cron_prev(c, from_s * 1000000, &got_us)
                           : tasker_cron_next(c, from_s * 1000000, &got_us);
        int beyond = backwards ? got_us < (from_s - window_s) * 1000000
                               : got_us > (from_s + window_s) * 1000000;
        int ok = want_s >= 0 ? rc == TASKER_OK && got_us == want_s * 1000000
                             : rc == TASKER_ENOTFOUND || beyond;
        if (!ok && failures++ < 20) {
            char a[64], w[64], g[64];
            printf("'%s' key %s, %s %s: oracle %s, got %s (rc %d)\n", expr, key,
                   backwards ? "prev at" : "next after",
                   test_format_us(from_s * 1000000, a, sizeof a),
                   want_s >= 0 ? test_format_us(want_s * 1000000, w, sizeof w) : "none in window",
                   test_format_us(got_us, g, sizeof g), rc);
        }
        found += want_s >= 0;
        checked++;
        tasker_cron_free(c);
    }
    setenv("TZ", "UTC", 1);
    tzset();
    printf("%d cases, %d with a fire in the window, %d disagreements\n", checked, found, failures);
    assert_true(found > checked / 2);
    assert_int_equal(failures, 0);
}

static void next_agrees_with_a_second_by_second_oracle(void **state)
{
    agree_with_the_oracle(0);
}

static void prev_agrees_with_a_second_by_second_oracle(void **state)
{
    agree_with_the_oracle(1);
}

/* ---- the day rules, written out plainly ---- */

static int weekday_of(int64_t year, int month, int day)
{
    struct tm tm = {.tm_year = (int)(year - 1900), .tm_mon = month - 1, .tm_mday = day};
    time_t t = timegm(&tm);
    gmtime_r(&t, &tm);
    return tm.tm_wday;
}

/* The month's length, as timegm's normalisation sees it. */
static int days_in(int64_t year, int month)
{
    int d = 28;
    while (d < 31) {
        struct tm tm = {.tm_year = (int)(year - 1900), .tm_mon = month - 1, .tm_mday = d + 1};
        time_t t = timegm(&tm);
        gmtime_r(&t, &tm);
        if (tm.tm_mon != month - 1) break;
        d++;
    }
    return d;
}

static int is_workday(int wd)
{
    return wd >= 1 && wd <= 5;
}

/* "nW": of the month's weekdays, the one nearest day n. */
static int nearest_workday(int64_t year, int month, int n, int ndays)
{
    int best = 0;
    for (int d = 1; d <= ndays; d++)
        if (is_workday(weekday_of(year, month, d)) && (!best || abs(d - n) < abs(best - n)))
            best = d;
    return best;
}

static int dom_matches(const tasker_cron *c, int64_t year, int month, int day, int ndays)
{
    if (c->dom >> day & 1) return 1;
    for (int n = 0; n <= 30; n++)
        if ((c->dom_last >> n & 1) && day == ndays - n) return 1;
    for (int n = 1; n <= 31; n++)
        if ((c->dom_near >> n & 1) && n <= ndays && day == nearest_workday(year, month, n, ndays))
            return 1;
    for (int n = 0; n <= 30; n++) /* "L-nW": the weekday nearest the day n before the last */
        if ((c->dom_last_near >> n & 1) && n < ndays &&
            day == nearest_workday(year, month, ndays - n, ndays))
            return 1;
    return 0;
}

static int dow_matches(const tasker_cron *c, int wd, int day, int ndays)
{
    return (c->dow >> wd & 1) || ((c->dow_last >> wd & 1) && day + 7 > ndays) ||
           (c->dow_nth[wd] >> ((day - 1) / 7) & 1);
}

static void month_days_follow_the_plain_rules(void **state)
{
    static const char *const doms[] = {"*",    "?",     "1",      "31",  "L",       "L-1", "L-30",
                                       "LW",   "1W",    "15W",    "31W", "30W",     "*/2", "1-7",
                                       "L,15", "1W,LW", "2W,L-3", "29",  "1,15,L-5", "L-1W",
                                       "L-0W", "L-30W", "L-28W",  "L-5W,1W", "L-2,L-2W"};
    static const char *const dows[] = {"*",   "?",       "0",   "7",   "MON-FRI",
                                       "5L",  "0L",      "1#1", "5#5", "2#2,4L",
                                       "*/2", "SAT-SUN", "6#1", "1#5", "3L,3#1"};
    int months = 0, failures = 0;
    for (size_t i = 0; i < sizeof doms / sizeof doms[0]; i++) {
        for (size_t j = 0; j < sizeof dows / sizeof dows[0]; j++) {
            char expr[64];
            tasker_cron *c = NULL;
            snprintf(expr, sizeof expr, "0 0 %s * %s", doms[i], dows[j]);
            assert_int_equal(tasker_cron_parse(expr, &c), TASKER_OK);
            for (int64_t year = 1999; year <= 2030; year += 1 + (int64_t)rnd(3)) {
                for (int month = 1; month <= 12; month++) {
                    int ndays = days_in(year, month);
                    uint32_t want = 0;
                    for (int day = 1; day <= ndays; day++) {
                        int d = dom_matches(c, year, month, day, ndays);
                        int w = dow_matches(c, weekday_of(year, month, day), day, ndays);
                        if (c->dom_star || c->dow_star ? d && w : d || w) want |= 1U << day;
                    }
                    uint32_t got = cron_month_days(c, year, month);
                    if (got != want && failures++ < 10)
                        printf("'%s' %lld-%02d: want %08x, got %08x\n", expr, (long long)year,
                               month, want, got);
                    months++;
                }
            }
            tasker_cron_free(c);
        }
    }
    printf("%d months checked\n", months);
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(next_agrees_with_a_second_by_second_oracle),
        cmocka_unit_test(prev_agrees_with_a_second_by_second_oracle),
        cmocka_unit_test(month_days_follow_the_plain_rules),
    };
    setenv("TZ", "UTC", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
