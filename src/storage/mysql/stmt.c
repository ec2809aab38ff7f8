/* The MySQL driver's SQL (the base part, above conn.c): the text of every statement,
 * preparing it once per connection, binding parameters, and reading result rows into
 * records; and the statements prepared per call of the cluster paths (nodes, claims,
 * the lifecycle), whose statements run a few times a second per node, so they are
 * prepared per call on a pooled connection (autocommit on) rather than kept in the
 * per-connection statement table of the start path.
 *
 * Every statement is a server-side prepared statement (mysql_stmt_*): data never
 * travels inside SQL text. A connection prepares a statement the first time it needs
 * it and keeps it until the connection closes. */
#include "core/error.h"
#include "storage/mysql/stmt.h"

#include <mysqld_error.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define EXEC_COLS MY_EXEC_COLS /* in the order of my_exec_cols (below) */
/* The policy columns of tasks, in the order of tasker_task's fields. */
#define TASK_POLICY_COLS                                                                 \
    "max_attempts, backoff_ms, backoff_max_ms, timeout_ms, max_concurrency, priority, "   \
    "max_execs, max_exec_age_s"
#define NEWEST " ORDER BY queued_us DESC, exec_id DESC"
#define OLDEST " ORDER BY queued_us, exec_id"
#define P8 "?, ?, ?, ?, ?, ?, ?, ?"
/* Whether a start must leave the run to claims (job lifecycle): its task is paused, or
 * limited (max_concurrency is judged in a claim's transaction, storage/mysql/claim.c).
 * The run's own column `held` says so (schema 7), not a subquery on its task: that
 * cost each start about as much as the rest of its statement. A run takes it from its
 * task when added, reading the task's row under a share lock; pausing or limiting a
 * task writes it, in the same transaction, to the task's pending runs
 * (my_task_held_sync, rows.c), the task's row locked: so no add can slip between. */
/* A start's compare-and-set: pending, due (run_at_us <= the start time), not held. */
#define START_SQL                                                                        \
    "UPDATE task_execs SET status = 1, start_us = ?, node_id = ?"                        \
    " WHERE exec_id = ? AND status = 0 AND run_at_us <= ? AND held = 0"
/* The retry of a failed or interrupted run whose task allows more attempts, written in
 * the transaction of the failure (storage.h, version 4). Held as its task is, read
 * under a share lock as an add reads it (see HELD_BY_TASK). Its id is the first attempt's
 * id + "." + its attempt, so the same outcome written twice (a replayed batch) stores
 * one retry (IGNORE). Delay: backoff_ms (0 = 1000) doubled per attempt, capped by
 * backoff_max_ms (0 = 3,600,000), times a jitter uniform in [0.9, 1.1], counted from
 * the failure's end; in floating point, so that no doubling can overflow. */
#define RETRY_SQL(where)                                                                 \
    "INSERT IGNORE INTO task_execs (" EXEC_COLS ", held)"                                \
    " SELECT CONCAT(COALESCE(e.retry_of, e.exec_id), '.', e.attempt + 1), e.task_id,"    \
    " NULL, e.scheduled_us, e.end_us, 0, 0, 0, 0, NULL, NULL, NULL, e.attempt + 1,"      \
    " COALESCE(e.retry_of, e.exec_id), e.end_us + CAST(LEAST("                          \
    "IF(t.backoff_ms > 0, t.backoff_ms, 1000) * POW(2, LEAST(e.attempt - 1, 62)),"       \
    " IF(t.backoff_max_ms > 0, t.backoff_max_ms, 3600000)) * (900 + RAND() * 200)"       \
    " AS SIGNED), e.priority, e.param, e.unique_key, e.timeout_ms,"                      \
    " (t.paused <> 0 OR t.max_concurrency > 0)"                                          \
    " FROM task_execs e JOIN tasks t ON t.task_id = e.task_id WHERE " where              \
    " AND e.attempt < t.max_attempts LOCK IN SHARE MODE"

