/* The MySQL driver's executions: adding (with retention), starting (the compare-and-set
 * start; its row read back is rows.c's), fenced outcomes, queries, and marking the
 * executions of dead nodes interrupted.
 *
 * Fencing: an outcome with a node (tasker_task_exec.node_id) is written only while its
 * run is `running` and held by that node; one without (tools, tests) is written as is.
 * When another node has meanwhile marked the run interrupted (this node's lease ran
 * out), nothing is overwritten: the run gets the event "late outcome from node N
 * refused: ..." and the writer TASKER_ESTATE. An outcome found already stored, same status and end, is this
 * very write replayed: TASKER_OK.
 * Retention is storage/mysql/retain.c's. */
#include "core/error.h"
#include "storage/mysql/operations.h"
#include "storage/mysql/write.h"

#include <mysqld_error.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static my_store *store(tasker_storage *st) { return (my_store *)st; }

/* ---- unique keys ------------------------------------------------------------------ */

/* The key a pending or running run holds is a row of exec_unique, (task, key) its
 * primary key: the store refuses a second holder whatever callers race, as an index
 * does. A row names the run that last held the key; once that run has finished (or was
 * pruned) the key is free, and the next run to want it takes the row over. Nothing is
 * written when a run ends: only runs with a key pay for keys, at their add, and retries
 * (rows.c), which pass their failed attempt's key on in the same transaction. */

/* Reads the holder of e's key, locking its row (FOR UPDATE) until the transaction ends:
 * 1 found (*holder malloc'd), 0 none, or a negative tasker code. */
static int key_holder(my_store *s, my_conn *c, const tasker_task_exec *e, char **holder)
{
    MYSQL_BIND b[2];
    unsigned long len[2];
    MYSQL_STMT *st;
    *holder = NULL;
    my_bind_str(&b[0], e->task_id, &len[0]);
    my_bind_str(&b[1], e->unique_key, &len[1]);
    int rc = my_cl_prepare(s, c, "SELECT exec_id FROM exec_unique WHERE task_id = ?"
                           " AND unique_key = ? FOR UPDATE", b, &st, "locking a unique key");
    if (rc != TASKER_OK) return rc;
    my_cl_col col = {.str = holder};
    int f = my_cl_fetch(s, c, st, &col, 1);
    mysql_stmt_close(st);
    return f;
}

/* Whether the run exec_id is pending or running. A plain read is exact here: the key's
 * row is locked, and a run that finished stays finished (its retry takes the key over
 * in the transaction of the failure, through the row locked). */
static int holds_still(my_store *s, my_conn *c, const char *exec_id, bool *holds)
{
    MYSQL_BIND b[1];
    unsigned long len;
    MYSQL_STMT *st;
    int64_t status = -1;
    my_bind_str(&b[0], exec_id, &len);
    int rc = my_cl_prepare(s, c, "SELECT status FROM task_execs WHERE exec_id = ?", b, &st,
                           "reading a unique key's holder");
    if (rc != TASKER_OK) return rc;
    my_cl_col col = {.i64 = &status};
    int f = my_cl_fetch(s, c, st, &col, 1);
    mysql_stmt_close(st);
    if (f < 0) return f;
    *holds = f == 1 && (status == TASKER_EXEC_PENDING || status == TASKER_EXEC_RUNNING);
    return TASKER_OK;
}

/* Takes e's key for e (*took), or fails with TASKER_EEXISTS when a pending or running
 * run holds it. A key whose row names e already (an add replayed) is left as it is: the
 * add then fails on its id. */
static int hold_key(my_store *s, my_conn *c, const tasker_task_exec *e, bool *took)
{
    *took = false;
    MYSQL_BIND b[3];
    unsigned long len[3];
    my_bind_str(&b[0], e->exec_id, &len[0]);
    my_bind_str(&b[1], e->task_id, &len[1]);
    my_bind_str(&b[2], e->unique_key, &len[2]);
    /* Twice at most: a key first held by a transaction that commits meanwhile is found
     * the second time. */
    for (int round = 0; round < 2; round++) {
        char *holder = NULL;
        bool holds = false;
        int f = key_holder(s, c, e, &holder);
        if (f < 0) return f;
        if (f == 0) {
            int rc = my_cl_run(s, c, "INSERT INTO exec_unique (exec_id, task_id, unique_key)"
                               " VALUES (?, ?, ?)", b, NULL, "holding a unique key");
            *took = rc == TASKER_OK;
            if (rc == TASKER_OK || c->last_errno != ER_DUP_ENTRY) return rc;
            c->last_errno = 0; /* another add took it first: see whether it still holds */
            continue;
        }
        if (strcmp(holder, e->exec_id) == 0) {
            free(holder);
            return TASKER_OK;
        }
        int rc = holds_still(s, c, holder, &holds);
        if (rc == TASKER_OK && holds)
            rc = tasker_fail(TASKER_EEXISTS, "mysql: a pending or running run of task '%s' "
                             "(%s) holds unique key '%s'", e->task_id, holder, e->unique_key);
        free(holder);
        if (rc != TASKER_OK) return rc;
        /* Its holder has finished (or was pruned): the key is free. */
        *took = true;
        return my_cl_run(s, c, "UPDATE exec_unique SET exec_id = ? WHERE task_id = ?"
                         " AND unique_key = ?", b, NULL, "taking over a unique key");
    }
    return tasker_fail(TASKER_EEXISTS, "mysql: a pending or running run of task '%s' holds "
                       "unique key '%s'", e->task_id, e->unique_key);
}

