/* Internal to the MySQL / MariaDB driver: what its parts share. The parts, one job each:
 *   url.c, mysql.c   the URL; opening, closing, connections and their pool
 *   schema.c         the tables and their migrations
 *   stmt.c           every statement's SQL, binding parameters, reading rows
 *   ops.c, exec.c    the operations: tasks, schedules, events (ops.c); executions
 *                    (exec.c): adds, claims (starts), fenced outcomes, reads
 *   lanes.c          the group commit: the shared writer (storage/commit.h) bound to
 *                    lanes, each a commit slot with its own connection
 *   batch.c          running one batch of writes as one transaction, and its retries
 *   bulk.c           a batch's writes of one kind as one array-bound statement
 *   resolve.c        batches whose COMMIT was cut off: what committed, what to replay
 *   copies.c         the driver's own copies of asynchronous writes
 *   retain.c         retention per batch
 *   lifecycle.c      the job lifecycle (storage version 4): cancel, pause, the filtered
 *                    history, unique keys, and the retry stored with each failure
 *   defs.c, herd.c   bulk definitions and the schedules' change counter; a herd's
 *                    retention and fires, a few statements per chunk (issue 14)
 * A start (claim) is answered only after the COMMIT that moved its run to running. */
#ifndef TASKER_SRC_MYSQL_INTERNAL_H
#define TASKER_SRC_MYSQL_INTERNAL_H

#include <tasker/storage.h>

#include "storage/commit.h"

#include <mysql.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#define MY_POOL_MAX_DEFAULT 16
#define MY_CONNECT_TIMEOUT_S_DEFAULT 10
#define MY_IO_TIMEOUT_S_DEFAULT 30
#define MY_BATCH_MAX 512 /* writes in one group-commit transaction */
#define MY_CLAIM_READ 32 /* claimed rows read back by one query (MS_EXEC_CLAIM_GET) */
#define MY_COMMITTERS_DEFAULT 1
#define MY_COMMITTERS_MAX 32
#define MY_RETAIN_LAG_US 100000 /* retention deferred under load at most this long */
#define MY_ASYNC_REPORT_US 10000000 /* an asynchronous write failing this long is reported
                                         failed (its submitter retries it; see resolve.c) */
#define MY_RESOLVE_US 5000000 /* a cut-off COMMIT's starts are resolved for this long
                                 before their callers are answered not started */
#define MY_RETRY_MIN_MS 20  /* the first wait before a lane replays a failed batch */
#define MY_RETRY_MAX_MS 500 /* and its longest */

/* A parsed mysql:// URL. Strings are owned (malloc). */
typedef struct my_url {
    char *user, *pass, *host, *db, *socket;
    unsigned port;
    int connect_timeout_s, read_timeout_s, write_timeout_s;
    int pool_max;
    int committers; /* transactions the group commit runs at once */
} my_url;

/* Parses "mysql://USER:PASS@HOST:PORT/DB?opt=v&..." (or mariadb://) into *u.
 * TASKER_EINVAL with a message on a malformed URL or unknown option. */
int my_url_parse(const char *url, my_url *u);
void my_url_clear(my_url *u);

/* The prepared statements, one set per connection, prepared on first use. */
typedef enum {
    MS_TASK_UPSERT,
    MS_TASK_DELETE,
    MS_TASK_GET,
    MS_TASK_LIST,
    MS_SCHEME_UPSERT,
    MS_SCHEME_ID,
    MS_SCHEME_DELETE,
    MS_SCHEME_LIST,
    MS_SCHEME_FIRE,
    MS_EXEC_INSERT,
    MS_EXEC_START,
    MS_EXEC_STATUS,
    MS_EXEC_UPDATE,
    MS_EXEC_UNSTART,
    MS_EXEC_GET,
    MS_EXEC_LIST_TASK,
    MS_EXEC_LIST_TASK_LIMIT,
    MS_EXEC_LIST_ALL,
    MS_EXEC_LIST_ALL_LIMIT,
    MS_EXEC_PENDING,
    MS_EXEC_PENDING_LIMIT,
    MS_EXEC_RUNNING_NODES,
    MS_EXEC_INTERRUPT_NODE,
    MS_RETAIN_BOUNDARY,
    MS_RETAIN_DELETE,
    MS_EVENT_INSERT,
    MS_EVENT_LIST,
    MS_BEGIN,
    MS_EXEC_INSERT_BULK,
    MS_EXEC_START_BULK,
    MS_EVENT_INSERT_BULK,
    MS_EXEC_UPDATE_BULK,
    MS_MARK_SET,
    MS_MARK_GET,
    MS_MARK_DROP,
    MS_EXEC_CLAIM_GET,
    MS_EXEC_CLAIM_LOCK,
    MS_TASK_RETENTION,
    MS_EXEC_RETRY,
    MS_COUNT
} my_stmt_id;

