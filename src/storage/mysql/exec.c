/* The MySQL driver's executions: adding (with retention), the compare-and-set start,
 * outcomes, queries, and marking the executions of dead nodes interrupted.
 *
 * Retention runs in the same transaction as the executions that caused it, once per
 * task per group-commit batch, through the (task_id, queued_us, exec_id) index: the
 * row just past the newest max_execs_per_task is found with one indexed LIMIT/OFFSET
 * read, and finished executions at or below it, or older than max_exec_age_s, are
 * deleted by one statement; their events go with them by the foreign key's cascade. */
#include "core/error.h"
#include "storage/mysql/internal.h"

#include <mysqld_error.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NCOLS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const my_col exec_cols[] = {
    {MC_STR, offsetof(tasker_task_exec, exec_id)},
    {MC_STR, offsetof(tasker_task_exec, task_id)},
    {MC_STR, offsetof(tasker_task_exec, scheme_id)},
    {MC_I64, offsetof(tasker_task_exec, scheduled_us)},
    {MC_I64, offsetof(tasker_task_exec, queued_us)},
    {MC_I64, offsetof(tasker_task_exec, start_us)},
    {MC_I64, offsetof(tasker_task_exec, end_us)},
    {MC_INT, offsetof(tasker_task_exec, status)},
    {MC_BOOL, offsetof(tasker_task_exec, success)},
    {MC_STR, offsetof(tasker_task_exec, result)},
    {MC_STR, offsetof(tasker_task_exec, error)},
    {MC_STR, offsetof(tasker_task_exec, node_id)},
};

static my_store *store(tasker_storage *st) { return (my_store *)st; }

/* ---- retention -------------------------------------------------------------------- */

typedef struct {
    int64_t queued_us;
    char *exec_id;
} boundary_row;

/* The first execution past the newest `keep` of the task, if any. */
static int find_boundary(my_store *s, my_conn *c, const char *task_id, int64_t keep,
                         boundary_row **row, size_t *n)
{
    static const my_col cols[] = {
        {MC_I64, offsetof(boundary_row, queued_us)},
        {MC_STR, offsetof(boundary_row, exec_id)},
    };
    MYSQL_BIND p[2];
    unsigned long len;
    my_bind_str(&p[0], task_id, &len);
    my_bind_i64(&p[1], &keep);
    return my_query(s, c, MS_RETAIN_BOUNDARY, p, cols, NCOLS(cols), sizeof **row,
                    (void **)row, n);
}

/* Deletes, in one statement, the task's finished executions at or below the boundary
 * (by count) or queued before the age cutoff. */
int my_retain_task(my_store *s, my_conn *c, const char *task_id)
{
    boundary_row *row = NULL;
    size_t n = 0;
    int64_t bound_us = INT64_MIN, cutoff_us = INT64_MIN;
    int keep;
    int64_t max_age_s;
    int rc = my_task_limits(s, c, task_id, &keep, &max_age_s);
    if (rc != TASKER_OK) return rc;
    if (keep >= 0 && (rc = find_boundary(s, c, task_id, keep, &row, &n)) != TASKER_OK)
        return rc;
    if (n == 1) bound_us = row->queued_us;
    /* An age too large to subtract from now means no age limit. */
    int64_t now_us = my_now_us(s);
    int64_t age_us, c_us;
    if (max_age_s >= 0 && !__builtin_mul_overflow(max_age_s, INT64_C(1000000), &age_us) &&
        !__builtin_sub_overflow(now_us, age_us, &c_us))
        cutoff_us = c_us;
    if (n == 1 || cutoff_us != INT64_MIN) {
        MYSQL_BIND p[6];
        unsigned long len[2];
        int64_t upper_us = bound_us > cutoff_us ? bound_us : cutoff_us;
        my_bind_str(&p[0], task_id, &len[0]);
        my_bind_i64(&p[1], &upper_us);
        my_bind_i64(&p[2], &cutoff_us);
        my_bind_i64(&p[3], &bound_us);
        my_bind_i64(&p[4], &bound_us);
        my_bind_str(&p[5], n == 1 ? row->exec_id : "", &len[1]);
        rc = my_run(s, c, MS_RETAIN_DELETE, p, NULL);
    }
    if (row) free(row->exec_id);
    free(row);
    return rc;
}

