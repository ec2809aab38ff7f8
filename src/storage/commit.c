/* The shared writer (storage/commit.h): the queue, the writer threads, leading a batch,
 * answering its jobs, retrying an owed seat, draining at stop. What a batch does is
 * the driver's (its run hook); this file only decides who runs which jobs, when, on
 * which seat, and wakes those who wait.
 *
 * A caller waits on a semaphore of its thread, posted once all of its jobs are
 * answered; the post comes after the writer's lock is released, so that waking callers
 * does not stall the threads queueing the next batch. Threads sleep on one condition
 * variable; a submit wakes one only when one sleeps and none was woken already. */
#include "storage/commit.h"

#include "core/error.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A caller's: the jobs of one submit still unanswered, and its thread's semaphore. */
struct tasker_commit_waiter {
    sem_t *sem;
    atomic_size_t pending;
};

struct tasker_commit {
    const tasker_commit_driver *drv;
    void *ctx;
    int seats;

    pthread_mutex_t lock; /* guards everything below but queued */
    pthread_cond_t work_cond; /* wakes sleeping threads */
    tasker_commit_job *head, *tail;
    atomic_bool queued;   /* head != NULL, for a run hook to peek at without the lock */
    bool *busy;           /* per seat: a batch runs on it */
    bool *owed;           /* per seat: its last run returned TASKER_COMMIT_OWED */
    int leaders;          /* batches running now */
    int threads;          /* writer threads started */
    int alive;            /* of those, not yet ended */
    int idle;             /* threads asleep */
    int wakes;            /* of those, woken and not yet up (idle - wakes really sleep) */
    bool running;         /* accepts jobs */
    bool stopping;
    pthread_t *tids;
};

int tasker_commit_new(const tasker_commit_driver *drv, void *ctx, int seats,
                      tasker_commit **out)
{
    *out = NULL;
    if (!drv || drv->version < 1 || drv->version > TASKER_COMMIT_VERSION || !drv->run)
        return tasker_fail(TASKER_EINVAL, "commit: driver version %d is not %d",
                           drv ? drv->version : 0, TASKER_COMMIT_VERSION);
    if (seats < 1 || seats > TASKER_COMMIT_SEATS_MAX)
        return tasker_fail(TASKER_EINVAL, "commit: %d seats is out of range 1-%d", seats,
                           TASKER_COMMIT_SEATS_MAX);
    tasker_commit *w = calloc(1, sizeof *w);
    if (w) {
        w->busy = calloc((size_t)seats, sizeof *w->busy);
        w->owed = calloc((size_t)seats, sizeof *w->owed);
        w->tids = calloc((size_t)seats, sizeof *w->tids);
    }
    if (!w || !w->busy || !w->owed || !w->tids) {
        if (w) free(w->busy), free(w->owed), free(w->tids);
        free(w);
        return tasker_fail(TASKER_ENOMEM, "commit: out of memory");
    }
    w->drv = drv;
    w->ctx = ctx;
    w->seats = seats;
    pthread_mutex_init(&w->lock, NULL);
    /* A retry's pause is timed on the monotonic clock: a wall-clock step must not
     * stretch it. */
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->work_cond, &attr);
    pthread_condattr_destroy(&attr);
    *out = w;
    return TASKER_OK;
}

/* A free seat for a new batch, an owed one first (its replay rides along); -1 when
 * every seat is busy. Called with the lock held. */
static int pick_seat(const tasker_commit *w)
{
    int free_seat = -1;
    for (int i = 0; i < w->seats; i++) {
        if (w->busy[i]) continue;
        if (w->owed[i]) return i;
        if (free_seat < 0) free_seat = i;
    }
    return free_seat;
}

static int owed_free_seat(const tasker_commit *w)
{
    for (int i = 0; i < w->seats; i++)
        if (w->owed[i] && !w->busy[i]) return i;
    return -1;
}

/* Wakes one sleeping thread, unless none sleeps or one was woken already. Called with
 * the lock held. */
static void wake_thread(tasker_commit *w)
{
    if (w->idle <= w->wakes) return;
    w->wakes++;
    pthread_cond_signal(&w->work_cond);
}

static tasker_commit_job *take_locked(tasker_commit *w, size_t room)
{
    tasker_commit_job *first = w->head, *last = NULL;
    size_t n = 0;
    for (tasker_commit_job *j = first; j && (room == 0 || n < room); j = j->next, n++)
        last = j;
    if (!last) return NULL;
    w->head = last->next;
    if (!w->head) {
        w->tail = NULL;
        atomic_store_explicit(&w->queued, false, memory_order_relaxed);
    }
    last->next = NULL;
    return first;
}

