/* Internal: the SQLite driver's shared state, shared by sqlite*.c.
 *
 * One store has one writer connection, used only by the thread that leads the current
 * group commit (the shared writer, storage/commit.h; its SQLite side: storage/sqlite/commit.c), and a small pool of reader connections (storage/sqlite/read.c).
 * WAL mode lets the readers run while the writer commits. Every statement is prepared
 * once per connection, at open, and reused.
 */
#ifndef TASKER_SRC_SQLITE_INTERNAL_H
#define TASKER_SRC_SQLITE_INTERNAL_H

#include <tasker/storage.h>

#include "storage/commit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <sys/types.h>

/* The schema version this library writes (PRAGMA user_version). */
#define SQ_SCHEMA_VERSION 7
#define SQ_MAX_READERS 4
#define SQ_DEFAULT_BUSY_TIMEOUT_MS 10000
#define SQ_MSG_SIZE 512
/* Times the group-commit leader takes in newly queued requests before committing. */
#define SQ_BATCH_ROUNDS 2
/* The page size of a new database file. SQLite's default: the writer's batches are
 * large, and bigger pages mean fewer WAL frames (two pwrites each) per commit. */
#define SQ_PAGE_SIZE "4096"
/* WAL pages that trigger a checkpoint (SQLite's default is 1000): 16 MB of 4 KiB pages,
 * 4 MB of ours. */
#define SQ_WAL_AUTOCHECKPOINT_PAGES 4000
/* How long the leader waits for writers it answered early to queue their next write. */
#define SQ_GATHER_US 50
/* Asynchronous writes held back while a herd's fires are stored (commit.c): at most
 * this long, at most this many, and an end looked for this often. */
#define SQ_HOLD_MAX_US 500000
#define SQ_HOLD_MAX 16384
#define SQ_HOLD_CHECK_MS 50
/* An asynchronous write whose transaction failed as a whole (its COMMIT refused, the
 * file replaced) is held and tried again, up to this many transactions in all. */
#define SQ_ASYNC_TRIES 8
/* Age pruning over all tasks runs at most once per this interval. */
#define SQ_AGE_PRUNE_INTERVAL_US 1000000

/* The columns of an execution row, in the order sq_row_exec reads them (every query
 * that returns executions selects these). */
#define SQ_EXEC_COLS                                                                     \
    "exec_id, task_id, scheme_id, scheduled_us, queued_us, start_us, end_us, status, "  \
    "success, result, error, node_id, attempt, retry_of, run_at_us, priority, param, "    \
    "unique_key, timeout_ms"

/* Statements of the writer connection. */
enum {
    W_BEGIN,
    W_COMMIT,
    W_ROLLBACK,
    W_SAVEPOINT,
    W_RELEASE,
    W_ROLLBACK_TO,
    W_ADD_TASK,
    W_REMOVE_TASK,
    W_ADD_SCHEME,
    W_REMOVE_SCHEME,
    W_SET_FIRE,
    W_SCHEME_EXISTS,
    W_ADD_EXEC,
    W_START_EXEC,
    W_EXEC_STATUS,
    W_UPDATE_EXEC,
    W_ADD_EVENT,
    W_INTERRUPT_NODE,
    W_RETRY,          /* job lifecycle: the retry of a failed or interrupted run */
    W_RET_NTH,
    W_RET_DELETE_OLDER,
    W_RET_DELETE_AGE_TASK,
    W_RET_DELETE_AGE_ALL,
    W_TASK_RETENTION,
    W_TASKS_WITH_AGE,
    W_EXEC_HOLDER,
    W_FIRE_TASK, /* a fire's task, to store its run started (storage/sqlite/fire.c) */
    W_ADD_EXEC_KNOWN, /* W_ADD_EXEC for a task just read in the transaction (fire.c) */
    W_COUNT
};

