/* The MySQL driver against the private MariaDB server: the storage conformance suite
 * (every open gets a database of its own, so every store starts empty), then what is
 * particular to this driver: the schema and its migrations, group commit, retention
 * through the indexes, the compare-and-set start under a race. */
#include "storage_conformance.h"
#include "support/mariadb.h"

#include <tasker/storage.h>

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static int db_count;

/* The schema version this build migrates to (src/storage/mysql/schema.c). */
#define SCHEMA_LATEST 7

static int64_t real_clock(void *udata)
{
    (void)udata;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A store over a new, empty database. */
static tasker_storage *open_fresh(void *udata)
{
    (void)udata;
    char db[64];
    snprintf(db, sizeof db, "tasker_t%ld_%d", (long)getpid(), ++db_count);
    if (tasker_test_mariadb_fresh_db(db) != 0) {
        fprintf(stderr, "MariaDB test server: %s\n", tasker_test_mariadb_error());
        return NULL;
    }
    char *dsn = tasker_test_mariadb_dsn(db, NULL);
    tasker_storage *st = tasker_mysql_storage(dsn);
    if (!st) fprintf(stderr, "open %s: %s\n", dsn, tasker_last_error());
    free(dsn);
    return st;
}

static tasker_storage *open_with_env(int max_execs, int64_t max_age_s)
{
    tasker_storage *st = open_fresh(NULL);
    assert_non_null(st);
    st->env.max_execs_per_task = max_execs;
    st->env.max_exec_age_s = max_age_s;
    st->env.clock = real_clock;
    return st;
}

static void conformance_suite_passes(void **state)
{
    (void)state;
    assert_int_equal(tasker_storage_conformance("mysql", open_fresh, NULL), 0);
}

static void add_task(tasker_storage *st, const char *id)
{
    tasker_task t = {.task_id = (char *)id, .handler = "h", .param = "{}"};
    assert_int_equal(st->ops->add_task(st, &t), TASKER_OK);
}

static int add_exec(tasker_storage *st, const char *task_id, const char *exec_id,
                    int64_t queued_us, tasker_exec_status status)
{
    tasker_task_exec e = {.exec_id = (char *)exec_id, .task_id = (char *)task_id,
                          .queued_us = queued_us, .status = status};
    return st->ops->add_task_exec(st, &e);
}

static void schema_is_versioned_with_the_expected_indexes(void **state)
{
    (void)state;
    tasker_storage *st = open_with_env(-1, -1);
    char sql[512];
    long long v = 0;
    snprintf(sql, sizeof sql, "SELECT MAX(version) FROM tasker_t%ld_%d.schema_version",
             (long)getpid(), db_count);
    assert_int_equal(tasker_test_mariadb_query_int(sql, &v), 0);
    assert_int_equal(v, SCHEMA_LATEST);
    static const char *const indexes[] = {"exec_occurrence",  "exec_task_newest",
                                          "event_exec_order", "scheme_task_cron",
                                          "exec_task_done",   "exec_unique_holder",
                                          "exec_queue"};
    for (size_t i = 0; i < sizeof indexes / sizeof indexes[0]; i++) {
        snprintf(sql, sizeof sql,
                 "SELECT COUNT(*) FROM information_schema.statistics WHERE "
                 "table_schema = 'tasker_t%ld_%d' AND index_name = '%s'",
                 (long)getpid(), db_count, indexes[i]);
        assert_int_equal(tasker_test_mariadb_query_int(sql, &v), 0);
        if (v < 1) fail_msg("index %s missing", indexes[i]);
    }
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = "
             "'tasker_t%ld_%d' AND engine = 'InnoDB' AND table_collation LIKE 'utf8mb4%%'",
             (long)getpid(), db_count);
    assert_int_equal(tasker_test_mariadb_query_int(sql, &v), 0);
    assert_int_equal(v, 9); /* with nodes (cluster mode), scheme_version (issue 14), exec_unique (schema 7) */
    st->ops->close(st);
}

