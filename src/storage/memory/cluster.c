/* The memory driver's part of cluster mode (storage version 3): claiming pending runs
 * for the handlers a node has, the overlap check, the text of a refused late outcome,
 * and interrupting the runs of dead processes. A memory store belongs to one handle, so it keeps no nodes table: the
 * heartbeat operations stay NULL and the core lists its own handle as the only node. */
#include "storage/memory/internal.h"

#include <stdio.h>
#include <stdlib.h>

static bool handler_in(const char *handler, const char *const *handlers, size_t nh)
{
    for (size_t i = 0; handler && i < nh; i++)
        if (handlers[i] && strcmp(handlers[i], handler) == 0) return true;
    return false;
}

/* Starts x for node_id and copies it into *out; the caller holds the lock. */
static int claim_one(mem_store *m, mexec *x, char *node, int64_t now_us, tasker_task_exec *out)
{
    free(x->rec.node_id);
    x->rec.node_id = node;
    x->rec.start_us = now_us;
    x->rec.status = TASKER_EXEC_RUNNING;
    mem_place_on_list(m, x);
    return mem_exec_copy(out, &x->rec) ? TASKER_OK : TASKER_ENOMEM;
}

int mem_claim_task_execs(tasker_storage *st, const char *node_id, const char *const *handlers,
                         size_t nh, size_t max, int64_t now_us, tasker_task_exec **out,
                         size_t *n)
{
    if (!node_id || !out || !n || (nh && !handlers))
        return tasker_fail(TASKER_EINVAL, "memory: claim_task_execs: NULL argument");
    *out = NULL;
    *n = 0;
    if (!max || !nh) return TASKER_OK;
    mem_store *m = mem(st);
    tasker_task_exec *v = calloc(max, sizeof *v);
    if (!v) return tasker_fail(TASKER_ENOMEM, "memory: claim_task_execs: out of memory");
    size_t count = 0;
    int rc = TASKER_OK;
    pthread_mutex_lock(&m->lock);
    /* Each round takes the best startable run: priority first, then run_at, then the
     * pending list's order (queued_us, exec_id). Rounds, since a claim changes what
     * max_concurrency allows; the store has one handle, so claims are rare here. */
    while (count < max && rc == TASKER_OK) {
        mexec *x = NULL;
        for (mexec *c = m->pending.head; c; c = c->next) {
            mtask *task = mem_find_task(m, c->rec.task_id);
            if (!task || !handler_in(task->rec.handler, handlers, nh) ||
                !mem_startable(m, c, now_us))
                continue;
            if (!x || c->rec.priority > x->rec.priority ||
                (c->rec.priority == x->rec.priority && c->rec.run_at_us < x->rec.run_at_us))
                x = c;
        }
        if (!x) break;
        char *node = strdup(node_id);
        if (!node) {
            rc = TASKER_ENOMEM;
            break;
        }
        rc = claim_one(m, x, node, now_us, &v[count]);
        if (rc == TASKER_OK) count++;
    }
    pthread_mutex_unlock(&m->lock);
    if (rc != TASKER_OK) {
        /* Those claimed stay running under node_id; the core is out of memory anyway and
         * their lease ends with the handle. */
        tasker_free_execs(v, count);
        return tasker_fail(rc, "memory: claim_task_execs: out of memory");
    }
    if (!count) {
        free(v);
        return TASKER_OK;
    }
    *out = v;
    *n = count;
    return TASKER_OK;
}

static bool of_scheme(const mexec *x, const char *scheme_id)
{
    return x->rec.scheme_id && strcmp(x->rec.scheme_id, scheme_id) == 0;
}

int mem_find_active_exec(tasker_storage *st, const char *scheme_id,
                         char exec_id_out[TASKER_ID_SIZE])
{
    if (!scheme_id || !exec_id_out)
        return tasker_fail(TASKER_EINVAL, "memory: find_active_exec: NULL argument");
    mem_store *m = mem(st);
    int rc = TASKER_ENOTFOUND;
    pthread_mutex_lock(&m->lock);
    const xlist *lists[] = {&m->running, &m->pending};
    for (size_t l = 0; l < 2 && rc != TASKER_OK; l++)
        for (mexec *x = lists[l]->head; x; x = x->next)
            if (of_scheme(x, scheme_id)) {
                snprintf(exec_id_out, TASKER_ID_SIZE, "%s", x->rec.exec_id);
                rc = TASKER_OK;
                break;
            }
    pthread_mutex_unlock(&m->lock);
    if (rc != TASKER_OK)
        return tasker_fail(rc, "memory: schedule '%s' has no pending or running execution",
                           scheme_id);
    return rc;
}

