/* The SQLite driver on its own: the file it creates, its options, durability across a
 * reopen, the group commit under concurrent writers, retention, and query plans. The
 * storage contract itself is checked by test_storage_sqlite.c (the conformance suite). */
#include "support/sqlite_fixture.h"
#include "support/tmpdir.h"
#include "support/testutil.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "storage/sqlite/internal.h"

typedef struct {
    char *dir;
    char *path;
    tasker_storage *st;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = tmpdir_make();
    f->path = tmpdir_join(f->dir, "t.db");
    f->st = sqlite_fixture_open(f->path, NULL);
    if (!f->st) {
        fprintf(stderr, "open: %s\n", tasker_last_error());
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->st) f->st->ops->close(f->st);
    assert_true(sqlite_fixture_integrity_ok(f->path));
    free(f->path);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static void reopen(fixture *f, const char *options)
{
    f->st->ops->close(f->st);
    f->st = sqlite_fixture_open(f->path, options);
    assert_non_null(f->st);
}

static int file_mode(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) return -1;
    return (int)(sb.st_mode & 0777);
}

static void new_file_and_its_wal_are_private_to_the_owner(void **state)
{
    fixture *f = *state;
    assert_int_equal(sqlite_fixture_add_task(f->st, "a"), TASKER_OK);
    char wal[4200], shm[4200];
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    snprintf(shm, sizeof shm, "%s-shm", f->path);
    assert_int_equal(file_mode(f->path), 0600);
    assert_int_equal(file_mode(wal), 0600);
    assert_int_equal(file_mode(shm), 0600);
    assert_int_equal(sqlite_fixture_query_int(f->path, "PRAGMA user_version"),
                     SQ_SCHEMA_VERSION);
}

static void options_set_sync_and_busy_timeout(void **state)
{
    fixture *f = *state;
    sq_store *s = (sq_store *)f->st;
    assert_int_equal(s->sync_full, 0);
    assert_int_equal(s->busy_timeout_ms, SQ_DEFAULT_BUSY_TIMEOUT_MS);
    reopen(f, "sync=full&busy_timeout_ms=250");
    s = (sq_store *)f->st;
    assert_int_equal(s->sync_full, 1);
    assert_int_equal(s->busy_timeout_ms, 250);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(s->wdb, "PRAGMA synchronous", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 2); /* FULL */
    sqlite3_finalize(st);
}

static void bad_options_are_einval_naming_the_option(void **state)
{
    fixture *f = *state;
    const char *bad[] = {"sync=sometimes", "busy_timeout_ms=soon", "busy_timeout_ms=-1",
                         "color=blue", "sync"};
    const char *named[] = {"sync", "busy_timeout_ms", "busy_timeout_ms", "color", "sync"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char dsn[4200];
        snprintf(dsn, sizeof dsn, "%s?%s", f->path, bad[i]);
        assert_null(tasker_sqlite_storage(dsn));
        assert_non_null(strstr(tasker_last_error(), named[i]));
    }
    assert_null(tasker_sqlite_storage(""));
    assert_null(tasker_sqlite_storage("?sync=full"));
}

static void writes_survive_close_and_reopen(void **state)
{
    fixture *f = *state;
    tasker_storage *st = f->st;
    assert_int_equal(sqlite_fixture_add_task(st, "t"), TASKER_OK);
    assert_int_equal(sqlite_fixture_add_exec(st, "e1", "t", 1000), TASKER_OK);
    assert_int_equal(st->ops->start_task_exec(st, "e1", 2000, "node-a"), TASKER_OK);
    tasker_task_event ev = {.exec_id = "e1", .time_us = 2500, .level = TASKER_WARNING,
                            .message = "half way"};
    assert_int_equal(st->ops->add_task_event(st, &ev), TASKER_OK);
    tasker_task_exec done = {.exec_id = "e1", .status = TASKER_EXEC_SUCCESS,
                             .end_us = 3000, .success = true, .result = "{\"n\":1}"};
    assert_int_equal(st->ops->update_task_exec(st, &done), TASKER_OK);
    reopen(f, NULL);
    st = f->st;

    tasker_task_exec e;
    assert_int_equal(st->ops->get_task_exec(st, "e1", &e), TASKER_OK);
    assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
    assert_int_equal(e.start_us, 2000);
    assert_int_equal(e.end_us, 3000);
    assert_true(e.success);
    assert_string_equal(e.result, "{\"n\":1}");
    assert_string_equal(e.node_id, "node-a");
    tasker_exec_clear(&e);
    tasker_task_event *evs;
    size_t n;
    assert_int_equal(st->ops->list_task_events(st, "e1", &evs, &n), TASKER_OK);
    assert_int_equal(n, 1);
    assert_string_equal(evs[0].message, "half way");
    assert_int_equal(evs[0].level, TASKER_WARNING);
    tasker_free_events(evs, n);
}