/* Statements of a reader connection. */
enum {
    R_GET_TASK,
    R_LIST_TASKS,
    R_LIST_SCHEMES,
    R_GET_EXEC,
    R_LIST_EXECS_TASK,
    R_LIST_EXECS_ALL,
    R_LIST_PENDING,
    R_LIST_EVENTS,
    R_EXEC_EXISTS,
    R_RUNNING_NODES,
    R_COUNT
};

typedef enum {
    SQ_ADD_TASK,
    SQ_REMOVE_TASK,
    SQ_ADD_SCHEME,
    SQ_REMOVE_SCHEME,
    SQ_SET_FIRE,
    SQ_ADD_EXEC,
    SQ_ADD_EXECS,
    SQ_START_EXEC,
    SQ_START_EXECS,
    SQ_UPDATE_EXEC,
    SQ_ADD_EVENT,
    SQ_INTERRUPT,
    SQ_SET_FIRES, /* version 4: bulk definitions */
    SQ_DEFINE,
    SQ_ADD_STARTED, /* version 4: a herd's fires stored and started (storage/sqlite/fire.c) */
    SQ_CLUSTER /* version 3 operations: u.cluster says which (storage/sqlite/cluster.c) */
} sq_kind;

struct sq_cluster_op;

/* One write, queued for the group commit. A synchronous one lives on the caller's
 * stack: the caller blocks until the leader has committed (or failed) it. An
 * asynchronous one (async) is the driver's, with its own copies of the strings, and
 * reports through done once committed or failed. */
typedef struct sq_req {
    tasker_commit_job job; /* the shared writer's */
    sq_kind kind;
    bool async;
    tasker_storage_done_fn on_done; /* async only; may be NULL */
    void *udata;
    union {
        tasker_task_event event;
        tasker_task_exec exec;
    } own; /* async only: the copy u points at */
    union {
        const tasker_task *task;
        const tasker_task_scheme *scheme;
        const tasker_task_exec *exec;
        struct {
            const tasker_task_exec *v;
            size_t n;
        } execs;
        struct {
            const char *const *ids;
            size_t n;
            int64_t us;
            const char *node_id;
            int *rcs;
        } starts;
        const tasker_task_event *event;
        struct {
            const char *id;
            int64_t us;
            const char *node_id;
        } key;
        struct sq_cluster_op *cluster;
        struct { /* SQ_DEFINE */
            const tasker_task *tasks;
            size_t nt;
            const tasker_task_scheme *schemes;
            size_t ns;
        } define;
        struct { /* SQ_ADD_STARTED */
            const tasker_task_exec *v;
            size_t n;
            int64_t us;
            const char *node_id;
            const char *const *handlers; /* NULL: any handler */
            size_t nh;
            size_t max_start;
            bool *started;
        } fire;
        struct { /* SQ_SET_FIRES */
            const char *const *ids;
            const int64_t *us;
            size_t n;
        } fires;
        struct {
            char *const *nodes; /* the dead nodes' ids */
            size_t n_nodes;
            int64_t now_us;
        } intr;
    } u;
    char *id_out;       /* SQ_ADD_SCHEME: receives the stored scheme id */
    size_t count_out;   /* SQ_INTERRUPT: executions marked */
    uint64_t early_gen; /* set when answered before its batch's commit */
    const void *thread; /* who submitted it (commit.c: a thread's writes stay in order) */
    int rc;
    bool final;         /* leader only: its result stands, do not run it again */
    bool lost_commit;   /* its transaction, not itself, failed: an async one is retried */
    int commit_tries;   /* transactions of an async request that failed (SQ_ASYNC_TRIES) */
    struct sq_req *next; /* the batch's list, as the leader runs it */
    char msg[SQ_MSG_SIZE];
} sq_req;

typedef struct sq_reader {
    sqlite3 *db;
    sqlite3_stmt *stmt[R_COUNT];
    struct sq_reader *next;
} sq_reader;

