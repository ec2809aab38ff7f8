/* The SQLite driver's writes: each op checks its arguments, becomes a request for the
 * group commit (storage/sqlite/commit.c), and is run there, inside the leader's transaction, by
 * sq_exec_req. Strings are bound without copying: the caller waits until its request
 * is finished, and every statement is reset before that.
 */
#include "storage/sqlite/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int req_error(sq_req *r, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int req_error(sq_req *r, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    return r->rc = rc;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, i);
}

/* Finishes a write statement whose first step gave rc, and resets it. On failure
 * fills r: a constraint is the caller's mistake (dup_code for a uniqueness clash,
 * ENOTFOUND for a missing parent); anything else is TASKER_ESTORAGE. */
static int finish_write(sq_store *s, sq_req *r, sqlite3_stmt *st, int rc, int dup_code,
                        const char *what)
{
    while (rc == SQLITE_ROW) rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        int ext = sqlite3_extended_errcode(s->wdb);
        if (ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE)
            req_error(r, dup_code, "sqlite: %s: %s: already exists", s->path, what);
        else if (ext == SQLITE_CONSTRAINT_FOREIGNKEY)
            req_error(r, TASKER_ENOTFOUND, "sqlite: %s: %s: not found", s->path, what);
        else {
            sq_format_error(s, s->wdb, r->msg, sizeof r->msg, what);
            r->rc = TASKER_ESTORAGE;
        }
    }
    sqlite3_reset(st);
    return r->rc;
}

static int step_write(sq_store *s, sq_req *r, sqlite3_stmt *st, int dup_code,
                      const char *what)
{
    return finish_write(s, r, st, sqlite3_step(st), dup_code, what);
}

static int exec_add_task(sq_store *s, sq_req *r)
{
    const tasker_task *t = r->u.task;
    sqlite3_stmt *st = s->wstmt[W_ADD_TASK];
    bind_text(st, 1, t->task_id);
    bind_text(st, 2, t->handler);
    bind_text(st, 3, t->param ? t->param : "null");
    bind_text(st, 4, t->desc);
    const int64_t policies[] = {t->max_attempts,    t->backoff_ms, t->backoff_max_ms,
                                t->timeout_ms,      t->max_concurrency, t->priority,
                                t->max_execs,       t->max_exec_age_s, t->paused ? 1 : 0};
    for (int i = 0; i < 9; i++) sqlite3_bind_int64(st, 5 + i, policies[i]);
    return step_write(s, r, st, TASKER_EEXISTS, "adding a task");
}

static int exec_remove_task(sq_store *s, sq_req *r)
{
    sqlite3_stmt *st = s->wstmt[W_REMOVE_TASK];
    bind_text(st, 1, r->u.key.id);
    if (step_write(s, r, st, TASKER_EEXISTS, "removing a task") != TASKER_OK) return r->rc;
    if (sqlite3_changes(s->wdb) == 0)
        return req_error(r, TASKER_ENOTFOUND, "task '%s' not found", r->u.key.id);
    return TASKER_OK;
}

static int exec_add_scheme(sq_store *s, sq_req *r)
{
    const tasker_task_scheme *sc = r->u.scheme;
    sqlite3_stmt *st = s->wstmt[W_ADD_SCHEME];
    bind_text(st, 1, sc->scheme_id);
    bind_text(st, 2, sc->task_id);
    bind_text(st, 3, sc->cron);
    sqlite3_bind_int(st, 4, (int)sc->misfire);
    sqlite3_bind_int(st, 5, (int)sc->overlap);
    sqlite3_bind_int64(st, 6, sc->created_us);
    sqlite3_bind_int64(st, 7, sc->last_fire_us);
    int rc = sqlite3_step(st);
    bool got_row = rc == SQLITE_ROW;
    if (got_row && r->id_out)
        snprintf(r->id_out, TASKER_ID_SIZE, "%s", (const char *)sqlite3_column_text(st, 0));
    if (finish_write(s, r, st, rc, TASKER_EEXISTS, "adding a schedule") == TASKER_ENOTFOUND)
        return req_error(r, TASKER_ENOTFOUND, "task '%s' not found", sc->task_id);
    if (r->rc == TASKER_OK && !got_row)
        return req_error(r, TASKER_ESTORAGE, "sqlite: %s: adding a schedule: no id back",
                         s->path);
    return r->rc;
}

