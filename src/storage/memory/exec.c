/* The memory driver's executions (add, start, update, get, list) and their events
 * (interrupting the executions of processes that stopped is in cluster.c). Retention and the status lists
 * they sit on are in storage/memory/retention.c. */
#include "storage/memory/internal.h"

#include <stdio.h>
#include <stdlib.h>

mexec *mem_find_exec(mem_store *m, const char *id)
{
    for (hnode *n = mem_htab_first(&m->execs, mem_hash_str(id)); n; n = mem_htab_next(n))
        if (strcmp(OWNER(n, mexec, by_id)->rec.exec_id, id) == 0) return OWNER(n, mexec, by_id);
    return NULL;
}

static mexec *find_occurrence(mem_store *m, const char *scheme_id, int64_t scheduled_us)
{
    uint64_t h = mem_hash_occurrence(scheme_id, scheduled_us);
    for (hnode *n = mem_htab_first(&m->occurrences, h); n; n = mem_htab_next(n)) {
        mexec *x = OWNER(n, mexec, by_occurrence);
        if (x->rec.scheduled_us == scheduled_us && strcmp(x->rec.scheme_id, scheme_id) == 0)
            return x;
    }
    return NULL;
}

mgroup *mem_find_group(mem_store *m, const char *task_id)
{
    for (hnode *n = mem_htab_first(&m->groups, mem_hash_str(task_id)); n; n = mem_htab_next(n))
        if (strcmp(OWNER(n, mgroup, by_task)->task_id, task_id) == 0)
            return OWNER(n, mgroup, by_task);
    return NULL;
}

/* ---- executions ------------------------------------------------------------------- */

bool mem_exec_copy(tasker_task_exec *out, const tasker_task_exec *in)
{
    *out = *in;
    out->exec_id = out->task_id = out->scheme_id = NULL;
    out->result = out->error = out->node_id = NULL;
    out->retry_of = out->param = out->unique_key = NULL;
    if (dup_into(&out->exec_id, in->exec_id) && dup_into(&out->task_id, in->task_id) &&
        dup_into(&out->scheme_id, in->scheme_id) && dup_into(&out->result, in->result) &&
        dup_into(&out->error, in->error) && dup_into(&out->node_id, in->node_id) &&
        dup_into(&out->retry_of, in->retry_of) && dup_into(&out->param, in->param) &&
        dup_into(&out->unique_key, in->unique_key))
        return true;
    tasker_exec_clear(out);
    return false;
}

mgroup *mem_group_get(mem_store *m, const char *task_id)
{
    mgroup *g = mem_find_group(m, task_id);
    if (g) return g;
    if (!(g = calloc(1, sizeof *g)) || !(g->task_id = strdup(task_id))) {
        free(g);
        return NULL;
    }
    mem_htab_insert(&m->groups, &g->by_task, mem_hash_str(task_id));
    if (m->sweep) {
        g->ring_next = m->sweep;
        g->ring_prev = m->sweep->ring_prev;
        g->ring_prev->ring_next = g;
        m->sweep->ring_prev = g;
    } else {
        m->sweep = g->ring_next = g->ring_prev = g;
    }
    return g;
}

/* Links x into its history, walking from the newest end. */
void mem_group_link(mgroup *g, mexec *x)
{
    mexec *after = g->newest;
    while (after && cmp_exec(after, x) > 0) after = after->older;
    x->group = g;
    x->older = after;
    x->newer = after ? after->newer : g->oldest;
    if (x->newer) x->newer->older = x; else g->newest = x;
    if (after) after->newer = x; else g->oldest = x;
}

int mem_check_new_exec(mem_store *m, const tasker_task_exec *e)
{
    if (!mem_find_task(m, e->task_id))
        return tasker_fail(TASKER_ENOTFOUND, "memory: add_task_exec '%s': no task '%s'",
                           e->exec_id, e->task_id);
    if (mem_find_exec(m, e->exec_id))
        return tasker_fail(TASKER_EEXISTS, "memory: execution '%s' exists", e->exec_id);
    if (e->unique_key && (e->status == TASKER_EXEC_PENDING || e->status == TASKER_EXEC_RUNNING))
        for (int l = 0; l < 2; l++)
            for (const mexec *x = l ? m->running.head : m->pending.head; x; x = x->next)
                if (x->rec.unique_key && strcmp(x->rec.unique_key, e->unique_key) == 0 &&
                    strcmp(x->rec.task_id, e->task_id) == 0)
                    return tasker_fail(TASKER_EEXISTS, "memory: run '%s' of task '%s' holds "
                                       "unique key '%s'", x->rec.exec_id, e->task_id,
                                       e->unique_key);
    if (e->scheme_id && find_occurrence(m, e->scheme_id, e->scheduled_us))
        return tasker_fail(TASKER_EEXISTS,
                           "memory: schedule '%s' occurrence %lld has an execution",
                           e->scheme_id, (long long)e->scheduled_us);
    return TASKER_OK;
}