/* Lets go of the key hold_key took for an add that then failed: its previous holder, if
 * any, had finished, so the key is free again either way. */
static int unhold_key(my_store *s, my_conn *c, const tasker_task_exec *e)
{
    MYSQL_BIND b[3];
    unsigned long len[3];
    my_bind_str(&b[0], e->task_id, &len[0]);
    my_bind_str(&b[1], e->unique_key, &len[1]);
    my_bind_str(&b[2], e->exec_id, &len[2]);
    return my_cl_run(s, c, "DELETE FROM exec_unique WHERE task_id = ? AND unique_key = ?"
                     " AND exec_id = ?", b, NULL, "letting go of a unique key");
}

/* ---- writes ----------------------------------------------------------------------- */

static int insert_exec(my_store *s, my_conn *c, const tasker_task_exec *e)
{
    MYSQL_BIND p[19];
    unsigned long len[10];
    int status = (int)e->status, success = e->success ? 1 : 0;
    int attempt = e->attempt > 0 ? e->attempt : 1;
    uint64_t n = 0;
    my_bind_str(&p[0], e->exec_id, &len[0]);
    my_bind_str(&p[1], e->scheme_id, &len[1]);
    my_bind_i64(&p[2], &e->scheduled_us);
    my_bind_i64(&p[3], &e->queued_us);
    my_bind_i64(&p[4], &e->start_us);
    my_bind_i64(&p[5], &e->end_us);
    my_bind_int(&p[6], &status);
    my_bind_int(&p[7], &success);
    my_bind_str(&p[8], e->result, &len[2]);
    my_bind_str(&p[9], e->error, &len[3]);
    my_bind_str(&p[10], e->node_id, &len[4]);
    my_bind_int(&p[11], &attempt);
    my_bind_str(&p[12], e->retry_of, &len[5]);
    my_bind_i64(&p[13], &e->run_at_us);
    my_bind_int(&p[14], &e->priority);
    my_bind_str(&p[15], e->param, &len[6]);
    my_bind_str(&p[16], e->unique_key, &len[7]);
    my_bind_i64(&p[17], &e->timeout_ms);
    my_bind_str(&p[18], e->task_id, &len[8]);
    int rc = my_run(s, c, MS_EXEC_INSERT, p, &n);
    if (rc != TASKER_OK && c->last_errno == ER_DUP_ENTRY) {
        if (strstr(tasker_last_error(), "exec_occurrence"))
            return tasker_fail(TASKER_EEXISTS,
                               "mysql: schedule '%s' already has an execution for %lld",
                               e->scheme_id, (long long)e->scheduled_us);
        return tasker_fail(TASKER_EEXISTS, "mysql: execution '%s' exists", e->exec_id);
    }
    if (rc != TASKER_OK) return rc;
    if (n == 0) return tasker_fail(TASKER_ENOTFOUND, "mysql: no task '%s'", e->task_id);
    return TASKER_OK;
}

/* A run with a unique key takes it first (the bulk add leaves such runs to this one,
 * storage/mysql/bulk.c): refused, nothing is written; the key is let go of again when
 * the run itself cannot be added. */