static int exec_remove_scheme(sq_store *s, sq_req *r)
{
    sqlite3_stmt *st = s->wstmt[W_REMOVE_SCHEME];
    bind_text(st, 1, r->u.key.id);
    if (step_write(s, r, st, TASKER_EEXISTS, "removing a schedule") != TASKER_OK)
        return r->rc;
    if (sqlite3_changes(s->wdb) == 0)
        return req_error(r, TASKER_ENOTFOUND, "schedule '%s' not found", r->u.key.id);
    return TASKER_OK;
}

static int exec_set_fire(sq_store *s, sq_req *r)
{
    sqlite3_stmt *st = s->wstmt[W_SET_FIRE];
    bind_text(st, 1, r->u.key.id);
    sqlite3_bind_int64(st, 2, r->u.key.us);
    if (step_write(s, r, st, TASKER_EEXISTS, "recording a fire") != TASKER_OK) return r->rc;
    if (sqlite3_changes(s->wdb) > 0) return TASKER_OK;
    /* Not moved: an older fire_us (fine) or no such schedule. */
    st = s->wstmt[W_SCHEME_EXISTS];
    bind_text(st, 1, r->u.key.id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return TASKER_OK;
    if (rc == SQLITE_DONE)
        return req_error(r, TASKER_ENOTFOUND, "schedule '%s' not found", r->u.key.id);
    sq_format_error(s, s->wdb, r->msg, sizeof r->msg, "recording a fire");
    return r->rc = TASKER_ESTORAGE;
}

/* version 4: the last fires of many schedules; one gone meanwhile is passed over. */
static int exec_set_fires(sq_store *s, sq_req *r)
{
    sqlite3_stmt *st = s->wstmt[W_SET_FIRE];
    for (size_t i = 0; i < r->u.fires.n; i++) {
        bind_text(st, 1, r->u.fires.ids[i]);
        sqlite3_bind_int64(st, 2, r->u.fires.us[i]);
        if (step_write(s, r, st, TASKER_EEXISTS, "recording fires") != TASKER_OK) return r->rc;
    }
    return TASKER_OK;
}

/* Ends a request's savepoint "req": released when r->rc is TASKER_OK, else rolled back
 * to (nothing to do when the whole transaction was rolled back); returns r->rc. */
int sq_savepoint_end(sq_store *s, sq_req *r)
{
    if (sqlite3_get_autocommit(s->wdb)) return r->rc; /* all rolled back anyway */
    if (r->rc != TASKER_OK) {
        sqlite3_step(s->wstmt[W_ROLLBACK_TO]);
        sqlite3_reset(s->wstmt[W_ROLLBACK_TO]);
    }
    sqlite3_step(s->wstmt[W_RELEASE]);
    sqlite3_reset(s->wstmt[W_RELEASE]);
    return r->rc;
}

/* version 4: tasks then schedules under one savepoint, as exec_add_execs. Each item goes
 * through the single-item code with r->u pointed at it, restored after. */
static int exec_define(sq_store *s, sq_req *r)
{
    const tasker_task *tasks = r->u.define.tasks;
    const tasker_task_scheme *schemes = r->u.define.schemes;
    size_t nt = r->u.define.nt, ns = r->u.define.ns;
    if (step_write(s, r, s->wstmt[W_SAVEPOINT], TASKER_EEXISTS, "adding definitions") !=
        TASKER_OK)
        return r->rc;
    char id[TASKER_ID_SIZE];
    char *id_out = r->id_out;
    r->id_out = id;
    for (size_t i = 0; i < nt && r->rc == TASKER_OK; i++) {
        r->u.task = &tasks[i];
        exec_add_task(s, r);
    }
    for (size_t i = 0; i < ns && r->rc == TASKER_OK; i++) {
        r->u.scheme = &schemes[i];
        exec_add_scheme(s, r);
    }
    r->id_out = id_out;
    r->u.define.tasks = tasks;
    r->u.define.schemes = schemes;
    r->u.define.nt = nt;
    r->u.define.ns = ns;
    return sq_savepoint_end(s, r);
}

int sq_add_one_exec(sq_store *s, sq_req *r, const tasker_task_exec *e, bool task_known)
{
    sqlite3_stmt *st = s->wstmt[task_known ? W_ADD_EXEC_KNOWN : W_ADD_EXEC];
    bind_text(st, 1, e->exec_id);
    bind_text(st, 2, e->task_id);
    bind_text(st, 3, e->scheme_id);
    sqlite3_bind_int64(st, 4, e->scheduled_us);
    sqlite3_bind_int64(st, 5, e->queued_us);
    sqlite3_bind_int64(st, 6, e->start_us);
    sqlite3_bind_int64(st, 7, e->end_us);
    sqlite3_bind_int(st, 8, (int)e->status);
    sqlite3_bind_int(st, 9, e->success ? 1 : 0);
    bind_text(st, 10, e->result);
    bind_text(st, 11, e->error);
    bind_text(st, 12, e->node_id);
    sqlite3_bind_int(st, 13, e->attempt > 0 ? e->attempt : 1);
    bind_text(st, 14, e->retry_of);
    sqlite3_bind_int64(st, 15, e->run_at_us);
    sqlite3_bind_int(st, 16, e->priority);
    bind_text(st, 17, e->param);
    bind_text(st, 18, e->unique_key);
    sqlite3_bind_int64(st, 19, e->timeout_ms > 0 ? e->timeout_ms : 0);
    if (step_write(s, r, st, TASKER_EEXISTS, "adding an execution") != TASKER_OK) {
        if (r->rc == TASKER_EEXISTS)
            req_error(r, TASKER_EEXISTS,
                      "execution '%s' exists, or schedule '%s' has one for %lld already, "
                      "or a pending or running run of task '%s' holds unique key '%s'",
                      e->exec_id, e->scheme_id ? e->scheme_id : "-",
                      (long long)e->scheduled_us, e->task_id,
                      e->unique_key ? e->unique_key : "-");
        return r->rc;
    }
    if (sqlite3_changes(s->wdb) == 0)
        return req_error(r, TASKER_ENOTFOUND, "task '%s' not found", e->task_id);
    return TASKER_OK;
}

static int exec_add_exec(sq_store *s, sq_req *r)
{
    return sq_add_one_exec(s, r, r->u.exec, false);
}

/* Several statements: a savepoint makes them one, so a failure leaves none. */
static int exec_add_execs(sq_store *s, sq_req *r)
{
    if (step_write(s, r, s->wstmt[W_SAVEPOINT], TASKER_EEXISTS, "adding executions") !=
        TASKER_OK)
        return r->rc;
    for (size_t i = 0; i < r->u.execs.n && r->rc == TASKER_OK; i++)
        sq_add_one_exec(s, r, &r->u.execs.v[i], false);
    return sq_savepoint_end(s, r);
}

/* The compare-and-set of one start: its code, with r->msg filled when not TASKER_OK. */
static int start_one(sq_store *s, sq_req *r, const char *id, int64_t us, const char *node_id)
{
    sqlite3_stmt *st = s->wstmt[W_START_EXEC];
    bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, us);
    bind_text(st, 3, node_id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        sq_format_error(s, s->wdb, r->msg, sizeof r->msg, "starting an execution");
        sqlite3_reset(st);
        return TASKER_ESTORAGE;
    }
    sqlite3_reset(st);
    if (sqlite3_changes(s->wdb) > 0) return TASKER_OK;
    st = s->wstmt[W_EXEC_STATUS];
    bind_text(st, 1, id);
    rc = sqlite3_step(st);
    int status = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) {
        if (status == TASKER_EXEC_PENDING)
            snprintf(r->msg, sizeof r->msg, "execution '%s' is delayed, or its task paused "
                     "or limited: left to claims", id);
        else
            snprintf(r->msg, sizeof r->msg, "execution '%s' is %s, not pending", id,
                     tasker_exec_status_name((tasker_exec_status)status));
        return TASKER_ESTATE;
    }
    if (rc == SQLITE_DONE) {
        snprintf(r->msg, sizeof r->msg, "execution '%s' not found", id);
        return TASKER_ENOTFOUND;
    }
    sq_format_error(s, s->wdb, r->msg, sizeof r->msg, "starting an execution");
    return TASKER_ESTORAGE;
}

