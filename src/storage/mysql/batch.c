/* The MySQL driver's group commit: running one batch, that is, many callers' writes in
 * one transaction, and retrying it. The queues and writer threads that form the batches
 * are the shared writer's (storage/commit.c), bound to lanes in storage/mysql/lanes.c.
 *
 * A batch runs its single writes in order, then its starts as one claim round (one
 * compare-and-set statement, storage/mysql/bulk.c), then its adds, events and outcomes,
 * one bulk statement per kind, then COMMIT. Every caller is answered after the COMMIT,
 * starts included: a worker runs a handler only once the commit that moved its run from
 * pending to running succeeded, so no run is started by two nodes.
 *
 * A write that fails on its own (a duplicate id, a missing task, a run taken by another
 * node) is undone alone, by InnoDB's statement rollback, and the batch goes on. A
 * failure of the transaction runs the batch again, up to BATCH_ATTEMPTS times with a
 * short growing pause: a deadlock or a Galera certification failure (1213, also at
 * COMMIT), a lock wait timeout (1205), a Galera member not ready (1047), or the
 * connection lost before COMMIT was sent (the server rolls such a transaction back).
 * Past the attempts every caller is answered TASKER_ESTORAGE: for a start, not started.
 *
 * A COMMIT cut off (sent, no answer) leaves the batch's outcome unknown. Its starts are
 * resolved before they are answered (storage/mysql/resolve.c): each claimed row is read
 * on a new connection; running with this claim means the COMMIT landed (TASKER_OK),
 * anything else that it did not (not started). The driver's copies of asynchronous
 * writes are resolved by the batch's mark row (commit_marks, written by batches that
 * hold asynchronous events) before the slot commits again, and replayed if the batch
 * did not commit (or wrote no mark: outcomes only, which a replay cannot harm). */
#include "core/error.h"
#include "storage/mysql/group.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH_ATTEMPTS 5

/* Fails the callers' writes. The driver's copies keep their statements' results: they
 * are replayed (and then run again) unless their batch turns out to have committed. */
static void fail_all(my_write *batch, int rc, const char *why)
{
    for (my_write *w = batch; w; w = w->next) {
        if (w->owned) continue;
        w->rc = rc;
        snprintf(w->err, sizeof w->err, "%s", why);
    }
}

static int by_exec_id(const void *a, const void *b)
{
    const my_start_arg *x = (*(my_write *const *)a)->arg, *y = (*(my_write *const *)b)->arg;
    return strcmp(x->exec_id, y->exec_id);
}

/* The claim round: the batch's starts in exec id order (two nodes' rounds lock rows in
 * the same order), one per run: a second start of a run in the batch is ESTATE. */
static int run_starts(my_store *s, my_conn *c, my_write *batch, bool careful)
{
    size_t n = 0, k = 0;
    for (my_write *w = batch; w; w = w->next)
        n += w->kind == MW_START;
    if (!n) return TASKER_OK;
    my_write **group = malloc(n * sizeof *group);
    if (!group) return tasker_fail(TASKER_ENOMEM, "mysql: out of memory for a batch");
    for (my_write *w = batch; w; w = w->next)
        if (w->kind == MW_START) group[k++] = w;
    qsort(group, n, sizeof *group, by_exec_id);
    k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k && by_exec_id(&group[k - 1], &group[i]) == 0) {
            group[i]->claimed = false;
            group[i]->rc = TASKER_ESTATE;
            snprintf(group[i]->err, sizeof group[i]->err,
                     "mysql: execution '%s' is being "
                     "started by another caller",
                     ((const my_start_arg *)group[i]->arg)->exec_id);
            continue;
        }
        group[k++] = group[i];
    }
    int rc = my_bulk_starts(s, c, group, k, careful);
    free(group);
    return rc;
}