struct my_store;

typedef struct my_conn {
    MYSQL *db;
    MYSQL_STMT *stmt[MS_COUNT];
    uint64_t generation; /* the store's failure generation when this connected */
    bool broken;         /* the server went away under it: close, do not reuse */
    unsigned last_errno; /* of the last failed call, for the group commit's retry */
    int bulk;            /* the server takes array-bound statements: -1 not known yet */
    bool held;           /* a lane's, with autocommit off (storage/mysql/lanes.c), not pooled */
    int wsrep;           /* the server's wsrep_on (a Galera member): -1 not known yet */
    bool causal;         /* wsrep_sync_wait = 1 for the session now (a read after COMMIT) */
    struct my_conn *next_free;
} my_conn;

/* Writes that a batch may send together as one bulk statement (storage/mysql/bulk.c). */
typedef enum { MW_SINGLE = 0, MW_ADD, MW_START, MW_EVENT, MW_UPDATE } my_write_kind;

/* start_task_exec's input. */
typedef struct {
    const char *exec_id, *node_id;
    int64_t start_us;
} my_start_arg;

/* One write waiting for, or inside, a group-commit transaction. */
typedef struct my_write my_write;
typedef int (*my_write_fn)(struct my_store *s, my_conn *c, my_write *w);
struct my_write {
    tasker_commit_job job; /* the shared writer's */
    my_write_fn fn;
    my_write_kind kind;
    const void *arg;   /* the op's input */
    void *out;         /* the op's output, if any */
    int rc;
    bool owned;        /* the driver's copy (copies.c): an asynchronous write */
    bool async;        /* submitted without waiting: on_done reports it */
    /* A start whose compare-and-set matched its row in the open transaction: should the
     * COMMIT be cut off, its row tells whether it committed (resolve.c). */
    bool claimed;
    tasker_storage_done_fn on_done;
    void *udata;
    int64_t failing_since_us; /* async: monotonic time of its first batch that failed */
    char err[512];     /* the message for the caller's thread when rc != OK */
    const char *task_id_for_retention; /* set by add_task_exec: prune this task */
    my_write *next;
};

/* A claim whose COMMIT was cut off and could not be resolved in time: its caller was
 * answered not started, so the row goes back to pending if the claim did commit. */
typedef struct {
    char *exec_id, *node_id;
    int64_t start_us;
} my_claim;

/* A commit slot's batch of unknown outcome and asynchronous writes to replay, resolved
 * before the slot commits again (resolve.c). */
typedef struct {
    bool pending;             /* token and replay_if_lost await the mark */
    int64_t token;
    my_write *replay_if_lost; /* owned copies: replayed unless the mark says committed */
    my_write *replay;         /* owned copies known not committed: replayed */
    my_claim *claims;         /* claims to put back to pending if they committed */
    size_t nclaims;
} my_unresolved;

/* A lane of the group commit (storage/mysql/lanes.c): one seat of a shared writer
 * (storage/commit.h), that is a commit slot (its commit_marks row, its unresolved
 * writes) with its own connection, run by a writer thread. With one committer there
 * are two writers of one lane each: lane 0 takes adds and the single writes (it applies
 * retention), lane 1 the starts, events and outcomes, so that neither kind of batch
 * holds the other's callers. With committers = N, one writer of N lanes, each of which
 * applies retention. Every write is answered after its batch's COMMIT. */
