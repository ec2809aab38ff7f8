/* The time zone side of cron: our TZif reading against glibc's localtime_r for many
 * instants in many zones, the process zone taken from $TZ, TZif versions 1 to 3 and
 * their footer rules (written by hand into a scratch $TZDIR), prev() retracing next() in
 * those files, bad files, the internal helpers the schedule loop uses, and parsing from
 * many threads at once. This test process sets TZ and TZDIR for itself; the library
 * never does. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <tasker/cron.h>
#include <tasker/tasker.h>

#include "cron/cron_internal.h"
#include "cron/tz.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test_cron_util.h"

static const char *const compared_zones[] = {
    "America/New_York",  "Europe/London",    "Australia/Lord_Howe", "Australia/Sydney",
    "America/Santiago",  "Asia/Kolkata",     "Europe/Dublin",       "Africa/Casablanca",
    "Pacific/Apia",      "America/St_Johns", "Asia/Tehran",         "Pacific/Chatham",
    "America/Sao_Paulo", "Europe/Moscow",    "Pacific/Kiritimati",  "UTC",
};

/* glibc's offset at t_s, with TZ set to zone for this process only. */
static long glibc_offset_s(int64_t t_s)
{
    time_t t = (time_t)t_s;
    struct tm tm;
    assert_non_null(localtime_r(&t, &tm));
    return tm.tm_gmtoff;
}

static void offsets_match_glibc_in_many_zones(void **state)
{
    char *saved_tz = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
    long checked = 0;
    for (size_t z = 0; z < sizeof compared_zones / sizeof compared_zones[0]; z++) {
        const tz_zone *zone = NULL;
        const char *name = compared_zones[z];
        assert_int_equal(tz_find(name, strlen(name), &zone), TASKER_OK);
        setenv("TZ", name, 1);
        tzset();
        /* 1900 to 2200 in steps of 7 h 13 min 17 s, so every hour of day comes up. */
        for (int64_t t_s = -2208988800LL; t_s < 7258118400LL; t_s += 7 * 3600 + 13 * 60 + 17) {
            tz_span sp;
            tz_span_at(zone, t_s, &sp);
            if (sp.off_s != glibc_offset_s(t_s)) {
                char buf[64];
                fail_msg("%s at %s: ours %d, glibc %ld", name,
                         test_format_us(t_s * 1000000, buf, sizeof buf), sp.off_s,
                         glibc_offset_s(t_s));
            }
            assert_true(sp.start_s <= t_s && t_s < sp.end_s);
            checked++;
        }
    }
    if (saved_tz)
        setenv("TZ", saved_tz, 1);
    else
        unsetenv("TZ");
    tzset();
    free(saved_tz);
    assert_true(checked > 5000000);
}

/* Each span's edges agree with the spans on either side: prev_off_s is the offset just
 * before start_s, and the next span starts where this one ends. */
static void spans_join_up_across_table_and_footer(void **state)
{
    const char *names[] = {"America/New_York", "Australia/Lord_Howe", "America/Santiago",
                           "Europe/London"};
    for (size_t z = 0; z < 4; z++) {
        const tz_zone *zone = NULL;
        tz_span sp, before, after;
        int transitions = 0;
        assert_int_equal(tz_find(names[z], strlen(names[z]), &zone), TASKER_OK);
        tz_span_at(zone, 946684800LL, &sp); /* 2000 */
        while (sp.end_s < 4102444800LL) {   /* to 2100: table, then footer */
            tz_span_at(zone, sp.end_s, &after);
            assert_true(after.start_s == sp.end_s);
            assert_int_equal(after.prev_off_s, sp.off_s);
            tz_span_at(zone, after.start_s - 1, &before);
            assert_int_equal(before.off_s, after.prev_off_s);
            sp = after;
            transitions++;
        }
        assert_true(transitions >= 190); /* two a year for a century (Kolkata has none) */
    }
}

