/* tasker_cron_prev: the latest fire at or before an instant. Hand-checked cases, then
 * its contract with tasker_cron_next (which test_cron.c and the oracle check on their
 * own) over many random instants, expressions and DST zones from a fixed seed:
 *   p = prev(t): p <= t, next(p - 1) == p, and next(p) > t (no fire in (p, t]);
 *   n = next(t): prev(n) == n, and prev(n - 1) == prev(t) (none in (t, n)).
 * And whole stretches around each offset change walked backwards with prev must give
 * the fires next gives forwards, in reverse. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <tasker/cron.h>
#include <tasker/tasker.h>

#include "cron/tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_cron_util.h"

#define US 1000000LL

static const char *const zones[] = {
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Australia/Sydney",
    "America/Santiago",
    "Asia/Kolkata",
};

static const char *const exprs[] = {
    "0 9 * * MON-FRI",   "*/5 * * * *",     "30 2 * * *",       "30 1 * * *",       "0 0 L * *",
    "0 0 L-3W * *",      "0 0 LW,1W * *",   "0 30 2 * * *",     "*/20 */7 * * * *", "H H * * *",
    "H/15 H(1-3) * * *", "0 H/2 * * *",     "@hourly",          "@daily",           "@every_minute",
    "0 0 29 2 *",        "0 12 * * 1#1,5L", "15 0 * * 0#5",     "0,30 1-3 * * *",   "0 0 13 * FRI",
    "30 */2 * * *",      "H 0 0 L-2W 2 *",  "59 59 23 31 12 *", "0 0 0 1 1 *",      "@every 90s",
    "@every 1h",         "@every 7m30s",    "0 0 30 2 *",
};

static uint64_t rng_state = 0x2026c0ffee15ULL;

static uint64_t rnd64(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return rng_state >> 11;
}

static tasker_cron *parse_in_zone(const char *zone, const char *fields, const char *key)
{
    char expr[160];
    tasker_cron *c = NULL;
    if (fields[0] == '@' && strncmp(fields, "@every ", 7) == 0)
        snprintf(expr, sizeof expr, "%s", fields); /* @every has no zone */
    else
        snprintf(expr, sizeof expr, "CRON_TZ=%s %s", zone, fields);
    int rc = tasker_cron_parse_key(expr, key, &c);
    if (rc != TASKER_OK) printf("'%s': %s\n", expr, tasker_last_error());
    assert_int_equal(rc, TASKER_OK);
    return c;
}

/* A start instant: anywhere in 1990-2060, or within two hours of one of the zone's
 * offset changes in 2020-2040 (where prev and next are easiest to get wrong). */
static int64_t random_instant(const char *zone_name)
{
    const tz_zone *zone = NULL;
    tz_span sp;
    int64_t frac_us = (int64_t)(rnd64() % 4 == 0 ? 0 : rnd64() % US);
    if (rnd64() % 2 == 0) return (631152000LL + (int64_t)(rnd64() % 2208988800ULL)) * US + frac_us;
    assert_int_equal(tz_find(zone_name, strlen(zone_name), &zone), TASKER_OK);
    tz_span_at(zone, 1577836800LL + (int64_t)(rnd64() % 631152000ULL), &sp); /* 2020-2040 */
    int64_t change_s = sp.end_s == INT64_MAX ? sp.start_s : sp.end_s;
    if (change_s == INT64_MIN) change_s = 1767225600LL;
    return (change_s - 7200 + (int64_t)(rnd64() % 14400)) * US + frac_us;
}

static int failures;

static void fail_case(const char *what, const tasker_cron *c, const char *zone, const char *e,
                      int64_t t_us, int64_t got_us)
{
    char a[64], b[64];
    (void)c;
    if (failures++ < 20)
        printf("%s: '%s' in %s at %s: %s\n", what, e, zone, test_format_us(t_us, a, sizeof a),
               test_format_us(got_us, b, sizeof b));
}

/* Both laws at t for one expression. */
static void check_laws(const tasker_cron *c, const char *zone, const char *e, int64_t t_us)
{
    int64_t p = 0, n = 0, x = 0, y = 0;
    int rc_p = tasker_cron_prev(c, t_us, &p);
    if (rc_p == TASKER_OK) {
        if (p > t_us) fail_case("prev after t", c, zone, e, t_us, p);
        if (tasker_cron_next(c, p - 1, &x) != TASKER_OK || x != p)
            fail_case("next(prev(t) - 1) != prev(t)", c, zone, e, t_us, p);
        if (tasker_cron_next(c, p, &x) == TASKER_OK && x <= t_us)
            fail_case("a fire between prev(t) and t", c, zone, e, t_us, x);
    } else if (rc_p != TASKER_ENOTFOUND) {
        fail_case("prev rc", c, zone, e, t_us, rc_p);
    }
    if (tasker_cron_next(c, t_us, &n) != TASKER_OK) return;
    if (tasker_cron_prev(c, n, &x) != TASKER_OK || x != n)
        fail_case("prev(next(t)) != next(t)", c, zone, e, t_us, x);
    int rc_y = tasker_cron_prev(c, n - 1, &y);
    if (rc_y != rc_p || (rc_y == TASKER_OK && y != p))
        fail_case("prev(next(t) - 1) != prev(t)", c, zone, e, t_us, y);
}

