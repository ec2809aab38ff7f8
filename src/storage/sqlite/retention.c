/* The SQLite driver's retention, run by the group-commit leader inside the batch's
 * transaction, after the batch's own writes.
 *
 * For each task that gained executions in the batch: the execution just beyond the
 * newest max_execs_per_task is found by walking that many entries of execs_by_task,
 * and the finished executions from there back are deleted through the same index;
 * then that task's finished executions older than max_exec_age_s. Tasks that gain no
 * executions are aged out by one sweep over execs_by_queued, at most once a second.
 * A task's own limits (tasker_task_opts max_execs, max_exec_age_s) replace the handle's
 * for it; the sweep leaves tasks with an age of their own to a per-task pass.
 * A retry (storage/sqlite/write.c, sq_write_retry) is an add too: the write that stores
 * it applies its task's limits at once (sq_retain_task), as an add in the batch would.
 * No step scans the table: each walks an index from where the rows to delete are.
 * Events go with their executions (ON DELETE CASCADE).
 */
#include "storage/sqlite/internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The distinct tasks that gained executions in the batch, into a malloc'd array
 * (NULL with *n 0 when none), in task id order. A herd of fires brings hundreds of
 * tasks in one batch: collected, then sorted and made unique (a linear search for
 * each was quadratic, a few ms per batch). */
static int batch_tasks(sq_req *batch, const char ***out, size_t *n, bool *added)
{
    size_t total = 0;
    *out = NULL;
    *n = 0;
    *added = false;
    for (sq_req *r = batch; r; r = r->next)
        if (r->rc == TASKER_OK && !r->final) {
            /* A fire's adds were pruned for in its own request (storage/sqlite/fire.c). */
            *added |= r->kind == SQ_ADD_STARTED && r->u.fire.n > 0;
            total += r->kind == SQ_ADD_EXEC ? 1 : r->kind == SQ_ADD_EXECS ? r->u.execs.n : 0;
        }
    *added |= total > 0;
    if (total == 0) return TASKER_OK;
    const char **v = malloc(total * sizeof *v);
    if (!v) return TASKER_ENOMEM;
    size_t k = 0;
    for (sq_req *r = batch; r; r = r->next) {
        if (r->rc != TASKER_OK || r->final) continue;
        if (r->kind == SQ_ADD_EXEC) v[k++] = r->u.exec->task_id;
        else if (r->kind == SQ_ADD_EXECS)
            for (size_t i = 0; i < r->u.execs.n; i++) v[k++] = r->u.execs.v[i].task_id;
    }
    if (k > 1) qsort(v, k, sizeof *v, cmp_str);
    size_t m = 0;
    for (size_t i = 0; i < k; i++)
        if (m == 0 || strcmp(v[m - 1], v[i]) != 0) v[m++] = v[i];
    *out = v;
    *n = m;
    return TASKER_OK;
}

/* The cutoff for an age in seconds: executions queued before it are too old.
 * INT64_MIN for no limit: negative, or beyond any clock's reach (or so large that its
 * microseconds would overflow). */
static int64_t cutoff_for(int64_t now_us, int64_t age_s)
{
    if (age_s < 0 || age_s >= INT64_MAX / 4000000) return INT64_MIN;
    return now_us - age_s * 1000000;
}

/* A task's limits: its own (tasker_task_opts max_execs, max_exec_age_s) where set, else
 * the handle's. A removed task's history gets the handle's. */
static int task_limits(sq_store *s, const char *task_id, int *keep, int64_t *age_s,
                       char *msg, size_t size)
{
    const tasker_storage_env *env = &s->base.env;
    sqlite3_stmt *st = s->wstmt[W_TASK_RETENTION];
    *keep = env->max_execs_per_task;
    *age_s = env->max_exec_age_s;
    sqlite3_bind_text(st, 1, task_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_int(st, 0) != 0) *keep = sqlite3_column_int(st, 0);
        if (sqlite3_column_int64(st, 1) != 0) *age_s = sqlite3_column_int64(st, 1);
    } else if (rc != SQLITE_DONE) {
        sq_format_error(s, s->wdb, msg, size, "reading a task's retention");
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? TASKER_OK : TASKER_ESTORAGE;
}

/* The sweep of tasks that gained no executions: the handle's age for every task without
 * one of its own (W_RET_DELETE_AGE_ALL leaves those out), then each such task's own. */
