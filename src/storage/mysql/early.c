/* The MySQL driver's early answers: a run's start (the compare-and-set) and its events
 * are answered once their statement has run inside the open group-commit transaction,
 * before its COMMIT (see storage/mysql/commit.c). This file owns the driver's copies of writes:
 * the leader's copies of writes answered early, kept to replay them should their
 * transaction not commit, and the asynchronous writes (storage version 2), which are
 * such copies from the start, reported through their done callback once committed or
 * given up. It also owns the per-thread read barrier: a thread's read waits for the end
 * of the batches in which it was answered early, so that it reads what it wrote. */
#include "core/error.h"
#include "storage/mysql/internal.h"

#include <stdlib.h>
#include <string.h>

/* Starts only: events (like adds and outcomes) run at the end of the batch, after
 * every start (storage/mysql/commit.c), so that one round trip answers a round of starts. */
bool my_acks_early(const my_write *w)
{
    return w->kind == MW_START;
}

/* A copy with its input: the write first, so that the copy is freed as one block. */
typedef struct {
    my_write w;
    my_start_arg start;
    tasker_task_event ev;
    tasker_task_exec exec;
    char *str[3];
} early_copy;

static char *dup_or_null(const char *v, bool *ok)
{
    if (!v) return NULL;
    char *d = strdup(v);
    if (!d) *ok = false;
    return d;
}

my_write *my_early_copy(const my_write *w)
{
    early_copy *e = calloc(1, sizeof *e);
    bool ok = e != NULL;
    if (!ok) return NULL;
    e->w = *w;
    e->w.next = NULL;
    e->w.owned = true;
    e->w.out = NULL;
    if (w->kind == MW_START) {
        const my_start_arg *a = w->arg;
        e->start.start_us = a->start_us;
        e->start.exec_id = e->str[0] = dup_or_null(a->exec_id, &ok);
        e->start.node_id = e->str[1] = dup_or_null(a->node_id, &ok);
        e->w.arg = &e->start;
        e->w.claim_exec_id = NULL; /* answered: never undone */
    } else if (w->kind == MW_EVENT) {
        const tasker_task_event *ev = w->arg;
        e->ev = *ev;
        e->ev.exec_id = e->str[0] = dup_or_null(ev->exec_id, &ok);
        e->ev.message = e->str[1] = dup_or_null(ev->message, &ok);
        e->w.arg = &e->ev;
    } else { /* MW_UPDATE: the five outcome fields and the id */
        const tasker_task_exec *x = w->arg;
        e->exec = (tasker_task_exec){.status = x->status, .end_us = x->end_us,
                                     .success = x->success};
        e->exec.exec_id = e->str[0] = dup_or_null(x->exec_id, &ok);
        e->exec.result = e->str[1] = dup_or_null(x->result, &ok);
        e->exec.error = e->str[2] = dup_or_null(x->error, &ok);
        e->w.arg = &e->exec;
    }
    if (ok) return &e->w;
    my_early_free_list(&e->w);
    return NULL;
}

my_write *my_async_copy(const my_write *w, tasker_storage_done_fn done, void *udata)
{
    my_write *c = my_early_copy(w);
    if (!c) {
        tasker_fail(TASKER_ENOMEM, "mysql: out of memory queueing a write");
        return NULL;
    }
    c->async = true;
    c->on_done = done;
    c->udata = udata;
    return c;
}

void my_owned_release(my_store *s, my_write *list, int rc, const char *msg)
{
    size_t reported = 0;
    while (list) {
        early_copy *e = (early_copy *)list;
        list = list->next;
        if (e->w.async) {
            int w_rc = rc != TASKER_OK ? rc : e->w.rc;
            const char *w_msg = rc != TASKER_OK ? msg : e->w.err;
            if (e->w.on_done) e->w.on_done(e->w.udata, w_rc, w_rc == TASKER_OK ? NULL : w_msg);
            reported++;
        }
        for (int i = 0; i < 3; i++) free(e->str[i]);
        free(e);
    }
    if (!reported) return;
    pthread_mutex_lock(&s->commit_lock);
    s->async_owed -= reported;
    pthread_mutex_unlock(&s->commit_lock);
}

void my_early_free_list(my_write *list)
{
    while (list) {
        early_copy *e = (early_copy *)list;
        list = list->next;
        for (int i = 0; i < 3; i++) free(e->str[i]);
        free(e);
    }
}

/* This thread's early answers: for each store it wrote to, the batch of its last one.
 * A few slots suffice (a thread rarely writes to several stores); when one had to be
 * reused, reads wait for every batch begun so far instead. */
#define EARLY_SLOTS 4
static _Thread_local struct {
    int64_t store_id;
    uint64_t gen;
} early[EARLY_SLOTS];
static _Thread_local bool early_forgot;
static _Thread_local unsigned early_next;

void my_early_note(my_store *s, uint64_t gen)
{
    for (int i = 0; i < EARLY_SLOTS; i++) {
        if (early[i].store_id == s->store_id || early[i].store_id == 0) {
            early[i].store_id = s->store_id;
            early[i].gen = gen;
            return;
        }
    }
    unsigned i = early_next++ % EARLY_SLOTS;
    early_forgot = true;
    early[i].store_id = s->store_id;
    early[i].gen = gen;
}

void my_read_barrier(my_store *s)
{
    uint64_t target = 0;
    my_lane *l = my_early_lane(s);
    if (early_forgot) {
        pthread_mutex_lock(&s->commit_lock);
        target = l->batch_gen;
        pthread_mutex_unlock(&s->commit_lock);
    }
    for (int i = 0; i < EARLY_SLOTS; i++)
        if (early[i].store_id == s->store_id && early[i].gen > target) target = early[i].gen;
    if (__atomic_load_n(&l->done_gen, __ATOMIC_ACQUIRE) >= target) return;
    pthread_mutex_lock(&s->commit_lock);
    s->barrier_waiters++;
    while (l->done_gen < target) pthread_cond_wait(&s->commit_cond, &s->commit_lock);
    s->barrier_waiters--;
    pthread_mutex_unlock(&s->commit_lock);
}
