/* The MySQL driver's group commit: concurrent writes share one transaction.
 *
 * A writer queues its write in its lane and waits on its own condition variable. The
 * lane's flusher, a thread of the store's, leads: it takes every write queued in the
 * lane (up to MY_BATCH_MAX), runs them in one transaction on one connection, commits,
 * and hands each writer its own result; the writers that queued meanwhile form the next
 * batch. One commit (one redo-log flush) thus serves many writes.
 *
 * Lanes (with one committer, the default): lane 0 takes the adds (triggers, fires) and
 * the single writes (tasks, schedules, fire times, interrupt_dead), answered after
 * their COMMIT, and applies retention; lane 1 takes the starts, events and outcomes.
 * The two run at once, on two connections and two commit slots: a trigger waits for a
 * short batch of adds, not for a batch of rounds of starts, and the server works on
 * both. They rarely meet on a row: a run is started (lane 1) only once its add (lane 0)
 * has committed, and retention (lane 0) deletes only finished runs, so at most it waits
 * for the COMMIT of a lane 1 batch that just finished one; should the two ever
 * deadlock (an outcome written twice, for a run being pruned), InnoDB rolls one back and
 * that batch is run again. One execution's writes after its add all go to lane 1, in
 * order.
 *
 * Rounds (lane 1): a batch runs the starts of what it took as one statement, answers
 * them early (before the COMMIT: the worker runs its handler while the batch goes on),
 * gives the workers just answered a moment to queue their next start, and takes in what
 * was queued meanwhile, for up to MY_EARLY_ROUNDS rounds or MY_BATCH_US. The events and
 * outcomes of the whole batch then run once, as one bulk statement per kind
 * (run_deferred): nobody is answered for them before the COMMIT, and each run's start,
 * answered in a round, precedes them. A round costs one round trip; a batch a fixed
 * number more.
 *
 * Asynchronous writes (events and outcomes the core does not wait for) are the driver's
 * own copies, queued like any write and reported through their done callback after the
 * COMMIT, outside commit_lock. The leader's copies of early answers and the asynchronous
 * writes of a transaction that did not commit are replayed at the head of the lane's
 * next batch (mysql_resolve.c), before the outcome that follows them; the flusher
 * retries such a batch by itself, with a growing pause.
 *
 * ?committers=N (N > 1) gives one lane with N commit slots: a caller leads a batch
 * while the flusher leads another, nothing is answered early, and every batch prunes
 * its own tasks. Concurrent batches that add executions to the same task can deadlock
 * in retention; deadlocked batches are rolled back and replayed (up to BATCH_ATTEMPTS
 * times). It pays only over a slow network.
 *
 * A write that fails on its own (a duplicate id, a missing task) is undone alone, by
 * InnoDB's statement rollback, and the batch goes on. A failure of the transaction
 * (the server gone, a deadlock with another process) fails or retries the batch as a
 * whole: a batch whose connection was lost before COMMIT was sent is rolled back by
 * the server, so it is retried on a new connection. If COMMIT itself was cut off, its
 * writers fail at once with TASKER_ESTORAGE, and the batch's mark row (commit_marks)
 * tells later whether it committed (mysql_resolve.c). */
#include "core/error.h"
#include "storage/mysql_internal.h"

#include <mysqld_error.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH_ATTEMPTS 5

void my_commit_init(my_store *s)
{
    pthread_mutex_init(&s->commit_lock, NULL);
    pthread_cond_init(&s->commit_cond, NULL);
    for (int i = 0; i < MY_LANES; i++) {
        s->lane[i].s = s;
        pthread_cond_init(&s->lane[i].flush_cond, NULL);
    }
    /* Until the flushers start (my_flusher_start sets the lanes up): one lane. */
    s->nlanes = 1;
    s->lane[0] = (my_lane){.s = s, .flush_cond = s->lane[0].flush_cond, .nslots = 1,
                           .retains = true};
}

my_lane *my_early_lane(my_store *s)
{
    return &s->lane[s->nlanes - 1];
}

