/* The MySQL driver's group-commit queue: lanes, leaders, flusher threads, and the
 * lanes' connections. Running one batch is storage/mysql/batch.c's.
 *
 * A writer queues its write in its lane and waits on its own condition variable. The
 * lane's flusher, a thread of the store's, leads: it takes every write queued in the
 * lane (up to MY_BATCH_MAX), has it run as one transaction, and hands each writer its
 * own result; the writers that queued meanwhile form the next batch. One commit (one
 * redo-log flush) thus serves many writes. Asynchronous writes are queued the same way,
 * with nobody waiting: their done callback reports them after the COMMIT.
 *
 * Lanes (with one committer, the default): lane 0 takes the adds (triggers, fires) and
 * the single writes (tasks, schedules, fire times, interrupt_dead), answered after
 * their COMMIT, and applies retention; lane 1 takes the starts, events and outcomes,
 * also answered after their COMMIT (a claim round and the outcomes of runs that ended
 * meanwhile share one commit).
 * The two run at once, on two connections and two commit slots: a trigger waits for a
 * short batch of adds, not for a batch of starts and outcomes, and the server works on
 * both. They rarely meet on a row: a run is started (lane 1) only once its add (lane 0)
 * has committed, and retention (lane 0) deletes only finished runs, so at most it waits
 * for the COMMIT of a lane 1 batch that just finished one; should the two ever
 * deadlock (an outcome written twice, for a run being pruned), InnoDB rolls one back and
 * that batch is run again. One execution's writes after its add all go to lane 1, in
 * order.
 *
 * Each lane keeps its connection, with autocommit off, from batch to batch: a
 * transaction begins with its first statement, so no BEGIN round trip.
 *
 * A batch that did not commit leaves its slot owed (writes to replay, or a cut-off
 * COMMIT to resolve): the flusher runs the lane again by itself after a pause, growing
 * from MY_RETRY_MIN_MS to MY_RETRY_MAX_MS, so that a server away is not hammered.
 *
 * ?committers=N (N > 1) gives one lane with N commit slots: a caller leads a batch
 * while the flusher leads another (each on a pooled connection), and every batch
 * prunes its own tasks. Concurrent batches that add executions
 * to the same task can deadlock in retention; deadlocked batches are rolled back and
 * replayed. It pays only over a slow network. */
#include "core/error.h"
#include "storage/mysql/internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void my_commit_init(my_store *s)
{
    pthread_mutex_init(&s->commit_lock, NULL);
    for (int i = 0; i < MY_LANES; i++) {
        s->lane[i].s = s;
        pthread_cond_init(&s->lane[i].flush_cond, NULL);
    }
    /* Until the flushers start (my_flusher_start sets the lanes up): one lane. */
    s->nlanes = 1;
    s->lane[0].nslots = 1;
    s->lane[0].retains = true;
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
            work = my_slot_owed(s, k);
        pthread_mutex_unlock(&s->commit_lock);
        if (!work) continue;
        my_write w = {.fn = w_nothing};
        if (submit_to(l, &w) != TASKER_OK) tasker_clear_error();
    }
}

/* Takes up to `room` queued writes, appending them to *batch. Returns the first taken,
 * or NULL when none were queued. Called with commit_lock held. */
my_write *my_take_queued(my_lane *l, my_write **batch, size_t room)
{
    my_write *first = l->queue_head, *last = NULL;
    size_t n = 0;
    for (my_write *w = first; w && n < room; w = w->next, n++) {
        w->taken = true;
        last = w;
    }
    if (!last) return NULL;
    l->queue_head = last->next;
    if (!l->queue_head) l->queue_tail = NULL;
    last->next = NULL;
    my_write **link = batch;
    while (*link) link = &(*link)->next;
    *link = first;
    return first;
}

/* The lane's connection: kept from batch to batch with autocommit off, so that each
 * transaction begins with its first statement (no BEGIN round trip). A new one after
 * the server was lost. A lane of several slots takes one from the pool per batch. */
int my_lane_conn(my_lane *l, my_conn **out)
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
void my_lane_conn_done(my_lane *l, my_conn *c)
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
    my_write *batch = NULL;
    my_take_queued(l, &batch, MY_BATCH_MAX);
    pthread_mutex_unlock(&s->commit_lock);

    my_run_batch(l, &batch, slot);
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
    if (l->flusher_started && l->leaders == 0) pthread_cond_signal(&l->flush_cond);
}

static int submit_to(my_lane *l, my_write *w)
{
    my_store *s = l->s;
    w->rc = TASKER_OK;
    w->done = w->taken = w->owned = w->async = w->claimed = false;
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
    if (w->rc != TASKER_OK) return tasker_fail(w->rc, "%s", w->err);
    return TASKER_OK;
}

int my_write_submit(my_store *s, my_write *w)
{
    return submit_to(lane_of(s, w), w);
}

int my_write_submit_many(my_store *s, my_write *ws, size_t n)
{
    if (n == 0) return TASKER_OK;
    my_lane *l = lane_of(s, &ws[0]);
    for (size_t i = 0; i < n; i++) {
        my_write *w = &ws[i];
        w->rc = TASKER_OK;
        w->done = w->taken = w->owned = w->async = w->claimed = false;
        w->err[0] = '\0';
        w->next = NULL;
        pthread_cond_init(&w->cond, NULL);
    }
    pthread_mutex_lock(&s->commit_lock);
    for (size_t i = 0; i < n; i++) enqueue(l, &ws[i]); /* together: one round takes them */
    for (size_t i = 0; i < n; i++) {
        my_write *w = &ws[i];
        while (!w->done) {
            if (w->taken || !may_lead(l)) {
                pthread_cond_wait(&w->cond, &s->commit_lock);
                continue;
            }
            lead(l, w);
        }
    }
    pthread_mutex_unlock(&s->commit_lock);
    for (size_t i = 0; i < n; i++) pthread_cond_destroy(&ws[i].cond);
    return TASKER_OK;
}

void my_write_submit_async(my_store *s, my_write *w)
{
    w->rc = TASKER_OK;
    w->done = w->taken = false;
    w->owned = w->async = true;
    w->claimed = false;
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
 * is one lane, on that many slots. */
int my_flusher_start(my_store *s)
{
    pthread_mutex_lock(&s->commit_lock);
    int committers = s->url.committers > 0 ? s->url.committers : 1;
    s->nlanes = committers == 1 ? 2 : 1;
    s->lane[0].nslots = committers;
    s->lane[0].slot0 = 0;
    s->lane[0].retains = true;
    s->lane[1].slot0 = committers;
    s->lane[1].nslots = 1;
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