#define MY_WRITERS 2
typedef struct my_lane {
    struct my_store *s;
    int slot;      /* its commit slot: its index in my_store.lane */
    bool retains;  /* applies retention */
    my_conn *conn; /* kept from batch to batch, autocommit off: no BEGIN round trip */
} my_lane;

typedef struct my_store {
    tasker_storage base;
    my_url url;
    char where[300]; /* "user@host:port/db" for messages */

    pthread_mutex_t pool_lock; /* guards the free list, conn_count, generation */
    pthread_cond_t pool_cond;
    my_conn *free_list;
    int conn_count;
    uint64_t generation; /* bumped when a connection is found lost */

    pthread_mutex_t commit_lock; /* guards async_owed */
    tasker_commit *writer[MY_WRITERS]; /* the group commit's writers (lanes.c) */
    int nwriters;
    my_lane lane[MY_COMMITTERS_MAX + 1]; /* each used by one writer thread at a time */
    int64_t store_id;   /* this open store's row in commit_marks */
    int64_t batch_seq;  /* the last batch token handed out; atomic */
    my_unresolved unresolved[MY_COMMITTERS_MAX + 1]; /* each touched by its slot's leader */
    char **retain_tasks;     /* tasks to prune (storage/mysql/retain.c); lane 0's leader's */
    size_t retain_n;
    int64_t retain_since_us; /* monotonic: when the first of them was remembered */
    bool closing;            /* the last batch, at close: one attempt, no reconnecting */
    size_t async_owed;   /* asynchronous writes accepted and not yet reported */
    int64_t last_log_us; /* monotonic: the last failure written to stderr (batch.c) */
    /* Claims of the cluster path (claim.c) whose COMMIT's outcome is unknown (the
     * connection was lost during it, or the read after it failed): their rows are put
     * back to pending, where still as the claim left them, before the next claim. */
    /* When a claim last met a conflict (monotonic; claim.c spreads claims after one). */
    _Atomic int64_t claim_conflict_us;
    pthread_mutex_t claims_lock; /* guards claims_unknown and nclaims_unknown */
    my_claim *claims_unknown;
    size_t nclaims_unknown;
    FILE *trace; /* TASKER_MYSQL_TRACE=DIR: claim, commit and verify lines; else NULL */
} my_store;

/* mysql.c: thread rules, connections and the pool. */
int my_thread_enter(void);
int my_conn_get(my_store *s, my_conn **out);
void my_conn_put(my_store *s, my_conn *c);
/* Sets the thread's error for a failed call on c, marks c broken if the server went
 * away, and returns TASKER_ESTORAGE. what names the operation. */
int my_fail_conn(my_store *s, my_conn *c, const char *what);
int my_fail_stmt(my_store *s, my_conn *c, MYSQL_STMT *st, const char *what);
/* True when err means the connection is gone (the server restarted, network cut). */
bool my_errno_is_lost(unsigned err);

/* storage/mysql/schema.c: migrations. */
int my_migrate(my_store *s, my_conn *c);
/* For tests: when set (1 .. latest - 1), a store opened migrates only up to that
 * version, so that an upgrade from it can be tested. 0 in production. */
extern int my_test_schema_target;

/* storage/mysql/stmt.c: statements, parameters and rows. */
MYSQL_STMT *my_stmt(my_store *s, my_conn *c, my_stmt_id id);
/* Runs one statement with no parameters and no rows (DDL, SET), prepared and freed. */
int my_exec_once(my_store *s, my_conn *c, const char *sql);
void my_bind_str(MYSQL_BIND *b, const char *s, unsigned long *len);
void my_bind_i64(MYSQL_BIND *b, const int64_t *v);
void my_bind_int(MYSQL_BIND *b, const int *v);
/* Executes statement id with params; *affected gets the matched rows (may be NULL). */
int my_run(my_store *s, my_conn *c, my_stmt_id id, MYSQL_BIND *params, uint64_t *affected);

typedef enum { MC_STR, MC_I64, MC_INT, MC_BOOL } my_col_type;
typedef struct {
    my_col_type type;
    size_t offset; /* into the record */
} my_col;
/* Executes a query and reads every row into a malloc'd array of records of rec_size
 * bytes, each column into its field. *out NULL and *n 0 when no row. */