tasker_commit_job *tasker_commit_take(tasker_commit_batch *b, size_t room)
{
    tasker_commit *w = b->writer;
    pthread_mutex_lock(&w->lock);
    tasker_commit_job *first = take_locked(w, room);
    pthread_mutex_unlock(&w->lock);
    return first;
}

bool tasker_commit_queued(const tasker_commit *w)
{
    return atomic_load_explicit(&w->queued, memory_order_relaxed);
}

void tasker_commit_answer(tasker_commit_job *job)
{
    struct tasker_commit_waiter *waiter = job->waiter;
    if (!waiter) {
        if (job->report) job->report(job);
        return;
    }
    /* The waiter lives on the caller's stack: gone once the last post is seen. */
    sem_t *sem = waiter->sem;
    if (atomic_fetch_sub(&waiter->pending, 1) == 1) sem_post(sem);
}

/* Takes the queue (up to batch_max) and runs it on seat; then answers the jobs the run
 * hook handed back. Called with the lock held; returns with it held. */
static void lead(tasker_commit *w, int seat, bool by_caller)
{
    w->leaders++;
    w->busy[seat] = true;
    tasker_commit_batch b = {.writer = w, .ctx = w->ctx, .seat = seat, .by_caller = by_caller};
    b.jobs = take_locked(w, w->drv->batch_max);
    pthread_mutex_unlock(&w->lock);

    int owed = w->drv->run(&b);

    pthread_mutex_lock(&w->lock);
    w->leaders--;
    w->busy[seat] = false;
    w->owed[seat] = owed == TASKER_COMMIT_OWED;
    if (w->head || w->owed[seat]) wake_thread(w);
    pthread_mutex_unlock(&w->lock);
    /* Callers first (they wait), then the reports; each job may be gone once
     * answered. */
    tasker_commit_job *async = NULL, **async_tail = &async;
    for (tasker_commit_job *j = b.jobs, *next; j; j = next) {
        next = j->next;
        if (j->waiter) {
            tasker_commit_answer(j);
            continue;
        }
        j->next = NULL;
        *async_tail = j;
        async_tail = &j->next;
    }
    for (tasker_commit_job *j = async, *next; j; j = next) {
        next = j->next;
        tasker_commit_answer(j);
    }
    pthread_mutex_lock(&w->lock);
}

/* Sleeps until woken, or until ms have passed (ms > 0). Called with the lock held. */
static void sleep_locked(tasker_commit *w, int ms)
{
    struct timespec until;
    if (ms > 0) {
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += ms / 1000;
        until.tv_nsec += (long)(ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
    }
    w->idle++;
    while (!w->wakes && !w->stopping) {
        if (ms <= 0) pthread_cond_wait(&w->work_cond, &w->lock);
        else if (pthread_cond_timedwait(&w->work_cond, &w->lock, &until) != 0) break;
    }
    if (w->wakes) w->wakes--;
    w->idle--;
}

/* A writer thread: leads a batch whenever jobs are queued and a seat is free; runs an
 * owed seat again after a pause (doubling from retry_min_ms to retry_max_ms, so that a
 * server away is not hammered) unless jobs come to carry its replay first. At stop it
 * returns once the queue is empty; what a seat still owes then is finish's. */
static void *writer_main(void *arg)
{
    tasker_commit *w = arg;
    const tasker_commit_driver *drv = w->drv;
    int retry_ms = drv->retry_min_ms;
    if (drv->thread_name) pthread_setname_np(pthread_self(), drv->thread_name);
    pthread_mutex_lock(&w->lock);
    for (;;) {
        int seat;
        if (w->head && (seat = pick_seat(w)) >= 0) {
            lead(w, seat, false);
            continue;
        }
        seat = owed_free_seat(w);
        if (seat >= 0 && !w->stopping) {
            sleep_locked(w, retry_ms > 0 ? retry_ms : 1);
            if (w->owed[seat] && !w->busy[seat] && !w->head && !w->stopping) {
                lead(w, seat, false);
                retry_ms = w->owed[seat] ? retry_ms * 2 : drv->retry_min_ms;
                if (retry_ms > drv->retry_max_ms) retry_ms = drv->retry_max_ms;
            }
            continue;
        }
        if (seat < 0) retry_ms = drv->retry_min_ms;
        if (w->stopping && !w->head) break;
        sleep_locked(w, 0);
    }
    w->alive--;
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int tasker_commit_start(tasker_commit *w)
{
    pthread_mutex_lock(&w->lock);
    w->running = true;
    w->stopping = false;
    for (int i = 0; i < w->seats; i++) {
        w->alive++; /* before it runs: it counts itself out when it ends */
        if (pthread_create(&w->tids[i], NULL, writer_main, w) != 0) {
            w->alive--;
            if (w->threads == 0) w->running = false; /* nobody would take a job */
            pthread_mutex_unlock(&w->lock);
            return tasker_fail(TASKER_ESTORAGE, "commit: cannot start a writer thread");
        }
        w->threads++;
    }
    pthread_mutex_unlock(&w->lock);
    return TASKER_OK;
}

void tasker_commit_stop(tasker_commit *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->lock);
    bool was_running = w->running;
    w->stopping = true;
    pthread_cond_broadcast(&w->work_cond);
    pthread_mutex_unlock(&w->lock);
    if (!was_running) return;
    for (int i = 0; i < w->threads; i++) pthread_join(w->tids[i], NULL);
    pthread_mutex_lock(&w->lock);
    w->threads = 0;
    w->running = false;
    pthread_mutex_unlock(&w->lock);
    if (w->drv->finish)
        for (int i = 0; i < w->seats; i++) w->drv->finish(w->ctx, i);
}

void tasker_commit_free(tasker_commit *w)
{
    if (!w) return;
    tasker_commit_stop(w);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->work_cond);
    free(w->busy);
    free(w->owed);
    free(w->tids);
    free(w);
}

