/* The SQLite driver's job lifecycle (storage version 4): the filtered history, the
 * holder of a unique key, cancel requests, and the retries of the runs an interrupt
 * marks. (Its one-statement writes go through the group commit with the cluster
 * operations: storage/sqlite/cluster.c; a failure's retry: W_RETRY in write.c.) */
#include "storage/sqlite/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Two texts so that each uses its index (execs_by_task, execs_by_queued) newest first;
 * every filter is a bound parameter, zero or NULL meaning none. The scan stops at the
 * limit: a listing costs the rows it returns plus those its filters skip. */
#define LC_FILTER_WHERE                                                                  \
    " AND (?2 = 0 OR ((?2 >> status) & 1) = 1) AND (?3 = 0 OR queued_us >= ?3)"         \
    " AND (?4 = 0 OR queued_us < ?4) AND (?6 IS NULL OR (queued_us, exec_id) < (?5, ?6))" \
    " ORDER BY queued_us DESC, exec_id DESC LIMIT ?7"
static const char *const filter_task_sql =
    "SELECT " SQ_EXEC_COLS " FROM execs INDEXED BY execs_by_task WHERE task_id = ?1"
    LC_FILTER_WHERE;
static const char *const filter_all_sql =
    "SELECT " SQ_EXEC_COLS " FROM execs INDEXED BY execs_by_queued WHERE ?1 IS NULL"
    LC_FILTER_WHERE;

static int prepare_read(sq_store *s, const char *sql, sq_reader **rd, sqlite3_stmt **st)
{
    sq_read_barrier(s);
    *st = NULL;
    if (!(*rd = sq_reader_get(s))) return TASKER_ESTORAGE;
    if (sqlite3_prepare_v2((*rd)->db, sql, -1, st, NULL) != SQLITE_OK) {
        int rc = sq_fail(s, (*rd)->db, "preparing a lifecycle query");
        sqlite3_finalize(*st);
        sq_reader_put(s, *rd);
        *rd = NULL;
        return rc;
    }
    return TASKER_OK;
}

int sq_list_task_execs_filter(tasker_storage *st, const tasker_exec_filter *f,
                              int64_t after_queued_us, const char *after_exec_id,
                              size_t limit, tasker_task_exec **out, size_t *n)
{
    if (!f || !out || !n || !limit)
        return tasker_set_error(TASKER_EINVAL, "sqlite: list_task_execs_filter: bad argument");
    sq_store *s = (sq_store *)st;
    *out = NULL;
    *n = 0;
    sq_reader *rd;
    sqlite3_stmt *q;
    int rc = prepare_read(s, f->task_id ? filter_task_sql : filter_all_sql, &rd, &q);
    if (rc != TASKER_OK) return rc;
    if (f->task_id) sqlite3_bind_text(q, 1, f->task_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)f->status_mask);
    sqlite3_bind_int64(q, 3, f->since_us);
    sqlite3_bind_int64(q, 4, f->until_us);
    sqlite3_bind_int64(q, 5, after_queued_us);
    if (after_exec_id) sqlite3_bind_text(q, 6, after_exec_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 7, (sqlite3_int64)limit);
    tasker_task_exec *v = calloc(limit, sizeof *v);
    size_t len = 0;
    int step = SQLITE_DONE;
    if (!v) rc = tasker_set_error(TASKER_ENOMEM, "sqlite: list_task_execs_filter: out of memory");
    while (rc == TASKER_OK && len < limit && (step = sqlite3_step(q)) == SQLITE_ROW)
        if (!sq_row_exec(q, &v[len++]))
            rc = tasker_set_error(TASKER_ENOMEM, "sqlite: list_task_execs_filter: out of memory");
    if (rc == TASKER_OK && step != SQLITE_DONE && step != SQLITE_ROW)
        rc = sq_fail(s, rd->db, "listing executions");
    sqlite3_finalize(q);
    sq_reader_put(s, rd);
    if (rc != TASKER_OK || !len) {
        tasker_free_execs(v, len);
        return rc;
    }
    *out = v;
    *n = len;
    return TASKER_OK;
}