static const char *local_zone_name(const char *expr)
{
    static char name[256];
    tasker_cron *c = NULL;
    assert_int_equal(tasker_cron_parse(expr, &c), TASKER_OK);
    snprintf(name, sizeof name, "%s", tasker_cron_zone_name(c));
    tasker_cron_free(c);
    return name;
}

static int64_t next_from(const char *expr, const char *from)
{
    tasker_cron *c = NULL;
    int ok;
    int64_t next_us = 0;
    assert_int_equal(tasker_cron_parse(expr, &c), TASKER_OK);
    assert_int_equal(tasker_cron_next(c, test_instant_us(from, &ok), &next_us), TASKER_OK);
    assert_true(ok);
    tasker_cron_free(c);
    return next_us;
}

static int64_t instant(const char *text)
{
    int ok;
    int64_t us = test_instant_us(text, &ok);
    assert_true(ok);
    return us;
}

static void process_zone_comes_from_tz(void **state)
{
    setenv("TZ", "America/New_York", 1);
    assert_string_equal(local_zone_name("30 2 * * *"), "America/New_York");
    assert_int_equal(next_from("30 2 * * *", "2026-03-07 12:00 -05:00"),
                     instant("2026-03-08 03:00 -04:00"));
    setenv("TZ", ":Europe/London", 1);
    assert_string_equal(local_zone_name("0 0 * * *"), "Europe/London");
    assert_int_equal(next_from("30 1 * * *", "2026-03-28 12:00 Z"),
                     instant("2026-03-29 02:00 +01:00"));
    setenv("TZ", ":/usr/share/zoneinfo/Asia/Kolkata", 1);
    assert_int_equal(next_from("0 0 * * *", "2026-01-01 00:00 Z"),
                     instant("2026-01-02 00:00 +05:30"));
    /* A POSIX TZ string: the US rules written out. */
    setenv("TZ", "EST5EDT,M3.2.0,M11.1.0", 1);
    assert_int_equal(next_from("30 2 * * *", "2026-03-07 12:00 -05:00"),
                     instant("2026-03-08 03:00 -04:00"));
    assert_int_equal(next_from("30 1 * * *", "2026-11-01 01:45 -04:00"),
                     instant("2026-11-02 01:30 -05:00"));
    /* A southern POSIX rule with a 30-minute shift, as Lord Howe's. */
    setenv("TZ", "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", 1);
    assert_int_equal(next_from("15 2 * * *", "2026-10-03 12:00 +10:30"),
                     instant("2026-10-04 02:30 +11:00"));
    setenv("TZ", "<+0330>-3:30", 1);
    assert_int_equal(next_from("0 0 * * *", "2026-01-01 00:00 Z"),
                     instant("2026-01-02 00:00 +03:30"));
    /* Empty, or nothing glibc would understand either: UTC. */
    setenv("TZ", "", 1);
    assert_string_equal(local_zone_name("0 0 * * *"), "UTC");
    assert_int_equal(next_from("0 0 * * *", "2026-01-01 00:00 Z"), instant("2026-01-02 00:00 Z"));
    setenv("TZ", "Nowhere/Special", 1);
    assert_int_equal(next_from("0 0 * * *", "2026-01-01 00:00 Z"), instant("2026-01-02 00:00 Z"));
    /* Unset: /etc/localtime (whatever it is here, it must load and agree with glibc). */
    unsetenv("TZ");
    tzset();
    assert_string_equal(local_zone_name("0 0 * * *"), "localtime");
    {
        tasker_cron *c = NULL;
        int64_t next_us = 0;
        time_t fire_s;
        struct tm tm;
        assert_int_equal(tasker_cron_parse("0 12 * * *", &c), TASKER_OK);
        assert_int_equal(tasker_cron_next(c, instant("2026-06-01 00:00 Z"), &next_us), TASKER_OK);
        fire_s = (time_t)(next_us / 1000000);
        localtime_r(&fire_s, &tm);
        assert_int_equal(tm.tm_hour, 12);
        assert_int_equal(tm.tm_min, 0);
        tasker_cron_free(c);
    }
    setenv("TZ", "UTC", 1);
}

