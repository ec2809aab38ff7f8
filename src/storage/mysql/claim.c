/* The MySQL driver's claim (storage version 3): a node with free workers takes pending
 * runs of the handlers it has, in one transaction on a pooled connection of its own:
 *
 *   SELECT ... WHERE status = 0 AND <handler is one of ours> ORDER BY queued_us, exec_id
 *     LIMIT max FOR UPDATE SKIP LOCKED      -- rows another claim holds are skipped
 *   UPDATE ... SET status = 1, start_us, node_id WHERE status = 0 AND exec_id IN (...)
 *   SELECT the claimed rows; COMMIT
 *
 * and the runs are handed to the core only once the COMMIT succeeded, so no run starts
 * on a claim that was rolled back (a deadlock, a Galera certification failure, a lost
 * connection). READ COMMITTED keeps locks on the matched rows only. The tasks table is
 * read in a subquery, which a locking read does not lock: claims of many nodes on runs
 * of one task do not serialise on the task's row.
 *
 * A COMMIT whose answer is lost may have committed: such a claim is neither taken as
 * won nor as lost, but kept (unknown.c), and its rows are put back to pending before
 * any later claim runs.
 *
 * On a Galera member (wsrep_on) a COMMIT's success is not taken on trust: after it, the
 * claimed rows are read again with a causal read (wsrep_sync_wait = 1: the read waits
 * until the member applied every writeset the cluster ordered before it), and only the
 * runs whose row still names this node with this claim's start time are handed to the
 * core; the others are dropped, never started. A claim transaction that a replicated
 * writeset of another member aborted (a brute-force abort) has been seen answered
 * COMMIT-success, and two nodes then both ran the run (test_multinode_galera.sh; see
 * docs/cluster.md, "Running on Galera"). A read after the COMMIT that fails leaves the
 * claim unknown, as above. A claim that conflicts (certification failure, deadlock) is
 * tried again after a short random pause, its select then a causal read too, so that it
 * sees the winner's claims; one that loses every try claimed nothing: TASKER_OK and no
 * run, not an error (the poller is not to back off as from a store that is away). */
#include "core/error.h"
#include "storage/mysql/operations.h"
#include "storage/mysql/rows.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CLAIM_ATTEMPTS 4 /* a conflict or a lost connection: claim again */
#define CLAIM_PAUSE_MS 4 /* before a claim's second try (random 1x-2x), doubled per try */
#define CAUSAL MY_CAUSAL
/* On a Galera member, a claim that follows a conflict (its retry, or any claim within
 * SPREAD_AFTER_US of one) selects CLAIM_SPREAD times its max and claims a random slice
 * of them: members do not see each other's row locks, so claims of several nodes at
 * once all picked the head of the queue, and all but one lost certification, try after
 * try (a burst of 100 runs then went whole to one node). */
#define CLAIM_SPREAD 4
#define SPREAD_AFTER_US INT64_C(1000000)

#define CLAIM_EXEC_COLS MY_EXEC_COLS
/* The claim's order (job lifecycle): priority first, then due time (exec_queue). */
#define CLAIM_ORDER " ORDER BY priority DESC, run_at_us, queued_us, exec_id"

/* "?, ?, ?" for n placeholders, after prefix and before suffix (malloc'd). */
static char *with_placeholders(const char *prefix, size_t n, const char *suffix)
{
    size_t len = strlen(prefix) + 3 * n + strlen(suffix) + 1;
    char *sql = malloc(len);
    if (!sql) return NULL;
    char *p = sql + sprintf(sql, "%s", prefix);
    for (size_t i = 0; i < n; i++) p += sprintf(p, i ? ", ?" : "?");
    strcpy(p, suffix);
    return sql;
}

typedef struct {
    const char *node_id;
    const char *const *handlers;
    size_t nh, max;
    int64_t now_us;
    char **ids; /* selected, then claimed */
    size_t n_ids;
    char **task_ids;   /* of each selected run, while max_concurrency is judged */
    int64_t *limits;   /* each selected run's task's max_concurrency (0 = none) */
    tasker_task_exec *rows;
    size_t n_rows;
    bool unknown; /* the COMMIT's answer was lost, or the read after it failed */
    bool wsrep;   /* on a Galera member: verify after COMMIT */
    bool causal;  /* select with wsrep_sync_wait (a try after a conflict) */
    size_t spread; /* select max * spread runs and claim a slice of max (see above) */
    unsigned *seed;
} claim_arg;

