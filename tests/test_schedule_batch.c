/* Batched fires (issue 14): many schedules due at the same instant are stored in
 * batches of executions, and must give what firing one by one gives: every occurrence
 * once, the misfire policies, overlap forbid within one pass, a clock set back, and two
 * schedulers on one store. N is above the loop's batch size (512), so several batches
 * are written per pass. The DSN is $TASKER_TEST_DSN_PREFIX + a per-test name, or
 * memory:. */
#include "support/testutil.h"
#include "support/tmpdir.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N 1100

static fake_clock clock_;
static tasker_t *t;
static atomic_int runs;
static char dsn_buf[512];

static int count_handler(tasker_ctx *c)
{
    (void)c;
    atomic_fetch_add(&runs, 1);
    return 0;
}

static const char *test_dsn(const char *name)
{
    const char *prefix = getenv("TASKER_TEST_DSN_PREFIX");
    if (!prefix) return "memory:";
    snprintf(dsn_buf, sizeof dsn_buf, "%s%s-%d.db", prefix, name, (int)getpid());
    if (strncmp(dsn_buf, "sqlite:", 7) == 0) unlink(dsn_buf + 7);
    return dsn_buf;
}

static tasker_t *open_dsn(const char *dsn)
{
    tasker_options o = {.workers = 4, .max_execs_per_task = -1, .max_exec_age_s = -1,
                        .clock = fake_clock_read, .clock_udata = &clock_};
    tasker_t *h = tasker_open_opts(dsn, &o);
    if (!h) fail_msg("open %s: %s", dsn, tasker_last_error());
    assert_int_equal(tasker_register(h, "count", count_handler, NULL), TASKER_OK);
    return h;
}

static void open_at(const char *when, const char *name)
{
    fake_clock_set(&clock_, test_utc_us(when));
    atomic_store(&runs, 0);
    t = open_dsn(test_dsn(name));
}

static int teardown(void **state)
{
    (void)state;
    tasker_close(t);
    t = NULL;
    return 0;
}

/* Adds tasks prefix-0 .. prefix-(n-1), each with one schedule. */
static void add_many(const char *prefix, int n, const char *cron, const tasker_schedule_opts *o)
{
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "%s-%d", prefix, i);
        assert_int_equal(tasker_add_task(t, id, "count", NULL), TASKER_OK);
        assert_int_equal(tasker_add_task_schedule_opts(t, id, cron, o, NULL), TASKER_OK);
    }
}

static bool runs_at_least(void *arg)
{
    return atomic_load(&runs) >= *(int *)arg;
}

static void wait_runs(int want)
{
    if (!test_wait_for(runs_at_least, &want, 20000))
        fail_msg("%d runs, wanted %d", atomic_load(&runs), want);
    assert_int_equal(tasker_drain(t, 20000), TASKER_OK);
}

/* Counts the task's executions by status: out[status]. */
static void statuses(const char *task, size_t out[8])
{
    tasker_task_exec *v;
    size_t n;
    memset(out, 0, 8 * sizeof *out);
    assert_int_equal(tasker_list_execs(t, task, &v, &n), TASKER_OK);
    for (size_t i = 0; i < n; i++)
        if ((int)v[i].status >= 0 && (int)v[i].status < 8) out[v[i].status]++;
    tasker_free_execs(v, n);
}

static void every_schedule_fires_once(void **state)
{
    (void)state;
    open_at("2026-01-01 00:00:05", "herd");
    add_many("h", N, "*/10 * * * * *", NULL);
    assert_int_equal(tasker_start(t), TASKER_OK);
    fake_clock_set(&clock_, test_utc_us("2026-01-01 00:00:10"));
    tasker_wake(t);
    wait_runs(N);
    tasker_wake(t); /* a rescan at the same instant adds nothing */
    assert_int_equal(tasker_drain(t, 20000), TASKER_OK);
    assert_int_equal(atomic_load(&runs), N);
    for (int i = 0; i < N; i += 97) {
        char id[32];
        snprintf(id, sizeof id, "h-%d", i);
        tasker_task_exec *v;
        size_t n;
        assert_int_equal(tasker_list_execs(t, id, &v, &n), TASKER_OK);
        assert_int_equal(n, 1);
        assert_int_equal(v[0].status, TASKER_EXEC_SUCCESS);
        assert_int_equal(v[0].scheduled_us, test_utc_us("2026-01-01 00:00:10"));
        tasker_free_execs(v, n);
    }
}

/* Down for five minutes with every-minute schedules of each misfire policy, all
 * handled in one pass: once gives one run, skip one run and one skipped record, all
 * five runs, as test_schedule.c checks for a single schedule. */
static void misfire_policies_in_one_pass(void **state)
{
    (void)state;
    open_at("2026-01-01 01:00:00", "misfire");
    tasker_schedule_opts once = {.misfire = TASKER_MISFIRE_ONCE};
    tasker_schedule_opts skip = {.misfire = TASKER_MISFIRE_SKIP};
    tasker_schedule_opts all = {.misfire = TASKER_MISFIRE_ALL};
    add_many("once", 300, "* * * * *", &once);
    add_many("skip", 300, "* * * * *", &skip);
    add_many("all", 300, "* * * * *", &all);
    fake_clock_set(&clock_, test_utc_us("2026-01-01 01:05:03"));
    assert_int_equal(tasker_start(t), TASKER_OK);
    wait_runs(300 + 300 + 300 * 5);
    assert_int_equal(atomic_load(&runs), 300 + 300 + 300 * 5);
    size_t c[8];
    statuses("once-17", c);
    assert_int_equal(c[TASKER_EXEC_SUCCESS], 1);
    assert_int_equal(c[TASKER_EXEC_SKIPPED], 0);
    statuses("skip-299", c);
    assert_int_equal(c[TASKER_EXEC_SUCCESS], 1);
    assert_int_equal(c[TASKER_EXEC_SKIPPED], 1);
    statuses("all-0", c);
    assert_int_equal(c[TASKER_EXEC_SUCCESS], 5);
}