/* The lane a write goes to: see my_lane. */
static my_lane *lane_of(my_store *s, const my_write *w)
{
    bool run_write = w->kind == MW_START || w->kind == MW_EVENT || w->kind == MW_UPDATE;
    return &s->lane[s->nlanes > 1 && run_write ? 1 : 0];
}

void my_commit_free(my_store *s)
{
    for (int i = 0; i <= MY_COMMITTERS_MAX; i++) my_unresolved_free(s, &s->unresolved[i]);
    my_retain_forget(s);
    for (int i = 0; i < MY_LANES; i++) pthread_cond_destroy(&s->lane[i].flush_cond);
}

static int w_nothing(my_store *s, my_conn *c, my_write *w)
{
    (void)s, (void)c, (void)w;
    return TASKER_OK;
}

static int submit_to(my_lane *l, my_write *w);

void my_commit_flush(my_store *s)
{
    s->closing = true;
    for (int i = 0; i < s->nlanes; i++) {
        my_lane *l = &s->lane[i];
        pthread_mutex_lock(&s->commit_lock);
        bool work = l->retains && s->retain_n > 0;
        for (int k = l->slot0; k < l->slot0 + l->nslots && !work; k++)
            work = s->unresolved[k].pending || s->unresolved[k].replay;
        pthread_mutex_unlock(&s->commit_lock);
        if (!work) continue;
        my_write w = {.fn = w_nothing};
        if (submit_to(l, &w) != TASKER_OK) tasker_clear_error();
    }
}

/* Fails the callers' writes. The driver's copies keep their statements' results: they
 * are replayed (and then run again) unless their batch turns out to have committed,
 * when an asynchronous one reports its own. */
static void fail_all(my_write *batch, int rc, const char *why)
{
    for (my_write *w = batch; w; w = w->next) {
        if (w->owned) continue;
        w->rc = rc;
        snprintf(w->err, sizeof w->err, "%s", why);
    }
}

/* Runs a round's writes from todo on: the single ones in order, then the starts (as
 * one bulk statement under a savepoint when several). Adds, events and outcomes wait for the end of the
 * batch (run_deferred): nobody is answered for them before the COMMIT, so a round costs
 * one or two round trips whatever else is queued. TASKER_OK unless the transaction
 * failed (the connection lost, a deadlock); each write has its own result. */
static int run_round(my_store *s, my_conn *c, my_write *todo)
{
    size_t n = 0;
    int rc = TASKER_OK;
    for (my_write *w = todo; w; w = w->next) n += w->kind == MW_START;
    my_write **group = n ? malloc(n * sizeof *group) : NULL;
    if (n && !group) return tasker_fail(TASKER_ENOMEM, "mysql: out of memory for a batch");
    n = 0;
    for (my_write *w = todo; w && rc == TASKER_OK; w = w->next) {
        if (w->kind == MW_START) {
            w->claim_exec_id = NULL; /* from an earlier attempt */
            w->claim_token[0] = '\0';
            group[n++] = w;
        }
        if (w->kind != MW_SINGLE) continue;
        w->rc = w->fn(s, c, w);
        if (w->rc != TASKER_OK) {
            snprintf(w->err, sizeof w->err, "%s", tasker_last_error());
            /* A lost connection or a deadlock ends the transaction, not just the write. */
            if (c->broken || c->last_errno == ER_LOCK_DEADLOCK) rc = w->rc;
        }
        c->last_errno = 0;
    }
    if (rc == TASKER_OK && n) rc = my_bulk_starts(s, c, group, n);
    free(group);
    return rc;
}

/* Runs the batch's adds, events and outcomes, each kind as one bulk statement, in that
 * order (an event or outcome of an execution added in the same batch then finds it),
 * after every start: a run's start, answered early, always precedes its outcome. */
