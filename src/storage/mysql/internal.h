/* Internal to the MySQL / MariaDB driver: the types and limits that every part shares,
 * and the seams the tests reach (they include this header alone). The driver is read
 * as layers; a part calls only the parts below it, through their headers:
 *
 *   5                mysql.c      opening and closing the store, the operations table
 *   4  operations.h  ops.c        the operations: tasks, schedules and events (ops.c),
 *                    exec.c       executions (exec.c), bulk definitions and fires
 *                    defs.c       (defs.c), cancel, pause and the filtered history
 *                    lifecycle.c  (lifecycle.c), nodes and leases (nodes.c), the
 *                    nodes.c      cluster claim (claim.c); none calls another
 *                    claim.c
 *   3  write.h       lanes.c      the group commit: lanes on the shared writer
 *      group.h       batch.c      (storage/commit.h), one batch as one transaction,
 *                    bulk.c       its writes in bulk, cut-off COMMITs resolved, the
 *                    resolve.c    driver's copies of asynchronous writes; write.h is
 *                    copies.c     what it offers, group.h its inside
 *   2  rows.h        rows.c       rows several parts write in their transaction: a
 *                                 start's row read back, retries, holds, the counter
 *      retain.h      retain.c     retention: per task, per batch, and a bulk add's
 *                    herd.c       (a herd's) a chunk at a time
 *   1  stmt.h        stmt.c       every statement's SQL, binding, reading rows; the
 *                    schema.c     schema and its migrations
 *      conn.h        conn.c       connections and their pool, what a failure means,
 *                    url.c        clocks, the trace; the URL
 *
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
    /* An add whose task was read already, share-locked, in this transaction (fires
     * stored started, exec.c): the bulk statement need not read it again. */
    bool task_known;
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
    /* Where the heartbeat's sweep of unique keys of gone runs stopped (nodes.c):
     * the last (task_id, unique_key) read, NULL to start from the first. */
    char *key_sweep_task, *key_sweep_key;
    FILE *trace; /* TASKER_MYSQL_TRACE=DIR: claim, commit and verify lines; else NULL */
} my_store;

/* ---- reached by the tests too (the URL is above, with my_url) ---------------------- */

/* conn.c: true when the last failed statement on c may have ended its transaction, so that the
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
/* The same in place of the COMMIT of fires stored started (exec.c, add_started_execs). */
extern int (*my_test_before_fire_commit)(void);
/* For tests (defined in conn.c): when set, resolving a cut-off COMMIT's claims
 * (resolve.c), and putting back a cluster claim of unknown outcome (claim.c), call it
 * first; a nonzero return makes that fail as if the server stayed away. */
extern int (*my_test_before_resolve)(void);
/* For tests (conn.c): when true, claims (claim.c) and the group commit's starts (resolve.c) read
 * their rows back after COMMIT as on a Galera member (wsrep_on), also on a single
 * server. False in production. */
extern bool my_test_verify_claims;
/* For tests (schema.c): when set (1 .. latest - 1), a store opened migrates only up to that
 * version, so that an upgrade from it can be tested. 0 in production. */
extern int my_test_schema_target;

#endif
