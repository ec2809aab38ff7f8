/* The MySQL driver's batches that did not, or may not, have committed.
 *
 * Claims (starts) are resolved before they are answered (my_resolve_claims): after a
 * cut-off COMMIT each claimed row is read back on a new connection. A row running with
 * the claim's node and start time means the COMMIT landed: the start is answered
 * TASKER_OK and its worker runs the handler. Otherwise it did not: not started. Should
 * the server stay silent for MY_RESOLVE_US, the starts are answered not started and
 * the claims are kept: before the slot commits again, each row still running with that
 * claim is put back to pending (MS_EXEC_UNSTART), since nobody runs it. That is the
 * only repair left of the early answers this driver once gave; a node's lease (cluster
 * mode) would end such a run too, but only once the node is dead.
 *
 * On a Galera member a COMMIT's success is not taken on trust (storage/mysql/claim.c
 * says why): after a batch committed, its starts are read back causally and answered by
 * their rows (my_verify_starts); a read that fails is handled as a cut-off COMMIT that
 * could not be resolved. A batch that failed for good answers "not pending" for the
 * runs that another claim holds (my_answer_failed_starts).
 *
 * Asynchronous writes (outcomes and events submitted without waiting) are the driver's
 * own copies (storage/mysql/copies.c). A batch holding asynchronous events writes its
 * token into this store's commit_marks row for its slot, inside its transaction: the
 * row then says whether the transaction committed (a batch of outcomes alone writes
 * none, and is simply replayed). After a cut-off COMMIT the copies wait, and before
 * the slot commits again the mark is read: committed, they are reported done; not,
 * they are replayed at the head of the next batch, as are those of a batch known not
 * to have committed. A replayed outcome that had landed after all is recognised as
 * written (storage/mysql/exec.c). A copy failing for MY_ASYNC_REPORT_US (the server
 * away that long) is reported failed and dropped; the core then writes an outcome
 * again itself, with backoff, until it is stored (src/core/exec.c). */
#include "core/error.h"
#include "storage/mysql/group.h"

#include <stdio.h>
#include <stdlib.h>
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

static void forget_claims(my_unresolved *u)
{
    for (size_t i = 0; i < u->nclaims; i++) {
        free(u->claims[i].exec_id);
        free(u->claims[i].node_id);
    }
    free(u->claims);
    u->claims = NULL;
    u->nclaims = 0;
}

void my_unresolved_free(my_store *s, my_unresolved *u)
{
    static const char why[] = "mysql: the store was closed before the write was stored";
    forget_claims(u);
    my_owned_release(s, u->replay_if_lost, TASKER_ESTORAGE, why);
    my_owned_release(s, u->replay, TASKER_ESTORAGE, why);
    memset(u, 0, sizeof *u);
}