static int w_add_exec(my_store *s, my_conn *c, my_write *w)
{
    const tasker_task_exec *e = w->arg;
    bool keyed = e->unique_key &&
                 (e->status == TASKER_EXEC_PENDING || e->status == TASKER_EXEC_RUNNING);
    bool took = false;
    int rc = keyed ? hold_key(s, c, e, &took) : TASKER_OK;
    if (rc != TASKER_OK) return rc;
    rc = insert_exec(s, c, e);
    if (rc != TASKER_OK && took && !my_trx_lost(c)) {
        char why[512];
        snprintf(why, sizeof why, "%s", tasker_last_error());
        unsigned err = c->last_errno;
        int urc = unhold_key(s, c, e);
        if (urc != TASKER_OK) return urc;
        c->last_errno = err;
        return tasker_fail(rc, "%s", why);
    }
    if (rc != TASKER_OK) return rc;
    w->task_id_for_retention = e->task_id;
    return TASKER_OK;
}

int my_add_task_exec(tasker_storage *st, const tasker_task_exec *e)
{
    if (!e || !e->exec_id || !e->task_id)
        return tasker_fail(TASKER_EINVAL, "mysql: add_task_exec: exec id and task id are required");
    my_write w = {.fn = w_add_exec, .kind = MW_ADD, .arg = e};
    return my_write_submit(store(st), &w);
}

/* ---- starts ------------------------------------------------------------------------ */

/* One start alone: the compare-and-set, and when it matched nothing, why. */
static int w_start_exec(my_store *s, my_conn *c, my_write *w)
{
    const my_start_arg *a = w->arg;
    MYSQL_BIND p[4];
    unsigned long len[2];
    uint64_t n = 0;
    my_bind_i64(&p[0], &a->start_us);
    my_bind_str(&p[1], a->node_id, &len[0]);
    my_bind_str(&p[2], a->exec_id, &len[1]);
    my_bind_i64(&p[3], &a->start_us);
    w->claimed = false;
    int rc = my_run(s, c, MS_EXEC_START, p, &n);
    if (rc != TASKER_OK) return rc;
    if (n == 1) {
        w->claimed = true;
        return TASKER_OK;
    }
    my_claim_row *rows = NULL;
    size_t nrows = 0;
    if ((rc = my_claim_rows(s, c, &w, 1, &rows, &nrows)) != TASKER_OK) return rc;
    if (nrows && rows[0].status == TASKER_EXEC_PENDING) { /* not due, or held */
        my_claim_rows_free(rows, nrows);
        return tasker_fail(TASKER_ESTATE, "mysql: execution '%s' is delayed, or its task "
                           "paused or limited: left to claims", a->exec_id);
    }
    rc = my_claim_verdict(w, nrows ? &rows[0] : NULL);
    my_claim_rows_free(rows, nrows);
    if (rc == TASKER_OK) /* cannot be: it matched nothing; say so rather than run it */
        rc = TASKER_ESTATE;
    return tasker_fail(rc, "%s", w->err);
}

/* All or nothing, as one write of lane 0 (answered after its COMMIT). */
typedef struct {
    const tasker_task_exec *v;
    size_t n;
} execs_arg;

/* Adds the n executions of v on c, in its transaction, all or nothing, and applies their
 * tasks' retention; task_known: their tasks were read (share-locked) already and all
 * exist unheld. */
static int add_execs_on(my_store *s, my_conn *c, const tasker_task_exec *v, size_t n,
                        bool task_known)
{
    my_write *adds = calloc(n, sizeof *adds);
    my_write **ptrs = calloc(n, sizeof *ptrs);
    int rc = adds && ptrs ? TASKER_OK
                          : tasker_fail(TASKER_ENOMEM, "mysql: out of memory for %zu executions",
                                        n);
    for (size_t i = 0; i < n && rc == TASKER_OK; i++) {
        adds[i] = (my_write){.fn = w_add_exec, .kind = MW_ADD, .arg = &v[i],
                             .task_known = task_known};
        ptrs[i] = &adds[i];
    }
    int64_t t0_us = s->trace ? my_mono_us() : 0;
    if (rc == TASKER_OK) rc = my_bulk_whole(s, c, MW_ADD, ptrs, n);
    int64_t t1_us = s->trace ? my_mono_us() : 0;
    /* Retention of all their tasks at once (storage/mysql/herd.c): a herd's fires are
     * of as many tasks as runs. */
    const char **ids = rc == TASKER_OK ? malloc(n * sizeof *ids) : NULL;
    if (rc == TASKER_OK && !ids) rc = tasker_fail(TASKER_ENOMEM, "mysql: out of memory");
    for (size_t i = 0; ids && i < n; i++) ids[i] = v[i].task_id;
    if (rc == TASKER_OK) rc = my_retain_tasks(s, c, ids, n);
    if (s->trace)
        my_trace(s, "bulk-add n=%zu rc=%d insert_us=%lld retain_us=%lld", n, rc,
                 (long long)(t1_us - t0_us), (long long)(my_mono_us() - t1_us));
    free(ids);
    free(adds);
    free(ptrs);
    return rc;
}

