/* The memory driver: the storage conformance suite, plus what only this driver
 * promises (argument checks, retention cost, the idle-history sweep, speed). */
#include "storage_conformance.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define T0_US INT64_C(1700000000000000)
#define SECOND_US INT64_C(1000000)

static tasker_storage *open_memory(void *udata)
{
    return tasker_memory_storage();
}

typedef struct fixture {
    tasker_storage *st;
    int64_t now_us;
} fixture;

static int64_t fake_clock(void *udata)
{
    return ((fixture *)udata)->now_us;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f || !(f->st = tasker_memory_storage())) {
        free(f);
        return -1;
    }
    f->now_us = T0_US;
    f->st->env.clock = fake_clock;
    f->st->env.clock_udata = f;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    f->st->ops->close(f->st);
    free(f);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void add_task(tasker_storage *st, const char *id)
{
    tasker_task t = {.task_id = (char *)id, .handler = "h", .desc = NULL, .param = "{}"};
    assert_int_equal(st->ops->add_task(st, &t), TASKER_OK);
}

static int add_exec(tasker_storage *st, const char *id, const char *task, int64_t queued_us,
                    tasker_exec_status status)
{
    tasker_task_exec e = {0};
    e.exec_id = (char *)id;
    e.task_id = (char *)task;
    e.queued_us = queued_us;
    e.status = status;
    return st->ops->add_task_exec(st, &e);
}

static size_t count_execs(tasker_storage *st, const char *task)
{
    tasker_task_exec *v;
    size_t n;
    assert_int_equal(st->ops->list_task_execs(st, task, 0, &v, &n), TASKER_OK);
    tasker_free_execs(v, n);
    return n;
}

static void null_and_oversized_arguments_are_einval(void **state)
{
    fixture *f = *state;
    tasker_storage *st = f->st;
    char long_id[TASKER_ID_SIZE + 1];
    memset(long_id, 'x', TASKER_ID_SIZE);
    long_id[TASKER_ID_SIZE] = '\0';
    tasker_task t = {.task_id = NULL, .handler = "h", .desc = NULL, .param = "{}"};
    assert_int_equal(st->ops->add_task(st, NULL), TASKER_EINVAL);
    assert_int_equal(st->ops->add_task(st, &t), TASKER_EINVAL);
    t.task_id = long_id;
    assert_int_equal(st->ops->add_task(st, &t), TASKER_EINVAL);
    t.task_id = "";
    assert_int_equal(st->ops->add_task(st, &t), TASKER_EINVAL);
    add_task(st, "t");
    assert_int_equal(add_exec(st, long_id, "t", T0_US, TASKER_EXEC_PENDING), TASKER_EINVAL);
    assert_int_equal(add_exec(st, NULL, "t", T0_US, TASKER_EXEC_PENDING), TASKER_EINVAL);
    assert_int_equal(st->ops->add_task_exec(st, NULL), TASKER_EINVAL);
    tasker_task_exec e;
    assert_int_equal(st->ops->get_task_exec(st, NULL, &e), TASKER_EINVAL);
    assert_int_equal(st->ops->start_task_exec(st, NULL, 0, "n"), TASKER_EINVAL);
    assert_int_equal(st->ops->update_task_exec(st, NULL), TASKER_EINVAL);
    assert_int_equal(st->ops->add_task_event(st, NULL), TASKER_EINVAL);
    assert_int_equal(st->ops->interrupt_dead(st, NULL, NULL, NULL), TASKER_EINVAL);
    tasker_task_scheme s = {"s", "t", NULL, 0, 0, 0, 0, false};
    assert_int_equal(st->ops->add_task_scheme(st, &s, NULL), TASKER_EINVAL);
    assert_int_equal(st->ops->list_tasks(st, NULL, NULL), TASKER_EINVAL);
    assert_true(strstr(tasker_last_error(), "memory") != NULL);
}

/* A backlog of pending runs sits in the doomed prefix without being walked again:
 * with a scan per add, 40k adds over a growing backlog would take ~10^9 steps. */
static void a_large_pending_backlog_keeps_adds_cheap(void **state)
{
    fixture *f = *state;
    tasker_storage *st = f->st;
    enum { BACKLOG = 40000 };
    char id[32];
    add_task(st, "t");
    double start_s = now_s();
    for (int i = 0; i < BACKLOG; i++) {
        snprintf(id, sizeof id, "e-%06d", i);
        assert_int_equal(add_exec(st, id, "t", T0_US + i, TASKER_EXEC_PENDING), TASKER_OK);
    }
    /* Finish them oldest first, as workers do, adding a run after each. */
    for (int i = 0; i < BACKLOG; i++) {
        snprintf(id, sizeof id, "e-%06d", i);
        tasker_task_exec e = {.exec_id = id, .status = TASKER_EXEC_SUCCESS, .success = true};
        assert_int_equal(st->ops->update_task_exec(st, &e), TASKER_OK);
        snprintf(id, sizeof id, "n-%06d", i);
        assert_int_equal(add_exec(st, id, "t", T0_US + BACKLOG + i, TASKER_EXEC_SUCCESS),
                         TASKER_OK);
    }
    double took_s = now_s() - start_s;
    assert_int_equal(count_execs(st, "t"), TASKER_DEFAULT_MAX_EXECS);
    if (took_s > 20.0) fail_msg("%d adds over a backlog took %.1f s", 2 * BACKLOG, took_s);
}

/* Retention is applied when a task gets a new run; the histories of tasks that get
 * none are aged out by the round-robin sweep that every add advances. */
