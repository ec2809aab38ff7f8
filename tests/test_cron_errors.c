/* Every message tasker_cron_parse (and tasker_cron_parse_key) gives for a bad
 * expression, asserted word for word: each says what is wrong and where (the field and
 * the list item). And the codes and messages of next() and prev() when there is no
 * answer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <tasker/cron.h>
#include <tasker/tasker.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *expr;
    const char *message;
} error_case;

/* One row per line reads as a table. */
// clang-format off
static const error_case errors[] = {
    /* the shape of the expression */
    {"", "cron: expected 5 or 6 fields, got 0"},
    {"   ", "cron: expected 5 or 6 fields, got 0"},
    {"* * * *", "cron: expected 5 or 6 fields, got 4"},
    {"* * * * * * *", "cron: expected 5 or 6 fields, got 7"},
    {"CRON_TZ=UTC", "cron: expected 5 or 6 fields, got 0"},
    {"CRON_TZ=UTC * * *", "cron: expected 5 or 6 fields, got 3"},
    /* time zones */
    {"CRON_TZ=Mars/Base 0 0 * * *", "cron: unknown time zone 'Mars/Base'"},
    {"TZ=Mars/Base 0 0 * * *", "cron: unknown time zone 'Mars/Base'"},
    {"CRON_TZ= 0 0 * * *", "cron: unknown time zone ''"},
    {"CRON_TZ=../../etc/passwd 0 0 * * *", "cron: unknown time zone '../../etc/passwd'"},
    {"CRON_TZ=/etc/localtime 0 0 * * *", "cron: unknown time zone '/etc/localtime'"},
    {"CRON_TZ=America 0 0 * * *", "cron: unknown time zone 'America'"},
    {"CRON_TZ=zone.tab 0 0 * * *", "cron: unknown time zone 'zone.tab'"},
    {"CRON_TZ=Europe/../Europe/London 0 0 * * *", "cron: unknown time zone 'Europe/../Europe/London'"},
    /* values out of range, field by field */
    {"60 * * * * *", "cron: field 'second' (\"60\"): 60 is out of range 0-59"},
    {"60 * * * *", "cron: field 'minute' (\"60\"): 60 is out of range 0-59"},
    {"0 25 * * *", "cron: field 'hour' (\"25\"): 25 is out of range 0-23"},
    {"0 24 * * *", "cron: field 'hour' (\"24\"): 24 is out of range 0-23"},
    {"0 0 0 * *", "cron: field 'dom' (\"0\"): 0 is out of range 1-31"},
    {"0 0 32 * *", "cron: field 'dom' (\"32\"): 32 is out of range 1-31"},
    {"0 0 * 0 *", "cron: field 'month' (\"0\"): 0 is out of range 1-12"},
    {"0 0 * 13 *", "cron: field 'month' (\"13\"): 13 is out of range 1-12"},
    {"0 0 * * 8", "cron: field 'dow' (\"8\"): 8 is out of range 0-7"},
    {"1,2,99 * * * *", "cron: field 'minute' (\"99\"): 99 is out of range 0-59"},
    {"0 1-25 * * *", "cron: field 'hour' (\"1-25\"): 25 is out of range 0-23"},
    {"0 99999999999 * * *", "cron: field 'hour' (\"99999999999\"): 99999999999 is out of range 0-23"},
    {"0 024 * * *", "cron: field 'hour' (\"024\"): 024 is out of range 0-23"},
    /* ranges and steps */
    {"0 5-2 * * *", "cron: field 'hour' (\"5-2\"): range 5-2 runs backwards"},
    {"0 0 * * FRI-MON", "cron: field 'dow' (\"FRI-MON\"): range 5-1 runs backwards"},
    {"*/0 * * * *", "cron: field 'minute' (\"*/0\"): step 0 is out of range 1-60"},
    {"*/61 * * * *", "cron: field 'minute' (\"*/61\"): step 61 is out of range 1-60"},
    {"0 */25 * * *", "cron: field 'hour' (\"*/25\"): step 25 is out of range 1-24"},
    {"0 0 * * */8", "cron: field 'dow' (\"*/8\"): step 8 is out of range 1-7"},
    {"*/ * * * *", "cron: field 'minute' (\"*/\"): a step is missing after '/'"},
    {"1-/2 * * * *", "cron: field 'minute' (\"1-/2\"): unexpected '/'"},
    {"1- * * * *", "cron: field 'minute' (\"1-\"): a number is missing"},
    {"5/x * * * *", "cron: field 'minute' (\"5/x\"): a step is missing after '/'"},
    {"*/5x * * * *", "cron: field 'minute' (\"*/5x\"): unexpected 'x'"},
    {"1-2-3 * * * *", "cron: field 'minute' (\"1-2-3\"): unexpected '-'"},
    {"** * * * *", "cron: field 'minute' (\"**\"): unexpected '*'"},
    /* lists */
    {"1,,2 * * * *", "cron: field 'minute' (\"\"): empty list element"},
    {"1, * * * *", "cron: field 'minute' (\"\"): empty list element"},
    {",1 * * * *", "cron: field 'minute' (\"\"): empty list element"},
    /* names */
    {"0 0 * FOO *", "cron: field 'month' (\"FOO\"): unknown name 'FOO'"},
    {"0 0 * * MONDAY", "cron: field 'dow' (\"MONDAY\"): unknown name 'MONDAY'"},
    {"0 0 * MON *", "cron: field 'month' (\"MON\"): unknown name 'MON'"},
    {"0 0 * * JAN", "cron: field 'dow' (\"JAN\"): unknown name 'JAN'"},
    {"0 x * * *", "cron: field 'hour' (\"x\"): 'x' is not a number"},
    {"0 0 JAN * *", "cron: field 'dom' (\"JAN\"): 'JAN' is not a number"},
    {"0 0 * * 1.5", "cron: field 'dow' (\"1.5\"): unexpected '.'"},
    {"0 0 * * -1", "cron: field 'dow' (\"-1\"): unexpected '-'"},
    /* ? and the specials in the wrong place or shape */
    {"? * * * *", "cron: field 'minute' (\"?\"): '?' is only allowed in dom and dow"},
    {"0 ? * * *", "cron: field 'hour' (\"?\"): '?' is only allowed in dom and dow"},
    {"0 0 * ? *", "cron: field 'month' (\"?\"): '?' is only allowed in dom and dow"},
    {"L * * * *", "cron: field 'minute' (\"L\"): L is only allowed in dom, and after a weekday in dow (5L)"},
    {"0 0 * L *", "cron: field 'month' (\"L\"): L is only allowed in dom, and after a weekday in dow (5L)"},
    {"0 0 * * L", "cron: field 'dow' (\"L\"): L is only allowed in dom, and after a weekday in dow (5L)"},
    {"0 0 L-31 * *", "cron: field 'dom' (\"L-31\"): 31 is out of range 0-30"},
    {"0 0 L- * *", "cron: field 'dom' (\"L-\"): L- needs a number of days (L-3)"},
    {"0 0 L-3WX * *", "cron: field 'dom' (\"L-3WX\"): unexpected 'X'"},
    {"0 0 L-31W * *", "cron: field 'dom' (\"L-31W\"): 31 is out of range 0-30"},
    {"0 0 LWW * *", "cron: field 'dom' (\"LWW\"): unexpected 'W'"},
    {"0 0 L-W * *", "cron: field 'dom' (\"L-W\"): L- needs a number of days (L-3)"},
    {"0 0 WL * *", "cron: field 'dom' (\"WL\"): 'WL' is not a number"},
    {"0 0 LX * *", "cron: field 'dom' (\"LX\"): unexpected 'X'"},
    {"0 0 0W * *", "cron: field 'dom' (\"0W\"): 0 is out of range 1-31"},
    {"0 0 32W * *", "cron: field 'dom' (\"32W\"): 32 is out of range 1-31"},
    {"0 0 1-5W * *", "cron: field 'dom' (\"1-5W\"): unexpected 'W'"},
    {"0 0 W * *", "cron: field 'dom' (\"W\"): 'W' is not a number"},
    {"0 0 15WX * *", "cron: field 'dom' (\"15WX\"): unexpected 'X'"},
    {"0 0 5L * *", "cron: field 'dom' (\"5L\"): unexpected 'L'"},
    {"0 0 * * 5#6", "cron: field 'dow' (\"5#6\"): occurrence must be 1-5"},
    {"0 0 * * 5#0", "cron: field 'dow' (\"5#0\"): occurrence must be 1-5"},
    {"0 0 * * 5#", "cron: field 'dow' (\"5#\"): occurrence must be 1-5"},
    {"0 0 * * 5#1x", "cron: field 'dow' (\"5#1x\"): occurrence must be 1-5"},
    {"0 0 * * 8#1", "cron: field 'dow' (\"8#1\"): 8 is out of range 0-7"},
    {"0 0 * * 5LX", "cron: field 'dow' (\"5LX\"): unexpected 'X'"},
    {"0 0 1#1 * *", "cron: field 'dom' (\"1#1\"): unexpected '#'"},
    {"0 0 * * 1W", "cron: field 'dow' (\"1W\"): unexpected 'W'"},
    /* descriptors and @every */
    {"@fortnightly", "cron: unknown descriptor '@fortnightly'"},
    {"@", "cron: unknown descriptor '@'"},
    {"@daily 0", "cron: @daily takes nothing after it, got '0'"},
    {"@every", "cron: @every needs a duration (@every 1h30m)"},
    {"@every 0s", "cron: @every: duration must be above zero"},
    {"@every 10", "cron: @every: bad duration '10' (use h, m, s, ms: 1h30m, 90s)"},
    {"@every 1d", "cron: @every: bad duration '1d' (use h, m, s, ms: 1h30m, 90s)"},
    {"@every h", "cron: @every: bad duration 'h' (use h, m, s, ms: 1h30m, 90s)"},
    {"@every 1h 30m", "cron: @every: bad duration '1h 30m' (use h, m, s, ms: 1h30m, 90s)"},
    {"@every -5s", "cron: @every: bad duration '-5s' (use h, m, s, ms: 1h30m, 90s)"},
    {"@every 99999999999999h", "cron: @every: duration '99999999999999h' is too long"},
    {"@every_second 0", "cron: @every_second takes nothing after it, got '0'"},
    {"@every_minute * * * * *", "cron: @every_minute takes nothing after it, got '* * * * *'"},
    {"@every_hour", "cron: unknown descriptor '@every_hour'"},
    /* H without a key: the field, and what to call instead */
    {"H * * * *", "cron: field 'minute': H needs a key (the task id): use tasker_cron_parse_key"},
    {"0 H * * *", "cron: field 'hour': H needs a key (the task id): use tasker_cron_parse_key"},
    {"H 0 0 * * *", "cron: field 'second': H needs a key (the task id): use tasker_cron_parse_key"},
    {"0 0 1,H(2-9) * *", "cron: field 'dom': H needs a key (the task id): use tasker_cron_parse_key"},
    {"0 0 * H/2 *", "cron: field 'month': H needs a key (the task id): use tasker_cron_parse_key"},
    {"0 0 * * h", "cron: field 'dow': H needs a key (the task id): use tasker_cron_parse_key"},
};