static int w_add_execs(my_store *s, my_conn *c, my_write *w)
{
    const execs_arg *a = w->arg;
    return add_execs_on(s, c, a->v, a->n, false);
}

int my_add_task_execs(tasker_storage *st, const tasker_task_exec *v, size_t n)
{
    if (n == 0) return TASKER_OK;
    if (!v) return tasker_fail(TASKER_EINVAL, "mysql: add_task_execs: NULL");
    for (size_t i = 0; i < n; i++)
        if (!v[i].exec_id || !v[i].task_id)
            return tasker_fail(TASKER_EINVAL,
                               "mysql: add_task_execs: exec id and task id are required");
    execs_arg a = {v, n};
    my_write w = {.fn = w_add_execs, .kind = MW_SINGLE, .arg = &a};
    return my_write_submit(store(st), &w);
}

/* ---- fires stored started (add_started_execs, issue 14) -------------------------------
 *
 * A schedule loop's batch of fires is stored, with the runs this node will begin soon
 * inserted already running under it, in one transaction on a connection of its own (not
 * a lane's: lane 0 keeps taking triggers, lane 1 the outcomes, meanwhile). The tasks are
 * read first, share-locked until the COMMIT (they cannot be paused, limited or removed
 * under it): when every one exists and is neither paused nor limited, each due run of a
 * listed handler, up to max_start, is inserted with status running, this node and the
 * start time; a start of its own (an UPDATE, or a claim round of lane 1) is saved. When
 * not, the batch is stored as add_task_execs stores it, nothing started.
 *
 * Only a COMMIT that succeeded lets the caller run them (design section 5). On a Galera
 * member the started rows are read back after it, causally, as a claim's are (claim.c).
 * A COMMIT whose answer was lost may have landed: a new connection reads whether it did
 * (one row tells, the write being all or nothing) and answers accordingly. Should that
 * read fail too, the call fails, and the starts are kept as claims of unknown outcome
 * (unknown.c): put back to pending before the next claim, so that they run once, by
 * whichever node claims them. */

int (*my_test_before_fire_commit)(void);

typedef struct {
    tasker_task_exec *v; /* the batch, the started ones marked running */
    size_t n;
    char **ids;          /* the started ones' exec ids (pointers into v) */
    size_t n_ids;
    int64_t start_us;
    const char *node_id;
} fire_batch;

/* Marks running the runs of b a start would take (due, of a listed handler: any when
 * handlers is NULL), up to max_start, given each one's task handler[i]. */
static void pick_starts(fire_batch *b, char **handler, const char *const *handlers, size_t nh,
                        size_t max_start)
{
    for (size_t i = 0; i < b->n && b->n_ids < max_start; i++) {
        tasker_task_exec *e = &b->v[i];
        if (e->status != TASKER_EXEC_PENDING || e->run_at_us > b->start_us || !handler[i] ||
            e->unique_key) /* a unique key is taken as an add takes it, one by one */
            continue;
        bool listed = !handlers;
        for (size_t k = 0; k < nh && !listed; k++) listed = strcmp(handlers[k], handler[i]) == 0;
        if (!listed) continue;
        e->status = TASKER_EXEC_RUNNING;
        e->start_us = b->start_us;
        e->node_id = (char *)b->node_id;
        b->ids[b->n_ids++] = e->exec_id;
    }
}

/* Keeps in b->ids only the runs whose row reads running under this node since this
 * start: a causal read, after the COMMIT (Galera) or in place of its lost answer. *found
 * tells whether the batch's first row is there at all (the write landed). */
static int read_back(my_store *s, my_conn *c, fire_batch *b, bool *found)
{
    bool wsrep = false;
    size_t n = b->n_ids + 1; /* the batch's first run, then the started ones */
    char **ids = malloc(n * sizeof *ids);
    bool *exists = calloc(n, sizeof *exists), *ours = calloc(n, sizeof *ours);
    int rc = ids && exists && ours ? my_conn_wsrep(s, c, &wsrep)
                                   : tasker_fail(TASKER_ENOMEM, "mysql: out of memory");
    if (rc == TASKER_OK) {
        ids[0] = b->v[0].exec_id;
        memcpy(ids + 1, b->ids, b->n_ids * sizeof *ids);
        rc = my_runs_ours(s, c, ids, n, b->node_id, b->start_us, wsrep, exists, ours);
    }
    if (rc == TASKER_OK) { /* in their order: started[] is matched along it */
        *found = exists[0];
        size_t nk = 0;
        for (size_t i = 0; i < b->n_ids; i++)
            if (ours[1 + i]) b->ids[nk++] = b->ids[i];
        b->n_ids = nk;
    }
    free(ids);
    free(exists);
    free(ours);
    return rc;
}

