/* The schedule loop over a shared SQLite file: the last fire survives a restart, and
 * two schedulers on one store run each occurrence exactly once. */
#include "support/testutil.h"
#include "support/tmpdir.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static fake_clock clock_;
static atomic_int runs;
static char dsn[600];
static char *dir; /* the current test's directory */

static int remove_dir(void **state)
{
    (void)state;
    tmpdir_remove(dir);
    dir = NULL;
    return 0;
}

static int count_handler(tasker_ctx *c)
{
    (void)c;
    atomic_fetch_add(&runs, 1);
    return 0;
}

static tasker_t *open_shared(void)
{
    tasker_options o = {.workers = 2, .max_execs_per_task = -1, .max_exec_age_s = -1,
                        .clock = fake_clock_read, .clock_udata = &clock_};
    tasker_t *t = tasker_open_opts(dsn, &o);
    if (!t) fail_msg("open %s: %s", dsn, tasker_last_error());
    assert_int_equal(tasker_register(t, "count", count_handler, NULL), TASKER_OK);
    return t;
}

static void fresh_dsn(void)
{
    tmpdir_remove(dir); /* the previous test's */
    dir = tmpdir_make();
    snprintf(dsn, sizeof dsn, "sqlite:%s/tasker.db", dir);
    atomic_store(&runs, 0);
}

static size_t count_execs(tasker_t *t, int status)
{
    tasker_task_exec *v;
    size_t n, c = 0;
    if (tasker_list_execs(t, "a", &v, &n) != TASKER_OK) return 0;
    for (size_t i = 0; i < n; i++) c += status < 0 || (int)v[i].status == status;
    tasker_free_execs(v, n);
    return c;
}

typedef struct { tasker_t *t; int status; size_t want; } q;
static bool have(void *arg)
{
    q *x = arg;
    return count_execs(x->t, x->status) >= x->want;
}

static void last_fire_survives_a_restart(void **state)
{
    (void)state;
    fresh_dsn();
    fake_clock_set(&clock_, test_utc_us("2026-03-01 10:00:05"));
    tasker_t *t = open_shared();
    assert_int_equal(tasker_add_task(t, "a", "count", NULL), TASKER_OK);
    assert_int_equal(tasker_add_task_schedule(t, "a", "*/10 * * * * *", NULL), TASKER_OK);
    assert_int_equal(tasker_start(t), TASKER_OK);
    fake_clock_set(&clock_, test_utc_us("2026-03-01 10:00:10"));
    tasker_wake(t);
    q want1 = {t, TASKER_EXEC_SUCCESS, 1};
    assert_true(test_wait_for(have, &want1, 10000));
    tasker_close(t);

    /* down for ten minutes: the default misfire policy gives one catch-up run */
    fake_clock_set(&clock_, test_utc_us("2026-03-01 10:10:15"));
    t = open_shared();
    assert_int_equal(tasker_start(t), TASKER_OK);
    q want2 = {t, TASKER_EXEC_SUCCESS, 2};
    assert_true(test_wait_for(have, &want2, 10000));
    assert_int_equal(tasker_drain(t, 10000), TASKER_OK);
    tasker_wake(t);
    assert_int_equal(tasker_drain(t, 10000), TASKER_OK);
    assert_int_equal(count_execs(t, -1), 2);
    tasker_task_exec *v;
    size_t n;
    assert_int_equal(tasker_list_execs(t, "a", &v, &n), TASKER_OK);
    assert_int_equal(v[0].scheduled_us, test_utc_us("2026-03-01 10:10:10"));
    assert_int_equal(v[1].scheduled_us, test_utc_us("2026-03-01 10:00:10"));
    tasker_free_execs(v, n);
    tasker_close(t);
}

static void two_schedulers_run_each_occurrence_once(void **state)
{
    (void)state;
    fresh_dsn();
    fake_clock_set(&clock_, test_utc_us("2026-03-01 10:00:05"));
    tasker_t *a = open_shared(), *b = open_shared();
    assert_int_equal(tasker_add_task(a, "a", "count", NULL), TASKER_OK);
    assert_int_equal(tasker_add_task_schedule(a, "a", "* * * * * *", NULL), TASKER_OK);
    assert_int_equal(tasker_start(a), TASKER_OK);
    assert_int_equal(tasker_start(b), TASKER_OK);
    for (int s = 6; s <= 25; s++) {
        char when[32];
        snprintf(when, sizeof when, "2026-03-01 10:00:%02d", s);
        fake_clock_set(&clock_, test_utc_us(when));
        tasker_wake(a);
        tasker_wake(b);
        q want = {a, TASKER_EXEC_SUCCESS, (size_t)(s - 5)};
        assert_true(test_wait_for(have, &want, 10000));
    }
    assert_int_equal(tasker_drain(a, 10000), TASKER_OK);
    assert_int_equal(tasker_drain(b, 10000), TASKER_OK);
    assert_int_equal(count_execs(a, -1), 20);
    assert_int_equal(atomic_load(&runs), 20);
    tasker_close(a);
    tasker_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(last_fire_survives_a_restart),
        cmocka_unit_test(two_schedulers_run_each_occurrence_once),
    };
    return cmocka_run_group_tests_name("schedule_shared", tests, NULL, remove_dir);
}
