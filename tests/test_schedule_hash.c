/* A schedule with H fields: the scheduler hashes the task id, so two tasks with the same
 * expression fire at times of their own, and the fire the loop runs is the one
 * tasker_scheme_next_us() and tasker_cron_parse_key() announce. */
#include "support/testutil.h"

#include <tasker/cron.h>

#include <stdatomic.h>
#include <string.h>

static fake_clock clock_;
static atomic_int runs;

static int count_handler(tasker_ctx *c)
{
    (void)c;
    atomic_fetch_add(&runs, 1);
    return 0;
}

static bool one_run(void *arg)
{
    (void)arg;
    return atomic_load(&runs) >= 1;
}

static void find_scheme(tasker_t *t, const char *id, tasker_task_scheme *out)
{
    tasker_task_scheme *v = NULL;
    size_t n = 0;
    assert_int_equal(tasker_list_schemes(t, &v, &n), TASKER_OK);
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].scheme_id, id) == 0) {
            *out = v[i];
            memset(&v[i], 0, sizeof v[i]); /* moved out */
        }
    tasker_free_schemes(v, n);
    assert_non_null(out->scheme_id);
}

static void h_fires_at_the_time_the_task_id_hashes_to(void **state)
{
    (void)state;
    fake_clock_set(&clock_, test_utc_us("2026-03-01 00:00:00"));
    tasker_t *t = test_open("memory:", 2, &clock_);
    assert_int_equal(tasker_register(t, "count", count_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "nightly-a", "count", NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "nightly-b", "count", NULL), TASKER_OK);
    char ida[TASKER_ID_SIZE], idb[TASKER_ID_SIZE];
    assert_int_equal(tasker_add_task_schedule(t, "nightly-a", "H H * * *", ida), TASKER_OK);
    assert_int_equal(tasker_add_task_schedule(t, "nightly-b", "H H * * *", idb), TASKER_OK);

    tasker_task_scheme a = {0}, b = {0};
    find_scheme(t, ida, &a);
    find_scheme(t, idb, &b);
    int64_t now_us = test_utc_us("2026-03-01 00:00:00"), next_a = 0, next_b = 0, want = 0;
    assert_int_equal(tasker_scheme_next_us(&a, now_us, &next_a), TASKER_OK);
    assert_int_equal(tasker_scheme_next_us(&b, now_us, &next_b), TASKER_OK);
    assert_true(next_a != next_b); /* their own times (fixed keys: checked, not by chance) */
    tasker_cron *c = NULL;
    assert_int_equal(tasker_cron_parse_key("H H * * *", "nightly-a", &c), TASKER_OK);
    assert_int_equal(tasker_cron_next(c, now_us, &want), TASKER_OK);
    tasker_cron_free(c);
    assert_int_equal(next_a, want);

    /* The loop fires nightly-a at that instant, not before. */
    assert_int_equal(tasker_start(t), TASKER_OK);
    fake_clock_set(&clock_, next_a - 1000000);
    tasker_wake(t);
    fake_clock_set(&clock_, next_a);
    tasker_wake(t);
    assert_true(test_wait_for(one_run, NULL, 10000));
    tasker_task_exec *v = NULL;
    size_t n = 0;
    assert_int_equal(tasker_list_execs(t, "nightly-a", &v, &n), TASKER_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].scheduled_us, next_a);
    tasker_free_execs(v, n);
    tasker_scheme_clear(&a);
    tasker_scheme_clear(&b);
    tasker_close(t);
}

static void h_without_a_task_is_refused_by_the_bare_parser(void **state)
{
    (void)state;
    tasker_cron *c = NULL;
    assert_int_equal(tasker_cron_parse("H * * * *", &c), TASKER_EINVAL);
    assert_non_null(strstr(tasker_last_error(), "H needs a key"));
    assert_null(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(h_fires_at_the_time_the_task_id_hashes_to),
        cmocka_unit_test(h_without_a_task_is_refused_by_the_bare_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
