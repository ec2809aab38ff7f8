/* The MySQL driver's side of a herd (issue 14): thousands of schedules firing in the
 * same second. The schedule loop stores their runs with add_task_execs, 512 at a time,
 * and then records their fires with set_scheme_fires; both cost a few statements per
 * chunk instead of a few per schedule. Here: the rows of such a bulk add.
 *
 * Retention of a bulk add (my_retain_tasks): each task of the add used to be pruned on
 * its own (its limits, its count boundary, a delete: three round trips), 1,500
 * statements for a batch of 512 fires of distinct tasks, which made 10,000 fires in one
 * second start 10 s late. Per chunk of RETAIN_CHUNK tasks it is now: one read of their
 * limits, one delete of their finished runs past the age limit per distinct limit
 * (usually one), and one count of what is left; only a task still above its count
 * limit is then pruned on its own (storage/mysql/retain.c). The result is the same as
 * pruning each task alone: the runs old enough to go by age are the oldest of their
 * task, so deleting them first moves no newer run's rank.
 *
 * The tasks of a bulk add (my_tasks_exist, for storage/mysql/bulk.c; my_tasks_handlers,
 * with each task's handler, for fires stored started, exec.c): one locking read per
 * chunk of tasks, not one per task.
 *
 * Both run in the caller's transaction (retain.h). The herd's fires are recorded by
 * storage/mysql/defs.c. */
#include "core/error.h"
#include "storage/mysql/retain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RETAIN_CHUNK 512

/* ---- retention of a bulk add ---------------------------------------------------------- */

typedef struct {
    const char *task_id;
    int keep;         /* max executions kept; negative = unlimited */
    int64_t age_s;    /* max age; negative = unlimited */
    int64_t count;     /* its executions, before pruning by age */
    int64_t oldest_us; /* its oldest execution's queued_us (INT64_MAX: none) */
} task_limit;

static int by_task(const void *a, const void *b)
{
    return strcmp(((const task_limit *)a)->task_id, ((const task_limit *)b)->task_id);
}

/* Runs sql (a SELECT of (task_id, number[, number])) with the chunk's ids bound and
 * calls back for each row. */
typedef void (*row_fn)(task_limit *v, size_t n, const char *task_id, int64_t a, int64_t b);

static int select_per_task(my_store *s, my_conn *c, const char *sql, task_limit *v, size_t n,
                           int ncols, row_fn fn, const char *what)
{
    MYSQL_BIND *p = calloc(n, sizeof *p);
    unsigned long *len = calloc(n, sizeof *len);
    MYSQL_STMT *st = NULL;
    int rc = p && len ? TASKER_OK : tasker_fail(TASKER_ENOMEM, "mysql: %s: out of memory", what);
    for (size_t i = 0; i < n && rc == TASKER_OK; i++) my_bind_str(&p[i], v[i].task_id, &len[i]);
    if (rc == TASKER_OK) rc = my_cl_prepare(s, c, sql, p, &st, what);
    while (rc == TASKER_OK) {
        char *id = NULL;
        int64_t a = 0, b = 0;
        my_cl_col cols[3] = {{.str = &id}, {.i64 = &a}, {.i64 = &b}};
        int f = my_cl_fetch(s, c, st, cols, ncols);
        if (f <= 0) {
            rc = f;
            free(id);
            break;
        }
        fn(v, n, id, a, b);
        free(id);
    }
    if (st) mysql_stmt_close(st);
    free(p);
    free(len);
    return rc;
}

static task_limit *find(task_limit *v, size_t n, const char *task_id)
{
    task_limit key = {.task_id = task_id};
    return bsearch(&key, v, n, sizeof *v, by_task);
}

static void take_limits(task_limit *v, size_t n, const char *task_id, int64_t keep,
                        int64_t age_s)
{
    task_limit *t = find(v, n, task_id);
    if (!t) return;
    if (keep != 0) t->keep = (int)keep;
    if (age_s != 0) t->age_s = age_s;
}