/* Bad H forms, parsed with a key (so that only the shape is at fault). */
static const error_case keyed_errors[] = {
    {"H(0-29 * * * *", "cron: field 'minute' (\"H(0-29\"): H( needs a range and ')': H(0-29)"},
    {"H(5) * * * *", "cron: field 'minute' (\"H(5)\"): H( needs a range and ')': H(0-29)"},
    {"H( * * * *", "cron: field 'minute' (\"H(\"): a number is missing"},
    {"H() * * * *", "cron: field 'minute' (\"H()\"): unexpected ')'"},
    {"H(5-2) * * * *", "cron: field 'minute' (\"H(5-2)\"): range 5-2 runs backwards"},
    {"H(0-60) * * * *", "cron: field 'minute' (\"H(0-60)\"): 60 is out of range 0-59"},
    {"0 H(0-24) * * *", "cron: field 'hour' (\"H(0-24)\"): 24 is out of range 0-23"},
    {"0 0 * * H(FRI-MON)", "cron: field 'dow' (\"H(FRI-MON)\"): range 5-1 runs backwards"},
    {"H/0 * * * *", "cron: field 'minute' (\"H/0\"): step 0 is out of range 1-60"},
    {"H/61 * * * *", "cron: field 'minute' (\"H/61\"): step 61 is out of range 1-60"},
    {"0 0 H/29 * *", "cron: field 'dom' (\"H/29\"): step 29 is out of range 1-28"},
    {"0 0 * * H/8", "cron: field 'dow' (\"H/8\"): step 8 is out of range 1-7"},
    {"H(0-9)/11 * * * *", "cron: field 'minute' (\"H(0-9)/11\"): step 11 is out of range 1-10"},
    {"H/ * * * *", "cron: field 'minute' (\"H/\"): a step is missing after '/'"},
    {"H/5x * * * *", "cron: field 'minute' (\"H/5x\"): unexpected 'x'"},
    {"HX * * * *", "cron: field 'minute' (\"HX\"): unexpected 'X'"},
    {"H-5 * * * *", "cron: field 'minute' (\"H-5\"): unexpected '-'"},
    {"HH * * * *", "cron: field 'minute' (\"HH\"): unexpected 'H'"},
    {"0 0 * * H#2", "cron: field 'dow' (\"H#2\"): unexpected '#'"},
    {"0 0 * * HL", "cron: field 'dow' (\"HL\"): unexpected 'L'"},
    {"0 0 HW * *", "cron: field 'dom' (\"HW\"): unexpected 'W'"},
    {"H(0-5)(1-2) * * * *", "cron: field 'minute' (\"H(0-5)(1-2)\"): unexpected '('"},
};
// clang-format on