int my_query(my_store *s, my_conn *c, my_stmt_id id, MYSQL_BIND *params, const my_col *cols,
             int ncols, size_t rec_size, void **out, size_t *n);

/* storage/mysql/lanes.c: group commit, on the shared writer (storage/commit.h). Queues
 * w, and returns once the transaction holding it committed (or failed), with w->rc;
 * sets the thread's message on failure. */
int my_write_submit(my_store *s, my_write *w);
void my_commit_init(my_store *s);
void my_commit_free(my_store *s);
/* Queues w, a driver-owned asynchronous write (my_async_copy), without waiting: a
 * writer commits it and reports it through w->on_done. */
void my_write_submit_async(my_store *s, my_write *w);
/* Queues the n writes (all of one lane) together and waits for each; each ws[i].rc and
 * ws[i].err hold its own result. */
int my_write_submit_many(my_store *s, my_write *ws, size_t n);
/* Sets the lanes up (url.committers) and starts the writers. */
int my_writer_start(my_store *s);
/* Commits what is queued, stops the writers, then, on a connection at hand (or when
 * asynchronous writes are owed), commits what each lane still owes (deferred
 * retention, writes to replay, claims to put back) in one last batch, and gives the
 * lanes' connections back to the pool (autocommit on again), or closes them. */
void my_writer_stop(my_store *s);
/* Whether a connection made since the server was last lost is at hand. */
bool my_conn_at_hand(my_store *s);
/* The connection for a batch of l, and giving it back after. */
int my_lane_conn(my_lane *l, my_conn **out);
void my_lane_conn_done(my_lane *l, my_conn *c);

/* storage/mysql/batch.c: runs a batch of lane l on commit slot slot until it committed
 * or failed for good; on return *batch holds only the callers' writes, each with its
 * result (the driver's copies are reported, freed, or kept to replay). */
void my_run_batch(my_lane *l, my_write **batch, int slot);
/* True when err ends the transaction, not just the statement, and the batch may simply
 * run again: a deadlock or a Galera certification failure (1213), a lock wait timeout
 * (1205), a Galera member not ready (1047), or the connection lost before COMMIT. */
bool my_errno_retries(unsigned err);
/* True when the last failed statement on c may have ended its transaction, so that the
 * batch must fail (and run again) rather than go on: a lost connection, or any server
 * error but the few known to undo only the statement (a duplicate key, a missing or
 * referenced row, a value that does not fit). A lane's connection has autocommit off:
 * after a rollback its next statements open a new transaction, which COMMIT then
 * commits without the writes made before the failure. On Galera, statements fail so
 * in mid-transaction with errors of their own (1180 "Error while appending streaming
 * replication fragment", 1047, 1317, ...) when a member loses the primary component or
 * a transaction is aborted by a replicated one; a start answered after such a COMMIT
 * would run a claim that had been rolled back, while another node claims the run. */
bool my_trx_lost(const my_conn *c);
/* Writes msg (printf-style) to stderr, at most once per few seconds per store: a store
 * that is away is said, not hammered into the log. */
