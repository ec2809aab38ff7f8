/* H fields: values hashed from a key (the task id). Pinned by golden values, so a change
 * of hash, of field numbering or of range rules (which would move every user's schedule
 * after an upgrade) fails here; checked against the formula of docs/cron.md written out
 * again; kept within their ranges and steps; spread over the day for many keys; and the
 * same whether the expression has 5 or 6 fields. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <tasker/cron.h>
#include <tasker/tasker.h>

#include "cron/cron_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_cron_util.h"

static tasker_cron *parse_keyed(const char *expr, const char *key)
{
    tasker_cron *c = NULL;
    int rc = tasker_cron_parse_key(expr, key, &c);
    if (rc != TASKER_OK) printf("'%s' key '%s': %s\n", expr, key, tasker_last_error());
    assert_int_equal(rc, TASKER_OK);
    return c;
}

/* The one value of a field that has exactly one. */
static int only_value(uint64_t bits)
{
    assert_int_equal(__builtin_popcountll(bits), 1);
    return __builtin_ctzll(bits);
}

/* Worked out from the formula with an independent script (FNV-1a 64 over the key and
 * the field's position byte, folded): second, minute, hour, dom, month, dow. */
static const struct {
    const char *key;
    int values[6];
} golden[] = {
    {"backup-db", {51, 24, 13, 7, 8, 4}},  {"report:daily", {30, 9, 4, 24, 11, 2}},
    {"", {55, 48, 9, 11, 4, 3}},           {"a", {19, 24, 13, 11, 4, 3}},
    {"task-0001", {34, 53, 12, 12, 7, 5}}, {"\xce\xa9-unicode", {3, 28, 9, 27, 4, 2}},
};

static void h_values_are_the_golden_ones(void **state)
{
    for (size_t i = 0; i < sizeof golden / sizeof golden[0]; i++) {
        tasker_cron *c = parse_keyed("H H H H H H", golden[i].key);
        assert_true(tasker_cron_is_hashed(c));
        assert_int_equal(only_value(c->sec), golden[i].values[0]);
        assert_int_equal(only_value(c->min), golden[i].values[1]);
        assert_int_equal(only_value(c->hour), golden[i].values[2]);
        assert_int_equal(only_value(c->dom), golden[i].values[3]);
        assert_int_equal(only_value(c->mon), golden[i].values[4]);
        assert_int_equal(only_value(c->dow), golden[i].values[5]);
        tasker_cron_free(c);
    }
    assert_true(cron_key_hash("backup-db", 1) == 0xb83195a7d6761480ULL);
    assert_true(cron_key_hash("report:daily", 1) == 0x8dc94bd2e8edd271ULL);
    assert_true(cron_key_hash("", 1) == 0xaf63bc4c29620a60ULL);
}

/* The formula of docs/cron.md, written out again from the text. */
static uint64_t documented_hash(const char *key, int position)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a 64 offset basis */
    size_t n = strlen(key);
    for (size_t i = 0; i <= n; i++) {
        h ^= i < n ? (uint8_t)key[i] : (uint8_t)position;
        h *= 1099511628211ULL; /* FNV 64 prime */
    }
    return h ^ (h >> 32);
}

static void hash_follows_the_documented_formula(void **state)
{
    char key[40];
    for (int i = 0; i < 500; i++) {
        snprintf(key, sizeof key, "job/%d/%x", i, i * 7919);
        for (int pos = 0; pos < 6; pos++)
            assert_true(cron_key_hash(key, pos) == documented_hash(key, pos));
    }
}