/* Runs the batch's writes: the single ones in order, the claim round, then the adds,
 * events and outcomes, each kind as one bulk statement, in that order (an event or
 * outcome of an execution added in the same batch then finds it). TASKER_OK unless
 * the transaction failed; each write has its own result. */
static int run_writes(my_store *s, my_conn *c, my_write *batch, bool careful)
{
    static const my_write_kind kinds[] = {MW_ADD, MW_EVENT, MW_UPDATE};
    size_t n = 0, k_n[3] = {0};
    int rc = TASKER_OK;
    for (my_write *w = batch; w && rc == TASKER_OK; w = w->next) {
        n++;
        w->rc = TASKER_OK; /* from an earlier attempt */
        w->task_id_for_retention = NULL;
        if (w->kind != MW_SINGLE) continue;
        w->rc = w->fn(s, c, w);
        if (w->rc != TASKER_OK) {
            snprintf(w->err, sizeof w->err, "%s", tasker_last_error());
            if (my_trx_lost(c)) rc = w->rc;
        }
        c->last_errno = 0;
    }
    if (rc == TASKER_OK) rc = run_starts(s, c, batch, careful);
    if (rc != TASKER_OK) return rc;
    my_write **all = malloc((n ? n : 1) * sizeof *all), **group[3];
    if (!all) return tasker_fail(TASKER_ENOMEM, "mysql: out of memory for a batch");
    size_t at = 0;
    for (int k = 0; k < 3; k++) {
        group[k] = all + at;
        for (my_write *w = batch; w; w = w->next)
            if (w->kind == kinds[k]) group[k][k_n[k]++] = w;
        at += k_n[k];
    }
    rc = my_bulk_groups(s, c, kinds, group, k_n, 3);
    free(all);
    return rc;
}

/* Whether a cut-off COMMIT of the batch needs its mark to be resolved: it holds
 * asynchronous events (an outcome replayed after it had landed is recognised as such,
 * storage/mysql/exec.c; an event would be stored twice). */
static bool needs_mark(const my_write *batch)
{
    for (const my_write *w = batch; w; w = w->next)
        if (w->owned && w->kind == MW_EVENT) return true;
    return false;
}

typedef enum {
    BATCH_COMMITTED,
    BATCH_FAILED,
    BATCH_RETRY,
    BATCH_CAREFUL, /* run it again with the careful claim round (bulk.c) */
    BATCH_UNKNOWN
} batch_outcome;

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
    tasker_fail(TASKER_ESTORAGE, "mysql: committing: injected fault %d", fault);
    fail_all(batch, TASKER_ESTORAGE, tasker_last_error());
    if (fault == MY_FAULT_UNKNOWN || fault == MY_FAULT_UNKNOWN_COMMITTED) return BATCH_UNKNOWN;
    return BATCH_RETRY; /* lost before COMMIT, or a deadlock: rolled back for sure */
}

/* Runs the batch's writes in one transaction on c; then retention (lane 0), the commit
 * mark (when it holds copies of asynchronous writes), COMMIT. */
