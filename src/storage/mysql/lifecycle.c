/* The MySQL driver's job lifecycle (storage version 4, design section 6): cancel,
 * pausing tasks and schedules, the filtered history, the holder of a unique key, and the
 * cancel requests a node reads at its heartbeat. The retries stored in the transaction
 * of the failure they follow are storage/mysql/rows.c's.
 *
 * Cancel and pause are one short transaction each on a pooled connection: they are
 * rare, and going around the group commit keeps them out of the start path's batches.
 * The filtered history is one statement put together from fixed fragments (every value
 * bound), so that each filter present becomes a range on exec_task_newest or
 * exec_newest and the scan stops at the limit. */
#include "core/error.h"
#include "storage/mysql/operations.h"
#include "storage/mysql/rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static my_store *store(tasker_storage *st) { return (my_store *)st; }

/* ---- reading executions ------------------------------------------------------------ */

/* Runs sql (selecting MY_EXEC_COLS) with params and reads at most max rows (0 = all)
 * into a new array. */
static int select_execs(my_store *s, my_conn *c, const char *sql, MYSQL_BIND *params,
                        size_t max, tasker_task_exec **out, size_t *n, const char *what)
{
    MYSQL_STMT *st;
    *out = NULL;
    *n = 0;
    int rc = my_cl_prepare(s, c, sql, params, &st, what);
    if (rc != TASKER_OK) return rc;
    tasker_task_exec *v = NULL;
    size_t len = 0, cap = 0;
    while (!max || len < max) {
        if (len == cap) {
            tasker_task_exec *nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof *v);
            if (!nv) {
                rc = tasker_fail(TASKER_ENOMEM, "mysql: %s: out of memory", what);
                break;
            }
            v = nv;
        }
        memset(&v[len], 0, sizeof v[len]);
        int f = my_fetch_exec(s, c, st, &v[len]);
        if (f <= 0) {
            tasker_exec_clear(&v[len]);
            rc = f < 0 ? f : TASKER_OK;
            break;
        }
        len++;
    }
    mysql_stmt_close(st);
    if (rc != TASKER_OK || !len) {
        tasker_free_execs(v, len);
        return rc;
    }
    *out = v;
    *n = len;
    return TASKER_OK;
}

/* ---- the filtered history ------------------------------------------------------------ */

typedef struct {
    const tasker_exec_filter *f;
    int64_t after_us, limit, mask;
    const char *after_id;
    tasker_task_exec *rows;
    size_t n;
} filter_arg;

static int filter_fn(my_store *s, my_conn *c, void *ctx)
{
    filter_arg *a = ctx;
    const tasker_exec_filter *f = a->f;
    char sql[1024];
    MYSQL_BIND b[8];
    unsigned long len[3];
    int nb = 0;
    /* The index walked newest first: the task's, or every execution's. */
    int at = snprintf(sql, sizeof sql, "SELECT " MY_EXEC_COLS " FROM task_execs FORCE INDEX (%s)"
                      " WHERE 1 = 1", f->task_id ? "exec_task_newest" : "exec_newest");
    if (f->task_id) {
        at += snprintf(sql + at, sizeof sql - (size_t)at, " AND task_id = ?");
        my_bind_str(&b[nb++], f->task_id, &len[0]);
    }
    if (a->mask) {
        at += snprintf(sql + at, sizeof sql - (size_t)at, " AND ((? >> status) & 1) = 1");
        my_bind_i64(&b[nb++], &a->mask);
    }
    if (f->since_us) {
        at += snprintf(sql + at, sizeof sql - (size_t)at, " AND queued_us >= ?");
        my_bind_i64(&b[nb++], &f->since_us);
    }
    if (f->until_us) {
        at += snprintf(sql + at, sizeof sql - (size_t)at, " AND queued_us < ?");
        my_bind_i64(&b[nb++], &f->until_us);
    }
    if (a->after_id) { /* the keyset: strictly older than the last row of the page before */
        at += snprintf(sql + at, sizeof sql - (size_t)at,
                       " AND queued_us <= ? AND (queued_us < ? OR exec_id < ?)");
        my_bind_i64(&b[nb++], &a->after_us);
        my_bind_i64(&b[nb++], &a->after_us);
        my_bind_str(&b[nb++], a->after_id, &len[1]);
    }
    snprintf(sql + at, sizeof sql - (size_t)at,
             " ORDER BY queued_us DESC, exec_id DESC LIMIT ?");
    my_bind_i64(&b[nb++], &a->limit);
    return select_execs(s, c, sql, b, (size_t)a->limit, &a->rows, &a->n,
                        "listing executions");
}