/* An execution's columns as my_query reads them, in EXEC_COLS's order. */
const my_col my_exec_cols[MY_EXEC_NCOLS] = {
    {MC_STR, offsetof(tasker_task_exec, exec_id)},
    {MC_STR, offsetof(tasker_task_exec, task_id)},
    {MC_STR, offsetof(tasker_task_exec, scheme_id)},
    {MC_I64, offsetof(tasker_task_exec, scheduled_us)},
    {MC_I64, offsetof(tasker_task_exec, queued_us)},
    {MC_I64, offsetof(tasker_task_exec, start_us)},
    {MC_I64, offsetof(tasker_task_exec, end_us)},
    {MC_INT, offsetof(tasker_task_exec, status)},
    {MC_BOOL, offsetof(tasker_task_exec, success)},
    {MC_STR, offsetof(tasker_task_exec, result)},
    {MC_STR, offsetof(tasker_task_exec, error)},
    {MC_STR, offsetof(tasker_task_exec, node_id)},
    {MC_INT, offsetof(tasker_task_exec, attempt)},
    {MC_STR, offsetof(tasker_task_exec, retry_of)},
    {MC_I64, offsetof(tasker_task_exec, run_at_us)},
    {MC_INT, offsetof(tasker_task_exec, priority)},
    {MC_STR, offsetof(tasker_task_exec, param)},
    {MC_STR, offsetof(tasker_task_exec, unique_key)},
    {MC_I64, offsetof(tasker_task_exec, timeout_ms)},
};

