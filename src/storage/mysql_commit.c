/* The MySQL driver's group commit: concurrent writes share one transaction.
 *
 * A writer queues its write and waits. A writer that finds a commit slot free (at
 * most `committers` transactions run at once: 1 by default) becomes a leader: it takes
 * every queued write (up to MY_BATCH_MAX), runs them in one transaction on one
 * connection, applies retention once per task touched, commits, and hands each writer
 * its own result; the writers that queued meanwhile form the next batch.
 *
 * Why one committer by default: concurrent batches that add executions to the same
 * task deadlock in retention (each one's delete range holds the rows the other just
 * inserted), and on a local server a second committer gains nothing measurable. Over
 * a slow network, where round trips dominate, ?committers=N overlaps them; deadlocked
 * batches are then rolled back and replayed (up to BATCH_ATTEMPTS times). One commit (one redo-log flush) thus serves many writes, and
 * every caller still returns only after its write is durable.
 *
 * A write that fails on its own (a duplicate id, a missing task) is undone alone, by
 * InnoDB's statement rollback, and the batch goes on. A failure of the transaction
 * (the server gone, a deadlock with another process) fails or retries the batch as a
 * whole: a batch whose connection was lost before COMMIT was sent is rolled back by
 * the server, so it is retried on a new connection. If COMMIT itself was cut off, its
 * writers fail at once with TASKER_ESTORAGE, and the batch's mark row (commit_marks)
 * tells later whether it committed: see resolve_slot(). */
#include "core/error.h"
#include "storage/mysql_internal.h"

#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH_ATTEMPTS 5

void my_commit_init(my_store *s)
{
    pthread_mutex_init(&s->commit_lock, NULL);
    pthread_cond_init(&s->commit_cond, NULL);
}

static void fail_all(my_write *batch, int rc, const char *why)
{
    for (my_write *w = batch; w; w = w->next) {
        w->rc = rc;
        snprintf(w->err, sizeof w->err, "%s", why);
    }
}

/* Retention once per task that got a new execution in this batch. */
static int retain_batch(my_store *s, my_conn *c, my_write *batch)
{
    for (my_write *w = batch; w; w = w->next) {
        if (w->rc != TASKER_OK || !w->task_id_for_retention) continue;
        bool seen = false;
        for (my_write *v = batch; v != w && !seen; v = v->next)
            seen = v->rc == TASKER_OK && v->task_id_for_retention &&
                   strcmp(v->task_id_for_retention, w->task_id_for_retention) == 0;
        if (seen) continue;
        int rc = my_retain_task(s, c, w->task_id_for_retention);
        if (rc != TASKER_OK) return rc;
    }
    return TASKER_OK;
}

typedef enum { BATCH_DONE, BATCH_RETRY, BATCH_UNKNOWN } batch_outcome;

/* Records the batch's token in this store's commit_marks row, inside the transaction:
 * the row then says whether the transaction committed. */
static int mark_batch(my_store *s, my_conn *c, int slot, int64_t token)
{
    MYSQL_BIND p[4];
    int64_t now_us = my_real_now_us();
    my_bind_i64(&p[0], &s->store_id);
    my_bind_int(&p[1], &slot);
    my_bind_i64(&p[2], &token);
    my_bind_i64(&p[3], &now_us);
    return my_run(s, c, MS_MARK_SET, p, NULL);
}

int my_marks_drop(my_store *s, my_conn *c, int64_t cutoff_us)
{
    MYSQL_BIND p[2];
    my_bind_i64(&p[0], &s->store_id);
    my_bind_i64(&p[1], &cutoff_us);
    return my_run(s, c, MS_MARK_DROP, p, NULL);
}