static void take_count(task_limit *v, size_t n, const char *task_id, int64_t count,
                       int64_t oldest_us)
{
    task_limit *t = find(v, n, task_id);
    if (t) {
        t->count = count;
        t->oldest_us = oldest_us;
    }
}

/* The cutoff of an age limit (INT64_MIN: none), as retain.c computes it. */
static int64_t cutoff_of(int64_t now_us, int64_t age_s)
{
    int64_t age_us, c_us;
    if (age_s >= 0 && !__builtin_mul_overflow(age_s, INT64_C(1000000), &age_us) &&
        !__builtin_sub_overflow(now_us, age_us, &c_us))
        return c_us;
    return INT64_MIN;
}

/* Deletes, in one statement, the finished executions of the chunk's tasks whose age
 * limit is age_s that were queued before its cutoff. A plain read first: with nothing
 * to prune (a herd of young tasks) the delete, whose locks on the tasks' ranges would
 * meet other nodes' inserts, is not run. */
static int delete_aged(my_store *s, my_conn *c, const task_limit *v, size_t n, int64_t age_s,
                       int64_t cutoff_us)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += v[i].age_s == age_s && v[i].oldest_us < cutoff_us;
    if (!k) return TASKER_OK; /* none of them has an execution that old */
    char *sql = malloc(300 + 3 * k);
    MYSQL_BIND *p = calloc(k + 1, sizeof *p);
    unsigned long *len = calloc(k, sizeof *len);
    int rc = TASKER_OK;
    if (!sql || !p || !len) {
        rc = tasker_fail(TASKER_ENOMEM, "mysql: out of memory pruning %zu tasks", k);
        goto out;
    }
    /* As MS_RETAIN_DELETE: along exec_task_done, one range per task and finished status. */
    static const char probe[] = "SELECT 1 FROM task_execs AS e FORCE INDEX (exec_task_done)";
    static const char del[] = "DELETE e FROM task_execs AS e FORCE INDEX (exec_task_done)";
    _Static_assert(sizeof probe == sizeof del, "the delete takes the probe's place");
    size_t at = (size_t)sprintf(sql, "%s WHERE e.task_id IN (", probe);
    my_sql_marks(sql, &at, k);
    at += (size_t)sprintf(sql + at, ") AND e.status IN (2, 3, 4, 5, 6) AND e.queued_us < ?");
    for (size_t i = 0, j = 0; i < n; i++) {
        if (v[i].age_s != age_s || v[i].oldest_us >= cutoff_us) continue;
        my_bind_str(&p[j], v[i].task_id, &len[j]);
        j++;
    }
    my_bind_i64(&p[k], &cutoff_us);
    strcpy(sql + at, " LIMIT 1");
    MYSQL_STMT *st;
    int64_t one = 0;
    rc = my_cl_prepare(s, c, sql, p, &st, "looking for executions to prune by age");
    if (rc != TASKER_OK) goto out;
    my_cl_col col = {.i64 = &one};
    int f = my_cl_fetch(s, c, st, &col, 1);
    mysql_stmt_close(st);
    if (f <= 0) {
        rc = f;
        goto out;
    }
    sql[at] = '\0';
    memcpy(sql, del, sizeof del - 1); /* the same length as probe: the WHERE stays */
    rc = my_cl_run(s, c, sql, p, NULL, "pruning executions by age");
out:
    free(sql);
    free(p);
    free(len);
    return rc;
}