/* The number of rows of v (n of them) that do not fail as written, parsed with key. */
static int count_mismatches(const error_case *v, size_t n, int with_parse_key, const char *key)
{
    int failures = 0;
    for (size_t i = 0; i < n; i++) {
        tasker_cron *c = (tasker_cron *)&failures; /* must be reset to NULL on failure */
        int rc = with_parse_key ? tasker_cron_parse_key(v[i].expr, key, &c)
                                : tasker_cron_parse(v[i].expr, &c);
        if (rc != TASKER_EINVAL || c != NULL || strcmp(tasker_last_error(), v[i].message) != 0) {
            printf("'%s' (key %s): rc %d\n  want: %s\n  got:  %s\n", v[i].expr,
                   key ? key : "none", rc, v[i].message, tasker_last_error());
            failures++;
            if (rc == TASKER_OK) tasker_cron_free(c);
        }
    }
    return failures;
}

static void each_bad_expression_gives_its_message(void **state)
{
    size_t n = sizeof errors / sizeof errors[0];
    assert_int_equal(count_mismatches(errors, n, 0, NULL), 0);
    assert_int_equal(count_mismatches(errors, n, 1, NULL), 0);
}

static void each_bad_h_form_gives_its_message(void **state)
{
    size_t n = sizeof keyed_errors / sizeof keyed_errors[0];
    assert_int_equal(count_mismatches(keyed_errors, n, 1, "nightly-report"), 0);
    assert_int_equal(count_mismatches(keyed_errors, n, 1, ""), 0); /* an empty key is a key */
}

