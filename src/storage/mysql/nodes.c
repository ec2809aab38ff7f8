/* The MySQL driver's nodes table (storage version 3): heartbeats on the server's clock
 * (UTC_TIMESTAMP(6)), listing the nodes, the lease rule, the overlap check, and the age
 * limit applied to idle tasks. Its statements are prepared per call (my_cl_*, stmt.c).
 *
 * The lease rule is one transaction that first locks the rows of the dead nodes (FOR
 * UPDATE): a second node applying it at the same time waits for the first's COMMIT and
 * then finds their runs no longer running, so each run is marked once. */
#include "core/error.h"
#include "storage/mysql/operations.h"
#include "storage/mysql/rows.h"

#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Rows of finished executions the idle-task age sweep deletes per heartbeat. */
#define AGE_SWEEP_BATCH 1000

/* ---- the server's clock ------------------------------------------------------------ */

static int store_now(my_store *s, my_conn *c, int64_t *now_us)
{
    MYSQL_STMT *st;
    /* Microseconds since the epoch of the server's UTC clock, whatever the session's
     * time zone. */
    int rc = my_cl_prepare(s, c,
                           "SELECT TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00',"
                           " UTC_TIMESTAMP(6))",
                           NULL, &st, "reading the server's clock");
    if (rc != TASKER_OK) return rc;
    my_cl_col col = {.i64 = now_us};
    int f = my_cl_fetch(s, c, st, &col, 1);
    mysql_stmt_close(st);
    if (f < 0) return f;
    return f == 1 ? TASKER_OK
                  : tasker_fail(TASKER_ESTORAGE, "mysql: %s: no clock reading", s->where);
}

/* ---- heartbeats ------------------------------------------------------------------- */

static int beat_on(my_store *s, my_conn *c, const tasker_node *n, int64_t *now_us)
{
    int rc = store_now(s, c, now_us);
    if (rc != TASKER_OK) return rc;
    MYSQL_BIND p[8];
    unsigned long len[3];
    int running = n->running;
    my_bind_str(&p[0], n->node_id, &len[0]);
    my_bind_str(&p[1], n->host ? n->host : "", &len[1]);
    my_bind_i64(&p[2], &n->pid);
    my_bind_i64(&p[3], now_us);
    my_bind_i64(&p[4], now_us);
    my_bind_int(&p[5], &running);
    my_bind_str(&p[6], n->handlers ? n->handlers : "[]", &len[2]);
    my_bind_i64(&p[7], &n->clock_skew_us);
    /* started_us first: assignments see the columns already assigned. A stopped row, or
     * another process under the same id, starts afresh. */
    return my_cl_run(s, c,
                     "INSERT INTO nodes (node_id, host, pid, started_us, heartbeat_us, running,"
                     " handlers, clock_skew_us, stopped_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)"
                     " ON DUPLICATE KEY UPDATE"
                     " started_us = IF(stopped_us <> 0 OR pid <> VALUES(pid),"
                     "  VALUES(started_us), started_us),"
                     " host = VALUES(host), pid = VALUES(pid),"
                     " heartbeat_us = VALUES(heartbeat_us), running = VALUES(running),"
                     " handlers = VALUES(handlers), clock_skew_us = VALUES(clock_skew_us),"
                     " stopped_us = 0",
                     p, NULL, "writing the heartbeat");
}

typedef struct {
    const tasker_node *self;
    int64_t now_us;
} beat_arg;

static int beat_fn(my_store *s, my_conn *c, void *p)
{
    beat_arg *a = p;
    return beat_on(s, c, a->self, &a->now_us);
}

int my_node_beat(tasker_storage *st, const tasker_node *self, int64_t *store_now_us)
{
    if (!self || !self->node_id || !*self->node_id)
        return tasker_fail(TASKER_EINVAL, "mysql: node_beat: node id missing");
    beat_arg a = {self, 0};
    int rc = my_read((my_store *)st, beat_fn, &a);
    if (rc == TASKER_OK && store_now_us) *store_now_us = a.now_us;
    return rc;
}