static void free_ids(claim_arg *a)
{
    for (size_t i = 0; i < a->n_ids; i++) {
        free(a->ids[i]);
        if (a->task_ids) free(a->task_ids[i]);
    }
    free(a->ids);
    free(a->task_ids);
    free(a->limits);
    a->ids = a->task_ids = NULL;
    a->limits = NULL;
    a->n_ids = 0;
}

/* Due runs of tasks not paused, in the claim's order along exec_queue. The task is
 * judged by a scalar subquery, not EXISTS: the optimizer turns an EXISTS into a
 * semi-join that reads the tasks first, then every pending run, and sorts them all for
 * each claim; this walks exec_queue and stops at the limit. */
#define SELECT_DUE                                                                       \
    "SELECT e.exec_id, e.task_id, (SELECT t.max_concurrency FROM tasks t"                \
    " WHERE t.task_id = e.task_id) FROM task_execs e FORCE INDEX (exec_queue)"           \
    " WHERE e.status = 0 AND e.run_at_us <= ? AND"                                       \
    " (SELECT t.paused = 0 AND t.handler IN ("

/* Keeps max of the selected runs: a random slice of max, in the claim's order (the
 * last max when the last slice is short); frees the others. */
static void take_slice(claim_arg *a)
{
    size_t slices = (a->n_ids + a->max - 1) / a->max;
    size_t start = (size_t)rand_r(a->seed) % slices * a->max;
    if (start + a->max > a->n_ids) start = a->n_ids - a->max;
    for (size_t i = 0; i < a->n_ids; i++) {
        if (i >= start && i < start + a->max) continue;
        free(a->ids[i]);
        free(a->task_ids[i]);
    }
    memmove(a->ids, a->ids + start, a->max * sizeof *a->ids);
    memmove(a->task_ids, a->task_ids + start, a->max * sizeof *a->task_ids);
    memmove(a->limits, a->limits + start, a->max * sizeof *a->limits);
    a->n_ids = a->max;
}