static void reopening_keeps_data_and_does_not_migrate_again(void **state)
{
    (void)state;
    tasker_storage *st = open_with_env(-1, -1);
    add_task(st, "kept");
    st->ops->close(st);
    char db[64];
    snprintf(db, sizeof db, "tasker_t%ld_%d", (long)getpid(), db_count);
    char *dsn = tasker_test_mariadb_dsn(db, NULL);
    st = tasker_mysql_storage(dsn);
    free(dsn);
    assert_non_null(st);
    tasker_task t = {0};
    assert_int_equal(st->ops->get_task(st, "kept", &t), TASKER_OK);
    assert_string_equal(t.param, "{}");
    tasker_task_clear(&t);
    st->ops->close(st);
}

static long long count_in_db(const char *what_sql)
{
    char sql[512];
    long long v = -1;
    snprintf(sql, sizeof sql, what_sql, (long)getpid(), db_count);
    assert_int_equal(tasker_test_mariadb_query_int(sql, &v), 0);
    return v;
}

/* Takes the database of this test back to schema version 2: without the job lifecycle
 * columns of migrations 5 and 7, the task policy columns of migration 3 and the nodes table of
 * migration 4. */
static void undo_migrations_3_and_4(void)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "ALTER TABLE tasker_t%ld_%d.task_execs DROP KEY exec_queue,"
             " ADD KEY exec_status_oldest (status, queued_us, exec_id),"
             " DROP COLUMN attempt, DROP COLUMN retry_of, DROP COLUMN run_at_us,"
             " DROP COLUMN priority, DROP COLUMN param, DROP COLUMN unique_key,"
             " DROP COLUMN timeout_ms, DROP COLUMN cancel_requested, DROP COLUMN held",
             (long)getpid(), db_count);
    assert_int_equal(tasker_test_mariadb_sql(sql), 0);
    snprintf(sql, sizeof sql, "ALTER TABLE tasker_t%ld_%d.task_schemes DROP COLUMN paused",
             (long)getpid(), db_count);
    assert_int_equal(tasker_test_mariadb_sql(sql), 0);
    snprintf(sql, sizeof sql, "DROP TABLE tasker_t%ld_%d.nodes, tasker_t%ld_%d.exec_unique",
             (long)getpid(), db_count, (long)getpid(), db_count);
    assert_int_equal(tasker_test_mariadb_sql(sql), 0);
    snprintf(sql, sizeof sql,
             "ALTER TABLE tasker_t%ld_%d.tasks DROP COLUMN max_attempts, DROP COLUMN backoff_ms,"
             " DROP COLUMN backoff_max_ms, DROP COLUMN timeout_ms, DROP COLUMN max_concurrency,"
             " DROP COLUMN priority, DROP COLUMN max_execs, DROP COLUMN max_exec_age_s,"
             " DROP COLUMN paused",
             (long)getpid(), db_count);
    assert_int_equal(tasker_test_mariadb_sql(sql), 0);
    snprintf(sql, sizeof sql, "DELETE FROM tasker_t%ld_%d.schema_version WHERE version >= 3",
             (long)getpid(), db_count);
    assert_int_equal(tasker_test_mariadb_sql(sql), 0);
}

static tasker_storage *reopen(void)
{
    char db[64];
    snprintf(db, sizeof db, "tasker_t%ld_%d", (long)getpid(), db_count);
    char *dsn = tasker_test_mariadb_dsn(db, NULL);
    tasker_storage *st = tasker_mysql_storage(dsn);
    free(dsn);
    assert_non_null(st);
    return st;
}

/* A database of the release before task policies (schema 2) gains the policy columns
 * (version 3) and the nodes table (4) on the next open and keeps its data; every policy reads as 0. */
