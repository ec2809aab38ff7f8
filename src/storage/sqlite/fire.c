/* The SQLite driver's herd writes (storage version 4, add_started_execs): a schedule
 * loop's fires stored, and those this node will run started, in the group commit's
 * transaction. A run started here is inserted running, instead of inserted pending and
 * then updated by a claim: one row write and no claim per run. The caller runs it only
 * once the transaction has committed (the writer answers after its COMMIT,
 * storage/sqlite/commit.c), and a failed COMMIT rolls the starts back with the rows.
 *
 * Whether a run is started is decided as W_START_EXEC decides (due, of a task neither
 * paused nor limited), by reading its task in the same transaction: the write lock is
 * held from BEGIN IMMEDIATE, so no other process changes the task in between. The same
 * read gives the task's retention limits, applied right after its row (retention.c's
 * pass over a batch's adds leaves fires out), inside the request's savepoint.
 */
#include "storage/sqlite/internal.h"

#include <stdlib.h>
#include <string.h>

static bool handler_listed(const sq_req *r, const char *handler)
{
    if (!r->u.fire.handlers) return true;
    for (size_t i = 0; handler && i < r->u.fire.nh; i++)
        if (r->u.fire.handlers[i] && strcmp(r->u.fire.handlers[i], handler) == 0) return true;
    return false;
}

/* What a fire needs of its task. */
typedef struct {
    bool known; /* it exists */
    bool go;    /* its run may be stored started */
    int keep;   /* its own retention (0: the handle's) */
    int64_t age_s;
} fire_task;

/* Reads e's task into *ft. TASKER_OK, or TASKER_ESTORAGE with r filled. */
static int read_task(sq_store *s, sq_req *r, const tasker_task_exec *e, bool want, fire_task *ft)
{
    sqlite3_stmt *st = s->wstmt[W_FIRE_TASK];
    sqlite3_bind_text(st, 1, e->task_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    ft->known = rc == SQLITE_ROW;
    ft->go = ft->known && want && e->status == TASKER_EXEC_PENDING &&
             e->run_at_us <= r->u.fire.us && sqlite3_column_int(st, 0) == 0 &&
             sqlite3_column_int(st, 1) == 0 &&
             handler_listed(r, (const char *)sqlite3_column_text(st, 2));
    ft->keep = ft->known ? sqlite3_column_int(st, 3) : 0;
    ft->age_s = ft->known ? sqlite3_column_int64(st, 4) : 0;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) /* a missing task is the insert's to report */
        sq_format_error(s, s->wdb, r->msg, sizeof r->msg, "reading a fire's task");
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? TASKER_OK : (r->rc = TASKER_ESTORAGE);
}

/* Inserts e, started when want and a start would start it; *started says whether. Its
 * task is read first anyway: the insert then need not look for it (W_ADD_EXEC_KNOWN),
 * and its retention, applied here (the batch's pass over its adds leaves fires out),
 * need not read its limits. */
static int add_one(sq_store *s, sq_req *r, const tasker_task_exec *e, bool want, int64_t now_us,
                   bool *started)
{
    fire_task ft;
    if (read_task(s, r, e, want, &ft) != TASKER_OK) return r->rc;
    if (!ft.go) {
        sq_add_one_exec(s, r, e, ft.known);
    } else {
        tasker_task_exec x = *e;
        x.status = TASKER_EXEC_RUNNING;
        x.start_us = r->u.fire.us;
        x.node_id = (char *)r->u.fire.node_id;
        *started = sq_add_one_exec(s, r, &x, true) == TASKER_OK;
    }
    if (r->rc == TASKER_OK && sq_retain_known(s, e->task_id, ft.keep, ft.age_s, now_us, r->msg,
                                              sizeof r->msg) != TASKER_OK)
        r->rc = TASKER_ESTORAGE;
    return r->rc;
}

/* All or nothing, under a savepoint as exec_add_execs. Run again from the start when the
 * leader replays the batch (a rolled-back transaction): started[] is recounted. */
int sq_exec_add_started(sq_store *s, sq_req *r)
{
    size_t n = r->u.fire.n, left = r->u.fire.max_start;
    bool *started = r->u.fire.started;
    memset(started, 0, n * sizeof *started);
    sqlite3_stmt *sp = s->wstmt[W_SAVEPOINT];
    int rc = sqlite3_step(sp);
    sqlite3_reset(sp);
    if (rc != SQLITE_DONE) {
        sq_format_error(s, s->wdb, r->msg, sizeof r->msg, "adding executions");
        return r->rc = TASKER_ESTORAGE;
    }
    int64_t now_us = sq_now_us(s);
    for (size_t i = 0; i < n && r->rc == TASKER_OK; i++)
        if (add_one(s, r, &r->u.fire.v[i], left > 0, now_us, &started[i]) == TASKER_OK &&
            started[i])
            left--;
    if (r->rc != TASKER_OK) memset(started, 0, n * sizeof *started);
    return sq_savepoint_end(s, r);
}

int sq_add_started_execs(tasker_storage *st, const tasker_task_exec *v, size_t n, int64_t start_us,
                         const char *node_id, const char *const *handlers, size_t nh,
                         size_t max_start, bool *started)
{
    int rc;
    if (n == 0) return TASKER_OK;
    if (!v || !started || (nh && !handlers))
        return tasker_set_error(TASKER_EINVAL, "sqlite: add_started_execs: NULL argument");
    for (size_t i = 0; i < n; i++) {
        if ((rc = sq_check_id("execution id", v[i].exec_id)) != TASKER_OK) return rc;
        if ((rc = sq_check_id("task id", v[i].task_id)) != TASKER_OK) return rc;
    }
    sq_req r = {.kind = SQ_ADD_STARTED,
                .u.fire = {.v = v,
                           .n = n,
                           .us = start_us,
                           .node_id = node_id,
                           .handlers = handlers,
                           .nh = nh,
                           .max_start = max_start,
                           .started = started}};
    rc = sq_submit((sq_store *)st, &r);
    if (rc != TASKER_OK) memset(started, 0, n * sizeof *started); /* not committed */
    return rc;
}