/* ---- hand-written TZif files in a scratch TZDIR ---- */

static char tzdir[256];

static void put32(unsigned char **p, uint32_t v)
{
    (*p)[0] = (unsigned char)(v >> 24);
    (*p)[1] = (unsigned char)(v >> 16);
    (*p)[2] = (unsigned char)(v >> 8);
    (*p)[3] = (unsigned char)v;
    *p += 4;
}

static void put64(unsigned char **p, int64_t v)
{
    put32(p, (uint32_t)((uint64_t)v >> 32));
    put32(p, (uint32_t)v);
}

/* A header: magic, version, and the six counts (isut, isstd, leap, time, type, char). */
static void put_header(unsigned char **p, char version, uint32_t timecnt, uint32_t typecnt,
                       uint32_t charcnt)
{
    memcpy(*p, "TZif", 4);
    (*p)[4] = (unsigned char)version;
    memset(*p + 5, 0, 15);
    *p += 20;
    put32(p, 0);
    put32(p, 0);
    put32(p, 0);
    put32(p, timecnt);
    put32(p, typecnt);
    put32(p, charcnt);
}

static void put_type(unsigned char **p, int32_t off_s, int isdst)
{
    put32(p, (uint32_t)off_s);
    (*p)[0] = (unsigned char)isdst;
    (*p)[1] = 0;
    *p += 2;
}

static void write_zone(const char *name, const unsigned char *buf, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tzdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
}

/* Version 1: +01:00 until 2001-09-09 01:46:40 Z, then +02:00. No footer. */
static size_t build_v1(unsigned char *buf)
{
    unsigned char *p = buf;
    put_header(&p, '\0', 1, 2, 4);
    put32(&p, 1000000000U);
    *p++ = 1;
    put_type(&p, 3600, 0);
    put_type(&p, 7200, 0);
    memcpy(p, "AB\0\0", 4);
    p += 4;
    return (size_t)(p - buf);
}

/* Version 2 or 3: a one-type v1 block, a v2 block with the given transitions (all to
 * type 1), and the footer. */
static size_t build_v2(unsigned char *buf, char version, const int64_t *at_s, uint32_t n,
                       int32_t off0_s, int32_t off1_s, const char *footer)
{
    unsigned char *p = buf;
    put_header(&p, version, 0, 1, 4);
    put_type(&p, off0_s, 0);
    memcpy(p, "AB\0\0", 4);
    p += 4;
    put_header(&p, version, n, 2, 4);
    for (uint32_t i = 0; i < n; i++)
        put64(&p, at_s[i]);
    for (uint32_t i = 0; i < n; i++)
        *p++ = 1;
    put_type(&p, off0_s, 0);
    put_type(&p, off1_s, 1);
    memcpy(p, "AB\0\0", 4);
    p += 4;
    *p++ = '\n';
    memcpy(p, footer, strlen(footer));
    p += strlen(footer);
    *p++ = '\n';
    return (size_t)(p - buf);
}