static batch_outcome run_on(my_lane *l, my_conn *c, my_write *batch, int slot, int64_t token,
                            bool careful)
{
    my_store *s = l->s;
    int64_t run_start_us = s->trace ? my_mono_us() : 0;
    c->last_errno = 0;
    int rc = c->held ? TASKER_OK : my_run(s, c, MS_BEGIN, NULL, NULL);
    if (rc == TASKER_OK) rc = run_writes(s, c, batch, careful);
    if (rc == MY_CLAIM_AGAIN) {
        if (mysql_rollback(c->db) != 0) my_fail_conn(s, c, "rolling back a claim round");
        return c->broken ? BATCH_RETRY : BATCH_CAREFUL;
    }
    bool pruned = false;
    if (rc == TASKER_OK && l->retains) rc = my_retain_batch(s, c, batch, &pruned);
    if (rc == TASKER_OK && needs_mark(batch)) rc = my_mark_batch(s, c, slot, token);
    int fault = rc == TASKER_OK && my_test_before_commit ? my_test_before_commit(batch) : 0;
    if (fault) return injected(s, c, batch, fault);
    if (rc == TASKER_OK) {
        int64_t commit_us = s->trace ? my_mono_us() : 0;
        if (mysql_commit(c->db) == 0) {
            if (pruned) my_retain_forget(s);
            if (s->trace) {
                size_t n = 0;
                for (my_write *w = batch; w; w = w->next) n++;
                my_trace(s, "batch slot=%d writes=%zu run_us=%lld commit_us=%lld", slot, n,
                         (long long)(commit_us - run_start_us),
                         (long long)(my_mono_us() - commit_us));
            }
            return BATCH_COMMITTED;
        }
        my_fail_conn(s, c, "committing");
        my_trace(s, "batch-commit-failed %s", tasker_last_error());
        /* On a Galera member only a certification failure (1213) is known to have rolled
         * back; another error at COMMIT may come with the writeset committed. */
        if (c->broken || (c->wsrep == 1 && c->last_errno != ER_LOCK_DEADLOCK)) {
            if (!c->broken) mysql_rollback(c->db);
            fail_all(batch, TASKER_ESTORAGE, tasker_last_error());
            return BATCH_UNKNOWN; /* COMMIT went out; did it land? */
        }
    }
    char why[512];
    snprintf(why, sizeof why, "%s", tasker_last_error());
    unsigned err = c->last_errno;
    if (!c->broken) mysql_rollback(c->db);
    fail_all(batch, TASKER_ESTORAGE, why);
    return c->broken || my_errno_retries(err) || my_trx_lost(c) ? BATCH_RETRY : BATCH_FAILED;
}

static void say_unknown(my_write *batch)
{
    char why[400];
    snprintf(why, sizeof why, "%s", tasker_last_error());
    for (my_write *w = batch; w; w = w->next)
        if (!w->owned && w->kind != MW_START)
            snprintf(w->err, sizeof w->err,
                     "%s; whether it committed is unknown until the server answers again", why);
}

/* Before running a batch again: a pause growing with the attempt, so that two nodes'
 * batches that deadlocked do not meet again at once. */
static void retry_pause(int attempt)
{
    struct timespec ts = {0, (long)attempt * 2000000L + (long)(my_mono_us() % 1000) * 1000L};
    nanosleep(&ts, NULL);
}

void my_run_batch(my_lane *l, my_write **batch, int slot)
{
    my_store *s = l->s;
    int attempts = s->closing ? 1 : BATCH_ATTEMPTS; /* closing must not wait to reconnect */
    bool careful = false;
    for (int attempt = 1; attempt <= attempts; attempt++) {
        my_conn *c = NULL;
        int64_t token = __atomic_add_fetch(&s->batch_seq, 1, __ATOMIC_RELAXED);
        if (attempt > 1 && !careful) retry_pause(attempt - 1);
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
        batch_outcome out = run_on(l, c, *batch, slot, token, careful);
        my_lane_conn_done(l, c);
        if (out == BATCH_CAREFUL && !careful) {
            careful = true;
            attempt--; /* not a failure: the same batch, now claimed row by row */
            continue;
        }
        if (out == BATCH_COMMITTED) {
            my_verify_starts(l, *batch, slot); /* Galera: COMMIT's success is read back */
            my_batch_committed(s, batch);
            return;
        }
        if (out == BATCH_UNKNOWN) {
            say_unknown(*batch);
            my_resolve_claims(l, *batch, slot);
            my_batch_unknown(s, batch, slot, token);
            return;
        }
        if (out == BATCH_FAILED) break;
    }
    my_log_failure(s, "mysql: %s: a batch of writes failed: %s", s->where, tasker_last_error());
    if (!s->closing) my_answer_failed_starts(l, *batch); /* runs others took: ESTATE */
    my_batch_lost(s, batch, slot);
    my_give_up_stale(s, slot);
}