/* Status values are tasker_exec_status: 0 pending, 1 running, 2 and up finished. */
static const char *const sql_text[MS_COUNT] = {
    /* A re-add replaces the definition (policies included) and keeps the paused state. */
    [MS_TASK_UPSERT] = "INSERT INTO tasks (task_id, handler, param, descr, " TASK_POLICY_COLS
                       ", paused) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                       " ON DUPLICATE KEY UPDATE handler = VALUES(handler),"
                       " param = VALUES(param), descr = VALUES(descr),"
                       " max_attempts = VALUES(max_attempts), backoff_ms = VALUES(backoff_ms),"
                       " backoff_max_ms = VALUES(backoff_max_ms),"
                       " timeout_ms = VALUES(timeout_ms),"
                       " max_concurrency = VALUES(max_concurrency),"
                       " priority = VALUES(priority), max_execs = VALUES(max_execs),"
                       " max_exec_age_s = VALUES(max_exec_age_s)",
    [MS_TASK_DELETE] = "DELETE FROM tasks WHERE task_id = ?",
    [MS_TASK_GET] = "SELECT task_id, handler, descr, param, " TASK_POLICY_COLS
                    ", paused FROM tasks WHERE task_id = ?",
    [MS_TASK_LIST] = "SELECT task_id, handler, descr, param, " TASK_POLICY_COLS
                     ", paused FROM tasks ORDER BY task_id",
    [MS_TASK_RETENTION] = "SELECT max_execs, max_exec_age_s FROM tasks WHERE task_id = ?",
    [MS_SCHEME_UPSERT] = "INSERT INTO task_schemes (scheme_id, task_id, cron, misfire,"
                         " overlap, created_us, last_fire_us) VALUES (?, ?, ?, ?, ?, ?, ?)"
                         " ON DUPLICATE KEY UPDATE misfire = VALUES(misfire),"
                         " overlap = VALUES(overlap)",
    [MS_SCHEME_ID] = "SELECT scheme_id FROM task_schemes WHERE task_id = ? AND cron = ?",
    [MS_SCHEME_DELETE] = "DELETE FROM task_schemes WHERE scheme_id = ?",
    [MS_SCHEME_LIST] = "SELECT scheme_id, task_id, cron, misfire, overlap, created_us,"
                       " last_fire_us, paused FROM task_schemes ORDER BY scheme_id",
    [MS_SCHEME_FIRE] = "UPDATE task_schemes SET last_fire_us = GREATEST(last_fire_us, ?)"
                       " WHERE scheme_id = ?",
    /* The run is held when its task is (share-locked: see HELD_BY_TASK). */
    [MS_EXEC_INSERT] = "INSERT INTO task_execs (" EXEC_COLS ", held)"
                       " SELECT ?, task_id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                       HELD_BY_TASK " FROM tasks WHERE task_id = ? LOCK IN SHARE MODE",
    [MS_EXEC_START] = START_SQL,
    [MS_EXEC_STATUS] = "SELECT status FROM task_execs WHERE exec_id = ?",
    /* The outcome, fenced: with the writer's node (bound twice), written only while the
     * run is running and held by that node; with a NULL node, as is. Else it matches
     * nothing (exec.c says why). */
    [MS_EXEC_UPDATE] = "UPDATE task_execs SET status = ?, end_us = ?, success = ?,"
                       " result = ?, error = ? WHERE exec_id = ?"
                       " AND (? IS NULL OR (status = 1 AND node_id = ?))",
    [MS_EXEC_UNSTART] = "UPDATE task_execs SET status = 0, start_us = 0, node_id = NULL"
                        " WHERE exec_id = ? AND status = 1 AND node_id <=> ? AND start_us = ?",
    [MS_EXEC_GET] = "SELECT " EXEC_COLS " FROM task_execs WHERE exec_id = ?",
    [MS_EXEC_LIST_TASK] = "SELECT " EXEC_COLS " FROM task_execs WHERE task_id = ?" NEWEST,
    [MS_EXEC_LIST_TASK_LIMIT] = "SELECT " EXEC_COLS " FROM task_execs WHERE task_id = ?"
                                NEWEST " LIMIT ?",
    [MS_EXEC_LIST_ALL] = "SELECT " EXEC_COLS " FROM task_execs" NEWEST,
    [MS_EXEC_LIST_ALL_LIMIT] = "SELECT " EXEC_COLS " FROM task_execs" NEWEST " LIMIT ?",
    [MS_EXEC_PENDING] = "SELECT " EXEC_COLS " FROM task_execs WHERE status = 0" OLDEST,
    [MS_EXEC_PENDING_LIMIT] = "SELECT " EXEC_COLS " FROM task_execs WHERE status = 0" OLDEST
                              " LIMIT ?",
    /* Along the running runs of exec_queue (forced: with statistics of a table that was
     * small, the optimizer scanned the whole history at each call). */
    [MS_EXEC_RUNNING_NODES] = "SELECT DISTINCT node_id FROM task_execs FORCE INDEX (exec_queue)"
                              " WHERE status = 1",
    [MS_EXEC_INTERRUPT_NODE] = "UPDATE task_execs FORCE INDEX (exec_queue) SET status = 4,"
                               " success = 0, end_us = ?, error = ?"
                               " WHERE status = 1 AND node_id <=> ?",
    [MS_RETAIN_BOUNDARY] = "SELECT queued_us, exec_id FROM task_execs WHERE task_id = ?"
                           NEWEST " LIMIT 1 OFFSET ?",
    /* Finished executions past the count boundary or before the age cutoff. The delete
     * walks the (task_id, status, queued_us, exec_id) index (forced: with a backlog of
     * pending runs the optimizer may pick a table scan), one range per finished status,
     * so that it never steps over pending runs and concurrent batches lock rows in the
     * same order. */
    [MS_RETAIN_DELETE] = "DELETE e FROM task_execs AS e FORCE INDEX (exec_task_done)"
                         " WHERE e.task_id = ? AND e.queued_us <= ?"
                         " AND e.status IN (2, 3, 4, 5, 6) AND (e.queued_us < ? OR e.queued_us < ?"
                         " OR (e.queued_us = ? AND e.exec_id <= ?))",
    [MS_EVENT_INSERT] = "INSERT INTO task_events (exec_id, time_us, level, message)"
                        " VALUES (?, ?, ?, ?)",
    [MS_EVENT_LIST] = "SELECT event_id, exec_id, time_us, level, message FROM task_events"
                      " WHERE exec_id = ? ORDER BY event_id",
    [MS_BEGIN] = "START TRANSACTION",
    /* INSERT ... SELECT cannot be bulk-executed: the bulk add checks its tasks first
     * (my_tasks_exist, storage/mysql/herd.c), in the parameter order of MS_EXEC_INSERT. */
    [MS_EXEC_INSERT_BULK] = "INSERT INTO task_execs (exec_id, scheme_id, scheduled_us,"
                            " queued_us, start_us, end_us, status, success, result, error,"
                            " node_id, attempt, retry_of, run_at_us, priority, param,"
                            " unique_key, timeout_ms, task_id)"
                            " VALUES (" P8 ", " P8 ", ?, ?, ?)",
    [MS_EXEC_START_BULK] = START_SQL,
    [MS_EVENT_INSERT_BULK] = "INSERT INTO task_events (exec_id, time_us, level, message)"
                             " VALUES (?, ?, ?, ?)",
    [MS_EXEC_UPDATE_BULK] = "UPDATE task_execs SET status = ?, end_us = ?, success = ?,"
                            " result = ?, error = ? WHERE exec_id = ?"
                            " AND (? IS NULL OR (status = 1 AND node_id = ?))",
    /* Claimed rows read back, MY_CLAIM_READ at a time (unused places bound to NULL),
     * with what a start needs besides a pending status (due, not held: exec.c). */
    [MS_EXEC_CLAIM_GET] = "SELECT exec_id, status, node_id, start_us, run_at_us, held"
                          " FROM task_execs e"
                          " WHERE exec_id IN (" P8 ", " P8 ", " P8 ", " P8 ")",
    [MS_EXEC_CLAIM_LOCK] = "SELECT exec_id, status, node_id, start_us, run_at_us, held"
                           " FROM task_execs e"
                           " WHERE exec_id IN (" P8 ", " P8 ", " P8 ", " P8 ") FOR UPDATE",
    [MS_EXEC_RETRY] = RETRY_SQL("e.exec_id = ? AND e.status IN (3, 4)"),

    [MS_MARK_SET] = "INSERT INTO commit_marks (store_id, slot, token, updated_us)"
                    " VALUES (?, ?, ?, ?)"
                    " ON DUPLICATE KEY UPDATE token = VALUES(token),"
                    " updated_us = VALUES(updated_us)",
    [MS_MARK_GET] = "SELECT token FROM commit_marks WHERE store_id = ? AND slot = ?",
    [MS_MARK_DROP] = "DELETE FROM commit_marks WHERE store_id = ? OR updated_us < ?",
};