static int setup_tzdir(void **state)
{
    unsigned char buf[4096];
    int64_t at_s = 1000000000LL;
    snprintf(tzdir, sizeof tzdir, "/tmp/tasker-test-tzdir-%ld", (long)getpid());
    assert_int_equal(mkdir(tzdir, 0700), 0);
    char sub[300];
    snprintf(sub, sizeof sub, "%s/Test", tzdir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_zone("Test/V1", buf, build_v1(buf));
    /* No table at all: the footer's US rules alone. */
    write_zone("Test/FooterOnly", buf,
               build_v2(buf, '2', NULL, 0, -18000, -18000, "EST5EDT,M3.2.0,M11.1.0"));
    /* Version 3 with permanent DST in the footer (RFC 8536 3.3.1's own example). */
    write_zone("Test/PermanentDst", buf,
               build_v2(buf, '3', NULL, 0, 14400, 14400, "XXX-3YYY,0/0,J365/25"));
    /* A table then a footer: +01:00, from 2001-09-09 on a rule of its own. */
    write_zone("Test/TableThenRule", buf,
               build_v2(buf, '2', &at_s, 1, 3600, 7200, "<+02>-2<+03>,M3.5.0/-1,M10.5.0/26"));
    /* Broken files. */
    write_zone("Test/Empty", buf, 0);
    write_zone("Test/NotTzif", (const unsigned char *)"# not a zone\n", 13);
    size_t len = build_v1(buf);
    write_zone("Test/Truncated", buf, len - 3);
    buf[4 + 16 + 4 * 4 + 3] = 0; /* typecnt 0 */
    write_zone("Test/NoTypes", buf, len);
    len = build_v1(buf);
    buf[44 + 4] = 9; /* the transition's type index past the two types */
    write_zone("Test/BadIndex", buf, len);
    setenv("TZDIR", tzdir, 1);
    return 0;
}

static int teardown_tzdir(void **state)
{
    const char *names[] = {"V1",      "FooterOnly", "PermanentDst", "TableThenRule", "Empty",
                           "NotTzif", "Truncated",  "NoTypes",      "BadIndex"};
    char path[512];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/Test/%s", tzdir, names[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/Test", tzdir);
    rmdir(path);
    rmdir(tzdir);
    unsetenv("TZDIR");
    return 0;
}

static int32_t offset_at(const char *zone_name, const char *when)
{
    const tz_zone *zone = NULL;
    tz_span sp;
    assert_int_equal(tz_find(zone_name, strlen(zone_name), &zone), TASKER_OK);
    tz_span_at(zone, instant(when) / 1000000, &sp);
    return sp.off_s;
}

static void version_1_file_is_read(void **state)
{
    assert_int_equal(offset_at("Test/V1", "1990-01-01 00:00 Z"), 3600);
    assert_int_equal(offset_at("Test/V1", "2001-09-09 01:46:39 Z"), 3600);
    assert_int_equal(offset_at("Test/V1", "2001-09-09 01:46:40 Z"), 7200);
    assert_int_equal(offset_at("Test/V1", "2150-01-01 00:00 Z"), 7200);
    assert_int_equal(next_from("CRON_TZ=Test/V1 0 0 * * *", "2026-01-01 00:00 Z"),
                     instant("2026-01-02 00:00 +02:00"));
}

static void footer_alone_gives_the_rules(void **state)
{
    assert_int_equal(offset_at("Test/FooterOnly", "2026-01-15 00:00 Z"), -18000);
    assert_int_equal(offset_at("Test/FooterOnly", "2026-07-15 00:00 Z"), -14400);
    assert_int_equal(next_from("CRON_TZ=Test/FooterOnly 30 2 * * *", "2026-03-07 12:00 -05:00"),
                     instant("2026-03-08 03:00 -04:00"));
    assert_int_equal(next_from("CRON_TZ=Test/FooterOnly 30 * * * *", "2026-11-01 01:45 -04:00"),
                     instant("2026-11-01 01:30 -05:00"));
}

static void permanent_dst_has_no_gaps(void **state)
{
    /* XXX-3YYY: standard +03:00, DST +04:00 all year: the year's end and the next year's
     * start meet, so no fire is moved or doubled around New Year. */
    assert_int_equal(offset_at("Test/PermanentDst", "2026-01-01 00:00 Z"), 14400);
    assert_int_equal(offset_at("Test/PermanentDst", "2026-06-01 00:00 Z"), 14400);
    assert_int_equal(offset_at("Test/PermanentDst", "2026-12-31 20:00 Z"), 14400);
    assert_int_equal(next_from("CRON_TZ=Test/PermanentDst 30 0 * * *", "2026-12-31 12:00 +04:00"),
                     instant("2027-01-01 00:30 +04:00"));
    assert_int_equal(next_from("CRON_TZ=Test/PermanentDst 30 * * * *", "2026-12-31 23:45 +04:00"),
                     instant("2027-01-01 00:30 +04:00"));
}