typedef struct sq_store {
    tasker_storage base;
    char *path;
    int busy_timeout_ms;
    int sync_full; /* 1 = synchronous=FULL, 0 = NORMAL */

    dev_t file_dev; /* the database file's identity at open (storage/sqlite/guard.c) */
    ino_t file_ino;
    sqlite3 *wdb; /* the writer; used only by the current leader */
    sqlite3_stmt *wstmt[W_COUNT];
    int64_t last_age_prune_us; /* used only by the leader */

    /* The shared writer: one seat, one thread (storage/commit.h); NULL when closed. */
    tasker_commit *writer;
    pthread_mutex_t gen_lock; /* guards gen_waiters, and gen_cond's waits */
    /* Batches are numbered (batch_gen, by the leader). done_gen: the last batch whose
     * commit has ended. A thread that got an early answer remembers its batch; its next
     * read waits until done_gen reaches it, so a thread reads what it wrote. */
    uint64_t store_id; /* unique per open store, for the thread's memory of its batch */
    uint64_t batch_gen;
    _Atomic uint64_t early_gen; /* the last batch that answered early (any thread's) */
    _Atomic uint64_t done_gen;
    pthread_cond_t gen_cond;
    int gen_waiters;
    /* Asynchronous requests held back while a herd's fires are stored (commit.c), in
     * order; the leader's only. hold_since_us: when the hold began (monotonic), 0 none. */
    struct sq_req *held_head, *held_tail;
    size_t n_held;
    int64_t hold_since_us;

    pthread_mutex_t readers_lock; /* guards free_readers and n_readers */
    pthread_cond_t reader_freed;
    sq_reader *free_readers;
    int n_readers;
} sq_store;

/* sqlite.c */
/* Opens the store with its schema at target_version (tests build older files with a
 * lower one; such a store is only good for closing). */
tasker_storage *sq_open_version(const char *path_and_options, int target_version);
int64_t sq_now_us(sq_store *s);
int sq_open_conn(sq_store *s, sqlite3 **out, bool reader);
int sq_prepare_all(sq_store *s, sqlite3 *db, const char *const *sql, sqlite3_stmt **stmts,
                   int n);
/* Formats "sqlite: PATH: what: sqlite's message" into buf. */
void sq_format_error(sq_store *s, sqlite3 *db, char *buf, size_t size, const char *what);
/* Sets the thread's message as above and returns TASKER_ESTORAGE. */
int sq_fail(sq_store *s, sqlite3 *db, const char *what);

/* storage/sqlite/schema.c */
int sq_migrate(sq_store *s, sqlite3 *db, int target_version);
int sq_schema_version(sqlite3 *db, int *version);
/* TASKER_OK when a file at version can be brought to target_version; else
 * TASKER_ESTORAGE saying why (a newer tasker wrote it). */
int sq_check_version(sq_store *s, int version, int target_version);
extern const char *const sq_write_sql[W_COUNT];
extern const char *const sq_read_sql[R_COUNT];

/* storage/sqlite/guard.c */
/* Refuses (TASKER_ESTORAGE) a database that is not empty and not tasker's, before
 * anything (the journal mode, a migration) changes it. */
int sq_check_ours(sq_store *s, sqlite3 *db);
/* Records the file's (device, inode) after the writer opened it. */
int sq_file_identity_record(sq_store *s);
/* TASKER_OK while the path still names the file opened; else TASKER_ESTORAGE with msg
 * saying it was deleted or replaced. */
int sq_file_identity_check(sq_store *s, char *msg, size_t size);

/* storage/sqlite/commit.c: queues r, returns once it is committed or failed, with its code
 * (and the thread's message set on failure). */
int sq_submit(sq_store *s, sq_req *r);

/* storage/sqlite/write.c: runs one request inside the leader's transaction; fills r->rc and
 * r->msg. Returns r->rc. */
int sq_exec_req(sq_store *s, sq_req *r);
/* Ends a request's savepoint: released when r->rc is TASKER_OK, else rolled back to;
 * returns r->rc (write.c). */