/* The COMMIT, or a test's fault in its place (MY_FAULT_*, internal.h). TASKER_OK when it
 * committed; else *unknown says whether it may have. */
static int fire_commit(my_store *s, my_conn *c, bool wsrep, bool *unknown)
{
    int fault = my_test_before_fire_commit ? my_test_before_fire_commit() : 0;
    *unknown = false;
    if (fault) {
        int failed = fault == MY_FAULT_UNKNOWN_COMMITTED ? mysql_commit(c->db)
                                                         : mysql_rollback(c->db);
        if (failed) return my_fail_conn(s, c, "injecting a fault");
        *unknown = fault == MY_FAULT_UNKNOWN || fault == MY_FAULT_UNKNOWN_COMMITTED;
        if (fault == MY_FAULT_DEADLOCK) c->last_errno = ER_LOCK_DEADLOCK;
        else c->broken = true; /* the connection is gone, as in the real case */
        return tasker_fail(TASKER_ESTORAGE, "mysql: committing fires: injected fault %d", fault);
    }
    if (mysql_commit(c->db) == 0) return TASKER_OK;
    int rc = my_fail_conn(s, c, "committing fires");
    /* Only a deadlock, or on Galera a certification failure, surely rolled back (as at a
     * lane's COMMIT, batch.c). */
    *unknown = c->broken || (wsrep && c->last_errno != ER_LOCK_DEADLOCK);
    return rc;
}

/* After a COMMIT of unknown outcome: whether it landed, read on a new connection. */
static int resolve_fires(my_store *s, fire_batch *b, bool *landed)
{
    my_conn *c = NULL;
    int rc = my_test_before_resolve && my_test_before_resolve()
                 ? tasker_fail(TASKER_ESTORAGE, "mysql: resolving fires: injected fault")
                 : my_conn_get(s, &c);
    if (rc == TASKER_OK) rc = read_back(s, c, b, landed);
    if (c && !c->broken) mysql_rollback(c->db);
    my_conn_put(s, c);
    return rc;
}

int my_add_started_execs(tasker_storage *st, const tasker_task_exec *v, size_t n,
                         int64_t start_us, const char *node_id, const char *const *handlers,
                         size_t nh, size_t max_start, bool *started)
{
    if (n == 0) return TASKER_OK;
    if (!v || !started || !node_id || (nh && !handlers))
        return tasker_fail(TASKER_EINVAL, "mysql: add_started_execs: NULL argument");
    for (size_t i = 0; i < n; i++) {
        if (!v[i].exec_id || !v[i].task_id)
            return tasker_fail(TASKER_EINVAL,
                               "mysql: add_started_execs: exec id and task id are required");
        started[i] = false;
    }
    my_store *s = store(st);
    fire_batch b = {.n = n, .start_us = start_us, .node_id = node_id};
    b.v = malloc(n * sizeof *b.v);
    b.ids = calloc(n, sizeof *b.ids);
    const char **task_ids = malloc(n * sizeof *task_ids);
    char **handler = NULL;
    my_conn *c = NULL;
    bool wsrep = false, all = false, unknown = false, begun = false;
    int rc = b.v && b.ids && task_ids ? TASKER_OK
                                      : tasker_fail(TASKER_ENOMEM, "mysql: out of memory");
    for (size_t i = 0; rc == TASKER_OK && i < n; i++) {
        b.v[i] = v[i];
        task_ids[i] = v[i].task_id;
    }
    /* No claim of unknown outcome left under this one: keep the list short. */
    if (rc == TASKER_OK) rc = my_claims_settle(s);
    if (rc == TASKER_OK) rc = my_conn_get(s, &c);
    if (rc == TASKER_OK) rc = my_conn_wsrep(s, c, &wsrep);
    if (rc == TASKER_OK && (rc = my_cl_begin(s, c, "storing a batch of fires")) == TASKER_OK)
        begun = true;
    if (rc == TASKER_OK) rc = my_tasks_handlers(s, c, task_ids, n, &all, &handler);
    if (rc == TASKER_OK && all) pick_starts(&b, handler, handlers, nh, max_start);
    if (rc == TASKER_OK) rc = add_execs_on(s, c, b.v, n, all);
    if (rc == TASKER_OK) {
        rc = fire_commit(s, c, wsrep, &unknown);
        bool landed = rc == TASKER_OK;
        if (rc == TASKER_OK && wsrep && b.n_ids && read_back(s, c, &b, &landed) != TASKER_OK)
            unknown = true, rc = TASKER_ESTORAGE; /* committed: which stuck is not known */
        if (rc == TASKER_OK && !landed) /* cannot be: it committed; start nothing */
            b.n_ids = 0;
        if (unknown && rc != TASKER_OK) {
            char why[512];
            snprintf(why, sizeof why, "%s", tasker_last_error());
            if (resolve_fires(s, &b, &landed) == TASKER_OK) {
                unknown = false;
                rc = landed ? TASKER_OK : tasker_fail(TASKER_ESTORAGE, "%s", why);
            } else {
                tasker_fail(TASKER_ESTORAGE, "%s", why);
            }
        }
    } else if (begun && !c->broken) {
        char why[512];
        snprintf(why, sizeof why, "%s", tasker_last_error());
        mysql_rollback(c->db);
        tasker_fail(rc, "%s", why);
    }
    my_conn_put(s, c);
    if (unknown && b.n_ids) my_claims_keep(s, node_id, start_us, b.ids, b.n_ids);
    if (rc == TASKER_OK)
        for (size_t i = 0, k = 0; i < n && k < b.n_ids; i++)
            if (b.v[i].exec_id == b.ids[k]) started[i] = true, k++;
    for (size_t i = 0; handler && i < n; i++) free(handler[i]);
    free(handler);
    free(task_ids);
    free(b.ids);
    free(b.v);
    return rc;
}

