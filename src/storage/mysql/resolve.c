/* The MySQL driver's repair of batches that did not, or may not, have committed.
 *
 * Each batch that holds starts or early answers writes its token into this store's
 * commit_marks row for its slot, inside its transaction: the row then says whether the
 * transaction committed. A batch whose COMMIT was cut off (the connection lost while
 * waiting for the answer) is remembered with its token; before its slot commits again,
 * the mark is read:
 *
 * - if the batch committed, the starts whose callers were told it failed (answered
 *   after the COMMIT, so they never ran) are put back to pending, for the next pickup,
 *   and the writes answered early are in the database as their callers were told;
 * - if it did not, the writes answered early (whose callers were told they succeeded,
 *   and whose workers run on) are replayed at the head of the next batch, from the
 *   leader's copies, and so are those of a batch known not to have committed. A worker
 *   answered early thus never runs a run that stays pending (to be run again) or whose
 *   events vanish, as long as the process lives; its outcome, answered only after a
 *   commit, always follows the replay.
 *
 * Asynchronous writes (outcomes and events submitted without waiting) are driver-owned
 * copies like those answered early, and go the same way: replayed until they commit,
 * and reported to their done callback only then. One that has been failing for
 * MY_ASYNC_GIVE_UP_US (the server away that long) is reported failed and dropped; its
 * submitter may write it again. */
#include "core/error.h"
#include "storage/mysql/internal.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int my_mark_batch(my_store *s, my_conn *c, int slot, int64_t token)
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

static int read_mark(my_store *s, my_conn *c, int slot, int64_t *token)
{
    static const my_col cols[] = {{MC_I64, 0}};
    MYSQL_BIND p[2];
    int64_t *rows = NULL;
    size_t n = 0;
    my_bind_i64(&p[0], &s->store_id);
    my_bind_int(&p[1], &slot);
    int rc = my_query(s, c, MS_MARK_GET, p, cols, 1, sizeof(int64_t), (void **)&rows, &n);
    *token = rc == TASKER_OK && n == 1 ? rows[0] : -1;
    free(rows);
    return rc;
}

static void forget_starts(my_unresolved *u)
{
    for (size_t i = 0; i < u->n; i++) {
        free(u->starts[i].exec_id);
        free(u->starts[i].node_id);
    }
    free(u->starts);
    u->starts = NULL;
    u->n = 0;
    u->pending = false;
}

void my_unresolved_free(my_store *s, my_unresolved *u)
{
    static const char why[] = "mysql: the store was closed before the write was stored";
    forget_starts(u);
    my_owned_release(s, u->replay_if_lost, TASKER_ESTORAGE, why);
    my_owned_release(s, u->replay, TASKER_ESTORAGE, why);
    memset(u, 0, sizeof *u);
}

bool my_slot_owed(const my_store *s, int slot)
{
    const my_unresolved *u = &s->unresolved[slot];
    return u->pending || u->replay || u->replay_if_lost;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Moves out of *list the asynchronous writes failing for too long, onto *stale. */
static void take_stale(my_write **list, int64_t now_us, my_write ***stale)
{
    for (my_write **link = list; *link;) {
        my_write *w = *link;
        if (!w->async) {
            link = &w->next;
            continue;
        }
        if (!w->failing_since_us) w->failing_since_us = now_us;
        if (now_us - w->failing_since_us < MY_ASYNC_GIVE_UP_US) {
            link = &w->next;
            continue;
        }
        *link = w->next;
        w->next = NULL;
        **stale = w;
        *stale = &w->next;
    }
}

void my_give_up_stale(my_store *s, int slot)
{
    my_unresolved *u = &s->unresolved[slot];
    my_write *stale = NULL, **tail = &stale;
    int64_t now_us = mono_us();
    take_stale(&u->replay_if_lost, now_us, &tail);
    take_stale(&u->replay, now_us, &tail);
    if (!stale) return;
    char why[600];
    snprintf(why, sizeof why, "mysql: %s: the write could not be stored for %d s; last error: %s",
             s->where, MY_ASYNC_GIVE_UP_US / 1000000, tasker_last_error());
    my_owned_release(s, stale, TASKER_ESTORAGE, why);
}

static void prepend(my_write **batch, my_write *list)
{
    if (!list) return;
    my_write *last = list;
    while (last->next) last = last->next;
    last->next = *batch;
    *batch = list;
}

int my_resolve_slot(my_store *s, my_conn *c, int slot, my_write **batch)
{
    my_unresolved *u = &s->unresolved[slot];
    if (u->pending) {
        int64_t token = -1;
        int rc = read_mark(s, c, slot, &token);
        if (rc != TASKER_OK) return rc;
        bool committed = token == u->token;
        for (size_t i = 0; committed && i < u->n; i++) {
            MYSQL_BIND p[3];
            unsigned long len[2];
            my_bind_str(&p[0], u->starts[i].exec_id, &len[0]);
            my_bind_str(&p[1], u->starts[i].node_id, &len[1]);
            my_bind_i64(&p[2], &u->starts[i].start_us);
            if ((rc = my_run(s, c, MS_EXEC_UNSTART, p, NULL)) != TASKER_OK) return rc;
        }
        /* The repair commits now, whatever becomes of the batch that follows. */
        if (committed && u->n && mysql_commit(c->db) != 0)
            return my_fail_conn(s, c, "committing the repair of a batch");
        forget_starts(u);
        if (committed) my_owned_release(s, u->replay_if_lost, TASKER_OK, NULL);
        else prepend(batch, u->replay_if_lost);
        u->replay_if_lost = NULL;
    }
    prepend(batch, u->replay);
    u->replay = NULL;
    return TASKER_OK;
}

/* Moves the leader's copies out of *batch, which keeps the callers' writes. */
static my_write *take_owned(my_write **batch)
{
    my_write *owned = NULL, **tail = &owned;
    for (my_write **link = batch; *link;) {
        my_write *w = *link;
        if (!w->owned) {
            link = &w->next;
            continue;
        }
        *link = w->next;
        w->next = NULL;
        *tail = w;
        tail = &w->next;
    }
    return owned;
}

void my_batch_committed(my_store *s, my_write **batch)
{
    my_owned_release(s, take_owned(batch), TASKER_OK, NULL);
}

void my_batch_lost(my_store *s, my_write **batch, int slot)
{
    prepend(&s->unresolved[slot].replay, take_owned(batch));
}

void my_batch_unknown(my_store *s, my_write **batch, int slot, int64_t token)
{
    my_unresolved *u = &s->unresolved[slot];
    forget_starts(u); /* resolved before this batch ran */
    u->pending = true;
    u->token = token;
    prepend(&u->replay_if_lost, take_owned(batch));
    for (my_write *w = *batch; w; w = w->next) {
        if (!w->claim_exec_id) continue;
        my_claim *grown = realloc(u->starts, (u->n + 1) * sizeof *grown);
        if (!grown) break; /* the run stays running until interrupt_dead: no worse */
        u->starts = grown;
        my_claim *cl = &u->starts[u->n++];
        cl->exec_id = strdup(w->claim_exec_id);
        cl->node_id = w->claim_node_id ? strdup(w->claim_node_id) : NULL;
        cl->start_us = w->claim_start_us;
    }
}