static void long_expression_is_refused(void **state)
{
    char expr[2048];
    tasker_cron *c = NULL;
    memset(expr, '1', sizeof expr - 1);
    expr[sizeof expr - 1] = '\0';
    assert_int_equal(tasker_cron_parse(expr, &c), TASKER_EINVAL);
    assert_null(c);
    assert_string_equal(tasker_last_error(), "cron: expression is longer than 1024 bytes");
}

static void null_arguments_are_refused(void **state)
{
    tasker_cron *c = NULL;
    int64_t next_us = 0;
    assert_int_equal(tasker_cron_parse(NULL, &c), TASKER_EINVAL);
    assert_string_equal(tasker_last_error(), "cron: expression or output is NULL");
    assert_int_equal(tasker_cron_parse("* * * * *", NULL), TASKER_EINVAL);
    assert_int_equal(tasker_cron_next(NULL, 0, &next_us), TASKER_EINVAL);
    assert_int_equal(tasker_cron_parse("* * * * *", &c), TASKER_OK);
    assert_int_equal(tasker_cron_next(c, 0, NULL), TASKER_EINVAL);
    assert_int_equal(tasker_cron_prev(c, 0, NULL), TASKER_EINVAL);
    assert_string_equal(tasker_last_error(), "cron: expression or output is NULL");
    tasker_cron_free(c);
    assert_int_equal(tasker_cron_prev(NULL, 0, &next_us), TASKER_EINVAL);
    assert_int_equal(tasker_cron_parse_key(NULL, "k", &c), TASKER_EINVAL);
    assert_int_equal(tasker_cron_parse_key("* * * * *", "k", NULL), TASKER_EINVAL);
    tasker_cron_free(NULL);
    tasker_cron_set_anchor(NULL, 5);
}

