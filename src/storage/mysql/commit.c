/* The MySQL driver's group commit: running one batch, that is, many callers' writes in
 * one transaction. The queues, lanes and flusher threads that form the batches are in
 * storage/mysql/lanes.c.
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
 * The driver's copies (of starts answered early, and the asynchronous writes) of a
 * transaction that did not commit are replayed at the head of the lane's next batch
 * (storage/mysql/resolve.c), before the outcome that follows them.
 *
 * A write that fails on its own (a duplicate id, a missing task) is undone alone, by
 * InnoDB's statement rollback, and the batch goes on. A failure of the transaction
 * (the server gone, a deadlock with another process) fails or retries the batch as a
 * whole: a batch whose connection was lost before COMMIT was sent is rolled back by
 * the server, so it is retried on a new connection. If COMMIT itself was cut off, its
 * writers fail at once with TASKER_ESTORAGE, and the batch's mark row (commit_marks)
 * tells later whether it committed (storage/mysql/resolve.c). */
#include "core/error.h"
#include "storage/mysql/internal.h"

#include <mysqld_error.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH_ATTEMPTS 5

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
 * one bulk statement when several, storage/mysql/bulk.c). Adds, events and outcomes wait for
 * the end of the batch (run_deferred): nobody is answered for them before the COMMIT,
 * so a round of starts costs one round trip whatever else is queued. TASKER_OK unless
 * the transaction failed (the connection lost, a deadlock); each write has its own
 * result. */
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

/* Answers the batch's starts now, but self's (its leader is busy), and puts the
 * leader's copy in the batch in each one's place: once answered, a write's memory
 * belongs to its caller again. A write that failed on its own needs no copy. Returns
 * how many were answered. */
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

static my_write *take_more(my_lane *l, my_write **batch)
{
    size_t n = 0;
    for (my_write *w = *batch; w; w = w->next) n++;
    if (n >= MY_BATCH_MAX) return NULL;
    pthread_mutex_lock(&l->s->commit_lock);
    my_write *more = my_take_queued(l, batch, MY_BATCH_MAX - n);
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

/* A fault injected by a test in place of the COMMIT (see storage/mysql/internal.h). */
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

/* Runs the batch's writes in one transaction on c, in rounds answering starts early
 * (lane 1) and taking in writes queued meanwhile; then the rest, retention (lane 0),
 * the commit mark, COMMIT. Sets each write's result. */
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
void my_run_batch(my_lane *l, my_write **batch, int slot, my_write *self, uint64_t gen)
{
    my_store *s = l->s;
    int attempts = s->closing ? 1 : BATCH_ATTEMPTS; /* closing must not wait to reconnect */
    for (int attempt = 1; attempt <= attempts; attempt++) {
        my_conn *c = NULL;
        int64_t token = __atomic_add_fetch(&s->batch_seq, 1, __ATOMIC_RELAXED);
        if (my_lane_conn(l, &c) != TASKER_OK) {
            fail_all(*batch, TASKER_ESTORAGE, tasker_last_error());
            break;
        }
        if (my_resolve_slot(s, c, slot, batch) != TASKER_OK) {
            bool lost = c->broken;
            fail_all(*batch, TASKER_ESTORAGE, tasker_last_error());
            if (!lost) mysql_rollback(c->db);
            my_lane_conn_done(l, c);
            if (lost) continue;
            break;
        }
        batch_outcome out = run_on(l, c, batch, slot, token, self, gen);
        my_lane_conn_done(l, c);
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
