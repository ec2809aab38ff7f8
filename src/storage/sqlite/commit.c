/* The SQLite driver's group commit: many threads write at once, one transaction holds
 * them all. This file is the SQLite side of the shared writer (storage/commit.h): its
 * run hook, and the driver's submit and read barrier.
 *
 * The shared writer has one seat and one thread here (the writer connection), and lets
 * a caller that finds it asleep with nothing queued run its own batch. A thread that
 * writes queues its request and waits; the batch's leader runs every queued request in
 * one BEGIN IMMEDIATE .. COMMIT, and each caller is answered with its own result. Before
 * committing it takes in, for a few rounds, what was queued meanwhile (run_once). So a
 * sync (synchronous=FULL) or a WAL append (NORMAL) is paid once per batch, not once
 * per row, and a caller still returns only after its own write is committed.
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
 * Holding: a herd's fires are stored batch after batch (add_started_execs), and the runs
 * one batch started finish while the next is written. Their outcomes and events
 * (asynchronous) would share the one writer with the fires, and every later run of the
 * herd would start that much later. So from a fire on, asynchronous requests are held
 * back, in order, and written once the pass ends (its fires recorded), once
 * SQ_HOLD_MAX_US have passed since the hold began, or once SQ_HOLD_MAX are held. A
 * thread's writes stay in the order it made them: when it submits another synchronous
 * request meanwhile (a worker's claim), its held ones go first, in the same
 * transaction. A held write is not durable yet and not reported: its run still counts
 * as running, and close writes what is held (sq_finish). At most SQ_HOLD_MAX requests
 * (about 700 bytes each) wait.
 *
 * The same hold keeps an asynchronous request whose transaction failed as a whole (not
 * on its own): it is tried again with the next writes, SQ_ASYNC_TRIES transactions in
 * all, before its failure is reported (hold_lost).
 *
 * Every request is one statement (interrupt_dead, the one exception, wraps itself in a
 * savepoint), and SQLite undoes a failed statement on its own, so a request that fails
 * (a duplicate id, a missing task) leaves the others' writes in the transaction. An
 * error that makes SQLite roll back the whole transaction (disk full, I/O error) fails
 * that request, and the rest are run again in a new transaction.
 */
#include "storage/sqlite/internal.h"

#include <sched.h>
#include <stddef.h>
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

static sq_req *req_of(tasker_commit_job *j)
{
    return (sq_req *)(void *)((char *)j - offsetof(sq_req, job));
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
        tasker_commit_answer(&r->job); /* r may be gone on return */
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
        if (tasker_commit_queued(s->writer)) return;
    } while (mono_us() < until_us);
}

/* The requests of a list of jobs, linked by their own next (what write.c and
 * retention.c walk). */
static sq_req *reqs_of(tasker_commit_job *j)
{
    sq_req *first = NULL, **link = &first;
    for (; j; j = j->next) {
        *link = req_of(j);
        link = &(*link)->next;
    }
    *link = NULL;
    return first;
}

/* Takes the requests queued since the batch began, appending them to *batchp. Returns
 * the first taken, or NULL when none were queued. */
static sq_req *take_more(tasker_commit_batch *b, sq_req **batchp)
{
    sq_req *more = reqs_of(tasker_commit_take(b, 0));
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
static int run_once(sq_store *s, tasker_commit_batch *b, int rounds, sq_req **batchp,
                    uint64_t gen, sq_req **culprit, char *msg, size_t size)
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
        if (round + 1 >= rounds) break;
        /* Those just answered have their next write nearly ready: let them run. */
        if (answered) gather(s);
        todo = take_more(b, batchp);
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
static void run_batch(sq_store *s, tasker_commit_batch *b, int rounds, sq_req **batchp,
                      uint64_t gen)
{
    char msg[SQ_MSG_SIZE];
    for (;;) {
        sq_req *culprit = NULL;
        int rc = run_once(s, b, rounds, batchp, gen, &culprit, msg, sizeof msg);
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
            r->lost_commit = true;
            snprintf(r->msg, sizeof r->msg, "%s", msg);
        }
        return;
    }
}