int my_list_task_execs_filter(tasker_storage *st, const tasker_exec_filter *f,
                              int64_t after_queued_us, const char *after_exec_id, size_t limit,
                              tasker_task_exec **out, size_t *n)
{
    if (!f || !out || !n || !limit)
        return tasker_fail(TASKER_EINVAL, "mysql: list_task_execs_filter: NULL argument or "
                           "zero limit");
    *out = NULL;
    *n = 0;
    filter_arg a = {.f = f, .after_us = after_queued_us, .after_id = after_exec_id,
                    .limit = (int64_t)limit, .mask = (int64_t)f->status_mask};
    int rc = my_read(store(st), filter_fn, &a);
    if (rc != TASKER_OK) return rc;
    *out = a.rows;
    *n = a.n;
    return TASKER_OK;
}

/* ---- unique keys and cancel requests ------------------------------------------------- */

typedef struct {
    const char *key1, *key2;
    tasker_task_exec *rows;
    size_t n;
} key_arg;

static int unique_fn(my_store *s, my_conn *c, void *ctx)
{
    key_arg *a = ctx;
    MYSQL_BIND b[2];
    unsigned long len[2];
    my_bind_str(&b[0], a->key1, &len[0]);
    my_bind_str(&b[1], a->key2, &len[1]);
    /* The key's row names its last holder, which holds it while pending or running. */
    return select_execs(s, c, "SELECT " MY_EXEC_COLS " FROM task_execs WHERE exec_id ="
                        " (SELECT u.exec_id FROM exec_unique u WHERE u.task_id = ?"
                        " AND u.unique_key = ?) AND status < 2", b, 1, &a->rows, &a->n,
                        "finding a unique key's run");
}

int my_find_unique_exec(tasker_storage *st, const char *task_id, const char *key,
                        char exec_id_out[TASKER_ID_SIZE])
{
    if (!task_id || !key || !exec_id_out)
        return tasker_fail(TASKER_EINVAL, "mysql: find_unique_exec: NULL argument");
    key_arg a = {.key1 = task_id, .key2 = key};
    int rc = my_read(store(st), unique_fn, &a);
    if (rc != TASKER_OK) return rc;
    if (!a.n)
        return tasker_fail(TASKER_ENOTFOUND, "mysql: no pending or running run of '%s' holds "
                           "key '%s'", task_id, key);
    snprintf(exec_id_out, TASKER_ID_SIZE, "%s", a.rows[0].exec_id);
    tasker_free_execs(a.rows, a.n);
    return TASKER_OK;
}

static int cancels_fn(my_store *s, my_conn *c, void *ctx)
{
    key_arg *a = ctx;
    MYSQL_BIND b[1];
    unsigned long len;
    my_bind_str(&b[0], a->key1, &len);
    /* Along the running runs (exec_queue): as many as run in the cluster. */
    return select_execs(s, c, "SELECT " MY_EXEC_COLS " FROM task_execs"
                        " FORCE INDEX (exec_queue) WHERE status = 1 AND node_id = ?"
                        " AND cancel_requested <> 0", b, 0, &a->rows, &a->n,
                        "reading cancel requests");
}

int my_list_cancel_requests(tasker_storage *st, const char *node_id, tasker_task_exec **out,
                            size_t *n)
{
    if (!node_id || !out || !n)
        return tasker_fail(TASKER_EINVAL, "mysql: list_cancel_requests: NULL argument");
    key_arg a = {.key1 = node_id};
    int rc = my_read(store(st), cancels_fn, &a);
    if (rc != TASKER_OK) return rc;
    *out = a.rows;
    *n = a.n;
    return TASKER_OK;
}

/* ---- cancel and pause ----------------------------------------------------------------- */

typedef struct {
    const char *exec_id;
    int64_t now_us;
    int64_t status; /* found, -1 when absent */
} cancel_arg;

/* The status is read under a row lock, so that `was` is the status the cancel acted on. */
static int cancel_fn(my_store *s, my_conn *c, void *ctx)
{
    cancel_arg *a = ctx;
    MYSQL_BIND b[2];
    unsigned long len;
    MYSQL_STMT *st;
    a->status = -1;
    int rc = my_cl_begin(s, c, "starting a cancel");
    if (rc != TASKER_OK) return rc;
    my_bind_str(&b[0], a->exec_id, &len);
    rc = my_cl_prepare(s, c, "SELECT status FROM task_execs WHERE exec_id = ? FOR UPDATE", b,
                       &st, "reading the run to cancel");
    if (rc == TASKER_OK) {
        my_cl_col col = {.i64 = &a->status};
        int f = my_cl_fetch(s, c, st, &col, 1);
        mysql_stmt_close(st);
        if (f < 0) rc = f;
    }
    /* Pending: cancelled now. Running: its cancel request, for the node running it.
     * (SET runs left to right: status last, so that the others see the old one.) */
    if (rc == TASKER_OK && (a->status == TASKER_EXEC_PENDING || a->status == TASKER_EXEC_RUNNING)) {
        my_bind_i64(&b[0], &a->now_us);
        my_bind_str(&b[1], a->exec_id, &len);
        rc = my_cl_run(s, c, "UPDATE task_execs SET"
                       " end_us = IF(status = 0, ?, end_us),"
                       " error = IF(status = 0, 'cancelled', error),"
                       " cancel_requested = IF(status = 1, 1, cancel_requested),"
                       " status = IF(status = 0, 6, status)"
                       " WHERE exec_id = ? AND status < 2", b, NULL, "cancelling a run");
    }
    if (rc == TASKER_OK && mysql_commit(c->db) != 0) rc = my_fail_conn(s, c, "committing a cancel");
    if (rc != TASKER_OK && !c->broken) mysql_rollback(c->db);
    return rc;
}