/* The thread's semaphore, posted once per submit when all its jobs are answered. */
static sem_t *thread_sem(void)
{
    static _Thread_local sem_t sem;
    static _Thread_local bool ready;
    if (!ready) {
        sem_init(&sem, 0, 0);
        ready = true;
    }
    return &sem;
}

/* Queues the n jobs from first (linked by next) for waiter (NULL: asynchronous, report
 * set), and leads them at once when the caller may (see tasker_commit_submit). */
static int enqueue(tasker_commit *w, tasker_commit_job *first, size_t n,
                   struct tasker_commit_waiter *waiter, tasker_commit_report_fn report)
{
    tasker_commit_job *last = first;
    for (size_t i = 0; i < n; i++) {
        tasker_commit_job *j = i ? last->next : first;
        j->waiter = waiter;
        j->report = report;
        last = j;
    }
    last->next = NULL;
    pthread_mutex_lock(&w->lock);
    if (!w->running || (w->stopping && w->alive == 0)) {
        pthread_mutex_unlock(&w->lock);
        return tasker_fail(TASKER_ESTATE, "commit: the writer is not running");
    }
    bool was_empty = !w->head;
    if (w->tail) w->tail->next = first;
    else w->head = first;
    w->tail = last;
    atomic_store_explicit(&w->queued, true, memory_order_relaxed);
    /* Every thread asleep (none woken) and nothing else queued: lead it here. */
    if (waiter && was_empty && (w->drv->flags & TASKER_COMMIT_CALLER_LEADS) &&
        w->leaders == 0 && w->idle - w->wakes == w->threads) {
        int seat = pick_seat(w);
        if (seat >= 0) lead(w, seat, true);
    }
    if (w->head && w->leaders < w->seats) wake_thread(w);
    pthread_mutex_unlock(&w->lock);
    return TASKER_OK;
}

int tasker_commit_submit_many(tasker_commit *w, tasker_commit_job *first, size_t n)
{
    if (n == 0) return TASKER_OK;
    struct tasker_commit_waiter waiter = {.sem = thread_sem()};
    atomic_init(&waiter.pending, n);
    int rc = enqueue(w, first, n, &waiter, NULL);
    if (rc != TASKER_OK) return rc;
    while (sem_wait(waiter.sem) != 0) {
    }
    return TASKER_OK;
}

int tasker_commit_submit(tasker_commit *w, tasker_commit_job *job)
{
    return tasker_commit_submit_many(w, job, 1);
}

int tasker_commit_submit_async(tasker_commit *w, tasker_commit_job *job,
                               tasker_commit_report_fn report)
{
    return enqueue(w, job, 1, NULL, report);
}