static int gone_fn(my_store *s, my_conn *c, void *p)
{
    int64_t now_us;
    int rc = store_now(s, c, &now_us);
    if (rc != TASKER_OK) return rc;
    MYSQL_BIND b[2];
    unsigned long len;
    my_bind_i64(&b[0], &now_us);
    my_bind_str(&b[1], p, &len);
    return my_cl_run(s, c, "UPDATE nodes SET stopped_us = ? WHERE node_id = ?", b, NULL,
                     "marking the node stopped");
}

int my_node_gone(tasker_storage *st, const char *node_id)
{
    if (!node_id) return tasker_fail(TASKER_EINVAL, "mysql: node_gone: NULL node id");
    return my_read((my_store *)st, gone_fn, (void *)node_id);
}

/* ---- listing ------------------------------------------------------------------------ */

typedef struct {
    int64_t since_us, now_us;
    tasker_node *v;
    size_t n;
} list_arg;

static int list_fn(my_store *s, my_conn *c, void *p)
{
    list_arg *a = p;
    int rc = store_now(s, c, &a->now_us);
    if (rc != TASKER_OK) return rc;
    MYSQL_BIND b[1];
    my_bind_i64(&b[0], &a->since_us);
    MYSQL_STMT *st;
    if ((rc = my_cl_prepare(s, c,
                            "SELECT node_id, host, pid, started_us, heartbeat_us, running,"
                            " handlers, clock_skew_us, stopped_us FROM nodes"
                            " WHERE heartbeat_us >= ? ORDER BY node_id",
                            b, &st, "listing the nodes")) != TASKER_OK)
        return rc;
    size_t cap = 0;
    for (;;) {
        tasker_node r = {0};
        int64_t running = 0;
        my_cl_col cols[] = {{.str = &r.node_id}, {.str = &r.host}, {.i64 = &r.pid},
                            {.i64 = &r.started_us}, {.i64 = &r.heartbeat_us},
                            {.i64 = &running}, {.str = &r.handlers},
                            {.i64 = &r.clock_skew_us}, {.i64 = &r.stopped_us}};
        int f = my_cl_fetch(s, c, st, cols, 9);
        r.running = (int)running;
        if (f <= 0) {
            free(r.node_id);
            free(r.host);
            free(r.handlers);
            rc = f;
            break;
        }
        if (a->n == cap) {
            tasker_node *nv = realloc(a->v, (cap = cap ? cap * 2 : 8) * sizeof *nv);
            if (!nv) {
                free(r.node_id);
                free(r.host);
                free(r.handlers);
                rc = tasker_fail(TASKER_ENOMEM, "mysql: list_nodes: out of memory");
                break;
            }
            a->v = nv;
        }
        a->v[a->n++] = r;
    }
    mysql_stmt_close(st);
    if (rc != TASKER_OK) {
        tasker_free_nodes(a->v, a->n);
        a->v = NULL;
        a->n = 0;
    }
    return rc;
}

int my_list_nodes(tasker_storage *st, int64_t since_us, tasker_node **out, size_t *n,
                  int64_t *store_now_us)
{
    if (!out || !n) return tasker_fail(TASKER_EINVAL, "mysql: list_nodes: NULL argument");
    list_arg a = {.since_us = since_us};
    *out = NULL;
    *n = 0;
    int rc = my_read((my_store *)st, list_fn, &a);
    if (rc != TASKER_OK) return rc;
    if (store_now_us) *store_now_us = a.now_us;
    if (a.n == 0) {
        free(a.v);
        a.v = NULL;
    }
    *out = a.v;
    *n = a.n;
    return TASKER_OK;
}

/* ---- the lease rule ------------------------------------------------------------------ */

static void format_utc(int64_t us, char *buf, size_t size)
{
    time_t secs = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char day[40];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%03dZ", day, (int)(us % 1000000 / 1000));
}

typedef struct dead_node {
    char *node_id;
    int64_t heartbeat_us, stopped_us;
} dead_node;

typedef struct {
    int64_t lease_us, now_us;
    size_t marked;
} expire_arg;

/* The dead nodes holding running executions, their rows locked until the end of the
 * transaction. */
