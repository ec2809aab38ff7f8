/* The SQLite driver's cluster mode (storage version 3): the nodes table and heartbeats,
 * the lease rule, claiming pending runs by handler, the overlap check, and fencing of
 * late outcomes.
 *
 * The writes go through the group commit like every other write (an SQ_CLUSTER
 * request runs in the leader's BEGIN IMMEDIATE transaction), so they are atomic across
 * the processes sharing the file, and a claim is answered only after its COMMIT. Their
 * statements are prepared per call: they run a few times a second, not per run.
 * The store's clock is the env clock: the processes of one host share it. */
#include "storage/sqlite/internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CL_NODE_COLS                                                                     \
    "node_id, host, pid, started_us, heartbeat_us, running, handlers, clock_skew_us, "  \
    "stopped_us"

typedef enum { CL_BEAT, CL_GONE, CL_EXPIRE, CL_CLAIM, CL_LIFE } cl_what;

struct sq_cluster_op {
    cl_what what;
    int64_t now_us;
    const tasker_node *self;          /* CL_BEAT */
    const char *node_id;              /* CL_GONE, CL_CLAIM */
    int64_t lease_us;                 /* CL_EXPIRE */
    size_t marked;                    /* CL_EXPIRE: executions interrupted */
    const char *handlers_json;        /* CL_CLAIM */
    size_t max;                       /* CL_CLAIM */
    tasker_task_exec *rows;           /* CL_CLAIM: the claimed executions */
    size_t n_rows;
    /* CL_LIFE (job lifecycle, storage version 4): one statement on id, with flag */
    const char *life_sql, *id, *what_text;
    int64_t flag;
    int changes;
};

static int cl_fail(sq_store *s, sq_req *r, const char *what)
{
    sq_format_error(s, s->wdb, r->msg, sizeof r->msg, what);
    return r->rc = TASKER_ESTORAGE;
}

static int prepare(sq_store *s, sq_req *r, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2(s->wdb, sql, -1, st, NULL) != SQLITE_OK) {
        sqlite3_finalize(*st);
        *st = NULL;
        return cl_fail(s, r, "preparing a cluster statement");
    }
    return TASKER_OK;
}

/* Steps a write statement to its end and finalizes it. */
static int step_done(sq_store *s, sq_req *r, sqlite3_stmt *st, const char *what)
{
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    }
    int rc = step == SQLITE_DONE ? TASKER_OK : cl_fail(s, r, what);
    sqlite3_finalize(st);
    return rc;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, i);
}

/* ---- heartbeats ------------------------------------------------------------------- */

static int exec_beat(sq_store *s, sq_req *r, struct sq_cluster_op *op)
{
    sqlite3_stmt *st = NULL;
    const tasker_node *n = op->self;
    /* A new row, a stopped one, or another process under the same id (a restart with a
     * fixed node_id) starts afresh. */
    if (prepare(s, r,
                "INSERT INTO nodes(" CL_NODE_COLS ") VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, 0)"
                " ON CONFLICT(node_id) DO UPDATE SET host = excluded.host, pid = excluded.pid,"
                " started_us = CASE WHEN nodes.stopped_us != 0 OR nodes.pid != excluded.pid"
                "  THEN excluded.started_us ELSE nodes.started_us END,"
                " heartbeat_us = excluded.heartbeat_us, running = excluded.running,"
                " handlers = excluded.handlers, clock_skew_us = excluded.clock_skew_us,"
                " stopped_us = 0",
                &st) != TASKER_OK)
        return r->rc;
    bind_text(st, 1, n->node_id);
    bind_text(st, 2, n->host ? n->host : "");
    sqlite3_bind_int64(st, 3, n->pid);
    sqlite3_bind_int64(st, 4, op->now_us);
    sqlite3_bind_int(st, 5, n->running);
    bind_text(st, 6, n->handlers ? n->handlers : "[]");
    sqlite3_bind_int64(st, 7, n->clock_skew_us);
    return step_done(s, r, st, "writing the heartbeat");
}