MYSQL_STMT *my_stmt(my_store *s, my_conn *c, my_stmt_id id)
{
    if (c->stmt[id]) return c->stmt[id];
    MYSQL_STMT *st = mysql_stmt_init(c->db);
    if (!st) {
        tasker_fail(TASKER_ENOMEM, "mysql: out of memory for a statement");
        return NULL;
    }
    const char *sql = sql_text[id];
    if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
        my_fail_stmt(s, c, st, "preparing a statement");
        mysql_stmt_close(st);
        return NULL;
    }
    c->stmt[id] = st;
    return st;
}

void my_bind_str(MYSQL_BIND *b, const char *s, unsigned long *len)
{
    memset(b, 0, sizeof *b);
    if (!s) {
        b->buffer_type = MYSQL_TYPE_NULL;
        return;
    }
    *len = (unsigned long)strlen(s);
    b->buffer_type = MYSQL_TYPE_STRING;
    b->buffer = (void *)s;
    b->buffer_length = *len;
    b->length = len;
}

void my_bind_i64(MYSQL_BIND *b, const int64_t *v)
{
    memset(b, 0, sizeof *b);
    b->buffer_type = MYSQL_TYPE_LONGLONG;
    b->buffer = (void *)v;
}

void my_bind_int(MYSQL_BIND *b, const int *v)
{
    memset(b, 0, sizeof *b);
    b->buffer_type = MYSQL_TYPE_LONG;
    b->buffer = (void *)v;
}

static int execute(my_store *s, my_conn *c, MYSQL_STMT *st, MYSQL_BIND *params)
{
    if (params && mysql_stmt_bind_param(st, params) != 0)
        return my_fail_stmt(s, c, st, "binding parameters");
    if (mysql_stmt_execute(st) != 0) return my_fail_stmt(s, c, st, "executing a statement");
    return TASKER_OK;
}

int my_run(my_store *s, my_conn *c, my_stmt_id id, MYSQL_BIND *params, uint64_t *affected)
{
    MYSQL_STMT *st = my_stmt(s, c, id);
    if (!st) return TASKER_ESTORAGE;
    int rc = execute(s, c, st, params);
    if (rc == TASKER_OK && affected) *affected = (uint64_t)mysql_stmt_affected_rows(st);
    return rc;
}

#define MAX_COLS 24

typedef struct {
    MYSQL_BIND bind[MAX_COLS];
    int64_t num[MAX_COLS];
    unsigned long len[MAX_COLS];
    my_bool is_null[MAX_COLS];
} row_buf;

static void bind_row(row_buf *r, const my_col *cols, int ncols)
{
    memset(r, 0, sizeof *r);
    for (int i = 0; i < ncols; i++) {
        MYSQL_BIND *b = &r->bind[i];
        b->length = &r->len[i];
        b->is_null = &r->is_null[i];
        if (cols[i].type == MC_STR) {
            b->buffer_type = MYSQL_TYPE_STRING; /* fetched afterwards at its length */
        } else {
            b->buffer_type = MYSQL_TYPE_LONGLONG;
            b->buffer = &r->num[i];
        }
    }
}