void my_log_failure(my_store *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* For tests: when set, a leader calls it just before its COMMIT, with the batch; a
 * nonzero return replaces the COMMIT by a fault: MY_FAULT_LOST, the transaction rolled
 * back (as when the connection is lost before COMMIT is sent); MY_FAULT_UNKNOWN, rolled
 * back but its outcome unknown to the driver (as when COMMIT is cut off);
 * MY_FAULT_UNKNOWN_COMMITTED, committed but its outcome unknown; MY_FAULT_DEADLOCK,
 * rolled back as by a deadlock or a Galera certification failure at COMMIT. NULL in
 * production. */
enum { MY_FAULT_LOST = 1, MY_FAULT_UNKNOWN, MY_FAULT_UNKNOWN_COMMITTED, MY_FAULT_DEADLOCK,
       /* claims only (claim.c): rolled back, its rows taken by another node ("bf-winner")
        * as a replicated writeset would take them, yet COMMIT answered success: what a
        * Galera member may answer for a transaction a replicated one aborted. */
       MY_FAULT_FALSE_SUCCESS };
extern int (*my_test_before_commit)(const my_write *batch);
/* For tests: when set, a claim of the cluster path (claim.c) that took runs calls it
 * just before its COMMIT; a nonzero return replaces the COMMIT by that fault, as above
 * (a cut-off COMMIT's runs are then put back to pending). NULL in production. */
extern int (*my_test_before_claim_commit)(void);
/* For tests: when set, resolving a cut-off COMMIT's claims (resolve.c), and putting back
 * a cluster claim of unknown outcome (claim.c), call it first; a nonzero return makes
 * that fail as if the server stayed away. */
extern int (*my_test_before_resolve)(void);
/* For tests: when true, claims (claim.c) and the group commit's starts (resolve.c) read
 * their rows back after COMMIT as on a Galera member (wsrep_on), also on a single
 * server. False in production. */
extern bool my_test_verify_claims;

/* storage/mysql/resolve.c: batches that did not, or may not, have committed. */
/* Drops this store's commit mark, and any left by stores gone for a week (cutoff_us). */
int my_marks_drop(my_store *s, my_conn *c, int64_t cutoff_us);
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

/* storage/mysql/copies.c: the driver's copies of asynchronous writes. */
/* An asynchronous copy of w (an event or an outcome, its input copied), reported
 * through done(udata, ...); NULL (with the thread's message set) when out of memory. */
my_write *my_async_copy(const my_write *w, tasker_storage_done_fn done, void *udata);
/* Frees a list of copies, reporting each: with its own result when rc is TASKER_OK,
 * else with rc and msg. Call without commit_lock. */
void my_owned_release(my_store *s, my_write *list, int rc, const char *msg);

/* storage/mysql/retain.c: retention per batch. Prunes the tasks that got new executions, now
 * or (with one committer, under load) a little later; *pruned when it did prune the
 * remembered tasks, which my_retain_forget() drops once the batch committed. */
int my_retain_batch(my_store *s, my_conn *c, my_write *batch, bool *pruned);
void my_retain_forget(my_store *s);
/* Prunes one task now, inside c's open transaction. */
int my_retain_task(my_store *s, my_conn *c, const char *task_id);

/* storage/mysql/bulk.c: a batch's writes of one kind as one array-bound statement. */
/* Runs the n writes of one kind all or nothing: as one bulk statement when it can,
 * else one by one inside a savepoint that the first failure rolls back. Returns the
 * first failure's code, with its message. */
int my_bulk_whole(my_store *s, my_conn *c, my_write_kind kind, my_write **w, size_t n);
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

/* storage/mysql/ops.c: reads, the clock, and the operations table. */
typedef int (*my_read_fn)(my_store *s, my_conn *c, void *ctx);
/* Runs a read on a pooled connection; retried once if the connection was lost. */
int my_read(my_store *s, my_read_fn fn, void *ctx);
/* A task's columns in MS_TASK_UPSERT's order (task_id, handler, param, descr, the
 * policy columns, paused): p[MY_TASK_NCOLS]; len and *paused must outlive the binds. */
#define MY_TASK_NCOLS 13
void my_bind_task(MYSQL_BIND *p, unsigned long len[4], int *paused, const tasker_task *t);
int64_t my_now_us(my_store *s);
int64_t my_real_now_us(void); /* the system clock, whatever the core's clock says */
extern const tasker_storage_ops my_ops;
void my_store_close(tasker_storage *st);

/* storage/mysql/exec.c: executions: adds, claims, fenced outcomes, reads. */
/* A claimed start's row, read back (bulk.c, resolve.c): TASKER_OK when the row is
 * running with this start's node and start time, else why not (ESTATE, ENOTFOUND),
 * with the write's message set. */
typedef struct {
    char *exec_id;
    int status;
    char *node_id;
    int64_t start_us;
    int64_t run_at_us; /* job lifecycle: a start takes a run only once due, */
    bool held;         /* and not held by its task (paused, or limited: left to claims) */
} my_claim_row;
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
/* storage/mysql/retain.c: the task's retention limits, its own (tasker_task_opts) where
 * set, else the handle's; a removed task's are the handle's. */
int my_task_limits(my_store *s, my_conn *c, const char *task_id, int *keep, int64_t *age_s);
int my_add_task_exec(tasker_storage *st, const tasker_task_exec *e);
int my_add_task_execs(tasker_storage *st, const tasker_task_exec *v, size_t n);
int my_start_task_execs(tasker_storage *st, const char *const *ids, size_t n,
                        int64_t start_us, const char *node_id, int *rcs);
int my_start_task_exec(tasker_storage *st, const char *exec_id, int64_t start_us,
                       const char *node_id);
int my_update_task_exec(tasker_storage *st, const tasker_task_exec *e);
int my_get_task_exec(tasker_storage *st, const char *exec_id, tasker_task_exec *out);
int my_list_task_execs(tasker_storage *st, const char *task_id, size_t limit,
                       tasker_task_exec **out, size_t *n);
int my_list_pending_execs(tasker_storage *st, size_t limit, tasker_task_exec **out,
                          size_t *n);
int my_interrupt_dead(tasker_storage *st, tasker_node_alive_fn alive, void *udata,
                      size_t *n);
int my_update_task_exec_async(tasker_storage *st, const tasker_task_exec *e,
                              tasker_storage_done_fn done, void *udata);

/* storage/mysql/lifecycle.c: the job lifecycle (storage version 4). */
int my_cancel_task_exec(tasker_storage *st, const char *exec_id, int64_t now_us,
                        tasker_exec_status *was);
int my_set_task_paused(tasker_storage *st, const char *task_id, bool paused);
int my_set_scheme_paused(tasker_storage *st, const char *scheme_id, bool paused,
                         int64_t now_us);
int my_list_task_execs_filter(tasker_storage *st, const tasker_exec_filter *f,
                              int64_t after_queued_us, const char *after_exec_id, size_t limit,
                              tasker_task_exec **out, size_t *n);
int my_find_unique_exec(tasker_storage *st, const char *task_id, const char *key,
                        char exec_id_out[TASKER_ID_SIZE]);
int my_list_cancel_requests(tasker_storage *st, const char *node_id, tasker_task_exec **out,
                            size_t *n);
/* storage/mysql/defs.c and storage/mysql/herd.c: bulk definitions and herds (storage
 * version 4, issue 14). */
int my_add_definitions(tasker_storage *st, const tasker_task *tasks, size_t nt,
                       const tasker_task_scheme *schemes, size_t ns);
int my_schemes_version(tasker_storage *st, uint64_t *out);
int my_set_scheme_fires(tasker_storage *st, const char *const *ids, const int64_t *fire_us,
                        size_t n);
/* In c's open transaction: moves the schedules' change counter (migration 6), for a
 * change of what fires (a task or schedule added, replaced, removed, paused). */
int my_bump_schemes(my_store *s, my_conn *c);
/* In c's open transaction: retention for the tasks of a bulk add (duplicates allowed),
 * a few statements per 512 tasks rather than a few per task. */
int my_retain_tasks(my_store *s, my_conn *c, const char *const *task_ids, size_t n);
/* In c's open transaction: whether every task of task_ids (duplicates allowed) exists,
 * into *all; those found are locked in share mode until the transaction ends. */
/* Whether a task's runs are held (schema 7): a start leaves them to claims. SQL on tasks. */
#define HELD_BY_TASK "(paused <> 0 OR max_concurrency > 0)"
/* *all: every task exists and none is held (share-locked until the transaction ends);
 * the bulk add stores held = 0, so a held task's adds go one by one. */
int my_tasks_exist(my_store *s, my_conn *c, const char *const *task_ids, size_t n, bool *all);
/* In c's open transaction, after the outcome e was written: stores its retry when it
 * failed or was interrupted, attempts are left, and e->attempt is not negative
 * (tasker_no_retry). */
int my_store_retry(my_store *s, my_conn *c, const tasker_task_exec *e);
/* Writes whether the task's pending runs are held (a start leaves them to claims: the
 * task is paused or limited), after the task's row was written in this transaction. */
int my_task_held_sync(my_store *s, my_conn *c, const char *task_id);
/* The same for the outcomes w[0..n) of a bulk statement (storage/mysql/bulk.c). */
int my_store_retries(my_store *s, my_conn *c, my_write **w, size_t n);
/* In c's open transaction, before an interrupt marks node's running runs (node_id NULL:
 * those with no node): their ids, locked (FOR UPDATE), into a new array (*ids, *n; free
 * with my_free_ids). After the marking, my_store_retries_of stores the retries of those
 * of them that it marked interrupted. */
int my_node_running(my_store *s, my_conn *c, const char *node_id, char ***ids, size_t *n);
int my_store_retries_of(my_store *s, my_conn *c, char **ids, size_t n);
void my_free_ids(char **ids, size_t n);
/* The columns of an execution as EXEC_COLS lists them (storage/mysql/stmt.c), for
 * my_cl_fetch / my_fetch_exec, and the same as my_query columns. */
#define MY_EXEC_NCOLS 19
#define MY_EXEC_COLS                                                                     \
    "exec_id, task_id, scheme_id, scheduled_us, queued_us, start_us, end_us, status, "  \
    "success, result, error, node_id, attempt, retry_of, run_at_us, priority, param, "   \
    "unique_key, timeout_ms"
extern const my_col my_exec_cols[MY_EXEC_NCOLS];
/* Fetches the next row of st (selecting EXEC_COLS) into *e: 1 a row, 0 no more, or a
 * negative tasker code. */
int my_fetch_exec(my_store *s, my_conn *c, MYSQL_STMT *st, tasker_task_exec *e);

/* storage/mysql/nodes.c and storage/mysql/claim.c: cluster mode (storage version 3). */
int my_node_beat(tasker_storage *st, const tasker_node *self, int64_t *store_now_us);
int my_list_nodes(tasker_storage *st, int64_t since_us, tasker_node **out, size_t *n,
                  int64_t *store_now_us);
int my_node_gone(tasker_storage *st, const char *node_id);
int my_interrupt_expired(tasker_storage *st, int64_t lease_us, size_t *n);
int my_find_active_exec(tasker_storage *st, const char *scheme_id,
                        char exec_id_out[TASKER_ID_SIZE]);
int my_claim_task_execs(tasker_storage *st, const char *node_id, const char *const *handlers,
                        size_t nh, size_t max, int64_t now_us, tasker_task_exec **out,
                        size_t *n);
/* Whether c's server is a Galera member with replication on (@@wsrep_on), asked once
 * per connection; false on a server without wsrep (MySQL). TASKER_OK or the failure. */
int my_conn_wsrep(my_store *s, my_conn *c, bool *on);
/* Puts back to pending the rows of the claims of unknown outcome (s->claims_unknown)
 * still as their claim left them; TASKER_OK when none is left. Called before each
 * claim, and once at close (closing: a single try). */
int my_claims_settle(my_store *s);
/* At close: frees what my_claims_settle could not settle, saying so on stderr. */
void my_claims_free(my_store *s);
/* TASKER_MYSQL_TRACE: opens s->trace (DIR/mysql-trace.PID) when the variable is set. */
void my_trace_open(my_store *s);
/* Writes one line to s->trace (when open), prefixed with the monotonic time in us. */
void my_trace(my_store *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Their statement helpers: prepared per call (params may be NULL). */
typedef struct {
    int64_t *i64; /* an integer column, or */
    char **str;   /* a string column (malloc'd; NULL for SQL NULL) */
} my_cl_col;
int my_cl_prepare(my_store *s, my_conn *c, const char *sql, MYSQL_BIND *params,
                  MYSQL_STMT **out, const char *what);
int my_cl_run(my_store *s, my_conn *c, const char *sql, MYSQL_BIND *params,
              uint64_t *affected, const char *what);
/* 1 = a row, 0 = no more, negative = a tasker error code. */
int my_cl_fetch(my_store *s, my_conn *c, MYSQL_STMT *st, my_cl_col *cols, int n);
int my_cl_store_now(my_store *s, my_conn *c, int64_t *now_us);
int my_cl_begin(my_store *s, my_conn *c, const char *what);
bool my_cl_retryable(unsigned err);

#endif
