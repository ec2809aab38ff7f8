/* The registry of handler functions by name. Reads (every run) far outnumber writes
 * (registration at start-up), hence the read-write lock. */
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>

int tasker_register(tasker_t *t, const char *name, tasker_handler fn, void *udata)
{
    int rc;
    if ((rc = tasker_check_handle(t)) || (rc = tasker_check_id("handler name", name))) return rc;
    if (!fn) return tasker_fail(TASKER_EINVAL, "handler '%s': function is NULL", name);
    pthread_rwlock_wrlock(&t->handlers_lock);
    handler_entry *h = t->handlers;
    while (h && strcmp(h->name, name) != 0) h = h->next;
    bool added = !h;
    if (!h) {
        h = calloc(1, sizeof *h);
        if (!h || !(h->name = strdup(name))) {
            free(h);
            pthread_rwlock_unlock(&t->handlers_lock);
            return tasker_fail(TASKER_ENOMEM, "register '%s': out of memory", name);
        }
        h->next = t->handlers;
        t->handlers = h;
    }
    h->fn = fn;
    h->udata = udata;
    pthread_rwlock_unlock(&t->handlers_lock);
    if (added) tasker_cluster_handlers_changed(t);
    return TASKER_OK;
}

bool tasker_find_handler(tasker_t *t, const char *name, tasker_handler *fn, void **udata)
{
    bool found = false;
    pthread_rwlock_rdlock(&t->handlers_lock);
    for (handler_entry *h = t->handlers; h; h = h->next) {
        if (strcmp(h->name, name) == 0) {
            *fn = h->fn;
            *udata = h->udata;
            found = true;
            break;
        }
    }
    pthread_rwlock_unlock(&t->handlers_lock);
    return found;
}

void tasker_free_handlers(tasker_t *t)
{
    handler_entry *h = t->handlers;
    while (h) {
        handler_entry *next = h->next;
        free(h->name);
        free(h);
        h = next;
    }
    t->handlers = NULL;
}
