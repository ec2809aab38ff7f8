/* tasker_define (issue 14): many tasks and schedules in one call, all or nothing, the
 * message naming the first bad item. The DSN is $TASKER_TEST_DSN_PREFIX + a name, or
 * memory:. */
#include "support/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N 300

static char dsn_buf[512];
static char ids[N][16];

static tasker_t *open_store(const char *name)
{
    const char *prefix = getenv("TASKER_TEST_DSN_PREFIX");
    const char *dsn = "memory:";
    if (prefix) {
        snprintf(dsn_buf, sizeof dsn_buf, "%s%s-%d.db", prefix, name, (int)getpid());
        if (strncmp(dsn_buf, "sqlite:", 7) == 0) unlink(dsn_buf + 7);
        dsn = dsn_buf;
    }
    tasker_options o = {.workers = -1};
    tasker_t *t = tasker_open_opts(dsn, &o);
    if (!t) fail_msg("open %s: %s", dsn, tasker_last_error());
    return t;
}

static void fill(tasker_task_def *tv, tasker_schedule_def *sv)
{
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "d-%d", i);
        tv[i] = (tasker_task_def){.task_id = ids[i], .handler = "h", .param_json = "{\"i\":1}"};
        sv[i] = (tasker_schedule_def){.task_id = ids[i], .cron = "*/5 * * * *",
                                      .opts = {.misfire = TASKER_MISFIRE_SKIP}};
    }
}

static size_t count_tasks(tasker_t *t)
{
    tasker_task *v;
    size_t n;
    assert_int_equal(tasker_list_tasks(t, &v, &n), TASKER_OK);
    tasker_free_tasks(v, n);
    return n;
}

static size_t count_schedules(tasker_t *t)
{
    tasker_task_scheme *v;
    size_t n;
    assert_int_equal(tasker_list_schemes(t, &v, &n), TASKER_OK);
    tasker_free_schemes(v, n);
    return n;
}

static void defines_all(void **state)
{
    (void)state;
    tasker_t *t = open_store("all");
    static tasker_task_def tv[N];
    static tasker_schedule_def sv[N];
    fill(tv, sv);
    assert_int_equal(tasker_define(t, tv, N, sv, N), TASKER_OK);
    assert_int_equal(count_tasks(t), N);
    assert_int_equal(count_schedules(t), N);
    /* again: tasks replaced, schedules (same task and expression) kept, none doubled */
    assert_int_equal(tasker_define(t, tv, N, sv, N), TASKER_OK);
    assert_int_equal(count_schedules(t), N);
    tasker_task_scheme *v;
    size_t n;
    assert_int_equal(tasker_list_schemes(t, &v, &n), TASKER_OK);
    assert_int_equal(v[0].misfire, TASKER_MISFIRE_SKIP);
    assert_string_equal(v[0].cron, "*/5 * * * *");
    tasker_free_schemes(v, n);
    tasker_close(t);
}

static void bad_cron_stores_nothing(void **state)
{
    (void)state;
    tasker_t *t = open_store("badcron");
    static tasker_task_def tv[N];
    static tasker_schedule_def sv[N];
    fill(tv, sv);
    sv[211].cron = "61 * * * *";
    assert_int_equal(tasker_define(t, tv, N, sv, N), TASKER_EINVAL);
    assert_non_null(strstr(tasker_last_error(), "schedules[211] (task 'd-211')"));
    assert_int_equal(count_tasks(t), 0);
    assert_int_equal(count_schedules(t), 0);
    tasker_close(t);
}

static void bad_task_stores_nothing(void **state)
{
    (void)state;
    tasker_t *t = open_store("badtask");
    static tasker_task_def tv[N];
    static tasker_schedule_def sv[N];
    fill(tv, sv);
    tv[17].param_json = "{not json";
    assert_int_equal(tasker_define(t, tv, N, sv, N), TASKER_EINVAL);
    assert_non_null(strstr(tasker_last_error(), "tasks[17] (task 'd-17')"));
    assert_int_equal(count_tasks(t), 0);
    tasker_close(t);
}

/* A schedule naming a task that is neither in the call nor stored: the store refuses
 * it, and the tasks before it in the call are not kept either. */
static void missing_task_stores_nothing(void **state)
{
    (void)state;
    tasker_t *t = open_store("missing");
    static tasker_task_def tv[N];
    static tasker_schedule_def sv[N];
    fill(tv, sv);
    sv[N - 1].task_id = "ghost";
    assert_int_equal(tasker_define(t, tv, N, sv, N), TASKER_ENOTFOUND);
    assert_non_null(strstr(tasker_last_error(), "ghost"));
    assert_int_equal(count_tasks(t), 0);
    assert_int_equal(count_schedules(t), 0);
    /* a stored task may be named without being in the call */
    assert_int_equal(tasker_add_task(t, "ghost", "h", NULL), TASKER_OK);
    assert_int_equal(tasker_define(t, NULL, 0, &sv[N - 1], 1), TASKER_OK);
    assert_int_equal(count_schedules(t), 1);
    tasker_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defines_all),
        cmocka_unit_test(bad_cron_stores_nothing),
        cmocka_unit_test(bad_task_stores_nothing),
        cmocka_unit_test(missing_task_stores_nothing),
    };
    return cmocka_run_group_tests_name("define", tests, NULL, NULL);
}
