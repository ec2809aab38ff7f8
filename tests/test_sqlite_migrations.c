/* The SQLite driver's schema versions: a new file gets the latest, an older file is
 * upgraded with its rows kept, a newer file is refused without being touched, and two
 * openers of a new file migrate it once. */
#include "support/sqlite_fixture.h"
#include "support/tmpdir.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "storage/sqlite/internal.h"

typedef tmpfile_fixture fixture;

static void exec_sql(const char *path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK) fprintf(stderr, "%s: %s\n", sql, err);
    sqlite3_free(err);
    sqlite3_close(db);
    assert_int_equal(rc, SQLITE_OK);
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    *len = (size_t)ftell(fp);
    rewind(fp);
    unsigned char *buf = malloc(*len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, *len, fp), *len);
    fclose(fp);
    return buf;
}

static void new_file_gets_the_latest_version(void **state)
{
    fixture *f = *state;
    tasker_storage *st = sqlite_fixture_open(f->path, NULL);
    assert_non_null(st);
    st->ops->close(st);
    assert_int_equal(sqlite_fixture_query_int(f->path, "PRAGMA user_version"),
                     SQ_SCHEMA_VERSION);
}

static void version_1_file_is_upgraded_keeping_its_rows(void **state)
{
    fixture *f = *state;
    tasker_storage *old = sq_open_version(f->path, 1);
    assert_non_null(old);
    old->ops->close(old);
    assert_int_equal(sqlite_fixture_query_int(f->path, "PRAGMA user_version"), 1);
    exec_sql(f->path,
             "INSERT INTO tasks VALUES ('t', 'h', '{\"a\":1}', 'kept');"
             "INSERT INTO schemes VALUES ('s1', 't', '* * * * *', 42);"
             "INSERT INTO execs VALUES ('e1', 't', NULL, 0, 7, 8, 9, 2, 1, 'null', NULL);");

    tasker_storage *st = sqlite_fixture_open(f->path, NULL);
    assert_non_null(st);
    assert_int_equal(sqlite_fixture_query_int(f->path, "PRAGMA user_version"),
                     SQ_SCHEMA_VERSION);
    tasker_task t;
    assert_int_equal(st->ops->get_task(st, "t", &t), TASKER_OK);
    assert_string_equal(t.desc, "kept");
    assert_string_equal(t.param, "{\"a\":1}");
    tasker_task_clear(&t);
    tasker_task_scheme *sc;
    size_t n;
    assert_int_equal(st->ops->list_task_schemes(st, &sc, &n), TASKER_OK);
    assert_int_equal(n, 1);
    assert_int_equal(sc[0].created_us, 42);
    assert_int_equal(sc[0].misfire, TASKER_MISFIRE_ONCE);
    assert_int_equal(sc[0].last_fire_us, 0);
    tasker_free_schemes(sc, n);
    tasker_task_exec e;
    assert_int_equal(st->ops->get_task_exec(st, "e1", &e), TASKER_OK);
    assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
    assert_null(e.node_id);
    tasker_exec_clear(&e);
    /* The new columns work. */
    assert_int_equal(st->ops->set_scheme_fire(st, "s1", 100), TASKER_OK);
    st->ops->close(st);
    assert_int_equal(sqlite_fixture_query_int(f->path, "SELECT last_fire_us FROM schemes"),
                     100);
    assert_true(sqlite_fixture_integrity_ok(f->path));
}

/* A file of the release before task policies (schema 2): upgraded to 3 with its rows,
 * every task's policies at 0 (the defaults), and the new columns usable. */
