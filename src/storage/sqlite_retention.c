/* The SQLite driver's retention, run by the group-commit leader inside the batch's
 * transaction, after the batch's own writes.
 *
 * For each task that gained executions in the batch: the execution just beyond the
 * newest max_execs_per_task is found by walking that many entries of execs_by_task,
 * and the finished executions from there back are deleted through the same index;
 * then that task's finished executions older than max_exec_age_s. Tasks that gain no
 * executions are aged out by one sweep over execs_by_queued, at most once a second.
 * No step scans the table: each walks an index from where the rows to delete are.
 * Events go with their executions (ON DELETE CASCADE).
 */
#include "sqlite_internal.h"

#include <stdio.h>
#include <string.h>

static int step_done(sq_store *s, sqlite3_stmt *st, const char *what, char *msg,
                     size_t size)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) sq_format_error(s, s->wdb, msg, size, what);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? TASKER_OK : TASKER_ESTORAGE;
}

static int prune_count(sq_store *s, const char *task_id, int keep, char *msg, size_t size)
{
    sqlite3_stmt *st = s->wstmt[W_RET_NTH];
    sqlite3_bind_text(st, 1, task_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, keep);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return TASKER_OK; /* at most `keep` executions */
    }
    if (rc != SQLITE_ROW) {
        sq_format_error(s, s->wdb, msg, size, "retention by count");
        sqlite3_reset(st);
        return TASKER_ESTORAGE;
    }
    int64_t queued_us = sqlite3_column_int64(st, 0);
    char exec_id[TASKER_ID_SIZE];
    snprintf(exec_id, sizeof exec_id, "%s", (const char *)sqlite3_column_text(st, 1));
    sqlite3_reset(st);

    st = s->wstmt[W_RET_DELETE_OLDER];
    sqlite3_bind_text(st, 1, task_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, queued_us);
    sqlite3_bind_text(st, 3, exec_id, -1, SQLITE_STATIC);
    return step_done(s, st, "retention by count", msg, size);
}

static int prune_task_age(sq_store *s, const char *task_id, int64_t cutoff_us, char *msg,
                          size_t size)
{
    sqlite3_stmt *st = s->wstmt[W_RET_DELETE_AGE_TASK];
    sqlite3_bind_text(st, 1, task_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, cutoff_us);
    return step_done(s, st, "retention by age", msg, size);
}

/* Whether an earlier request of the batch added an execution to the same task. */
static bool seen_before(sq_req *batch, sq_req *r)
{
    for (sq_req *q = batch; q != r; q = q->next)
        if (q->kind == SQ_ADD_EXEC && q->rc == TASKER_OK && !q->final &&
            strcmp(q->u.exec->task_id, r->u.exec->task_id) == 0)
            return true;
    return false;
}

int sq_retention(sq_store *s, sq_req *batch, char *msg, size_t size)
{
    const tasker_storage_env *env = &s->base.env;
    int64_t now_us = sq_now_us(s);
    int64_t cutoff_us = now_us - env->max_exec_age_s * 1000000;
    int rc = TASKER_OK;
    bool added = false;
    for (sq_req *r = batch; r && rc == TASKER_OK; r = r->next) {
        if (r->kind != SQ_ADD_EXEC || r->rc != TASKER_OK || r->final) continue;
        added = true;
        if (seen_before(batch, r)) continue;
        const char *task_id = r->u.exec->task_id;
        if (env->max_execs_per_task >= 0)
            rc = prune_count(s, task_id, env->max_execs_per_task, msg, size);
        if (rc == TASKER_OK && env->max_exec_age_s >= 0)
            rc = prune_task_age(s, task_id, cutoff_us, msg, size);
    }
    if (rc != TASKER_OK || !added || env->max_exec_age_s < 0) return rc;
    /* A clock that went back also sweeps, so a stepped clock cannot stop the sweeps. */
    if (s->last_age_prune_us != 0 && now_us >= s->last_age_prune_us &&
        now_us - s->last_age_prune_us < SQ_AGE_PRUNE_INTERVAL_US)
        return TASKER_OK;
    s->last_age_prune_us = now_us;
    sqlite3_stmt *st = s->wstmt[W_RET_DELETE_AGE_ALL];
    sqlite3_bind_int64(st, 1, cutoff_us);
    return step_done(s, st, "retention by age", msg, size);
}