static int select_ids(my_store *s, my_conn *c, claim_arg *a)
{
    char *sql = with_placeholders(a->causal ? CAUSAL SELECT_DUE : SELECT_DUE, a->nh,
                                  ") FROM tasks t WHERE t.task_id = e.task_id)" CLAIM_ORDER
                                  " LIMIT ? FOR UPDATE SKIP LOCKED");
    MYSQL_BIND *b = calloc(a->nh + 2, sizeof *b);
    unsigned long *len = calloc(a->nh + 1, sizeof *len);
    size_t window = a->max * (a->spread > 1 ? a->spread : 1);
    int64_t limit = (int64_t)window;
    int rc = TASKER_ENOMEM;
    if (!sql || !b || !len || !(a->ids = calloc(window, sizeof *a->ids)) ||
        !(a->task_ids = calloc(window, sizeof *a->task_ids)) ||
        !(a->limits = calloc(window, sizeof *a->limits))) {
        tasker_fail(rc, "mysql: claim: out of memory");
        goto out;
    }
    my_bind_i64(&b[0], &a->now_us);
    for (size_t i = 0; i < a->nh; i++) my_bind_str(&b[1 + i], a->handlers[i], &len[i]);
    my_bind_i64(&b[1 + a->nh], &limit);
    MYSQL_STMT *st;
    if ((rc = my_cl_prepare(s, c, sql, b, &st, "selecting runs to claim")) != TASKER_OK) goto out;
    for (;;) {
        char *id = NULL, *task_id = NULL;
        int64_t max_conc = 0;
        my_cl_col cols[] = {{.str = &id}, {.str = &task_id}, {.i64 = &max_conc}};
        int f = my_cl_fetch(s, c, st, cols, 3);
        if (f <= 0 || a->n_ids == window) {
            free(id);
            free(task_id);
            rc = f < 0 ? f : TASKER_OK;
            break;
        }
        a->task_ids[a->n_ids] = task_id;
        a->limits[a->n_ids] = max_conc;
        a->ids[a->n_ids++] = id;
    }
    mysql_stmt_close(st);
    if (rc == TASKER_OK && a->n_ids > a->max) take_slice(a);
out:
    free(sql);
    free(b);
    free(len);
    return rc;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* A one-integer query of one string parameter (a locking read, a count). */
static int query_i64(my_store *s, my_conn *c, const char *sql, const char *key, int64_t *v,
                     const char *what)
{
    MYSQL_BIND b[1];
    unsigned long len;
    my_bind_str(&b[0], key, &len);
    MYSQL_STMT *st;
    int rc = my_cl_prepare(s, c, sql, b, &st, what);
    if (rc != TASKER_OK) return rc;
    my_cl_col col = {.i64 = v};
    int f = my_cl_fetch(s, c, st, &col, 1);
    mysql_stmt_close(st);
    return f < 0 ? f : TASKER_OK;
}

/* Keeps, of the selected runs of task_id, as many as its max_concurrency leaves room
 * for. The task's row is locked first (FOR UPDATE), so that claims of the task on every
 * node judge one after another, each counting the runs the previous ones committed. */
static int judge_task(my_store *s, my_conn *c, claim_arg *a, const char *task_id)
{
    int64_t limit = 0, running = 0;
    int rc = query_i64(s, c, "SELECT max_concurrency FROM tasks WHERE task_id = ? FOR UPDATE",
                       task_id, &limit, "locking a limited task");
    if (rc == TASKER_OK)
        rc = query_i64(s, c, "SELECT COUNT(*) FROM task_execs WHERE task_id = ? AND status = 1",
                       task_id, &running, "counting a limited task's runs");
    if (rc != TASKER_OK) return rc;
    int64_t room = limit > 0 ? limit - running : INT64_MAX;
    size_t k = 0;
    for (size_t i = 0; i < a->n_ids; i++) {
        bool mine = strcmp(a->task_ids[i], task_id) == 0;
        if (mine && room <= 0) { /* no room: left pending for a later claim */
            free(a->ids[i]);
            free(a->task_ids[i]);
            continue;
        }
        if (mine) room--;
        a->ids[k] = a->ids[i];
        a->task_ids[k] = a->task_ids[i];
        a->limits[k++] = a->limits[i];
    }
    a->n_ids = k;
    return TASKER_OK;
}

/* max_concurrency, judged inside the claim's transaction across every node: for each
 * limited task among the selected runs, in task id order (claims lock tasks in one
 * order: no deadlock between them). */
static int judge_limits(my_store *s, my_conn *c, claim_arg *a)
{
    size_t n = 0;
    char **tasks = malloc(a->n_ids * sizeof *tasks);
    if (!tasks) return tasker_fail(TASKER_ENOMEM, "mysql: claim: out of memory");
    for (size_t i = 0; i < a->n_ids; i++) {
        if (a->limits[i] <= 0) continue;
        if (!(tasks[n] = strdup(a->task_ids[i]))) {
            for (size_t k = 0; k < n; k++) free(tasks[k]);
            free(tasks);
            return tasker_fail(TASKER_ENOMEM, "mysql: claim: out of memory");
        }
        n++;
    }
    qsort(tasks, n, sizeof *tasks, cmp_str);
    int rc = TASKER_OK;
    for (size_t i = 0; i < n && rc == TASKER_OK; i++)
        if (!i || strcmp(tasks[i - 1], tasks[i]) != 0) rc = judge_task(s, c, a, tasks[i]);
    for (size_t i = 0; i < n; i++) free(tasks[i]);
    free(tasks);
    return rc;
}

/* Binds the claimed ids after `first` leading parameters already in b. */
static void bind_ids(const claim_arg *a, MYSQL_BIND *b, unsigned long *len, size_t first)
{
    for (size_t i = 0; i < a->n_ids; i++) my_bind_str(&b[first + i], a->ids[i], &len[i]);
}

static int mark_running(my_store *s, my_conn *c, claim_arg *a)
{
    char *sql = with_placeholders("UPDATE task_execs SET status = 1, start_us = ?, node_id = ?"
                                  " WHERE status = 0 AND exec_id IN (",
                                  a->n_ids, ")");
    MYSQL_BIND *b = calloc(a->n_ids + 2, sizeof *b);
    unsigned long *len = calloc(a->n_ids + 1, sizeof *len);
    int rc = TASKER_ENOMEM;
    if (!sql || !b || !len) {
        tasker_fail(rc, "mysql: claim: out of memory");
        goto out;
    }
    my_bind_i64(&b[0], &a->now_us);
    my_bind_str(&b[1], a->node_id, &len[a->n_ids]);
    bind_ids(a, b, len, 2);
    rc = my_cl_run(s, c, sql, b, NULL, "claiming runs");
out:
    free(sql);
    free(b);
    free(len);
    return rc;
}

static int read_exec(my_store *s, my_conn *c, MYSQL_STMT *st, tasker_task_exec *e)
{
    return my_fetch_exec(s, c, st, e);
}

/* Reads back the rows this claim's UPDATE moved, and only those: running under this
 * node with this claim's start time. A selected row the UPDATE did not move (its
 * transaction was ended under it, on Galera by a replicated claim of another node)
 * is not this node's to run. */
static int read_claimed(my_store *s, my_conn *c, claim_arg *a)
{
    char *sql = with_placeholders("SELECT " CLAIM_EXEC_COLS " FROM task_execs"
                                  " WHERE exec_id IN (",
                                  a->n_ids, ") AND status = 1 AND node_id = ? AND start_us = ?"
                                  CLAIM_ORDER);
    MYSQL_BIND *b = calloc(a->n_ids + 2, sizeof *b);
    unsigned long *len = calloc(a->n_ids + 1, sizeof *len);
    int rc = TASKER_ENOMEM;
    if (!sql || !b || !len || !(a->rows = calloc(a->n_ids, sizeof *a->rows))) {
        tasker_fail(rc, "mysql: claim: out of memory");
        goto out;
    }
    bind_ids(a, b, len, 0);
    my_bind_str(&b[a->n_ids], a->node_id, &len[a->n_ids]);
    my_bind_i64(&b[a->n_ids + 1], &a->now_us);
    MYSQL_STMT *st;
    if ((rc = my_cl_prepare(s, c, sql, b, &st, "reading claimed runs")) != TASKER_OK) goto out;
    for (;;) {
        tasker_task_exec e = {0};
        int f = a->n_rows < a->n_ids ? read_exec(s, c, st, &e) : 0;
        if (f <= 0) {
            tasker_exec_clear(&e);
            rc = f < 0 ? f : TASKER_OK;
            break;
        }
        a->rows[a->n_rows++] = e;
    }
    mysql_stmt_close(st);
out:
    free(sql);
    free(b);
    free(len);
    return rc;
}

int (*my_test_before_claim_commit)(void);

/* ---- tracing (TASKER_MYSQL_TRACE=DIR; the file is conn.c's) ----------------------- */

/* The claim's ids on one line for the trace (first few). */
static void trace_claim(my_store *s, const claim_arg *a, const char *what)
{
    if (!s->trace) return;
    char ids[700] = "";
    size_t o = 0;
    for (size_t i = 0; i < a->n_ids && o + 40 < sizeof ids; i++)
        o += (size_t)snprintf(ids + o, sizeof ids - o, " %s", a->ids[i]);
    my_trace(s, "%s node=%s start_us=%lld n=%zu%s", what, a->node_id, (long long)a->now_us,
             a->n_ids, ids);
}

/* ---- Galera: the read after COMMIT -------------------------------------------------- */

/* After the claim's COMMIT answered (said_ok: success) on a Galera member: reads the
 * claimed rows again, causally, and keeps of a->rows only the runs whose row still
 * names this node with this claim's start time. The others are dropped: after a
 * success, their run was taken by another node's claim, whose writeset aborted this
 * one, whatever COMMIT answered (said on stderr). */
static int verify_claimed(my_store *s, my_conn *c, claim_arg *a, bool said_ok)
{
    char **ids = calloc(a->n_rows ? a->n_rows : 1, sizeof *ids);
    bool *kept = calloc(a->n_rows ? a->n_rows : 1, sizeof *kept);
    int rc = ids && kept ? TASKER_OK : tasker_fail(TASKER_ENOMEM, "mysql: claim: out of memory");
    for (size_t i = 0; rc == TASKER_OK && i < a->n_rows; i++) ids[i] = a->rows[i].exec_id;
    if (rc == TASKER_OK)
        rc = my_runs_ours(s, c, ids, a->n_rows, a->node_id, a->now_us, true, NULL, kept);
    if (rc != TASKER_OK) goto out;
    size_t k = 0;
    for (size_t i = 0; i < a->n_rows; i++) {
        if (kept[i]) {
            a->rows[k++] = a->rows[i];
            continue;
        }
        if (!said_ok) { /* a COMMIT that failed, and did roll back: as expected */
            tasker_exec_clear(&a->rows[i]);
            continue;
        }
        my_trace(s, "dropped node=%s start_us=%lld %s: COMMIT said claimed, the row says not",
                 a->node_id, (long long)a->now_us, a->rows[i].exec_id);
        fprintf(stderr, "tasker: mysql: %s: run %s not started: its claim's COMMIT answered "
                        "success, but the run was taken by another node's claim\n",
                s->where, a->rows[i].exec_id);
        tasker_exec_clear(&a->rows[i]);
    }
    a->n_rows = k;
out:
    free(ids);
    free(kept);
    return rc;
}

/* ---- the claim ---------------------------------------------------------------------- */

/* A fault injected by a test in place of the claim's COMMIT (storage/mysql/internal.h):
 * the transaction ends as the fault would end it, and the claim fails as it would. */
static int claim_fault(my_store *s, my_conn *c, claim_arg *a, int fault)
{
    if (fault == MY_FAULT_FALSE_SUCCESS) { /* rolled back; another node took the rows */
        if (mysql_rollback(c->db) != 0) return my_fail_conn(s, c, "injecting a fault");
        for (size_t i = 0; i < a->n_ids; i++) {
            MYSQL_BIND b[1];
            unsigned long len;
            my_bind_str(&b[0], a->ids[i], &len);
            int rc = my_cl_run(s, c, "UPDATE task_execs SET status = 1, node_id = 'bf-winner',"
                                     " start_us = 1 WHERE exec_id = ?", b, NULL,
                               "injecting a fault");
            if (rc != TASKER_OK) return rc;
        }
        return TASKER_OK; /* "COMMIT succeeded" */
    }
    int failed = fault == MY_FAULT_UNKNOWN_COMMITTED ? mysql_commit(c->db)
                                                     : mysql_rollback(c->db);
    if (failed) return my_fail_conn(s, c, "injecting a fault");
    a->unknown = fault == MY_FAULT_UNKNOWN || fault == MY_FAULT_UNKNOWN_COMMITTED;
    if (fault == MY_FAULT_DEADLOCK) c->last_errno = ER_LOCK_DEADLOCK;
    else c->broken = true; /* the connection is gone, as in the real case */
    return tasker_fail(TASKER_ESTORAGE, "mysql: committing a claim: injected fault %d", fault);
}

/* A claim's COMMIT failed with rc on a Galera member (the connection still up): its
 * rows, read back causally, say what stuck. Those still naming this claim did commit:
 * they are handed out (TASKER_OK). None: it rolled back, the failure stands. A failed
 * read leaves the claim unknown. */
static int commit_failed_on_galera(my_store *s, my_conn *c, claim_arg *a, int rc)
{
    char msg[512];
    unsigned err = c->last_errno;
    snprintf(msg, sizeof msg, "%s", tasker_last_error());
    mysql_rollback(c->db);
    trace_claim(s, a, "commit-failed");
    if (verify_claimed(s, c, a, false) != TASKER_OK) {
        a->unknown = true;
        return rc;
    }
    if (a->n_rows) {
        my_trace(s, "landed node=%s start_us=%lld kept=%zu of %zu: COMMIT failed (%u), "
                    "the rows say committed", a->node_id, (long long)a->now_us, a->n_rows,
                 a->n_ids, err);
        return TASKER_OK;
    }
    c->last_errno = err; /* a conflict is retried */
    return tasker_fail(rc, "%s", msg);
}

static int claim_once(my_store *s, my_conn *c, claim_arg *a)
{
    int rc = my_cl_begin(s, c, "starting a claim");
    if (rc != TASKER_OK) return rc;
    if ((rc = select_ids(s, c, a)) == TASKER_OK && a->n_ids) rc = judge_limits(s, c, a);
    if (rc == TASKER_OK && a->n_ids) {
        if ((rc = mark_running(s, c, a)) == TASKER_OK) rc = read_claimed(s, c, a);
    }
    if (rc == TASKER_OK && !a->n_rows) { /* nothing moved: nothing to commit */
        trace_claim(s, a, "empty");
        if (mysql_rollback(c->db) != 0) rc = my_fail_conn(s, c, "ending an empty claim");
        return rc;
    }
    int fault = rc == TASKER_OK && my_test_before_claim_commit ? my_test_before_claim_commit()
                                                               : 0;
    if (fault) {
        if ((rc = claim_fault(s, c, a, fault)) != TASKER_OK) return rc;
    } else if (rc == TASKER_OK && mysql_commit(c->db) != 0) {
        /* Lost while committing: it may have committed. Any other error rolled back,
         * except on a Galera member, whose answer is not taken on trust either way: the
         * rows, read back causally, tell (a certification failure, 1180, 1047, ... may
         * come with the writeset committed after all). */
        unsigned err = mysql_errno(c->db);
        a->unknown = my_errno_is_lost(err) || err == CR_SERVER_LOST;
        rc = my_fail_conn(s, c, "committing a claim");
        if (a->wsrep && !c->broken) return commit_failed_on_galera(s, c, a, rc);
    }
    if (rc != TASKER_OK) {
        if (!c->broken) mysql_rollback(c->db);
        trace_claim(s, a, a->unknown ? "commit-unknown" : "commit-failed");
        return rc;
    }
    trace_claim(s, a, "committed");
    if (a->wsrep && (rc = verify_claimed(s, c, a, true)) != TASKER_OK)
        a->unknown = true; /* committed, and what stuck is not known */
    else if (a->wsrep)
        my_trace(s, "verified node=%s start_us=%lld kept=%zu of %zu", a->node_id,
                 (long long)a->now_us, a->n_rows, a->n_ids);
    return rc;
}

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Forgets a failed try's rows and ids; a claim of unknown outcome is kept to settle. */
static void forget_try(my_store *s, claim_arg *a)
{
    if (a->unknown) {
        trace_claim(s, a, "unknown");
        my_claims_keep(s, a->node_id, a->now_us, a->ids, a->n_ids);
    }
    tasker_free_execs(a->rows, a->n_rows);
    a->rows = NULL;
    a->n_rows = 0;
    free_ids(a);
    a->unknown = false;
}

int my_claim_task_execs(tasker_storage *st, const char *node_id, const char *const *handlers,
                        size_t nh, size_t max, int64_t now_us, tasker_task_exec **out,
                        size_t *n)
{
    if (!node_id || !out || !n || (nh && !handlers))
        return tasker_fail(TASKER_EINVAL, "mysql: claim_task_execs: NULL argument");
    *out = NULL;
    *n = 0;
    if (!nh || !max) return TASKER_OK;
    my_store *s = (my_store *)st;
    int rc = TASKER_ESTORAGE;
    bool conflicts_only = true;
    claim_arg a = {.node_id = node_id, .handlers = handlers, .nh = nh, .max = max,
                   .now_us = now_us};
    unsigned seed = (unsigned)my_mono_us();
    a.seed = &seed;
    for (int attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
        if (attempt) { /* apart from the claim it met, and again apart from the others */
            int base_ms = CLAIM_PAUSE_MS << (attempt - 1);
            pause_ms(base_ms + (int)(rand_r(&seed) % (unsigned)base_ms));
        }
        if ((rc = my_claims_settle(s)) != TASKER_OK) {
            conflicts_only = false;
            break;
        }
        my_conn *c = NULL;
        if ((rc = my_conn_get(s, &c)) != TASKER_OK) {
            conflicts_only = false;
            break;
        }
        rc = my_conn_wsrep(s, c, &a.wsrep);
        a.causal = a.wsrep && attempt > 0;
        int64_t conflict_us = atomic_load(&s->claim_conflict_us);
        a.spread = a.wsrep && (attempt > 0 || (conflict_us &&
                                                my_mono_us() - conflict_us < SPREAD_AFTER_US))
                       ? CLAIM_SPREAD
                       : 1;
        if (rc == TASKER_OK) rc = claim_once(s, c, &a);
        bool lost = c->broken;
        unsigned err = c->last_errno;
        my_conn_put(s, c);
        if (rc == TASKER_OK && !a.unknown) break;
        char msg[512];
        snprintf(msg, sizeof msg, "%s", tasker_last_error());
        forget_try(s, &a);
        if (rc == TASKER_OK) rc = TASKER_ESTORAGE; /* the read after COMMIT failed */
        tasker_fail(rc, "%s", msg);
        bool conflict = !lost && my_cl_retryable(err);
        if (conflict) atomic_store(&s->claim_conflict_us, my_mono_us());
        if (!conflict) conflicts_only = false;
        if (!lost && !conflict) break;
    }
    free_ids(&a);
    if (rc != TASKER_OK && conflicts_only) { /* lost every try to other nodes' claims */
        my_trace(s, "lost node=%s start_us=%lld: %d tries, each a conflict", node_id,
                 (long long)now_us, CLAIM_ATTEMPTS);
        return TASKER_OK;
    }
    if (rc != TASKER_OK) {
        my_trace(s, "claim-failed node=%s start_us=%lld rc=%d: %s", node_id, (long long)now_us,
                 rc, tasker_last_error());
        return rc;
    }
    if (!a.n_rows) {
        free(a.rows);
        return TASKER_OK;
    }
    *out = a.rows;
    *n = a.n_rows;
    return TASKER_OK;
}