static void opening_a_version_2_database_migrates_it_to_the_latest(void **state)
{
    (void)state;
    tasker_storage *st = open_with_env(-1, -1);
    add_task(st, "kept");
    tasker_task_exec e = {.exec_id = "e1", .task_id = "kept", .queued_us = 5,
                          .status = TASKER_EXEC_SUCCESS, .success = true};
    assert_int_equal(st->ops->add_task_exec(st, &e), TASKER_OK);
    st->ops->close(st);
    undo_migrations_3_and_4();
    assert_int_equal(count_in_db("SELECT MAX(version) FROM tasker_t%ld_%d.schema_version"), 2);
    st = reopen();
    assert_int_equal(count_in_db("SELECT MAX(version) FROM tasker_t%ld_%d.schema_version"),
                     SCHEMA_LATEST);
    tasker_task t = {0};
    assert_int_equal(st->ops->get_task(st, "kept", &t), TASKER_OK);
    assert_string_equal(t.param, "{}");
    assert_int_equal(t.max_execs, 0);
    assert_int_equal(t.max_exec_age_s, 0);
    assert_false(t.paused);
    tasker_task_clear(&t);
    tasker_task_exec got;
    assert_int_equal(st->ops->get_task_exec(st, "e1", &got), TASKER_OK);
    assert_int_equal(got.status, TASKER_EXEC_SUCCESS);
    tasker_exec_clear(&got);
    tasker_task with = {.task_id = "kept", .handler = "h", .param = "{}", .max_execs = 4};
    assert_int_equal(st->ops->add_task(st, &with), TASKER_OK);
    assert_int_equal(st->ops->get_task(st, "kept", &t), TASKER_OK);
    assert_int_equal(t.max_execs, 4);
    tasker_task_clear(&t);
    st->ops->close(st);
}

/* A database left at version 1 gains version 2 (the finished-executions index) and the
 * later ones on the next open, and keeps its data. */
static void opening_a_version_1_database_migrates_it_to_the_latest(void **state)
{
    (void)state;
    tasker_storage *st = open_with_env(-1, -1);
    add_task(st, "kept");
    st->ops->close(st);
    undo_migrations_3_and_4();
    char sql[256];
    snprintf(sql, sizeof sql, "ALTER TABLE tasker_t%ld_%d.task_execs DROP KEY exec_task_done",
             (long)getpid(), db_count);
    assert_int_equal(tasker_test_mariadb_sql(sql), 0);
    snprintf(sql, sizeof sql, "DELETE FROM tasker_t%ld_%d.schema_version WHERE version >= 2",
             (long)getpid(), db_count);
    assert_int_equal(tasker_test_mariadb_sql(sql), 0);
    char db[64];
    snprintf(db, sizeof db, "tasker_t%ld_%d", (long)getpid(), db_count);
    char *dsn = tasker_test_mariadb_dsn(db, NULL);
    st = tasker_mysql_storage(dsn);
    free(dsn);
    assert_non_null(st);
    assert_int_equal(count_in_db("SELECT MAX(version) FROM tasker_t%ld_%d.schema_version"),
                     SCHEMA_LATEST);
    assert_true(count_in_db("SELECT COUNT(*) FROM information_schema.statistics WHERE "
                            "table_schema = 'tasker_t%ld_%d' AND "
                            "index_name = 'exec_task_done'") >= 1);
    assert_int_equal(count_in_db("SELECT COUNT(*) FROM information_schema.tables WHERE "
                                 "table_schema = 'tasker_t%ld_%d' AND table_name = 'nodes'"), 1);
    tasker_task t = {0};
    assert_int_equal(st->ops->get_task(st, "kept", &t), TASKER_OK);
    tasker_task_clear(&t);
    st->ops->close(st);
}

/* A database of the job lifecycle's release (schema 5) gains the schedules' change
 * counter (version 6) on the next open; the counter then moves with each change. */
