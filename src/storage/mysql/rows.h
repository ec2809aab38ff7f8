/* The MySQL driver's rows (layer 2): what several parts write or read inside their
 * transaction, on the caller's connection: a start's row read back, a task's columns
 * and whether its runs are held, the schedules' change counter, the retry stored with
 * a failure (rows.c); the claims of unknown outcome, put back before the next claim
 * (unknown.c); and retention (retain.h, below it in the same layer). rows.c and
 * unknown.c call only retain.h, stmt.h and conn.h. */
#ifndef TASKER_SRC_MYSQL_ROWS_H
#define TASKER_SRC_MYSQL_ROWS_H

#include "storage/mysql/retain.h"

/* ---- a start's row, read back (rows.c) ---- */
/* A claimed start's row (bulk.c, resolve.c, exec.c). */
typedef struct {
    char *exec_id;
    int status;
    char *node_id;
    int64_t start_us;
    int64_t run_at_us; /* job lifecycle: a start takes a run only once due, */
    bool held;         /* and not held by its task (paused, or limited: left to claims) */
} my_claim_row;
/* TASKER_OK when the row is running with this start's node and start time, else why
 * not (ESTATE, ENOTFOUND, ESTORAGE: still pending), with the write's message set. */
int my_claim_verdict(my_write *w, const my_claim_row *row);
/* Reads the rows of the n starts (any n) into a malloc'd array (*rows, *nrows); the
 * _locked form also locks them until the transaction ends (FOR UPDATE), and reports a
 * pending run that its start may not take (not due, or held by its task) with status
 * MY_STATUS_HELD, so that the careful round leaves it pending. */
#define MY_STATUS_HELD 100
int my_claim_rows(my_store *s, my_conn *c, my_write **w, size_t n, my_claim_row **rows,
                  size_t *nrows);
int my_claim_rows_locked(my_store *s, my_conn *c, my_write **w, size_t n, my_claim_row **rows,
                         size_t *nrows);
void my_claim_rows_free(my_claim_row *rows, size_t n);
/* Reads the runs ids[0..n) back after a COMMIT, causally when causal (a Galera member:
 * the read waits for the member to have applied everything before it): exists[i] (may
 * be NULL) says whether ids[i] has a row, ours[i] whether it is running under node_id
 * since start_us. An id may be given twice. */
int my_runs_ours(my_store *s, my_conn *c, char *const *ids, size_t n, const char *node_id,
                 int64_t start_us, bool causal, bool *exists, bool *ours);

/* ---- tasks and the schedules' change counter (rows.c) ---- */
/* A task's columns in MS_TASK_UPSERT's order (task_id, handler, param, descr, the
 * policy columns, paused): p[MY_TASK_NCOLS]; len and *paused must outlive the binds. */
#define MY_TASK_NCOLS 13
void my_bind_task(MYSQL_BIND *p, unsigned long len[4], int *paused, const tasker_task *t);
/* Writes whether the task's pending runs are held (a start leaves them to claims: the
 * task is paused or limited), after the task's row was written in this transaction. */
int my_task_held_sync(my_store *s, my_conn *c, const char *task_id);
/* Moves the schedules' change counter (migration 6), for a change of what fires (a
 * task or schedule added, replaced, removed, paused). */
int my_bump_schemes(my_store *s, my_conn *c);

/* ---- retries (rows.c) ---- */
/* After the outcome e was written: stores its retry when it failed or was interrupted,
 * attempts are left, and e->attempt is not negative (tasker_no_retry). */
int my_store_retry(my_store *s, my_conn *c, const tasker_task_exec *e);
/* The same for the outcomes w[0..n) of a bulk statement (storage/mysql/bulk.c). */
int my_store_retries(my_store *s, my_conn *c, my_write **w, size_t n);
/* Before an interrupt marks node's running runs (node_id NULL: those with no node):
 * their ids, locked (FOR UPDATE), into a new array (*ids, *n; free with my_free_ids).
 * After the marking, my_store_retries_of stores the retries of those of them that it
 * marked interrupted. */
int my_node_running(my_store *s, my_conn *c, const char *node_id, char ***ids, size_t *n);
int my_store_retries_of(my_store *s, my_conn *c, char **ids, size_t n);
void my_free_ids(char **ids, size_t n);

/* ---- claims of unknown outcome (unknown.c) ---- */
/* Keeps the n runs of a claim of unknown outcome (claimed for node_id at start_us) on
 * the store's list, to be put back before the next claim. Thread-safe. */
void my_claims_keep(my_store *s, const char *node_id, int64_t start_us, char *const *ids,
                    size_t n);
/* Puts back to pending the rows of the claims of unknown outcome (s->claims_unknown)
 * still as their claim left them; TASKER_OK when none is left. Called before each
 * claim, and once at close (closing: a single try). */
int my_claims_settle(my_store *s);
/* At close: frees what my_claims_settle could not settle, saying so on stderr. */
void my_claims_free(my_store *s);

#endif
