/* The MySQL driver's rows that several parts write or read inside their transaction:
 * a start's row read back (the write path's claim round and cut-off COMMITs, exec.c's
 * single start), a task's columns and whether its pending runs are held, the
 * schedules' change counter, and the retry stored with a failure. Retention is
 * retain.c's and herd.c's, in the same part (rows.h).
 *
 * Every function here runs on the caller's connection, in its open transaction. */
#include "core/error.h"
#include "storage/mysql/rows.h"

#include <mysqld_error.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a start's row, read back ------------------------------------------------------ */

int my_claim_verdict(my_write *w, const my_claim_row *row)
{
    const my_start_arg *a = w->arg;
    if (!row) {
        snprintf(w->err, sizeof w->err, "mysql: no execution '%s'", a->exec_id);
        return TASKER_ENOTFOUND;
    }
    if (row->status == TASKER_EXEC_RUNNING && row->start_us == a->start_us && row->node_id &&
        a->node_id && strcmp(row->node_id, a->node_id) == 0)
        return TASKER_OK;
    if (row->status == TASKER_EXEC_PENDING) { /* its claim did not stick: not started */
        snprintf(w->err, sizeof w->err, "mysql: execution '%s' was not started: its claim "
                 "was rolled back; it stays pending", a->exec_id);
        return TASKER_ESTORAGE;
    }
    snprintf(w->err, sizeof w->err, "mysql: execution '%s' is %s, not pending", a->exec_id,
             tasker_exec_status_name((tasker_exec_status)row->status));
    return TASKER_ESTATE;
}

int my_runs_ours(my_store *s, my_conn *c, char *const *ids, size_t n, const char *node_id,
                 int64_t start_us, bool causal, bool *exists, bool *ours)
{
    for (size_t i = 0; i < n; i++) {
        ours[i] = false;
        if (exists) exists[i] = false;
    }
    if (!n) return TASKER_OK;
    char *sql = malloc(200 + 3 * n);
    MYSQL_BIND *p = calloc(n + 2, sizeof *p);
    unsigned long *len = calloc(n + 1, sizeof *len);
    int rc = sql && p && len ? TASKER_OK
                             : tasker_fail(TASKER_ENOMEM, "mysql: out of memory reading runs back");
    MYSQL_STMT *st = NULL;
    if (rc == TASKER_OK) {
        my_bind_str(&p[0], node_id, &len[0]);
        my_bind_i64(&p[1], &start_us);
        for (size_t i = 0; i < n; i++) my_bind_str(&p[2 + i], ids[i], &len[1 + i]);
        size_t at = (size_t)sprintf(sql, "%sSELECT exec_id, status = 1 AND node_id = ? AND"
                                         " start_us = ? FROM task_execs WHERE exec_id IN (",
                                    causal ? MY_CAUSAL : "");
        my_sql_marks(sql, &at, n);
        strcpy(sql + at, ")");
        rc = my_cl_prepare(s, c, sql, p, &st, "reading runs back after COMMIT");
    }
    while (rc == TASKER_OK) {
        char *id = NULL;
        int64_t mine = 0;
        my_cl_col cols[2] = {{.str = &id}, {.i64 = &mine}};
        int f = my_cl_fetch(s, c, st, cols, 2);
        if (f <= 0) {
            free(id);
            rc = f;
            break;
        }
        for (size_t i = 0; id && i < n; i++) {
            if (strcmp(ids[i], id) != 0) continue;
            if (exists) exists[i] = true;
            ours[i] = mine != 0;
        }
        free(id);
    }
    if (st) mysql_stmt_close(st);
    free(sql);
    free(p);
    free(len);
    return rc;
}

void my_claim_rows_free(my_claim_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].exec_id);
        free(rows[i].node_id);
    }
    free(rows);
}

/* Appends the rows of up to MY_CLAIM_READ starts to *rows. */
static int claim_rows_part(my_store *s, my_conn *c, my_stmt_id id, my_write **w, size_t n,
                           my_claim_row **rows, size_t *nrows)
{
    static const my_col cols[] = {
        {MC_STR, offsetof(my_claim_row, exec_id)},
        {MC_INT, offsetof(my_claim_row, status)},
        {MC_STR, offsetof(my_claim_row, node_id)},
        {MC_I64, offsetof(my_claim_row, start_us)},
        {MC_I64, offsetof(my_claim_row, run_at_us)},
        {MC_BOOL, offsetof(my_claim_row, held)},
    };
    MYSQL_BIND p[MY_CLAIM_READ];
    unsigned long len[MY_CLAIM_READ];
    for (size_t i = 0; i < MY_CLAIM_READ; i++)
        my_bind_str(&p[i], i < n ? ((const my_start_arg *)w[i]->arg)->exec_id : NULL, &len[i]);
    my_claim_row *part = NULL;
    size_t k = 0;
    int rc = my_query(s, c, id, p, cols, MY_NCOLS(cols), sizeof *part,
                      (void **)&part, &k);
    if (rc != TASKER_OK || k == 0) return rc;
    my_claim_row *grown = realloc(*rows, (*nrows + k) * sizeof *grown);
    if (!grown) {
        my_claim_rows_free(part, k);
        return tasker_fail(TASKER_ENOMEM, "mysql: out of memory reading claims back");
    }
    memcpy(grown + *nrows, part, k * sizeof *part);
    free(part);
    *rows = grown;
    *nrows += k;
    return TASKER_OK;
}

