/* The MySQL driver's retention, per group-commit batch: which tasks to prune, and when;
 * and each task's limits (its own, tasker_task_opts, else the handle's).
 *
 * Pruning costs mostly per statement (a boundary read and a delete, ~0.5 ms on a busy
 * server) rather than per row (~30 us with its events), so pruning three rows at every
 * batch cost more than the batch's own writes. With one committer, the tasks that got
 * new executions are remembered, and pruned together (each down to its limit at once)
 * by the first batch that holds a single caller's write, or MY_RETAIN_LAG_US after the
 * first was remembered. A lone writer (no load) thus sees retention applied by its own
 * add, as before; under load (batches of several callers), a task may hold more than
 * max_execs_per_task finished executions for up to MY_RETAIN_LAG_US. Closing the store
 * prunes what is left (mysql.c). With several committers, every batch prunes its tasks
 * itself.
 *
 * Pruning one task runs in the same transaction as the executions that caused it,
 * through the (task_id, queued_us, exec_id) index: the row just past the newest
 * max_execs_per_task is found with one indexed LIMIT/OFFSET read, and finished
 * executions at or below it, or older than max_exec_age_s, are deleted by one
 * statement; their events go with them by the foreign key's cascade. */
#include "core/error.h"
#include "storage/mysql/retain.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    return my_query(s, c, MS_RETAIN_BOUNDARY, p, cols, MY_NCOLS(cols), sizeof **row,
                    (void **)row, n);
}

typedef struct {
    int max_execs;
    int64_t max_exec_age_s;
} task_limits_row;

/* The task's retention limits, its own (tasker_task_opts) where set, else the handle's;
 * a removed task's are the handle's. */
static int task_limits(my_store *s, my_conn *c, const char *task_id, int *keep, int64_t *age_s)
{
    static const my_col cols[] = {
        {MC_INT, offsetof(task_limits_row, max_execs)},
        {MC_I64, offsetof(task_limits_row, max_exec_age_s)},
    };
    *keep = s->base.env.max_execs_per_task;
    *age_s = s->base.env.max_exec_age_s;
    MYSQL_BIND p[1];
    unsigned long len;
    my_bind_str(&p[0], task_id, &len);
    task_limits_row *row = NULL;
    size_t n = 0;
    int ncols = (int)(sizeof cols / sizeof *cols);
    int rc = my_query(s, c, MS_TASK_RETENTION, p, cols, ncols, sizeof *row, (void **)&row, &n);
    if (rc == TASKER_OK && n == 1) {
        if (row->max_execs != 0) *keep = row->max_execs;
        if (row->max_exec_age_s != 0) *age_s = row->max_exec_age_s;
    }
    free(row);
    return rc;
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
    int rc = task_limits(s, c, task_id, &keep, &max_age_s);
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

/* Remembers task_id for a later prune; false when out of memory. */
static bool remember(my_store *s, const char *task_id)
{
    for (size_t i = 0; i < s->retain_n; i++)
        if (strcmp(s->retain_tasks[i], task_id) == 0) return true;
    char **grown = realloc(s->retain_tasks, (s->retain_n + 1) * sizeof *grown);
    if (!grown) return false;
    s->retain_tasks = grown;
    if (!(grown[s->retain_n] = strdup(task_id))) return false;
    if (s->retain_n++ == 0) s->retain_since_us = my_mono_us();
    return true;
}

/* Prunes each task of the batch that got a new execution, once. */
static int retain_each(my_store *s, my_conn *c, my_write *batch)
{
    for (my_write *w = batch; w; w = w->next) {
        if (w->rc != TASKER_OK || !w->task_id_for_retention) continue;
        bool seen = false;
        for (my_write *v = batch; v != w && !seen; v = v->next)
            seen = v->rc == TASKER_OK && v->task_id_for_retention &&
                   strcmp(v->task_id_for_retention, w->task_id_for_retention) == 0;
        if (seen) continue;
        int rc = my_retain_task(s, c, w->task_id_for_retention);
        if (rc != TASKER_OK) return rc;
    }
    return TASKER_OK;
}

int my_retain_batch(my_store *s, my_conn *c, my_write *batch, bool *pruned)
{
    *pruned = false;
    if (s->url.committers > 1) return retain_each(s, c, batch);
    for (my_write *w = batch; w; w = w->next) {
        if (w->rc != TASKER_OK || !w->task_id_for_retention) continue;
        if (remember(s, w->task_id_for_retention)) continue;
        int rc = my_retain_task(s, c, w->task_id_for_retention); /* out of memory: now */
        if (rc != TASKER_OK) return rc;
    }
    if (s->retain_n == 0) return TASKER_OK;
    /* Several callers in one batch: writers are busy, so the prune can wait a little. */
    size_t callers = 0;
    for (my_write *w = batch; w && callers < 2; w = w->next) callers += !w->owned;
    if (callers > 1 && my_mono_us() - s->retain_since_us < MY_RETAIN_LAG_US) return TASKER_OK;
    for (size_t i = 0; i < s->retain_n; i++) {
        int rc = my_retain_task(s, c, s->retain_tasks[i]);
        if (rc != TASKER_OK) return rc;
    }
    *pruned = true;
    return TASKER_OK;
}

void my_retain_forget(my_store *s)
{
    for (size_t i = 0; i < s->retain_n; i++) free(s->retain_tasks[i]);
    free(s->retain_tasks);
    s->retain_tasks = NULL;
    s->retain_n = 0;
}
