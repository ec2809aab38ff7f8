/* Runs left behind: pending executions run after the next open (once handlers are
 * registered), no_pickup leaves them alone, and the exec hook reports outcomes. */
#include "support/testutil.h"
#include "support/tmpdir.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static char dsn[600];
static char *dir; /* the current test's directory */

static int remove_dir(void **state)
{
    (void)state;
    tmpdir_remove(dir);
    dir = NULL;
    return 0;
}

static int ok_handler(tasker_ctx *c)
{
    return tasker_success(c, "\"done\"");
}

static void fresh(void)
{
    tmpdir_remove(dir); /* the previous test's */
    dir = tmpdir_make();
    snprintf(dsn, sizeof dsn, "sqlite:%s/t.db", dir);
}

static tasker_t *open_with(int workers, bool no_pickup)
{
    tasker_options o = {.workers = workers, .no_pickup = no_pickup};
    tasker_t *t = tasker_open_opts(dsn, &o);
    if (!t) fail_msg("open: %s", tasker_last_error());
    return t;
}

static void leave_pending(char ids[][TASKER_ID_SIZE], int n)
{
    tasker_t *t = open_with(-1, false);
    assert_int_equal(tasker_add_task(t, "a", "ok", NULL), TASKER_OK);
    for (int i = 0; i < n; i++) assert_int_equal(tasker_trigger(t, "a", ids[i]), TASKER_OK);
    tasker_close(t);
}

static void pending_runs_after_reopen_with_handlers_registered_late(void **state)
{
    (void)state;
    fresh();
    char ids[3][TASKER_ID_SIZE], now[TASKER_ID_SIZE];
    leave_pending(ids, 3);
    tasker_t *t = open_with(2, false);
    assert_int_equal(tasker_register(t, "ok", ok_handler, NULL), TASKER_OK); /* after open */
    assert_int_equal(tasker_trigger(t, "a", now), TASKER_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tasker_wait(t, ids[i], 10000), TASKER_OK);
        tasker_task_exec e;
        assert_int_equal(tasker_get_exec(t, ids[i], &e), TASKER_OK);
        assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
        assert_string_equal(e.result, "\"done\"");
        tasker_exec_clear(&e);
    }
    assert_int_equal(tasker_wait(t, now, 10000), TASKER_OK);
    tasker_close(t);
}

static void wake_picks_up_pending_without_a_trigger(void **state)
{
    (void)state;
    fresh();
    char ids[1][TASKER_ID_SIZE];
    leave_pending(ids, 1);
    tasker_t *t = open_with(1, false);
    assert_int_equal(tasker_register(t, "ok", ok_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_wait(t, ids[0], 50), TASKER_ETIMEDOUT); /* not before a run call */
    tasker_wake(t);
    assert_int_equal(tasker_wait(t, ids[0], 10000), TASKER_OK);
    tasker_close(t);
}

static void no_pickup_leaves_other_pending_runs_alone(void **state)
{
    (void)state;
    fresh();
    char ids[2][TASKER_ID_SIZE], mine[TASKER_ID_SIZE];
    leave_pending(ids, 2);
    tasker_t *t = open_with(1, true);
    assert_int_equal(tasker_register(t, "ok", ok_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_trigger(t, "a", mine), TASKER_OK);
    assert_int_equal(tasker_wait(t, mine, 10000), TASKER_OK);
    tasker_wake(t);
    assert_int_equal(tasker_drain(t, 10000), TASKER_OK);
    for (int i = 0; i < 2; i++) {
        tasker_task_exec e;
        assert_int_equal(tasker_get_exec(t, ids[i], &e), TASKER_OK);
        assert_int_equal(e.status, TASKER_EXEC_PENDING);
        tasker_exec_clear(&e);
    }
    tasker_close(t);
}

static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER; /* guards hook_seen */
static char hook_seen[8][160];
static int hook_n;

static void hook(tasker_t *t, const tasker_task_exec *e, void *udata)
{
    (void)t;
    pthread_mutex_lock(&hook_lock);
    if (hook_n < 8)
        snprintf(hook_seen[hook_n++], sizeof hook_seen[0], "%s %s %s %s %s", (char *)udata,
                 e->task_id, tasker_exec_status_name(e->status), e->error ? e->error : "-",
                 e->end_us >= e->start_us && e->end_us > 0 ? "timed" : "untimed");
    pthread_mutex_unlock(&hook_lock);
}

static void exec_hook_sees_every_outcome(void **state)
{
    (void)state;
    tasker_t *t = test_open("memory:", 1, NULL);
    tasker_set_exec_hook(t, hook, "h");
    assert_int_equal(tasker_register(t, "ok", ok_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "a", "ok", NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "b", "missing", NULL), TASKER_OK);
    tasker_task_exec e;
    test_run_task(t, "a", &e);
    tasker_exec_clear(&e);
    test_run_task(t, "b", &e);
    tasker_exec_clear(&e);
    assert_int_equal(tasker_drain(t, 10000), TASKER_OK);
    pthread_mutex_lock(&hook_lock);
    assert_int_equal(hook_n, 2);
    assert_string_equal(hook_seen[0], "h a success - timed");
    assert_string_equal(hook_seen[1], "h b failed unknown handler 'missing' timed");
    pthread_mutex_unlock(&hook_lock);
    tasker_set_exec_hook(t, NULL, NULL);
    test_run_task(t, "a", &e);
    tasker_exec_clear(&e);
    assert_int_equal(tasker_drain(t, 10000), TASKER_OK);
    assert_int_equal(hook_n, 2);
    tasker_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pending_runs_after_reopen_with_handlers_registered_late),
        cmocka_unit_test(wake_picks_up_pending_without_a_trigger),
        cmocka_unit_test(no_pickup_leaves_other_pending_runs_alone),
        cmocka_unit_test(exec_hook_sees_every_outcome),
    };
    return cmocka_run_group_tests_name("recovery", tests, NULL, remove_dir);
}
