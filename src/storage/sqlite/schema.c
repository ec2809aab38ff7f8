/* The SQLite driver's schema: versioned migrations (PRAGMA user_version) and the text
 * of every statement the driver prepares. docs/storage.md describes the tables.
 *
 * A migration is appended, never edited: a file at version N is brought to the latest
 * version by running migrations N+1.. in one transaction. A file newer than this
 * library is refused, since this code cannot know what the newer columns mean.
 */
#include "storage/sqlite/internal.h"

#include <stdio.h>

/* migrations[i] brings a file from version i to version i + 1. */
static const char *const migrations[SQ_SCHEMA_VERSION] = {
    /* 1: tasks, schedules, executions and their events. */
    "CREATE TABLE tasks ("
    "  task_id TEXT PRIMARY KEY NOT NULL,"
    "  handler TEXT NOT NULL,"
    "  param TEXT NOT NULL,"
    "  description TEXT"
    ") WITHOUT ROWID;"
    "CREATE TABLE schemes ("
    "  scheme_id TEXT PRIMARY KEY NOT NULL,"
    "  task_id TEXT NOT NULL REFERENCES tasks(task_id) ON DELETE CASCADE,"
    "  cron TEXT NOT NULL,"
    "  created_us INTEGER NOT NULL,"
    "  UNIQUE (task_id, cron)"
    ") WITHOUT ROWID;"
    /* No foreign key to tasks: a removed task's history stays until retention. */
    "CREATE TABLE execs ("
    "  exec_id TEXT PRIMARY KEY NOT NULL,"
    "  task_id TEXT NOT NULL,"
    "  scheme_id TEXT,"
    "  scheduled_us INTEGER NOT NULL,"
    "  queued_us INTEGER NOT NULL,"
    "  start_us INTEGER NOT NULL,"
    "  end_us INTEGER NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  success INTEGER NOT NULL,"
    "  result TEXT,"
    "  error TEXT"
    ") WITHOUT ROWID;"
    "CREATE INDEX execs_by_task ON execs(task_id, queued_us, exec_id);"
    "CREATE INDEX execs_by_queued ON execs(queued_us, exec_id);"
    /* One execution per occurrence, however many schedulers race. */
    "CREATE UNIQUE INDEX execs_by_fire ON execs(scheme_id, scheduled_us)"
    "  WHERE scheme_id IS NOT NULL;"
    "CREATE TABLE events ("
    "  event_id INTEGER PRIMARY KEY,"
    "  exec_id TEXT NOT NULL REFERENCES execs(exec_id) ON DELETE CASCADE,"
    "  time_us INTEGER NOT NULL,"
    "  level INTEGER NOT NULL,"
    "  message TEXT NOT NULL"
    ");"
    /* The rowid (event_id) is the index's last column: an execution's events come
     * out in insertion order. */
    "CREATE INDEX events_by_exec ON events(exec_id);",

    /* 2: scheduling state of schedules; the node that runs an execution; an index of
     * the pending and running executions (the queue and the interrupt scan). */
    "ALTER TABLE schemes ADD COLUMN misfire INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE schemes ADD COLUMN overlap INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE schemes ADD COLUMN last_fire_us INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE execs ADD COLUMN node_id TEXT;"
    "CREATE INDEX execs_active ON execs(status, queued_us, exec_id) WHERE status < 2;"
    /* Retention deletes through this one: it holds only what may be pruned, so a
     * backlog of pending runs costs nothing per add. */
    "CREATE INDEX execs_done ON execs(task_id, queued_us, exec_id) WHERE status >= 2;",

    /* 3: a task's policies (tasker_task_opts; 0 = the default) and its paused state. */
    "ALTER TABLE tasks ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE tasks ADD COLUMN backoff_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE tasks ADD COLUMN backoff_max_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE tasks ADD COLUMN timeout_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE tasks ADD COLUMN max_concurrency INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE tasks ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE tasks ADD COLUMN max_execs INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE tasks ADD COLUMN max_exec_age_s INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE tasks ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;",

    /* 4: cluster mode. One row per node sharing the file, written at each heartbeat
     * (storage/sqlite/cluster.c); an index of the running executions by node, for the
     * lease rule and fencing. */
    "CREATE TABLE nodes ("
    "  node_id TEXT PRIMARY KEY NOT NULL,"
    "  host TEXT NOT NULL,"
    "  pid INTEGER NOT NULL,"
    "  started_us INTEGER NOT NULL,"
    "  heartbeat_us INTEGER NOT NULL,"
    "  running INTEGER NOT NULL,"
    "  handlers TEXT NOT NULL,"
    "  clock_skew_us INTEGER NOT NULL,"
    "  stopped_us INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX execs_running_by_node ON execs(node_id) WHERE status = 1;",

    /* 5: the job lifecycle (design section 6). Each attempt is its own execution;
     * run_at_us delays a run (0 = at once); param is the run's own params (NULL = the
     * task's); cancel_requested asks the node running it to stop. unique_key is held
     * only while the run is pending or running: the partial unique index makes the
     * store refuse a second such run, whatever the callers race. The queue index
     * serves claims in their order (priority first) without sorting the backlog. */
    "ALTER TABLE execs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE execs ADD COLUMN retry_of TEXT;"
    "ALTER TABLE execs ADD COLUMN run_at_us INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE execs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE execs ADD COLUMN param TEXT;"
    "ALTER TABLE execs ADD COLUMN unique_key TEXT;"
    "ALTER TABLE execs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE schemes ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;"
    "CREATE UNIQUE INDEX execs_unique_key ON execs(task_id, unique_key)"
    "  WHERE unique_key IS NOT NULL AND status < 2;"
    "CREATE INDEX execs_queue ON execs(priority DESC, run_at_us, queued_us, exec_id)"
    "  WHERE status = 0;",

    /* 6: bulk definitions (issue 14). A counter of changes to schedules (and to tasks,
     * whose removal or pause changes what fires), bumped by triggers so that every
     * writer counts, this library's or not. The schedule loop rereads the schedules
     * only when it moved. A fire (last_fire_us alone) does not count; a
     * pause or resume (which may move last_fire_us too) does. */
    "CREATE TABLE scheme_version (v INTEGER NOT NULL);"
    "INSERT INTO scheme_version VALUES (0);"
    "CREATE TRIGGER scheme_version_ins AFTER INSERT ON schemes"
    " BEGIN UPDATE scheme_version SET v = v + 1; END;"
    "CREATE TRIGGER scheme_version_del AFTER DELETE ON schemes"
    " BEGIN UPDATE scheme_version SET v = v + 1; END;"
    "CREATE TRIGGER scheme_version_upd AFTER UPDATE ON schemes"
    " WHEN NEW.last_fire_us IS OLD.last_fire_us OR NEW.paused IS NOT OLD.paused"
    " BEGIN UPDATE scheme_version SET v = v + 1; END;"
    "CREATE TRIGGER scheme_version_task AFTER UPDATE ON tasks"
    " BEGIN UPDATE scheme_version SET v = v + 1; END;",

    /* 7: a run's own timeout (tasker_run_opts.timeout_ms; 0 = its task's), so that a
     * run started by another node, or after a restart, keeps it. And execs_active goes:
     * since version 5 the pending runs are in execs_queue and the running ones in
     * execs_running_by_node, so it only cost every run three more index writes (add,
     * start, finish; about a fifth of the writer's CPU per run). */
    ("ALTER TABLE execs ADD COLUMN timeout_ms INTEGER NOT NULL DEFAULT 0;"
     "DROP INDEX execs_active;"),
};