static void opening_a_version_5_database_adds_the_change_counter(void **state)
{
    (void)state;
    tasker_storage *st = open_with_env(-1, -1);
    add_task(st, "kept");
    tasker_task_scheme sc = {.scheme_id = "s1", .task_id = "kept", .cron = "* * * * *",
                             .created_us = 1};
    assert_int_equal(st->ops->add_task_scheme(st, &sc, NULL), TASKER_OK);
    st->ops->close(st);
    char sql[512];
    snprintf(sql, sizeof sql, "DROP TABLE tasker_t%ld_%d.scheme_version", (long)getpid(),
             db_count);
    assert_int_equal(tasker_test_mariadb_sql(sql), 0);
    /* And back from schema 7 to 5's unique keys (the rows of version 5 itself). */
    snprintf(sql, sizeof sql, "DROP TABLE tasker_t%ld_%d.exec_unique", (long)getpid(),
             db_count);
    assert_int_equal(tasker_test_mariadb_sql(sql), 0);
    snprintf(sql, sizeof sql,
             "ALTER TABLE tasker_t%ld_%d.task_execs DROP COLUMN held,"
             " ADD COLUMN unique_held VARBINARY(255)"
             " AS (CASE WHEN status < 2 THEN unique_key END) STORED,"
             " ADD UNIQUE KEY exec_unique_key (task_id, unique_held)",
             (long)getpid(), db_count);
    assert_int_equal(tasker_test_mariadb_sql(sql), 0);
    snprintf(sql, sizeof sql, "DELETE FROM tasker_t%ld_%d.schema_version WHERE version >= 6",
             (long)getpid(), db_count);
    assert_int_equal(tasker_test_mariadb_sql(sql), 0);
    assert_int_equal(count_in_db("SELECT MAX(version) FROM tasker_t%ld_%d.schema_version"), 5);
    st = reopen();
    assert_int_equal(count_in_db("SELECT MAX(version) FROM tasker_t%ld_%d.schema_version"),
                     SCHEMA_LATEST);
    uint64_t v0 = 99, v1 = 0;
    assert_int_equal(st->ops->schemes_version(st, &v0), TASKER_OK);
    assert_int_equal(v0, 0);
    tasker_task_scheme *v = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->list_task_schemes(st, &v, &n), TASKER_OK);
    assert_int_equal(n, 1); /* the data stayed */
    tasker_free_schemes(v, n);
    assert_int_equal(st->ops->remove_task_scheme(st, "s1"), TASKER_OK);
    assert_int_equal(st->ops->schemes_version(st, &v1), TASKER_OK);
    assert_true(v1 > v0);
    st->ops->close(st);
}

typedef struct {
    tasker_storage *st;
    int thread_no, writes, ok, exists;
} writer;

#define WRITERS 8
#define WRITES_EACH 100

/* Every third write repeats the previous id, so it must fail alone with EEXISTS. */
static void *write_execs(void *arg)
{
    writer *w = arg;
    char id[64];
    for (int i = 0; i < w->writes; i++) {
        int n = i % 3 == 2 ? i - 1 : i;
        snprintf(id, sizeof id, "w%d-%04d", w->thread_no, n);
        int rc = add_exec(w->st, "gc", id, real_clock(NULL), TASKER_EXEC_SUCCESS);
        if (rc == TASKER_OK) w->ok++;
        else if (rc == TASKER_EEXISTS && strstr(tasker_last_error(), id)) w->exists++;
    }
    return NULL;
}