int my_start_task_execs(tasker_storage *st, const char *const *ids, size_t n,
                        int64_t start_us, const char *node_id, int *rcs)
{
    if (n == 0) return TASKER_OK;
    if (!ids || !rcs) return tasker_fail(TASKER_EINVAL, "mysql: start_task_execs: NULL");
    for (size_t i = 0; i < n; i++)
        if (!ids[i]) return tasker_fail(TASKER_EINVAL, "mysql: start_task_execs: NULL id");
    my_start_arg *args = calloc(n, sizeof *args);
    my_write *ws = calloc(n, sizeof *ws);
    if (!args || !ws) {
        free(args);
        free(ws);
        return tasker_fail(TASKER_ENOMEM, "mysql: out of memory for %zu starts", n);
    }
    for (size_t i = 0; i < n; i++) {
        args[i] = (my_start_arg){ids[i], node_id, start_us};
        ws[i] = (my_write){.fn = w_start_exec, .kind = MW_START, .arg = &args[i]};
    }
    my_write_submit_many(store(st), ws, n);
    for (size_t i = 0; i < n; i++) rcs[i] = ws[i].rc;
    free(args);
    free(ws);
    return TASKER_OK;
}

int my_start_task_exec(tasker_storage *st, const char *exec_id, int64_t start_us,
                       const char *node_id)
{
    if (!exec_id) return tasker_fail(TASKER_EINVAL, "mysql: start_task_exec: exec id is NULL");
    my_start_arg a = {exec_id, node_id, start_us};
    my_write w = {.fn = w_start_exec, .kind = MW_START, .arg = &a};
    return my_write_submit(store(st), &w);
}

/* An outcome that matched no row: written already by this very write (a batch replayed
 * after a cut-off COMMIT that had landed, or a bulk statement that fell short), absent,
 * or refused by the fence: then the run's history says so, in the same transaction,
 * with the event text of every driver (include/tasker/storage.h, update_task_exec). */