/* misfire all with overlap forbid: the first replayed fire is pending when the next is
 * handled in the same pass, so the other four are skipped naming it, though it is not
 * stored yet when they are collected. */
static void overlap_forbid_within_a_pass(void **state)
{
    (void)state;
    open_at("2026-01-01 01:00:00", "overlap");
    tasker_schedule_opts o = {.misfire = TASKER_MISFIRE_ALL, .overlap = TASKER_OVERLAP_FORBID};
    add_many("f", 200, "* * * * *", &o);
    fake_clock_set(&clock_, test_utc_us("2026-01-01 01:05:03"));
    assert_int_equal(tasker_start(t), TASKER_OK);
    wait_runs(200);
    for (int i = 0; i < 200; i += 37) {
        char id[32];
        snprintf(id, sizeof id, "f-%d", i);
        tasker_task_exec *v;
        size_t n;
        assert_int_equal(tasker_list_execs(t, id, &v, &n), TASKER_OK);
        assert_int_equal(n, 5);
        const tasker_task_exec *ran = NULL;
        for (size_t k = 0; k < n; k++)
            if (v[k].status == TASKER_EXEC_SUCCESS) ran = &v[k];
        assert_non_null(ran);
        assert_int_equal(ran->scheduled_us, test_utc_us("2026-01-01 01:01:00"));
        char want[128];
        snprintf(want, sizeof want, "skipped: previous run %s still running", ran->exec_id);
        for (size_t k = 0; k < n; k++)
            if (&v[k] != ran) assert_string_equal(v[k].error, want);
        tasker_free_execs(v, n);
    }
    assert_int_equal(atomic_load(&runs), 200);
}

/* The clock set back an hour after a herd fired, then forward again: no occurrence is
 * stored twice, and the next one fires for all. */
static void clock_set_back_repeats_nothing(void **state)
{
    (void)state;
    open_at("2026-01-01 02:00:05", "back");
    add_many("b", N, "*/10 * * * * *", NULL);
    assert_int_equal(tasker_start(t), TASKER_OK);
    fake_clock_set(&clock_, test_utc_us("2026-01-01 02:00:10"));
    tasker_wake(t);
    wait_runs(N);
    fake_clock_set(&clock_, test_utc_us("2026-01-01 01:00:09"));
    tasker_wake(t);
    fake_clock_set(&clock_, test_utc_us("2026-01-01 02:00:11"));
    tasker_wake(t);
    assert_int_equal(tasker_drain(t, 20000), TASKER_OK);
    assert_int_equal(atomic_load(&runs), N);
    fake_clock_set(&clock_, test_utc_us("2026-01-01 02:00:20"));
    tasker_wake(t);
    wait_runs(2 * N);
    assert_int_equal(atomic_load(&runs), 2 * N);
}

/* Two schedulers on one SQLite file, both woken at the instant: each occurrence runs
 * once (one of them stores each batch; the other's is refused and falls back to one by
 * one, where the (scheme_id, scheduled_us) key refuses each). */
static void two_schedulers_share_the_herd(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    char dsn[600];
    snprintf(dsn, sizeof dsn, "sqlite:%s/tasker.db", dir);
    fake_clock_set(&clock_, test_utc_us("2026-03-01 10:00:05"));
    atomic_store(&runs, 0);
    t = open_dsn(dsn);
    tasker_t *b = open_dsn(dsn);
    add_many("s", N, "*/10 * * * * *", NULL);
    assert_int_equal(tasker_start(t), TASKER_OK);
    assert_int_equal(tasker_start(b), TASKER_OK);
    for (int round = 1; round <= 3; round++) {
        char when[32];
        snprintf(when, sizeof when, "2026-03-01 10:00:%02d", 10 * round);
        fake_clock_set(&clock_, test_utc_us(when));
        tasker_wake(t);
        tasker_wake(b);
        wait_runs(round * N);
        assert_int_equal(tasker_drain(b, 20000), TASKER_OK);
    }
    tasker_wake(t);
    tasker_wake(b);
    assert_int_equal(tasker_drain(t, 20000), TASKER_OK);
    assert_int_equal(tasker_drain(b, 20000), TASKER_OK);
    assert_int_equal(atomic_load(&runs), 3 * N);
    size_t c[8];
    statuses("s-1000", c);
    assert_int_equal(c[TASKER_EXEC_SUCCESS], 3);
    tasker_close(b);
    tasker_close(t);
    t = NULL;
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(every_schedule_fires_once, teardown),
        cmocka_unit_test_teardown(misfire_policies_in_one_pass, teardown),
        cmocka_unit_test_teardown(overlap_forbid_within_a_pass, teardown),
        cmocka_unit_test_teardown(clock_set_back_repeats_nothing, teardown),
        cmocka_unit_test_teardown(two_schedulers_share_the_herd, teardown),
    };
    return cmocka_run_group_tests_name("schedule_batch", tests, NULL, NULL);
}