static int exec_gone(sq_store *s, sq_req *r, struct sq_cluster_op *op)
{
    sqlite3_stmt *st = NULL;
    if (prepare(s, r, "UPDATE nodes SET stopped_us = ?2 WHERE node_id = ?1", &st) != TASKER_OK)
        return r->rc;
    bind_text(st, 1, op->node_id);
    sqlite3_bind_int64(st, 2, op->now_us);
    return step_done(s, r, st, "marking the node stopped");
}

/* ---- the lease rule ------------------------------------------------------------------ */

/* "2026-12-06T03:40:00.123Z" */
static void format_utc(int64_t us, char *buf, size_t size)
{
    time_t secs = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char day[40];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%03dZ", day, (int)(us % 1000000 / 1000));
}

/* Marks the running executions of one dead node interrupted. */
static int interrupt_node(sq_store *s, sq_req *r, struct sq_cluster_op *op, const char *node,
                          int64_t heartbeat_us, int64_t stopped_us)
{
    char error[TASKER_ID_SIZE * 4 + 96], when[48];
    if (stopped_us) {
        snprintf(error, sizeof error, "interrupted: node %s stopped", node);
    } else {
        format_utc(heartbeat_us, when, sizeof when);
        snprintf(error, sizeof error, "interrupted: node %s silent since %s", node, when);
    }
    sqlite3_stmt *st = NULL;
    size_t n_ids = 0;
    char **ids = sq_running_of_node(s, r, node, &n_ids); /* their retries, below */
    if (r->rc != TASKER_OK) return r->rc;
    if (prepare(s, r,
                "UPDATE execs SET status = 4, end_us = ?2, success = 0, error = ?3"
                " WHERE status = 1 AND node_id = ?1",
                &st) != TASKER_OK)
        return sq_retry_all(s, r, ids, n_ids);
    bind_text(st, 1, node);
    sqlite3_bind_int64(st, 2, op->now_us);
    bind_text(st, 3, error);
    if (step_done(s, r, st, "interrupting a dead node's executions") == TASKER_OK)
        op->marked += (size_t)sqlite3_changes(s->wdb);
    return sq_retry_all(s, r, ids, n_ids);
}

static int interrupt_dead_nodes(sq_store *s, sq_req *r, struct sq_cluster_op *op)
{
    sqlite3_stmt *st = NULL;
    if (prepare(s, r,
                "SELECT node_id, heartbeat_us, stopped_us FROM nodes"
                " WHERE (stopped_us != 0 OR heartbeat_us < ?1)"
                " AND EXISTS (SELECT 1 FROM execs WHERE status = 1 AND node_id = nodes.node_id)",
                &st) != TASKER_OK)
        return r->rc;
    sqlite3_bind_int64(st, 1, op->now_us - op->lease_us);
    int step;
    while (r->rc == TASKER_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
        char node[TASKER_ID_SIZE * 4];
        snprintf(node, sizeof node, "%s", (const char *)sqlite3_column_text(st, 0));
        interrupt_node(s, r, op, node, sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2));
    }
    if (r->rc == TASKER_OK && step != SQLITE_DONE) cl_fail(s, r, "reading the nodes");
    sqlite3_finalize(st);
    return r->rc;
}

static int forget_old_nodes(sq_store *s, sq_req *r, struct sq_cluster_op *op)
{
    sqlite3_stmt *st = NULL;
    if (prepare(s, r,
                "DELETE FROM nodes WHERE heartbeat_us < ?1"
                " AND NOT EXISTS (SELECT 1 FROM execs WHERE status = 1"
                "  AND node_id = nodes.node_id)",
                &st) != TASKER_OK)
        return r->rc;
    sqlite3_bind_int64(st, 1, op->now_us - (int64_t)TASKER_NODE_KEEP_S * 1000000);
    return step_done(s, r, st, "forgetting old nodes");
}