static int outcome_missed(my_store *s, my_conn *c, const tasker_task_exec *e)
{
    tasker_task_exec *rows = NULL;
    size_t n = 0;
    MYSQL_BIND p[1];
    unsigned long len;
    my_bind_str(&p[0], e->exec_id, &len);
    int rc = my_query(s, c, MS_EXEC_GET, p, my_exec_cols, MY_EXEC_NCOLS, sizeof *rows,
                      (void **)&rows, &n);
    if (rc != TASKER_OK) return rc;
    if (n == 0) return tasker_fail(TASKER_ENOTFOUND, "mysql: no execution '%s'", e->exec_id);
    tasker_task_exec *r = &rows[0];
    bool same_node = !e->node_id || (r->node_id && strcmp(r->node_id, e->node_id) == 0);
    if (same_node && r->status == e->status && r->end_us == e->end_us) {
        tasker_free_execs(rows, n);
        return TASKER_OK; /* this outcome, stored already */
    }
    if (!e->node_id) { /* unfenced: it matches any row that exists (CLIENT_FOUND_ROWS) */
        tasker_free_execs(rows, n);
        return tasker_fail(TASKER_ESTORAGE, "mysql: the outcome of execution '%s' matched "
                           "no row, yet the row exists", e->exec_id);
    }
    const char *holder = r->node_id ? r->node_id : "";
    bool other = *holder && strcmp(holder, e->node_id) != 0;
    char msg[3 * TASKER_ID_SIZE + 1200];
    snprintf(msg, sizeof msg, "late outcome from node %s refused: the run is %s%s%s; "
             "outcome was %s%s%.1000s", e->node_id, tasker_exec_status_name(r->status),
             other ? ", held by node " : "", other ? holder : "",
             tasker_exec_status_name(e->status), e->error ? ": " : "", e->error ? e->error : "");
    tasker_free_execs(rows, n);
    MYSQL_BIND q[4];
    unsigned long qlen[2];
    int64_t now_us = my_now_us(s);
    int level = TASKER_WARNING;
    my_bind_str(&q[0], e->exec_id, &qlen[0]);
    my_bind_i64(&q[1], &now_us);
    my_bind_int(&q[2], &level);
    my_bind_str(&q[3], msg, &qlen[1]);
    if ((rc = my_run(s, c, MS_EVENT_INSERT, q, NULL)) != TASKER_OK) return rc;
    return tasker_fail(TASKER_ESTATE, "mysql: %s", msg);
}

static int w_update_exec(my_store *s, my_conn *c, my_write *w)
{
    const tasker_task_exec *e = w->arg;
    MYSQL_BIND p[8];
    unsigned long len[5];
    int status = (int)e->status, success = e->success ? 1 : 0;
    uint64_t n = 0;
    my_bind_int(&p[0], &status);
    my_bind_i64(&p[1], &e->end_us);
    my_bind_int(&p[2], &success);
    my_bind_str(&p[3], e->result, &len[0]);
    my_bind_str(&p[4], e->error, &len[1]);
    my_bind_str(&p[5], e->exec_id, &len[2]);
    my_bind_str(&p[6], e->node_id, &len[3]);
    my_bind_str(&p[7], e->node_id, &len[4]);
    int rc = my_run(s, c, MS_EXEC_UPDATE, p, &n);
    if (rc == TASKER_OK && n == 0) rc = outcome_missed(s, c, e);
    /* Also when found written already (a bulk statement that fell short wrote it, with
     * no retry yet): the retry's id makes a second one a no-op. */
    if (rc == TASKER_OK) rc = my_store_retry(s, c, e);
    return rc;
}

int my_update_task_exec(tasker_storage *st, const tasker_task_exec *e)
{
    if (!e || !e->exec_id)
        return tasker_fail(TASKER_EINVAL, "mysql: update_task_exec: exec id is required");
    my_write w = {.fn = w_update_exec, .kind = MW_UPDATE, .arg = e};
    return my_write_submit(store(st), &w);
}

int my_update_task_exec_async(tasker_storage *st, const tasker_task_exec *e,
                              tasker_storage_done_fn done, void *udata)
{
    if (!e || !e->exec_id)
        return tasker_fail(TASKER_EINVAL, "mysql: update_task_exec: exec id is required");
    my_write w = {.fn = w_update_exec, .kind = MW_UPDATE, .arg = e};
    my_write *copy = my_async_copy(&w, done, udata);
    if (!copy) return TASKER_ENOMEM;
    my_write_submit_async(store(st), copy);
    return TASKER_OK;
}

/* ---- reads ------------------------------------------------------------------------ */

typedef struct {
    my_stmt_id id;
    const char *key; /* NULL: the statement takes no key */
    int64_t limit;   /* 0: the statement takes no limit */
    void *rows;
    size_t n;
} exec_query;

static int r_execs(my_store *s, my_conn *c, void *ctx)
{
    exec_query *q = ctx;
    MYSQL_BIND p[2];
    unsigned long len;
    int np = 0;
    if (q->key) my_bind_str(&p[np++], q->key, &len);
    if (q->limit) my_bind_i64(&p[np++], &q->limit);
    return my_query(s, c, q->id, np ? p : NULL, my_exec_cols, MY_EXEC_NCOLS,
                    sizeof(tasker_task_exec), &q->rows, &q->n);
}

static int run_exec_query(tasker_storage *st, exec_query *q, tasker_task_exec **out, size_t *n)
{
    int rc = my_read(store(st), r_execs, q);
    if (rc != TASKER_OK) return rc;
    *out = q->rows;
    *n = q->n;
    return TASKER_OK;
}

