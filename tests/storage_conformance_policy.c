/* The conformance suite, task policies (tasker_task_opts, design section 6): every
 * driver stores each policy field and the paused state of a task, and applies a task's
 * own retention limits (max_execs, max_exec_age_s) instead of the handle's, pruning the
 * executions with their events. */
#include "conformance_fixture.h"

#include <stdio.h>
#include <string.h>

static void add_task_with(fixture *f, const char *task_id, int max_execs, int64_t max_age_s)
{
    tasker_task t = {.task_id = (char *)task_id, .handler = "h", .param = "{}",
                     .max_execs = max_execs, .max_exec_age_s = max_age_s};
    OK(OPS->add_task(ST, &t));
}

/* A finished run with one event. */
static void finished_run(fixture *f, const char *exec_id, const char *task_id, int64_t queued_us)
{
    add_exec(f, exec_id, task_id, queued_us, TASKER_EXEC_PENDING);
    OK(OPS->start_task_exec(ST, exec_id, queued_us, "node"));
    tasker_task_event ev = {.exec_id = (char *)exec_id, .time_us = queued_us,
                            .level = TASKER_NORMAL, .message = "ran"};
    OK(OPS->add_task_event(ST, &ev));
    tasker_task_exec e = {.exec_id = (char *)exec_id, .status = TASKER_EXEC_SUCCESS,
                          .success = true, .end_us = queued_us};
    OK(OPS->update_task_exec(ST, &e));
}

static size_t execs_of(fixture *f, const char *task_id)
{
    tasker_task_exec *v;
    size_t n;
    OK(OPS->list_task_execs(ST, task_id, 0, &v, &n));
    tasker_free_execs(v, n);
    return n;
}

/* Gone with its events: a new execution under the same id has none. */
static void assert_pruned(fixture *f, const char *exec_id, const char *task_id)
{
    assert_false(exec_exists(f, exec_id));
    add_exec(f, exec_id, task_id, f->now_us, TASKER_EXEC_PENDING);
    assert_int_equal(count_events(f, exec_id), 0);
}

static void task_policies_and_paused_round_trip(void **state)
{
    fixture *f = *state;
    tasker_task t = {.task_id = "p", .handler = "h", .param = "{}", .max_attempts = 3,
                     .backoff_ms = 1500, .backoff_max_ms = INT64_C(7200000),
                     .timeout_ms = INT64_C(90000), .max_concurrency = 2, .priority = -4,
                     .max_execs = 7, .max_exec_age_s = INT64_C(604800), .paused = true};
    OK(OPS->add_task(ST, &t));
    tasker_task g;
    OK(OPS->get_task(ST, "p", &g));
    assert_int_equal(g.max_attempts, 3);
    assert_int_equal(g.backoff_ms, 1500);
    assert_int_equal(g.backoff_max_ms, 7200000);
    assert_int_equal(g.timeout_ms, 90000);
    assert_int_equal(g.max_concurrency, 2);
    assert_int_equal(g.priority, -4);
    assert_int_equal(g.max_execs, 7);
    assert_int_equal(g.max_exec_age_s, 604800);
    assert_true(g.paused);
    tasker_task_clear(&g);

    /* A re-add replaces every policy and keeps the paused state. */
    tasker_task t2 = {.task_id = "p", .handler = "h2", .param = "{}", .max_execs = -1};
    OK(OPS->add_task(ST, &t2));
    tasker_task *v;
    size_t n;
    OK(OPS->list_tasks(ST, &v, &n));
    assert_int_equal(n, 1);
    str_eq(v[0].handler, "h2");
    assert_int_equal(v[0].max_attempts, 0);
    assert_int_equal(v[0].backoff_ms, 0);
    assert_int_equal(v[0].priority, 0);
    assert_int_equal(v[0].max_execs, -1);
    assert_int_equal(v[0].max_exec_age_s, 0);
    assert_true(v[0].paused);
    tasker_free_tasks(v, n);

    /* A plain task has every policy at 0 and is not paused. */
    add_task(f, "plain");
    OK(OPS->get_task(ST, "plain", &g));
    assert_int_equal(g.max_execs, 0);
    assert_int_equal(g.max_exec_age_s, 0);
    assert_false(g.paused);
    tasker_task_clear(&g);
}