int sq_savepoint_end(sq_store *s, sq_req *r);
/* Inserts execution e (W_ADD_EXEC; W_ADD_EXEC_KNOWN when its task was read in this
 * transaction); fills r: EEXISTS saying which key clashed, ENOTFOUND for a missing task.
 * Returns r->rc. */
int sq_add_one_exec(sq_store *s, sq_req *r, const tasker_task_exec *e, bool task_known);
/* Checks an id argument: TASKER_EINVAL with the thread's message when empty or long. */
int sq_check_id(const char *what, const char *id);

/* storage/sqlite/fire.c: runs an SQ_ADD_STARTED request (leader). */
int sq_exec_add_started(sq_store *s, sq_req *r);
/* Retention for the tasks that gained executions in this batch, and age pruning when
 * due. Runs inside the transaction; TASKER_OK or TASKER_ESTORAGE with msg filled. */
int sq_retention(sq_store *s, sq_req *batch, char *msg, size_t msg_size);
/* Retention for one task that gained an execution outside the batch's adds (a retry),
 * inside the transaction. TASKER_OK or TASKER_ESTORAGE with msg filled. */
int sq_retain_task(sq_store *s, const char *task_id, char *msg, size_t msg_size);
/* Retention for one task just added to whose own limits are known (0: the handle's),
 * inside the transaction (a fire's task was read already, storage/sqlite/fire.c). */
int sq_retain_known(sq_store *s, const char *task_id, int own_keep, int64_t own_age_s,
                    int64_t now_us, char *msg, size_t msg_size);

/* storage/sqlite/commit.c: waits until every write acknowledged so far is committed. */
void sq_read_barrier(sq_store *s);
/* storage/sqlite/commit.c: queues an asynchronous request (malloc'd, owned from here on). */
void sq_submit_async(sq_store *s, sq_req *r);
/* Creates and starts the shared writer (s->writer). */
int sq_writer_start(sq_store *s);
/* Commits every queued write, then stops and frees the writer. */
void sq_writer_stop(sq_store *s);

/* storage/sqlite/read.c */
sq_reader *sq_reader_get(sq_store *s);
void sq_reader_put(sq_store *s, sq_reader *r);
void sq_readers_close(sq_store *s);

/* The ops of the table, by file. */
int sq_add_task(tasker_storage *st, const tasker_task *task);
int sq_remove_task(tasker_storage *st, const char *task_id);
int sq_add_task_scheme(tasker_storage *st, const tasker_task_scheme *s,
                       char id_out[TASKER_ID_SIZE]);
int sq_remove_task_scheme(tasker_storage *st, const char *scheme_id);
int sq_set_scheme_fire(tasker_storage *st, const char *scheme_id, int64_t fire_us);
int sq_schemes_version(tasker_storage *st, uint64_t *out);
int sq_add_definitions(tasker_storage *st, const tasker_task *tasks, size_t nt,
                       const tasker_task_scheme *schemes, size_t ns);
int sq_set_scheme_fires(tasker_storage *st, const char *const *ids, const int64_t *fire_us,
                        size_t n);
int sq_add_task_exec(tasker_storage *st, const tasker_task_exec *e);
int sq_add_task_execs(tasker_storage *st, const tasker_task_exec *v, size_t n);
int sq_add_started_execs(tasker_storage *st, const tasker_task_exec *v, size_t n,
                         int64_t start_us, const char *node_id, const char *const *handlers,
                         size_t nh, size_t max_start, bool *started);
int sq_start_task_exec(tasker_storage *st, const char *exec_id, int64_t start_us,
                       const char *node_id);
int sq_update_task_exec(tasker_storage *st, const tasker_task_exec *e);
int sq_start_task_execs(tasker_storage *st, const char *const *ids, size_t n, int64_t start_us,
                        const char *node_id, int *rcs);
