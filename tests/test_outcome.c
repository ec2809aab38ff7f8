/* The outcome rules of context.h, for every combination a handler can produce. */
#include "support/testutil.h"

#include <string.h>

/* The handler does what its params' "do" list says, in order, then returns "ret". */
static int scripted(tasker_ctx *c)
{
    int ret = 0;
    const char *a = NULL, *b = NULL, *d = NULL;
    /* no cmocka asserts here: this runs on a worker thread */
    if (tasker_bind(c, "{s?s, s?s, s?s, s?i}", "a", &a, "b", &b, "c", &d, "ret", &ret))
        return 99;
    const char *stepv[3] = {a, b, d};
    for (int i = 0; i < 3 && stepv[i]; i++) {
        if (strncmp(stepv[i], "success:", 8) == 0) {
            if (tasker_success(c, stepv[i] + 8) != TASKER_OK) return 98;
        } else if (strncmp(stepv[i], "failed:", 7) == 0) {
            if (tasker_failed(c, "%s", stepv[i] + 7) != TASKER_OK) return 97;
        } else if (strncmp(stepv[i], "badresult:", 10) == 0) {
            if (tasker_success(c, stepv[i] + 10) != TASKER_EINVAL) return 96;
        }
    }
    return ret;
}
static tasker_t *handle;