static void prev_and_next_agree_on_random_instants(void **state)
{
    int cases = 0;
    failures = 0;
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
        for (size_t i = 0; i < sizeof exprs / sizeof exprs[0]; i++) {
            char key[32];
            snprintf(key, sizeof key, "task-%zu-%zu", z, i);
            tasker_cron *c = parse_in_zone(zones[z], exprs[i], key);
            tasker_cron_set_anchor(c, (int64_t)(rnd64() % (4102444800ULL * US)));
            for (int k = 0; k < 150; k++, cases++)
                check_laws(c, zones[z], exprs[i], random_instant(zones[z]));
            tasker_cron_free(c);
        }
    }
    printf("%d instants checked, %d failures\n", cases, failures);
    assert_int_equal(failures, 0);
}

/* From every fire next() finds in [from, until), walking back with prev gives them all. */
static int walk_back(const tasker_cron *c, const char *zone, const char *e, int64_t from_us,
                     int64_t until_us)
{
    int64_t fires[2048], at_us = from_us, got_us = 0;
    int n = 0, bad = 0;
    while (n < 2048 && tasker_cron_next(c, at_us, &fires[n]) == TASKER_OK && fires[n] < until_us)
        at_us = fires[n++];
    at_us = until_us - 1;
    for (int k = n - 1; k >= 0; k--) {
        if (tasker_cron_prev(c, at_us, &got_us) != TASKER_OK || got_us != fires[k]) {
            fail_case("walking back", c, zone, e, at_us, got_us);
            bad++;
            break;
        }
        at_us = got_us - 1;
    }
    if (!bad && n > 0 && tasker_cron_prev(c, at_us, &got_us) == TASKER_OK && got_us > from_us) {
        fail_case("walking back past the first", c, zone, e, at_us, got_us);
        bad++;
    }
    return n;
}

static void prev_walks_back_across_every_offset_change(void **state)
{
    static const char *const fine[] = {"*/5 * * * *",      "30 2 * * *",  "30 1 * * *",
                                       "0,30 1-3 * * *",   "0 H/2 * * *", "@hourly",
                                       "0 */15 0-3 * * *", "@daily"};
    int walked = 0, changes = 0;
    failures = 0;
    for (size_t z = 1; z < sizeof zones / sizeof zones[0]; z++) {
        const tz_zone *zone = NULL;
        tz_span sp;
        assert_int_equal(tz_find(zones[z], strlen(zones[z]), &zone), TASKER_OK);
        tz_span_at(zone, 1767225600LL, &sp); /* 2026 and 2027 */
        while (sp.end_s < 1830297600LL) {
            for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
                tasker_cron *c = parse_in_zone(zones[z], fine[i], "walker");
                walked += walk_back(c, zones[z], fine[i], (sp.end_s - 86400) * US,
                                    (sp.end_s + 86400) * US);
                tasker_cron_free(c);
            }
            changes++;
            tz_span_at(zone, sp.end_s, &sp);
        }
    }
    printf("%d offset changes, %d fires walked back\n", changes, walked);
    assert_true(changes >= 20);
    assert_int_equal(failures, 0);
}

static int64_t at(const char *text)
{
    int ok;
    int64_t us = test_instant_us(text, &ok);
    assert_true(ok);
    return us;
}

static int64_t prev_of(const char *expr, const char *text)
{
    tasker_cron *c = NULL;
    int64_t prev_us = 0;
    assert_int_equal(tasker_cron_parse_key(expr, "backup-db", &c), TASKER_OK);
    int rc = tasker_cron_prev(c, at(text), &prev_us);
    tasker_cron_free(c);
    return rc == TASKER_OK ? prev_us : -1;
}

#define NY "CRON_TZ=America/New_York "