static int retain_chunk(my_store *s, my_conn *c, task_limit *v, size_t n)
{
    size_t cap = 200 + 3 * n;
    char *sql = malloc(cap);
    if (!sql) return tasker_fail(TASKER_ENOMEM, "mysql: out of memory pruning %zu tasks", n);
    for (size_t i = 0; i < n; i++) {
        v[i].keep = s->base.env.max_execs_per_task;
        v[i].age_s = s->base.env.max_exec_age_s;
        v[i].count = 0;
        v[i].oldest_us = INT64_MAX;
    }
    /* Their own limits (tasker_task_opts), where set. */
    size_t at = (size_t)sprintf(sql, "SELECT task_id, max_execs, max_exec_age_s FROM tasks"
                                     " WHERE task_id IN (");
    my_sql_marks(sql, &at, n);
    strcpy(sql + at, ")");
    int rc = select_per_task(s, c, sql, v, n, 3, take_limits, "reading tasks' limits");
    /* How many each has, and since when: one pass along exec_task_newest, which also
     * tells which tasks have anything old enough to prune by age (a probe over every
     * task and finished status cost more than the rest of the chunk's retention). */
    if (rc == TASKER_OK) {
        at = (size_t)sprintf(sql, "SELECT task_id, COUNT(*), MIN(queued_us) FROM task_execs"
                                  " FORCE INDEX (exec_task_newest) WHERE task_id IN (");
        my_sql_marks(sql, &at, n);
        strcpy(sql + at, ") GROUP BY task_id");
        rc = select_per_task(s, c, sql, v, n, 3, take_count, "counting tasks' executions");
    }
    /* By age: one delete per distinct limit, over the tasks with executions that old. */
    int64_t now_us = my_now_us(s);
    for (size_t i = 0; i < n && rc == TASKER_OK; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++) seen = v[j].age_s == v[i].age_s;
        int64_t cutoff_us = cutoff_of(now_us, v[i].age_s);
        if (!seen && cutoff_us != INT64_MIN)
            rc = delete_aged(s, c, v, n, v[i].age_s, cutoff_us);
    }
    /* By count: the few above their limit one by one (exactly, past what the age took). */
    for (size_t i = 0; i < n && rc == TASKER_OK; i++)
        if (v[i].keep >= 0 && v[i].count > v[i].keep) rc = my_retain_task(s, c, v[i].task_id);
    free(sql);
    return rc;
}

int my_retain_tasks(my_store *s, my_conn *c, const char *const *task_ids, size_t n)
{
    task_limit *v = calloc(n ? n : 1, sizeof *v);
    if (!v) return tasker_fail(TASKER_ENOMEM, "mysql: out of memory pruning %zu tasks", n);
    for (size_t i = 0; i < n; i++) v[i].task_id = task_ids[i];
    qsort(v, n, sizeof *v, by_task);
    size_t m = 0; /* distinct */
    for (size_t i = 0; i < n; i++)
        if (!m || strcmp(v[m - 1].task_id, v[i].task_id) != 0) v[m++] = v[i];
    int rc = TASKER_OK;
    for (size_t at = 0; at < m && rc == TASKER_OK; at += RETAIN_CHUNK)
        rc = retain_chunk(s, c, v + at, m - at < RETAIN_CHUNK ? m - at : RETAIN_CHUNK);
    free(v);
    return rc;
}

/* ---- the tasks of a bulk add ------------------------------------------------------------ */

typedef struct {
    const char *task_id;
    char *handler; /* read, when asked for; NULL: not found (or held) */
} task_row;

static int by_row(const void *a, const void *b)
{
    return strcmp(((const task_row *)a)->task_id, ((const task_row *)b)->task_id);
}

/* Reads the distinct tasks v[0..m) a chunk at a time, share-locked until the transaction
 * ends: *all says whether each exists and is not held; with handlers, each found row's
 * handler is read too (else only counted). */