/* Stores one fetched row's columns into rec. */
static int store_row(MYSQL_STMT *st, row_buf *r, const my_col *cols, int ncols, char *rec)
{
    for (int i = 0; i < ncols; i++) {
        void *field = rec + cols[i].offset;
        if (cols[i].type != MC_STR) {
            int64_t v = r->is_null[i] ? 0 : r->num[i];
            if (cols[i].type == MC_I64) *(int64_t *)field = v;
            else if (cols[i].type == MC_INT) *(int *)field = (int)v;
            else *(bool *)field = v != 0;
            continue;
        }
        if (r->is_null[i]) continue;
        char *str = malloc(r->len[i] + 1);
        if (!str) return tasker_fail(TASKER_ENOMEM, "mysql: out of memory reading a row");
        if (r->len[i] > 0) {
            MYSQL_BIND b = {0};
            b.buffer_type = MYSQL_TYPE_STRING;
            b.buffer = str;
            b.buffer_length = r->len[i];
            if (mysql_stmt_fetch_column(st, &b, (unsigned)i, 0) != 0) {
                free(str);
                return tasker_fail(TASKER_ESTORAGE, "mysql: reading a column: %s",
                                   mysql_stmt_error(st));
            }
        }
        str[r->len[i]] = '\0';
        *(char **)field = str;
    }
    return TASKER_OK;
}

static void free_records(char *arr, size_t n, size_t rec_size, const my_col *cols, int ncols)
{
    for (size_t k = 0; k < n; k++)
        for (int i = 0; i < ncols; i++)
            if (cols[i].type == MC_STR) free(*(char **)(arr + k * rec_size + cols[i].offset));
    free(arr);
}

static int fetch_all(my_store *s, my_conn *c, MYSQL_STMT *st, const my_col *cols, int ncols,
                     size_t rec_size, char **arr, size_t *n)
{
    row_buf r;
    size_t cap = 0;
    bind_row(&r, cols, ncols);
    if (mysql_stmt_bind_result(st, r.bind) != 0) return my_fail_stmt(s, c, st, "binding a row");
    for (;;) {
        int f = mysql_stmt_fetch(st);
        if (f == MYSQL_NO_DATA) return TASKER_OK;
        if (f == 1) return my_fail_stmt(s, c, st, "reading rows");
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            char *grown = realloc(*arr, ncap * rec_size);
            if (!grown) return tasker_fail(TASKER_ENOMEM, "mysql: out of memory for rows");
            *arr = grown;
            cap = ncap;
        }
        char *rec = *arr + *n * rec_size;
        memset(rec, 0, rec_size);
        (*n)++;
        int rc = store_row(st, &r, cols, ncols, rec);
        if (rc != TASKER_OK) return rc;
    }
}

#define MY_BIG_RESULT 1024 /* rows */

int my_query(my_store *s, my_conn *c, my_stmt_id id, MYSQL_BIND *params, const my_col *cols,
             int ncols, size_t rec_size, void **out, size_t *n)
{
    char *arr = NULL;
    size_t count = 0;
    MYSQL_STMT *st = my_stmt(s, c, id);
    if (!st) return TASKER_ESTORAGE;
    int rc = execute(s, c, st, params);
    if (rc != TASKER_OK) return rc;
    if (mysql_stmt_store_result(st) != 0) rc = my_fail_stmt(s, c, st, "reading rows");
    else rc = fetch_all(s, c, st, cols, ncols, rec_size, &arr, &count);
    mysql_stmt_free_result(st);
    if (count >= MY_BIG_RESULT) {
        /* The client library keeps a statement's result memory for its next execution:
         * after reading every schedule that was about 100 bytes a schedule for as long as
         * the statement stayed prepared. A big read is rare (a reload): prepared anew. */
        mysql_stmt_close(st);
        c->stmt[id] = NULL;
    }
    if (rc != TASKER_OK) {
        free_records(arr, count, rec_size, cols, ncols);
        return rc;
    }
    *out = arr;
    *n = count;
    return TASKER_OK;
}

/* ---- statements prepared per call -------------------------------------------------- */

/* "?, ?, ..., ?" (n marks) appended to sql at *at. */
void my_sql_marks(char *sql, size_t *at, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        memcpy(sql + *at, i ? ", ?" : "?", i ? 3 : 1);
        *at += i ? 3 : 1;
    }
    sql[*at] = '\0';
}

int my_cl_prepare(my_store *s, my_conn *c, const char *sql, MYSQL_BIND *params,
                  MYSQL_STMT **out, const char *what)
{
    MYSQL_STMT *st = mysql_stmt_init(c->db);
    *out = NULL;
    if (!st) return tasker_fail(TASKER_ENOMEM, "mysql: out of memory for a statement");
    if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0 ||
        (params && mysql_stmt_bind_param(st, params) != 0) || mysql_stmt_execute(st) != 0) {
        int rc = my_fail_stmt(s, c, st, what);
        mysql_stmt_close(st);
        return rc;
    }
    *out = st;
    return TASKER_OK;
}

