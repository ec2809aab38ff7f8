/* The SQLite driver's group commit: many threads write at once, one transaction holds
 * them all.
 *
 * Leader/follower: a writer queues its request; if no thread is leading, it leads: it
 * takes every queued request, runs them in one BEGIN IMMEDIATE .. COMMIT on the writer
 * connection, and hands each its own result. Requests that arrive meanwhile wait for
 * the next leader (the first of them is woken to lead). So a sync (synchronous=FULL)
 * or a WAL append (NORMAL) is paid once per batch, not once per row, and a caller
 * still returns only after its own write is committed.
 *
 * Every request is one statement (interrupt_dead, the one exception, wraps itself in a
 * savepoint), and SQLite undoes a failed statement on its own, so a request that fails
 * (a duplicate id, a missing task) leaves the others' writes in the transaction. An
 * error that makes SQLite roll back the whole transaction (disk full, I/O error) fails
 * that request, and the rest are run again in a new transaction.
 */
#include "sqlite_internal.h"

#include <stdio.h>
#include <string.h>

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

/* One attempt at the batch: requests not yet final run in one transaction. Returns
 * TASKER_OK when committed. Otherwise *culprit is the request whose failure rolled the
 * transaction back, or NULL when the transaction itself failed (msg says why). */
static int run_once(sq_store *s, sq_req *batch, sq_req **culprit, char *msg, size_t size)
{
    *culprit = NULL;
    if (step_plain(s, W_BEGIN, "beginning a write transaction", msg, size) != TASKER_OK) {
        rollback(s);
        return TASKER_ESTORAGE;
    }
    for (sq_req *r = batch; r; r = r->next) {
        if (r->final) continue; /* failed alone in an earlier attempt */
        r->rc = TASKER_OK;
        r->msg[0] = '\0';
        sq_exec_req(s, r);
        if (sqlite3_get_autocommit(s->wdb)) {
            if (r->rc == TASKER_OK) r->rc = TASKER_ESTORAGE;
            *culprit = r;
            return r->rc;
        }
    }
    int rc = sq_retention(s, batch, msg, size);
    if (rc == TASKER_OK)
        rc = step_plain(s, W_COMMIT, "committing a write transaction", msg, size);
    if (rc != TASKER_OK) rollback(s);
    return rc;
}

/* Runs the batch until each request has its result. */
static void run_batch(sq_store *s, sq_req *batch)
{
    char msg[SQ_MSG_SIZE];
    for (;;) {
        sq_req *culprit = NULL;
        int rc = run_once(s, batch, &culprit, msg, sizeof msg);
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

/* Takes the whole queue and runs it; then finishes each request and wakes the next
 * leader. Called with queue_lock held; returns with it held. */
static void lead(sq_store *s, sq_req *self)
{
    s->leading = true;
    sq_req *batch = s->queue_head;
    s->queue_head = s->queue_tail = NULL;
    pthread_mutex_unlock(&s->queue_lock);

    run_batch(s, batch);

    pthread_mutex_lock(&s->queue_lock);
    for (sq_req *r = batch; r;) {
        sq_req *next = r->next; /* r may be gone once it sees done */
        r->done = true;
        if (r != self) pthread_cond_signal(&r->cond);
        r = next;
    }
    s->leading = false;
    if (s->queue_head) pthread_cond_signal(&s->queue_head->cond);
}

int sq_submit(sq_store *s, sq_req *r)
{
    r->rc = TASKER_OK;
    r->done = false;
    r->final = false;
    r->next = NULL;
    r->msg[0] = '\0';
    pthread_cond_init(&r->cond, NULL);

    pthread_mutex_lock(&s->queue_lock);
    if (s->queue_tail) s->queue_tail->next = r;
    else s->queue_head = r;
    s->queue_tail = r;
    while (!r->done && s->leading) pthread_cond_wait(&r->cond, &s->queue_lock);
    if (!r->done) lead(s, r);
    pthread_mutex_unlock(&s->queue_lock);

    pthread_cond_destroy(&r->cond);
    if (r->rc != TASKER_OK) return tasker_set_error(r->rc, "%s", r->msg);
    return TASKER_OK;
}
