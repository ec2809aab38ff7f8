/* The MySQL driver's early answers: a run's start (the compare-and-set) and its events
 * are answered once their statement has run inside the open group-commit transaction,
 * before its COMMIT (see mysql_commit.c). This file owns the leader's copies of such
 * writes, kept to replay them should their transaction not commit, and the per-thread
 * read barrier: a thread's read waits for the end of the batches in which it was
 * answered early, so that it reads what it wrote. */
#include "storage/mysql_internal.h"

#include <stdlib.h>
#include <string.h>

bool my_acks_early(const my_write *w)
{
    return w->kind == MW_START || w->kind == MW_EVENT;
}

/* A copy with its input: the write first, so that the copy is freed as one block. */
typedef struct {
    my_write w;
    my_start_arg start;
    tasker_task_event ev;
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
    } else {
        const tasker_task_event *ev = w->arg;
        e->ev = *ev;
        e->ev.exec_id = e->str[0] = dup_or_null(ev->exec_id, &ok);
        e->ev.message = e->str[1] = dup_or_null(ev->message, &ok);
        e->w.arg = &e->ev;
    }
    if (ok) return &e->w;
    my_early_free_list(&e->w);
    return NULL;
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
    if (early_forgot) {
        pthread_mutex_lock(&s->commit_lock);
        target = s->batch_gen;
        pthread_mutex_unlock(&s->commit_lock);
    }
    for (int i = 0; i < EARLY_SLOTS; i++)
        if (early[i].store_id == s->store_id && early[i].gen > target) target = early[i].gen;
    if (__atomic_load_n(&s->done_gen, __ATOMIC_ACQUIRE) >= target) return;
    pthread_mutex_lock(&s->commit_lock);
    while (s->done_gen < target) pthread_cond_wait(&s->commit_cond, &s->commit_lock);
    pthread_mutex_unlock(&s->commit_lock);
}