/* ---- group commit ---------------------------------------------------------------- */

#define WRITERS 8
#define PER_WRITER 200

typedef struct {
    tasker_storage *st;
    int writer;
    int failures_expected, failures_seen, wrong_codes;
} writer_arg;

/* Each writer adds its executions, and every fifth time adds one again: the duplicate
 * must fail alone, with EEXISTS, while the batch it shared commits. */
static void *writer_main(void *p)
{
    writer_arg *a = p;
    char id[64];
    for (int i = 0; i < PER_WRITER; i++) {
        snprintf(id, sizeof id, "w%d-%04d", a->writer, i);
        if (sqlite_fixture_add_exec(a->st, id, "t", 1000 + i) != TASKER_OK) a->wrong_codes++;
        tasker_task_event ev = {.exec_id = id, .time_us = 1, .message = "m"};
        if (a->st->ops->add_task_event(a->st, &ev) != TASKER_OK) a->wrong_codes++;
        if (i % 5 == 0) {
            a->failures_expected++;
            int rc = sqlite_fixture_add_exec(a->st, id, "t", 1000 + i);
            if (rc != TASKER_OK) a->failures_seen++;
            if (rc != TASKER_EEXISTS || !strstr(tasker_last_error(), id)) a->wrong_codes++;
        }
    }
    return NULL;
}