static int claim_rows(my_store *s, my_conn *c, my_stmt_id id, my_write **w, size_t n,
                      my_claim_row **rows, size_t *nrows)
{
    *rows = NULL;
    *nrows = 0;
    int rc = TASKER_OK;
    for (size_t at = 0; at < n && rc == TASKER_OK; at += MY_CLAIM_READ)
        rc = claim_rows_part(s, c, id, w + at,
                             n - at < MY_CLAIM_READ ? n - at : MY_CLAIM_READ, rows, nrows);
    if (rc != TASKER_OK) {
        my_claim_rows_free(*rows, *nrows);
        *rows = NULL;
        *nrows = 0;
    }
    return rc;
}

int my_claim_rows(my_store *s, my_conn *c, my_write **w, size_t n, my_claim_row **rows,
                  size_t *nrows)
{
    return claim_rows(s, c, MS_EXEC_CLAIM_GET, w, n, rows, nrows);
}

/* Whether the start w may take the pending run of row (job lifecycle). */
static bool startable(const my_write *w, const my_claim_row *row)
{
    return row->run_at_us <= ((const my_start_arg *)w->arg)->start_us && !row->held;
}

int my_claim_rows_locked(my_store *s, my_conn *c, my_write **w, size_t n, my_claim_row **rows,
                         size_t *nrows)
{
    int rc = claim_rows(s, c, MS_EXEC_CLAIM_LOCK, w, n, rows, nrows);
    for (size_t r = 0; rc == TASKER_OK && r < *nrows; r++) {
        my_claim_row *row = &(*rows)[r];
        if (row->status != TASKER_EXEC_PENDING) continue;
        for (size_t i = 0; i < n; i++)
            if (strcmp(((const my_start_arg *)w[i]->arg)->exec_id, row->exec_id) == 0 &&
                !startable(w[i], row))
                row->status = MY_STATUS_HELD;
    }
    return rc;
}

/* ---- tasks -------------------------------------------------------------------------- */

void my_bind_task(MYSQL_BIND *p, unsigned long len[4], int *paused, const tasker_task *t)
{
    my_bind_str(&p[0], t->task_id, &len[0]);
    my_bind_str(&p[1], t->handler, &len[1]);
    my_bind_str(&p[2], t->param ? t->param : "null", &len[2]);
    my_bind_str(&p[3], t->desc, &len[3]);
    my_bind_int(&p[4], &t->max_attempts);
    my_bind_i64(&p[5], &t->backoff_ms);
    my_bind_i64(&p[6], &t->backoff_max_ms);
    my_bind_i64(&p[7], &t->timeout_ms);
    my_bind_int(&p[8], &t->max_concurrency);
    my_bind_int(&p[9], &t->priority);
    my_bind_int(&p[10], &t->max_execs);
    my_bind_i64(&p[11], &t->max_exec_age_s);
    *paused = t->paused ? 1 : 0;
    my_bind_int(&p[12], paused);
}

int my_task_held_sync(my_store *s, my_conn *c, const char *task_id)
{
    MYSQL_BIND b[1];
    unsigned long len;
    my_bind_str(&b[0], task_id, &len);
    /* Only the runs whose state changes are written (and, in READ COMMITTED, stay
     * locked); exec_task_done finds the task's pending runs. */
    return my_cl_run(s, c, "UPDATE task_execs e FORCE INDEX (exec_task_done)"
                     " JOIN tasks t ON t.task_id = e.task_id"
                     " SET e.held = (t.paused <> 0 OR t.max_concurrency > 0)"
                     " WHERE e.task_id = ? AND e.status = 0"
                     " AND e.held <> (t.paused <> 0 OR t.max_concurrency > 0)", b, NULL,
                     "writing whether a task's pending runs are held");
}

/* ---- the schedules' change counter (migration 6) ----------------------------------- */

int my_bump_schemes(my_store *s, my_conn *c)
{
    int rc = my_exec_once(s, c, "UPDATE scheme_version SET v = v + 1");
    if (rc != TASKER_OK && c->last_errno == ER_NO_SUCH_TABLE) {
        /* A store held below version 6 by a test (my_test_schema_target) has no counter:
         * nothing to bump (the statement failed alone; readers reread every second). */
        c->last_errno = 0;
        return TASKER_OK;
    }
    if (rc != TASKER_OK) {
        char why[400];
        snprintf(why, sizeof why, "%s", tasker_last_error());
        return tasker_fail(rc, "mysql: bumping the schedules' change counter: %s", why);
    }
    return TASKER_OK;
}