/* All in a savepoint: a failure part-way leaves nothing marked. */
static int exec_expire(sq_store *s, sq_req *r, struct sq_cluster_op *op)
{
    op->marked = 0;
    if (sqlite3_exec(s->wdb, "SAVEPOINT cluster_expire", NULL, NULL, NULL) != SQLITE_OK)
        return cl_fail(s, r, "interrupting dead nodes' executions");
    if (interrupt_dead_nodes(s, r, op) == TASKER_OK) forget_old_nodes(s, r, op);
    if (sqlite3_get_autocommit(s->wdb)) return r->rc; /* rolled back anyway */
    if (r->rc != TASKER_OK) {
        sqlite3_exec(s->wdb, "ROLLBACK TO cluster_expire", NULL, NULL, NULL);
        op->marked = 0;
    }
    sqlite3_exec(s->wdb, "RELEASE cluster_expire", NULL, NULL, NULL);
    return r->rc;
}

/* ---- claiming ---------------------------------------------------------------------- */

static int cmp_oldest_first(const void *a, const void *b)
{
    const tasker_task_exec *x = a, *y = b;
    /* The claim's order (job lifecycle): priority first, then due time. */
    if (x->priority != y->priority) return x->priority > y->priority ? -1 : 1;
    if (x->run_at_us != y->run_at_us) return x->run_at_us < y->run_at_us ? -1 : 1;
    if (x->queued_us != y->queued_us) return x->queued_us < y->queued_us ? -1 : 1;
    return strcmp(x->exec_id, y->exec_id);
}

static int exec_claim(sq_store *s, sq_req *r, struct sq_cluster_op *op)
{
    /* A batch run again after another request rolled it back claims afresh. */
    tasker_free_execs(op->rows, op->n_rows);
    op->rows = NULL;
    op->n_rows = 0;
    sqlite3_stmt *st = NULL;
    if (prepare(s, r,
                "UPDATE execs SET status = 1, start_us = ?1, node_id = ?2 WHERE exec_id IN"
                " (SELECT e.exec_id FROM execs e INDEXED BY execs_queue"
                "  JOIN tasks t ON t.task_id = e.task_id"
                "  WHERE e.status = 0 AND e.run_at_us <= ?1 AND t.paused = 0"
                "  AND t.handler IN (SELECT value FROM json_each(?3))"
                /* max_concurrency, judged in this transaction (the write lock is held,
                 * so it holds across processes), counting on the running runs' index
                 * (small) rather than the task's history: a limited task below its
                 * limit gives at most its first due run to one claim, so the claim's
                 * own rows cannot pass the limit either. */
                "  AND (t.max_concurrency = 0 OR ((SELECT COUNT(*) FROM execs r"
                "   INDEXED BY execs_running_by_node"
                "   WHERE r.status = 1 AND r.task_id = e.task_id) < t.max_concurrency"
                "   AND e.exec_id = (SELECT x.exec_id FROM execs x INDEXED BY execs_queue"
                "    WHERE x.status = 0 AND x.task_id = e.task_id AND x.run_at_us <= ?1"
                "    ORDER BY x.priority DESC, x.run_at_us, x.queued_us, x.exec_id LIMIT 1)))"
                "  ORDER BY e.priority DESC, e.run_at_us, e.queued_us, e.exec_id LIMIT ?4)"
                " RETURNING " SQ_EXEC_COLS,
                &st) != TASKER_OK)
        return r->rc;
    sqlite3_bind_int64(st, 1, op->now_us);
    bind_text(st, 2, op->node_id);
    bind_text(st, 3, op->handlers_json);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)op->max);
    tasker_task_exec *v = calloc(op->max, sizeof *v);
    if (!v) {
        sqlite3_finalize(st);
        return r->rc = TASKER_ENOMEM;
    }
    size_t n = 0;
    int step;
    bool oom = false;
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        if (n < op->max && !(oom = !sq_row_exec(st, &v[n++]))) continue;
    /* RETURNING rows come in no promised order. */
    if (step == SQLITE_DONE && !oom) qsort(v, n, sizeof *v, cmp_oldest_first);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE || oom) {
        tasker_free_execs(v, n);
        if (oom) {
            snprintf(r->msg, sizeof r->msg, "sqlite: out of memory claiming executions");
            /* The claim's rows are in this transaction: roll it back, so that no run is
             * left claimed with nobody to run it (the group commit runs the others
             * again without this request). */
            sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
            return r->rc = TASKER_ESTORAGE;
        }
        return cl_fail(s, r, "claiming executions");
    }
    if (n) {
        op->rows = v;
        op->n_rows = n;
    } else {
        free(v);
    }
    return r->rc;
}

