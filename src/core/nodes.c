/* The nodes sharing a store (cluster mode): listing them, and what a node tells the
 * others about itself (its handler names). A store without a nodes table (the memory
 * store, a version 1 or 2 driver) has one node: this handle, listed from its own
 * state. */
#include "core/internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char **tasker_handler_names(tasker_t *t, size_t *n)
{
    *n = 0;
    pthread_rwlock_rdlock(&t->handlers_lock);
    size_t count = 0;
    for (handler_entry *h = t->handlers; h; h = h->next) count++;
    char **v = calloc(count + 1, sizeof *v);
    bool oom = !v;
    for (handler_entry *h = t->handlers; v && h; h = h->next)
        if (!(v[(*n)++] = strdup(h->name))) oom = true;
    pthread_rwlock_unlock(&t->handlers_lock);
    if (oom) {
        tasker_free_names(v, *n);
        *n = 0;
        return NULL;
    }
    return v;
}

void tasker_free_names(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) free(v[i]);
    free(v);
}

char *tasker_handlers_json(tasker_t *t)
{
    json_t *a = json_array();
    if (!a) return NULL;
    pthread_rwlock_rdlock(&t->handlers_lock);
    for (handler_entry *h = t->handlers; h; h = h->next) json_array_append_new(a, json_string(h->name));
    pthread_rwlock_unlock(&t->handlers_lock);
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

bool tasker_may_run(tasker_t *t, const char *handler)
{
    if (!t->cl.on) return true; /* a private store: the run fails "unknown handler" */
    tasker_handler fn;
    void *udata;
    return handler && tasker_find_handler(t, handler, &fn, &udata);
}

/* This handle alone, for stores without a nodes table. */
static int list_self(tasker_t *t, tasker_node **out, size_t *n)
{
    tasker_node *v = calloc(1, sizeof *v);
    if (!v || !(v->node_id = strdup(t->node_id)) || !(v->host = strdup(t->cl.host)) ||
        !(v->handlers = tasker_handlers_json(t))) {
        tasker_free_nodes(v, 1);
        return tasker_fail(TASKER_ENOMEM, "list_nodes: out of memory");
    }
    v->pid = (int64_t)getpid();
    v->heartbeat_us = tasker_now_us(t);
    v->running = tasker_running_count(t);
    v->alive = true;
    *out = v;
    *n = 1;
    return TASKER_OK;
}

int tasker_list_nodes(tasker_t *t, tasker_node **out, size_t *n)
{
    int rc;
    if ((rc = tasker_check_handle(t))) return rc;
    if (!out || !n) return tasker_fail(TASKER_EINVAL, "list_nodes: out and n must not be NULL");
    *out = NULL;
    *n = 0;
    if (!t->cl.on) return list_self(t, out, n);
    int64_t store_now_us = 0;
    /* Every row the store keeps: live nodes, and dead or stopped ones for a day
     * (TASKER_NODE_KEEP_S), after which the lease step forgets them. */
    if ((rc = t->st->ops->list_nodes(t->st, 0, out, n, &store_now_us)) != TASKER_OK) return rc;
    for (size_t i = 0; i < *n; i++) {
        tasker_node *v = &(*out)[i];
        v->alive = v->stopped_us == 0 && store_now_us - v->heartbeat_us <= t->cl.lease_us;
    }
    return TASKER_OK;
}

void tasker_free_nodes(tasker_node *v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) {
        free(v[i].node_id);
        free(v[i].host);
        free(v[i].handlers);
    }
    free(v);
}
