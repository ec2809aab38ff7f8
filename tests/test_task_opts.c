/* tasker_add_task_opts: the policies this version implements (desc, per-task retention)
 * take effect through the public API, the others are refused with a message naming the
 * field, and a re-add replaces the policies. */
#include "support/testutil.h"
#include "support/tmpdir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ok_handler(tasker_ctx *c)
{
    return tasker_event(c, TASKER_NORMAL, "ran");
}

static void negative_policies_are_refused_naming_the_field(void **state)
{
    (void)state;
    tasker_t *t = test_open("memory:", 1, NULL);
    const struct {
        tasker_task_opts o;
        const char *field;
    } cases[] = {
        {{.max_attempts = -3}, "max_attempts"},     {{.backoff_ms = -10}, "backoff_ms"},
        {{.backoff_max_ms = -10}, "backoff_max_ms"}, {{.timeout_ms = -5}, "timeout_ms"},
        {{.max_concurrency = -1}, "max_concurrency"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(tasker_add_task_opts(t, "job", "h", NULL, &cases[i].o), TASKER_EINVAL);
        char want[96];
        snprintf(want, sizeof want, "task 'job': %s must not be negative", cases[i].field);
        assert_string_equal(tasker_last_error(), want);
    }
    tasker_task *v;
    size_t n;
    assert_int_equal(tasker_list_tasks(t, &v, &n), TASKER_OK);
    assert_int_equal(n, 0); /* nothing stored by a refused call */
    tasker_close(t);
}

static void opts_are_stored_and_replaced(void **state)
{
    (void)state;
    tasker_t *t = test_open("memory:", 1, NULL);
    tasker_task_opts o = {.desc = "nightly", .max_execs = 30, .max_exec_age_s = 604800};
    assert_int_equal(tasker_add_task_opts(t, "job", "h", "{\"x\":1}", &o), TASKER_OK);
    tasker_task *v;
    size_t n;
    assert_int_equal(tasker_list_tasks(t, &v, &n), TASKER_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].desc, "nightly");
    assert_string_equal(v[0].param, "{\"x\":1}");
    assert_int_equal(v[0].max_execs, 30);
    assert_int_equal(v[0].max_exec_age_s, 604800);
    tasker_free_tasks(v, n);
    /* tasker_add_task replaces the policies too: back to the handle's. */
    assert_int_equal(tasker_add_task(t, "job", "h", NULL), TASKER_OK);
    assert_int_equal(tasker_list_tasks(t, &v, &n), TASKER_OK);
    assert_int_equal(v[0].max_execs, 0);
    assert_null(v[0].desc);
    tasker_free_tasks(v, n);
    assert_int_equal(tasker_add_task_opts(t, "job2", "h", NULL, NULL), TASKER_OK);
    tasker_close(t);
}

/* Runs of a task with max_execs 3 beside a plain one, on the given store. */
static void task_keeps_its_own_number_of_runs(const char *dsn)
{
    tasker_options opt = {.workers = 1, .max_execs_per_task = 5};
    tasker_t *t = tasker_open_opts(dsn, &opt);
    assert_non_null(t);
    assert_int_equal(tasker_register(t, "ok", ok_handler, NULL), TASKER_OK);
    tasker_task_opts o = {.max_execs = 3};
    assert_int_equal(tasker_add_task_opts(t, "few", "ok", NULL, &o), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "plain", "ok", NULL), TASKER_OK);
    for (int i = 0; i < 8; i++) {
        tasker_task_exec e;
        test_run_task(t, "few", &e);
        assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
        tasker_exec_clear(&e);
        test_run_task(t, "plain", &e);
        tasker_exec_clear(&e);
    }
    tasker_task_exec *v;
    size_t n;
    assert_int_equal(tasker_list_execs(t, "few", &v, &n), TASKER_OK);
    assert_int_equal(n, 3);
    tasker_task_event *ev;
    size_t n_ev;
    assert_int_equal(tasker_list_events(t, v[2].exec_id, &ev, &n_ev), TASKER_OK);
    assert_int_equal(n_ev, 1);
    tasker_free_events(ev, n_ev);
    tasker_free_execs(v, n);
    assert_int_equal(tasker_list_execs(t, "plain", &v, &n), TASKER_OK);
    assert_int_equal(n, 5);
    tasker_free_execs(v, n);
    tasker_close(t);
}

static void per_task_retention_on_memory(void **state)
{
    (void)state;
    task_keeps_its_own_number_of_runs("memory:");
}

static void per_task_retention_on_sqlite(void **state)
{
    tmpfile_fixture *f = *state;
    char dsn[600];
    snprintf(dsn, sizeof dsn, "sqlite:%s", f->path);
    task_keeps_its_own_number_of_runs(dsn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(negative_policies_are_refused_naming_the_field),
        cmocka_unit_test(opts_are_stored_and_replaced),
        cmocka_unit_test(per_task_retention_on_memory),
        cmocka_unit_test_setup_teardown(per_task_retention_on_sqlite, tmpfile_setup,
                                        tmpfile_teardown),
    };
    return cmocka_run_group_tests_name("task_opts", tests, NULL, NULL);
}