static int lock_dead(my_store *s, my_conn *c, expire_arg *a, dead_node **out, size_t *n)
{
    int64_t cutoff_us = a->now_us - a->lease_us;
    MYSQL_BIND b[1];
    my_bind_i64(&b[0], &cutoff_us);
    MYSQL_STMT *st;
    int rc = my_cl_prepare(s, c,
                           "SELECT node_id, heartbeat_us, stopped_us FROM nodes"
                           " WHERE (stopped_us <> 0 OR heartbeat_us < ?) FOR UPDATE",
                           b, &st, "locking the dead nodes");
    if (rc != TASKER_OK) return rc;
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    for (;;) {
        dead_node d = {0};
        my_cl_col cols[] = {{.str = &d.node_id}, {.i64 = &d.heartbeat_us}, {.i64 = &d.stopped_us}};
        int f = my_cl_fetch(s, c, st, cols, 3);
        if (f <= 0) {
            free(d.node_id);
            rc = f;
            break;
        }
        if (*n == cap) {
            dead_node *nv = realloc(*out, (cap = cap ? cap * 2 : 8) * sizeof *nv);
            if (!nv) {
                free(d.node_id);
                rc = tasker_fail(TASKER_ENOMEM, "mysql: interrupt_expired: out of memory");
                break;
            }
            *out = nv;
        }
        (*out)[(*n)++] = d;
    }
    mysql_stmt_close(st);
    return rc;
}

static int interrupt_node(my_store *s, my_conn *c, expire_arg *a, const dead_node *d)
{
    char error[600], when[48];
    if (d->stopped_us) {
        snprintf(error, sizeof error, "interrupted: node %s stopped", d->node_id);
    } else {
        format_utc(d->heartbeat_us, when, sizeof when);
        snprintf(error, sizeof error, "interrupted: node %s silent since %s", d->node_id, when);
    }
    MYSQL_BIND b[3];
    unsigned long len[2];
    my_bind_i64(&b[0], &a->now_us);
    my_bind_str(&b[1], error, &len[0]);
    my_bind_str(&b[2], d->node_id, &len[1]);
    uint64_t affected = 0;
    /* Their retries, in the same transaction (job lifecycle). */
    char **ids = NULL;
    size_t n = 0;
    int rc = my_node_running(s, c, d->node_id, &ids, &n);
    if (rc == TASKER_OK && n)
        rc = my_cl_run(s, c,
                       "UPDATE task_execs SET status = 4, success = 0, end_us = ?, error = ?"
                       " WHERE status = 1 AND node_id = ?",
                       b, &affected, "interrupting a dead node's executions");
    if (rc == TASKER_OK) a->marked += (size_t)affected;
    if (rc == TASKER_OK && affected) rc = my_store_retries_of(s, c, ids, n);
    my_free_ids(ids, n);
    return rc;
}

static int forget_old(my_store *s, my_conn *c, expire_arg *a)
{
    int64_t cutoff_us = a->now_us - (int64_t)TASKER_NODE_KEEP_S * 1000000;
    MYSQL_BIND b[1];
    my_bind_i64(&b[0], &cutoff_us);
    return my_cl_run(s, c,
                     "DELETE FROM nodes WHERE heartbeat_us < ? AND NOT EXISTS"
                     " (SELECT 1 FROM task_execs e WHERE e.status = 1"
                     "  AND e.node_id = nodes.node_id)",
                     b, NULL, "forgetting old nodes");
}

static int expire_fn(my_store *s, my_conn *c, void *p)
{
    expire_arg *a = p;
    a->marked = 0;
    int rc = store_now(s, c, &a->now_us);
    if (rc != TASKER_OK) return rc;
    if ((rc = my_cl_begin(s, c, "starting the lease transaction")) != TASKER_OK) return rc;
    dead_node *dead = NULL;
    size_t n = 0;
    rc = lock_dead(s, c, a, &dead, &n);
    for (size_t i = 0; i < n && rc == TASKER_OK; i++) rc = interrupt_node(s, c, a, &dead[i]);
    if (rc == TASKER_OK) rc = forget_old(s, c, a);
    if (rc == TASKER_OK && mysql_commit(c->db) != 0)
        rc = my_fail_conn(s, c, "committing the lease transaction");
    if (rc != TASKER_OK) {
        if (!c->broken) mysql_rollback(c->db);
        a->marked = 0; /* a COMMIT cut off may have marked them: the next beat looks again */
    }
    for (size_t i = 0; i < n; i++) free(dead[i].node_id);
    free(dead);
    return rc;
}

