/* The MySQL driver's group commit: the shared writer (storage/commit.h) bound to lanes,
 * each a commit slot with its own connection. Running one batch is
 * storage/mysql/batch.c's; queueing, leading, answering, retrying and draining are the
 * shared writer's.
 *
 * A writer queues its write and waits; a writer thread takes every write queued (up to
 * MY_BATCH_MAX), has it run as one transaction on its lane, and each caller gets its
 * own result after the COMMIT; the writes queued meanwhile form the next batch. One
 * commit (one redo-log flush) thus serves many writes. Asynchronous writes are queued
 * the same way, with nobody waiting: their done callback reports them after the COMMIT
 * (batch.c and copies.c, which own them).
 *
 * Lanes (with one committer, the default): two writers of one lane each. Lane 0 takes
 * the adds (triggers, fires) and the single writes (tasks, schedules, fire times,
 * interrupt_dead), answered after their COMMIT, and applies retention; lane 1 takes the
 * starts, events and outcomes, also answered after their COMMIT (a claim round and the
 * outcomes of runs that ended meanwhile share one commit).
 * The two run at once, on two connections and two commit slots: a trigger waits for a
 * short batch of adds, not for a batch of starts and outcomes, and the server works on
 * both. They rarely meet on a row: a run is started (lane 1) only once its add (lane 0)
 * has committed, and retention (lane 0) deletes only finished runs, so at most it waits
 * for the COMMIT of a lane 1 batch that just finished one; should the two ever
 * deadlock (an outcome written twice, for a run being pruned), InnoDB rolls one back and
 * that batch is run again. One execution's writes after its add all go to lane 1, in
 * order.
 *
 * ?committers=N (N > 1): one writer of N lanes, N threads over one queue, each lane with
 * its own connection, so N batches run at once; every batch prunes its own tasks.
 * Concurrent batches that add executions to the same task can deadlock in retention;
 * deadlocked batches are rolled back and replayed. It pays only over a slow network.
 *
 * Each lane keeps its connection, with autocommit off, from batch to batch: a
 * transaction begins with its first statement, so no BEGIN round trip.
 *
 * A batch that did not commit leaves its slot owed (writes to replay, or a cut-off
 * COMMIT to resolve): the run hook says so, and the shared writer runs the lane again
 * by itself after a pause, growing from MY_RETRY_MIN_MS to MY_RETRY_MAX_MS, so that a
 * server away is not hammered (or at once, with the next writes queued). */
#include "core/error.h"
#include "storage/mysql/group.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static my_write *write_of(tasker_commit_job *j)
{
    return (my_write *)(void *)((char *)j - offsetof(my_write, job));
}

/* The shared writer's run hook: the batch on the lane of the seat (ctx is the writer's
 * first lane). */
static int lane_run(tasker_commit_batch *b)
{
    my_lane *l = (my_lane *)b->ctx + b->seat;
    my_write *batch = NULL, **link = &batch;
    for (tasker_commit_job *j = b->jobs; j; j = j->next) {
        *link = write_of(j);
        link = &(*link)->next;
    }
    *link = NULL;
    my_run_batch(l, &batch, l->slot);
    /* What is left is the callers' writes (batch.c keeps or reports its own copies). */
    tasker_commit_job **jlink = &b->jobs;
    for (my_write *w = batch; w; w = w->next) {
        *jlink = &w->job;
        jlink = &w->job.next;
    }
    *jlink = NULL;
    return my_slot_owed(l->s, l->slot) ? TASKER_COMMIT_OWED : TASKER_COMMIT_DONE;
}

static int w_nothing(my_store *s, my_conn *c, my_write *w)
{
    (void)s, (void)c, (void)w;
    return TASKER_OK;
}

/* Gives the lane's connection back to the pool, autocommit on again (or closes it). */
static void lane_release(my_lane *l)
{
    my_conn *c = l->conn;
    if (!c) return;
    l->conn = NULL;
    if (!c->broken && mysql_autocommit(c->db, 1) != 0) c->broken = true;
    c->held = false;
    my_conn_put(l->s, c);
}

/* The shared writer's finish hook, at close once the queue drained: one last batch for
 * what the lane still owes (deferred retention, writes to replay, claims to put back).
 * Best effort, and only on a connection at hand: closing must not wait on a server
 * that is away; but asynchronous writes were accepted, so they get one more try. A
 * mark left behind is dropped by a later open after a week. */
static void lane_finish(void *ctx, int seat)
{
    my_lane *l = (my_lane *)ctx + seat;
    my_store *s = l->s;
    pthread_mutex_lock(&s->commit_lock);
    size_t async_owed = s->async_owed;
    pthread_mutex_unlock(&s->commit_lock);
    bool work = (l->retains && s->retain_n > 0) || my_slot_owed(s, l->slot);
    if (work && (async_owed || my_conn_at_hand(s))) {
        s->closing = true; /* one attempt, no reconnecting */
        my_write w = {.fn = w_nothing};
        my_write *batch = &w;
        my_run_batch(l, &batch, l->slot);
        tasker_clear_error();
    }
    lane_release(l);
}