bool my_slot_owed(const my_store *s, int slot)
{
    const my_unresolved *u = &s->unresolved[slot];
    return u->pending || u->replay || u->replay_if_lost || u->nclaims;
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
        if (now_us - w->failing_since_us < MY_ASYNC_REPORT_US) {
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
    int64_t now_us = my_mono_us();
    take_stale(&u->replay_if_lost, now_us, &tail);
    take_stale(&u->replay, now_us, &tail);
    if (!stale) return;
    char why[600];
    snprintf(why, sizeof why, "mysql: %s: the write could not be stored for %d s; last error: %s",
             s->where, MY_ASYNC_REPORT_US / 1000000, tasker_last_error());
    size_t n = 0;
    for (my_write *w = stale; w; w = w->next)
        n += !w->on_done;
    if (n) /* nobody else hears of these (events): say it */
        fprintf(stderr, "tasker: %zu event(s) dropped: %s\n", n, why);
    my_owned_release(s, stale, TASKER_ESTORAGE, why);
}

static void prepend(my_write **batch, my_write *list)
{
    if (!list) return;
    my_write *last = list;
    while (last->next)
        last = last->next;
    last->next = *batch;
    *batch = list;
}

/* Puts back to pending the rows still running with a claim whose caller was answered
 * not started, and commits that at once. */
static int put_back_claims(my_store *s, my_conn *c, my_unresolved *u)
{
    my_trace(s, "put-back %zu start(s)", u->nclaims);
    for (size_t i = 0; i < u->nclaims; i++) {
        MYSQL_BIND p[3];
        unsigned long len[2];
        my_bind_str(&p[0], u->claims[i].exec_id, &len[0]);
        my_bind_str(&p[1], u->claims[i].node_id, &len[1]);
        my_bind_i64(&p[2], &u->claims[i].start_us);
        int rc = my_run(s, c, MS_EXEC_UNSTART, p, NULL);
        if (rc != TASKER_OK) return rc;
    }
    if (mysql_commit(c->db) != 0) return my_fail_conn(s, c, "committing claims put back");
    forget_claims(u);
    return TASKER_OK;
}

int my_resolve_slot(my_store *s, my_conn *c, int slot, my_write **batch)
{
    my_unresolved *u = &s->unresolved[slot];
    int rc;
    if (u->nclaims && (rc = put_back_claims(s, c, u)) != TASKER_OK) return rc;
    if (u->pending) {
        int64_t token = -1;
        if ((rc = read_mark(s, c, slot, &token)) != TASKER_OK) return rc;
        u->pending = false;
        if (token == u->token)
            my_owned_release(s, u->replay_if_lost, TASKER_OK, NULL);
        else
            prepend(batch, u->replay_if_lost);
        u->replay_if_lost = NULL;
    }
    prepend(batch, u->replay);
    u->replay = NULL;
    return TASKER_OK;
}

/* Reads the claimed rows on a connection of the lane's, once. */
static int read_claims(my_lane *l, my_write **w, size_t n, my_claim_row **rows, size_t *nrows)
{
    my_conn *c = NULL;
    if (my_test_before_resolve && my_test_before_resolve())
        return tasker_fail(TASKER_ESTORAGE, "mysql: resolving claims: injected fault");
    int rc = my_lane_conn(l, &c);
    if (rc != TASKER_OK) return rc;
    rc = my_claim_rows(l->s, c, w, n, rows, nrows);
    if (!c->broken) mysql_rollback(c->db); /* ends the read's transaction (autocommit off) */
    my_lane_conn_done(l, c);
    return rc;
}

/* Keeps the claims of w[0..n) to put back to pending later, should they have landed. */
static void keep_claims(my_unresolved *u, my_write **w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const my_start_arg *a = w[i]->arg;
        my_claim *grown = realloc(u->claims, (u->nclaims + 1) * sizeof *grown);
        if (!grown) return; /* then the run stays running until its node's lease ends */
        u->claims = grown;
        my_claim *cl = &u->claims[u->nclaims];
        cl->exec_id = strdup(a->exec_id);
        cl->node_id = a->node_id ? strdup(a->node_id) : NULL;
        cl->start_us = a->start_us;
        if (!cl->exec_id || (a->node_id && !cl->node_id)) {
            free(cl->exec_id);
            free(cl->node_id);
            return;
        }
        u->nclaims++;
    }
}