static int read_tasks(my_store *s, my_conn *c, task_row *v, size_t m, bool handlers, bool *all)
{
    *all = true;
    char *sql = malloc(200 + 3 * RETAIN_CHUNK);
    MYSQL_BIND *p = calloc(RETAIN_CHUNK, sizeof *p);
    unsigned long *len = calloc(RETAIN_CHUNK, sizeof *len);
    int rc = sql && p && len ? TASKER_OK
                             : tasker_fail(TASKER_ENOMEM, "mysql: out of memory checking tasks");
    for (size_t at = 0; at < m && rc == TASKER_OK && *all; at += RETAIN_CHUNK) {
        size_t k = m - at < RETAIN_CHUNK ? m - at : RETAIN_CHUNK;
        size_t pos = (size_t)sprintf(sql, handlers ? "SELECT task_id, handler FROM tasks"
                                                     " WHERE task_id IN ("
                                                   : "SELECT COUNT(*) FROM tasks WHERE task_id IN (");
        my_sql_marks(sql, &pos, k);
        strcpy(sql + pos, ") AND NOT " HELD_BY_TASK " LOCK IN SHARE MODE");
        for (size_t i = 0; i < k; i++) my_bind_str(&p[i], v[at + i].task_id, &len[i]);
        MYSQL_STMT *st;
        rc = my_cl_prepare(s, c, sql, p, &st, "checking the tasks of new executions");
        if (rc != TASKER_OK) break;
        int64_t found = 0;
        for (;;) {
            char *id = NULL, *handler = NULL;
            my_cl_col cols[2] = {{.str = &id}, {.str = &handler}};
            my_cl_col count = {.i64 = &found};
            int f = handlers ? my_cl_fetch(s, c, st, cols, 2) : my_cl_fetch(s, c, st, &count, 1);
            if (f <= 0 || !handlers) {
                if (f < 0) rc = f;
                break;
            }
            task_row key = {.task_id = id}, *row = bsearch(&key, v + at, k, sizeof *v, by_row);
            if (row && !row->handler && handler) {
                row->handler = handler;
                handler = NULL;
                found++;
            }
            free(id);
            free(handler);
        }
        mysql_stmt_close(st);
        if (rc == TASKER_OK) *all = found == (int64_t)k;
    }
    free(sql);
    free(p);
    free(len);
    return rc;
}

/* The distinct task ids of task_ids, sorted, in *out (m of them). */
static int distinct_tasks(const char *const *task_ids, size_t n, task_row **out, size_t *m)
{
    task_row *v = calloc(n ? n : 1, sizeof *v);
    if (!v) return tasker_fail(TASKER_ENOMEM, "mysql: out of memory checking %zu tasks", n);
    for (size_t i = 0; i < n; i++) v[i].task_id = task_ids[i];
    qsort(v, n, sizeof *v, by_row);
    *m = 0;
    for (size_t i = 0; i < n; i++)
        if (!*m || strcmp(v[*m - 1].task_id, v[i].task_id) != 0) v[(*m)++] = v[i];
    *out = v;
    return TASKER_OK;
}

static void rows_free(task_row *v, size_t m)
{
    for (size_t i = 0; i < m; i++) free(v[i].handler);
    free(v);
}

int my_tasks_exist(my_store *s, my_conn *c, const char *const *task_ids, size_t n, bool *all)
{
    task_row *v = NULL;
    size_t m = 0;
    *all = false;
    int rc = distinct_tasks(task_ids, n, &v, &m);
    if (rc == TASKER_OK) rc = read_tasks(s, c, v, m, false, all);
    rows_free(v, m);
    return rc;
}

int my_tasks_handlers(my_store *s, my_conn *c, const char *const *task_ids, size_t n,
                      bool *all, char ***handler)
{
    task_row *v = NULL;
    size_t m = 0;
    *all = false;
    *handler = NULL;
    int rc = distinct_tasks(task_ids, n, &v, &m);
    if (rc == TASKER_OK) rc = read_tasks(s, c, v, m, true, all);
    char **h = rc == TASKER_OK && *all ? calloc(n ? n : 1, sizeof *h) : NULL;
    if (rc == TASKER_OK && *all && !h) rc = tasker_fail(TASKER_ENOMEM, "mysql: out of memory");
    for (size_t i = 0; h && i < n; i++) {
        task_row key = {.task_id = task_ids[i]}, *row = bsearch(&key, v, m, sizeof *v, by_row);
        if (row && row->handler && !(h[i] = strdup(row->handler))) {
            for (size_t j = 0; j < i; j++) free(h[j]);
            free(h);
            h = NULL;
            rc = tasker_fail(TASKER_ENOMEM, "mysql: out of memory");
        }
    }
    *handler = h;
    if (!h) *all = false;
    rows_free(v, m);
    return rc;
}