/* Runs the batch's writes in one transaction on c. Sets each write's result. */
static batch_outcome run_on(my_store *s, my_conn *c, my_write *batch, int slot,
                            int64_t token)
{
    my_write *group[MW_UPDATE + 1][MY_BATCH_MAX];
    size_t grouped[MW_UPDATE + 1] = {0};
    bool starts = false;
    int rc = my_run(s, c, MS_BEGIN, NULL, NULL);
    for (my_write *w = batch; w && rc == TASKER_OK; w = w->next) {
        w->claim_exec_id = NULL; /* from an earlier attempt */
        w->task_id_for_retention = NULL;
        if (w->kind != MW_SINGLE) { /* sent together below */
            group[w->kind][grouped[w->kind]++] = w;
            continue;
        }
        w->rc = w->fn(s, c, w);
        if (w->rc != TASKER_OK) {
            snprintf(w->err, sizeof w->err, "%s", tasker_last_error());
            /* A lost connection or a deadlock ends the transaction, not just the write. */
            if (c->broken || c->last_errno == ER_LOCK_DEADLOCK) rc = w->rc;
        }
        starts |= w->claim_exec_id != NULL;
        c->last_errno = 0;
    }
    /* Adds before starts and events: a start or event for an execution added in the
     * same batch (by another thread's earlier call) then finds it. */
    for (int k = MW_ADD; k <= MW_UPDATE && rc == TASKER_OK; k++)
        if (grouped[k]) rc = my_bulk_group(s, c, (my_write_kind)k, group[k], grouped[k]);
    for (int k = MW_START; k <= MW_START; k++)
        for (size_t i = 0; i < grouped[k]; i++) starts |= group[k][i]->claim_exec_id != NULL;
    if (rc == TASKER_OK) rc = retain_batch(s, c, batch);
    /* Only a batch with starts has anything to repair after a cut-off COMMIT. */
    if (rc == TASKER_OK && starts) rc = mark_batch(s, c, slot, token);
    if (rc == TASKER_OK) {
        if (mysql_commit(c->db) == 0) return BATCH_DONE;
        my_fail_conn(s, c, "committing");
        if (c->broken) return BATCH_UNKNOWN; /* COMMIT went out; did it land? */
    }
    char why[512];
    snprintf(why, sizeof why, "%s", tasker_last_error());
    if (!c->broken) mysql_rollback(c->db);
    fail_all(batch, TASKER_ESTORAGE, why);
    return c->broken || c->last_errno == ER_LOCK_DEADLOCK ? BATCH_RETRY : BATCH_DONE;
}

typedef struct {
    int slot;
    int64_t token;
} mark_read;

static int read_mark(my_store *s, my_conn *c, void *ctx)
{
    static const my_col cols[] = {{MC_I64, 0}};
    MYSQL_BIND p[2];
    int64_t *rows = NULL;
    mark_read *m = ctx;
    size_t n = 0;
    my_bind_i64(&p[0], &s->store_id);
    my_bind_int(&p[1], &m->slot);
    int rc = my_query(s, c, MS_MARK_GET, p, cols, 1, sizeof(int64_t), (void **)&rows, &n);
    m->token = rc == TASKER_OK && n == 1 ? rows[0] : -1;
    free(rows);
    return rc;
}

static void forget_unresolved(my_unresolved *u)
{
    for (size_t i = 0; i < u->n; i++) {
        free(u->starts[i].exec_id);
        free(u->starts[i].node_id);
    }
    free(u->starts);
    memset(u, 0, sizeof *u);
}

/* Keeps what is needed to repair the batch later: its token and its starts. */
static void remember_unresolved(my_store *s, my_write *batch, int slot, int64_t token)
{
    my_unresolved *u = &s->unresolved[slot];
    forget_unresolved(u);
    u->pending = true;
    u->token = token;
    for (my_write *w = batch; w; w = w->next) {
        if (!w->claim_exec_id) continue;
        my_claim *grown = realloc(u->starts, (u->n + 1) * sizeof *grown);
        if (!grown) break; /* the run stays running until interrupt_dead: no worse */
        u->starts = grown;
        my_claim *cl = &u->starts[u->n++];
        cl->exec_id = strdup(w->claim_exec_id);
        cl->node_id = w->claim_node_id ? strdup(w->claim_node_id) : NULL;
        cl->start_us = w->claim_start_us;
    }
    char why[400];
    snprintf(why, sizeof why, "%s", tasker_last_error());
    for (my_write *w = batch; w; w = w->next) {
        w->rc = TASKER_ESTORAGE;
        snprintf(w->err, sizeof w->err,
                 "%s; whether it committed is unknown until the server answers again", why);
    }
}