static int exec_start(sq_store *s, sq_req *r)
{
    return r->rc = start_one(s, r, r->u.key.id, r->u.key.us, r->u.key.node_id);
}

/* Each start stands alone: one that is not pending does not undo the others. */
static int exec_starts(sq_store *s, sq_req *r)
{
    for (size_t i = 0; i < r->u.starts.n; i++) {
        int rc = start_one(s, r, r->u.starts.ids[i], r->u.starts.us, r->u.starts.node_id);
        r->u.starts.rcs[i] = rc;
        if (rc == TASKER_ESTORAGE) return r->rc = rc;
    }
    r->msg[0] = '\0';
    return r->rc = TASKER_OK;
}

/* A retry stored is an add: its task's retention applies at once, in the same
 * transaction, as for the adds of the batch (storage/sqlite/retention.c). */
int sq_write_retry(sq_store *s, sq_req *r, const char *exec_id)
{
    sqlite3_stmt *st = s->wstmt[W_RETRY];
    bind_text(st, 1, exec_id);
    int rc = sqlite3_step(st);
    char task_id[TASKER_ID_SIZE] = "";
    if (rc == SQLITE_ROW)
        snprintf(task_id, sizeof task_id, "%s", (const char *)sqlite3_column_text(st, 0));
    if (finish_write(s, r, st, rc, TASKER_EEXISTS, "storing a retry") != TASKER_OK || !*task_id)
        return r->rc;
    return r->rc = sq_retain_task(s, task_id, r->msg, sizeof r->msg);
}