static int sweep_ages(sq_store *s, int64_t now_us, char *msg, size_t size)
{
    int64_t cutoff_us = cutoff_for(now_us, s->base.env.max_exec_age_s);
    int rc = TASKER_OK;
    if (cutoff_us != INT64_MIN) {
        sqlite3_stmt *st = s->wstmt[W_RET_DELETE_AGE_ALL];
        sqlite3_bind_int64(st, 1, cutoff_us);
        if ((rc = step_done(s, st, "retention by age", msg, size)) != TASKER_OK) return rc;
    }
    /* Collected first: the delete must not run while this statement is reading. */
    sqlite3_stmt *st = s->wstmt[W_TASKS_WITH_AGE];
    struct own_age {
        char id[TASKER_ID_SIZE];
        int64_t age_s;
    } *v = NULL;
    size_t n = 0, cap = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            struct own_age *grown = realloc(v, cap * sizeof *v);
            if (!grown) {
                step = SQLITE_NOMEM;
                break;
            }
            v = grown;
        }
        snprintf(v[n].id, sizeof v[n].id, "%s", (const char *)sqlite3_column_text(st, 0));
        v[n++].age_s = sqlite3_column_int64(st, 1);
    }
    if (step != SQLITE_DONE) {
        sq_format_error(s, step == SQLITE_NOMEM ? NULL : s->wdb, msg, size, "retention by age");
        rc = TASKER_ESTORAGE;
    }
    sqlite3_reset(st);
    for (size_t i = 0; i < n && rc == TASKER_OK; i++) {
        int64_t own_us = cutoff_for(now_us, v[i].age_s);
        if (own_us != INT64_MIN) rc = prune_task_age(s, v[i].id, own_us, msg, size);
    }
    free(v);
    return rc;
}

/* A task's limits by count then by age, keep and age_s its own or the handle's. */
static int prune_task(sq_store *s, const char *task_id, int keep, int64_t age_s,
                      int64_t now_us, char *msg, size_t size)
{
    int rc;
    if (keep >= 0 && (rc = prune_count(s, task_id, keep, msg, size)) != TASKER_OK) return rc;
    int64_t cutoff_us = cutoff_for(now_us, age_s);
    return cutoff_us != INT64_MIN ? prune_task_age(s, task_id, cutoff_us, msg, size) : TASKER_OK;
}

int sq_retain_known(sq_store *s, const char *task_id, int own_keep, int64_t own_age_s,
                    int64_t now_us, char *msg, size_t size)
{
    const tasker_storage_env *env = &s->base.env;
    return prune_task(s, task_id, own_keep ? own_keep : env->max_execs_per_task,
                      own_age_s ? own_age_s : env->max_exec_age_s, now_us, msg, size);
}

/* One task's limits, by count then by age. */
static int retain_task(sq_store *s, const char *task_id, int64_t now_us, char *msg, size_t size)
{
    int keep, rc;
    int64_t age_s;
    if ((rc = task_limits(s, task_id, &keep, &age_s, msg, size)) != TASKER_OK) return rc;
    if (keep >= 0 && (rc = prune_count(s, task_id, keep, msg, size)) != TASKER_OK) return rc;
    int64_t cutoff_us = cutoff_for(now_us, age_s);
    if (cutoff_us != INT64_MIN) rc = prune_task_age(s, task_id, cutoff_us, msg, size);
    return rc;
}

int sq_retain_task(sq_store *s, const char *task_id, char *msg, size_t size)
{
    return retain_task(s, task_id, sq_now_us(s), msg, size);
}

int sq_retention(sq_store *s, sq_req *batch, char *msg, size_t size)
{
    int64_t now_us = sq_now_us(s);
    const char **tasks = NULL;
    size_t n_tasks = 0;
    bool added;
    if (batch_tasks(batch, &tasks, &n_tasks, &added) != TASKER_OK) {
        snprintf(msg, size, "sqlite: %s: retention: out of memory", s->path);
        return TASKER_ESTORAGE;
    }
    int rc = TASKER_OK;
    for (size_t i = 0; i < n_tasks && rc == TASKER_OK; i++)
        rc = retain_task(s, tasks[i], now_us, msg, size);
    free(tasks);
    if (rc != TASKER_OK || !added) return rc;
    /* A clock that went back also sweeps, so a stepped clock cannot stop the sweeps. */
    if (s->last_age_prune_us != 0 && now_us >= s->last_age_prune_us &&
        now_us - s->last_age_prune_us < SQ_AGE_PRUNE_INTERVAL_US)
        return TASKER_OK;
    s->last_age_prune_us = now_us;
    return sweep_ages(s, now_us, msg, size);
}