static int run_deferred(my_store *s, my_conn *c, my_write *batch)
{
    static const my_write_kind kinds[] = {MW_ADD, MW_EVENT, MW_UPDATE};
    size_t n = 0, k_n[3] = {0};
    for (my_write *w = batch; w; w = w->next) n++;
    my_write **all = malloc((n ? n : 1) * sizeof *all), **group[3];
    if (!all) return tasker_fail(TASKER_ENOMEM, "mysql: out of memory for a batch");
    size_t at = 0;
    for (int k = 0; k < 3; k++) {
        group[k] = all + at;
        for (my_write *w = batch; w; w = w->next) {
            if (w->kind != kinds[k]) continue;
            w->task_id_for_retention = NULL; /* from an earlier attempt */
            group[k][k_n[k]++] = w;
        }
        at += k_n[k];
    }
    int rc = my_bulk_fix_claims(s, c, batch);
    if (rc == TASKER_OK) rc = my_bulk_groups(s, c, kinds, group, k_n, 3);
    free(all);
    return rc;
}

/* Answers the batch's starts and events now, but self's (its leader is busy), and
 * puts the leader's copy in the batch in each one's place: once answered, a write's
 * memory belongs to its caller again. A write that failed on its own needs no copy.
 * Returns how many were answered. */