static int exec_update(sq_store *s, sq_req *r)
{
    const tasker_task_exec *e = r->u.exec;
    sqlite3_stmt *st = s->wstmt[W_UPDATE_EXEC];
    bind_text(st, 1, e->exec_id);
    sqlite3_bind_int(st, 2, (int)e->status);
    sqlite3_bind_int64(st, 3, e->end_us);
    sqlite3_bind_int(st, 4, e->success ? 1 : 0);
    bind_text(st, 5, e->result);
    bind_text(st, 6, e->error);
    bind_text(st, 7, e->node_id); /* fencing: NULL writes unconditionally */
    if (step_write(s, r, st, TASKER_EEXISTS, "updating an execution") != TASKER_OK)
        return r->rc;
    if (sqlite3_changes(s->wdb) == 0) {
        if (e->node_id) return sq_fence_refuse(s, r, e);
        return req_error(r, TASKER_ENOTFOUND, "execution '%s' not found", e->exec_id);
    }
    /* A failure's retry, in the same transaction (a negative attempt: no retry). */
    if ((e->status == TASKER_EXEC_FAILED || e->status == TASKER_EXEC_INTERRUPTED) &&
        e->attempt >= 0)
        return sq_write_retry(s, r, e->exec_id);
    return TASKER_OK;
}

static int exec_add_event(sq_store *s, sq_req *r)
{
    const tasker_task_event *ev = r->u.event;
    sqlite3_stmt *st = s->wstmt[W_ADD_EVENT];
    bind_text(st, 1, ev->exec_id);
    sqlite3_bind_int64(st, 2, ev->time_us);
    sqlite3_bind_int(st, 3, (int)ev->level);
    bind_text(st, 4, ev->message ? ev->message : "");
    if (step_write(s, r, st, TASKER_EEXISTS, "adding an event") == TASKER_ENOTFOUND)
        req_error(r, TASKER_ENOTFOUND, "execution '%s' not found", ev->exec_id);
    return r->rc;
}

