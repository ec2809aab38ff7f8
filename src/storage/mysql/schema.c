/* The MySQL driver's schema, as numbered migrations recorded in schema_version.
 *
 * A migration is applied once, in order, under a named server lock so that processes
 * opening the same database at once do not race. MySQL commits DDL implicitly, so
 * each step records its version right after it ran. A database whose version is newer
 * than this build knows is refused rather than guessed at.
 *
 * Ids are VARBINARY: compared and ordered byte by byte as the other drivers do, with no
 * collation folding case or trailing spaces. JSON (params, results) is utf8mb4 text;
 * free text that the core may cut mid-character (errors, messages, descriptions) is
 * kept as bytes. Times are BIGINT microseconds since the epoch, UTC. */
#include "core/error.h"
#include "storage/mysql/stmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_OPTS " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"

static const char *const migration_1[] = {
    "CREATE TABLE tasks ("
    " task_id VARBINARY(63) NOT NULL PRIMARY KEY,"
    " handler VARBINARY(1024) NOT NULL,"
    " descr MEDIUMBLOB NULL,"
    " param LONGTEXT NOT NULL"
    ")" TABLE_OPTS,

    "CREATE TABLE task_schemes ("
    " scheme_id VARBINARY(63) NOT NULL PRIMARY KEY,"
    " task_id VARBINARY(63) NOT NULL,"
    " cron VARBINARY(2048) NOT NULL,"
    " misfire TINYINT NOT NULL,"
    " overlap TINYINT NOT NULL,"
    " created_us BIGINT NOT NULL,"
    " last_fire_us BIGINT NOT NULL DEFAULT 0,"
    " UNIQUE KEY scheme_task_cron (task_id, cron),"
    " CONSTRAINT scheme_task FOREIGN KEY (task_id) REFERENCES tasks (task_id)"
    "  ON DELETE CASCADE"
    ")" TABLE_OPTS,

    /* No foreign key to tasks: a removed task's history stays until retention. */
    "CREATE TABLE task_execs ("
    " exec_id VARBINARY(63) NOT NULL PRIMARY KEY,"
    " task_id VARBINARY(63) NOT NULL,"
    " scheme_id VARBINARY(63) NULL,"
    " scheduled_us BIGINT NOT NULL DEFAULT 0,"
    " queued_us BIGINT NOT NULL,"
    " start_us BIGINT NOT NULL DEFAULT 0,"
    " end_us BIGINT NOT NULL DEFAULT 0,"
    " status TINYINT NOT NULL,"
    " success TINYINT NOT NULL DEFAULT 0,"
    " result LONGTEXT NULL,"
    " error MEDIUMBLOB NULL,"
    " node_id VARBINARY(255) NULL,"
    " UNIQUE KEY exec_occurrence (scheme_id, scheduled_us),"
    " KEY exec_task_newest (task_id, queued_us, exec_id),"
    " KEY exec_status_oldest (status, queued_us, exec_id),"
    " KEY exec_newest (queued_us, exec_id)"
    ")" TABLE_OPTS,

    /* Pruning an execution deletes its events through the cascade. */
    "CREATE TABLE task_events ("
    " event_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " exec_id VARBINARY(63) NOT NULL,"
    " time_us BIGINT NOT NULL,"
    " level TINYINT NOT NULL,"
    " message MEDIUMBLOB NOT NULL,"
    " KEY event_exec_order (exec_id, event_id),"
    " CONSTRAINT event_exec FOREIGN KEY (exec_id) REFERENCES task_execs (exec_id)"
    "  ON DELETE CASCADE"
    ")" TABLE_OPTS,

    /* One row per open store and commit slot: the token of its last committed batch, so that a batch
     * whose COMMIT was cut off can be found committed or not (storage/mysql/resolve.c). */
    "CREATE TABLE commit_marks ("
    " store_id BIGINT NOT NULL,"
    " slot INT NOT NULL,"
    " token BIGINT NOT NULL,"
    " updated_us BIGINT NOT NULL,"
    " PRIMARY KEY (store_id, slot)"
    ")" TABLE_OPTS,
    NULL,
};

/* Retention deletes a task's finished executions past a boundary. Through
 * exec_task_newest it had to step over the task's pending ones too, so a backlog of
 * pending runs made every add slow; this index holds finished ones apart. */
static const char *const migration_2[] = {
    "ALTER TABLE task_execs ADD KEY exec_task_done (task_id, status, queued_us, exec_id)",
    NULL,
};

