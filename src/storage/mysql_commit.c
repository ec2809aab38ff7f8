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
 * the server, so it is retried on a new connection. If COMMIT itself was cut off, the
 * batch's mark row (commit_marks) tells afterwards whether it committed: see resolve(). */
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
    int rc = my_run(s, c, MS_BEGIN, NULL, NULL);
    for (my_write *w = batch; w && rc == TASKER_OK; w = w->next) {
        w->rc = w->fn(s, c, w);
        if (w->rc != TASKER_OK) {
            snprintf(w->err, sizeof w->err, "%s", tasker_last_error());
            /* A lost connection or a deadlock ends the transaction, not just the write. */
            if (c->broken || c->last_errno == ER_LOCK_DEADLOCK) rc = w->rc;
        }
        c->last_errno = 0;
    }
    if (rc == TASKER_OK) rc = retain_batch(s, c, batch);
    if (rc == TASKER_OK) rc = mark_batch(s, c, slot, token);
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

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The connection died after COMMIT was sent. Waits (up to the connect timeout) for the
 * server to answer again, then reads the commit mark: the batch committed exactly when
 * the mark holds its token. Replaying a committed batch would store it twice, and
 * failing it would orphan what it stored (a start that nobody runs), hence the wait. */
static batch_outcome resolve(my_store *s, my_write *batch, int slot, int64_t token)
{
    char why[400];
    snprintf(why, sizeof why, "%s", tasker_last_error());
    int64_t deadline_ms = mono_ms() + (int64_t)s->url.connect_timeout_s * 1000;
    do {
        mark_read m = {slot, -1};
        if (my_read(s, read_mark, &m) == TASKER_OK)
            return m.token == token ? BATCH_DONE : BATCH_RETRY;
        struct timespec pause = {0, 100 * 1000000L}; /* pacing reconnects, not a wait */
        nanosleep(&pause, NULL);
    } while (mono_ms() < deadline_ms);
    for (my_write *w = batch; w; w = w->next) {
        w->rc = TASKER_ESTORAGE;
        snprintf(w->err, sizeof w->err, "%s; whether it committed is unknown", why);
    }
    return BATCH_DONE;
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
        batch_outcome out = run_on(s, c, batch, slot, token);
        my_conn_put(s, c);
        if (out == BATCH_UNKNOWN) out = resolve(s, batch, slot, token);
        if (out == BATCH_DONE) return;
    }
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