static void version_2_file_is_upgraded_to_task_policies_keeping_its_rows(void **state)
{
    fixture *f = *state;
    tasker_storage *old = sq_open_version(f->path, 2);
    assert_non_null(old);
    old->ops->close(old);
    assert_int_equal(sqlite_fixture_query_int(f->path, "PRAGMA user_version"), 2);
    exec_sql(f->path,
             "INSERT INTO tasks VALUES ('t', 'h', '{\"a\":1}', 'kept');"
             "INSERT INTO schemes VALUES ('s1', 't', '0 3 * * *', 42, 1, 0, 77);"
             "INSERT INTO execs VALUES ('e1', 't', NULL, 0, 7, 8, 9, 2, 1, 'null', NULL,"
             " 'host:1');"
             "INSERT INTO events(exec_id, time_us, level, message) VALUES ('e1', 8, 1, 'hi');");

    tasker_storage *st = sqlite_fixture_open(f->path, NULL);
    assert_non_null(st);
    assert_int_equal(sqlite_fixture_query_int(f->path, "PRAGMA user_version"),
                     SQ_SCHEMA_VERSION);
    tasker_task t;
    assert_int_equal(st->ops->get_task(st, "t", &t), TASKER_OK);
    assert_string_equal(t.desc, "kept");
    assert_string_equal(t.param, "{\"a\":1}");
    assert_int_equal(t.max_execs, 0);
    assert_int_equal(t.max_exec_age_s, 0);
    assert_int_equal(t.max_attempts, 0);
    assert_false(t.paused);
    tasker_task_clear(&t);
    tasker_task_scheme *sc;
    size_t n;
    assert_int_equal(st->ops->list_task_schemes(st, &sc, &n), TASKER_OK);
    assert_int_equal(n, 1);
    assert_int_equal(sc[0].misfire, TASKER_MISFIRE_SKIP);
    assert_int_equal(sc[0].last_fire_us, 77);
    tasker_free_schemes(sc, n);
    tasker_task_exec e;
    assert_int_equal(st->ops->get_task_exec(st, "e1", &e), TASKER_OK);
    assert_string_equal(e.node_id, "host:1");
    tasker_exec_clear(&e);
    tasker_task_event *ev;
    assert_int_equal(st->ops->list_task_events(st, "e1", &ev, &n), TASKER_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ev[0].message, "hi");
    tasker_free_events(ev, n);
    /* The new columns work: a task with its own retention. */
    tasker_task with = {.task_id = "t", .handler = "h", .param = "{}", .max_execs = 5,
                        .max_exec_age_s = 86400};
    assert_int_equal(st->ops->add_task(st, &with), TASKER_OK);
    st->ops->close(st);
    assert_int_equal(sqlite_fixture_query_int(f->path, "SELECT max_execs FROM tasks"), 5);
    assert_int_equal(sqlite_fixture_query_int(f->path, "SELECT max_exec_age_s FROM tasks"),
                     86400);
    assert_true(sqlite_fixture_integrity_ok(f->path));
}

/* A file of the release before the job lifecycle (schema 4): upgraded to 5 with its rows;
 * old executions read as attempt 1, due at once, no params or key; schedules unpaused;
 * and the unique index holds keys of pending runs only. */
static void version_4_file_is_upgraded_to_the_job_lifecycle_keeping_its_rows(void **state)
{
    fixture *f = *state;
    tasker_storage *old = sq_open_version(f->path, 4);
    assert_non_null(old);
    old->ops->close(old);
    assert_int_equal(sqlite_fixture_query_int(f->path, "PRAGMA user_version"), 4);
    exec_sql(f->path,
             "INSERT INTO tasks(task_id, handler, param, description) VALUES"
             " ('t', 'h', '{\"a\":1}', 'kept');"
             "INSERT INTO schemes(scheme_id, task_id, cron, created_us, last_fire_us) VALUES"
             " ('s1', 't', '0 3 * * *', 42, 77);"
             "INSERT INTO execs(exec_id, task_id, scheme_id, scheduled_us, queued_us, start_us,"
             " end_us, status, success, result, error, node_id) VALUES"
             " ('e1', 't', NULL, 0, 7, 0, 0, 0, 0, NULL, NULL, NULL);");

    tasker_storage *st = sqlite_fixture_open(f->path, NULL);
    assert_non_null(st);
    assert_int_equal(sqlite_fixture_query_int(f->path, "PRAGMA user_version"),
                     SQ_SCHEMA_VERSION);
    tasker_task_exec e;
    assert_int_equal(st->ops->get_task_exec(st, "e1", &e), TASKER_OK);
    assert_int_equal(e.status, TASKER_EXEC_PENDING);
    assert_int_equal(e.attempt, 1);
    assert_int_equal(e.run_at_us, 0);
    assert_null(e.param);
    assert_null(e.unique_key);
    assert_null(e.retry_of);
    tasker_exec_clear(&e);
    tasker_task_scheme *sc;
    size_t n;
    assert_int_equal(st->ops->list_task_schemes(st, &sc, &n), TASKER_OK);
    assert_int_equal(n, 1);
    assert_false(sc[0].paused);
    assert_int_equal(sc[0].last_fire_us, 77);
    tasker_free_schemes(sc, n);
    /* The new columns work: two pending runs cannot share a key; a finished one frees it. */
    tasker_task_exec k1 = {.exec_id = "k1", .task_id = "t", .queued_us = 8, .attempt = 1,
                           .unique_key = "K", .param = "[1]", .status = TASKER_EXEC_PENDING};
    tasker_task_exec k2 = k1;
    k2.exec_id = "k2";
    assert_int_equal(st->ops->add_task_exec(st, &k1), TASKER_OK);
    assert_int_equal(st->ops->add_task_exec(st, &k2), TASKER_EEXISTS);
    tasker_task_exec done = {.exec_id = "k1", .status = TASKER_EXEC_SUCCESS, .end_us = 9,
                             .success = true};
    assert_int_equal(st->ops->update_task_exec(st, &done), TASKER_OK);
    assert_int_equal(st->ops->add_task_exec(st, &k2), TASKER_OK);
    assert_int_equal(st->ops->get_task_exec(st, "k2", &e), TASKER_OK);
    assert_string_equal(e.param, "[1]");
    assert_string_equal(e.unique_key, "K");
    tasker_exec_clear(&e);
    st->ops->close(st);
    assert_true(sqlite_fixture_integrity_ok(f->path));
}