/* Several statements: a savepoint makes them one, so a failure leaves none. */
static int exec_interrupt(sq_store *s, sq_req *r)
{
    sqlite3_stmt *sp = s->wstmt[W_SAVEPOINT];
    if (step_write(s, r, sp, TASKER_EEXISTS, "interrupting executions") != TASKER_OK)
        return r->rc;
    char error[TASKER_ID_SIZE + 64];
    sqlite3_stmt *st = s->wstmt[W_INTERRUPT_NODE];
    for (size_t i = 0; i < r->u.intr.n_nodes && r->rc == TASKER_OK; i++) {
        const char *node = r->u.intr.nodes[i];
        snprintf(error, sizeof error, "interrupted: node %s stopped", node ? node : "?");
        size_t n_ids = 0;
        char **ids = sq_running_of_node(s, r, node, &n_ids);
        if (r->rc != TASKER_OK) break;
        bind_text(st, 1, node);
        sqlite3_bind_int64(st, 2, r->u.intr.now_us);
        bind_text(st, 3, error);
        if (step_write(s, r, st, TASKER_EEXISTS, "interrupting executions") == TASKER_OK)
            r->count_out += (size_t)sqlite3_changes(s->wdb);
        sq_retry_all(s, r, ids, n_ids);
    }
    if (sqlite3_get_autocommit(s->wdb)) return r->rc; /* all rolled back anyway */
    if (r->rc != TASKER_OK) {
        sqlite3_step(s->wstmt[W_ROLLBACK_TO]);
        sqlite3_reset(s->wstmt[W_ROLLBACK_TO]);
        r->count_out = 0;
    }
    sqlite3_step(s->wstmt[W_RELEASE]);
    sqlite3_reset(s->wstmt[W_RELEASE]);
    return r->rc;
}

int sq_exec_req(sq_store *s, sq_req *r)
{
    switch (r->kind) {
    case SQ_ADD_TASK: return exec_add_task(s, r);
    case SQ_REMOVE_TASK: return exec_remove_task(s, r);
    case SQ_ADD_SCHEME: return exec_add_scheme(s, r);
    case SQ_REMOVE_SCHEME: return exec_remove_scheme(s, r);
    case SQ_SET_FIRE: return exec_set_fire(s, r);
    case SQ_SET_FIRES: return exec_set_fires(s, r);
    case SQ_DEFINE: return exec_define(s, r);
    case SQ_ADD_STARTED: return sq_exec_add_started(s, r);
    case SQ_ADD_EXEC: return exec_add_exec(s, r);
    case SQ_ADD_EXECS: return exec_add_execs(s, r);
    case SQ_START_EXEC: return exec_start(s, r);
    case SQ_START_EXECS: return exec_starts(s, r);
    case SQ_UPDATE_EXEC: return exec_update(s, r);
    case SQ_ADD_EVENT: return exec_add_event(s, r);
    case SQ_INTERRUPT: return exec_interrupt(s, r);
    case SQ_CLUSTER: return sq_exec_cluster(s, r);
    }
    return req_error(r, TASKER_EINVAL, "sqlite: unknown request %d", (int)r->kind);
}

/* ---- the ops: check arguments, queue, wait ------------------------------------- */

int sq_check_id(const char *what, const char *id)
{
    if (!id || !*id) return tasker_set_error(TASKER_EINVAL, "sqlite: %s is empty", what);
    if (strlen(id) >= TASKER_ID_SIZE)
        return tasker_set_error(TASKER_EINVAL, "sqlite: %s '%.40s...' is longer than %d bytes",
                                what, id, TASKER_ID_SIZE - 1);
    return TASKER_OK;
}

