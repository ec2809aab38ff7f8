/* The MySQL driver's own copies of writes: the asynchronous writes (storage version 2,
 * add_task_event_async and update_task_exec_async) are copied with their input when
 * submitted, queued with nobody waiting, replayed until they commit (or are reported
 * failed, storage/mysql/resolve.c), and reported through their done callback. */
#include "core/error.h"
#include "storage/mysql/group.h"

#include <stdlib.h>
#include <string.h>

/* A copy with its input: the write first, so that the copy is freed as one block. */
typedef struct {
    my_write w;
    tasker_task_event ev;
    tasker_task_exec exec;
    char *str[4];
} write_copy;

static char *dup_or_null(const char *v, bool *ok)
{
    if (!v) return NULL;
    char *d = strdup(v);
    if (!d) *ok = false;
    return d;
}

static void copy_free(write_copy *e)
{
    for (int i = 0; i < 4; i++)
        free(e->str[i]);
    free(e);
}

my_write *my_async_copy(const my_write *w, tasker_storage_done_fn done, void *udata)
{
    write_copy *e = calloc(1, sizeof *e);
    bool ok = e != NULL;
    if (!ok) {
        tasker_fail(TASKER_ENOMEM, "mysql: out of memory queueing a write");
        return NULL;
    }
    e->w = *w;
    e->w.next = NULL;
    e->w.out = NULL;
    if (w->kind == MW_EVENT) {
        const tasker_task_event *ev = w->arg;
        e->ev = *ev;
        e->ev.exec_id = e->str[0] = dup_or_null(ev->exec_id, &ok);
        e->ev.message = e->str[1] = dup_or_null(ev->message, &ok);
        e->w.arg = &e->ev;
    } else { /* MW_UPDATE: the five outcome fields, the id, the writer's node, and the
              * attempt (negative: tasker_no_retry(), no retry is stored) */
        const tasker_task_exec *x = w->arg;
        e->exec = (tasker_task_exec){.status = x->status, .end_us = x->end_us,
                                     .success = x->success, .attempt = x->attempt};
        e->exec.exec_id = e->str[0] = dup_or_null(x->exec_id, &ok);
        e->exec.result = e->str[1] = dup_or_null(x->result, &ok);
        e->exec.error = e->str[2] = dup_or_null(x->error, &ok);
        e->exec.node_id = e->str[3] = dup_or_null(x->node_id, &ok);
        e->w.arg = &e->exec;
    }
    if (!ok) {
        copy_free(e);
        tasker_fail(TASKER_ENOMEM, "mysql: out of memory queueing a write");
        return NULL;
    }
    e->w.owned = e->w.async = true;
    e->w.on_done = done;
    e->w.udata = udata;
    return &e->w;
}

void my_owned_release(my_store *s, my_write *list, int rc, const char *msg)
{
    size_t reported = 0;
    while (list) {
        write_copy *e = (write_copy *)list;
        list = list->next;
        int w_rc = rc != TASKER_OK ? rc : e->w.rc;
        const char *w_msg = rc != TASKER_OK ? msg : e->w.err;
        if (e->w.on_done) e->w.on_done(e->w.udata, w_rc, w_rc == TASKER_OK ? NULL : w_msg);
        reported++;
        copy_free(e);
    }
    if (!reported) return;
    pthread_mutex_lock(&s->commit_lock);
    s->async_owed -= reported;
    pthread_mutex_unlock(&s->commit_lock);
}