int my_cancel_task_exec(tasker_storage *st, const char *exec_id, int64_t now_us,
                        tasker_exec_status *was)
{
    if (!exec_id) return tasker_fail(TASKER_EINVAL, "mysql: cancel_task_exec: NULL exec id");
    cancel_arg a = {.exec_id = exec_id, .now_us = now_us};
    int rc = my_read(store(st), cancel_fn, &a);
    if (rc != TASKER_OK) return rc;
    if (a.status < 0) return tasker_fail(TASKER_ENOTFOUND, "mysql: no execution '%s'", exec_id);
    if (was) *was = (tasker_exec_status)a.status;
    if (a.status != TASKER_EXEC_PENDING && a.status != TASKER_EXEC_RUNNING)
        return tasker_fail(TASKER_ESTATE, "mysql: execution '%s' is %s: finished, not "
                           "cancelled", exec_id,
                           tasker_exec_status_name((tasker_exec_status)a.status));
    return TASKER_OK;
}

typedef struct {
    const char *sql, *what, *id;
    int paused;
    int64_t now_us;
    uint64_t matched;
    unsigned last_errno; /* of a failed attempt: a deadlock is tried again */
    bool task;           /* a task: its pending runs' held follows, in the same write */
} pause_arg;

static int pause_fn(my_store *s, my_conn *c, void *ctx)
{
    pause_arg *a = ctx;
    MYSQL_BIND b[5];
    unsigned long len;
    int nb = 0;
    if (a->now_us >= 0) { /* a schedule: resuming moves its last fire up to now */
        my_bind_int(&b[nb++], &a->paused);
        my_bind_i64(&b[nb++], &a->now_us);
        my_bind_i64(&b[nb++], &a->now_us);
    }
    my_bind_int(&b[nb++], &a->paused);
    my_bind_str(&b[nb++], a->id, &len);
    /* With the schedules' change counter in the same transaction (my_bump_schemes,
     * storage/mysql/rows.c). */
    int rc = my_cl_begin(s, c, a->what);
    if (rc == TASKER_OK)
        rc = my_cl_run(s, c, a->sql, b, &a->matched, a->what); /* matched: CLIENT_FOUND_ROWS */
    if (rc == TASKER_OK && a->matched) rc = my_bump_schemes(s, c);
    if (rc == TASKER_OK && a->matched && a->task) rc = my_task_held_sync(s, c, a->id);
    if (rc == TASKER_OK && mysql_commit(c->db) != 0) rc = my_fail_conn(s, c, a->what);
    a->last_errno = rc == TASKER_OK ? 0 : c->last_errno;
    if (rc != TASKER_OK && !c->broken) mysql_rollback(c->db);
    return rc;
}

/* The counter's row is every change's: a pause may meet a batch of adds in a deadlock,
 * which rolled it back whole; it is tried again. */
static int pause_run(my_store *s, pause_arg *a)
{
    int rc = TASKER_ESTORAGE;
    for (int attempt = 0; attempt < 3; attempt++) {
        rc = my_read(s, pause_fn, a);
        if (rc == TASKER_OK || !my_cl_retryable(a->last_errno)) break;
    }
    return rc;
}

int my_set_task_paused(tasker_storage *st, const char *task_id, bool paused)
{
    if (!task_id) return tasker_fail(TASKER_EINVAL, "mysql: set_task_paused: NULL task id");
    pause_arg a = {.sql = "UPDATE tasks SET paused = ? WHERE task_id = ?",
                   .what = "pausing a task", .id = task_id, .paused = paused, .now_us = -1,
                   .task = true};
    int rc = pause_run(store(st), &a);
    if (rc == TASKER_OK && !a.matched)
        return tasker_fail(TASKER_ENOTFOUND, "mysql: no task '%s'", task_id);
    return rc;
}

int my_set_scheme_paused(tasker_storage *st, const char *scheme_id, bool paused,
                         int64_t now_us)
{
    if (!scheme_id)
        return tasker_fail(TASKER_EINVAL, "mysql: set_scheme_paused: NULL schedule id");
    pause_arg a = {.sql = "UPDATE task_schemes SET last_fire_us = IF(? = 0 AND"
                          " last_fire_us < ?, ?, last_fire_us), paused = ?"
                          " WHERE scheme_id = ?",
                   .what = "pausing a schedule", .id = scheme_id, .paused = paused,
                   .now_us = now_us < 0 ? 0 : now_us};
    int rc = pause_run(store(st), &a);
    if (rc == TASKER_OK && !a.matched)
        return tasker_fail(TASKER_ENOTFOUND, "mysql: no schedule '%s'", scheme_id);
    return rc;
}