int sq_exec_cluster(sq_store *s, sq_req *r)
{
    struct sq_cluster_op *op = r->u.cluster;
    switch (op->what) {
    case CL_BEAT: return exec_beat(s, r, op);
    case CL_GONE: return exec_gone(s, r, op);
    case CL_EXPIRE: return exec_expire(s, r, op);
    case CL_CLAIM: return exec_claim(s, r, op);
    case CL_LIFE: {
        sqlite3_stmt *st = NULL;
        if (prepare(s, r, op->life_sql, &st) != TASKER_OK) return r->rc;
        bind_text(st, 1, op->id);
        sqlite3_bind_int64(st, 2, op->flag);
        sqlite3_bind_int64(st, 3, op->now_us);
        if (step_done(s, r, st, op->what_text) == TASKER_OK) op->changes = sqlite3_changes(s->wdb);
        return r->rc;
    }
    }
    return r->rc = TASKER_EINVAL;
}

/* ---- fencing ------------------------------------------------------------------------ */

int sq_fence_refuse(sq_store *s, sq_req *r, const tasker_task_exec *e)
{
    sqlite3_stmt *st = s->wstmt[W_EXEC_HOLDER];
    bind_text(st, 1, e->exec_id);
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        sqlite3_reset(st);
        if (step != SQLITE_DONE) return cl_fail(s, r, "reading an execution's holder");
        snprintf(r->msg, sizeof r->msg, "execution '%s' not found", e->exec_id);
        return r->rc = TASKER_ENOTFOUND;
    }
    tasker_exec_status status = (tasker_exec_status)sqlite3_column_int(st, 0);
    char holder[TASKER_ID_SIZE * 4] = "";
    if (sqlite3_column_text(st, 1))
        snprintf(holder, sizeof holder, "%s", (const char *)sqlite3_column_text(st, 1));
    sqlite3_reset(st);

    bool other = *holder && strcmp(holder, e->node_id) != 0;
    char msg[1024];
    snprintf(msg, sizeof msg, "late outcome from node %s refused: the run is %s%s%s; "
             "outcome was %s%s%s", e->node_id, tasker_exec_status_name(status),
             other ? ", held by node " : "", other ? holder : "",
             tasker_exec_status_name(e->status), e->error ? ": " : "", e->error ? e->error : "");
    sqlite3_stmt *ev = s->wstmt[W_ADD_EVENT];
    bind_text(ev, 1, e->exec_id);
    sqlite3_bind_int64(ev, 2, sq_now_us(s));
    sqlite3_bind_int(ev, 3, (int)TASKER_WARNING);
    bind_text(ev, 4, msg);
    step = sqlite3_step(ev);
    sqlite3_reset(ev);
    if (step != SQLITE_DONE) return cl_fail(s, r, "recording a refused outcome");
    snprintf(r->msg, sizeof r->msg, "sqlite: execution '%s' is %s%s%s: the outcome of node %s "
             "is refused", e->exec_id, tasker_exec_status_name(status),
             *holder ? " on node " : "", holder, e->node_id);
    return r->rc = TASKER_ESTATE;
}

/* ---- the ops ------------------------------------------------------------------------ */

static int submit(sq_store *s, struct sq_cluster_op *op)
{
    sq_req r = {.kind = SQ_CLUSTER, .u.cluster = op};
    return sq_submit(s, &r);
}

/* ---- job lifecycle (storage version 4): one-statement writes ---- */