int sq_add_task_event(tasker_storage *st, const tasker_task_event *ev);
int sq_add_task_event_async(tasker_storage *st, const tasker_task_event *ev,
                            tasker_storage_done_fn done, void *udata);
int sq_update_task_exec_async(tasker_storage *st, const tasker_task_exec *e,
                              tasker_storage_done_fn done, void *udata);
int sq_interrupt_dead(tasker_storage *st, tasker_node_alive_fn alive, void *udata,
                      size_t *n);

int sq_get_task(tasker_storage *st, const char *task_id, tasker_task *out);
int sq_list_tasks(tasker_storage *st, tasker_task **out, size_t *n);
int sq_list_task_schemes(tasker_storage *st, tasker_task_scheme **out, size_t *n);
int sq_get_task_exec(tasker_storage *st, const char *exec_id, tasker_task_exec *out);
int sq_list_task_execs(tasker_storage *st, const char *task_id, size_t limit,
                       tasker_task_exec **out, size_t *n);
int sq_list_pending_execs(tasker_storage *st, size_t limit, tasker_task_exec **out,
                          size_t *n);
int sq_list_task_events(tasker_storage *st, const char *exec_id, tasker_task_event **out,
                        size_t *n);
/* The distinct node ids of running executions (for interrupt_dead). */
int sq_running_nodes(sq_store *s, char ***out, size_t *n);

/* storage/sqlite/cluster.c: cluster mode (storage version 3). */
int sq_exec_cluster(sq_store *s, sq_req *r); /* runs an SQ_CLUSTER request (leader) */
/* Refuses a fenced outcome e (the update matched no row): records the refusal as an
 * event of the run when it exists; fills r (ESTATE, or ENOTFOUND). Leader only. */
int sq_fence_refuse(sq_store *s, sq_req *r, const tasker_task_exec *e);
int sq_node_beat(tasker_storage *st, const tasker_node *self, int64_t *store_now_us);
int sq_list_nodes(tasker_storage *st, int64_t since_us, tasker_node **out, size_t *n,
                  int64_t *store_now_us);
int sq_node_gone(tasker_storage *st, const char *node_id);
int sq_interrupt_expired(tasker_storage *st, int64_t lease_us, size_t *n);
int sq_claim_task_execs(tasker_storage *st, const char *node_id, const char *const *handlers,
                        size_t nh, size_t max, int64_t now_us, tasker_task_exec **out,
                        size_t *n);
int sq_set_task_paused(tasker_storage *st, const char *task_id, bool paused);
int sq_set_scheme_paused(tasker_storage *st, const char *scheme_id, bool paused,
                         int64_t now_us);
int sq_cancel_task_exec(tasker_storage *st, const char *exec_id, int64_t now_us,
                        tasker_exec_status *was);
int sq_list_task_execs_filter(tasker_storage *st, const tasker_exec_filter *f,
                              int64_t after_queued_us, const char *after_exec_id,
                              size_t limit, tasker_task_exec **out, size_t *n);
int sq_list_cancel_requests(tasker_storage *st, const char *node_id, tasker_task_exec **out,
                            size_t *n);
int sq_find_unique_exec(tasker_storage *st, const char *task_id, const char *key,
                        char exec_id_out[TASKER_ID_SIZE]);
/* Job lifecycle: stores the retry of exec_id if it failed and has attempts left. */
int sq_write_retry(sq_store *s, sq_req *r, const char *exec_id);
char **sq_running_of_node(sq_store *s, sq_req *r, const char *node, size_t *n);
int sq_retry_all(sq_store *s, sq_req *r, char **ids, size_t n);
int sq_find_active_exec(tasker_storage *st, const char *scheme_id,
                        char exec_id_out[TASKER_ID_SIZE]);
/* Reads an execution row of the EXEC_COLS layout (storage/sqlite/read.c); false when out
 * of memory. */
bool sq_row_exec(sqlite3_stmt *st, void *out);

#endif