int my_cl_run(my_store *s, my_conn *c, const char *sql, MYSQL_BIND *params,
              uint64_t *affected, const char *what)
{
    MYSQL_STMT *st;
    int rc = my_cl_prepare(s, c, sql, params, &st, what);
    if (rc != TASKER_OK) return rc;
    if (affected) *affected = mysql_stmt_affected_rows(st);
    mysql_stmt_close(st);
    return TASKER_OK;
}

/* Fetches the next row: 1 = a row (strings malloc'd into *cols[i].str, NULL for NULL),
 * 0 = no more rows, or a negative tasker code. */
int my_cl_fetch(my_store *s, my_conn *c, MYSQL_STMT *st, my_cl_col *cols, int n)
{
    MYSQL_BIND b[24];
    unsigned long len[24];
    my_bool is_null[24];
    int64_t ints[24];
    if (n > 24) return tasker_fail(TASKER_EINVAL, "mysql: too many columns");
    memset(b, 0, sizeof b);
    for (int i = 0; i < n; i++) {
        b[i].is_null = &is_null[i];
        b[i].length = &len[i];
        if (cols[i].str) {
            b[i].buffer_type = MYSQL_TYPE_STRING; /* length only: fetched by column below */
        } else {
            b[i].buffer_type = MYSQL_TYPE_LONGLONG;
            b[i].buffer = &ints[i];
        }
    }
    if (mysql_stmt_bind_result(st, b) != 0) return my_fail_stmt(s, c, st, "reading rows");
    int f = mysql_stmt_fetch(st);
    if (f == MYSQL_NO_DATA) return 0;
    if (f == 1) return my_fail_stmt(s, c, st, "reading rows");
    for (int i = 0; i < n; i++) {
        if (!cols[i].str) {
            *cols[i].i64 = is_null[i] ? 0 : ints[i];
            continue;
        }
        *cols[i].str = NULL;
        if (is_null[i]) continue;
        char *v = malloc(len[i] + 1);
        if (!v) return tasker_fail(TASKER_ENOMEM, "mysql: out of memory reading rows");
        MYSQL_BIND one = {0};
        one.buffer_type = MYSQL_TYPE_STRING;
        one.buffer = v;
        one.buffer_length = len[i] + 1;
        if (len[i] && mysql_stmt_fetch_column(st, &one, (unsigned)i, 0) != 0) {
            free(v);
            return my_fail_stmt(s, c, st, "reading a column");
        }
        v[len[i]] = '\0';
        *cols[i].str = v;
    }
    return 1;
}

/* READ COMMITTED: a locking scan keeps locks only on the rows it matched, so that
 * nodes claiming or judging at once skip or wait for each other's rows only. */
int my_cl_begin(my_store *s, my_conn *c, const char *what)
{
    if (mysql_query(c->db, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED") != 0 ||
        mysql_query(c->db, "START TRANSACTION") != 0)
        return my_fail_conn(s, c, what);
    return TASKER_OK;
}

bool my_cl_retryable(unsigned err)
{
    return err == ER_LOCK_DEADLOCK || err == ER_LOCK_WAIT_TIMEOUT;
}

/* Fetches the next row of st (selecting MY_EXEC_COLS) into *e. */
int my_fetch_exec(my_store *s, my_conn *c, MYSQL_STMT *st, tasker_task_exec *e)
{
    int64_t status = 0, success = 0, attempt = 0, priority = 0;
    my_cl_col cols[MY_EXEC_NCOLS] = {
        {.str = &e->exec_id},   {.str = &e->task_id},    {.str = &e->scheme_id},
        {.i64 = &e->scheduled_us}, {.i64 = &e->queued_us}, {.i64 = &e->start_us},
        {.i64 = &e->end_us},    {.i64 = &status},        {.i64 = &success},
        {.str = &e->result},    {.str = &e->error},      {.str = &e->node_id},
        {.i64 = &attempt},      {.str = &e->retry_of},   {.i64 = &e->run_at_us},
        {.i64 = &priority},     {.str = &e->param},      {.str = &e->unique_key},
        {.i64 = &e->timeout_ms}};
    int f = my_cl_fetch(s, c, st, cols, MY_EXEC_NCOLS);
    e->status = (tasker_exec_status)status;
    e->success = success != 0;
    e->attempt = (int)attempt;
    e->priority = (int)priority;
    return f;
}