/* A task's policies (tasker_task_opts; 0 = the default) and its paused state. */
static const char *const migration_3[] = {
    "ALTER TABLE tasks"
    " ADD COLUMN max_attempts INT NOT NULL DEFAULT 0,"
    " ADD COLUMN backoff_ms BIGINT NOT NULL DEFAULT 0,"
    " ADD COLUMN backoff_max_ms BIGINT NOT NULL DEFAULT 0,"
    " ADD COLUMN timeout_ms BIGINT NOT NULL DEFAULT 0,"
    " ADD COLUMN max_concurrency INT NOT NULL DEFAULT 0,"
    " ADD COLUMN priority INT NOT NULL DEFAULT 0,"
    " ADD COLUMN max_execs INT NOT NULL DEFAULT 0,"
    " ADD COLUMN max_exec_age_s BIGINT NOT NULL DEFAULT 0,"
    " ADD COLUMN paused TINYINT NOT NULL DEFAULT 0",
    NULL,
};

/* Cluster mode: one row per node, written at each heartbeat on the server's clock
 * (storage/mysql/nodes.c). */
static const char *const migration_4[] = {
    "CREATE TABLE nodes ("
    " node_id VARBINARY(255) NOT NULL PRIMARY KEY,"
    " host VARBINARY(255) NOT NULL,"
    " pid BIGINT NOT NULL,"
    " started_us BIGINT NOT NULL,"
    " heartbeat_us BIGINT NOT NULL,"
    " running INT NOT NULL,"
    " handlers MEDIUMTEXT NOT NULL,"
    " clock_skew_us BIGINT NOT NULL,"
    " stopped_us BIGINT NOT NULL DEFAULT 0"
    ")" TABLE_OPTS,
    NULL,
};

/* The job lifecycle (storage version 4): each run's attempt, first attempt, due time,
 * priority, own params, unique key, own timeout and cancel request; schedules' paused
 * state. MySQL has no partial index, so the key a run holds was a generated column,
 * unique_key while the run is pending or running and NULL after (NULLs never collide):
 * its unique index made the store refuse a second holder, whatever callers race
 * (migration 7 replaces it with a table of the keys held).
 * exec_queue serves claims in their order (priority first; DESC is honoured from
 * MariaDB 10.8 and MySQL 8, an older server sorts the due runs instead). It also
 * takes over what exec_status_oldest served (the running runs; the pending ones, which
 * list_pending_execs then sorts by age: the pool of a MySQL store claims instead), so
 * that a start or an outcome, which moves its row between statuses, writes no more
 * index entries than before; the cancel requests a node reads are found the same way. */
static const char *const migration_5[] = {
    "ALTER TABLE task_execs"
    " ADD COLUMN attempt INT NOT NULL DEFAULT 1,"
    " ADD COLUMN retry_of VARBINARY(63) NULL,"
    " ADD COLUMN run_at_us BIGINT NOT NULL DEFAULT 0,"
    " ADD COLUMN priority INT NOT NULL DEFAULT 0,"
    " ADD COLUMN param LONGTEXT NULL,"
    " ADD COLUMN unique_key VARBINARY(255) NULL,"
    " ADD COLUMN timeout_ms BIGINT NOT NULL DEFAULT 0,"
    " ADD COLUMN cancel_requested TINYINT NOT NULL DEFAULT 0,"
    " ADD COLUMN unique_held VARBINARY(255)"
    "  AS (CASE WHEN status < 2 THEN unique_key END) STORED,"
    " ADD UNIQUE KEY exec_unique_key (task_id, unique_held),"
    " ADD KEY exec_queue (status, priority DESC, run_at_us, queued_us, exec_id),"
    " DROP KEY exec_status_oldest",
    "ALTER TABLE task_schemes ADD COLUMN paused TINYINT NOT NULL DEFAULT 0",
    NULL,
};

/* Bulk definitions (issue 14): a counter of changes to what fires (storage/mysql/defs.c),
 * bumped in the transaction of each such change, so that a schedule loop rereads the
 * schedules only when it moved. One row, with a key (Galera replicates by key). Written
 * so that a migration cut off half way can run again. */
static const char *const migration_6[] = {
    "CREATE TABLE IF NOT EXISTS scheme_version ("
    " id TINYINT NOT NULL PRIMARY KEY,"
    " v BIGINT NOT NULL"
    ")" TABLE_OPTS,
    "INSERT IGNORE INTO scheme_version (id, v) VALUES (1, 0)",
    NULL,
};

/* Unique keys move to a table of their own. Through the generated column every run
 * wrote an entry of exec_unique_key and computed unique_held at each status change,
 * though almost none has a key; now only a run with a key writes one row, (task, key)
 * the primary key, naming its holder (storage/mysql/exec.c). The keys held now move
 * over; the unique index held them, so they cannot collide.
 * And a run says itself whether a start must leave it to claims (held: its task paused
 * or limited; storage/mysql/internal.h, HELD_BY_TASK), rather than each start reading its
 * task in a subquery. */