/* Statuses in SQL text: 0 pending, 1 running, 2.. finished (tasker_exec_status).
 * Queries on pending runs say "status = 0" (execs_queue), on running ones "status = 1"
 * (execs_running_by_node): the planner proves a partial index usable only from terms
 * it sees. */
/* The policy columns of tasks, in the order of tasker_task's fields. */
#define TASK_POLICY_COLS                                                                 \
    "max_attempts, backoff_ms, backoff_max_ms, timeout_ms, max_concurrency, priority, "   \
    "max_execs, max_exec_age_s"

const char *const sq_write_sql[W_COUNT] = {
    [W_BEGIN] = "BEGIN IMMEDIATE",
    [W_COMMIT] = "COMMIT",
    [W_ROLLBACK] = "ROLLBACK",
    [W_SAVEPOINT] = "SAVEPOINT req",
    [W_RELEASE] = "RELEASE req",
    [W_ROLLBACK_TO] = "ROLLBACK TO req",
    /* A re-add replaces the definition (policies included) and keeps the paused state. */
    [W_ADD_TASK] = "INSERT INTO tasks(task_id, handler, param, description, " TASK_POLICY_COLS
                   ", paused) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
                   " ON CONFLICT(task_id) DO UPDATE SET"
                   " handler = excluded.handler, param = excluded.param,"
                   " description = excluded.description,"
                   " max_attempts = excluded.max_attempts, backoff_ms = excluded.backoff_ms,"
                   " backoff_max_ms = excluded.backoff_max_ms,"
                   " timeout_ms = excluded.timeout_ms,"
                   " max_concurrency = excluded.max_concurrency,"
                   " priority = excluded.priority, max_execs = excluded.max_execs,"
                   " max_exec_age_s = excluded.max_exec_age_s",
    [W_TASK_RETENTION] = "SELECT max_execs, max_exec_age_s FROM tasks WHERE task_id = ?1",
    [W_TASKS_WITH_AGE] = "SELECT task_id, max_exec_age_s FROM tasks WHERE max_exec_age_s > 0",
    [W_REMOVE_TASK] = "DELETE FROM tasks WHERE task_id = ?1",
    [W_ADD_SCHEME] = "INSERT INTO schemes(scheme_id, task_id, cron, misfire, overlap,"
                     " created_us, last_fire_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                     " ON CONFLICT(task_id, cron) DO UPDATE SET misfire = excluded.misfire,"
                     " overlap = excluded.overlap RETURNING scheme_id",
    [W_REMOVE_SCHEME] = "DELETE FROM schemes WHERE scheme_id = ?1",
    [W_SET_FIRE] = "UPDATE schemes SET last_fire_us = ?2"
                   " WHERE scheme_id = ?1 AND last_fire_us < ?2",
    [W_SCHEME_EXISTS] = "SELECT 1 FROM schemes WHERE scheme_id = ?1",
    [W_ADD_EXEC] = "INSERT INTO execs(" SQ_EXEC_COLS ")"
                   " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
                   " ?15, ?16, ?17, ?18, ?19"
                   " WHERE EXISTS (SELECT 1 FROM tasks WHERE task_id = ?2)",
    /* The local fast path starts only what a claim would: a run due, of a task neither
     * paused nor limited (a limited task's runs are left to claims, which judge the
     * limit in their transaction). */
    [W_START_EXEC] = "UPDATE execs SET status = 1, start_us = ?2, node_id = ?3"
                     " WHERE exec_id = ?1 AND status = 0 AND run_at_us <= ?2"
                     " AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.task_id = execs.task_id"
                     " AND (t.paused != 0 OR t.max_concurrency > 0))",
    [W_EXEC_STATUS] = "SELECT status FROM execs WHERE exec_id = ?1",
    /* A fire's task, for whether a start would start its run (W_START_EXEC's rule),
     * whether this node has its handler, and its retention (storage/sqlite/fire.c). */
    [W_FIRE_TASK] = "SELECT paused, max_concurrency, handler, max_execs, max_exec_age_s"
                    " FROM tasks WHERE task_id = ?1",
    /* The plain form costs about half: SQLite's INSERT .. SELECT .. WHERE EXISTS took
     * 20 us a row where this takes 9 (10,000 rows of a herd). */
    [W_ADD_EXEC_KNOWN] = "INSERT INTO execs(" SQ_EXEC_COLS ") VALUES (?1, ?2, ?3, ?4, ?5,"
                         " ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
    [W_UPDATE_EXEC] = "UPDATE execs SET status = ?2, end_us = ?3, success = ?4,"
                      " result = ?5, error = ?6 WHERE exec_id = ?1"
                      " AND (?7 IS NULL OR (status = 1 AND node_id = ?7))",
    [W_EXEC_HOLDER] = "SELECT status, node_id FROM execs WHERE exec_id = ?1",
    [W_ADD_EVENT] = "INSERT INTO events(exec_id, time_us, level, message)"
                    " VALUES (?1, ?2, ?3, ?4)",
    [W_INTERRUPT_NODE] = "UPDATE execs SET status = 4, end_us = ?2, success = 0, error = ?3"
                         " WHERE status = 1 AND node_id IS ?1",
    /* Job lifecycle: the next attempt of execution ?1 when it failed or was interrupted
     * and its task allows more attempts; run in the transaction that wrote the failure.
     * Its id is the first attempt's id + "." + attempt, so the same retry written twice
     * (a replayed outcome) is one row. Delay: backoff_ms (0 = 1000) doubled per attempt,
     * capped by backoff_max_ms (0 = 3,600,000), times a jitter uniform in [0.9, 1.1],
     * counted from the failure's end. It returns the task id of a retry stored, for
     * the task's retention. */
    [W_RETRY] = "INSERT OR IGNORE INTO execs(" SQ_EXEC_COLS ")"
                " SELECT COALESCE(e.retry_of, e.exec_id) || '.' || (e.attempt + 1), e.task_id,"
                " NULL, e.scheduled_us, e.end_us, 0, 0, 0, 0, NULL, NULL, NULL, e.attempt + 1,"
                " COALESCE(e.retry_of, e.exec_id), e.end_us + MIN((CASE WHEN t.backoff_ms > 0"
                " THEN t.backoff_ms ELSE 1000 END) << MIN(e.attempt - 1, 30),"
                " CASE WHEN t.backoff_max_ms > 0 THEN t.backoff_max_ms ELSE 3600000 END)"
                " * (900 + ABS(RANDOM() % 201)), e.priority, e.param, e.unique_key, e.timeout_ms"
                " FROM execs e JOIN tasks t ON t.task_id = e.task_id"
                " WHERE e.exec_id = ?1 AND e.status IN (3, 4) AND e.attempt < t.max_attempts"
                " RETURNING task_id",
    [W_RET_NTH] = "SELECT queued_us, exec_id FROM execs WHERE task_id = ?1"
                  " ORDER BY queued_us DESC, exec_id DESC LIMIT 1 OFFSET ?2",
    [W_RET_DELETE_OLDER] = "DELETE FROM execs INDEXED BY execs_done WHERE task_id = ?1"
                           " AND (queued_us, exec_id) <= (?2, ?3) AND status >= 2",
    [W_RET_DELETE_AGE_TASK] = "DELETE FROM execs INDEXED BY execs_done"
                              " WHERE task_id = ?1 AND queued_us < ?2"
                              " AND status >= 2",
    /* Tasks with an age of their own are pruned by their own adds, not by the sweep. */
    [W_RET_DELETE_AGE_ALL] = "DELETE FROM execs WHERE queued_us < ?1 AND status >= 2"
                             " AND task_id NOT IN"
                             " (SELECT task_id FROM tasks WHERE max_exec_age_s != 0)",
};