int sq_add_task(tasker_storage *st, const tasker_task *task)
{
    int rc;
    if (!task) return tasker_set_error(TASKER_EINVAL, "sqlite: add_task: task is NULL");
    if ((rc = sq_check_id("task id", task->task_id)) != TASKER_OK) return rc;
    if (!task->handler || !*task->handler)
        return tasker_set_error(TASKER_EINVAL, "sqlite: task '%s': handler is empty",
                                task->task_id);
    sq_req r = {.kind = SQ_ADD_TASK, .u.task = task};
    return sq_submit((sq_store *)st, &r);
}

int sq_remove_task(tasker_storage *st, const char *task_id)
{
    int rc;
    if ((rc = sq_check_id("task id", task_id)) != TASKER_OK) return rc;
    sq_req r = {.kind = SQ_REMOVE_TASK, .u.key.id = task_id};
    return sq_submit((sq_store *)st, &r);
}

int sq_add_task_scheme(tasker_storage *st, const tasker_task_scheme *sc,
                       char id_out[TASKER_ID_SIZE])
{
    int rc;
    if (!sc) return tasker_set_error(TASKER_EINVAL, "sqlite: add_task_scheme: NULL");
    if ((rc = sq_check_id("schedule id", sc->scheme_id)) != TASKER_OK) return rc;
    if ((rc = sq_check_id("task id", sc->task_id)) != TASKER_OK) return rc;
    if (!sc->cron)
        return tasker_set_error(TASKER_EINVAL, "sqlite: schedule '%s': cron is NULL",
                                sc->scheme_id);
    sq_req r = {.kind = SQ_ADD_SCHEME, .u.scheme = sc, .id_out = id_out};
    return sq_submit((sq_store *)st, &r);
}

int sq_remove_task_scheme(tasker_storage *st, const char *scheme_id)
{
    int rc;
    if ((rc = sq_check_id("schedule id", scheme_id)) != TASKER_OK) return rc;
    sq_req r = {.kind = SQ_REMOVE_SCHEME, .u.key.id = scheme_id};
    return sq_submit((sq_store *)st, &r);
}

int sq_set_scheme_fire(tasker_storage *st, const char *scheme_id, int64_t fire_us)
{
    int rc;
    if ((rc = sq_check_id("schedule id", scheme_id)) != TASKER_OK) return rc;
    sq_req r = {.kind = SQ_SET_FIRE, .u.key = {.id = scheme_id, .us = fire_us}};
    return sq_submit((sq_store *)st, &r);
}

int sq_add_definitions(tasker_storage *st, const tasker_task *tasks, size_t nt,
                       const tasker_task_scheme *schemes, size_t ns)
{
    int rc;
    if (nt + ns == 0) return TASKER_OK;
    if ((nt && !tasks) || (ns && !schemes))
        return tasker_set_error(TASKER_EINVAL, "sqlite: add_definitions: NULL");
    for (size_t i = 0; i < nt; i++)
        if ((rc = sq_check_id("task id", tasks[i].task_id)) != TASKER_OK) return rc;
    for (size_t i = 0; i < ns; i++)
        if ((rc = sq_check_id("schedule id", schemes[i].scheme_id)) != TASKER_OK ||
            (rc = sq_check_id("task id", schemes[i].task_id)) != TASKER_OK)
            return rc;
    sq_req r = {.kind = SQ_DEFINE,
                .u.define = {.tasks = tasks, .nt = nt, .schemes = schemes, .ns = ns}};
    return sq_submit((sq_store *)st, &r);
}

int sq_set_scheme_fires(tasker_storage *st, const char *const *ids, const int64_t *fire_us,
                        size_t n)
{
    int rc;
    if (n == 0) return TASKER_OK;
    if (!ids || !fire_us) return tasker_set_error(TASKER_EINVAL, "sqlite: set_scheme_fires: NULL");
    for (size_t i = 0; i < n; i++)
        if ((rc = sq_check_id("schedule id", ids[i])) != TASKER_OK) return rc;
    sq_req r = {.kind = SQ_SET_FIRES, .u.fires = {.ids = ids, .us = fire_us, .n = n}};
    return sq_submit((sq_store *)st, &r);
}

