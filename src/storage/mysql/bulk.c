/* The MySQL driver's bulk writes: within one group-commit batch, the new executions,
 * starts, events and outcomes of many runs go to the server as one array-bound
 * statement per kind (MariaDB's COM_STMT_BULK_EXECUTE), instead of one round trip per
 * row. A bulk statement reports only a total, so each write's own result is found so:
 *
 * - Adds, events and outcomes need no savepoint (group_run): a bulk INSERT that fails
 *   (a duplicate id, a missing execution) is undone whole by InnoDB's statement
 *   rollback, and an outcome found already written is recognised as such (exec.c); so
 *   when one fails or falls short, its writes run again one by one. Adds check their
 *   tasks first.
 * - The claim round (my_bulk_starts) is one compare-and-set statement for all the
 *   batch's starts, in exec id order (two nodes' rounds then lock rows in the same
 *   order). When every row matched, each start took its run. When not (another node or
 *   caller took some), a total cannot say which: the batch is rolled back and run again
 *   with the careful round, which locks and reads the rows first (MY_CLAIM_READ per
 *   query) and then moves only the pending ones.
 *
 * Servers without bulk support (MySQL) always go one by one. */
#include "core/error.h"
#include "storage/mysql/group.h"

#include <mysqld_error.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BULK_MIN 2 /* a lone write goes the ordinary way */

static bool bulk_supported(my_conn *c)
{
    if (c->bulk < 0) {
        unsigned long caps = 0, ext = 0;
        mariadb_get_infov(c->db, MARIADB_CONNECTION_SERVER_CAPABILITIES, &caps);
        mariadb_get_infov(c->db, MARIADB_CONNECTION_EXTENDED_SERVER_CAPABILITIES, &ext);
        c->bulk = !(caps & CLIENT_MYSQL) && (ext & (MARIADB_CLIENT_STMT_BULK_OPERATIONS >> 32));
    }
    return c->bulk > 0;
}

#define MAX_COLS 19

/* Column arrays for up to n rows of a bulk statement. */
typedef struct {
    MYSQL_BIND bind[MAX_COLS];
    const char **str[MAX_COLS];
    unsigned long *len[MAX_COLS];
    char *ind[MAX_COLS];
    int64_t *i64[MAX_COLS];
    int *i32[MAX_COLS];
} columns;

static void columns_free(columns *cols)
{
    for (int k = 0; k < MAX_COLS; k++) {
        free(cols->str[k]);
        free(cols->len[k]);
        free(cols->ind[k]);
        free(cols->i64[k]);
        free(cols->i32[k]);
    }
}

static bool col_str(columns *cols, int k, size_t n)
{
    MYSQL_BIND *b = &cols->bind[k];
    cols->str[k] = calloc(n, sizeof(char *));
    cols->len[k] = calloc(n, sizeof(unsigned long));
    cols->ind[k] = calloc(n, 1);
    b->buffer_type = MYSQL_TYPE_STRING;
    b->buffer = cols->str[k];
    b->length = cols->len[k];
    b->u.indicator = cols->ind[k];
    return cols->str[k] && cols->len[k] && cols->ind[k];
}

static void set_str(columns *cols, int k, size_t row, const char *v)
{
    cols->str[k][row] = v;
    cols->len[k][row] = v ? (unsigned long)strlen(v) : 0;
    cols->ind[k][row] = v ? STMT_INDICATOR_NONE : STMT_INDICATOR_NULL;
}

static bool col_i64(columns *cols, int k, size_t n)
{
    cols->i64[k] = calloc(n, sizeof(int64_t));
    cols->bind[k].buffer_type = MYSQL_TYPE_LONGLONG;
    cols->bind[k].buffer = cols->i64[k];
    return cols->i64[k] != NULL;
}

static bool col_int(columns *cols, int k, size_t n)
{
    cols->i32[k] = calloc(n, sizeof(int));
    cols->bind[k].buffer_type = MYSQL_TYPE_LONG;
    cols->bind[k].buffer = cols->i32[k];
    return cols->i32[k] != NULL;
}