int my_get_task_exec(tasker_storage *st, const char *exec_id, tasker_task_exec *out)
{
    tasker_task_exec *rows = NULL;
    size_t n = 0;
    if (!exec_id || !out) return tasker_fail(TASKER_EINVAL, "mysql: get_task_exec: NULL argument");
    exec_query q = {.id = MS_EXEC_GET, .key = exec_id};
    int rc = run_exec_query(st, &q, &rows, &n);
    if (rc != TASKER_OK) return rc;
    if (n == 0) return tasker_fail(TASKER_ENOTFOUND, "mysql: no execution '%s'", exec_id);
    *out = rows[0];
    free(rows);
    return TASKER_OK;
}

int my_list_task_execs(tasker_storage *st, const char *task_id, size_t limit,
                       tasker_task_exec **out, size_t *n)
{
    if (!out || !n) return tasker_fail(TASKER_EINVAL, "mysql: list_task_execs: NULL argument");
    exec_query q = {.key = task_id, .limit = (int64_t)limit};
    if (task_id) q.id = limit ? MS_EXEC_LIST_TASK_LIMIT : MS_EXEC_LIST_TASK;
    else q.id = limit ? MS_EXEC_LIST_ALL_LIMIT : MS_EXEC_LIST_ALL;
    return run_exec_query(st, &q, out, n);
}

int my_list_pending_execs(tasker_storage *st, size_t limit, tasker_task_exec **out, size_t *n)
{
    if (!out || !n) return tasker_fail(TASKER_EINVAL, "mysql: list_pending_execs: NULL argument");
    exec_query q = {.id = limit ? MS_EXEC_PENDING_LIMIT : MS_EXEC_PENDING,
                    .limit = (int64_t)limit};
    return run_exec_query(st, &q, out, n);
}

/* ---- dead nodes ------------------------------------------------------------------- */

typedef struct {
    const char *node_id;
    int64_t end_us;
    uint64_t marked;
} interrupt_arg;

static int w_interrupt_node(my_store *s, my_conn *c, my_write *w)
{
    interrupt_arg *a = w->out;
    MYSQL_BIND p[3];
    unsigned long len[2];
    char why[TASKER_ID_SIZE + 320];
    snprintf(why, sizeof why, "interrupted: node %s stopped", a->node_id ? a->node_id : "?");
    my_bind_i64(&p[0], &a->end_us);
    my_bind_str(&p[1], why, &len[0]);
    my_bind_str(&p[2], a->node_id, &len[1]);
    /* Their retries, in the same transaction (job lifecycle). */
    char **ids = NULL;
    size_t n = 0;
    int rc = my_node_running(s, c, a->node_id, &ids, &n);
    if (rc == TASKER_OK) rc = my_run(s, c, MS_EXEC_INTERRUPT_NODE, p, &a->marked);
    if (rc == TASKER_OK && a->marked) rc = my_store_retries_of(s, c, ids, n);
    my_free_ids(ids, n);
    return rc;
}

typedef struct {
    char **nodes;
    size_t n;
} node_list;

static int r_running_nodes(my_store *s, my_conn *c, void *ctx)
{
    static const my_col cols[] = {{MC_STR, 0}};
    node_list *l = ctx;
    return my_query(s, c, MS_EXEC_RUNNING_NODES, NULL, cols, 1, sizeof(char *),
                    (void **)&l->nodes, &l->n);
}

/* alive() runs outside any transaction: it may be slow, and must not hold a batch. */
int my_interrupt_dead(tasker_storage *st, tasker_node_alive_fn alive, void *udata, size_t *n)
{
    my_store *s = store(st);
    node_list l = {0};
    size_t marked = 0;
    if (!alive) return tasker_fail(TASKER_EINVAL, "mysql: interrupt_dead: alive is NULL");
    int rc = my_read(s, r_running_nodes, &l);
    for (size_t i = 0; rc == TASKER_OK && i < l.n; i++) {
        /* A running execution with no node cannot belong to a live one. */
        if (l.nodes[i] && alive(l.nodes[i], udata)) continue;
        interrupt_arg a = {.node_id = l.nodes[i], .end_us = my_now_us(s)};
        my_write w = {.fn = w_interrupt_node, .out = &a};
        rc = my_write_submit(s, &w);
        marked += (size_t)a.marked;
    }
    for (size_t i = 0; i < l.n; i++) free(l.nodes[i]);
    free(l.nodes);
    if (rc == TASKER_OK && n) *n = marked;
    return rc;
}