static void group_commit_batches_writers_and_gives_each_its_result(void **state)
{
    (void)state;
    tasker_storage *st = open_with_env(-1, -1);
    add_task(st, "gc");
    long long commits_before = 0, commits_after = 0;
    const char *q = "SELECT VARIABLE_VALUE FROM information_schema.global_status "
                    "WHERE VARIABLE_NAME = 'COM_COMMIT'";
    assert_int_equal(tasker_test_mariadb_query_int(q, &commits_before), 0);
    pthread_t th[WRITERS];
    writer w[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (writer){.st = st, .thread_no = i, .writes = WRITES_EACH};
        assert_int_equal(pthread_create(&th[i], NULL, write_execs, &w[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) pthread_join(th[i], NULL);
    assert_int_equal(tasker_test_mariadb_query_int(q, &commits_after), 0);
    int ok = 0, exists = 0;
    for (int i = 0; i < WRITERS; i++) {
        ok += w[i].ok;
        exists += w[i].exists;
    }
    assert_int_equal(exists, WRITERS * (WRITES_EACH / 3));
    assert_int_equal(ok + exists, WRITERS * WRITES_EACH);
    tasker_task_exec *v = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->list_task_execs(st, "gc", 0, &v, &n), TASKER_OK);
    assert_int_equal(n, (size_t)ok);
    tasker_free_execs(v, n);
    /* Concurrent writers shared transactions: far fewer commits than writes. */
    if (commits_after - commits_before >= ok)
        fail_msg("%lld commits for %d writes", commits_after - commits_before, ok);
    st->ops->close(st);
}

typedef struct {
    tasker_storage *st;
    int thread_no, ok, notfound, other;
} eventer;

/* Every other event names a missing execution, every fifth add a missing task: the
 * bulk statements of their batches fail, and each write must still get its own
 * result. */
static void *write_mixed(void *arg)
{
    eventer *e = arg;
    char id[64];
    for (int i = 0; i < 60; i++) {
        int rc;
        if (i % 3 == 0) {
            snprintf(id, sizeof id, "x%d-%d", e->thread_no, i);
            rc = add_exec(e->st, i % 5 == 0 ? "no-such-task" : "bulk", id, 1,
                          TASKER_EXEC_SUCCESS);
        } else {
            tasker_task_event ev = {.exec_id = i % 2 ? "present" : "missing", .time_us = i,
                                    .message = "m"};
            rc = e->st->ops->add_task_event(e->st, &ev);
        }
        if (rc == TASKER_OK) e->ok++;
        else if (rc == TASKER_ENOTFOUND) e->notfound++;
        else e->other++;
    }
    return NULL;
}

static void bulk_batches_with_bad_rows_give_each_write_its_result(void **state)
{
    (void)state;
    tasker_storage *st = open_with_env(-1, -1);
    add_task(st, "bulk");
    assert_int_equal(add_exec(st, "bulk", "present", 1, TASKER_EXEC_RUNNING), TASKER_OK);
    pthread_t th[WRITERS];
    eventer e[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        e[i] = (eventer){.st = st, .thread_no = i};
        assert_int_equal(pthread_create(&th[i], NULL, write_mixed, &e[i]), 0);
    }
    int ok = 0, notfound = 0;
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(e[i].other, 0);
        ok += e[i].ok;
        notfound += e[i].notfound;
    }
    /* Per thread: 20 adds (4 to a missing task), 40 events (20 to a missing exec). */
    assert_int_equal(notfound, WRITERS * (4 + 20));
    assert_int_equal(ok, WRITERS * (16 + 20));
    tasker_task_event *v = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->list_task_events(st, "present", &v, &n), TASKER_OK);
    assert_int_equal(n, WRITERS * 20);
    for (size_t i = 1; i < n; i++) assert_true(v[i].event_id > v[i - 1].event_id);
    tasker_free_events(v, n);
    tasker_task_exec *x = NULL;
    assert_int_equal(st->ops->list_task_execs(st, "bulk", 0, &x, &n), TASKER_OK);
    assert_int_equal(n, 1 + WRITERS * 16);
    tasker_free_execs(x, n);
    st->ops->close(st);
}

static void retention_keeps_newest_finished_and_never_pending(void **state)
{
    (void)state;
    tasker_storage *st = open_with_env(3, -1);
    add_task(st, "r");
    char id[32];
    assert_int_equal(add_exec(st, "r", "p-old", 1, TASKER_EXEC_PENDING), TASKER_OK);
    for (int i = 0; i < 6; i++) {
        snprintf(id, sizeof id, "e%d", i);
        assert_int_equal(add_exec(st, "r", id, 100 + i, TASKER_EXEC_SUCCESS), TASKER_OK);
        tasker_task_event ev = {.exec_id = id, .time_us = 1, .message = "m"};
        assert_int_equal(st->ops->add_task_event(st, &ev), TASKER_OK);
    }
    tasker_task_exec *v = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->list_task_execs(st, "r", 0, &v, &n), TASKER_OK);
    assert_int_equal(n, 4);
    assert_string_equal(v[0].exec_id, "e5");
    assert_string_equal(v[2].exec_id, "e3");
    assert_string_equal(v[3].exec_id, "p-old");
    tasker_free_execs(v, n);
    /* A pruned execution's events went with it. */
    char sql[200];
    long long events = -1;
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM tasker_t%ld_%d.task_events",
             (long)getpid(), db_count);
    assert_int_equal(tasker_test_mariadb_query_int(sql, &events), 0);
    assert_int_equal(events, 3);
    st->ops->close(st);
}

typedef struct {
    tasker_storage *st;
    int thread_no, failures;
} adder;