static void rule_times_may_be_negative_or_past_24h(void **state)
{
    /* <+02>-2<+03>,M3.5.0/-1,M10.5.0/26: DST from 23:00 +02 on the Saturday before the
     * last Sunday of March, to 02:00 +03 on the Monday after the last Sunday of October.
     * 2026: last Sunday of March is the 29th, of October the 25th. */
    assert_int_equal(offset_at("Test/TableThenRule", "2000-01-01 00:00 Z"), 3600);
    assert_int_equal(offset_at("Test/TableThenRule", "2026-03-28 20:59:59 Z"), 7200);
    assert_int_equal(offset_at("Test/TableThenRule", "2026-03-28 21:00 Z"), 10800);
    assert_int_equal(offset_at("Test/TableThenRule", "2026-10-25 22:59:59 Z"), 10800);
    assert_int_equal(offset_at("Test/TableThenRule", "2026-10-25 23:00 Z"), 7200);
    assert_int_equal(next_from("CRON_TZ=Test/TableThenRule 30 23 * * *", "2026-03-28 12:00 +02:00"),
                     instant("2026-03-29 00:00 +03:00"));
    assert_int_equal(next_from("CRON_TZ=Test/TableThenRule 30 1 * * *", "2026-10-26 00:00 +03:00"),
                     instant("2026-10-26 01:30 +03:00"));
    assert_int_equal(next_from("CRON_TZ=Test/TableThenRule 30 1 * * *", "2026-10-26 01:30 +03:00"),
                     instant("2026-10-27 01:30 +02:00"));
}

/* The fires next() finds in [from, until) of expr, walked back with prev() from until:
 * the same instants, in reverse. Returns how many; fails the test on a difference. */
static int prev_retraces_next(const char *expr, const char *from, const char *until)
{
    static int64_t fires[20000];
    tasker_cron *c = NULL;
    int64_t at_us = instant(from), until_us = instant(until), got_us = 0;
    int n = 0;
    assert_int_equal(tasker_cron_parse(expr, &c), TASKER_OK);
    while (n < 20000 && tasker_cron_next(c, at_us, &fires[n]) == TASKER_OK && fires[n] < until_us)
        at_us = fires[n++];
    at_us = until_us - 1;
    for (int k = n - 1; k >= 0; k--) {
        assert_int_equal(tasker_cron_prev(c, at_us, &got_us), TASKER_OK);
        if (got_us != fires[k]) printf("'%s': fire %d of %d differs\n", expr, k, n);
        assert_int_equal(got_us, fires[k]);
        at_us = got_us - 1;
    }
    tasker_cron_free(c);
    return n;
}

static void prev_retraces_next_in_odd_zone_files(void **state)
{
    static const char *const zones[] = {"Test/V1", "Test/FooterOnly", "Test/PermanentDst",
                                        "Test/TableThenRule"};
    static const char *const fields[] = {"30 * * * *", "30 1 * * *", "30 23 * * *",
                                         "0 0 * * *",  "0 */2 * * *", "*/20 2 * * *"};
    int fires = 0;
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
        for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
            char expr[96];
            snprintf(expr, sizeof expr, "CRON_TZ=%s %s", zones[z], fields[f]);
            fires += prev_retraces_next(expr, "2025-12-20 00:00 Z", "2027-01-10 00:00 Z");
            fires += prev_retraces_next(expr, "2001-09-01 00:00 Z", "2001-09-20 00:00 Z");
        }
    }
    assert_true(fires > 50000);
}

static void broken_files_are_unknown_zones(void **state)
{
    const char *names[] = {"Test/Empty",   "Test/NotTzif",  "Test/Truncated",
                           "Test/NoTypes", "Test/BadIndex", "Test"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char expr[128], want[128];
        tasker_cron *c = NULL;
        snprintf(expr, sizeof expr, "CRON_TZ=%s 0 0 * * *", names[i]);
        snprintf(want, sizeof want, "cron: unknown time zone '%s'", names[i]);
        assert_int_equal(tasker_cron_parse(expr, &c), TASKER_EINVAL);
        assert_null(c);
        assert_string_equal(tasker_last_error(), want);
    }
}

