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
 * A COMMIT whose answer is lost may have committed: the claimed runs would then be
 * running under this node with nobody running them, and the node's heartbeat would keep
 * them from ever being interrupted. So the claim is undone (back to pending, only rows
 * still exactly as this claim left them), on a fresh connection, retried for a while. */
#include "core/error.h"
#include "storage/mysql/internal.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLAIM_ATTEMPTS 3         /* a deadlock or a lost connection: claim again */
#define UNDO_GIVE_UP_MS 10000    /* how long an unknown claim's undo is retried */

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
    bool unknown; /* the COMMIT's answer was lost */
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

static int select_ids(my_store *s, my_conn *c, claim_arg *a)
{
    /* Due runs of tasks not paused, in the claim's order along exec_queue. The task is
     * judged by a scalar subquery, not EXISTS: the optimizer turns an EXISTS into a
     * semi-join that reads the tasks first, then every pending run, and sorts them all
     * for each claim; this walks exec_queue and stops at the limit. */
    char *sql = with_placeholders(
        "SELECT e.exec_id, e.task_id, (SELECT t.max_concurrency FROM tasks t"
        " WHERE t.task_id = e.task_id) FROM task_execs e FORCE INDEX (exec_queue)"
        " WHERE e.status = 0 AND e.run_at_us <= ? AND"
        " (SELECT t.paused = 0 AND t.handler IN (",
        a->nh, ") FROM tasks t WHERE t.task_id = e.task_id)" CLAIM_ORDER
        " LIMIT ? FOR UPDATE SKIP LOCKED");
    MYSQL_BIND *b = calloc(a->nh + 2, sizeof *b);
    unsigned long *len = calloc(a->nh + 1, sizeof *len);
    int64_t limit = (int64_t)a->max;
    int rc = TASKER_ENOMEM;
    if (!sql || !b || !len || !(a->ids = calloc(a->max, sizeof *a->ids)) ||
        !(a->task_ids = calloc(a->max, sizeof *a->task_ids)) ||
        !(a->limits = calloc(a->max, sizeof *a->limits))) {
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
        if (f <= 0 || a->n_ids == a->max) {
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

/* A fault injected by a test in place of the claim's COMMIT (storage/mysql/internal.h):
 * the transaction ends as the fault would end it, and the claim fails as it would. */
static int claim_fault(my_store *s, my_conn *c, claim_arg *a, int fault)
{
    int failed = fault == MY_FAULT_UNKNOWN_COMMITTED ? mysql_commit(c->db)
                                                     : mysql_rollback(c->db);
    if (failed) return my_fail_conn(s, c, "injecting a fault");
    a->unknown = fault == MY_FAULT_UNKNOWN || fault == MY_FAULT_UNKNOWN_COMMITTED;
    if (fault == MY_FAULT_DEADLOCK) c->last_errno = ER_LOCK_DEADLOCK;
    else c->broken = true; /* the connection is gone, as in the real case */
    return tasker_fail(TASKER_ESTORAGE, "mysql: committing a claim: injected fault %d", fault);
}

static int claim_once(my_store *s, my_conn *c, claim_arg *a)
{
    int rc = my_cl_begin(s, c, "starting a claim");
    if (rc != TASKER_OK) return rc;
    if ((rc = select_ids(s, c, a)) == TASKER_OK && a->n_ids) rc = judge_limits(s, c, a);
    if (rc == TASKER_OK && a->n_ids) {
        if ((rc = mark_running(s, c, a)) == TASKER_OK) rc = read_claimed(s, c, a);
    }
    int fault = rc == TASKER_OK && a->n_ids && my_test_before_claim_commit
                    ? my_test_before_claim_commit()
                    : 0;
    if (fault) return claim_fault(s, c, a, fault);
    if (rc == TASKER_OK && mysql_commit(c->db) != 0) {
        /* Lost while committing: it may have committed. Any other error rolled back. */
        a->unknown = my_errno_is_lost(mysql_errno(c->db)) ||
                     mysql_errno(c->db) == CR_SERVER_LOST;
        rc = my_fail_conn(s, c, "committing a claim");
    }
    if (rc != TASKER_OK && !c->broken) mysql_rollback(c->db);
    return rc;
}

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Puts back to pending the runs of a claim whose COMMIT's answer was lost, where they
 * are still as the claim left them (nothing to do if it did not commit). */
static void undo_unknown(my_store *s, const claim_arg *a)
{
    int waited_ms = 0;
    for (int delay_ms = 50; waited_ms < UNDO_GIVE_UP_MS; waited_ms += delay_ms, delay_ms *= 2) {
        my_conn *c = NULL;
        int rc = my_conn_get(s, &c);
        for (size_t i = 0; rc == TASKER_OK && i < a->n_ids; i++) {
            MYSQL_BIND b[3];
            unsigned long len[2];
            my_bind_str(&b[0], a->ids[i], &len[0]);
            my_bind_str(&b[1], a->node_id, &len[1]);
            my_bind_i64(&b[2], &a->now_us);
            rc = my_cl_run(s, c,
                           "UPDATE task_execs SET status = 0, start_us = 0, node_id = NULL"
                           " WHERE exec_id = ? AND status = 1 AND node_id = ? AND start_us = ?",
                           b, NULL, "undoing a claim of unknown outcome");
        }
        if (c) my_conn_put(s, c);
        if (rc == TASKER_OK) return;
        pause_ms(delay_ms > 1000 ? 1000 : delay_ms);
    }
    tasker_fail(TASKER_ESTORAGE, "mysql: %s: a claim of unknown outcome could not be undone "
                "for %d s: its runs may stay running under node %s until it stops",
                s->where, UNDO_GIVE_UP_MS / 1000, a->node_id);
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
    claim_arg a = {.node_id = node_id, .handlers = handlers, .nh = nh, .max = max,
                   .now_us = now_us};
    for (int attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
        my_conn *c = NULL;
        if ((rc = my_conn_get(s, &c)) != TASKER_OK) break;
        rc = claim_once(s, c, &a);
        bool lost = c->broken;
        unsigned err = c->last_errno;
        my_conn_put(s, c);
        if (rc == TASKER_OK) break;
        char msg[512];
        snprintf(msg, sizeof msg, "%s", tasker_last_error());
        if (a.unknown) undo_unknown(s, &a);
        tasker_free_execs(a.rows, a.n_rows);
        a.rows = NULL;
        a.n_rows = 0;
        free_ids(&a);
        a.unknown = false;
        tasker_fail(rc, "%s", msg);
        if (!lost && !my_cl_retryable(err)) break;
    }
    free_ids(&a);
    if (rc != TASKER_OK) return rc;
    if (!a.n_rows) {
        free(a.rows);
        return TASKER_OK;
    }
    *out = a.rows;
    *n = a.n_rows;
    return TASKER_OK;
}
