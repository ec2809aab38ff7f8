/* Inside the MySQL driver's group commit (layer 3; only its own files include this):
 * lanes.c runs a batch (batch.c), which runs its writes in bulk (bulk.c), resolves
 * batches cut off or failed (resolve.c) and keeps the driver's copies of asynchronous
 * writes (copies.c). Calls go down that list: lanes.c > batch.c > bulk.c, resolve.c >
 * copies.c; and to rows.h, stmt.h, conn.h. */
#ifndef TASKER_SRC_MYSQL_GROUP_H
#define TASKER_SRC_MYSQL_GROUP_H

#include "storage/mysql/write.h"

/* ---- one batch (batch.c) ---- */
/* Runs a batch of lane l on commit slot slot until it committed or failed for good; on
 * return *batch holds only the callers' writes, each with its result (the driver's
 * copies are reported, freed, or kept to replay). */
void my_run_batch(my_lane *l, my_write **batch, int slot);

/* ---- bulk statements (bulk.c) ---- */
/* Runs ngroups groups of writes in order (group[i]: n[i] adds, events or outcomes, of
 * kinds[i]), each as one bulk statement when it can. Sets each write's rc and err;
 * TASKER_ESTORAGE when the transaction failed (the connection lost, a deadlock). */
int my_bulk_groups(my_store *s, my_conn *c, const my_write_kind *kinds, my_write ***group,
                   const size_t *n, int ngroups);
/* The claim round: the n starts (distinct runs, sorted by exec id) as one compare-and-
 * set statement; each write's rc says whether its run was taken (w->claimed).
 * TASKER_ESTORAGE when the transaction failed; MY_CLAIM_AGAIN when not every row
 * matched: the caller rolls back and runs the batch again with careful set, which
 * locks and reads the rows before moving the pending ones. */
#define MY_CLAIM_AGAIN 1
int my_bulk_starts(my_store *s, my_conn *c, my_write **w, size_t n, bool careful);

/* ---- batches that did not, or may not, have committed (resolve.c) ---- */
/* Writes token into this store's commit_marks row for slot, in the batch's transaction. */
int my_mark_batch(my_store *s, my_conn *c, int slot, int64_t token);
/* After a cut-off COMMIT, before answering: reads each claimed start's row, on a new
 * connection, for up to MY_RESOLVE_US, and answers it: TASKER_OK when its row is
 * running with this claim (the COMMIT landed), TASKER_ESTORAGE (not started) when not.
 * Claims it could not resolve are answered not started and kept on slot, to be put
 * back to pending should they have committed. */
void my_resolve_claims(my_lane *l, my_write *batch, int slot);
/* After a batch's COMMIT answered success, on a Galera member (wsrep_on) only: reads its
 * claimed starts' rows again, causally (wsrep_sync_wait = 1), and answers each start by
 * its row, as my_resolve_claims does: a COMMIT success is not taken on trust there (see
 * storage/mysql/claim.c). Should the read fail, the starts are answered not started and
 * their claims kept on slot, to be put back to pending. */
void my_verify_starts(my_lane *l, my_write *batch, int slot);
/* After a batch failed for good (its attempts spent, as on Galera when other members'
 * claims of its runs win certification each time): reads the rows of its starts once,
 * and answers TASKER_ESTATE (not started, not to be tried again) those whose run is no
 * longer pending under another claim, so that the worker does not back off as from a
 * store that is away. The others stay TASKER_ESTORAGE. */
void my_answer_failed_starts(my_lane *l, my_write *batch);
/* Before slot commits again: puts back its unresolved claims, resolves its batch of
 * unknown outcome, and puts the writes to replay at the head of *batch. */
int my_resolve_slot(my_store *s, my_conn *c, int slot, my_write **batch);
/* After a batch: frees its copies (committed), or keeps them to replay (lost: known not
 * committed; unknown: the mark will tell), taking them out of *batch. */
void my_batch_committed(my_store *s, my_write **batch);
void my_batch_lost(my_store *s, my_write **batch, int slot);
void my_batch_unknown(my_store *s, my_write **batch, int slot, int64_t token);
/* Reports as failed, and drops, the asynchronous writes to replay of slot that have
 * been failing for MY_ASYNC_REPORT_US. */
void my_give_up_stale(my_store *s, int slot);
/* Whether slot has writes to replay, claims to put back or a batch to resolve. */
bool my_slot_owed(const my_store *s, int slot);
/* At close: reports the writes still unresolved as failed and frees them. */
void my_unresolved_free(my_store *s, my_unresolved *u);

/* ---- the driver's copies (copies.c; my_async_copy: write.h) ---- */
/* Frees a list of copies, reporting each: with its own result when rc is TASKER_OK,
 * else with rc and msg. Call without commit_lock. */
void my_owned_release(my_store *s, my_write *list, int rc, const char *msg);

#endif