const char *const sq_read_sql[R_COUNT] = {
    [R_GET_TASK] = "SELECT task_id, handler, description, param, " TASK_POLICY_COLS
                   ", paused FROM tasks WHERE task_id = ?1",
    [R_LIST_TASKS] = "SELECT task_id, handler, description, param, " TASK_POLICY_COLS
                     ", paused FROM tasks ORDER BY task_id",
    [R_LIST_SCHEMES] = "SELECT scheme_id, task_id, cron, misfire, overlap, created_us,"
                       " last_fire_us, paused FROM schemes ORDER BY scheme_id",
    [R_GET_EXEC] = "SELECT " SQ_EXEC_COLS " FROM execs WHERE exec_id = ?1",
    [R_LIST_EXECS_TASK] = "SELECT " SQ_EXEC_COLS " FROM execs WHERE task_id = ?1"
                          " ORDER BY queued_us DESC, exec_id DESC LIMIT ?2",
    [R_LIST_EXECS_ALL] = "SELECT " SQ_EXEC_COLS " FROM execs"
                         " ORDER BY queued_us DESC, exec_id DESC LIMIT ?1",
    /* The pending runs only (sorted): not a walk of the whole history by age. */
    [R_LIST_PENDING] = "SELECT " SQ_EXEC_COLS " FROM execs INDEXED BY execs_queue"
                       " WHERE status = 0"
                       " ORDER BY queued_us, exec_id LIMIT ?1",
    [R_LIST_EVENTS] = "SELECT event_id, exec_id, time_us, level, message FROM events"
                      " WHERE exec_id = ?1 ORDER BY event_id",
    [R_EXEC_EXISTS] = "SELECT 1 FROM execs WHERE exec_id = ?1",
    [R_RUNNING_NODES] = "SELECT DISTINCT node_id FROM execs"
                        " WHERE status = 1",
};

