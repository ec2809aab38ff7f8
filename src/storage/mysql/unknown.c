/* The MySQL driver's claims of unknown outcome (layer 2, beside rows.c): a claim whose
 * COMMIT's answer was lost, or whose read after COMMIT failed, may have committed. Its
 * runs would then be running under this node with nobody running them, and the node's
 * heartbeat would keep them from ever being interrupted. Such a claim is neither taken
 * as won nor as lost: claim.c keeps it here (my_claims_keep), and before any later
 * claim its rows are put back to pending, only those still exactly as the claim left
 * them (node and start time, the claim's token); until that succeeded no new claim
 * runs. Calls only stmt.h and conn.h. */
#include "core/error.h"
#include "storage/mysql/rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void my_claims_keep(my_store *s, const char *node_id, int64_t start_us, char *const *ids,
                    size_t n)
{
    pthread_mutex_lock(&s->claims_lock);
    my_claim *grown = realloc(s->claims_unknown, (s->nclaims_unknown + n) * sizeof *grown);
    if (grown) s->claims_unknown = grown;
    for (size_t i = 0; grown && i < n; i++) {
        my_claim *cl = &s->claims_unknown[s->nclaims_unknown];
        cl->exec_id = strdup(ids[i]);
        cl->node_id = strdup(node_id);
        cl->start_us = start_us;
        if (!cl->exec_id || !cl->node_id) {
            free(cl->exec_id);
            free(cl->node_id);
            grown = NULL;
            break;
        }
        s->nclaims_unknown++;
    }
    pthread_mutex_unlock(&s->claims_lock);
    if (!grown) /* then they stay running under this node until its lease ends */
        fprintf(stderr, "tasker: mysql: %s: out of memory keeping a claim of unknown outcome: "
                        "its runs may stay running under node %s until it stops\n",
                s->where, node_id);
}

static void free_claims(my_claim *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].exec_id);
        free(v[i].node_id);
    }
    free(v);
}

/* Puts back the n claims on c: each row still as its claim left it goes back to
 * pending. On a Galera member, then reads causally that none is left so (a put-back
 * answered success is not taken on trust either). */
static int put_back(my_store *s, my_conn *c, const my_claim *v, size_t n)
{
    bool wsrep = false;
    int rc = my_conn_wsrep(s, c, &wsrep);
    for (size_t i = 0; rc == TASKER_OK && i < n; i++) {
        MYSQL_BIND b[3];
        unsigned long len[2];
        my_bind_str(&b[0], v[i].exec_id, &len[0]);
        my_bind_str(&b[1], v[i].node_id, &len[1]);
        my_bind_i64(&b[2], &v[i].start_us);
        rc = my_cl_run(s, c,
                       "UPDATE task_execs SET status = 0, start_us = 0, node_id = NULL"
                       " WHERE exec_id = ? AND status = 1 AND node_id = ? AND start_us = ?",
                       b, NULL, "putting back a claim of unknown outcome");
        if (rc != TASKER_OK || !wsrep) continue;
        MYSQL_STMT *st;
        rc = my_cl_prepare(s, c,
                           MY_CAUSAL "SELECT COUNT(*) FROM task_execs WHERE exec_id = ?"
                                  " AND status = 1 AND node_id = ? AND start_us = ?",
                           b, &st, "checking a claim put back");
        if (rc != TASKER_OK) continue;
        int64_t left = 0;
        my_cl_col col = {.i64 = &left};
        int f = my_cl_fetch(s, c, st, &col, 1);
        mysql_stmt_close(st);
        if (f < 0) rc = f;
        else if (left)
            rc = tasker_fail(TASKER_ESTORAGE, "mysql: %s: run %s of a claim of unknown outcome "
                                              "is still running after it was put back",
                             s->where, v[i].exec_id);
    }
    return rc;
}

int my_claims_settle(my_store *s)
{
    pthread_mutex_lock(&s->claims_lock);
    my_claim *v = s->claims_unknown;
    size_t n = s->nclaims_unknown;
    s->claims_unknown = NULL;
    s->nclaims_unknown = 0;
    pthread_mutex_unlock(&s->claims_lock);
    if (!n) return TASKER_OK;
    int rc = TASKER_OK;
    if (my_test_before_resolve && my_test_before_resolve())
        rc = tasker_fail(TASKER_ESTORAGE, "mysql: putting back claims: injected fault");
    my_conn *c = NULL;
    if (rc == TASKER_OK) rc = my_conn_get(s, &c);
    if (rc == TASKER_OK) rc = put_back(s, c, v, n);
    if (c) my_conn_put(s, c);
    if (rc == TASKER_OK) {
        my_trace(s, "settled %zu run(s) of claims of unknown outcome", n);
        free_claims(v, n);
        return TASKER_OK;
    }
    /* Still unknown: back on the list (ahead of any kept meanwhile), for the next try. */
    char msg[512];
    snprintf(msg, sizeof msg, "%s", tasker_last_error());
    pthread_mutex_lock(&s->claims_lock);
    my_claim *all = realloc(v, (n + s->nclaims_unknown) * sizeof *all);
    if (all) {
        if (s->nclaims_unknown)
            memcpy(all + n, s->claims_unknown, s->nclaims_unknown * sizeof *all);
        free(s->claims_unknown);
        s->claims_unknown = all;
        s->nclaims_unknown += n;
    }
    pthread_mutex_unlock(&s->claims_lock);
    if (!all) free_claims(v, n); /* out of memory: left to the lease */
    return tasker_fail(rc, "mysql: %s: %zu run(s) of a claim of unknown outcome not put back "
                           "yet; no new claim until they are: %s",
                       s->where, n, msg);
}

void my_claims_free(my_store *s)
{
    if (s->nclaims_unknown)
        fprintf(stderr, "tasker: mysql: %s: closed with %zu run(s) of claims of unknown "
                        "outcome not put back: they stay running until this node's lease ends\n",
                s->where, s->nclaims_unknown);
    free_claims(s->claims_unknown, s->nclaims_unknown);
    s->claims_unknown = NULL;
    s->nclaims_unknown = 0;
}
