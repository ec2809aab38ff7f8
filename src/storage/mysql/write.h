/* The MySQL driver's write path (layer 3), as the parts above see it: the group commit
 * (lanes.c), on the shared writer (storage/commit.h). A write is a my_write whose
 * function runs inside a batch's transaction; every caller is answered after its
 * batch's COMMIT. Its inside (one batch, bulk statements, cut-off COMMITs, copies) is
 * declared in batch.h. It calls only rows.h, stmt.h and conn.h. */
#ifndef TASKER_SRC_MYSQL_WRITE_H
#define TASKER_SRC_MYSQL_WRITE_H

#include "storage/mysql/rows.h"

/* ---- the group commit (lanes.c) ---- */
/* Queues w, and returns once the transaction holding it committed (or failed), with
 * w->rc; sets the thread's message on failure. */
int my_write_submit(my_store *s, my_write *w);
/* Queues the n writes (all of one lane) together and waits for each; each ws[i].rc and
 * ws[i].err hold its own result. */
int my_write_submit_many(my_store *s, my_write *ws, size_t n);
/* Queues w, a driver-owned asynchronous write (my_async_copy), without waiting: a
 * writer commits it and reports it through w->on_done. */
void my_write_submit_async(my_store *s, my_write *w);

/* At open and close (mysql.c): the lanes' and commit lock's setup and teardown. */
void my_commit_init(my_store *s);
void my_commit_free(my_store *s);
/* Sets the lanes up (url.committers) and starts the writers. */
int my_writer_start(my_store *s);
/* Commits what is queued, stops the writers, then, on a connection at hand (or when
 * asynchronous writes are owed), commits what each lane still owes (deferred
 * retention, writes to replay, claims to put back) in one last batch, and gives the
 * lanes' connections back to the pool (autocommit on again), or closes them. */
void my_writer_stop(my_store *s);

/* ---- copies of asynchronous writes (copies.c) ---- */
/* An asynchronous copy of w (an event or an outcome, its input copied), reported
 * through done(udata, ...); NULL (with the thread's message set) when out of memory. */
my_write *my_async_copy(const my_write *w, tasker_storage_done_fn done, void *udata);

/* ---- bulk statements (bulk.c), for a write's own function ---- */
/* Runs the n writes of one kind all or nothing: as one bulk statement when it can,
 * else one by one inside a savepoint that the first failure rolls back. Returns the
 * first failure's code, with its message. */
int my_bulk_whole(my_store *s, my_conn *c, my_write_kind kind, my_write **w, size_t n);

/* ---- commit marks (resolve.c) ---- */
/* Drops this store's commit mark, and any left by stores gone for a week (cutoff_us). */
int my_marks_drop(my_store *s, my_conn *c, int64_t cutoff_us);

#endif
