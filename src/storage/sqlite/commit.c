/* The SQLite driver's group commit: many threads write at once, one transaction holds
 * them all.
 *
 * One writer thread per store (the flusher) runs the writer connection (a caller that
 * finds it asleep with nothing queued runs its own batch instead: see enqueue). A
 * thread that writes queues its request and sleeps on its own semaphore; the flusher
 * takes every queued request, runs them in one BEGIN IMMEDIATE .. COMMIT, and wakes
 * each caller with its own result. Before committing it takes in, for a few rounds,
 * what was queued meanwhile (run_once). So a sync (synchronous=FULL) or a WAL append (NORMAL)
 * is paid once per batch, not once per row, and a caller still returns only after its
 * own write is committed. Callers are woken after the queue lock is released, each on
 * its own semaphore, so waking them does not stall the threads queueing the next batch.
 *
 * Early acknowledgement: an event is answered once its statement has run in the open
 * transaction, before the COMMIT, and becomes durable with it. Asynchronous writes
 * (events, outcomes: storage version 2) are answered when queued and report through
 * their callback after the COMMIT. A start (the compare-and-set) is NOT answered early:
 * its handler must not run on a claim that a failed COMMIT or a crash could undo, since
 * the run would then be pending again for any process to take (cluster mode: a start is
 * acted on only after the commit that claimed it). The cost of an early event: a
 * process that dies between the answer and the commit loses that event. A thread's read
 * first waits for the commit of its own last early answer, so it reads what it wrote;
 * other threads learn of a run's start and events through its outcome, which is
 * answered after its commit.
 *
 * Every request is one statement (interrupt_dead, the one exception, wraps itself in a
 * savepoint), and SQLite undoes a failed statement on its own, so a request that fails
 * (a duplicate id, a missing task) leaves the others' writes in the transaction. An
 * error that makes SQLite roll back the whole transaction (disk full, I/O error) fails
 * that request, and the rest are run again in a new transaction.
 */
#include "storage/sqlite/internal.h"

#include <sched.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int step_plain(sq_store *s, int which, const char *what, char *msg, size_t size)
{
    sqlite3_stmt *st = s->wstmt[which];
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) sq_format_error(s, s->wdb, msg, size, what);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? TASKER_OK : TASKER_ESTORAGE;
}

static void rollback(sq_store *s)
{
    if (!sqlite3_get_autocommit(s->wdb)) {
        sqlite3_step(s->wstmt[W_ROLLBACK]);
        sqlite3_reset(s->wstmt[W_ROLLBACK]);
    }
}

/* Hands a request back to its caller, which may return (and its request vanish) at
 * once. */
static void wake(sq_req *r)
{
    sem_post(r->sem);
}

static bool acks_early(const sq_req *r)
{
    return !r->async && r->kind == SQ_ADD_EVENT;
}

/* Answers the batch's early requests now (see the top of the file), and takes them out
 * of the batch: once answered, a request's memory belongs to its caller again. */
static bool ack_early(sq_store *s, sq_req **batch, uint64_t gen)
{
    bool any = false;
    for (sq_req **link = batch; *link;) {
        sq_req *r = *link;
        if (!acks_early(r)) {
            link = &r->next;
            continue;
        }
        if (!any) atomic_store(&s->early_gen, gen);
        any = true;
        *link = r->next;
        r->early_gen = gen;
        wake(r);
    }
    return any;
}

/* Runs the requests from r on; stops at one whose failure rolled the transaction back
 * and returns it (NULL when none did). */