static void idle_task_history_is_aged_out_by_other_adds(void **state)
{
    fixture *f = *state;
    tasker_storage *st = f->st;
    add_task(st, "idle");
    add_task(st, "busy");
    assert_int_equal(add_exec(st, "old-1", "idle", T0_US, TASKER_EXEC_SUCCESS), TASKER_OK);
    assert_int_equal(add_exec(st, "old-2", "idle", T0_US, TASKER_EXEC_FAILED), TASKER_OK);
    assert_int_equal(add_exec(st, "old-run", "idle", T0_US, TASKER_EXEC_PENDING), TASKER_OK);
    assert_int_equal(st->ops->remove_task(st, "idle"), TASKER_OK);
    f->now_us = T0_US + 2 * TASKER_DEFAULT_MAX_EXEC_AGE_S * SECOND_US;
    char id[32];
    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof id, "busy-%d", i);
        assert_int_equal(add_exec(st, id, "busy", f->now_us, TASKER_EXEC_SUCCESS), TASKER_OK);
    }
    assert_int_equal(count_execs(st, "idle"), 1); /* the pending one stays */
    assert_int_equal(count_execs(st, "busy"), 4);
}

static void huge_ages_mean_unlimited_without_overflow(void **state)
{
    fixture *f = *state;
    tasker_storage *st = f->st;
    st->env.max_exec_age_s = INT64_MAX;
    add_task(st, "t");
    assert_int_equal(add_exec(st, "a", "t", INT64_MIN + 1, TASKER_EXEC_SUCCESS), TASKER_OK);
    f->now_us = INT64_MAX;
    assert_int_equal(add_exec(st, "b", "t", T0_US, TASKER_EXEC_SUCCESS), TASKER_OK);
    assert_int_equal(count_execs(st, "t"), 2);
}

/* interrupt_dead asks alive() without holding the store's lock. */
static bool alive_asks_the_store(const char *node_id, void *udata)
{
    tasker_storage *st = udata;
    tasker_task_exec e;
    if (st->ops->get_task_exec(st, "r", &e) == TASKER_OK) tasker_exec_clear(&e);
    return strcmp(node_id, "gone") != 0;
}

static void alive_callback_may_use_the_store(void **state)
{
    fixture *f = *state;
    tasker_storage *st = f->st;
    add_task(st, "t");
    assert_int_equal(add_exec(st, "r", "t", T0_US, TASKER_EXEC_PENDING), TASKER_OK);
    assert_int_equal(st->ops->start_task_exec(st, "r", T0_US, "gone"), TASKER_OK);
    size_t n = 0;
    assert_int_equal(st->ops->interrupt_dead(st, alive_asks_the_store, st, &n), TASKER_OK);
    assert_int_equal(n, 1);
}

/* Before tasker_new() sets the env, the driver has usable defaults (a real clock). */
static void a_store_works_before_the_core_sets_its_env(void **state)
{
    tasker_storage *st = tasker_memory_storage();
    assert_non_null(st);
    assert_int_equal(st->env.max_execs_per_task, TASKER_DEFAULT_MAX_EXECS);
    assert_non_null(st->env.clock);
    assert_true(tasker_storage_now_us(st) > T0_US);
    add_task(st, "t");
    assert_int_equal(add_exec(st, "e", "t", tasker_storage_now_us(st), TASKER_EXEC_SUCCESS),
                     TASKER_OK);
    assert_int_equal(count_execs(st, "t"), 1);
    st->ops->close(st);
}

/* One run's storage work: add, start, an event, the outcome. Prints the rate; fails
 * only when it is absurdly slow (even under sanitizers it is far above this floor). */
static void the_run_cycle_is_fast(void **state)
{
    fixture *f = *state;
    tasker_storage *st = f->st;
    enum { RUNS = 100000 };
    char id[32];
    add_task(st, "t");
    double start_s = now_s();
    for (int i = 0; i < RUNS; i++) {
        snprintf(id, sizeof id, "run-%07d", i);
        assert_int_equal(add_exec(st, id, "t", T0_US + i, TASKER_EXEC_PENDING), TASKER_OK);
        assert_int_equal(st->ops->start_task_exec(st, id, T0_US + i, "node"), TASKER_OK);
        tasker_task_event ev = {0, id, T0_US + i, TASKER_NORMAL, "working"};
        assert_int_equal(st->ops->add_task_event(st, &ev), TASKER_OK);
        tasker_task_exec e = {.exec_id = id, .status = TASKER_EXEC_SUCCESS, .success = true,
                              .end_us = T0_US + i};
        assert_int_equal(st->ops->update_task_exec(st, &e), TASKER_OK);
    }
    double rate = RUNS / (now_s() - start_s);
    printf("memory: %.0f runs/s (add+start+event+update), %.0f ops/s\n", rate, 4 * rate);
    assert_true(rate > 5000);
}

int main(void)
{
    int failures = tasker_storage_conformance("memory", open_memory, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(null_and_oversized_arguments_are_einval, setup, teardown),
        cmocka_unit_test_setup_teardown(a_large_pending_backlog_keeps_adds_cheap, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(idle_task_history_is_aged_out_by_other_adds, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(huge_ages_mean_unlimited_without_overflow, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(alive_callback_may_use_the_store, setup, teardown),
        cmocka_unit_test(a_store_works_before_the_core_sets_its_env),
        cmocka_unit_test_setup_teardown(the_run_cycle_is_fast, setup, teardown),
    };
    return failures + cmocka_run_group_tests_name("memory driver", tests, NULL, NULL);
}