/* ---- retries ------------------------------------------------------------------------ */

/* The retry just stored for the failed run exec_id takes over the unique key the failed
 * run held (exec.c), in the same transaction: no other run can take it in between. A
 * run without a key matches nothing (exec_unique_holder). */
static int pass_key_on(my_store *s, my_conn *c, const char *exec_id)
{
    MYSQL_BIND b[1];
    unsigned long len;
    my_bind_str(&b[0], exec_id, &len);
    return my_cl_run(s, c, "UPDATE exec_unique u JOIN task_execs e ON e.exec_id = u.exec_id"
                     " SET u.exec_id = CONCAT(COALESCE(e.retry_of, e.exec_id), '.',"
                     " e.attempt + 1) WHERE u.exec_id = ?", b, NULL,
                     "passing a unique key on to a retry");
}

/* A retry is an add like any other: the write that stores it applies its task's
 * retention at once (max_execs, max_exec_age_s), as the other drivers do, and takes
 * over its failed attempt's unique key. Failures are the rare path, so the task's id is
 * read back rather than carried by every outcome. */
static int retry_and_retain(my_store *s, my_conn *c, const char *exec_id)
{
    MYSQL_BIND b[1];
    unsigned long len;
    uint64_t stored = 0;
    my_bind_str(&b[0], exec_id, &len);
    int rc = my_run(s, c, MS_EXEC_RETRY, b, &stored); /* only if it failed or was cut off */
    if (rc != TASKER_OK || stored == 0) return rc;
    if ((rc = pass_key_on(s, c, exec_id)) != TASKER_OK) return rc;
    MYSQL_STMT *st;
    my_bind_str(&b[0], exec_id, &len);
    rc = my_cl_prepare(s, c, "SELECT task_id FROM task_execs WHERE exec_id = ?", b, &st,
                       "reading a retried run's task");
    if (rc != TASKER_OK) return rc;
    char *task_id = NULL;
    my_cl_col col = {.str = &task_id};
    int f = my_cl_fetch(s, c, st, &col, 1);
    mysql_stmt_close(st);
    if (f < 0) return f;
    if (f > 0 && task_id) rc = my_retain_task(s, c, task_id);
    free(task_id);
    return rc;
}

int my_store_retry(my_store *s, my_conn *c, const tasker_task_exec *e)
{
    if ((e->status != TASKER_EXEC_FAILED && e->status != TASKER_EXEC_INTERRUPTED) ||
        e->attempt < 0) /* tasker_no_retry() */
        return TASKER_OK;
    int rc = retry_and_retain(s, c, e->exec_id);
    if (rc != TASKER_OK) {
        char why[400];
        snprintf(why, sizeof why, "%s", tasker_last_error());
        return tasker_fail(rc, "mysql: storing the retry of '%s': %s", e->exec_id, why);
    }
    return TASKER_OK;
}

int my_store_retries(my_store *s, my_conn *c, my_write **w, size_t n)
{
    int rc = TASKER_OK;
    for (size_t i = 0; i < n && rc == TASKER_OK; i++)
        rc = my_store_retry(s, c, (const tasker_task_exec *)w[i]->arg);
    return rc;
}

int my_node_running(my_store *s, my_conn *c, const char *node_id, char ***ids, size_t *n)
{
    MYSQL_BIND b[1];
    unsigned long len;
    MYSQL_STMT *st;
    *ids = NULL;
    *n = 0;
    my_bind_str(&b[0], node_id, &len);
    int rc = my_cl_prepare(s, c, "SELECT exec_id FROM task_execs FORCE INDEX (exec_queue)"
                           " WHERE status = 1 AND node_id <=> ? FOR UPDATE", b, &st, "locking a node's runs");
    if (rc != TASKER_OK) return rc;
    size_t cap = 0;
    for (;;) {
        char *id = NULL;
        my_cl_col col = {.str = &id};
        int f = my_cl_fetch(s, c, st, &col, 1);
        if (f <= 0) {
            rc = f;
            break;
        }
        if (*n == cap) {
            char **nv = realloc(*ids, (cap = cap ? cap * 2 : 8) * sizeof *nv);
            if (!nv) {
                free(id);
                rc = tasker_fail(TASKER_ENOMEM, "mysql: out of memory reading a node's runs");
                break;
            }
            *ids = nv;
        }
        (*ids)[(*n)++] = id;
    }
    mysql_stmt_close(st);
    if (rc != TASKER_OK) {
        my_free_ids(*ids, *n);
        *ids = NULL;
        *n = 0;
    }
    return rc;
}

int my_store_retries_of(my_store *s, my_conn *c, char **ids, size_t n)
{
    int rc = TASKER_OK;
    for (size_t i = 0; i < n && rc == TASKER_OK; i++) {
        rc = retry_and_retain(s, c, ids[i]);
    }
    return rc;
}

void my_free_ids(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++) free(ids[i]);
    free(ids);
}