static void concurrent_writers_each_get_their_own_result(void **state)
{
    fixture *f = *state;
    f->st->env.max_execs_per_task = -1;
    assert_int_equal(sqlite_fixture_add_task(f->st, "t"), TASKER_OK);
    pthread_t th[WRITERS];
    writer_arg args[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        args[i] = (writer_arg){.st = f->st, .writer = i};
        assert_int_equal(pthread_create(&th[i], NULL, writer_main, &args[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) pthread_join(th[i], NULL);
    /* An event is answered before its commit; a write answered after its commit, queued
     * after them all, makes them visible to the other connection below. */
    assert_int_equal(sqlite_fixture_add_task(f->st, "after"), TASKER_OK);
    for (int i = 0; i < WRITERS; i++) {
        assert_int_equal(args[i].wrong_codes, 0);
        assert_int_equal(args[i].failures_seen, args[i].failures_expected);
    }
    assert_int_equal(sqlite_fixture_query_int(f->path, "SELECT count(*) FROM execs"),
                     WRITERS * PER_WRITER);
    assert_int_equal(sqlite_fixture_query_int(f->path, "SELECT count(*) FROM events"),
                     WRITERS * PER_WRITER);
}

typedef struct {
    tasker_storage *st;
    int rc;
} starter_arg;

static void *starter_main(void *p)
{
    starter_arg *a = p;
    a->rc = a->st->ops->start_task_exec(a->st, "e", 5, "n");
    return NULL;
}

static void racing_starts_let_exactly_one_win(void **state)
{
    fixture *f = *state;
    assert_int_equal(sqlite_fixture_add_task(f->st, "t"), TASKER_OK);
    assert_int_equal(sqlite_fixture_add_exec(f->st, "e", "t", 1), TASKER_OK);
    pthread_t th[6];
    starter_arg args[6];
    for (int i = 0; i < 6; i++) {
        args[i] = (starter_arg){.st = f->st};
        pthread_create(&th[i], NULL, starter_main, &args[i]);
    }
    int won = 0, lost = 0;
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        if (args[i].rc == TASKER_OK) won++;
        if (args[i].rc == TASKER_ESTATE) lost++;
    }
    assert_int_equal(won, 1);
    assert_int_equal(lost, 5);
}

/* ---- retention ------------------------------------------------------------------- */

static void finish(tasker_storage *st, const char *exec_id)
{
    tasker_task_exec done = {.exec_id = (char *)exec_id, .status = TASKER_EXEC_SUCCESS,
                             .end_us = 1, .success = true};
    assert_int_equal(st->ops->update_task_exec(st, &done), TASKER_OK);
}

static void retention_keeps_newest_and_pending_and_drops_old_events(void **state)
{
    fixture *f = *state;
    tasker_storage *st = f->st;
    st->env.max_execs_per_task = 3;
    st->env.max_exec_age_s = -1; /* the queued times below are in 1970 */
    assert_int_equal(sqlite_fixture_add_task(st, "t"), TASKER_OK);
    char id[16];
    for (int i = 0; i < 8; i++) {
        snprintf(id, sizeof id, "e%d", i);
        assert_int_equal(sqlite_fixture_add_exec(st, id, "t", 100 + i), TASKER_OK);
        tasker_task_event ev = {.exec_id = id, .time_us = 1, .message = "m"};
        assert_int_equal(st->ops->add_task_event(st, &ev), TASKER_OK);
        if (i != 1) finish(st, id); /* e1 stays pending */
    }
    tasker_task_exec *v;
    size_t n;
    assert_int_equal(st->ops->list_task_execs(st, "t", 0, &v, &n), TASKER_OK);
    /* The newest three, and e1: pending executions are never pruned. */
    assert_int_equal(n, 4);
    assert_string_equal(v[0].exec_id, "e7");
    assert_string_equal(v[1].exec_id, "e6");
    assert_string_equal(v[2].exec_id, "e5");
    assert_string_equal(v[3].exec_id, "e1");
    tasker_free_execs(v, n);
    assert_int_equal(sqlite_fixture_query_int(f->path, "SELECT count(*) FROM events"), 4);
}

static void retention_by_age_uses_the_injected_clock(void **state)
{
    fixture *f = *state;
    tasker_storage *st = f->st;
    fake_clock clock;
    fake_clock_set(&clock, 10000000000);
    st->env.clock = fake_clock_read;
    st->env.clock_udata = &clock;
    st->env.max_exec_age_s = 60;
    assert_int_equal(sqlite_fixture_add_task(st, "t"), TASKER_OK);
    assert_int_equal(sqlite_fixture_add_task(st, "quiet"), TASKER_OK);
    assert_int_equal(sqlite_fixture_add_exec(st, "q1", "quiet", fake_clock_read(&clock)), TASKER_OK);
    finish(st, "q1");
    assert_int_equal(sqlite_fixture_add_exec(st, "old", "t", fake_clock_read(&clock)), TASKER_OK);
    finish(st, "old");
    fake_clock_advance(&clock, 61 * 1000000LL);
    assert_int_equal(sqlite_fixture_add_exec(st, "new", "t", fake_clock_read(&clock)), TASKER_OK);
    tasker_task_exec e;
    assert_int_equal(st->ops->get_task_exec(st, "old", &e), TASKER_ENOTFOUND);
    assert_int_equal(st->ops->get_task_exec(st, "new", &e), TASKER_OK);
    tasker_exec_clear(&e);
    /* The other task's old execution went in the sweep over all tasks. */
    assert_int_equal(st->ops->get_task_exec(st, "q1", &e), TASKER_ENOTFOUND);
}

static void huge_max_age_is_no_limit_and_does_not_overflow(void **state)
{
    fixture *f = *state;
    tasker_storage *st = f->st;
    st->env.max_exec_age_s = INT64_MAX / 2;
    assert_int_equal(sqlite_fixture_add_task(st, "t"), TASKER_OK);
    assert_int_equal(sqlite_fixture_add_exec(st, "ancient", "t", 1), TASKER_OK);
    finish(st, "ancient");
    assert_int_equal(sqlite_fixture_add_exec(st, "new", "t", sqlite_fixture_now_us()),
                     TASKER_OK);
    tasker_task_exec e;
    assert_int_equal(st->ops->get_task_exec(st, "ancient", &e), TASKER_OK);
    tasker_exec_clear(&e);
}

/* ---- plans ----------------------------------------------------------------------- */

/* Every statement finds its rows through an index: no full scan of executions or
 * events, and no sort (a sort means the order came from no index) unless allow_sort. */
static void check_plan_sorting(sqlite3 *db, const char *sql, bool allow_sort)
{
    char eqp[2048];
    snprintf(eqp, sizeof eqp, "EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, eqp, -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *detail = (const char *)sqlite3_column_text(st, 3);
        bool bad = (!allow_sort && strstr(detail, "TEMP B-TREE")) ||
                   ((strstr(detail, "SCAN execs") || strstr(detail, "SCAN events")) &&
                    !strstr(detail, "USING"));
        if (bad) fprintf(stderr, "plan of '%s': %s\n", sql, detail);
        assert_false(bad);
    }
    sqlite3_finalize(st);
}

static void check_plan(sqlite3 *db, const char *sql)
{
    check_plan_sorting(db, sql, false);
}

static void every_statement_uses_an_index(void **state)
{
    fixture *f = *state;
    sq_store *s = (sq_store *)f->st;
    for (int i = 0; i < R_COUNT; i++)
        if (i != R_RUNNING_NODES && i != R_LIST_PENDING) check_plan(s->wdb, sq_read_sql[i]);
    /* The pending runs, oldest first, are sorted from the queue index (claim order):
     * since version 7 no index keeps them by age, which would cost every run three
     * index writes for a listing the claims do not use. The sort covers only them. */
    check_plan_sorting(s->wdb, sq_read_sql[R_LIST_PENDING], true);
    for (int i = W_ADD_TASK; i < W_COUNT; i++) check_plan(s->wdb, sq_write_sql[i]);
}

/* ---- interrupt_dead -------------------------------------------------------------- */

static bool alive_unless_dead(const char *node_id, void *udata)
{
    (void)udata;
    return strcmp(node_id, "dead") != 0;
}

static void interrupt_dead_marks_only_dead_nodes_runs(void **state)
{
    fixture *f = *state;
    tasker_storage *st = f->st;
    assert_int_equal(sqlite_fixture_add_task(st, "t"), TASKER_OK);
    assert_int_equal(sqlite_fixture_add_exec(st, "a", "t", 1), TASKER_OK);
    assert_int_equal(sqlite_fixture_add_exec(st, "b", "t", 2), TASKER_OK);
    assert_int_equal(sqlite_fixture_add_exec(st, "c", "t", 3), TASKER_OK);
    assert_int_equal(st->ops->start_task_exec(st, "a", 10, "dead"), TASKER_OK);
    assert_int_equal(st->ops->start_task_exec(st, "b", 10, "live"), TASKER_OK);
    size_t n = 99;
    assert_int_equal(st->ops->interrupt_dead(st, alive_unless_dead, NULL, &n), TASKER_OK);
    assert_int_equal(n, 1);
    tasker_task_exec e;
    assert_int_equal(st->ops->get_task_exec(st, "a", &e), TASKER_OK);
    assert_int_equal(e.status, TASKER_EXEC_INTERRUPTED);
    assert_true(e.end_us > 0);
    assert_string_equal(e.error, "interrupted: node dead stopped");
    tasker_exec_clear(&e);
    assert_int_equal(st->ops->get_task_exec(st, "b", &e), TASKER_OK);
    assert_int_equal(e.status, TASKER_EXEC_RUNNING);
    tasker_exec_clear(&e);
    assert_int_equal(st->ops->get_task_exec(st, "c", &e), TASKER_OK);
    assert_int_equal(e.status, TASKER_EXEC_PENDING);
    tasker_exec_clear(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(new_file_and_its_wal_are_private_to_the_owner, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(options_set_sync_and_busy_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_options_are_einval_naming_the_option, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(writes_survive_close_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_writers_each_get_their_own_result, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(racing_starts_let_exactly_one_win, setup, teardown),
        cmocka_unit_test_setup_teardown(retention_keeps_newest_and_pending_and_drops_old_events,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(retention_by_age_uses_the_injected_clock, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(huge_max_age_is_no_limit_and_does_not_overflow, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(every_statement_uses_an_index, setup, teardown),
        cmocka_unit_test_setup_teardown(interrupt_dead_marks_only_dead_nodes_runs, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