static void h_runs_once_a_day_at_a_time_of_its_own(void **state)
{
    int ok;
    int64_t next_us = 0, want_us = test_instant_us("2026-01-01 13:24 Z", &ok);
    tasker_cron *c = parse_keyed("H H * * *", "backup-db"); /* minute 24, hour 13 */
    assert_int_equal(tasker_cron_next(c, test_instant_us("2026-01-01 00:00 Z", &ok), &next_us),
                     TASKER_OK);
    assert_int_equal(next_us, want_us);
    assert_int_equal(tasker_cron_next(c, next_us, &next_us), TASKER_OK);
    assert_int_equal(next_us, want_us + 86400LL * 1000000);
    tasker_cron_free(c);
    /* Same text, another key: another time. */
    c = parse_keyed("H H * * *", "report:daily"); /* minute 9, hour 4 */
    assert_int_equal(tasker_cron_next(c, test_instant_us("2026-01-01 00:00 Z", &ok), &next_us),
                     TASKER_OK);
    assert_int_equal(next_us, test_instant_us("2026-01-01 04:09 Z", &ok));
    tasker_cron_free(c);
}

static void five_and_six_fields_hash_alike(void **state)
{
    tasker_cron *five = parse_keyed("H H * * *", "task-0001");
    tasker_cron *six = parse_keyed("0 H H * * *", "task-0001");
    assert_true(five->min == six->min && five->hour == six->hour);
    assert_int_equal(only_value(five->min), 53);
    assert_int_equal(five->sec, 1); /* 5 fields: second 0 */
    tasker_cron_free(five);
    tasker_cron_free(six);
    /* Descriptors and plain fields do not hash, with a key or not. */
    tasker_cron *c = parse_keyed("@daily", "task-0001");
    assert_false(tasker_cron_is_hashed(c));
    tasker_cron_free(c);
    assert_int_equal(tasker_cron_parse("0 0 * * *", &c), TASKER_OK);
    assert_false(tasker_cron_is_hashed(c));
    tasker_cron_free(c);
}

/* Every bit of bits lies in [lo, hi] and they are exactly first, first+step, ... */
static void assert_steps(uint64_t bits, int lo, int hi, int step)
{
    int first = __builtin_ctzll(bits);
    assert_true(first >= lo && first < lo + step);
    uint64_t want = 0;
    for (int v = first; v <= hi; v += step)
        want |= 1ULL << v;
    assert_true(bits == want);
}

static void h_forms_stay_within_their_ranges(void **state)
{
    char key[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof key, "task-%d", i);
        tasker_cron *c = parse_keyed("H H H H H H", key);
        int dom = only_value(c->dom), dow = only_value(c->dow);
        assert_true(only_value(c->sec) <= 59 && only_value(c->min) <= 59);
        assert_true(only_value(c->hour) <= 23);
        assert_true(dom >= 1 && dom <= 28); /* every month has it */
        assert_true(only_value(c->mon) >= 1 && only_value(c->mon) <= 12);
        assert_true(dow <= 6);
        tasker_cron_free(c);

        c = parse_keyed("H(10-14) H(0-29)/10 H(9-17) H(1-7) H(JUN-AUG) H(MON-FRI)", key);
        int sec = only_value(c->sec), hour = only_value(c->hour);
        assert_true(sec >= 10 && sec <= 14);
        assert_steps(c->min, 0, 29, 10);
        assert_true(hour >= 9 && hour <= 17);
        assert_true(only_value(c->dom) <= 7);
        assert_true(only_value(c->mon) >= 6 && only_value(c->mon) <= 8);
        assert_true(only_value(c->dow) >= 1 && only_value(c->dow) <= 5);
        tasker_cron_free(c);

        c = parse_keyed("H/15 H/15 H/5 H/7 H/4 H/2", key);
        assert_steps(c->sec, 0, 59, 15);
        assert_steps(c->min, 0, 59, 15);
        assert_steps(c->hour, 0, 23, 5);
        assert_steps(c->dom, 1, 28, 7); /* Jenkins: dom steps within 1-28 too */
        assert_steps(c->mon, 1, 12, 4);
        assert_steps(c->dow, 0, 6, 2);
        tasker_cron_free(c);

        c = parse_keyed("0 0 * * H(SAT-SUN)", key); /* a range ending on Sunday, as 6-7 */
        assert_true(c->dow == 1 << 6 || c->dow == 1);
        tasker_cron_free(c);
    }
}