static void *add_finished(void *arg)
{
    adder *a = arg;
    char id[32];
    for (int i = 0; i < 60; i++) {
        snprintf(id, sizeof id, "d%d-%d", a->thread_no, i);
        int64_t queued_us = 1000 + i * 10 + a->thread_no;
        if (add_exec(a->st, "busy", id, queued_us, TASKER_EXEC_SUCCESS) != TASKER_OK)
            a->failures++;
    }
    return NULL;
}

static long long execs_of(const char *task_id)
{
    char sql[200];
    long long n = -1;
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM tasker_t%ld_%d.task_execs WHERE task_id = '%s'",
             (long)getpid(), db_count, task_id);
    assert_int_equal(tasker_test_mariadb_query_int(sql, &n), 0);
    return n;
}

/* Adds of existing tasks in one batch go as one bulk insert: none falls back to row
 * by row (which a rolled-back savepoint would show). */
static void concurrent_adds_go_in_bulk_without_falling_back(void **state)
{
    (void)state;
    tasker_storage *st = open_with_env(-1, -1);
    add_task(st, "busy");
    const char *q = "SELECT VARIABLE_VALUE FROM information_schema.global_status "
                    "WHERE VARIABLE_NAME = 'COM_ROLLBACK_TO_SAVEPOINT'";
    long long before = -1, after = -1;
    assert_int_equal(tasker_test_mariadb_query_int(q, &before), 0);
    pthread_t th[4];
    adder a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (adder){.st = st, .thread_no = i};
        assert_int_equal(pthread_create(&th[i], NULL, add_finished, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].failures, 0);
    }
    assert_int_equal(tasker_test_mariadb_query_int(q, &after), 0);
    assert_int_equal(after, before);
    assert_int_equal(execs_of("busy"), 240);
    st->ops->close(st);
}

/* Under load, retention may be put off (at most MY_RETAIN_LAG_US); the next lone add
 * brings the task down to its limit, and so does closing the store. */