static int life_write(tasker_storage *st, const char *sql, const char *id, int64_t flag,
                      int64_t now_us, const char *what, int *changes)
{
    sq_store *s = (sq_store *)st;
    struct sq_cluster_op op = {.what = CL_LIFE, .life_sql = sql, .id = id, .flag = flag,
                               .now_us = now_us};
    op.what_text = what;
    int rc = submit(s, &op);
    *changes = op.changes;
    return rc;
}

int sq_set_task_paused(tasker_storage *st, const char *task_id, bool paused)
{
    if (!task_id) return tasker_set_error(TASKER_EINVAL, "sqlite: set_task_paused: NULL id");
    int changes = 0;
    int rc = life_write(st, "UPDATE tasks SET paused = ?2 WHERE task_id = ?1", task_id,
                        paused, tasker_storage_now_us(st), "pausing a task", &changes);
    if (rc == TASKER_OK && !changes)
        return tasker_set_error(TASKER_ENOTFOUND, "sqlite: no task '%s'", task_id);
    return rc;
}

int sq_set_scheme_paused(tasker_storage *st, const char *scheme_id, bool paused,
                         int64_t now_us)
{
    if (!scheme_id) return tasker_set_error(TASKER_EINVAL, "sqlite: set_scheme_paused: NULL id");
    int changes = 0;
    int rc = life_write(st, "UPDATE schemes SET paused = ?2, last_fire_us = CASE WHEN ?2 = 0"
                        " AND last_fire_us < ?3 THEN ?3 ELSE last_fire_us END"
                        " WHERE scheme_id = ?1", scheme_id, paused, now_us, "pausing a schedule",
                        &changes);
    if (rc == TASKER_OK && !changes)
        return tasker_set_error(TASKER_ENOTFOUND, "sqlite: no schedule '%s'", scheme_id);
    return rc;
}

/* Pending -> cancelled, running -> cancel_requested, in one statement; then the status
 * read back tells which (or that it was finished or absent). */
int sq_cancel_task_exec(tasker_storage *st, const char *exec_id, int64_t now_us,
                        tasker_exec_status *was)
{
    if (!exec_id) return tasker_set_error(TASKER_EINVAL, "sqlite: cancel_task_exec: NULL id");
    int changes = 0;
    tasker_task_exec before = {0};
    int rc = st->ops->get_task_exec(st, exec_id, &before);
    if (rc != TASKER_OK) return rc;
    tasker_exec_status status = before.status;
    tasker_exec_clear(&before);
    if (was) *was = status;
    if (status != TASKER_EXEC_PENDING && status != TASKER_EXEC_RUNNING)
        return tasker_set_error(TASKER_ESTATE, "sqlite: execution '%s' is %s: finished, not "
                                "cancelled", exec_id, tasker_exec_status_name(status));
    rc = life_write(st, "UPDATE execs SET"
                    " status = CASE status WHEN 0 THEN 6 ELSE status END,"
                    " end_us = CASE status WHEN 0 THEN ?3 ELSE end_us END,"
                    " error = CASE status WHEN 0 THEN 'cancelled' ELSE error END,"
                    " cancel_requested = CASE status WHEN 1 THEN 1 ELSE cancel_requested END"
                    " WHERE exec_id = ?1 AND status < 2 AND ?2 = ?2", exec_id, 0,
                    now_us, "cancelling an execution", &changes);
    if (rc == TASKER_OK && !changes) /* it finished meanwhile */
        return tasker_set_error(TASKER_ESTATE, "sqlite: execution '%s' finished before the "
                                "cancel", exec_id);
    return rc;
}

int sq_node_beat(tasker_storage *st, const tasker_node *self, int64_t *store_now_us)
{
    if (!self || !self->node_id || !*self->node_id)
        return tasker_set_error(TASKER_EINVAL, "sqlite: node_beat: node id missing");
    sq_store *s = (sq_store *)st;
    struct sq_cluster_op op = {.what = CL_BEAT, .self = self, .now_us = sq_now_us(s)};
    int rc = submit(s, &op);
    if (rc == TASKER_OK && store_now_us) *store_now_us = op.now_us;
    return rc;
}

