/* The MySQL driver's group commit: concurrent writes share one transaction.
 *
 * A writer queues its write and waits. The first writer to find no transaction in
 * progress becomes the leader: it takes every queued write (up to MY_BATCH_MAX), runs
 * them in one transaction on one connection, applies retention once per task touched,
 * commits, and hands each writer its own result; the writers that queued meanwhile
 * form the next batch. One commit (one redo-log flush) thus serves many writes, and
 * every caller still returns only after its write is durable.
 *
 * A write that fails on its own (a duplicate id, a missing task) is undone alone, by
 * InnoDB's statement rollback, and the batch goes on. A failure of the transaction
 * (the server gone, a deadlock with another process) fails or retries the batch as a
 * whole: a batch whose connection was lost before COMMIT was sent is rolled back by
 * the server, so it is retried once on a new connection; if COMMIT itself was cut off,
 * nobody can know whether it committed, and every writer gets TASKER_ESTORAGE. */
#include "core/error.h"
#include "storage/mysql_internal.h"

#include <mysqld_error.h>
#include <stdio.h>
#include <string.h>

#define BATCH_ATTEMPTS 3

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

typedef enum { BATCH_DONE, BATCH_RETRY } batch_outcome;

/* Runs the batch's writes in one transaction on c. Sets each write's result. */
static batch_outcome run_on(my_store *s, my_conn *c, my_write *batch, bool *commit_sent)
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
    if (rc == TASKER_OK) {
        *commit_sent = true;
        if (mysql_commit(c->db) == 0) return BATCH_DONE;
        rc = my_fail_conn(s, c, "committing");
    }
    char why[512];
    snprintf(why, sizeof why, "%s", tasker_last_error());
    if (!c->broken) mysql_rollback(c->db);
    fail_all(batch, TASKER_ESTORAGE, why);
    if (*commit_sent && c->broken) return BATCH_DONE; /* unknown outcome: never replay */
    return c->broken || c->last_errno == ER_LOCK_DEADLOCK ? BATCH_RETRY : BATCH_DONE;
}

static void run_batch(my_store *s, my_write *batch)
{
    for (int attempt = 1; attempt <= BATCH_ATTEMPTS; attempt++) {
        my_conn *c = NULL;
        bool commit_sent = false;
        if (my_conn_get(s, &c) != TASKER_OK) {
            fail_all(batch, TASKER_ESTORAGE, tasker_last_error());
            return;
        }
        batch_outcome out = run_on(s, c, batch, &commit_sent);
        my_conn_put(s, c);
        if (out == BATCH_DONE) return;
    }
}

int my_write_submit(my_store *s, my_write *w)
{
    w->rc = TASKER_OK;
    w->done = false;
    w->err[0] = '\0';
    w->next = NULL;
    pthread_mutex_lock(&s->commit_lock);
    if (s->queue_tail) s->queue_tail->next = w;
    else s->queue_head = w;
    s->queue_tail = w;
    while (!w->done) {
        if (s->committing) {
            pthread_cond_wait(&s->commit_cond, &s->commit_lock);
            continue;
        }
        /* Lead: take up to MY_BATCH_MAX writes off the queue. */
        s->committing = true;
        my_write *batch = s->queue_head, *last = batch;
        for (int k = 1; k < MY_BATCH_MAX && last->next; k++) last = last->next;
        s->queue_head = last->next;
        if (!s->queue_head) s->queue_tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&s->commit_lock);

        run_batch(s, batch);

        pthread_mutex_lock(&s->commit_lock);
        for (my_write *b = batch, *next; b; b = next) {
            next = b->next; /* b may be gone once done is seen */
            b->done = true;
        }
        s->committing = false;
        pthread_cond_broadcast(&s->commit_cond);
    }
    pthread_mutex_unlock(&s->commit_lock);
    if (w->rc != TASKER_OK) return tasker_fail(w->rc, "%s", w->err);
    return TASKER_OK;
}