int mem_add_task_exec(tasker_storage *st, const tasker_task_exec *e)
{
    if (!e || !id_ok(e->exec_id) || !id_ok(e->task_id) || (e->scheme_id && !id_ok(e->scheme_id)))
        return tasker_fail(TASKER_EINVAL, "memory: add_task_exec: exec_id or task_id missing, "
                                          "or an id over %d bytes",
                           TASKER_ID_SIZE - 1);
    mem_store *m = mem(st);
    mexec *x = calloc(1, sizeof *x);
    if (!x || !mem_exec_copy(&x->rec, e)) {
        free(x);
        return tasker_fail(TASKER_ENOMEM, "memory: add_task_exec '%s': out of memory", e->exec_id);
    }
    pthread_mutex_lock(&m->lock);
    mgroup *g = NULL;
    int rc = mem_check_new_exec(m, e);
    if (rc == TASKER_OK && !(g = mem_group_get(m, e->task_id)))
        rc = tasker_fail(TASKER_ENOMEM, "memory: add_task_exec '%s': out of memory", e->exec_id);
    if (rc == TASKER_OK) {
        mem_htab_insert(&m->execs, &x->by_id, mem_hash_str(x->rec.exec_id));
        if (x->rec.scheme_id)
            mem_htab_insert(&m->occurrences, &x->by_occurrence,
                        mem_hash_occurrence(x->rec.scheme_id, x->rec.scheduled_us));
        mem_group_link(g, x);
        mem_place_on_list(m, x);
        mem_group_admit(m, x);
        mem_apply_retention(m, g);
        x = NULL;
    }
    pthread_mutex_unlock(&m->lock);
    if (x) mem_exec_free_fields(x);
    return rc;
}

/* Whether v[i] clashes with one of v[0..i): the same id or the same occurrence. */
static int check_within(const tasker_task_exec *v, size_t i)
{
    for (size_t k = 0; k < i; k++) {
        if (strcmp(v[k].exec_id, v[i].exec_id) == 0)
            return tasker_fail(TASKER_EEXISTS, "memory: execution '%s' exists", v[i].exec_id);
        if (v[i].scheme_id && v[k].scheme_id && v[k].scheduled_us == v[i].scheduled_us &&
            strcmp(v[k].scheme_id, v[i].scheme_id) == 0)
            return tasker_fail(TASKER_EEXISTS,
                               "memory: schedule '%s' occurrence %lld has an execution",
                               v[i].scheme_id, (long long)v[i].scheduled_us);
    }
    return TASKER_OK;
}

/* What add_started_execs asks of an add: which new runs to start, and as whom. */
typedef struct start_req {
    int64_t start_us;
    char *node_id; /* owned */
    const char *const *handlers; /* NULL: any */
    size_t nh, max_start;
    bool *started;
} start_req;

static bool handler_listed(const start_req *sr, const char *handler)
{
    if (!sr->handlers) return true;
    for (size_t i = 0; handler && i < sr->nh; i++)
        if (sr->handlers[i] && strcmp(sr->handlers[i], handler) == 0) return true;
    return false;
}

/* Starts, in order, the first sr->max_start of the just stored xs[0..n) that a start
 * would start and whose handler is listed. The caller holds the lock; the adds and
 * these starts are one write (nobody sees them pending). */
static void start_new(mem_store *m, mexec **xs, size_t n, start_req *sr)
{
    size_t left = sr->max_start;
    for (size_t i = 0; i < n && left > 0; i++) {
        mexec *x = xs[i];
        mtask *task = mem_find_task(m, x->rec.task_id);
        if (x->rec.status != TASKER_EXEC_PENDING || !task ||
            !handler_listed(sr, task->rec.handler) || !mem_startable(m, x, sr->start_us))
            continue;
        char *node = NULL;
        if (sr->node_id && !(node = strdup(sr->node_id))) break; /* stays pending */
        free(x->rec.node_id);
        x->rec.node_id = node;
        x->rec.start_us = sr->start_us;
        x->rec.status = TASKER_EXEC_RUNNING;
        mem_place_on_list(m, x);
        sr->started[i] = true;
        left--;
    }
}