int sq_node_gone(tasker_storage *st, const char *node_id)
{
    if (!node_id) return tasker_set_error(TASKER_EINVAL, "sqlite: node_gone: NULL node id");
    sq_store *s = (sq_store *)st;
    struct sq_cluster_op op = {.what = CL_GONE, .node_id = node_id, .now_us = sq_now_us(s)};
    return submit(s, &op);
}

int sq_interrupt_expired(tasker_storage *st, int64_t lease_us, size_t *n)
{
    if (n) *n = 0;
    if (lease_us < 0) return tasker_set_error(TASKER_EINVAL, "sqlite: negative lease");
    sq_store *s = (sq_store *)st;
    struct sq_cluster_op op = {.what = CL_EXPIRE, .lease_us = lease_us, .now_us = sq_now_us(s)};
    int rc = submit(s, &op);
    if (rc == TASKER_OK && n) *n = op.marked;
    return rc;
}

static char *handlers_json(const char *const *handlers, size_t nh)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < nh; i++)
        if (handlers[i]) json_array_append_new(a, json_string(handlers[i]));
    char *text = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    return text;
}

int sq_claim_task_execs(tasker_storage *st, const char *node_id, const char *const *handlers,
                        size_t nh, size_t max, int64_t now_us, tasker_task_exec **out,
                        size_t *n)
{
    if (!node_id || !out || !n || (nh && !handlers))
        return tasker_set_error(TASKER_EINVAL, "sqlite: claim_task_execs: NULL argument");
    *out = NULL;
    *n = 0;
    if (!nh || !max) return TASKER_OK;
    char *json = handlers_json(handlers, nh);
    if (!json) return tasker_set_error(TASKER_ENOMEM, "sqlite: claim_task_execs: out of memory");
    struct sq_cluster_op op = {.what = CL_CLAIM, .node_id = node_id, .now_us = now_us,
                               .handlers_json = json, .max = max};
    int rc = submit((sq_store *)st, &op);
    free(json);
    if (rc != TASKER_OK) { /* not committed: nothing was claimed */
        tasker_free_execs(op.rows, op.n_rows);
        return rc;
    }
    *out = op.rows;
    *n = op.n_rows;
    return TASKER_OK;
}

/* ---- reads -------------------------------------------------------------------------- */

static char *col_dup(sqlite3_stmt *st, int i, bool *oom)
{
    const unsigned char *v = sqlite3_column_text(st, i);
    char *copy = strdup(v ? (const char *)v : "");
    if (!copy) *oom = true;
    return copy;
}

static bool row_node(sqlite3_stmt *st, tasker_node *n)
{
    bool oom = false;
    n->node_id = col_dup(st, 0, &oom);
    n->host = col_dup(st, 1, &oom);
    n->pid = sqlite3_column_int64(st, 2);
    n->started_us = sqlite3_column_int64(st, 3);
    n->heartbeat_us = sqlite3_column_int64(st, 4);
    n->running = sqlite3_column_int(st, 5);
    n->handlers = col_dup(st, 6, &oom);
    n->clock_skew_us = sqlite3_column_int64(st, 7);
    n->stopped_us = sqlite3_column_int64(st, 8);
    return !oom;
}

/* Prepares sql on a borrowed reader; *rd NULL on failure. */
static int read_prepare(sq_store *s, const char *sql, sq_reader **rd, sqlite3_stmt **st)
{
    sq_read_barrier(s);
    *st = NULL;
    if (!(*rd = sq_reader_get(s))) return TASKER_ESTORAGE;
    if (sqlite3_prepare_v2((*rd)->db, sql, -1, st, NULL) != SQLITE_OK) {
        int rc = sq_fail(s, (*rd)->db, "preparing a cluster query");
        sqlite3_finalize(*st);
        sq_reader_put(s, *rd);
        *rd = NULL;
        return rc;
    }
    return TASKER_OK;
}

