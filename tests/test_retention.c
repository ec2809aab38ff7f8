/* Retention through the core: by count (newest 100 per task) and by age (an injected
 * clock, no sleeping); pruned runs lose their events; running ones are never pruned. */
#include "support/testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static int one_event(tasker_ctx *c)
{
    return tasker_event(c, TASKER_NORMAL, "ran");
}

static size_t count_execs(tasker_t *t, const char *task)
{
    tasker_task_exec *v;
    size_t n;
    assert_int_equal(tasker_list_execs(t, task, &v, &n), TASKER_OK);
    tasker_free_execs(v, n);
    return n;
}

static size_t count_events(tasker_t *t, const char *exec_id)
{
    tasker_task_event *ev = NULL;
    size_t n = 0;
    int rc = tasker_list_events(t, exec_id, &ev, &n);
    assert_true(rc == TASKER_OK || rc == TASKER_ENOTFOUND);
    tasker_free_events(ev, n);
    return rc == TASKER_OK ? n : 0;
}

static void retention_keeps_newest_100_and_their_events(void **state)
{
    (void)state;
    tasker_t *t = test_open("memory:", 2, NULL);
    assert_int_equal(tasker_register(t, "e", one_event, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "a", "e", NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "other", "e", NULL), TASKER_OK);
    char ids[150][TASKER_ID_SIZE];
    for (int i = 0; i < 150; i++) {
        assert_int_equal(tasker_trigger(t, "a", ids[i]), TASKER_OK);
        assert_int_equal(tasker_wait(t, ids[i], 10000), TASKER_OK);
    }
    char other[TASKER_ID_SIZE];
    assert_int_equal(tasker_trigger(t, "other", other), TASKER_OK);
    assert_int_equal(tasker_wait(t, other, 10000), TASKER_OK);
    tasker_task_exec *v;
    size_t n;
    assert_int_equal(tasker_list_execs(t, "a", &v, &n), TASKER_OK);
    assert_int_equal(n, 100);
    for (size_t i = 0; i < n; i++) assert_string_equal(v[i].exec_id, ids[149 - i]);
    tasker_free_execs(v, n);
    for (int i = 0; i < 50; i++) {
        tasker_task_exec e;
        assert_int_equal(tasker_get_exec(t, ids[i], &e), TASKER_ENOTFOUND);
        assert_int_equal(count_events(t, ids[i]), 0);
    }
    for (int i = 50; i < 150; i++) assert_int_equal(count_events(t, ids[i]), 1);
    assert_int_equal(count_execs(t, "other"), 1); /* per task, not global */
    tasker_close(t);
}

static void retention_by_age_follows_the_injected_clock(void **state)
{
    (void)state;
    fake_clock clock;
    fake_clock_set(&clock, test_utc_us("2026-01-01 00:00:00"));
    tasker_t *t = test_open("memory:", 2, &clock);
    assert_int_equal(tasker_register(t, "e", one_event, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "a", "e", NULL), TASKER_OK);
    char old[10][TASKER_ID_SIZE];
    for (int i = 0; i < 10; i++) {
        assert_int_equal(tasker_trigger(t, "a", old[i]), TASKER_OK);
        assert_int_equal(tasker_wait(t, old[i], 10000), TASKER_OK);
    }
    fake_clock_advance(&clock, 3599 * 1000000LL); /* not yet an hour */
    tasker_task_exec e;
    test_run_task(t, "a", &e);
    tasker_exec_clear(&e);
    assert_int_equal(count_execs(t, "a"), 11);
    fake_clock_advance(&clock, 2 * 1000000LL); /* now the first ten are over an hour old */
    test_run_task(t, "a", &e);
    assert_int_equal(count_execs(t, "a"), 2);
    for (int i = 0; i < 10; i++) assert_int_equal(count_events(t, old[i]), 0);
    tasker_exec_clear(&e);
    tasker_close(t);
}

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static atomic_int gate_entered;

static int gated(tasker_ctx *c)
{
    (void)c;
    atomic_fetch_add(&gate_entered, 1);
    pthread_mutex_lock(&gate_lock);
    while (!gate_open) pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    return 0;
}

static bool entered(void *arg) { (void)arg; return atomic_load(&gate_entered) == 1; }

static void running_execution_is_never_pruned(void **state)
{
    (void)state;
    fake_clock clock;
    fake_clock_set(&clock, test_utc_us("2026-01-01 00:00:00"));
    tasker_options o = {.workers = 2, .max_execs_per_task = 2, .clock = fake_clock_read,
                        .clock_udata = &clock};
    tasker_t *t = tasker_open_opts("memory:", &o);
    assert_int_equal(tasker_register(t, "g", gated, NULL), TASKER_OK);
    assert_int_equal(tasker_register(t, "e", one_event, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "a", "g", NULL), TASKER_OK);
    char running[TASKER_ID_SIZE];
    assert_int_equal(tasker_trigger(t, "a", running), TASKER_OK);
    assert_true(test_wait_for(entered, NULL, 10000));
    assert_int_equal(tasker_add_task(t, "a", "e", NULL), TASKER_OK); /* later runs are quick */
    fake_clock_advance(&clock, 7200 * 1000000LL);
    for (int i = 0; i < 5; i++) {
        tasker_task_exec e;
        test_run_task(t, "a", &e);
        tasker_exec_clear(&e);
    }
    tasker_task_exec e;
    assert_int_equal(tasker_get_exec(t, running, &e), TASKER_OK);
    assert_int_equal(e.status, TASKER_EXEC_RUNNING);
    tasker_exec_clear(&e);
    pthread_mutex_lock(&gate_lock);
    gate_open = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    assert_int_equal(tasker_wait(t, running, 10000), TASKER_OK);
    tasker_close(t);
}

static void unlimited_retention_keeps_everything(void **state)
{
    (void)state;
    tasker_options o = {.workers = 2, .max_execs_per_task = -1, .max_exec_age_s = -1};
    tasker_t *t = tasker_open_opts("memory:", &o);
    assert_int_equal(tasker_register(t, "e", one_event, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "a", "e", NULL), TASKER_OK);
    for (int i = 0; i < 130; i++) {
        tasker_task_exec e;
        test_run_task(t, "a", &e);
        tasker_exec_clear(&e);
    }
    assert_int_equal(count_execs(t, "a"), 130);
    tasker_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(retention_keeps_newest_100_and_their_events),
        cmocka_unit_test(retention_by_age_follows_the_injected_clock),
        cmocka_unit_test(running_execution_is_never_pruned),
        cmocka_unit_test(unlimited_retention_keeps_everything),
    };
    return cmocka_run_group_tests_name("retention", tests, NULL, NULL);
}