/* All or nothing: every check is made before the first insert. With sr, the new runs
 * it asks for are started under the same lock. */
static int add_execs(tasker_storage *st, const tasker_task_exec *v, size_t n, start_req *sr)
{
    if (n > 0 && !v) return tasker_fail(TASKER_EINVAL, "memory: add_task_execs: NULL");
    for (size_t i = 0; i < n; i++)
        if (!id_ok(v[i].exec_id) || !id_ok(v[i].task_id) ||
            (v[i].scheme_id && !id_ok(v[i].scheme_id)))
            return tasker_fail(TASKER_EINVAL, "memory: add_task_execs: exec_id or task_id "
                                              "missing, or an id over %d bytes",
                               TASKER_ID_SIZE - 1);
    mem_store *m = mem(st);
    mexec **xs = calloc(n ? n : 1, sizeof *xs);
    mexec **added = sr ? calloc(n ? n : 1, sizeof *added) : NULL;
    int rc = xs && (added || !sr)
                 ? TASKER_OK
                 : tasker_fail(TASKER_ENOMEM, "memory: add_task_execs: out of memory");
    for (size_t i = 0; i < n && rc == TASKER_OK; i++) {
        xs[i] = calloc(1, sizeof *xs[i]);
        if (!xs[i] || !mem_exec_copy(&xs[i]->rec, &v[i]))
            rc = tasker_fail(TASKER_ENOMEM, "memory: add_task_execs: out of memory");
    }
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < n && rc == TASKER_OK; i++) {
        if ((rc = mem_check_new_exec(m, &v[i])) == TASKER_OK) rc = check_within(v, i);
        if (rc == TASKER_OK && !mem_group_get(m, v[i].task_id))
            rc = tasker_fail(TASKER_ENOMEM, "memory: add_task_execs: out of memory");
    }
    for (size_t i = 0; i < n && rc == TASKER_OK; i++) {
        mexec *x = xs[i];
        mgroup *g = mem_group_get(m, x->rec.task_id);
        mem_htab_insert(&m->execs, &x->by_id, mem_hash_str(x->rec.exec_id));
        if (x->rec.scheme_id)
            mem_htab_insert(&m->occurrences, &x->by_occurrence,
                            mem_hash_occurrence(x->rec.scheme_id, x->rec.scheduled_us));
        mem_group_link(g, x);
        mem_place_on_list(m, x);
        mem_group_admit(m, x);
        if (added) added[i] = x;
        xs[i] = NULL;
    }
    /* Retention after the starts: it never prunes a pending or running run, and the
     * runs just added are all still one or the other. */
    if (rc == TASKER_OK && sr) start_new(m, added, n, sr);
    for (size_t i = 0; i < n && rc == TASKER_OK; i++)
        mem_apply_retention(m, mem_group_get(m, v[i].task_id));
    pthread_mutex_unlock(&m->lock);
    for (size_t i = 0; xs && i < n; i++)
        if (xs[i]) mem_exec_free_fields(xs[i]);
    free(xs);
    free(added);
    return rc;
}

int mem_add_task_execs(tasker_storage *st, const tasker_task_exec *v, size_t n)
{
    return add_execs(st, v, n, NULL);
}

int mem_add_started_execs(tasker_storage *st, const tasker_task_exec *v, size_t n,
                          int64_t start_us, const char *node_id, const char *const *handlers,
                          size_t nh, size_t max_start, bool *started)
{
    if (n > 0 && (!started || (nh && !handlers)))
        return tasker_fail(TASKER_EINVAL, "memory: add_started_execs: NULL argument");
    for (size_t i = 0; i < n; i++) started[i] = false;
    start_req sr = {.start_us = start_us, .node_id = (char *)node_id, .handlers = handlers,
                    .nh = nh, .max_start = max_start, .started = started};
    int rc = add_execs(st, v, n, &sr);
    if (rc != TASKER_OK)
        for (size_t i = 0; i < n; i++) started[i] = false;
    return rc;
}

/* Whether pending x may start at now_us (job lifecycle): due, its task not paused and
 * below its max_concurrency. The store belongs to one handle, so this check under the
 * lock is the whole rule, for starts and claims alike. The caller holds the lock. */