static int answer_early(my_store *s, my_write **batch, my_write *self, uint64_t gen)
{
    int answered = 0;
    pthread_mutex_lock(&s->commit_lock);
    for (my_write **link = batch; *link;) {
        my_write *w = *link;
        if (w->owned || w == self || !my_acks_early(w)) {
            link = &w->next;
            continue;
        }
        my_write *copy = NULL;
        if (w->rc == TASKER_OK && !(copy = my_early_copy(w))) { /* answered after all */
            link = &w->next;
            continue;
        }
        if (copy) {
            copy->next = w->next;
            *link = copy;
            link = &copy->next;
            w->early_gen = gen;
        } else {
            *link = w->next;
        }
        w->done = true;
        pthread_cond_signal(&w->cond);
        answered++;
    }
    pthread_mutex_unlock(&s->commit_lock);
    return answered;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Yields the CPU until `want` starts are queued or MY_GATHER_US have passed: workers
 * answered early come back with their next start (their events and outcome queue
 * first, for the end of the batch). */
static void gather(my_lane *l, size_t want)
{
    int64_t until_us = mono_us() + MY_GATHER_US;
    do {
        sched_yield();
        if (__atomic_load_n(&l->queued_starts, __ATOMIC_RELAXED) >= want) return;
    } while (mono_us() < until_us);
}

/* Takes up to `room` queued writes, appending them to *batch. Returns the first taken,
 * or NULL when none were queued. Called with commit_lock held. */
static my_write *take_queued(my_lane *l, my_write **batch, size_t room)
{
    my_write *first = l->queue_head, *last = NULL;
    size_t n = 0, starts = 0;
    for (my_write *w = first; w && n < room; w = w->next, n++) {
        w->taken = true;
        starts += w->kind == MW_START;
        last = w;
    }
    if (!last) return NULL;
    l->queue_head = last->next;
    if (!l->queue_head) l->queue_tail = NULL;
    last->next = NULL;
    __atomic_store_n(&l->queued, l->queued - n, __ATOMIC_RELAXED);
    __atomic_store_n(&l->queued_starts, l->queued_starts - starts, __ATOMIC_RELAXED);
    my_write **link = batch;
    while (*link) link = &(*link)->next;
    *link = first;
    return first;
}

static my_write *take_more(my_lane *l, my_write **batch)
{
    size_t n = 0;
    for (my_write *w = *batch; w; w = w->next) n++;
    if (n >= MY_BATCH_MAX) return NULL;
    pthread_mutex_lock(&l->s->commit_lock);
    my_write *more = take_queued(l, batch, MY_BATCH_MAX - n);
    pthread_mutex_unlock(&l->s->commit_lock);
    return more;
}

/* Whether a cut-off COMMIT of the batch would need repair: it holds starts answered
 * after their commit, or writes answered early. */
static bool needs_mark(const my_write *batch)
{
    for (const my_write *w = batch; w; w = w->next)
        if (w->owned || w->claim_exec_id) return true;
    return false;
}

typedef enum { BATCH_COMMITTED, BATCH_FAILED, BATCH_RETRY, BATCH_UNKNOWN } batch_outcome;

int (*my_test_before_commit)(const my_write *batch);

/* A fault injected by a test in place of the COMMIT (see mysql_internal.h). */
static batch_outcome injected(my_store *s, my_conn *c, my_write *batch, int fault)
{
    int failed = fault == MY_FAULT_UNKNOWN_COMMITTED ? mysql_commit(c->db) : mysql_rollback(c->db);
    if (failed) {
        my_fail_conn(s, c, "injecting a fault");
        fail_all(batch, TASKER_ESTORAGE, tasker_last_error());
        return BATCH_FAILED;
    }
    tasker_fail(TASKER_ESTORAGE, "mysql: committing: injected fault");
    fail_all(batch, TASKER_ESTORAGE, tasker_last_error());
    return fault == MY_FAULT_LOST ? BATCH_FAILED : BATCH_UNKNOWN;
}

/* Runs the batch's writes in one transaction on c, answering starts and events early
 * when `early`, and taking in writes queued meanwhile. Sets each write's result. */
static batch_outcome run_on(my_lane *l, my_conn *c, my_write **batchp, int slot,
                            int64_t token, my_write *self, uint64_t gen)
{
    my_store *s = l->s;
    bool early = l->early;
    int64_t begun_us = mono_us();
    int rc = c->held ? TASKER_OK : my_run(s, c, MS_BEGIN, NULL, NULL);
    my_write *todo = *batchp;
    for (int round = 0; rc == TASKER_OK && todo; round++) {
        rc = run_round(s, c, todo);
        if (rc != TASKER_OK || !early) break;
        int answered = answer_early(s, batchp, self, gen);
        /* Rounds go on while starts come, up to MY_BATCH_US: the callers of adds (and
         * of outcomes) wait for the COMMIT. */
        if (round + 1 >= MY_EARLY_ROUNDS || mono_us() - begun_us >= MY_BATCH_US) break;
        /* Those just answered have their next start nearly ready: let them queue it. */
        if (answered) gather(l, (size_t)answered);
        todo = take_more(l, batchp);
    }
    if (rc == TASKER_OK) rc = run_deferred(s, c, *batchp);
    bool pruned = false;
    if (rc == TASKER_OK && l->retains) rc = my_retain_batch(s, c, *batchp, &pruned);
    if (rc == TASKER_OK && needs_mark(*batchp)) rc = my_mark_batch(s, c, slot, token);
    int fault = rc == TASKER_OK && my_test_before_commit ? my_test_before_commit(*batchp) : 0;
    if (fault) return injected(s, c, *batchp, fault);
    if (rc == TASKER_OK) {
        if (mysql_commit(c->db) == 0) {
            if (pruned) my_retain_forget(s);
            return BATCH_COMMITTED;
        }
        my_fail_conn(s, c, "committing");
        if (c->broken) {
            fail_all(*batchp, TASKER_ESTORAGE, tasker_last_error());
            return BATCH_UNKNOWN; /* COMMIT went out; did it land? */
        }
    }
    char why[512];
    snprintf(why, sizeof why, "%s", tasker_last_error());
    if (!c->broken) mysql_rollback(c->db);
    fail_all(*batchp, TASKER_ESTORAGE, why);
    return c->broken || c->last_errno == ER_LOCK_DEADLOCK ? BATCH_RETRY : BATCH_FAILED;
}

static void say_unknown(my_write *batch)
{
    char why[400];
    snprintf(why, sizeof why, "%s", tasker_last_error());
    for (my_write *w = batch; w; w = w->next)
        if (!w->owned)
            snprintf(w->err, sizeof w->err,
                     "%s; whether it committed is unknown until the server answers again", why);
}

/* Runs the batch until it committed or failed for good; on return *batch holds only
 * the callers' writes, each with its result. */
/* The lane's connection: kept from batch to batch with autocommit off, so that each
 * transaction begins with its first statement (no BEGIN round trip). A new one after
 * the server was lost. A lane of several slots takes one from the pool per batch. */
static int lane_conn(my_lane *l, my_conn **out)
{
    my_store *s = l->s;
    if (l->nslots > 1) return my_conn_get(s, out); /* batches at once: one each, pooled */
    my_conn *c = l->conn;
    if (c) {
        pthread_mutex_lock(&s->pool_lock);
        bool stale = c->generation != s->generation;
        pthread_mutex_unlock(&s->pool_lock);
        if (!stale && !c->broken) {
            *out = c;
            return TASKER_OK;
        }
        l->conn = NULL;
        c->broken = true;
        my_conn_put(s, c); /* closes it */
    }
    int rc = my_conn_get(s, &c);
    if (rc != TASKER_OK) return rc;
    if (mysql_autocommit(c->db, 0) != 0) {
        rc = my_fail_conn(s, c, "turning autocommit off");
        c->broken = true;
        my_conn_put(s, c);
        return rc;
    }
    c->held = true;
    l->conn = c;
    *out = c;
    return TASKER_OK;
}

/* After a batch: a connection found lost is closed. */
static void lane_conn_done(my_lane *l, my_conn *c)
{
    if (!c->held) {
        my_conn_put(l->s, c);
        return;
    }
    if (!c->broken) return;
    l->conn = NULL;
    my_conn_put(l->s, c);
}

void my_lanes_release(my_store *s)
{
    for (int i = 0; i < MY_LANES; i++) {
        my_conn *c = s->lane[i].conn;
        if (!c) continue;
        s->lane[i].conn = NULL;
        if (!c->broken && mysql_autocommit(c->db, 1) != 0) c->broken = true;
        c->held = false;
        my_conn_put(s, c);
    }
}

bool my_conn_at_hand(my_store *s)
{
    bool at_hand = false;
    pthread_mutex_lock(&s->pool_lock);
    if (s->free_list && s->free_list->generation == s->generation) at_hand = true;
    for (int i = 0; i < MY_LANES && !at_hand; i++) {
        my_conn *c = s->lane[i].conn;
        at_hand = c && !c->broken && c->generation == s->generation;
    }
    pthread_mutex_unlock(&s->pool_lock);
    return at_hand;
}

static void run_batch(my_lane *l, my_write **batch, int slot, my_write *self, uint64_t gen)
{
    my_store *s = l->s;
    int attempts = s->closing ? 1 : BATCH_ATTEMPTS; /* closing must not wait to reconnect */
    for (int attempt = 1; attempt <= attempts; attempt++) {
        my_conn *c = NULL;
        int64_t token = __atomic_add_fetch(&s->batch_seq, 1, __ATOMIC_RELAXED);
        if (lane_conn(l, &c) != TASKER_OK) {
            fail_all(*batch, TASKER_ESTORAGE, tasker_last_error());
            break;
        }
        if (my_resolve_slot(s, c, slot, batch) != TASKER_OK) {
            bool lost = c->broken;
            fail_all(*batch, TASKER_ESTORAGE, tasker_last_error());
            if (!lost) mysql_rollback(c->db);
            lane_conn_done(l, c);
            if (lost) continue;
            break;
        }
        batch_outcome out = run_on(l, c, batch, slot, token, self, gen);
        lane_conn_done(l, c);
        if (out == BATCH_COMMITTED) {
            my_batch_committed(s, batch);
            return;
        }
        if (out == BATCH_UNKNOWN) {
            say_unknown(*batch);
            my_batch_unknown(s, batch, slot, token);
            return;
        }
        if (out == BATCH_FAILED) break;
    }
    my_batch_lost(s, batch, slot);
    my_give_up_stale(s, slot);
}

static unsigned slot_mask(const my_lane *l)
{
    return (unsigned)(((UINT64_C(1) << l->nslots) - 1) << l->slot0);
}

/* The lane's slot for a new batch: a free one with writes owed (to replay or resolve)
 * first. */
static int pick_slot(const my_lane *l)
{
    const my_store *s = l->s;
    unsigned free_owed = s->slots_owed & ~s->slots_busy & slot_mask(l);
    int slot = l->slot0;
    if (free_owed) return __builtin_ctz(free_owed);
    while (s->slots_busy & (1u << slot)) slot++;
    return slot;
}

/* Whether a caller may lead now: the flusher leads; a caller leads only when a second
 * commit slot of the lane is free while the flusher is busy (committers > 1), or when
 * there is no flusher (at close). Called with commit_lock held. */
static bool may_lead(const my_lane *l)
{
    if (l->leaders >= l->nslots) return false;
    return !l->flusher_started || l->leaders > 0;
}

/* Takes the lane's queue and runs it as one batch; then hands each caller its result
 * and wakes the next leader. self is the leader's own write, or NULL when the flusher
 * leads. Called with commit_lock held; returns with it held. */
static void lead(my_lane *l, my_write *self)
{
    my_store *s = l->s;
    l->leaders++;
    int slot = pick_slot(l);
    s->slots_busy |= 1u << slot;
    uint64_t gen = ++l->batch_gen;
    my_write *batch = NULL;
    take_queued(l, &batch, MY_BATCH_MAX);
    pthread_mutex_unlock(&s->commit_lock);

    run_batch(l, &batch, slot, self, gen);
    bool owed = my_slot_owed(s, slot);

    pthread_mutex_lock(&s->commit_lock);
    for (my_write *b = batch, *next; b; b = next) {
        next = b->next; /* b may be gone once done is seen (we hold the lock till then) */
        b->done = true;
        if (b != self) pthread_cond_signal(&b->cond);
    }
    l->leaders--;
    s->slots_busy &= ~(1u << slot);
    if (owed) s->slots_owed |= 1u << slot;
    else s->slots_owed &= ~(1u << slot);
    if (gen > l->done_gen) __atomic_store_n(&l->done_gen, gen, __ATOMIC_RELEASE);
    if (s->barrier_waiters) pthread_cond_broadcast(&s->commit_cond);
    if (l->flusher_started && (l->queue_head || owed)) pthread_cond_signal(&l->flush_cond);
    /* A slot is free: the first caller waiting in the queue may lead (see may_lead). */
    if (may_lead(l)) {
        for (my_write *q = l->queue_head; q; q = q->next) {
            if (q->owned) continue;
            pthread_cond_signal(&q->cond);
            break;
        }
    }
}

static void enqueue(my_lane *l, my_write *w)
{
    if (l->queue_tail) l->queue_tail->next = w;
    else l->queue_head = w;
    l->queue_tail = w;
    __atomic_store_n(&l->queued, l->queued + 1, __ATOMIC_RELAXED);
    if (w->kind == MW_START)
        __atomic_store_n(&l->queued_starts, l->queued_starts + 1, __ATOMIC_RELAXED);
    if (l->flusher_started && l->leaders == 0) pthread_cond_signal(&l->flush_cond);
}

static int submit_to(my_lane *l, my_write *w)
{
    my_store *s = l->s;
    w->rc = TASKER_OK;
    w->done = w->taken = w->owned = w->async = false;
    w->early_gen = 0;
    w->err[0] = '\0';
    w->next = NULL;
    pthread_cond_init(&w->cond, NULL); /* signalled when done, or when it may lead */
    pthread_mutex_lock(&s->commit_lock);
    enqueue(l, w);
    while (!w->done) {
        /* Otherwise it waits for the leader that holds its write, or for a slot. */
        if (w->taken || !may_lead(l)) {
            pthread_cond_wait(&w->cond, &s->commit_lock);
            continue;
        }
        lead(l, w);
    }
    pthread_mutex_unlock(&s->commit_lock);
    pthread_cond_destroy(&w->cond);
    if (w->early_gen) my_early_note(s, w->early_gen);
    if (w->rc != TASKER_OK) return tasker_fail(w->rc, "%s", w->err);
    return TASKER_OK;
}

int my_write_submit(my_store *s, my_write *w)
{
    return submit_to(lane_of(s, w), w);
}

void my_write_submit_async(my_store *s, my_write *w)
{
    w->rc = TASKER_OK;
    w->done = w->taken = false;
    w->owned = w->async = true;
    w->early_gen = 0;
    w->failing_since_us = 0;
    w->err[0] = '\0';
    w->next = NULL;
    pthread_mutex_lock(&s->commit_lock);
    s->async_owed++;
    enqueue(lane_of(s, w), w);
    pthread_mutex_unlock(&s->commit_lock);
}

/* Waits up to ms on the lane's flush_cond (or until signalled). */
static void flusher_nap(my_lane *l, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&l->flush_cond, &l->s->commit_lock, &ts);
}