static void h_in_lists_and_whole_steps(void **state)
{
    tasker_cron *c = parse_keyed("H(0-29),H(30-59) * * * *", "backup-db");
    /* Both items hash the same: half an hour apart, twice an hour. */
    assert_int_equal(__builtin_popcountll(c->min), 2);
    assert_int_equal(63 - __builtin_clzll(c->min) - __builtin_ctzll(c->min), 30);
    tasker_cron_free(c);
    c = parse_keyed("H/1 H/24 * * *", "backup-db"); /* every minute; one hour from 0-23 */
    assert_true(c->min == (1ULL << 60) - 1);
    assert_int_equal(__builtin_popcountll(c->hour), 1);
    tasker_cron_free(c);
    c = parse_keyed("0 0 1,15,H * *", "backup-db"); /* with plain values: dom 7 */
    assert_true(c->dom == (1U << 1 | 1U << 15 | 1U << 7));
    tasker_cron_free(c);
}

static void h_spreads_a_thousand_daily_jobs_over_the_day(void **state)
{
    int per_hour[24] = {0}, per_minute[60] = {0}, max_hour = 0, empty_minutes = 0;
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "nightly-%04d", i);
        tasker_cron *c = parse_keyed("H H * * *", key);
        per_hour[only_value(c->hour)]++;
        per_minute[only_value(c->min)]++;
        tasker_cron_free(c);
    }
    for (int h = 0; h < 24; h++)
        max_hour = per_hour[h] > max_hour ? per_hour[h] : max_hour;
    for (int m = 0; m < 60; m++)
        empty_minutes += per_minute[m] == 0;
    printf("busiest hour: %d of 1000 jobs (even: 42); minutes with none: %d\n", max_hour,
           empty_minutes);
    assert_true(max_hour <= 70);
    assert_int_equal(empty_minutes, 0);
}

static void h_steps_in_the_hour_count_as_time_passing(void **state)
{
    /* DST: "H/2" in the hour steps like a star from another start, so it follows the
     * rules of an hour field beginning with '*'; a single H hour is a time of day. */
    tasker_cron *c = parse_keyed("0 H/2 * * *", "k");
    assert_true(c->hour_star);
    tasker_cron_free(c);
    c = parse_keyed("0 H * * *", "k");
    assert_false(c->hour_star);
    tasker_cron_free(c);
    c = parse_keyed("0 H(0-23)/2 * * *", "k");
    assert_false(c->hour_star);
    tasker_cron_free(c);
}

static void h_is_the_same_at_every_parse(void **state)
{
    /* No process seed: the first and the thousandth parse agree (and golden values above
     * agree with another language's arithmetic, so other processes and nodes do too). */
    tasker_cron *first = parse_keyed("H H H * * H", "stable");
    for (int i = 0; i < 1000; i++) {
        tasker_cron *again = parse_keyed("H H H * * H", "stable");
        assert_true(again->sec == first->sec && again->min == first->min &&
                    again->hour == first->hour && again->dow == first->dow);
        tasker_cron_free(again);
    }
    tasker_cron_free(first);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(h_values_are_the_golden_ones),
        cmocka_unit_test(hash_follows_the_documented_formula),
        cmocka_unit_test(h_runs_once_a_day_at_a_time_of_its_own),
        cmocka_unit_test(five_and_six_fields_hash_alike),
        cmocka_unit_test(h_forms_stay_within_their_ranges),
        cmocka_unit_test(h_in_lists_and_whole_steps),
        cmocka_unit_test(h_spreads_a_thousand_daily_jobs_over_the_day),
        cmocka_unit_test(h_steps_in_the_hour_count_as_time_passing),
        cmocka_unit_test(h_is_the_same_at_every_parse),
    };
    setenv("TZ", "UTC", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