/* ---- writes ----------------------------------------------------------------------- */

static int w_add_exec(my_store *s, my_conn *c, my_write *w)
{
    const tasker_task_exec *e = w->arg;
    MYSQL_BIND p[12];
    unsigned long len[6];
    int status = (int)e->status, success = e->success ? 1 : 0;
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
    my_bind_str(&p[11], e->task_id, &len[5]);
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


static int exec_status(my_store *s, my_conn *c, const char *exec_id, int *status)
{
    static const my_col cols[] = {{MC_INT, 0}};
    MYSQL_BIND p[1];
    unsigned long len;
    int *rows = NULL;
    size_t n = 0;
    my_bind_str(&p[0], exec_id, &len);
    int rc = my_query(s, c, MS_EXEC_STATUS, p, cols, 1, sizeof(int), (void **)&rows, &n);
    if (rc == TASKER_OK && n == 0)
        rc = tasker_fail(TASKER_ENOTFOUND, "mysql: no execution '%s'", exec_id);
    if (rc == TASKER_OK) *status = rows[0];
    free(rows);
    return rc;
}

static int w_start_exec(my_store *s, my_conn *c, my_write *w)
{
    const my_start_arg *a = w->arg;
    MYSQL_BIND p[3];
    unsigned long len[2];
    uint64_t n = 0;
    int status = 0;
    my_bind_i64(&p[0], &a->start_us);
    my_bind_str(&p[1], a->node_id, &len[0]);
    my_bind_str(&p[2], a->exec_id, &len[1]);
    int rc = my_run(s, c, MS_EXEC_START, p, &n);
    if (rc == TASKER_OK && n == 1) {
        w->claim_exec_id = a->exec_id;
        w->claim_node_id = a->node_id;
        w->claim_start_us = a->start_us;
    }
    if (rc != TASKER_OK || n == 1) return rc;
    if ((rc = exec_status(s, c, a->exec_id, &status)) != TASKER_OK) return rc;
    return tasker_fail(TASKER_ESTATE, "mysql: execution '%s' is %s, not pending", a->exec_id,
                       tasker_exec_status_name((tasker_exec_status)status));
}

/* All or nothing, as one write of lane 0 (answered after its COMMIT). */
typedef struct {
    const tasker_task_exec *v;
    size_t n;
} execs_arg;

static int w_add_execs(my_store *s, my_conn *c, my_write *w)
{
    const execs_arg *a = w->arg;
    my_write *adds = calloc(a->n, sizeof *adds);
    my_write **ptrs = calloc(a->n, sizeof *ptrs);
    int rc = adds && ptrs ? TASKER_OK
                          : tasker_fail(TASKER_ENOMEM, "mysql: out of memory for %zu executions",
                                        a->n);
    for (size_t i = 0; i < a->n && rc == TASKER_OK; i++) {
        adds[i] = (my_write){.fn = w_add_exec, .kind = MW_ADD, .arg = &a->v[i]};
        ptrs[i] = &adds[i];
    }
    if (rc == TASKER_OK) rc = my_bulk_whole(s, c, MW_ADD, ptrs, a->n);
    /* Retention: the batch prunes the first task; any other is pruned here, once. */
    if (rc == TASKER_OK) w->task_id_for_retention = a->v[0].task_id;
    for (size_t i = 1; i < a->n && rc == TASKER_OK; i++) {
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = strcmp(a->v[k].task_id, a->v[i].task_id) == 0;
        if (!seen) rc = my_retain_task(s, c, a->v[i].task_id);
    }
    free(adds);
    free(ptrs);
    return rc;
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
    my_bind_str(&p[5], w->fix_token, &len[2]); /* see claims_to_outcomes (storage/mysql/bulk.c) */
    my_bind_str(&p[6], w->fix_token ? w->fix_node : NULL, &len[3]);
    my_bind_str(&p[7], e->exec_id, &len[4]);
    int rc = my_run(s, c, MS_EXEC_UPDATE, p, &n);
    if (rc == TASKER_OK && n == 0)
        return tasker_fail(TASKER_ENOTFOUND, "mysql: no execution '%s'", e->exec_id);
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
    return my_query(s, c, q->id, np ? p : NULL, exec_cols, NCOLS(exec_cols),
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
    return my_run(s, c, MS_EXEC_INTERRUPT_NODE, p, &a->marked);
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
