/* Durability through the core on SQLite: what tasker_trigger() and tasker_wait() promise
 * is in the file, as another connection sees it, when they return; a second start finds
 * the first one's history; the sync option is accepted through the DSN. */
#include "support/sqlite_fixture.h"
#include "support/testutil.h"
#include "support/tmpdir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *dir;
    char *path;
    char dsn[4200];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = tmpdir_make();
    f->path = tmpdir_join(f->dir, "d.db");
    snprintf(f->dsn, sizeof f->dsn, "sqlite:%s", f->path);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    assert_true(sqlite_fixture_integrity_ok(f->path));
    free(f->path);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static int one_event(tasker_ctx *c)
{
    tasker_event(c, TASKER_NORMAL, "did it");
    return tasker_success(c, "{\"done\": true}");
}

static long long count_where(const char *path, const char *fmt, const char *id)
{
    char sql[512];
    snprintf(sql, sizeof sql, fmt, id);
    return sqlite_fixture_query_int(path, sql);
}

static void trigger_returns_with_the_pending_row_committed(void **state)
{
    fixture *f = *state;
    tasker_options o = {.workers = -1}; /* no workers here: the run stays pending */
    tasker_t *t = tasker_open_opts(f->dsn, &o);
    assert_non_null(t);
    assert_int_equal(tasker_add_task(t, "job", "h", "{\"secret\": 1}"), TASKER_OK);
    char id[TASKER_ID_SIZE];
    for (int i = 0; i < 20; i++) {
        assert_int_equal(tasker_trigger(t, "job", id), TASKER_OK);
        /* Another connection, as another process would, sees it at once. */
        assert_int_equal(count_where(f->path,
                                     "SELECT count(*) FROM execs WHERE exec_id = '%s'"
                                     " AND status = 0", id),
                         1);
    }
    tasker_close(t);
}

static void wait_returns_with_outcome_and_events_committed(void **state)
{
    fixture *f = *state;
    tasker_options o = {.workers = 2};
    tasker_t *t = tasker_open_opts(f->dsn, &o);
    assert_non_null(t);
    assert_int_equal(tasker_register(t, "one", one_event, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "job", "one", NULL), TASKER_OK);
    for (int i = 0; i < 20; i++) {
        char id[TASKER_ID_SIZE];
        assert_int_equal(tasker_trigger(t, "job", id), TASKER_OK);
        assert_int_equal(tasker_wait(t, id, 10000), TASKER_OK);
        assert_int_equal(count_where(f->path,
                                     "SELECT count(*) FROM execs WHERE exec_id = '%s'"
                                     " AND status = 2 AND result = '{\"done\": true}'"
                                     " AND start_us > 0 AND end_us > 0",
                                     id),
                         1);
        assert_int_equal(count_where(f->path,
                                     "SELECT count(*) FROM events WHERE exec_id = '%s'"
                                     " AND message = 'did it'", id),
                         1);
    }
    tasker_close(t);
}

static void second_start_finds_the_first_ones_runs(void **state)
{
    fixture *f = *state;
    char first[TASKER_ID_SIZE];
    for (int start = 0; start < 2; start++) {
        tasker_t *t = tasker_open(f->dsn);
        assert_non_null(t);
        assert_int_equal(tasker_register(t, "one", one_event, NULL), TASKER_OK);
        /* Declared at every start, as programs do. */
        assert_int_equal(tasker_add_task(t, "job", "one", "{}"), TASKER_OK);
        char id[TASKER_ID_SIZE];
        assert_int_equal(tasker_trigger(t, "job", id), TASKER_OK);
        assert_int_equal(tasker_wait(t, id, 10000), TASKER_OK);
        if (start == 0) memcpy(first, id, sizeof first);
        tasker_task_exec *v;
        size_t n;
        assert_int_equal(tasker_list_execs(t, "job", &v, &n), TASKER_OK);
        assert_int_equal(n, (size_t)start + 1);
        assert_string_equal(v[n - 1].exec_id, first);
        assert_int_equal(v[n - 1].status, TASKER_EXEC_SUCCESS);
        tasker_free_execs(v, n);
        tasker_task_event *ev;
        assert_int_equal(tasker_list_events(t, first, &ev, &n), TASKER_OK);
        assert_int_equal(n, 1);
        tasker_free_events(ev, n);
        tasker_close(t);
    }
}

static void sync_full_through_the_dsn_runs_and_keeps(void **state)
{
    fixture *f = *state;
    char dsn[4300];
    snprintf(dsn, sizeof dsn, "%s?sync=full&busy_timeout_ms=2000", f->dsn);
    tasker_t *t = tasker_open(dsn);
    assert_non_null(t);
    assert_int_equal(tasker_register(t, "one", one_event, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "job", "one", "{}"), TASKER_OK);
    char id[TASKER_ID_SIZE];
    assert_int_equal(tasker_trigger(t, "job", id), TASKER_OK);
    assert_int_equal(tasker_wait(t, id, 10000), TASKER_OK);
    tasker_close(t);
    assert_int_equal(count_where(f->path,
                                 "SELECT count(*) FROM execs WHERE exec_id = '%s'"
                                 " AND status = 2", id),
                     1);
    snprintf(dsn, sizeof dsn, "%s?sync=maybe", f->dsn);
    assert_null(tasker_open(dsn));
    assert_non_null(strstr(tasker_last_error(), "sync"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(trigger_returns_with_the_pending_row_committed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(wait_returns_with_outcome_and_events_committed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(second_start_finds_the_first_ones_runs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(sync_full_through_the_dsn_runs_and_keeps, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