char *mem_refusal_message(const tasker_task_exec *e, const tasker_task_exec *cur)
{
    char *msg = NULL;
    const char *holder = cur->node_id ? cur->node_id : "";
    int len = asprintf(&msg, "late outcome from node %s refused: the run is %s%s%s; "
                       "outcome was %s%s%s",
                       e->node_id, tasker_exec_status_name(cur->status),
                       *holder && strcmp(holder, e->node_id) != 0 ? ", held by node " : "",
                       *holder && strcmp(holder, e->node_id) != 0 ? holder : "",
                       tasker_exec_status_name(e->status), e->error ? ": " : "",
                       e->error ? e->error : "");
    return len < 0 ? NULL : msg;
}

/* ---- interrupting the executions of dead nodes ------------------------------------ */

typedef struct node_verdict {
    char *node_id;
    bool dead;
} node_verdict;

static const char *node_name(const mexec *x)
{
    return x->rec.node_id ? x->rec.node_id : "";
}

/* The distinct nodes of the running executions; the caller holds the lock. */
static int running_nodes(mem_store *m, node_verdict **out, size_t *n)
{
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    for (mexec *x = m->running.head; x; x = x->next) cap++;
    if (!cap) return TASKER_OK;
    node_verdict *v = calloc(cap, sizeof *v);
    if (!v) return tasker_fail(TASKER_ENOMEM, "memory: interrupt_dead: out of memory");
    size_t count = 0;
    for (mexec *x = m->running.head; x; x = x->next) {
        size_t i = 0;
        while (i < count && strcmp(v[i].node_id, node_name(x)) != 0) i++;
        if (i < count) continue;
        if (!(v[count].node_id = strdup(node_name(x)))) {
            for (i = 0; i < count; i++) free(v[i].node_id);
            free(v);
            return tasker_fail(TASKER_ENOMEM, "memory: interrupt_dead: out of memory");
        }
        count++;
    }
    *out = v;
    *n = count;
    return TASKER_OK;
}

static bool node_is_dead(const node_verdict *v, size_t n, const char *node_id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].node_id, node_id) == 0) return v[i].dead;
    return false; /* started after we asked: its node is alive */
}

/* Marks one running execution interrupted; the caller holds the lock. */
static int interrupt_exec(mem_store *m, mexec *x, int64_t now_us)
{
    size_t len = strlen(node_name(x)) + 40;
    char *error = malloc(len);
    if (!error) return tasker_fail(TASKER_ENOMEM, "memory: interrupt_dead: out of memory");
    snprintf(error, len, "interrupted: node %s stopped", node_name(x));
    free(x->rec.error);
    x->rec.error = error;
    x->rec.end_us = now_us;
    x->rec.success = false;
    x->rec.status = TASKER_EXEC_INTERRUPTED;
    mem_place_on_list(m, x);
    mem_add_retry(m, x);
    return TASKER_OK;
}

/* alive() is called without the lock held, so it may use the store. */
int mem_interrupt_dead(tasker_storage *st, tasker_node_alive_fn alive, void *udata,
                       size_t *n)
{
    if (!alive) return tasker_fail(TASKER_EINVAL, "memory: interrupt_dead: alive is NULL");
    mem_store *m = mem(st);
    node_verdict *nodes = NULL;
    size_t n_nodes = 0, marked = 0;
    pthread_mutex_lock(&m->lock);
    int rc = running_nodes(m, &nodes, &n_nodes);
    pthread_mutex_unlock(&m->lock);
    if (rc != TASKER_OK) goto out;
    for (size_t i = 0; i < n_nodes; i++) nodes[i].dead = !alive(nodes[i].node_id, udata);
    pthread_mutex_lock(&m->lock);
    int64_t now_us = tasker_storage_now_us(st);
    for (mexec *x = m->running.head, *next; x && rc == TASKER_OK; x = next) {
        next = x->next;
        if (!node_is_dead(nodes, n_nodes, node_name(x))) continue;
        if ((rc = interrupt_exec(m, x, now_us)) == TASKER_OK) marked++;
    }
    pthread_mutex_unlock(&m->lock);
out:
    for (size_t i = 0; i < n_nodes; i++) free(nodes[i].node_id);
    free(nodes);
    if (n) *n = marked;
    return rc;
}
