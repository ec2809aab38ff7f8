/* A schedule pass's fires, stored in batches (schedule.h): see "firing, in batches"
 * there. */
#include "core/schedule.h"

#include <stdlib.h>
#include <string.h>

void tasker_fires_free(fire_batch *b)
{
    free(b->v);
    free(b->fire_ids);
    free(b->fire_us);
    *b = (fire_batch){0};
}

fire_item *tasker_fires_slot(fire_batch *b)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        fire_item *v = realloc(b->v, cap * sizeof *v);
        if (!v) return NULL;
        b->v = v;
        b->cap = cap;
    }
    fire_item *it = &b->v[b->n++];
    *it = (fire_item){0};
    return it;
}

static void item_exec(const fire_item *it, tasker_task_exec *x)
{
    *x = (tasker_task_exec){.exec_id = (char *)it->id, .task_id = (char *)it->e->task_id,
                            .scheme_id = (char *)it->e->scheme_id, .scheduled_us = it->occ_us,
                            .queued_us = it->now_us};
    if (it->j) {
        x->status = TASKER_EXEC_PENDING;
    } else {
        x->start_us = x->end_us = it->now_us;
        x->status = TASKER_EXEC_SKIPPED;
        x->error = it->why;
    }
}

/* Queues a stored run, or forgets one the store refused (the runs it started for this
 * node are the caller's to hand over). Called with sched.lock held. */
static void item_done(tasker_t *t, fire_item *it, const tasker_task_exec *x, bool stored)
{
    sched *s = &t->sched;
    if (it->j) {
        if (stored && tasker_pool_submit(t, it->j)) {
            it->j = NULL;
        } else {
            if (it->j->counted) strset_remove(&s->running_schemes, it->e->scheme_id);
            tasker_job_free(it->j);
            it->j = NULL;
        }
    } else if (stored) {
        tasker_call_hook(t, x);
    }
    free(it->why);
    it->why = NULL;
}

static void flush_fires(tasker_t *t, fire_batch *b)
{
    const tasker_storage_ops *ops = t->st->ops;
    if (b->nf == 0) return;
    if (ops->version >= 4 && ops->set_scheme_fires) {
        ops->set_scheme_fires(t->st, b->fire_ids, b->fire_us, b->nf);
    } else {
        for (size_t i = 0; i < b->nf; i++) ops->set_scheme_fire(t->st, b->fire_ids[i], b->fire_us[i]);
    }
    b->nf = 0;
}

/* Stores the n executions xs and starts those of them this node will run soon, in one
 * write (storage op add_started_execs): started[i] says which. 1 when stored; 0 when
 * not tried (the store cannot, or this node has no room); -1 when the store refused
 * the write (then nothing is stored, and nothing started). */
static int store_started(tasker_t *t, const fire_batch *b, const tasker_task_exec *xs,
                         bool *started)
{
    const tasker_storage_ops *ops = t->st->ops;
    if (ops->version < 4 || !ops->add_started_execs) return 0;
    size_t room = tasker_pool_fire_room(t);
    if (room == 0) return 0;
    /* A node starts only runs whose handler it has (design section 5), as claims do. */
    size_t nh = 0;
    char **names = t->cl.on ? tasker_handler_names(t, &nh) : NULL;
    if (t->cl.on && !names) return 0;
    int rc = ops->add_started_execs(t->st, xs, b->n, tasker_now_us(t), t->node_id,
                                    (const char *const *)names, nh, room, started);
    tasker_free_names(names, nh);
    return rc == TASKER_OK ? 1 : -1;
}

/* Stores the collected executions and queues their runs; with fires, then records the
 * schedules' last fires (once per pass: after the runs they cover, so that a crash
 * between the two makes the next start handle those occurrences again, which the key
 * refuses). Called with sched.lock held; releases it while the store writes, so that
 * workers finishing runs (they take it to release a schedule) are not held up by the
 * write. The entries stay: only this thread frees them, in reload(). */
void tasker_fires_flush(tasker_t *t, fire_batch *b, bool fires)
{
    const tasker_storage_ops *ops = t->st->ops;
    sched *s = &t->sched;
    if (b->n > 0) {
        tasker_task_exec *xs = malloc(b->n * sizeof *xs);
        if (xs)
            for (size_t i = 0; i < b->n; i++) item_exec(&b->v[i], &xs[i]);
        pthread_mutex_unlock(&s->lock);
        bool *started = xs ? calloc(b->n, sizeof *started) : NULL;
        int how = started ? store_started(t, b, xs, started) : 0;
        bool all = how > 0;
        if (!all) {
            free(started);
            started = NULL;
        }
        /* Refused as a whole (say a peer fired some of these already): one by one below,
         * where the occurrence key decides which are ours. */
        if (how == 0)
            all = xs && b->n > 1 && ops->version >= 2 && ops->add_task_execs &&
                  ops->add_task_execs(t->st, xs, b->n) == TASKER_OK;
        bool *stored = all ? NULL : calloc(b->n, sizeof *stored);
        bool lost = false;
        for (size_t i = 0; stored && i < b->n; i++) {
            tasker_task_exec x;
            item_exec(&b->v[i], &x);
            /* EEXISTS on its own: handled already, by us or a peer */
            int rc = ops->add_task_exec(t->st, &x);
            stored[i] = rc == TASKER_OK;
            lost |= rc == TASKER_ESTORAGE;
        }
        pthread_mutex_lock(&s->lock);
        if (lost) s->fires_lost = true;
        /* The runs started for this node go to its workers in one hand-over (out of
         * memory: one by one). */
        job **go = started ? malloc(b->n * sizeof *go) : NULL;
        size_t ngo = 0;
        for (size_t i = 0; i < b->n; i++) {
            if (started && started[i] && b->v[i].j) { /* a run: nothing else to free */
                if (go) go[ngo++] = b->v[i].j;
                else tasker_pool_add_started(t, &b->v[i].j, 1);
                b->v[i].j = NULL;
                continue;
            }
            tasker_task_exec x;
            item_exec(&b->v[i], &x);
            item_done(t, &b->v[i], &x, all || (stored && stored[i]));
        }
        if (go) tasker_pool_add_started(t, go, ngo);
        free(go);
        free(started);
        free(stored);
        free(xs);
        b->n = 0;
    }
    if (!fires) return;
    if (s->fires_lost) {
        /* The store could not take some occurrences (it was away, or refused writes: a
         * Galera member without quorum). None of this pass's fires is recorded, and the
         * schedules are reread from the store: their last recorded fires say which
         * occurrences to handle again, by each schedule's misfire policy (those stored
         * meanwhile, here or by a peer, are refused by the key). Else they were lost. */
        s->fires_lost = false;
        b->nf = 0;
        s->reload = true;
        return;
    }
    if (b->nf == 0) return;
    pthread_mutex_unlock(&s->lock);
    flush_fires(t, b);
    pthread_mutex_lock(&s->lock);
}