int sq_add_task_exec(tasker_storage *st, const tasker_task_exec *e)
{
    int rc;
    if (!e) return tasker_set_error(TASKER_EINVAL, "sqlite: add_task_exec: NULL");
    if ((rc = sq_check_id("execution id", e->exec_id)) != TASKER_OK) return rc;
    if ((rc = sq_check_id("task id", e->task_id)) != TASKER_OK) return rc;
    sq_req r = {.kind = SQ_ADD_EXEC, .u.exec = e};
    return sq_submit((sq_store *)st, &r);
}

int sq_add_task_execs(tasker_storage *st, const tasker_task_exec *v, size_t n)
{
    int rc;
    if (n == 0) return TASKER_OK;
    if (!v) return tasker_set_error(TASKER_EINVAL, "sqlite: add_task_execs: NULL");
    for (size_t i = 0; i < n; i++) {
        if ((rc = sq_check_id("execution id", v[i].exec_id)) != TASKER_OK) return rc;
        if ((rc = sq_check_id("task id", v[i].task_id)) != TASKER_OK) return rc;
    }
    sq_req r = {.kind = SQ_ADD_EXECS, .u.execs = {.v = v, .n = n}};
    return sq_submit((sq_store *)st, &r);
}

int sq_start_task_exec(tasker_storage *st, const char *exec_id, int64_t start_us,
                       const char *node_id)
{
    int rc;
    if ((rc = sq_check_id("execution id", exec_id)) != TASKER_OK) return rc;
    sq_req r = {.kind = SQ_START_EXEC,
                .u.key = {.id = exec_id, .us = start_us, .node_id = node_id}};
    return sq_submit((sq_store *)st, &r);
}

int sq_start_task_execs(tasker_storage *st, const char *const *ids, size_t n, int64_t start_us,
                        const char *node_id, int *rcs)
{
    int rc;
    if (n == 0) return TASKER_OK;
    if (!ids || !rcs) return tasker_set_error(TASKER_EINVAL, "sqlite: start_task_execs: NULL");
    for (size_t i = 0; i < n; i++)
        if ((rc = sq_check_id("execution id", ids[i])) != TASKER_OK) return rc;
    sq_req r = {.kind = SQ_START_EXECS,
                .u.starts = {.ids = ids, .n = n, .us = start_us, .node_id = node_id, .rcs = rcs}};
    return sq_submit((sq_store *)st, &r);
}

int sq_update_task_exec(tasker_storage *st, const tasker_task_exec *e)
{
    int rc;
    if (!e) return tasker_set_error(TASKER_EINVAL, "sqlite: update_task_exec: NULL");
    if ((rc = sq_check_id("execution id", e->exec_id)) != TASKER_OK) return rc;
    sq_req r = {.kind = SQ_UPDATE_EXEC, .u.exec = e};
    return sq_submit((sq_store *)st, &r);
}

int sq_add_task_event(tasker_storage *st, const tasker_task_event *ev)
{
    int rc;
    if (!ev) return tasker_set_error(TASKER_EINVAL, "sqlite: add_task_event: NULL");
    if ((rc = sq_check_id("execution id", ev->exec_id)) != TASKER_OK) return rc;
    sq_req r = {.kind = SQ_ADD_EVENT, .u.event = ev};
    return sq_submit((sq_store *)st, &r);
}

/* The asynchronous writes: a heap request with its own copies, queued without waiting.
 * Arguments are checked here, so a request refused outright never reaches the queue. */
static sq_req *async_req(sq_kind kind, tasker_storage_done_fn done, void *udata)
{
    sq_req *r = calloc(1, sizeof *r);
    if (!r) {
        tasker_set_error(TASKER_ENOMEM, "sqlite: out of memory queueing a write");
        return NULL;
    }
    r->kind = kind;
    r->async = true;
    r->on_done = done;
    r->udata = udata;
    return r;
}