/* The columns of MS_EXEC_INSERT, in its order. */
static bool fill_add(my_write **w, size_t n, columns *cols)
{
    static const char types[] = "ssiiiiiisssisiissis"; /* s string, i 64-bit */
    for (int k = 0; k < 19; k++) {
        bool ok = types[k] == 's' ? col_str(cols, k, n) : col_i64(cols, k, n);
        if (!ok) return false;
    }
    for (size_t i = 0; i < n; i++) {
        const tasker_task_exec *e = w[i]->arg;
        set_str(cols, 0, i, e->exec_id);
        set_str(cols, 1, i, e->scheme_id);
        cols->i64[2][i] = e->scheduled_us;
        cols->i64[3][i] = e->queued_us;
        cols->i64[4][i] = e->start_us;
        cols->i64[5][i] = e->end_us;
        cols->i64[6][i] = (int64_t)e->status;
        cols->i64[7][i] = e->success ? 1 : 0;
        set_str(cols, 8, i, e->result);
        set_str(cols, 9, i, e->error);
        set_str(cols, 10, i, e->node_id);
        cols->i64[11][i] = e->attempt > 0 ? e->attempt : 1;
        set_str(cols, 12, i, e->retry_of);
        cols->i64[13][i] = e->run_at_us;
        cols->i64[14][i] = e->priority;
        set_str(cols, 15, i, e->param);
        set_str(cols, 16, i, e->unique_key);
        cols->i64[17][i] = e->timeout_ms;
        set_str(cols, 18, i, e->task_id);
    }
    return true;
}

static bool fill_start(my_write **w, size_t n, columns *cols)
{
    if (!col_i64(cols, 0, n) || !col_str(cols, 1, n) || !col_str(cols, 2, n) ||
        !col_i64(cols, 3, n))
        return false;
    for (size_t i = 0; i < n; i++) {
        const my_start_arg *a = w[i]->arg;
        cols->i64[0][i] = a->start_us;
        set_str(cols, 1, i, a->node_id);
        set_str(cols, 2, i, a->exec_id);
        cols->i64[3][i] = a->start_us; /* due: run_at_us <= the start time */
    }
    return true;
}

/* Fills the columns of statement kind for the writes w[0..n). */
static bool fill(my_write_kind kind, my_write **w, size_t n, columns *cols)
{
    if (kind == MW_ADD) return fill_add(w, n, cols);
    if (kind == MW_START) return fill_start(w, n, cols);
    if (kind == MW_EVENT) {
        if (!col_str(cols, 0, n) || !col_i64(cols, 1, n) || !col_int(cols, 2, n) ||
            !col_str(cols, 3, n))
            return false;
        for (size_t i = 0; i < n; i++) {
            const tasker_task_event *ev = w[i]->arg;
            set_str(cols, 0, i, ev->exec_id);
            cols->i64[1][i] = ev->time_us;
            cols->i32[2][i] = (int)ev->level;
            set_str(cols, 3, i, ev->message ? ev->message : "");
        }
        return true;
    }
    if (!col_int(cols, 0, n) || !col_i64(cols, 1, n) || !col_int(cols, 2, n) ||
        !col_str(cols, 3, n) || !col_str(cols, 4, n) || !col_str(cols, 5, n) ||
        !col_str(cols, 6, n) || !col_str(cols, 7, n))
        return false;
    for (size_t i = 0; i < n; i++) { /* MS_EXEC_UPDATE_BULK: the outcome, fenced */
        const tasker_task_exec *e = w[i]->arg;
        cols->i32[0][i] = (int)e->status;
        cols->i64[1][i] = e->end_us;
        cols->i32[2][i] = e->success ? 1 : 0;
        set_str(cols, 3, i, e->result);
        set_str(cols, 4, i, e->error);
        set_str(cols, 5, i, e->exec_id);
        set_str(cols, 6, i, e->node_id);
        set_str(cols, 7, i, e->node_id); /* twice: see MS_EXEC_UPDATE */
    }
    return true;
}

/* Whether every add's task exists (share-locked until the transaction ends, so that it
 * cannot be removed before the adds commit). */
static int tasks_exist(my_store *s, my_conn *c, my_write **w, size_t n, bool *all)
{
    /* One locking read per 512 tasks (storage/mysql/herd.c), not one per task: a herd's
     * adds are of as many tasks as runs. */
    const char **ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids) return tasker_fail(TASKER_ENOMEM, "mysql: out of memory checking tasks");
    for (size_t i = 0; i < n; i++) ids[i] = ((const tasker_task_exec *)w[i]->arg)->task_id;
    int rc = my_tasks_exist(s, c, ids, n, all);
    free(ids);
    return rc;
}

/* Runs the bulk statement. TASKER_OK when every row took effect; TASKER_EINVAL when
 * some did not (the caller rolls back and goes row by row); TASKER_ESTORAGE when the
 * connection failed. */