/* Reports an asynchronous request once its batch is over, and frees it. */
static void report_async(tasker_commit_job *j)
{
    sq_req *r = req_of(j);
    if (r->on_done) r->on_done(r->udata, r->rc, r->rc ? r->msg : NULL);
    if (r->kind == SQ_UPDATE_EXEC) {
        free(r->own.exec.exec_id);
        free(r->own.exec.result);
        free(r->own.exec.error);
    } else {
        free(r->own.event.exec_id);
        free(r->own.event.message);
    }
    free(r);
}

/* Moves the held requests that keep() wants, in their order, to the front of *batchp. */
static void release(sq_store *s, sq_req **batchp, const void *const *threads, size_t nt)
{
    sq_req *out = NULL, **out_tail = &out;
    s->held_tail = NULL;
    for (sq_req **link = &s->held_head; *link;) {
        sq_req *r = *link;
        bool go = nt == 0;
        for (size_t i = 0; !go && i < nt; i++) go = r->thread == threads[i];
        if (!go) {
            s->held_tail = r;
            link = &r->next;
            continue;
        }
        *link = r->next;
        r->next = NULL;
        *out_tail = r;
        out_tail = &r->next;
        s->n_held--;
    }
    if (!out) return;
    *out_tail = *batchp;
    *batchp = out;
}

#define HOLD_THREADS 8 /* threads looked at in one batch; more release everything */

/* Holding (see the top of the file): decides for the batch *batchp which held requests
 * go now (ahead of it), and holds the batch's asynchronous ones when a hold is on. */
static void hold_or_release(sq_store *s, sq_req **batchp)
{
    const void *threads[HOLD_THREADS];
    size_t nt = 0;
    bool fire = false, end = false, all = false;
    for (sq_req *r = *batchp; r; r = r->next) {
        if (r->async) continue;
        if (r->kind == SQ_ADD_STARTED) {
            fire = true;
        } else if (r->kind == SQ_SET_FIRES || r->kind == SQ_SET_FIRE) {
            end = true; /* the pass recorded its fires: it is over */
        } else {
            size_t i = 0;
            while (i < nt && threads[i] != r->thread) i++;
            if (i == nt && nt < HOLD_THREADS) threads[nt++] = r->thread;
            else if (i == nt) all = true;
        }
    }
    int64_t now_us = mono_us();
    if (s->hold_since_us && (end || all || s->n_held >= SQ_HOLD_MAX ||
                             now_us - s->hold_since_us >= SQ_HOLD_MAX_US)) {
        release(s, batchp, NULL, 0);
        s->hold_since_us = 0;
    } else if (s->held_head && nt) {
        release(s, batchp, threads, nt);
    }
    if (fire && !s->hold_since_us) s->hold_since_us = now_us;
    if (!s->hold_since_us) return;
    for (sq_req **link = batchp; *link;) {
        sq_req *r = *link;
        bool theirs = false; /* a thread with a synchronous write here keeps its order */
        for (size_t i = 0; r->async && i < nt; i++) theirs = r->thread == threads[i];
        if (!r->async || theirs) {
            link = &r->next;
            continue;
        }
        *link = r->next;
        r->next = NULL;
        if (s->held_tail) s->held_tail->next = r;
        else s->held_head = r;
        s->held_tail = r;
        s->n_held++;
    }
}

/* Asynchronous requests whose transaction failed as a whole (not on their own) are
 * held, in their order, to be tried again once the hold ends (SQ_HOLD_MAX_US), up to
 * SQ_ASYNC_TRIES transactions; nobody waits for them, and an event has nobody to retry
 * it, so reporting the failure lost it. Their threads' later asynchronous writes are
 * held behind them (the hold is on), so each thread's order stays. */
static void hold_lost(sq_store *s, sq_req **batchp)
{
    for (sq_req **link = batchp; *link;) {
        sq_req *r = *link;
        bool again = r->async && r->lost_commit && ++r->commit_tries < SQ_ASYNC_TRIES;
        r->lost_commit = false;
        if (!again) {
            link = &r->next;
            continue;
        }
        *link = r->next;
        r->next = NULL;
        r->rc = TASKER_OK;
        r->final = false;
        if (s->held_tail) s->held_tail->next = r;
        else s->held_head = r;
        s->held_tail = r;
        s->n_held++;
        if (!s->hold_since_us) s->hold_since_us = mono_us();
    }
}