static void retention_put_off_under_load_catches_up(void **state)
{
    (void)state;
    tasker_storage *st = open_with_env(5, -1);
    add_task(st, "busy");
    pthread_t th[4];
    adder a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (adder){.st = st, .thread_no = i};
        assert_int_equal(pthread_create(&th[i], NULL, add_finished, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].failures, 0);
    }
    assert_int_equal(add_exec(st, "busy", "last", 99999, TASKER_EXEC_SUCCESS), TASKER_OK);
    assert_int_equal(execs_of("busy"), 5);
    /* Load, then close at once: closing prunes what was put off. */
    for (int i = 0; i < 4; i++) {
        a[i] = (adder){.st = st, .thread_no = 10 + i};
        assert_int_equal(pthread_create(&th[i], NULL, add_finished, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    st->ops->close(st);
    assert_int_equal(execs_of("busy"), 5);
}

static void retention_by_age_prunes_only_finished(void **state)
{
    (void)state;
    tasker_storage *st = open_with_env(-1, 60);
    add_task(st, "a");
    int64_t now_us = real_clock(NULL), old_us = now_us - 3600LL * 1000000;
    assert_int_equal(add_exec(st, "a", "old-done", old_us, TASKER_EXEC_FAILED), TASKER_OK);
    assert_int_equal(add_exec(st, "a", "old-running", old_us, TASKER_EXEC_RUNNING), TASKER_OK);
    assert_int_equal(add_exec(st, "a", "new", now_us, TASKER_EXEC_SUCCESS), TASKER_OK);
    tasker_task_exec e = {0};
    assert_int_equal(st->ops->get_task_exec(st, "old-done", &e), TASKER_ENOTFOUND);
    assert_int_equal(st->ops->get_task_exec(st, "old-running", &e), TASKER_OK);
    tasker_exec_clear(&e);
    st->ops->close(st);
}

typedef struct {
    tasker_storage *st;
    int rc;
    char node[16];
} starter;

static void *start_one(void *arg)
{
    starter *s = arg;
    s->rc = s->st->ops->start_task_exec(s->st, "race", 5, s->node);
    return NULL;
}

static void racing_starts_let_exactly_one_win(void **state)
{
    (void)state;
    tasker_storage *st = open_with_env(-1, -1);
    add_task(st, "t");
    assert_int_equal(add_exec(st, "t", "race", 1, TASKER_EXEC_PENDING), TASKER_OK);
    pthread_t th[6];
    starter s[6];
    for (int i = 0; i < 6; i++) {
        s[i] = (starter){.st = st};
        snprintf(s[i].node, sizeof s[i].node, "node%d", i);
        pthread_create(&th[i], NULL, start_one, &s[i]);
    }
    int won = 0, lost = 0;
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        won += s[i].rc == TASKER_OK;
        lost += s[i].rc == TASKER_ESTATE;
    }
    assert_int_equal(won, 1);
    assert_int_equal(lost, 5);
    assert_int_equal(st->ops->start_task_exec(st, "absent", 5, "n"), TASKER_ENOTFOUND);
    st->ops->close(st);
}

static bool only_alive(const char *node_id, void *udata)
{
    return strcmp(node_id, (const char *)udata) == 0;
}

static void interrupt_dead_marks_only_dead_nodes(void **state)
{
    (void)state;
    tasker_storage *st = open_with_env(-1, -1);
    add_task(st, "t");
    assert_int_equal(add_exec(st, "t", "a", 1, TASKER_EXEC_PENDING), TASKER_OK);
    assert_int_equal(add_exec(st, "t", "b", 2, TASKER_EXEC_PENDING), TASKER_OK);
    assert_int_equal(st->ops->start_task_exec(st, "a", 3, "live"), TASKER_OK);
    assert_int_equal(st->ops->start_task_exec(st, "b", 3, "dead"), TASKER_OK);
    size_t n = 0;
    assert_int_equal(st->ops->interrupt_dead(st, only_alive, "live", &n), TASKER_OK);
    assert_int_equal(n, 1);
    tasker_task_exec e = {0};
    assert_int_equal(st->ops->get_task_exec(st, "b", &e), TASKER_OK);
    assert_int_equal(e.status, TASKER_EXEC_INTERRUPTED);
    assert_string_equal(e.error, "interrupted: node dead stopped");
    assert_true(e.end_us > 0);
    tasker_exec_clear(&e);
    assert_int_equal(st->ops->get_task_exec(st, "a", &e), TASKER_OK);
    assert_int_equal(e.status, TASKER_EXEC_RUNNING);
    tasker_exec_clear(&e);
    st->ops->close(st);
}

static int setup(void **state)
{
    (void)state;
    if (tasker_test_mariadb_start() != 0) {
        fprintf(stderr, "MariaDB test server: %s\n", tasker_test_mariadb_error());
        return -1;
    }
    return 0;
}

/* The databases made here are dropped, so that an external server is left clean. */
static int teardown(void **state)
{
    (void)state;
    char sql[100];
    for (int i = 1; i <= db_count; i++) {
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS tasker_t%ld_%d", (long)getpid(), i);
        tasker_test_mariadb_sql(sql);
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conformance_suite_passes),
        cmocka_unit_test(schema_is_versioned_with_the_expected_indexes),
        cmocka_unit_test(reopening_keeps_data_and_does_not_migrate_again),
        cmocka_unit_test(opening_a_version_1_database_migrates_it_to_the_latest),
        cmocka_unit_test(opening_a_version_2_database_migrates_it_to_the_latest),
        cmocka_unit_test(opening_a_version_5_database_adds_the_change_counter),
        cmocka_unit_test(group_commit_batches_writers_and_gives_each_its_result),
        cmocka_unit_test(bulk_batches_with_bad_rows_give_each_write_its_result),
        cmocka_unit_test(retention_keeps_newest_finished_and_never_pending),
        cmocka_unit_test(retention_by_age_prunes_only_finished),
        cmocka_unit_test(retention_put_off_under_load_catches_up),
        cmocka_unit_test(concurrent_adds_go_in_bulk_without_falling_back),
        cmocka_unit_test(racing_starts_let_exactly_one_win),
        cmocka_unit_test(interrupt_dead_marks_only_dead_nodes),
    };
    return cmocka_run_group_tests_name("storage_mysql", tests, setup, teardown);
}