/* Version 7: a run's own timeout, and execs_active dropped. A version 6 file (the
 * lifecycle's first release) keeps its runs, which read 0 (their task's timeout); new
 * runs store theirs, and a retry inherits it. */
static void version_6_file_is_upgraded_to_run_timeouts_keeping_its_rows(void **state)
{
    fixture *f = *state;
    tasker_storage *old = sq_open_version(f->path, 6);
    assert_non_null(old);
    old->ops->close(old);
    assert_int_equal(sqlite_fixture_query_int(f->path, "PRAGMA user_version"), 6);
    exec_sql(f->path,
             "INSERT INTO tasks(task_id, handler, param, description, max_attempts) VALUES"
             " ('t', 'h', 'null', NULL, 2);"
             "INSERT INTO execs(exec_id, task_id, scheme_id, scheduled_us, queued_us, start_us,"
             " end_us, status, success, result, error, node_id, attempt, run_at_us, param)"
             " VALUES ('e6', 't', NULL, 0, 7, 0, 0, 0, 0, NULL, NULL, NULL, 1, 99, '[6]');");

    tasker_storage *st = sqlite_fixture_open(f->path, NULL);
    assert_non_null(st);
    assert_int_equal(sqlite_fixture_query_int(f->path, "PRAGMA user_version"), SQ_SCHEMA_VERSION);
    /* The pending and running runs have indexes of their own since version 5. */
    assert_int_equal(sqlite_fixture_query_int(f->path, "SELECT COUNT(*) FROM sqlite_master"
                                                       " WHERE name = 'execs_active'"),
                     0);
    tasker_task_exec e;
    assert_int_equal(st->ops->get_task_exec(st, "e6", &e), TASKER_OK);
    assert_int_equal(e.status, TASKER_EXEC_PENDING);
    assert_int_equal(e.run_at_us, 99);
    assert_string_equal(e.param, "[6]");
    assert_int_equal(e.timeout_ms, 0);
    tasker_exec_clear(&e);

    tasker_task_exec r = {.exec_id = "r1",
                          .task_id = "t",
                          .queued_us = 8,
                          .attempt = 1,
                          .status = TASKER_EXEC_PENDING,
                          .timeout_ms = 250};
    assert_int_equal(st->ops->add_task_exec(st, &r), TASKER_OK);
    assert_int_equal(st->ops->get_task_exec(st, "r1", &e), TASKER_OK);
    assert_int_equal(e.timeout_ms, 250);
    tasker_exec_clear(&e);
    assert_int_equal(st->ops->start_task_exec(st, "r1", 9, "n"), TASKER_OK);
    tasker_task_exec failed = {.exec_id = "r1",
                               .status = TASKER_EXEC_FAILED,
                               .end_us = 10,
                               .error = "timed out after 250 ms"};
    assert_int_equal(st->ops->update_task_exec(st, &failed), TASKER_OK);
    assert_int_equal(st->ops->get_task_exec(st, "r1.2", &e), TASKER_OK);
    assert_int_equal(e.attempt, 2);
    assert_int_equal(e.timeout_ms, 250);
    tasker_exec_clear(&e);
    st->ops->close(st);
    assert_true(sqlite_fixture_integrity_ok(f->path));
}