bool mem_startable(mem_store *m, const mexec *x, int64_t now_us)
{
    if (x->rec.run_at_us > now_us) return false;
    mtask *task = mem_find_task(m, x->rec.task_id);
    if (!task) return true; /* the start itself decides; history outlives tasks */
    if (task->rec.paused) return false;
    if (task->rec.max_concurrency <= 0) return true;
    int running = 0;
    for (const mexec *r = m->running.head; r; r = r->next)
        if (strcmp(r->rec.task_id, x->rec.task_id) == 0 &&
            ++running >= task->rec.max_concurrency)
            return false;
    return true;
}

int mem_start_task_exec(tasker_storage *st, const char *exec_id, int64_t start_us,
                        const char *node_id)
{
    if (!exec_id) return tasker_fail(TASKER_EINVAL, "memory: start_task_exec: NULL exec_id");
    mem_store *m = mem(st);
    char *node = NULL;
    if (!dup_into(&node, node_id))
        return tasker_fail(TASKER_ENOMEM, "memory: start_task_exec '%s': out of memory", exec_id);
    int rc = TASKER_OK;
    pthread_mutex_lock(&m->lock);
    mexec *x = mem_find_exec(m, exec_id);
    if (!x) {
        rc = tasker_fail(TASKER_ENOTFOUND, "memory: no execution '%s'", exec_id);
    } else if (x->rec.status != TASKER_EXEC_PENDING) {
        rc = tasker_fail(TASKER_ESTATE, "memory: execution '%s' is %s, not pending", exec_id,
                         tasker_exec_status_name(x->rec.status));
    } else if (!mem_startable(m, x, start_us)) {
        rc = tasker_fail(TASKER_ESTATE, "memory: execution '%s' is delayed, or its task "
                         "paused or at its max_concurrency: not started", exec_id);
    } else {
        free(x->rec.node_id);
        x->rec.node_id = node;
        node = NULL;
        x->rec.start_us = start_us;
        x->rec.status = TASKER_EXEC_RUNNING;
        mem_place_on_list(m, x);
    }
    pthread_mutex_unlock(&m->lock);
    free(node);
    return rc;
}

int mem_start_task_execs(tasker_storage *st, const char *const *ids, size_t n,
                         int64_t start_us, const char *node_id, int *rcs)
{
    if (n > 0 && (!ids || !rcs))
        return tasker_fail(TASKER_EINVAL, "memory: start_task_execs: NULL");
    for (size_t i = 0; i < n; i++) {
        rcs[i] = mem_start_task_exec(st, ids[i], start_us, node_id);
        if (rcs[i] != TASKER_OK && rcs[i] != TASKER_ESTATE && rcs[i] != TASKER_ENOTFOUND)
            return rcs[i];
    }
    return TASKER_OK;
}

/* Appends an event to x; the caller holds the lock. False when out of memory. */
static bool append_event_locked(mem_store *m, mexec *x, int64_t time_us, tasker_level level,
                                char *message)
{
    if (x->n_events == x->cap_events) {
        size_t cap = x->cap_events ? x->cap_events * 2 : 4;
        tasker_task_event *v = realloc(x->events, cap * sizeof *v);
        if (!v) return false;
        x->events = v;
        x->cap_events = cap;
    }
    x->events[x->n_events++] = (tasker_task_event){.event_id = ++m->last_event_id,
                                                   .time_us = time_us, .level = level,
                                                   .message = message};
    return true;
}

/* Fencing (storage version 3): an outcome from a node that no longer holds the run is
 * refused, and the refusal kept as an event of the run. The caller holds the lock. */
static int fence_refuse(mem_store *m, mexec *x, const tasker_task_exec *e)
{
    char *msg = mem_refusal_message(e, &x->rec);
    if (!msg || !append_event_locked(m, x, tasker_storage_now_us(&m->base), TASKER_WARNING, msg))
        free(msg);
    return tasker_fail(TASKER_ESTATE, "memory: execution '%s' is %s%s%s: the outcome of node "
                       "%s is refused", e->exec_id, tasker_exec_status_name(x->rec.status),
                       x->rec.node_id ? " on node " : "", x->rec.node_id ? x->rec.node_id : "",
                       e->node_id);
}