static const tasker_commit_driver my_commit_driver = {
    .version = TASKER_COMMIT_VERSION,
    .thread_name = "tasker-mysql",
    .batch_max = MY_BATCH_MAX,
    .retry_min_ms = MY_RETRY_MIN_MS,
    .retry_max_ms = MY_RETRY_MAX_MS,
    .run = lane_run,
    .finish = lane_finish,
};

void my_commit_init(my_store *s)
{
    pthread_mutex_init(&s->commit_lock, NULL);
    for (int i = 0; i <= MY_COMMITTERS_MAX; i++) {
        s->lane[i].s = s;
        s->lane[i].slot = i;
    }
}

void my_commit_free(my_store *s)
{
    for (int i = 0; i < s->nwriters; i++) tasker_commit_free(s->writer[i]);
    s->nwriters = 0;
    for (int i = 0; i <= MY_COMMITTERS_MAX; i++) my_unresolved_free(s, &s->unresolved[i]);
    my_retain_forget(s);
}

/* The writer of a write: see my_lane. */
static tasker_commit *writer_of(my_store *s, const my_write *w)
{
    bool run_write = w->kind == MW_START || w->kind == MW_EVENT || w->kind == MW_UPDATE;
    return s->writer[s->nwriters > 1 && run_write ? 1 : 0];
}

static void reset(my_write *w)
{
    w->rc = TASKER_OK;
    w->owned = w->async = w->claimed = false;
    w->err[0] = '\0';
    w->next = NULL;
}

static int not_open(my_store *s)
{
    return tasker_fail(TASKER_ESTATE, "mysql: %s: the store is not open for writing", s->where);
}

int my_write_submit(my_store *s, my_write *w)
{
    reset(w);
    if (!s->nwriters || tasker_commit_submit(writer_of(s, w), &w->job) != TASKER_OK)
        return not_open(s);
    if (w->rc != TASKER_OK) return tasker_fail(w->rc, "%s", w->err);
    return TASKER_OK;
}

int my_write_submit_many(my_store *s, my_write *ws, size_t n)
{
    if (n == 0) return TASKER_OK;
    for (size_t i = 0; i < n; i++) {
        reset(&ws[i]);
        ws[i].job.next = i + 1 < n ? &ws[i + 1].job : NULL; /* together: one batch */
    }
    if (!s->nwriters || tasker_commit_submit_many(writer_of(s, &ws[0]), &ws[0].job, n) != TASKER_OK) {
        int rc = not_open(s);
        for (size_t i = 0; i < n; i++) {
            ws[i].rc = rc;
            snprintf(ws[i].err, sizeof ws[i].err, "%s", tasker_last_error());
        }
        return rc;
    }
    return TASKER_OK;
}

void my_write_submit_async(my_store *s, my_write *w)
{
    w->rc = TASKER_OK;
    w->owned = w->async = true;
    w->claimed = false;
    w->failing_since_us = 0;
    w->err[0] = '\0';
    w->next = NULL;
    pthread_mutex_lock(&s->commit_lock);
    s->async_owed++;
    pthread_mutex_unlock(&s->commit_lock);
    /* No report hook: batch.c takes its copies out of the batch and reports them. */
    if (!s->nwriters || tasker_commit_submit_async(writer_of(s, w), &w->job, NULL) != TASKER_OK) {
        w->next = NULL;
        my_owned_release(s, w, not_open(s), tasker_last_error());
    }
}

/* Sets the lanes up (see my_lane) and starts their writers. */
int my_writer_start(my_store *s)
{
    int committers = s->url.committers > 0 ? s->url.committers : 1;
    int nwriters = committers == 1 ? 2 : 1;
    for (int i = 0; i < nwriters; i++) {
        my_lane *first = &s->lane[i];
        int seats = committers == 1 ? 1 : committers;
        for (int k = 0; k < seats; k++) first[k].retains = i == 0;
        if (tasker_commit_new(&my_commit_driver, first, seats, &s->writer[i]) != TASKER_OK)
            return TASKER_ESTORAGE;
        s->nwriters = i + 1;
        if (tasker_commit_start(s->writer[i]) != TASKER_OK)
            return tasker_fail(TASKER_ESTORAGE, "mysql: %s: cannot start a thread", s->where);
    }
    return TASKER_OK;
}

void my_writer_stop(my_store *s)
{
    /* Lane 0 first, as the lanes' last batches always ran: retention, then the run
     * writes. */
    for (int i = 0; i < s->nwriters; i++) tasker_commit_stop(s->writer[i]);
    for (int i = 0; i <= MY_COMMITTERS_MAX; i++) lane_release(&s->lane[i]);
}