int sq_list_nodes(tasker_storage *st, int64_t since_us, tasker_node **out, size_t *n,
                  int64_t *store_now_us)
{
    if (!out || !n) return tasker_set_error(TASKER_EINVAL, "sqlite: list_nodes: NULL argument");
    sq_store *s = (sq_store *)st;
    *out = NULL;
    *n = 0;
    if (store_now_us) *store_now_us = sq_now_us(s);
    sq_reader *rd;
    sqlite3_stmt *q;
    int rc = read_prepare(s, "SELECT " CL_NODE_COLS " FROM nodes WHERE heartbeat_us >= ?1"
                          " ORDER BY node_id", &rd, &q);
    if (rc != TASKER_OK) return rc;
    sqlite3_bind_int64(q, 1, since_us);
    tasker_node *v = NULL;
    size_t len = 0, cap = 0;
    int step;
    while (rc == TASKER_OK && (step = sqlite3_step(q)) == SQLITE_ROW) {
        if (len == cap) {
            tasker_node *nv = realloc(v, (cap = cap ? cap * 2 : 8) * sizeof *v);
            if (!nv) {
                rc = tasker_set_error(TASKER_ENOMEM, "sqlite: list_nodes: out of memory");
                break;
            }
            v = nv;
        }
        memset(&v[len], 0, sizeof v[len]);
        if (!row_node(q, &v[len++]))
            rc = tasker_set_error(TASKER_ENOMEM, "sqlite: list_nodes: out of memory");
    }
    if (rc == TASKER_OK && step != SQLITE_DONE) rc = sq_fail(s, rd->db, "listing the nodes");
    sqlite3_finalize(q);
    sq_reader_put(s, rd);
    if (rc != TASKER_OK || !len) {
        tasker_free_nodes(v, len);
        return rc;
    }
    *out = v;
    *n = len;
    return TASKER_OK;
}

int sq_find_active_exec(tasker_storage *st, const char *scheme_id,
                        char exec_id_out[TASKER_ID_SIZE])
{
    if (!scheme_id || !exec_id_out)
        return tasker_set_error(TASKER_EINVAL, "sqlite: find_active_exec: NULL argument");
    sq_store *s = (sq_store *)st;
    sq_reader *rd;
    sqlite3_stmt *q;
    int rc = read_prepare(s, "SELECT exec_id FROM execs WHERE status < 2 AND scheme_id = ?1"
                          " LIMIT 1", &rd, &q);
    if (rc != TASKER_OK) return rc;
    sqlite3_bind_text(q, 1, scheme_id, -1, SQLITE_STATIC);
    int step = sqlite3_step(q);
    if (step == SQLITE_ROW)
        snprintf(exec_id_out, TASKER_ID_SIZE, "%s", (const char *)sqlite3_column_text(q, 0));
    else if (step == SQLITE_DONE)
        rc = tasker_set_error(TASKER_ENOTFOUND, "sqlite: schedule '%s' has no pending or "
                              "running execution", scheme_id);
    else
        rc = sq_fail(s, rd->db, "looking for an active execution");
    sqlite3_finalize(q);
    sq_reader_put(s, rd);
    return rc;
}

/* version 4: the change counter of migration 6 (schema.c). */
int sq_schemes_version(tasker_storage *st, uint64_t *out)
{
    if (!out) return tasker_set_error(TASKER_EINVAL, "sqlite: schemes_version: NULL argument");
    sq_store *s = (sq_store *)st;
    sq_reader *rd;
    sqlite3_stmt *q;
    int rc = read_prepare(s, "SELECT v FROM scheme_version", &rd, &q);
    if (rc != TASKER_OK) return rc;
    if (sqlite3_step(q) == SQLITE_ROW)
        *out = (uint64_t)sqlite3_column_int64(q, 0);
    else
        rc = sq_fail(s, rd->db, "reading the schedules' change counter");
    sqlite3_finalize(q);
    sq_reader_put(s, rd);
    return rc;
}