static int setup(void **state)
{
    (void)state;
    handle = test_open("memory:", 2, NULL);
    assert_int_equal(tasker_register(handle, "scripted", scripted, NULL), TASKER_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tasker_close(handle);
    return 0;
}

static void run_script(const char *params, tasker_task_exec *e)
{
    assert_int_equal(tasker_add_task(handle, "s", "scripted", params), TASKER_OK);
    test_run_task(handle, "s", e);
}

static void returning_zero_without_calls_is_success_with_null_result(void **state)
{
    (void)state;
    tasker_task_exec e;
    run_script("{}", &e);
    assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
    assert_true(e.success);
    assert_null(e.result);
    assert_null(e.error);
    tasker_exec_clear(&e);
}

static void returning_nonzero_without_calls_is_failure(void **state)
{
    (void)state;
    tasker_task_exec e;
    run_script("{\"ret\": 7}", &e);
    assert_int_equal(e.status, TASKER_EXEC_FAILED);
    assert_false(e.success);
    assert_string_equal(e.error, "handler returned 7");
    tasker_exec_clear(&e);
}

static void success_result_is_stored(void **state)
{
    (void)state;
    tasker_task_exec e;
    run_script("{\"a\": \"success:{\\\"n\\\": 3}\"}", &e);
    assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
    assert_string_equal(e.result, "{\"n\": 3}");
    tasker_exec_clear(&e);
}

static void failed_after_success_wins_and_keeps_result(void **state)
{
    (void)state;
    tasker_task_exec e;
    run_script("{\"a\": \"success:1\", \"b\": \"failed:boom\"}", &e);
    assert_int_equal(e.status, TASKER_EXEC_FAILED);
    assert_string_equal(e.error, "boom");
    assert_string_equal(e.result, "1");
    tasker_exec_clear(&e);
}

static void success_after_failed_does_not_undo_it(void **state)
{
    (void)state;
    tasker_task_exec e;
    run_script("{\"a\": \"failed:first\", \"b\": \"success:2\"}", &e);
    assert_int_equal(e.status, TASKER_EXEC_FAILED);
    assert_string_equal(e.error, "first");
    tasker_exec_clear(&e);
}

static void failed_twice_keeps_first_message_and_logs_both(void **state)
{
    (void)state;
    tasker_task_exec e;
    run_script("{\"a\": \"failed:one\", \"b\": \"failed:two\"}", &e);
    assert_int_equal(e.status, TASKER_EXEC_FAILED);
    assert_string_equal(e.error, "one");
    tasker_task_event *ev;
    size_t n;
    assert_int_equal(tasker_list_events(handle, e.exec_id, &ev, &n), TASKER_OK);
    assert_int_equal(n, 2);
    assert_string_equal(ev[0].message, "one");
    assert_int_equal(ev[0].level, TASKER_ERROR);
    assert_string_equal(ev[1].message, "two");
    tasker_free_events(ev, n);
    tasker_exec_clear(&e);
}

static void success_twice_keeps_last_result(void **state)
{
    (void)state;
    tasker_task_exec e;
    run_script("{\"a\": \"success:1\", \"b\": \"success:[2]\"}", &e);
    assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
    assert_string_equal(e.result, "[2]");
    tasker_exec_clear(&e);
}

static void success_then_nonzero_return_is_failure(void **state)
{
    (void)state;
    tasker_task_exec e;
    run_script("{\"a\": \"success:true\", \"ret\": 1}", &e);
    assert_int_equal(e.status, TASKER_EXEC_FAILED);
    assert_string_equal(e.error, "handler returned 1");
    assert_string_equal(e.result, "true");
    tasker_exec_clear(&e);
}

static void failed_then_zero_return_is_failure(void **state)
{
    (void)state;
    tasker_task_exec e;
    run_script("{\"a\": \"failed:nope\", \"ret\": 0}", &e);
    assert_int_equal(e.status, TASKER_EXEC_FAILED);
    assert_string_equal(e.error, "nope");
    tasker_exec_clear(&e);
}

static void invalid_result_is_refused_and_previous_kept(void **state)
{
    (void)state;
    tasker_task_exec e;
    run_script("{\"a\": \"success:5\", \"b\": \"badresult:{oops\"}", &e);
    assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
    assert_string_equal(e.result, "5");
    tasker_exec_clear(&e);
}

static int big_result(tasker_ctx *c)
{
    static char big[64];
    memset(big, '1', 40);
    big[40] = '\0';
    int rc = tasker_success(c, big);
    if (rc != TASKER_EINVAL) return 100;
    if (!strstr(tasker_last_error(), "result: 40 bytes is over the limit of 32 bytes")) return 101;
    return tasker_success(c, "12");
}

static void result_over_limit_is_refused(void **state)
{
    (void)state;
    tasker_options o = {.workers = 1, .max_json_bytes = 32};
    tasker_t *t = tasker_open_opts("memory:", &o);
    assert_int_equal(tasker_register(t, "big", big_result, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "b", "big", NULL), TASKER_OK);
    tasker_task_exec e;
    test_run_task(t, "b", &e);
    assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
    assert_string_equal(e.result, "12");
    tasker_exec_clear(&e);
    tasker_close(t);
}

static void removed_task_fails_its_pending_run(void **state)
{
    (void)state;
    tasker_t *t = test_open("memory:", -1, NULL); /* no workers: stays pending */
    assert_int_equal(tasker_add_task(t, "gone", "x", NULL), TASKER_OK);
    char id[TASKER_ID_SIZE];
    assert_int_equal(tasker_trigger(t, "gone", id), TASKER_OK);
    tasker_close(t);
    /* a pending run whose task vanished, picked up at open, fails saying so: exercised
     * with persistent drivers; here we check the trigger of a removed task instead */
    t = test_open("memory:", 1, NULL);
    assert_int_equal(tasker_trigger(t, "gone", id), TASKER_ENOTFOUND);
    tasker_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(returning_zero_without_calls_is_success_with_null_result, setup, teardown),
        cmocka_unit_test_setup_teardown(returning_nonzero_without_calls_is_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(success_result_is_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_after_success_wins_and_keeps_result, setup, teardown),
        cmocka_unit_test_setup_teardown(success_after_failed_does_not_undo_it, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_twice_keeps_first_message_and_logs_both, setup, teardown),
        cmocka_unit_test_setup_teardown(success_twice_keeps_last_result, setup, teardown),
        cmocka_unit_test_setup_teardown(success_then_nonzero_return_is_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_then_zero_return_is_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_result_is_refused_and_previous_kept, setup, teardown),
        cmocka_unit_test(result_over_limit_is_refused),
        cmocka_unit_test(removed_task_fails_its_pending_run),
    };
    return cmocka_run_group_tests_name("outcome", tests, NULL, NULL);
}