/* The shared writer's run hook: runs the batch, then hands back the requests to
 * answer (those answered early are gone from it, and those held back are the
 * driver's: it is owed, and runs again soon). A caller that leads on an idle store
 * takes in nothing more: what it writes next waits for it to return anyway; nor does a
 * batch while writes are held (it would take in asynchronous ones past those held). */
static int sq_run(tasker_commit_batch *b)
{
    sq_store *s = b->ctx;
    uint64_t gen = ++s->batch_gen; /* one seat: one batch at a time */
    sq_req *batch = reqs_of(b->jobs);
    hold_or_release(s, &batch);
    if (batch)
        run_batch(s, b, b->by_caller || s->hold_since_us ? 1 : SQ_BATCH_ROUNDS, &batch, gen);

    pthread_mutex_lock(&s->gen_lock);
    atomic_store(&s->done_gen, gen);
    if (s->gen_waiters) pthread_cond_broadcast(&s->gen_cond);
    pthread_mutex_unlock(&s->gen_lock);
    hold_lost(s, &batch);
    tasker_commit_job *first = NULL, **link = &first;
    for (sq_req *r = batch; r; r = r->next) {
        *link = &r->job;
        link = &r->job.next;
    }
    *link = NULL;
    b->jobs = first;
    return s->held_head ? TASKER_COMMIT_OWED : TASKER_COMMIT_DONE;
}

/* At close, after the last batch: writes what is still held, and reports it. */
static void sq_finish(void *ctx, int seat)
{
    (void)seat;
    sq_store *s = ctx;
    sq_req *batch = s->held_head;
    s->held_head = s->held_tail = NULL;
    s->n_held = 0;
    s->hold_since_us = 0;
    if (!batch) return;
    tasker_commit_batch b = {.writer = s->writer, .ctx = s};
    run_batch(s, &b, 1, &batch, ++s->batch_gen);
    for (sq_req *r = batch, *next; r; r = next) {
        next = r->next;
        report_async(&r->job);
    }
}

/* An owed seat (writes held) runs again after retry_min_ms, at once when a request
 * comes: often enough to end a hold about on time. */
static const tasker_commit_driver sq_commit_driver = {
    .version = TASKER_COMMIT_VERSION,
    .thread_name = "tasker-sqlite",
    .flags = TASKER_COMMIT_CALLER_LEADS,
    .retry_min_ms = SQ_HOLD_CHECK_MS,
    .retry_max_ms = SQ_HOLD_CHECK_MS,
    .run = sq_run,
    .finish = sq_finish,
};

static _Thread_local char thread_tag; /* its address tells threads apart */

static void reset(sq_req *r)
{
    r->thread = &thread_tag;
    r->rc = TASKER_OK;
    r->final = false;
    r->early_gen = 0;
    r->next = NULL;
    r->msg[0] = '\0';
}

void sq_submit_async(sq_store *s, sq_req *r)
{
    reset(r);
    if (tasker_commit_submit_async(s->writer, &r->job, report_async) != TASKER_OK) {
        r->rc = TASKER_ESTATE;
        snprintf(r->msg, sizeof r->msg, "sqlite: %s: the store is not open for writing",
                 s->path);
        report_async(&r->job);
    }
}

int sq_writer_start(sq_store *s)
{
    if (tasker_commit_new(&sq_commit_driver, s, 1, &s->writer) != TASKER_OK) return TASKER_ESTORAGE;
    if (tasker_commit_start(s->writer) != TASKER_OK)
        return tasker_set_error(TASKER_ESTORAGE, "sqlite: %s: cannot start a thread", s->path);
    return TASKER_OK;
}

void sq_writer_stop(sq_store *s)
{
    tasker_commit_free(s->writer); /* answers what is queued first */
    s->writer = NULL;
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

int sq_submit(sq_store *s, sq_req *r)
{
    reset(r);
    if (!s->writer || tasker_commit_submit(s->writer, &r->job) != TASKER_OK)
        return tasker_set_error(TASKER_ESTATE, "sqlite: %s: the store is not open for writing",
                                s->path);
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
    pthread_mutex_lock(&s->gen_lock);
    s->gen_waiters++;
    while (atomic_load(&s->done_gen) < target) pthread_cond_wait(&s->gen_cond, &s->gen_lock);
    s->gen_waiters--;
    pthread_mutex_unlock(&s->gen_lock);
}