void my_resolve_claims(my_lane *l, my_write *batch, int slot)
{
    my_store *s = l->s;
    size_t n = 0;
    for (my_write *w = batch; w; w = w->next)
        n += w->kind == MW_START && w->claimed && !w->owned;
    if (!n) return;
    my_write **w = malloc(n * sizeof *w);
    if (!w) n = 0; /* cannot even list them: answered not started, kept nowhere */
    n = 0;
    for (my_write *x = batch; x && w; x = x->next)
        if (x->kind == MW_START && x->claimed && !x->owned) w[n++] = x;
    my_claim_row *rows = NULL;
    size_t nrows = 0;
    int rc = TASKER_ESTORAGE;
    int64_t until_us = my_mono_us() + (s->closing ? 0 : MY_RESOLVE_US);
    for (int pause_ms = 20; n; pause_ms = pause_ms * 2 > 500 ? 500 : pause_ms * 2) {
        if ((rc = read_claims(l, w, n, &rows, &nrows)) == TASKER_OK ||
            my_mono_us() >= until_us)
            break;
        struct timespec ts = {pause_ms / 1000, (long)(pause_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; rc == TASKER_OK && i < n; i++) {
        const my_start_arg *a = w[i]->arg;
        const my_claim_row *row = NULL;
        for (size_t k = 0; k < nrows && !row; k++)
            if (strcmp(rows[k].exec_id, a->exec_id) == 0) row = &rows[k];
        w[i]->rc = my_claim_verdict(w[i], row);
        if (w[i]->rc == TASKER_ESTORAGE)
            snprintf(w[i]->err, sizeof w[i]->err,
                     "mysql: execution '%s' was not started: "
                     "the COMMIT of its claim was cut off and did not land",
                     a->exec_id);
    }
    my_claim_rows_free(rows, nrows);
    my_trace(s, "resolve-cut-off n=%zu rc=%d", n, rc);
    if (rc != TASKER_OK && n) {
        my_log_failure(s,
                       "mysql: %s: %zu start(s) answered not started: the COMMIT of their "
                       "claim was cut off and the server did not answer for %d s",
                       s->where, n, MY_RESOLVE_US / 1000000);
        for (size_t i = 0; i < n; i++)
            snprintf(w[i]->err, sizeof w[i]->err,
                     "mysql: %s: not started: the COMMIT of the "
                     "claim was cut off and could not be checked; it will be put back to "
                     "pending if it landed",
                     s->where);
        keep_claims(&s->unresolved[slot], w, n);
    }
    free(w);
}

/* The lane's connection, made causal (wsrep_sync_wait = 1) when it is a Galera member's;
 * NULL when it is not one (nothing to verify), or could not be had (*rc says why). */
static my_conn *causal_conn(my_lane *l, int *rc)
{
    my_conn *c = NULL;
    bool on = false;
    if ((*rc = my_lane_conn(l, &c)) != TASKER_OK) return NULL;
    /* Causal for this read only: a write transaction of the lane must not wait for the
     * member to apply writesets that may need its own locks. */
    if ((*rc = my_conn_wsrep(l->s, c, &on)) == TASKER_OK && on)
        *rc = my_exec_once(l->s, c, "SET SESSION wsrep_sync_wait = 1");
    if (*rc == TASKER_OK && on) return c;
    my_lane_conn_done(l, c);
    return NULL;
}

void my_verify_starts(my_lane *l, my_write *batch, int slot)
{
    my_store *s = l->s;
    size_t n = 0;
    for (my_write *w = batch; w; w = w->next)
        n += w->kind == MW_START && w->claimed && !w->owned && w->rc == TASKER_OK;
    if (!n) return;
    int rc;
    my_conn *c = causal_conn(l, &rc);
    if (!c && rc == TASKER_OK) return; /* not a Galera member: COMMIT's answer stands */
    my_write **w = malloc(n * sizeof *w);
    my_claim_row *rows = NULL;
    size_t nrows = 0, k = 0;
    for (my_write *x = batch; x && w; x = x->next)
        if (x->kind == MW_START && x->claimed && !x->owned && x->rc == TASKER_OK) w[k++] = x;
    if (!w) rc = tasker_fail(TASKER_ENOMEM, "mysql: out of memory verifying starts");
    if (c && rc == TASKER_OK) rc = my_claim_rows(s, c, w, n, &rows, &nrows);
    if (c && !c->broken) {
        mysql_rollback(c->db); /* ends the read's transaction (autocommit off) */
        if (my_exec_once(s, c, "SET SESSION wsrep_sync_wait = 0") != TASKER_OK)
            c->broken = true; /* not to be used causal: closed */
    }
    if (c) my_lane_conn_done(l, c);
    for (size_t i = 0; rc == TASKER_OK && i < n; i++) {
        const my_start_arg *a = w[i]->arg;
        const my_claim_row *row = NULL;
        for (size_t r = 0; r < nrows && !row; r++)
            if (strcmp(rows[r].exec_id, a->exec_id) == 0) row = &rows[r];
        if ((w[i]->rc = my_claim_verdict(w[i], row)) == TASKER_OK) continue;
        my_trace(s, "start-dropped node=%s start_us=%lld %s: COMMIT said claimed, the row says "
                    "not", a->node_id ? a->node_id : "-", (long long)a->start_us, a->exec_id);
        fprintf(stderr, "tasker: mysql: %s: run %s not started: its start's COMMIT answered "
                        "success, but the run was taken by another node's claim\n",
                s->where, a->exec_id);
    }
    my_claim_rows_free(rows, nrows);
    my_trace(s, "start-verify n=%zu rc=%d%s%s", n, rc, rc ? " " : "",
             rc ? tasker_last_error() : "");
    if (rc != TASKER_OK && w) { /* committed, and what stuck is not known */
        my_log_failure(s, "mysql: %s: %zu start(s) answered not started: their COMMIT "
                          "succeeded but reading them back failed (%s); put back to pending "
                          "before the next batch",
                       s->where, n, tasker_last_error());
        for (size_t i = 0; i < n; i++) {
            w[i]->rc = TASKER_ESTORAGE;
            snprintf(w[i]->err, sizeof w[i]->err,
                     "mysql: %s: not started: its start committed but could not be read "
                     "back on the Galera member; it will be put back to pending",
                     s->where);
        }
        keep_claims(&s->unresolved[slot], w, n);
    } else if (rc != TASKER_OK) { /* cannot even list them: not started, left to the lease */
        for (my_write *x = batch; x; x = x->next)
            if (x->kind == MW_START && x->claimed && !x->owned && x->rc == TASKER_OK)
                x->rc = TASKER_ESTORAGE;
    }
    free(w);
}

void my_answer_failed_starts(my_lane *l, my_write *batch)
{
    my_store *s = l->s;
    size_t n = 0, k = 0;
    for (my_write *w = batch; w; w = w->next)
        n += w->kind == MW_START && !w->owned && w->rc == TASKER_ESTORAGE;
    my_write **w = n ? malloc(n * sizeof *w) : NULL;
    if (!w) return;
    for (my_write *x = batch; x; x = x->next)
        if (x->kind == MW_START && !x->owned && x->rc == TASKER_ESTORAGE) w[k++] = x;
    my_conn *c = NULL;
    my_claim_row *rows = NULL;
    size_t nrows = 0;
    int rc = my_lane_conn(l, &c);
    if (rc == TASKER_OK) {
        rc = my_claim_rows(s, c, w, n, &rows, &nrows);
        if (!c->broken) mysql_rollback(c->db); /* ends the read's transaction */
        my_lane_conn_done(l, c);
    }
    size_t taken = 0;
    for (size_t i = 0; rc == TASKER_OK && i < n; i++) {
        const my_start_arg *a = w[i]->arg;
        const my_claim_row *row = NULL;
        for (size_t r = 0; r < nrows && !row; r++)
            if (strcmp(rows[r].exec_id, a->exec_id) == 0) row = &rows[r];
        /* Its own claim (this node, this start time) is left as it is: this start may
         * share both with another caller's, which did commit. */
        bool own = row && row->node_id && a->node_id && strcmp(row->node_id, a->node_id) == 0 &&
                   row->start_us == a->start_us;
        if (!row || row->status == TASKER_EXEC_PENDING || own) continue;
        w[i]->rc = TASKER_ESTATE;
        snprintf(w[i]->err, sizeof w[i]->err, "mysql: execution '%s' is %s, not pending",
                 a->exec_id, tasker_exec_status_name((tasker_exec_status)row->status));
        taken++;
    }
    if (taken) my_trace(s, "failed-starts n=%zu taken=%zu", n, taken);
    my_claim_rows_free(rows, nrows);
    free(w);
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
    my_write *owned = take_owned(batch);
    if (!owned) return;
    u->pending = true; /* resolved before this batch ran: the slot had nothing pending */
    u->token = token;
    prepend(&u->replay_if_lost, owned);
}