/* Leads a batch of its lane whenever writes are queued and a slot is free; replays the
 * writes of a batch that did not commit after a pause (MY_RETRY_MIN_MS doubling to
 * MY_RETRY_MAX_MS, so that a server away is not hammered). At stop it returns once the
 * queue is empty; what is still owed then is close's (my_commit_flush). */
static void *flusher_main(void *arg)
{
    my_lane *l = arg;
    my_store *s = l->s;
    int retry_ms = MY_RETRY_MIN_MS;
    pthread_setname_np(pthread_self(), "tasker-mysql");
    pthread_mutex_lock(&s->commit_lock);
    for (;;) {
        if (l->queue_head && l->leaders < l->nslots) {
            lead(l, NULL);
            continue;
        }
        bool owed = s->slots_owed & slot_mask(l);
        if (owed && l->leaders == 0 && !s->flusher_stopping) {
            /* A batch failed: wait a little, unless writes come to carry the replay. */
            flusher_nap(l, retry_ms);
            if ((s->slots_owed & slot_mask(l)) && l->leaders == 0 && !l->queue_head &&
                !s->flusher_stopping) {
                lead(l, NULL);
                retry_ms = s->slots_owed & slot_mask(l)
                               ? (retry_ms * 2 > MY_RETRY_MAX_MS ? MY_RETRY_MAX_MS : retry_ms * 2)
                               : MY_RETRY_MIN_MS;
            }
            continue;
        }
        if (!owed) retry_ms = MY_RETRY_MIN_MS;
        if (s->flusher_stopping && !l->queue_head && l->leaders == 0) break;
        pthread_cond_wait(&l->flush_cond, &s->commit_lock);
    }
    pthread_mutex_unlock(&s->commit_lock);
    return NULL;
}