static int bulk_run(my_store *s, my_conn *c, my_write_kind kind, my_write **w, size_t n)
{
    columns cols;
    memset(&cols, 0, sizeof cols);
    int rc = TASKER_EINVAL;
    static const my_stmt_id ids[] = {[MW_ADD] = MS_EXEC_INSERT_BULK,
                                      [MW_START] = MS_EXEC_START_BULK,
                                      [MW_EVENT] = MS_EVENT_INSERT_BULK,
                                      [MW_UPDATE] = MS_EXEC_UPDATE_BULK};
    my_stmt_id id = ids[kind];
    MYSQL_STMT *st = my_stmt(s, c, id);
    if (!st) {
        rc = c->broken ? TASKER_ESTORAGE : TASKER_EINVAL;
        goto out;
    }
    if (kind == MW_ADD) {
        for (size_t i = 0; i < n; i++) /* a run's unique key is taken one by one (exec.c) */
            if (((const tasker_task_exec *)w[i]->arg)->unique_key) goto out;
        bool all = w[0]->task_known; /* read by the caller: every write's, or none's */
        if (!all && tasks_exist(s, c, w, n, &all) != TASKER_OK) {
            rc = c->broken ? TASKER_ESTORAGE : TASKER_EINVAL;
            goto out;
        }
        if (!all) goto out; /* one by one: each add without its task fails alone */
    }
    if (!fill(kind, w, n, &cols)) goto out;
    unsigned int rows = (unsigned int)n;
    if (mysql_stmt_attr_set(st, STMT_ATTR_ARRAY_SIZE, &rows) != 0 ||
        mysql_stmt_bind_param(st, cols.bind) != 0) {
        my_fail_stmt(s, c, st, "binding a bulk statement");
        goto out;
    }
    if (mysql_stmt_execute(st) != 0) {
        my_fail_stmt(s, c, st, "executing a bulk statement");
        rc = c->broken ? TASKER_ESTORAGE : TASKER_EINVAL;
        goto out;
    }
    if ((uint64_t)mysql_stmt_affected_rows(st) == n) rc = TASKER_OK;
out:
    columns_free(&cols);
    return rc;
}

/* A lost connection or a deadlock ends the transaction, not just the write: then the
 * batch fails (to run again) rather than go on outside any transaction. */
static int run_one_by_one(my_store *s, my_conn *c, my_write **w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        w[i]->rc = w[i]->fn(s, c, w[i]);
        if (w[i]->rc != TASKER_OK) {
            snprintf(w[i]->err, sizeof w[i]->err, "%s", tasker_last_error());
            if (my_trx_lost(c)) return TASKER_ESTORAGE;
        }
        c->last_errno = 0;
    }
    return TASKER_OK;
}

/* Every row took effect: each add found its task and each start its pending execution. */
static void bulk_took_effect(my_write_kind kind, my_write **w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        w[i]->rc = TASKER_OK;
        if (kind == MW_ADD)
            w[i]->task_id_for_retention = ((const tasker_task_exec *)w[i]->arg)->task_id;
        else if (kind == MW_START)
            w[i]->claimed = true;
    }
}

/* The careful claim round: locks the rows and reads their status first (SELECT ... FOR
 * UPDATE), then moves the pending ones, which then all match. Exact whoever else
 * claimed them, with one round trip more than the fast round. */
static int starts_locked(my_store *s, my_conn *c, my_write **w, size_t n)
{
    my_claim_row *rows = NULL;
    size_t nrows = 0, k = 0;
    int rc = my_claim_rows_locked(s, c, w, n, &rows, &nrows);
    if (rc != TASKER_OK) return TASKER_ESTORAGE;
    my_write **todo = malloc(n * sizeof *todo);
    if (!todo) {
        my_claim_rows_free(rows, nrows);
        return tasker_fail(TASKER_ENOMEM, "mysql: out of memory for a claim round");
    }
    for (size_t i = 0; i < n; i++) {
        const my_start_arg *a = w[i]->arg;
        const my_claim_row *row = NULL;
        for (size_t r = 0; r < nrows && !row; r++)
            if (strcmp(rows[r].exec_id, a->exec_id) == 0) row = &rows[r];
        if (row && row->status == TASKER_EXEC_PENDING) {
            todo[k++] = w[i];
            continue;
        }
        w[i]->rc = row ? TASKER_ESTATE : TASKER_ENOTFOUND;
        if (row)
            snprintf(w[i]->err, sizeof w[i]->err, "mysql: execution '%s' is %s, not pending",
                     a->exec_id, tasker_exec_status_name((tasker_exec_status)row->status));
        else
            snprintf(w[i]->err, sizeof w[i]->err, "mysql: no execution '%s'", a->exec_id);
    }
    my_claim_rows_free(rows, nrows);
    rc = TASKER_OK;
    if (k >= BULK_MIN && bulk_supported(c)) {
        rc = bulk_run(s, c, MW_START, todo, k);
        if (rc == TASKER_OK) bulk_took_effect(MW_START, todo, k);
        else if (!my_trx_lost(c)) /* locked, yet not taken */
            rc = tasker_fail(TASKER_ESTORAGE, "mysql: %s: locked pending runs were not "
                             "claimed", s->where);
        else rc = TASKER_ESTORAGE;
    } else if (k) {
        rc = run_one_by_one(s, c, todo, k);
    }
    free(todo);
    return rc;
}