static void newer_file_is_refused_and_left_alone(void **state)
{
    fixture *f = *state;
    exec_sql(f->path, "CREATE TABLE future(x); PRAGMA user_version = 99;");
    size_t before_len, after_len;
    unsigned char *before = read_file(f->path, &before_len);
    assert_null(sqlite_fixture_open(f->path, NULL));
    unsigned char *after = read_file(f->path, &after_len);
    assert_int_equal(after_len, before_len);
    assert_memory_equal(after, before, before_len); /* not even switched to WAL */
    free(before);
    free(after);
    const char *msg = tasker_last_error();
    assert_non_null(strstr(msg, f->path));
    assert_non_null(strstr(msg, "99"));
    assert_non_null(strstr(msg, "newer"));
    assert_int_equal(sqlite_fixture_query_int(f->path, "PRAGMA user_version"), 99);
    assert_int_equal(sqlite_fixture_query_int(
                         f->path, "SELECT count(*) FROM sqlite_schema WHERE name = 'tasks'"),
                     0);
}

/* Another application's file, even one with a "tasks" table, is refused before
 * anything changes it: same bytes, still in its rollback-journal mode (bytes 18 and 19
 * of the header are 2 in WAL mode, 1 otherwise), no journal of ours beside it. */
static void foreign_database_with_clashing_table_is_refused_untouched(void **state)
{
    fixture *f = *state;
    exec_sql(f->path, "CREATE TABLE tasks(other_app TEXT); INSERT INTO tasks VALUES ('x');");
    size_t before_len, after_len;
    unsigned char *before = read_file(f->path, &before_len);
    assert_int_equal(before[18], 1);

    assert_null(sqlite_fixture_open(f->path, NULL));
    const char *msg = tasker_last_error();
    assert_non_null(strstr(msg, f->path));
    assert_non_null(strstr(msg, "another application"));

    unsigned char *after = read_file(f->path, &after_len);
    assert_int_equal(after_len, before_len);
    assert_memory_equal(after, before, before_len);
    assert_int_equal(after[18], 1);
    assert_int_equal(after[19], 1);
    char *wal = tmpdir_join(f->dir, "t.db-wal");
    assert_int_not_equal(access(wal, F_OK), 0);
    free(wal);
    free(before);
    free(after);

    /* A file claiming a schema version without our tables is foreign too. */
    exec_sql(f->path, "PRAGMA user_version = 1;");
    before = read_file(f->path, &before_len);
    assert_null(sqlite_fixture_open(f->path, NULL));
    assert_non_null(strstr(tasker_last_error(), "another application"));
    after = read_file(f->path, &after_len);
    assert_int_equal(after_len, before_len);
    assert_memory_equal(after, before, before_len);
    free(before);
    free(after);
}

static void *open_and_close(void *path)
{
    tasker_storage *st = sqlite_fixture_open(path, NULL);
    if (st) st->ops->close(st);
    return st ? path : NULL;
}

static void racing_openers_of_a_new_file_both_succeed(void **state)
{
    fixture *f = *state;
    for (int round = 0; round < 5; round++) {
        char name[32];
        snprintf(name, sizeof name, "race%d.db", round);
        char *path = tmpdir_join(f->dir, name);
        pthread_t a, b;
        void *ra, *rb;
        pthread_create(&a, NULL, open_and_close, path);
        pthread_create(&b, NULL, open_and_close, path);
        pthread_join(a, &ra);
        pthread_join(b, &rb);
        assert_non_null(ra);
        assert_non_null(rb);
        assert_int_equal(sqlite_fixture_query_int(path, "PRAGMA user_version"),
                         SQ_SCHEMA_VERSION);
        free(path);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(new_file_gets_the_latest_version, tmpfile_setup,
                                        tmpfile_teardown),
        cmocka_unit_test_setup_teardown(version_1_file_is_upgraded_keeping_its_rows, tmpfile_setup,
                                        tmpfile_teardown),
        cmocka_unit_test_setup_teardown(
            version_2_file_is_upgraded_to_task_policies_keeping_its_rows, tmpfile_setup,
            tmpfile_teardown),
        cmocka_unit_test_setup_teardown(
            version_4_file_is_upgraded_to_the_job_lifecycle_keeping_its_rows, tmpfile_setup,
            tmpfile_teardown),
        cmocka_unit_test_setup_teardown(version_6_file_is_upgraded_to_run_timeouts_keeping_its_rows,
                                        tmpfile_setup, tmpfile_teardown),
        cmocka_unit_test_setup_teardown(newer_file_is_refused_and_left_alone, tmpfile_setup,
                                        tmpfile_teardown),
        cmocka_unit_test_setup_teardown(foreign_database_with_clashing_table_is_refused_untouched,
                                        tmpfile_setup, tmpfile_teardown),
        cmocka_unit_test_setup_teardown(racing_openers_of_a_new_file_both_succeed, tmpfile_setup,
                                        tmpfile_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