static sq_req *exec_from(sq_store *s, sq_req *r)
{
    for (; r; r = r->next) {
        if (r->final) continue; /* failed alone in an earlier attempt */
        r->rc = TASKER_OK;
        r->msg[0] = '\0';
        sq_exec_req(s, r);
        if (sqlite3_get_autocommit(s->wdb)) {
            if (r->rc == TASKER_OK) r->rc = TASKER_ESTORAGE;
            return r;
        }
    }
    return NULL;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Yields the CPU until a request is queued or SQ_GATHER_US have passed. */
static void gather(sq_store *s)
{
    int64_t until_us = mono_us() + SQ_GATHER_US;
    do {
        sched_yield();
        if (atomic_load_explicit(&s->queued, memory_order_relaxed)) return;
    } while (mono_us() < until_us);
}

/* Takes the requests queued since the batch began, appending them to *batchp. Returns
 * the first taken, or NULL when none were queued. */
static sq_req *take_more(sq_store *s, sq_req **batchp)
{
    pthread_mutex_lock(&s->queue_lock);
    sq_req *more = s->queue_head;
    s->queue_head = s->queue_tail = NULL;
    atomic_store_explicit(&s->queued, false, memory_order_relaxed);
    pthread_mutex_unlock(&s->queue_lock);
    if (!more) return NULL;
    sq_req **link = batchp;
    while (*link) link = &(*link)->next;
    *link = more;
    return more;
}

/* One attempt at the batch, in one transaction. Before committing, the leader answers
 * the early requests and takes in what was queued meanwhile, a few rounds: a worker
 * answered early comes back with its next write (its event, then its outcome) in time
 * for the same commit, so a whole run can share one transaction. Returns TASKER_OK when
 * committed. Otherwise *culprit is the request whose failure rolled the transaction
 * back, or NULL when the transaction itself failed (msg says why). */
static int run_once(sq_store *s, sq_req **batchp, uint64_t gen,
                    sq_req **culprit, char *msg, size_t size)
{
    *culprit = NULL;
    if (step_plain(s, W_BEGIN, "beginning a write transaction", msg, size) != TASKER_OK) {
        rollback(s);
        return TASKER_ESTORAGE;
    }
    sq_req *todo = *batchp;
    for (int round = 0; todo; round++) {
        if ((*culprit = exec_from(s, todo))) return (*culprit)->rc;
        bool answered = ack_early(s, batchp, gen);
        if (round + 1 >= s->rounds) break;
        /* Those just answered have their next write nearly ready: let them run. */
        if (answered) gather(s);
        todo = take_more(s, batchp);
    }
    /* Last, so that nothing this batch acknowledges after its commit went to a file
     * deleted or replaced meanwhile (storage/sqlite/guard.c). */
    int rc = sq_retention(s, *batchp, msg, size);
    if (rc == TASKER_OK) rc = sq_file_identity_check(s, msg, size);
    if (rc == TASKER_OK)
        rc = step_plain(s, W_COMMIT, "committing a write transaction", msg, size);
    if (rc != TASKER_OK) rollback(s);
    return rc;
}

/* Runs the batch until each request has its result. Requests answered early are taken
 * out of *batchp. */
static void run_batch(sq_store *s, sq_req **batchp, uint64_t gen)
{
    char msg[SQ_MSG_SIZE];
    for (;;) {
        sq_req *culprit = NULL;
        int rc = run_once(s, batchp, gen, &culprit, msg, sizeof msg);
        sq_req *batch = *batchp;
        if (rc == TASKER_OK) return;
        if (culprit) {
            culprit->final = true;
            continue;
        }
        /* Nothing was committed: every request that had not failed on its own fails. */
        for (sq_req *r = batch; r; r = r->next) {
            if (r->final || r->rc != TASKER_OK) continue;
            r->rc = rc;
            snprintf(r->msg, sizeof r->msg, "%s", msg);
        }
        return;
    }
}

/* Reports the asynchronous requests of a finished batch and frees them. */
static void report_async(sq_req *list)
{
    while (list) {
        sq_req *next = list->next;
        if (list->on_done) list->on_done(list->udata, list->rc, list->rc ? list->msg : NULL);
        if (list->kind == SQ_UPDATE_EXEC) {
            free(list->own.exec.exec_id);
            free(list->own.exec.result);
            free(list->own.exec.error);
        } else {
            free(list->own.event.exec_id);
            free(list->own.event.message);
        }
        free(list);
        list = next;
    }
}

/* Takes the whole queue and runs it; then answers each request. Called by the flusher
 * with queue_lock held; returns with it held. */
static void run_queue(sq_store *s)
{
    uint64_t gen = ++s->batch_gen;
    sq_req *batch = s->queue_head;
    s->queue_head = s->queue_tail = NULL;
    atomic_store_explicit(&s->queued, false, memory_order_relaxed);
    pthread_mutex_unlock(&s->queue_lock);

    run_batch(s, &batch, gen);

    pthread_mutex_lock(&s->queue_lock);
    atomic_store(&s->done_gen, gen);
    if (s->gen_waiters) pthread_cond_broadcast(&s->gen_cond);
    pthread_mutex_unlock(&s->queue_lock);
    sq_req *async = NULL, **async_tail = &async;
    for (sq_req *r = batch; r;) {
        sq_req *next = r->next; /* r may be gone once woken */
        if (r->async) {
            r->next = NULL;
            *async_tail = r;
            async_tail = &r->next;
        } else {
            wake(r);
        }
        r = next;
    }
    report_async(async);
    pthread_mutex_lock(&s->queue_lock);
}

/* Appends r to the queue and wakes the flusher if it sleeps; with inline, a caller that
 * finds the flusher asleep and nothing else queued runs the batch itself instead, which
 * saves two thread wake-ups on an idle store (the trigger-to-start latency). */
static void enqueue(sq_store *s, sq_req *r, bool inline_ok)
{
    r->rc = TASKER_OK;
    r->final = false;
    r->early_gen = 0;
    r->next = NULL;
    r->msg[0] = '\0';
    pthread_mutex_lock(&s->queue_lock);
    if (s->queue_tail) s->queue_tail->next = r;
    else s->queue_head = r;
    s->queue_tail = r;
    atomic_store_explicit(&s->queued, true, memory_order_relaxed);
    if (inline_ok && s->flusher_idle && !s->writing && s->queue_head == r) {
        s->writing = true;
        s->rounds = 1; /* what the caller writes next waits for it to return anyway */
        run_queue(s);
        s->writing = false;
    }
    bool wake_flusher = s->flusher_idle && s->queue_head;
    if (wake_flusher) s->flusher_idle = false;
    pthread_mutex_unlock(&s->queue_lock);
    if (wake_flusher) pthread_cond_signal(&s->flush_cond);
}

void sq_submit_async(sq_store *s, sq_req *r)
{
    enqueue(s, r, false);
}

static void *flusher_main(void *arg)
{
    sq_store *s = arg;
    pthread_setname_np(pthread_self(), "tasker-sqlite");
    pthread_mutex_lock(&s->queue_lock);
    for (;;) {
        if (s->queue_head && !s->writing) {
            s->writing = true;
            s->rounds = SQ_BATCH_ROUNDS;
            run_queue(s);
            s->writing = false;
            continue;
        }
        if (s->flusher_stopping && !s->writing && !s->queue_head) break;
        s->flusher_idle = true;
        while (s->flusher_idle && !s->flusher_stopping)
            pthread_cond_wait(&s->flush_cond, &s->queue_lock);
        s->flusher_idle = false;
    }
    pthread_mutex_unlock(&s->queue_lock);
    return NULL;
}

int sq_flusher_start(sq_store *s)
{
    if (pthread_create(&s->flusher, NULL, flusher_main, s) != 0)
        return tasker_set_error(TASKER_ESTORAGE, "sqlite: %s: cannot start a thread", s->path);
    s->flusher_started = true;
    return TASKER_OK;
}

void sq_flusher_stop(sq_store *s)
{
    if (!s->flusher_started) return;
    pthread_mutex_lock(&s->queue_lock);
    s->flusher_stopping = true;
    pthread_cond_signal(&s->flush_cond);
    pthread_mutex_unlock(&s->queue_lock);
    pthread_join(s->flusher, NULL);
    s->flusher_started = false;
}

/* This thread's early answers: for each store it wrote to, the batch of its last one.
 * A few slots suffice (a thread rarely writes to several stores); when a slot had to be
 * reused, reads of a forgotten store wait for that store's last early answer of any
 * thread instead. */
#define EARLY_SLOTS 4
static _Thread_local struct {
    uint64_t store_id, gen;
} early[EARLY_SLOTS];
static _Thread_local bool early_forgot;
static _Thread_local unsigned early_next;

static void remember_early(uint64_t store_id, uint64_t gen)
{
    for (int i = 0; i < EARLY_SLOTS; i++) {
        if (early[i].store_id == store_id || early[i].store_id == 0) {
            early[i].store_id = store_id;
            early[i].gen = gen;
            return;
        }
    }
    unsigned i = early_next++ % EARLY_SLOTS;
    early_forgot = true;
    early[i].store_id = store_id;
    early[i].gen = gen;
}

/* The thread's semaphore, which the flusher posts once per request of this thread. */
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

int sq_submit(sq_store *s, sq_req *r)
{
    if (!s->flusher_started)
        return tasker_set_error(TASKER_ESTATE, "sqlite: %s: the store is not open for writing",
                                s->path);
    r->sem = thread_sem();
    enqueue(s, r, true);
    while (sem_wait(r->sem) != 0) {
    }
    if (r->early_gen) remember_early(s->store_id, r->early_gen);
    if (r->rc != TASKER_OK) return tasker_set_error(r->rc, "%s", r->msg);
    return TASKER_OK;
}

void sq_read_barrier(sq_store *s)
{
    uint64_t target = early_forgot ? atomic_load(&s->early_gen) : 0;
    for (int i = 0; i < EARLY_SLOTS; i++)
        if (early[i].store_id == s->store_id) target = early[i].gen;
    if (atomic_load(&s->done_gen) >= target) return;
    pthread_mutex_lock(&s->queue_lock);
    s->gen_waiters++;
    while (atomic_load(&s->done_gen) < target) pthread_cond_wait(&s->gen_cond, &s->queue_lock);
    s->gen_waiters--;
    pthread_mutex_unlock(&s->queue_lock);
}