static void prev_by_hand(void **state)
{
    /* at or before: an instant that is a fire is its own prev */
    assert_int_equal(prev_of("0 * * * *", "2026-01-01 05:00 Z"), at("2026-01-01 05:00 Z"));
    assert_int_equal(prev_of("0 * * * *", "2026-01-01 04:59:59.999999 Z"),
                     at("2026-01-01 04:00 Z"));
    assert_int_equal(prev_of("0 0 1 1 *", "2026-01-01 00:00:00.5 Z"), at("2026-01-01 00:00 Z"));
    assert_int_equal(prev_of("0 0 1 1 *", "2025-12-31 23:59 Z"), at("2025-01-01 00:00 Z"));
    assert_int_equal(prev_of("0 0 29 2 *", "2028-02-28 00:00 Z"), at("2024-02-29 00:00 Z"));
    assert_int_equal(prev_of("0 0 29 2 *", "2104-02-28 00:00 Z"), at("2096-02-29 00:00 Z"));
    assert_int_equal(prev_of("0 0 L-3W * *", "2026-03-01 00:00 Z"), at("2026-02-25 00:00 Z"));
    assert_int_equal(prev_of("0 0 L-30W * *", "2026-09-30 00:00 Z"), at("2026-08-03 00:00 Z"));
    assert_int_equal(prev_of("0 0 * * 5L", "2026-02-01 00:00 Z"), at("2026-01-30 00:00 Z"));
    assert_int_equal(prev_of("H H * * *", "2026-01-02 13:23 Z"), at("2026-01-01 13:24 Z"));
    assert_int_equal(prev_of("@every_second", "2026-01-01 00:00:00.7 Z"), at("2026-01-01 00:00 Z"));
    assert_int_equal(prev_of("0 0 1 1 *", "1900-01-01 00:00:01 Z"), at("1900-01-01 00:00 Z"));
    assert_int_equal(prev_of("0 0 30 2 *", "2026-01-01 00:00 Z"), -1);
    /* New York, 2026-03-08: 02:00 EST -> 03:00 EDT. A fixed-hour 02:30 fires at 03:00. */
    assert_int_equal(prev_of(NY "30 2 * * *", "2026-03-08 03:10 -04:00"),
                     at("2026-03-08 03:00 -04:00"));
    assert_int_equal(prev_of(NY "30 2 * * *", "2026-03-08 01:59:59 -05:00"),
                     at("2026-03-07 02:30 -05:00"));
    assert_int_equal(prev_of(NY "30 * * * *", "2026-03-08 03:10 -04:00"),
                     at("2026-03-08 01:30 -05:00"));
    /* 2026-11-01: 02:00 EDT -> 01:00 EST. Fixed hour: the first 01:30; hour '*': both. */
    assert_int_equal(prev_of(NY "30 1 * * *", "2026-11-01 01:45 -05:00"),
                     at("2026-11-01 01:30 -04:00"));
    assert_int_equal(prev_of(NY "30 * * * *", "2026-11-01 01:45 -05:00"),
                     at("2026-11-01 01:30 -05:00"));
    assert_int_equal(prev_of(NY "30 * * * *", "2026-11-01 01:29 -05:00"),
                     at("2026-11-01 01:30 -04:00"));
    assert_int_equal(prev_of(NY "@hourly", "2026-11-01 01:59 -05:00"),
                     at("2026-11-01 01:00 -05:00"));
    /* Lord Howe's 30-minute gap: 2026-10-04 02:00 -> 02:30 (+10:30 -> +11). */
    assert_int_equal(prev_of("CRON_TZ=Australia/Lord_Howe 15 2 * * *", "2026-10-04 02:40 +11:00"),
                     at("2026-10-04 02:30 +11:00"));
}

static void prev_on_every_90s_counts_from_the_anchor(void **state)
{
    tasker_cron *c = NULL;
    int64_t a = at("2026-01-01 00:00:10 Z"), p = 0;
    assert_int_equal(tasker_cron_parse("@every 90s", &c), TASKER_OK);
    tasker_cron_set_anchor(c, a);
    assert_int_equal(tasker_cron_prev(c, a + 90 * US, &p), TASKER_OK);
    assert_int_equal(p, a + 90 * US);
    assert_int_equal(tasker_cron_prev(c, a + 180 * US - 1, &p), TASKER_OK);
    assert_int_equal(p, a + 90 * US);
    assert_int_equal(tasker_cron_prev(c, a + 180 * US, &p), TASKER_OK);
    assert_int_equal(p, a + 180 * US);
    assert_int_equal(tasker_cron_prev(c, a + 90 * US - 1, &p), TASKER_ENOTFOUND);
    assert_int_equal(tasker_cron_prev(c, a - 3600 * US, &p), TASKER_ENOTFOUND);
    assert_int_equal(tasker_cron_prev(c, a + 1000000 * 90 * US + 5, &p), TASKER_OK);
    assert_int_equal(p, a + 1000000 * 90 * US);
    tasker_cron_free(c);
    /* Without an anchor the epoch counts: fires at k * 90 s for k >= 1. */
    assert_int_equal(tasker_cron_parse("@every 90s", &c), TASKER_OK);
    assert_int_equal(tasker_cron_prev(c, 100 * US, &p), TASKER_OK);
    assert_int_equal(p, 90 * US);
    assert_int_equal(tasker_cron_prev(c, -1, &p), TASKER_ENOTFOUND);
    tasker_cron_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prev_by_hand),
        cmocka_unit_test(prev_on_every_90s_counts_from_the_anchor),
        cmocka_unit_test(prev_and_next_agree_on_random_instants),
        cmocka_unit_test(prev_walks_back_across_every_offset_change),
    };
    setenv("TZ", "UTC", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