static void helpers_for_the_schedule_loop(void **state)
{
    tasker_cron *c = NULL;
    assert_int_equal(tasker_cron_parse("@every 1h30m", &c), TASKER_OK);
    assert_true(tasker_cron_is_every(c));
    assert_int_equal(tasker_cron_every_us(c), 5400000000LL);
    tasker_cron_free(c);
    assert_int_equal(tasker_cron_parse("CRON_TZ=Europe/London 0 9 * * MON-FRI", &c), TASKER_OK);
    assert_false(tasker_cron_is_every(c));
    assert_int_equal(tasker_cron_every_us(c), 0);
    assert_string_equal(tasker_cron_zone_name(c), "Europe/London");
    tasker_cron_free(c);
    assert_false(tasker_cron_is_every(NULL));
}

/* ---- many threads ---- */

#define THREADS 8

static void *parse_and_next_in_a_loop(void *arg)
{
    static const char *const exprs[] = {
        "CRON_TZ=America/New_York 30 2 * * *", "CRON_TZ=Europe/Paris 0 9 * * MON-FRI",
        "CRON_TZ=Asia/Tokyo 0 0 L * *",        "CRON_TZ=Africa/Cairo */5 * * * *",
        "CRON_TZ=America/Chicago 0 0 1 * *",   "TZ=Europe/Berlin 15 3 * * *",
    };
    long id = (long)(intptr_t)arg;
    long bad = 0;
    for (int i = 0; i < 300; i++) {
        const char *expr = exprs[(i + id) % 6];
        tasker_cron *c = NULL;
        int64_t a_us = 0, b_us = 0;
        if (tasker_cron_parse(expr, &c) != TASKER_OK) {
            bad++;
            continue;
        }
        if (tasker_cron_next(c, 1767225600000000LL, &a_us) != TASKER_OK ||
            tasker_cron_next(c, a_us, &b_us) != TASKER_OK || b_us <= a_us)
            bad++;
        tasker_cron_free(c);
    }
    return (void *)(intptr_t)bad;
}

static void zones_load_once_under_many_threads(void **state)
{
    pthread_t threads[THREADS];
    for (long i = 0; i < THREADS; i++)
        assert_int_equal(
            pthread_create(&threads[i], NULL, parse_and_next_in_a_loop, (void *)(intptr_t)i), 0);
    for (int i = 0; i < THREADS; i++) {
        void *bad = NULL;
        assert_int_equal(pthread_join(threads[i], &bad), 0);
        assert_int_equal((intptr_t)bad, 0);
    }
    /* One parsed expression shared by threads gives them all the same answers. */
    const tz_zone *a = NULL, *b = NULL;
    assert_int_equal(tz_find("Asia/Tokyo", 10, &a), TASKER_OK);
    assert_int_equal(tz_find("Asia/Tokyo", 10, &b), TASKER_OK);
    assert_ptr_equal(a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(offsets_match_glibc_in_many_zones),
        cmocka_unit_test(spans_join_up_across_table_and_footer),
        cmocka_unit_test(process_zone_comes_from_tz),
        cmocka_unit_test_setup_teardown(version_1_file_is_read, setup_tzdir, teardown_tzdir),
        cmocka_unit_test_setup_teardown(footer_alone_gives_the_rules, setup_tzdir, teardown_tzdir),
        cmocka_unit_test_setup_teardown(permanent_dst_has_no_gaps, setup_tzdir, teardown_tzdir),
        cmocka_unit_test_setup_teardown(rule_times_may_be_negative_or_past_24h, setup_tzdir,
                                        teardown_tzdir),
        cmocka_unit_test_setup_teardown(prev_retraces_next_in_odd_zone_files, setup_tzdir,
                                        teardown_tzdir),
        cmocka_unit_test_setup_teardown(broken_files_are_unknown_zones, setup_tzdir,
                                        teardown_tzdir),
        cmocka_unit_test(helpers_for_the_schedule_loop),
        cmocka_unit_test(zones_load_once_under_many_threads),
    };
    setenv("TZ", "UTC", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