int sq_add_task_event_async(tasker_storage *st, const tasker_task_event *ev,
                            tasker_storage_done_fn done, void *udata)
{
    int rc;
    if (!ev) return tasker_set_error(TASKER_EINVAL, "sqlite: add_task_event: NULL");
    if ((rc = sq_check_id("execution id", ev->exec_id)) != TASKER_OK) return rc;
    sq_req *r = async_req(SQ_ADD_EVENT, done, udata);
    if (!r) return TASKER_ENOMEM;
    r->own.event = *ev;
    r->own.event.exec_id = strdup(ev->exec_id);
    r->own.event.message = strdup(ev->message ? ev->message : "");
    if (!r->own.event.exec_id || !r->own.event.message) {
        free(r->own.event.exec_id);
        free(r->own.event.message);
        free(r);
        return tasker_set_error(TASKER_ENOMEM, "sqlite: out of memory queueing an event");
    }
    r->u.event = &r->own.event;
    sq_submit_async((sq_store *)st, r);
    return TASKER_OK;
}

int sq_update_task_exec_async(tasker_storage *st, const tasker_task_exec *e,
                              tasker_storage_done_fn done, void *udata)
{
    int rc;
    if (!e) return tasker_set_error(TASKER_EINVAL, "sqlite: update_task_exec: NULL");
    if ((rc = sq_check_id("execution id", e->exec_id)) != TASKER_OK) return rc;
    sq_req *r = async_req(SQ_UPDATE_EXEC, done, udata);
    if (!r) return TASKER_ENOMEM;
    r->own.exec = (tasker_task_exec){.status = e->status, .end_us = e->end_us,
                                     .success = e->success, .attempt = e->attempt};
    /* The node id (fencing) shares the exec id's allocation, freed with it. */
    size_t id_len = strlen(e->exec_id) + 1, node_len = e->node_id ? strlen(e->node_id) + 1 : 0;
    r->own.exec.exec_id = malloc(id_len + node_len);
    if (r->own.exec.exec_id) {
        memcpy(r->own.exec.exec_id, e->exec_id, id_len);
        if (e->node_id) {
            r->own.exec.node_id = r->own.exec.exec_id + id_len;
            memcpy(r->own.exec.node_id, e->node_id, node_len);
        }
    }
    r->own.exec.result = e->result ? strdup(e->result) : NULL;
    r->own.exec.error = e->error ? strdup(e->error) : NULL;
    if (!r->own.exec.exec_id || (e->result && !r->own.exec.result) ||
        (e->error && !r->own.exec.error)) {
        free(r->own.exec.exec_id);
        free(r->own.exec.result);
        free(r->own.exec.error);
        free(r);
        return tasker_set_error(TASKER_ENOMEM, "sqlite: out of memory queueing an outcome");
    }
    r->u.exec = &r->own.exec;
    sq_submit_async((sq_store *)st, r);
    return TASKER_OK;
}

/* Asks alive() about each node with running executions outside any transaction (it is
 * the core's code and may be slow), then marks the dead nodes' executions in one
 * request. */
int sq_interrupt_dead(tasker_storage *st, tasker_node_alive_fn alive, void *udata,
                      size_t *n)
{
    sq_store *s = (sq_store *)st;
    char **nodes = NULL;
    size_t n_nodes = 0, n_dead = 0;
    if (n) *n = 0;
    if (!alive) return tasker_set_error(TASKER_EINVAL, "sqlite: interrupt_dead: alive is NULL");
    int rc = sq_running_nodes(s, &nodes, &n_nodes);
    if (rc != TASKER_OK) return rc;
    for (size_t i = 0; i < n_nodes; i++) {
        if (alive(nodes[i] ? nodes[i] : "", udata)) {
            free(nodes[i]);
            continue;
        }
        nodes[n_dead++] = nodes[i];
    }
    if (n_dead > 0) {
        sq_req r = {.kind = SQ_INTERRUPT,
                    .u.intr = {.nodes = nodes, .n_nodes = n_dead, .now_us = sq_now_us(s)}};
        rc = sq_submit(s, &r);
        if (rc == TASKER_OK && n) *n = r.count_out;
    }
    for (size_t i = 0; i < n_dead; i++) free(nodes[i]);
    free(nodes);
    return rc;
}