/* The age limit for tasks that get no new runs (add_task_exec prunes only the task it
 * adds to): one node at a time (a server lock taken without waiting), a bounded batch
 * per heartbeat. Failures are left for the next heartbeat. */
static void sweep_aged(my_store *s)
{
    if (s->base.env.max_exec_age_s <= 0) return;
    my_conn *c = NULL;
    if (my_conn_get(s, &c) != TASKER_OK) return;
    MYSQL_STMT *st;
    int64_t got = 0;
    if (my_cl_prepare(s, c, "SELECT GET_LOCK(CONCAT('tasker_age.', DATABASE()), 0)", NULL, &st,
                      "taking the age sweep lock") == TASKER_OK) {
        my_cl_col col = {.i64 = &got};
        my_cl_fetch(s, c, st, &col, 1);
        mysql_stmt_close(st);
    }
    if (got == 1) {
        int64_t cutoff_us = my_now_us(s) - s->base.env.max_exec_age_s * 1000000;
        int limit = AGE_SWEEP_BATCH;
        MYSQL_BIND b[2];
        my_bind_i64(&b[0], &cutoff_us);
        my_bind_int(&b[1], &limit);
        my_cl_run(s, c,
                  "DELETE FROM task_execs WHERE queued_us < ? AND status >= 2"
                  " ORDER BY queued_us LIMIT ?",
                  b, NULL, "deleting aged executions");
        if (!c->broken && my_cl_prepare(s, c,
                                        "SELECT RELEASE_LOCK(CONCAT('tasker_age.', DATABASE()))",
                                        NULL, &st, "releasing the age sweep lock") == TASKER_OK) {
            my_cl_col col = {.i64 = &got};
            my_cl_fetch(s, c, st, &col, 1);
            mysql_stmt_close(st);
        }
    }
    my_conn_put(s, c);
}

int my_interrupt_expired(tasker_storage *st, int64_t lease_us, size_t *n)
{
    if (n) *n = 0;
    if (lease_us < 0) return tasker_fail(TASKER_EINVAL, "mysql: negative lease");
    my_store *s = (my_store *)st;
    expire_arg a = {.lease_us = lease_us};
    int rc = my_read(s, expire_fn, &a);
    if (rc == TASKER_OK && n) *n = a.marked;
    if (rc == TASKER_OK) sweep_aged(s);
    return rc;
}

/* ---- overlap ------------------------------------------------------------------------ */

typedef struct {
    const char *scheme_id;
    char *exec_id;
} active_arg;

static int active_fn(my_store *s, my_conn *c, void *p)
{
    active_arg *a = p;
    MYSQL_BIND b[1];
    unsigned long len;
    my_bind_str(&b[0], a->scheme_id, &len);
    MYSQL_STMT *st;
    int rc = my_cl_prepare(s, c,
                           "SELECT exec_id FROM task_execs WHERE scheme_id = ? AND status < 2"
                           " LIMIT 1",
                           b, &st, "looking for an active execution");
    if (rc != TASKER_OK) return rc;
    my_cl_col col = {.str = &a->exec_id};
    int f = my_cl_fetch(s, c, st, &col, 1);
    mysql_stmt_close(st);
    return f < 0 ? f : TASKER_OK;
}

int my_find_active_exec(tasker_storage *st, const char *scheme_id,
                        char exec_id_out[TASKER_ID_SIZE])
{
    if (!scheme_id || !exec_id_out)
        return tasker_fail(TASKER_EINVAL, "mysql: find_active_exec: NULL argument");
    my_store *s = (my_store *)st;
    active_arg a = {scheme_id, NULL};
    int rc = my_read(s, active_fn, &a);
    if (rc != TASKER_OK) return rc;
    if (!a.exec_id)
        return tasker_fail(TASKER_ENOTFOUND, "mysql: schedule '%s' has no pending or running "
                           "execution", scheme_id);
    snprintf(exec_id_out, TASKER_ID_SIZE, "%s", a.exec_id);
    free(a.exec_id);
    return TASKER_OK;
}
