/* The nodes sharing a store (cluster mode): listing them.
 * Interim: lists this handle as the only node, from its own state, until the storage
 * drivers keep a nodes table with heartbeats. */
#include "core/internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *handlers_json(tasker_t *t)
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

int tasker_list_nodes(tasker_t *t, tasker_node **out, size_t *n)
{
    int rc;
    if ((rc = tasker_check_handle(t))) return rc;
    if (!out || !n) return tasker_fail(TASKER_EINVAL, "list_nodes: out and n must not be NULL");
    *out = NULL;
    *n = 0;
    tasker_node *v = calloc(1, sizeof *v);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    if (!v || !(v->node_id = strdup(t->node_id)) || !(v->host = strdup(host)) ||
        !(v->handlers = handlers_json(t))) {
        tasker_free_nodes(v, 1);
        return tasker_fail(TASKER_ENOMEM, "list_nodes: out of memory");
    }
    v->pid = (int64_t)getpid();
    v->heartbeat_us = tasker_now_us(t);
    v->running = tasker_running_count(t);
    *out = v;
    *n = 1;
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