int sq_list_cancel_requests(tasker_storage *st, const char *node_id, tasker_task_exec **out,
                            size_t *n)
{
    if (!node_id || !out || !n)
        return tasker_set_error(TASKER_EINVAL, "sqlite: list_cancel_requests: NULL argument");
    sq_store *s = (sq_store *)st;
    *out = NULL;
    *n = 0;
    sq_reader *rd;
    sqlite3_stmt *q;
    int rc = prepare_read(s, "SELECT " SQ_EXEC_COLS " FROM execs INDEXED BY"
                          " execs_running_by_node WHERE node_id = ?1 AND status = 1"
                          " AND cancel_requested != 0", &rd, &q);
    if (rc != TASKER_OK) return rc;
    sqlite3_bind_text(q, 1, node_id, -1, SQLITE_STATIC);
    tasker_task_exec *v = NULL;
    size_t len = 0, cap = 0;
    int step;
    while (rc == TASKER_OK && (step = sqlite3_step(q)) == SQLITE_ROW) {
        if (len == cap) {
            tasker_task_exec *nv = realloc(v, (cap = cap ? cap * 2 : 4) * sizeof *v);
            if (!nv) {
                rc = tasker_set_error(TASKER_ENOMEM, "sqlite: list_cancel_requests: out of memory");
                break;
            }
            v = nv;
        }
        memset(&v[len], 0, sizeof v[len]);
        if (!sq_row_exec(q, &v[len++]))
            rc = tasker_set_error(TASKER_ENOMEM, "sqlite: list_cancel_requests: out of memory");
    }
    if (rc == TASKER_OK && step != SQLITE_DONE) rc = sq_fail(s, rd->db, "reading cancel requests");
    sqlite3_finalize(q);
    sq_reader_put(s, rd);
    if (rc != TASKER_OK || !len) {
        tasker_free_execs(v, len);
        return rc;
    }
    *out = v;
    *n = len;
    return TASKER_OK;
}

int sq_find_unique_exec(tasker_storage *st, const char *task_id, const char *key,
                        char exec_id_out[TASKER_ID_SIZE])
{
    if (!task_id || !key || !exec_id_out)
        return tasker_set_error(TASKER_EINVAL, "sqlite: find_unique_exec: NULL argument");
    sq_store *s = (sq_store *)st;
    sq_reader *rd;
    sqlite3_stmt *q;
    int rc = prepare_read(s, "SELECT exec_id FROM execs INDEXED BY execs_unique_key"
                          " WHERE task_id = ?1 AND unique_key = ?2"
                          " AND unique_key IS NOT NULL AND status < 2", &rd, &q);
    if (rc != TASKER_OK) return rc;
    sqlite3_bind_text(q, 1, task_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, key, -1, SQLITE_STATIC);
    int step = sqlite3_step(q);
    if (step == SQLITE_ROW) {
        const unsigned char *id = sqlite3_column_text(q, 0);
        size_t len = id ? strlen((const char *)id) : 0;
        if (len >= TASKER_ID_SIZE) len = TASKER_ID_SIZE - 1;
        memcpy(exec_id_out, id ? (const char *)id : "", len);
        exec_id_out[len] = '\0';
    } else if (step == SQLITE_DONE) {
        rc = tasker_set_error(TASKER_ENOTFOUND, "sqlite: no pending or running run of '%s' "
                              "holds key '%s'", task_id, key);
    } else {
        rc = sq_fail(s, rd->db, "finding a unique key's run");
    }
    sqlite3_finalize(q);
    sq_reader_put(s, rd);
    return rc;
}

/* Job lifecycle: the running executions of node (NULL = those with no node), read in
 * the write transaction before they are marked interrupted, so that their retries can
 * be stored in the same transaction. NULL with *n 0 when none; r->rc set on failure. */
char **sq_running_of_node(sq_store *s, sq_req *r, const char *node, size_t *n)
{
    *n = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->wdb, "SELECT exec_id FROM execs WHERE status = 1"
                           " AND node_id IS ?1", -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        sq_format_error(s, s->wdb, r->msg, sizeof r->msg, "reading a node's runs");
        r->rc = TASKER_ESTORAGE;
        return NULL;
    }
    if (node) sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, 1);
    char **v = NULL;
    size_t cap = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            char **nv = realloc(v, (cap = cap ? cap * 2 : 8) * sizeof *v);
            if (!nv) break;
            v = nv;
        }
        if (!(v[*n] = strdup((const char *)sqlite3_column_text(st, 0)))) break;
        (*n)++;
    }
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) {
        for (size_t i = 0; i < *n; i++) free(v[i]);
        free(v);
        *n = 0;
        snprintf(r->msg, sizeof r->msg, "sqlite: reading a node's runs failed or out of memory");
        r->rc = TASKER_ESTORAGE;
        return NULL;
    }
    return v;
}

/* Stores the retries of ids (marked interrupted meanwhile) and frees ids. */
int sq_retry_all(sq_store *s, sq_req *r, char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (r->rc == TASKER_OK) sq_write_retry(s, r, ids[i]);
        free(ids[i]);
    }
    free(ids);
    return r->rc;
}