static void never_firing_expression_says_so(void **state)
{
    tasker_cron *c = NULL;
    int64_t next_us = 0;
    assert_int_equal(tasker_cron_parse("0 0 30 2 *", &c), TASKER_OK);
    assert_int_equal(tasker_cron_next(c, 0, &next_us), TASKER_ENOTFOUND);
    assert_string_equal(tasker_last_error(), "cron: no fire time within 401 years");
    assert_int_equal(tasker_cron_prev(c, 0, &next_us), TASKER_ENOTFOUND);
    assert_string_equal(tasker_last_error(), "cron: no fire time within 401 years before");
    tasker_cron_free(c);
}

static void prev_before_the_first_every_interval_is_not_found(void **state)
{
    tasker_cron *c = NULL;
    int64_t prev_us = 0;
    assert_int_equal(tasker_cron_parse("@every 90s", &c), TASKER_OK);
    tasker_cron_set_anchor(c, 1000000000);
    assert_int_equal(tasker_cron_prev(c, 1000000000 + 89999999, &prev_us), TASKER_ENOTFOUND);
    assert_string_equal(tasker_last_error(), "cron: @every: no fire at or before this instant "
                                             "(the first is one interval after the anchor)");
    assert_int_equal(tasker_cron_prev(c, INT64_MIN, &prev_us), TASKER_ENOTFOUND);
    assert_int_equal(tasker_cron_prev(c, 1000000000 + 90000000, &prev_us), TASKER_OK);
    assert_int_equal(prev_us, 1000000000 + 90000000);
    tasker_cron_free(c);
}

static void instants_past_the_range_are_not_found(void **state)
{
    tasker_cron *c = NULL;
    int64_t next_us = 0;
    assert_int_equal(tasker_cron_parse("* * * * *", &c), TASKER_OK);
    assert_int_equal(tasker_cron_next(c, INT64_MAX, &next_us), TASKER_ENOTFOUND);
    assert_int_equal(tasker_cron_next(c, INT64_MAX - 86400LL * 1000000, &next_us),
                     TASKER_ENOTFOUND);
    assert_int_equal(tasker_cron_next(c, INT64_MAX - 86400LL * 1000000 * 365, &next_us), TASKER_OK);
    assert_int_equal(tasker_cron_next(c, INT64_MIN, &next_us), TASKER_OK);
    assert_true(next_us < -9000000000000000000LL);
    int64_t prev_us = 0; /* prev answers within the same limits, and agrees at both ends */
    assert_int_equal(tasker_cron_prev(c, next_us, &prev_us), TASKER_OK);
    assert_int_equal(prev_us, next_us);
    assert_int_equal(tasker_cron_prev(c, next_us - 1, &prev_us), TASKER_ENOTFOUND);
    assert_int_equal(tasker_cron_prev(c, INT64_MIN, &prev_us), TASKER_ENOTFOUND);
    assert_int_equal(tasker_cron_prev(c, INT64_MAX, &prev_us), TASKER_OK);
    assert_int_equal(tasker_cron_next(c, prev_us, &next_us), TASKER_ENOTFOUND);
    assert_int_equal(tasker_cron_next(c, prev_us - 1, &next_us), TASKER_OK);
    assert_int_equal(next_us, prev_us);
    tasker_cron_free(c);
    assert_int_equal(tasker_cron_parse("@every 1h", &c), TASKER_OK);
    assert_int_equal(tasker_cron_next(c, INT64_MAX - 1000, &next_us), TASKER_ENOTFOUND);
    assert_int_equal(tasker_cron_next(c, INT64_MIN, &next_us), TASKER_OK);
    assert_int_equal(next_us, 3600000000LL); /* the first fire is one interval after the anchor */
    tasker_cron_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_bad_expression_gives_its_message),
        cmocka_unit_test(each_bad_h_form_gives_its_message),
        cmocka_unit_test(long_expression_is_refused),
        cmocka_unit_test(null_arguments_are_refused),
        cmocka_unit_test(never_firing_expression_says_so),
        cmocka_unit_test(prev_before_the_first_every_interval_is_not_found),
        cmocka_unit_test(instants_past_the_range_are_not_found),
    };
    setenv("TZ", "UTC", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