int mem_update_task_exec(tasker_storage *st, const tasker_task_exec *e)
{
    if (!e || !e->exec_id) return tasker_fail(TASKER_EINVAL, "memory: update_task_exec: NULL id");
    mem_store *m = mem(st);
    char *result = NULL, *error = NULL;
    if (!dup_into(&result, e->result) || !dup_into(&error, e->error)) {
        free(result);
        return tasker_fail(TASKER_ENOMEM, "memory: update_task_exec '%s': out of memory",
                           e->exec_id);
    }
    pthread_mutex_lock(&m->lock);
    mexec *x = mem_find_exec(m, e->exec_id);
    if (x && e->node_id &&
        (x->rec.status != TASKER_EXEC_RUNNING || !x->rec.node_id ||
         strcmp(x->rec.node_id, e->node_id) != 0)) {
        int rc = fence_refuse(m, x, e);
        pthread_mutex_unlock(&m->lock);
        free(result);
        free(error);
        return rc;
    }
    if (x) {
        free(x->rec.result);
        free(x->rec.error);
        x->rec.result = result;
        x->rec.error = error;
        result = error = NULL;
        x->rec.end_us = e->end_us;
        x->rec.success = e->success;
        x->rec.status = e->status;
        mem_place_on_list(m, x); /* a doomed execution that finished waits on `prunable` */
        if ((e->status == TASKER_EXEC_FAILED || e->status == TASKER_EXEC_INTERRUPTED) &&
            e->attempt >= 0) /* a negative attempt: tasker_no_retry() */
            mem_add_retry(m, x);
    }
    pthread_mutex_unlock(&m->lock);
    free(result);
    free(error);
    return x ? TASKER_OK : tasker_fail(TASKER_ENOTFOUND, "memory: no execution '%s'", e->exec_id);
}

int mem_get_task_exec(tasker_storage *st, const char *exec_id, tasker_task_exec *out)
{
    if (!exec_id || !out) return tasker_fail(TASKER_EINVAL, "memory: get_task_exec: NULL argument");
    mem_store *m = mem(st);
    int rc = TASKER_OK;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&m->lock);
    mexec *x = mem_find_exec(m, exec_id);
    if (!x)
        rc = tasker_fail(TASKER_ENOTFOUND, "memory: no execution '%s'", exec_id);
    else if (!mem_exec_copy(out, &x->rec))
        rc = tasker_fail(TASKER_ENOMEM, "memory: get_task_exec '%s': out of memory", exec_id);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* Copies n executions out into a new array; the caller holds the lock. */
int mem_copy_execs_out(mexec **v, size_t n, tasker_task_exec **out, size_t *n_out)
{
    if (!n) return TASKER_OK;
    tasker_task_exec *r = calloc(n, sizeof *r);
    if (!r) return tasker_fail(TASKER_ENOMEM, "memory: listing executions: out of memory");
    for (size_t i = 0; i < n; i++) {
        if (!mem_exec_copy(&r[i], &v[i]->rec)) {
            tasker_free_execs(r, i);
            return tasker_fail(TASKER_ENOMEM, "memory: listing executions: out of memory");
        }
    }
    *out = r;
    *n_out = n;
    return TASKER_OK;
}

static int cmp_exec_newest_first(const void *a, const void *b)
{
    const mexec *x = OWNER(*(hnode *const *)a, mexec, by_id);
    const mexec *y = OWNER(*(hnode *const *)b, mexec, by_id);
    return -cmp_exec(x, y);
}

/* Every task's executions: not a hot path (a listing for people), so it sorts. */
static int list_all_execs(mem_store *m, size_t limit, tasker_task_exec **out, size_t *n)
{
    hnode **nodes = malloc((m->execs.count + 1) * sizeof *nodes);
    mexec **v = malloc((m->execs.count + 1) * sizeof *v);
    int rc = TASKER_ENOMEM;
    if (!nodes || !v) {
        tasker_fail(rc, "memory: list_task_execs: out of memory");
        goto out;
    }
    size_t total = mem_htab_collect(&m->execs, nodes);
    qsort(nodes, total, sizeof *nodes, cmp_exec_newest_first);
    size_t count = limit && limit < total ? limit : total;
    for (size_t i = 0; i < count; i++) v[i] = OWNER(nodes[i], mexec, by_id);
    rc = mem_copy_execs_out(v, count, out, n);
out:
    free(nodes);
    free(v);
    return rc;
}