int my_bulk_starts(my_store *s, my_conn *c, my_write **w, size_t n, bool careful)
{
    for (size_t i = 0; i < n; i++) w[i]->claimed = false;
    if (n < BULK_MIN || !bulk_supported(c)) return run_one_by_one(s, c, w, n);
    if (careful) {
        /* On a Galera member the careful round moves each row with its own
         * compare-and-set (its count tells which were taken) rather than locking them
         * first: a lane whose locking read (SELECT ... FOR UPDATE) met a conflict hung
         * 8-30 s at that read, with the member's session idle, in 4 of 4 stalls caught
         * (docs/cluster.md, "Work split on Galera"). */
        bool galera = false;
        if (my_conn_wsrep(s, c, &galera) != TASKER_OK) return TASKER_ESTORAGE;
        return galera ? run_one_by_one(s, c, w, n) : starts_locked(s, c, w, n);
    }
    int rc = bulk_run(s, c, MW_START, w, n);
    if (rc == TASKER_OK) {
        bulk_took_effect(MW_START, w, n);
        return TASKER_OK;
    }
    if (my_trx_lost(c)) return TASKER_ESTORAGE;
    /* Some rows did not match, and which ones a total does not say: the transaction is
     * run again with the careful round. */
    c->last_errno = 0;
    return MY_CLAIM_AGAIN;
}

/* Runs n adds, events or outcomes as one bulk statement, with no savepoint: a bulk
 * INSERT that fails is undone whole by InnoDB's statement rollback (a duplicate or a
 * missing row anywhere in the array leaves none of its rows), and an outcome the
 * statement did write is recognised as written when run again (exec.c). So when the statement failed or fell short, the writes
 * simply run again one by one, each getting its own result. A deadlock, though, rolled
 * back the whole transaction: that fails the batch (to be run again). */
static int group_run(my_store *s, my_conn *c, my_write_kind kind, my_write **w, size_t n)
{
    if (n < BULK_MIN || !bulk_supported(c)) return run_one_by_one(s, c, w, n);
    int rc = bulk_run(s, c, kind, w, n);
    if (rc == TASKER_OK) {
        bulk_took_effect(kind, w, n);
        /* The failures' retries, in this transaction (job lifecycle, rows.c). */
        return kind == MW_UPDATE ? my_store_retries(s, c, w, n) : TASKER_OK;
    }
    if (my_trx_lost(c)) return TASKER_ESTORAGE;
    c->last_errno = 0;
    return run_one_by_one(s, c, w, n);
}

int my_bulk_whole(my_store *s, my_conn *c, my_write_kind kind, my_write **w, size_t n)
{
    if (n >= BULK_MIN && bulk_supported(c)) {
        if (bulk_run(s, c, kind, w, n) == TASKER_OK) {
            bulk_took_effect(kind, w, n);
            return TASKER_OK;
        }
        if (my_trx_lost(c)) return TASKER_ESTORAGE;
        c->last_errno = 0;
    }
    /* One by one, to name the first at fault; the savepoint undoes those before it. */
    int rc = my_exec_once(s, c, "SAVEPOINT tasker_whole");
    for (size_t i = 0; i < n && rc == TASKER_OK; i++) rc = w[i]->fn(s, c, w[i]);
    if (rc == TASKER_OK) return my_exec_once(s, c, "RELEASE SAVEPOINT tasker_whole");
    if (my_trx_lost(c)) return TASKER_ESTORAGE;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", tasker_last_error());
    if (my_exec_once(s, c, "ROLLBACK TO SAVEPOINT tasker_whole") != TASKER_OK)
        return TASKER_ESTORAGE;
    return tasker_fail(rc, "%s", msg);
}

int my_bulk_groups(my_store *s, my_conn *c, const my_write_kind *kinds, my_write ***group,
                   const size_t *n, int ngroups)
{
    int rc = TASKER_OK;
    for (int g = 0; g < ngroups && rc == TASKER_OK; g++)
        if (n[g]) rc = group_run(s, c, kinds[g], group[g], n[g]);
    return rc;
}
