/* Finishing runs without making the worker wait for the store's commit.
 *
 * With a driver that has the asynchronous writes (storage version 2), a worker hands
 * the outcome to the store and takes its next job at once. The store calls back when
 * the outcome is durable; the callback only queues the run here, and the finisher
 * thread does the rest (the exec hook, which reads the store, the overlap count, waking
 * tasker_wait and tasker_drain), since a driver's callback must not call the driver.
 * A run counts as running (for tasker_drain and tasker_running_count) until then, so
 * nothing reports a run finished before its outcome is stored. An outcome the store
 * reports failed is written again, with backoff, until it is stored
 * (tasker_outcome_written in exec.c).
 */
#include "core/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct outcome_rec {
    tasker_t *t;
    job *j;
    tasker_task_exec e; /* owns result and error; exec_id points into j */
    int rc;
    char err[256]; /* the store's message when rc != TASKER_OK */
    struct outcome_rec *next;
} outcome_rec;

/* A driver that writes at once (memory) reports before the submitting call returns, on
 * the submitting thread: the worker then completes the run itself, without waking the
 * finisher. These say which outcome this thread is submitting, and whether it was
 * reported meanwhile; another thread's report never touches them. */
static _Thread_local outcome_rec *submitting;
static _Thread_local bool reported_here;

static void rec_free(outcome_rec *r)
{
    free(r->e.result);
    free(r->e.error);
    free(r);
}

static void outcome_done(void *udata, int rc, const char *msg)
{
    outcome_rec *r = udata;
    finisher *f = &r->t->pool.fin;
    r->rc = rc;
    /* Kept for the thread that completes the run: it says why, and retries a failure. */
    snprintf(r->err, sizeof r->err, "%s", rc != TASKER_OK && msg ? msg : "");
    r->next = NULL;
    if (r == submitting) {
        reported_here = true;
        return;
    }
    pthread_mutex_lock(&f->lock);
    if (f->tail) f->tail->next = r;
    else f->head = r;
    f->tail = r;
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

/* The rest of a run once its outcome is written: shared by the finisher and a worker
 * whose store reported at once. */
static void complete(tasker_t *t, outcome_rec *r)
{
    if (r->rc != TASKER_OK) tasker_fail(r->rc, "%s", r->err);
    tasker_outcome_written(t, &r->e, r->rc);
    tasker_notify_done(t);
    tasker_pool_job_finished(t, r->j);
    rec_free(r);
}

static void *finisher_main(void *arg)
{
    tasker_t *t = arg;
    finisher *f = &t->pool.fin;
    pthread_setname_np(pthread_self(), "tasker-finish");
    pthread_mutex_lock(&f->lock);
    for (;;) {
        while (!f->head && !(f->stopping && f->in_flight == 0))
            pthread_cond_wait(&f->cond, &f->lock);
        outcome_rec *r = f->head;
        if (!r) break;
        f->head = r->next;
        if (!f->head) f->tail = NULL;
        pthread_mutex_unlock(&f->lock);

        complete(t, r);

        pthread_mutex_lock(&f->lock);
        f->in_flight--;
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

static bool store_has_async(const tasker_storage *st)
{
    return st->ops->version >= 2 && st->ops->add_task_event_async &&
           st->ops->update_task_exec_async;
}

int tasker_finisher_start(tasker_t *t)
{
    finisher *f = &t->pool.fin;
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    f->ready = true;
    if (t->opt.workers <= 0 || !store_has_async(t->st)) return TASKER_OK;
    if (pthread_create(&f->thread, NULL, finisher_main, t) != 0)
        return tasker_fail(TASKER_ESTATE, "open: cannot start the finisher thread");
    f->started = true;
    return TASKER_OK;
}

void tasker_finisher_stop(tasker_t *t)
{
    finisher *f = &t->pool.fin;
    if (!f->ready) return;
    f->ready = false;
    if (f->started) {
        pthread_mutex_lock(&f->lock);
        f->stopping = true; /* it returns once every outcome in flight is written */
        pthread_cond_signal(&f->cond);
        pthread_mutex_unlock(&f->lock);
        pthread_join(f->thread, NULL);
        f->started = false;
    }
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->cond);
}

bool tasker_finish_async(tasker_t *t, job *j, const tasker_task_exec *e)
{
    finisher *f = &t->pool.fin;
    if (!f->started) return false;
    outcome_rec *r = calloc(1, sizeof *r);
    if (!r) return false;
    r->t = t;
    r->j = j;
    r->e = *e;
    r->e.exec_id = j->exec_id;
    r->e.result = tasker_strdup_or_null(e->result);
    r->e.error = tasker_strdup_or_null(e->error);
    if ((e->result && !r->e.result) || (e->error && !r->e.error)) {
        rec_free(r);
        return false;
    }
    pthread_mutex_lock(&f->lock);
    f->in_flight++;
    pthread_mutex_unlock(&f->lock);
    submitting = r;
    reported_here = false;
    int rc = t->st->ops->update_task_exec_async(t->st, &r->e, outcome_done, r);
    submitting = NULL;
    if (rc == TASKER_OK) {
        if (reported_here) { /* r is still ours: nobody else saw it */
            complete(t, r);
            pthread_mutex_lock(&f->lock);
            f->in_flight--;
            if (f->stopping) pthread_cond_signal(&f->cond); /* it waits for in_flight 0 */
            pthread_mutex_unlock(&f->lock);
        }
        return true;
    }
    pthread_mutex_lock(&f->lock);
    f->in_flight--;
    if (f->stopping) pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->lock);
    rec_free(r);
    return false; /* refused outright: the caller writes it synchronously */
}

int tasker_store_event(tasker_t *t, const tasker_task_event *ev)
{
    if (t->pool.fin.started) return t->st->ops->add_task_event_async(t->st, ev, NULL, NULL);
    return t->st->ops->add_task_event(t->st, ev);
}