int mem_list_task_execs(tasker_storage *st, const char *task_id, size_t limit,
                        tasker_task_exec **out, size_t *n)
{
    if (!out || !n) return tasker_fail(TASKER_EINVAL, "memory: list_task_execs: NULL argument");
    mem_store *m = mem(st);
    int rc = TASKER_OK;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&m->lock);
    if (!task_id) {
        rc = list_all_execs(m, limit, out, n);
        goto out;
    }
    mgroup *g = mem_find_group(m, task_id);
    size_t count = 0;
    for (mexec *x = g ? g->newest : NULL; x && (!limit || count < limit); x = x->older) count++;
    mexec **v = malloc((count + 1) * sizeof *v);
    if (!v) {
        rc = tasker_fail(TASKER_ENOMEM, "memory: list_task_execs: out of memory");
        goto out;
    }
    count = 0;
    for (mexec *x = g ? g->newest : NULL; x && (!limit || count < limit); x = x->older)
        v[count++] = x;
    rc = mem_copy_execs_out(v, count, out, n);
    free(v);
out:
    pthread_mutex_unlock(&m->lock);
    return rc;
}

int mem_list_pending_execs(tasker_storage *st, size_t limit, tasker_task_exec **out,
                           size_t *n)
{
    if (!out || !n) return tasker_fail(TASKER_EINVAL, "memory: list_pending_execs: NULL argument");
    mem_store *m = mem(st);
    int rc = TASKER_OK;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&m->lock);
    size_t count = 0;
    for (mexec *x = m->pending.head; x && (!limit || count < limit); x = x->next) count++;
    mexec **v = malloc((count + 1) * sizeof *v);
    if (v) {
        count = 0;
        for (mexec *x = m->pending.head; x && (!limit || count < limit); x = x->next)
            v[count++] = x;
        rc = mem_copy_execs_out(v, count, out, n);
        free(v);
    } else {
        rc = tasker_fail(TASKER_ENOMEM, "memory: list_pending_execs: out of memory");
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* ---- events ----------------------------------------------------------------------- */

int mem_add_task_event(tasker_storage *st, const tasker_task_event *ev)
{
    if (!ev || !ev->exec_id) return tasker_fail(TASKER_EINVAL, "memory: add_task_event: NULL id");
    mem_store *m = mem(st);
    char *message = NULL;
    if (!dup_into(&message, ev->message))
        return tasker_fail(TASKER_ENOMEM, "memory: add_task_event '%s': out of memory",
                           ev->exec_id);
    int rc = TASKER_OK;
    pthread_mutex_lock(&m->lock);
    mexec *x = mem_find_exec(m, ev->exec_id);
    if (!x) {
        rc = tasker_fail(TASKER_ENOTFOUND, "memory: add_task_event: no execution '%s'",
                         ev->exec_id);
    } else if (x->n_events == x->cap_events) {
        size_t cap = x->cap_events ? x->cap_events * 2 : 4;
        tasker_task_event *v = realloc(x->events, cap * sizeof *v);
        if (v) {
            x->events = v;
            x->cap_events = cap;
        } else {
            rc = tasker_fail(TASKER_ENOMEM, "memory: add_task_event '%s': out of memory",
                             ev->exec_id);
        }
    }
    if (rc == TASKER_OK) {
        tasker_task_event *slot = &x->events[x->n_events++];
        *slot = *ev;
        slot->exec_id = NULL;
        slot->event_id = ++m->last_event_id;
        slot->message = message;
        message = NULL;
    }
    pthread_mutex_unlock(&m->lock);
    free(message);
    return rc;
}

static int copy_events_out(const mexec *x, tasker_task_event **out, size_t *n)
{
    if (!x->n_events) return TASKER_OK;
    tasker_task_event *v = calloc(x->n_events, sizeof *v);
    if (!v) return tasker_fail(TASKER_ENOMEM, "memory: list_task_events: out of memory");
    for (size_t i = 0; i < x->n_events; i++) {
        v[i] = x->events[i];
        v[i].exec_id = strdup(x->rec.exec_id);
        v[i].message = NULL;
        if (!v[i].exec_id || !dup_into(&v[i].message, x->events[i].message)) {
            tasker_free_events(v, i + 1);
            return tasker_fail(TASKER_ENOMEM, "memory: list_task_events: out of memory");
        }
    }
    *out = v;
    *n = x->n_events;
    return TASKER_OK;
}

int mem_list_task_events(tasker_storage *st, const char *exec_id,
                         tasker_task_event **out, size_t *n)
{
    if (!exec_id || !out || !n)
        return tasker_fail(TASKER_EINVAL, "memory: list_task_events: NULL argument");
    mem_store *m = mem(st);
    int rc;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&m->lock);
    mexec *x = mem_find_exec(m, exec_id);
    rc = x ? copy_events_out(x, out, n)
           : tasker_fail(TASKER_ENOTFOUND, "memory: no execution '%s'", exec_id);
    pthread_mutex_unlock(&m->lock);
    return rc;
}