/* Sets the lanes up (see my_lane) and starts their flushers. With committers > 1 there
 * is one lane, on that many slots, answering nothing early. */
int my_flusher_start(my_store *s)
{
    pthread_mutex_lock(&s->commit_lock);
    int committers = s->url.committers > 0 ? s->url.committers : 1;
    s->nlanes = committers == 1 ? 2 : 1;
    s->lane[0].nslots = committers;
    s->lane[0].slot0 = 0;
    s->lane[0].early = false;
    s->lane[0].retains = true;
    s->lane[1].slot0 = committers;
    s->lane[1].nslots = 1;
    s->lane[1].early = true;
    s->lane[1].retains = false;
    pthread_mutex_unlock(&s->commit_lock);
    for (int i = 0; i < s->nlanes; i++) {
        my_lane *l = &s->lane[i];
        if (pthread_create(&l->flusher, NULL, flusher_main, l) != 0)
            return tasker_fail(TASKER_ESTORAGE, "mysql: %s: cannot start a thread", s->where);
        pthread_mutex_lock(&s->commit_lock);
        l->flusher_started = true;
        pthread_mutex_unlock(&s->commit_lock);
    }
    return TASKER_OK;
}

void my_flusher_stop(my_store *s)
{
    pthread_mutex_lock(&s->commit_lock);
    s->flusher_stopping = true;
    for (int i = 0; i < s->nlanes; i++) pthread_cond_signal(&s->lane[i].flush_cond);
    pthread_mutex_unlock(&s->commit_lock);
    for (int i = 0; i < s->nlanes; i++) {
        my_lane *l = &s->lane[i];
        if (!l->flusher_started) continue;
        pthread_join(l->flusher, NULL);
        pthread_mutex_lock(&s->commit_lock);
        l->flusher_started = false;
        pthread_mutex_unlock(&s->commit_lock);
    }
}