static void task_max_execs_overrides_the_handles(void **state)
{
    fixture *f = *state;
    set_retention(f, 5, -1);
    add_task_with(f, "small", 2, 0);
    add_task_with(f, "all", -1, 0); /* negative: unlimited for this task */
    add_task(f, "plain");
    char id[32];
    for (int i = 0; i < 8; i++) {
        const char *tasks[] = {"small", "all", "plain"};
        for (int k = 0; k < 3; k++) {
            snprintf(id, sizeof id, "%s-%d", tasks[k], i);
            finished_run(f, id, tasks[k], T0_US + i);
        }
    }
    assert_int_equal(execs_of(f, "small"), 2);
    assert_int_equal(execs_of(f, "all"), 8);
    assert_int_equal(execs_of(f, "plain"), 5);
    assert_true(exec_exists(f, "small-7"));
    assert_true(exec_exists(f, "small-6"));
    assert_int_equal(count_events(f, "small-7"), 1);
    assert_pruned(f, "small-5", "small");
    assert_pruned(f, "small-0", "small");
    assert_int_equal(count_events(f, "all-0"), 1);
}

static void task_max_age_overrides_the_handles(void **state)
{
    fixture *f = *state;
    set_retention(f, -1, 3600);
    add_task_with(f, "week", 0, 7 * 86400);
    add_task_with(f, "minute", 0, 60);
    add_task(f, "plain");
    finished_run(f, "week-old", "week", T0_US);
    finished_run(f, "minute-old", "minute", T0_US);
    finished_run(f, "plain-old", "plain", T0_US);

    /* Two minutes on: only the task with a one-minute age loses its old run. */
    set_clock(f, T0_US + 120 * SECOND_US);
    finished_run(f, "week-2m", "week", f->now_us);
    finished_run(f, "minute-2m", "minute", f->now_us);
    finished_run(f, "plain-2m", "plain", f->now_us);
    assert_pruned(f, "minute-old", "minute");
    assert_true(exec_exists(f, "plain-old"));

    /* Two hours on: the handle's hour prunes the plain task; the week keeps all. */
    set_clock(f, T0_US + 7200 * SECOND_US);
    finished_run(f, "week-2h", "week", f->now_us);
    finished_run(f, "plain-2h", "plain", f->now_us);
    assert_false(exec_exists(f, "plain-old"));
    assert_int_equal(execs_of(f, "week"), 3);
    assert_int_equal(count_events(f, "week-old"), 1);

    /* Two days on, runs of another task (whose adds may sweep idle tasks by age) leave
     * the week's runs alone: the handle's hour is not the week's limit. */
    for (int i = 0; i < 5; i++) {
        char id[32];
        set_clock(f, T0_US + 2 * 86400 * SECOND_US + i * 2 * SECOND_US);
        snprintf(id, sizeof id, "plain-2d-%d", i);
        finished_run(f, id, "plain", f->now_us);
    }
    assert_true(exec_exists(f, "week-old"));
    assert_int_equal(execs_of(f, "week"), 3);

    /* Eight days on, the week's own limit prunes what is older than a week. */
    set_clock(f, T0_US + 8 * 86400 * SECOND_US);
    finished_run(f, "week-8d", "week", f->now_us);
    assert_int_equal(execs_of(f, "week"), 1);
    assert_pruned(f, "week-old", "week");
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, conformance_setup, conformance_teardown)

static const struct CMUnitTest policy_tests[] = {
    TEST(task_policies_and_paused_round_trip),
    TEST(task_max_execs_overrides_the_handles),
    TEST(task_max_age_overrides_the_handles),
};

const struct CMUnitTest *conformance_policy_tests(size_t *n)
{
    *n = sizeof policy_tests / sizeof policy_tests[0];
    return policy_tests;
}