int sq_schema_version(sqlite3 *db, int *version)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

static int exec_sql(sq_store *s, sqlite3 *db, const char *sql, const char *what)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) return sq_fail(s, db, what);
    return TASKER_OK;
}

int sq_check_version(sq_store *s, int version, int target_version)
{
    if (version > SQ_SCHEMA_VERSION)
        return tasker_set_error(TASKER_ESTORAGE,
                                "sqlite: %s: the database has schema version %d, newer than "
                                "the %d this tasker %s understands; use a newer tasker",
                                s->path, version, SQ_SCHEMA_VERSION, TASKER_VERSION);
    if (version < 0 || target_version > SQ_SCHEMA_VERSION)
        return tasker_set_error(TASKER_ESTORAGE, "sqlite: %s: bad schema version %d",
                                s->path, version);
    return TASKER_OK;
}

/* Brings db to target_version (SQ_SCHEMA_VERSION but for tests). The version is read
 * again inside BEGIN IMMEDIATE: two processes opening a new file at once migrate it
 * once. */
int sq_migrate(sq_store *s, sqlite3 *db, int target_version)
{
    int version = 0, rc;
    char what[64];
    if (sq_schema_version(db, &version) != SQLITE_OK)
        return sq_fail(s, db, "reading the schema version");
    if ((rc = sq_check_version(s, version, target_version)) != TASKER_OK) return rc;
    if (version >= target_version) return TASKER_OK;

    if ((rc = exec_sql(s, db, "BEGIN IMMEDIATE", "starting the schema migration")))
        return rc;
    if (sq_schema_version(db, &version) != SQLITE_OK) {
        rc = sq_fail(s, db, "reading the schema version");
        goto out;
    }
    if ((rc = sq_check_version(s, version, target_version)) != TASKER_OK) goto out;
    for (int v = version; v < target_version; v++) {
        snprintf(what, sizeof what, "migrating the schema to version %d", v + 1);
        if ((rc = exec_sql(s, db, migrations[v], what)) != TASKER_OK) goto out;
    }
    snprintf(what, sizeof what, "PRAGMA user_version = %d", target_version);
    if ((rc = exec_sql(s, db, what, "recording the schema version")) != TASKER_OK) goto out;
    rc = exec_sql(s, db, "COMMIT", "committing the schema migration");
out:
    if (rc != TASKER_OK && !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}