static const char *const migration_7[] = {
    "CREATE TABLE exec_unique ("
    " task_id VARBINARY(63) NOT NULL,"
    " unique_key VARBINARY(255) NOT NULL,"
    " exec_id VARBINARY(63) NOT NULL,"
    " PRIMARY KEY (task_id, unique_key),"
    " KEY exec_unique_holder (exec_id)"
    ")" TABLE_OPTS,
    "INSERT INTO exec_unique (task_id, unique_key, exec_id)"
    " SELECT task_id, unique_held, exec_id FROM task_execs WHERE unique_held IS NOT NULL",
    "ALTER TABLE task_execs DROP KEY exec_unique_key, DROP COLUMN unique_held,"
    " ADD COLUMN held TINYINT NOT NULL DEFAULT 0",
    "UPDATE task_execs e JOIN tasks t ON t.task_id = e.task_id SET e.held = 1"
    " WHERE e.status = 0 AND (t.paused <> 0 OR t.max_concurrency > 0)",
    NULL,
};

static const char *const *const migrations[] = {migration_1, migration_2, migration_3,
                                                migration_4, migration_5, migration_6,
                                                migration_7};
#define LATEST_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

/* Runs a one-row, one-integer query (prepared; no parameters). *value stays when no row. */
static int query_int(my_store *s, my_conn *c, const char *sql, int64_t *value)
{
    int rc = TASKER_OK;
    MYSQL_STMT *st = mysql_stmt_init(c->db);
    MYSQL_BIND out = {0};
    my_bool is_null = 0;
    int64_t v = 0;
    if (!st) return tasker_fail(TASKER_ENOMEM, "mysql: out of memory for a statement");
    out.buffer_type = MYSQL_TYPE_LONGLONG;
    out.buffer = &v;
    out.is_null = &is_null;
    if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0 || mysql_stmt_execute(st) != 0 ||
        mysql_stmt_bind_result(st, &out) != 0) {
        rc = my_fail_stmt(s, c, st, "reading the schema version");
        goto out;
    }
    int f = mysql_stmt_fetch(st);
    if (f == 0 && !is_null) *value = v;
    else if (f == 1) rc = my_fail_stmt(s, c, st, "reading the schema version");
out:
    mysql_stmt_close(st);
    return rc;
}

static int apply(my_store *s, my_conn *c, int version)
{
    char sql[128];
    for (const char *const *step = migrations[version - 1]; *step; step++) {
        int rc = my_exec_once(s, c, *step);
        if (rc != TASKER_OK) {
            char why[512];
            snprintf(why, sizeof why, "%s", tasker_last_error());
            return tasker_fail(rc, "mysql: migration %d failed: %s", version, why);
        }
    }
    snprintf(sql, sizeof sql, "INSERT INTO schema_version (version) VALUES (%d)", version);
    return my_exec_once(s, c, sql);
}

int my_test_schema_target;

static int migrate_locked(my_store *s, my_conn *c)
{
    int latest = my_test_schema_target > 0 && my_test_schema_target < LATEST_VERSION
                     ? my_test_schema_target
                     : LATEST_VERSION;
    int64_t current = 0;
    int rc = my_exec_once(s, c,
                          "CREATE TABLE IF NOT EXISTS schema_version ("
                          " version INT NOT NULL PRIMARY KEY,"
                          " applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP"
                          ")" TABLE_OPTS);
    if (rc != TASKER_OK) return rc;
    rc = query_int(s, c, "SELECT MAX(version) FROM schema_version", &current);
    if (rc != TASKER_OK) return rc;
    if (current > LATEST_VERSION)
        return tasker_fail(TASKER_ESTORAGE,
                           "mysql: %s has schema version %lld, newer than this tasker knows "
                           "(%d); upgrade tasker",
                           s->where, (long long)current, LATEST_VERSION);
    for (int v = (int)current + 1; v <= latest && rc == TASKER_OK; v++)
        rc = apply(s, c, v);
    return rc;
}

int my_migrate(my_store *s, my_conn *c)
{
    int64_t got = 0;
    /* The lock name is per database: other databases on the server migrate freely. */
    int rc = query_int(s, c, "SELECT GET_LOCK(CONCAT('tasker_migrate.', DATABASE()), 30)",
                       &got);
    if (rc != TASKER_OK) return rc;
    if (got != 1)
        return tasker_fail(TASKER_ESTORAGE,
                           "mysql: %s: timed out waiting for another process's migration",
                           s->where);
    rc = migrate_locked(s, c);
    int64_t released = 0;
    int unlock_rc =
        query_int(s, c, "SELECT RELEASE_LOCK(CONCAT('tasker_migrate.', DATABASE()))", &released);
    return rc != TASKER_OK ? rc : unlock_rc;
}