/* A batch whose COMMIT was cut off: its mark says whether it committed. If it did, its
 * starts were acknowledged to nobody (the callers got TASKER_ESTORAGE), so those
 * executions would stay `running` with no worker: they are put back to pending, for
 * the next pickup. If it did not, there is nothing to repair. Runs before the slot
 * commits again, since the next commit overwrites the mark. */
static int resolve_slot(my_store *s, my_conn *c, int slot)
{
    my_unresolved *u = &s->unresolved[slot];
    if (!u->pending) return TASKER_OK;
    mark_read m = {slot, -1};
    int rc = read_mark(s, c, &m);
    for (size_t i = 0; rc == TASKER_OK && m.token == u->token && i < u->n; i++) {
        MYSQL_BIND p[3];
        unsigned long len[2];
        my_bind_str(&p[0], u->starts[i].exec_id, &len[0]);
        my_bind_str(&p[1], u->starts[i].node_id, &len[1]);
        my_bind_i64(&p[2], &u->starts[i].start_us);
        rc = my_run(s, c, MS_EXEC_UNSTART, p, NULL);
    }
    if (rc == TASKER_OK) forget_unresolved(u);
    return rc;
}

static void run_batch(my_store *s, my_write *batch, int slot)
{
    for (int attempt = 1; attempt <= BATCH_ATTEMPTS; attempt++) {
        my_conn *c = NULL;
        int64_t token = __atomic_add_fetch(&s->batch_seq, 1, __ATOMIC_RELAXED);
        if (my_conn_get(s, &c) != TASKER_OK) {
            fail_all(batch, TASKER_ESTORAGE, tasker_last_error());
            return;
        }
        if (resolve_slot(s, c, slot) != TASKER_OK) {
            bool lost = c->broken;
            fail_all(batch, TASKER_ESTORAGE, tasker_last_error());
            my_conn_put(s, c);
            if (lost) continue;
            return;
        }
        batch_outcome out = run_on(s, c, batch, slot, token);
        my_conn_put(s, c);
        if (out == BATCH_UNKNOWN) {
            remember_unresolved(s, batch, slot, token);
            return;
        }
        if (out == BATCH_DONE) return;
    }
}

void my_commit_free(my_store *s)
{
    for (int i = 0; i < MY_COMMITTERS_MAX; i++) forget_unresolved(&s->unresolved[i]);
}

/* Takes up to MY_BATCH_MAX writes off the queue, and a commit slot. */
static my_write *take_batch(my_store *s, int *slot)
{
    my_write *batch = s->queue_head, *last = batch;
    last->taken = true;
    for (int k = 1; k < MY_BATCH_MAX && last->next; k++) {
        last = last->next;
        last->taken = true;
    }
    s->queue_head = last->next;
    if (!s->queue_head) s->queue_tail = NULL;
    last->next = NULL;
    *slot = 0;
    while (s->slots_busy & (1u << *slot)) (*slot)++;
    s->slots_busy |= 1u << *slot;
    return batch;
}

int my_write_submit(my_store *s, my_write *w)
{
    w->rc = TASKER_OK;
    w->done = w->taken = false;
    w->err[0] = '\0';
    w->next = NULL;
    pthread_mutex_lock(&s->commit_lock);
    if (s->queue_tail) s->queue_tail->next = w;
    else s->queue_head = w;
    s->queue_tail = w;
    while (!w->done) {
        /* Lead while our write still waits and a commit slot is free; otherwise wait
         * for the leader that holds our write, or for a free slot. */
        if (w->taken || s->leaders >= s->url.committers) {
            pthread_cond_wait(&s->commit_cond, &s->commit_lock);
            continue;
        }
        s->leaders++;
        int slot;
        my_write *batch = take_batch(s, &slot);
        pthread_mutex_unlock(&s->commit_lock);

        run_batch(s, batch, slot);

        pthread_mutex_lock(&s->commit_lock);
        for (my_write *b = batch, *next; b; b = next) {
            next = b->next; /* b may be gone once done is seen */
            b->done = true;
        }
        s->leaders--;
        s->slots_busy &= ~(1u << slot);
        pthread_cond_broadcast(&s->commit_cond);
    }
    pthread_mutex_unlock(&s->commit_lock);
    if (w->rc != TASKER_OK) return tasker_fail(w->rc, "%s", w->err);
    return TASKER_OK;
}
