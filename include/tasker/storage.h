/* tasker: the storage driver interface, for writing a custom driver.
 *
 * A driver is a struct whose first member is a tasker_storage; the base points at a
 * table of operations (as SQLite's sqlite3_file points at its io methods). The core
 * never knows which driver it talks to. The table is versioned: new operations are
 * only ever appended, and the core checks `version` before calling one.
 *
 *   struct my_driver { tasker_storage base; ... };
 *   static const tasker_storage_ops my_ops = { .version = TASKER_STORAGE_VERSION,
 *                                              .name = "mine", .add_task = ..., ... };
 *   struct my_driver *d = calloc(1, sizeof *d); d->base.ops = &my_ops;
 *   tasker_t *t = tasker_new(&d->base, NULL);
 *
 * Rules every operation keeps (tests/storage_conformance.c checks them):
 *  - Returns a tasker error code and sets the thread's message with tasker_set_error()
 *    on failure. TASKER_ESTORAGE for any database failure.
 *  - Is thread-safe: the core calls from many threads at once.
 *  - Copies what it keeps; never keeps a pointer into an argument.
 *  - Records returned are allocated with malloc; the core frees them with the
 *    tasker_free_* and tasker_*_clear functions of tasker.h.
 *  - A write is durable when it returns (as durable as the driver promises).
 *  - Retention is the driver's: see add_task_exec.
 *  - Empty lists are NULL and 0.
 *  - remove_task keeps the task's execution history: an execution's task_id and
 *    scheme_id need not name an existing task or schedule (no cascading foreign keys).
 * docs/storage.md explains each operation at length.
 */
#ifndef TASKER_STORAGE_H
#define TASKER_STORAGE_H

#include <tasker/tasker.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TASKER_STORAGE_VERSION 4

typedef struct tasker_storage_ops tasker_storage_ops;

/* What the core tells the driver before its first operation. */
typedef struct tasker_storage_env {
    int max_execs_per_task;    /* executions kept per task; negative = unlimited */
    int64_t max_exec_age_s;    /* seconds kept, counted from queued_us; negative = unlimited */
    tasker_clock_fn clock;     /* the clock for ages; never NULL once set by the core */
    void *clock_udata;
} tasker_storage_env;

struct tasker_storage {
    const tasker_storage_ops *ops;
    tasker_storage_env env; /* filled by tasker_new() before any operation */
};

/* The driver's notion of now, through the core's (possibly injected) clock. */
static inline int64_t tasker_storage_now_us(const tasker_storage *st)
{
    return st->env.clock(st->env.clock_udata);
}

/* Answers whether the node that started an execution is still alive. */
typedef bool (*tasker_node_alive_fn)(const char *node_id, void *udata);

/* Reports the end of an asynchronous write (version 2): rc is TASKER_OK once the write
 * is durable, or its error code, with msg saying why (NULL when rc is TASKER_OK; valid
 * only during the call). Called exactly once, from any thread, possibly before the
 * submitting call has returned; it must not call the driver. */
typedef void (*tasker_storage_done_fn)(void *udata, int rc, const char *msg);

struct tasker_storage_ops {
    int version;      /* TASKER_STORAGE_VERSION the driver was written against */
    const char *name; /* "memory", "sqlite", "mysql", ... */

    /* Tasks. add_task inserts, or replaces handler, param, desc and the policy fields
     * (max_attempts .. max_exec_age_s) of the task with the same id (its schedules stay;
     * its paused state is kept; a new task takes task->paused). get_task and list_tasks
     * return every field. remove_task deletes the task and its schedules;
     * TASKER_ENOTFOUND if absent. get_task fills *out (TASKER_ENOTFOUND if absent).
     * list_tasks returns all tasks ordered by task_id. */
    int (*add_task)(tasker_storage *st, const tasker_task *task);
    int (*remove_task)(tasker_storage *st, const char *task_id);
    int (*get_task)(tasker_storage *st, const char *task_id, tasker_task *out);
    int (*list_tasks)(tasker_storage *st, tasker_task **out, size_t *n);

    /* Schedules. add_task_scheme inserts s (whose scheme_id is new) unless a schedule
     * with the same task_id and cron exists: then it updates that one's misfire and
     * overlap and keeps its id. Either way it copies the stored id into id_out.
     * TASKER_ENOTFOUND when the task does not exist. remove_task_scheme:
     * TASKER_ENOTFOUND when absent. list_task_schemes: all, ordered by scheme_id. */
    int (*add_task_scheme)(tasker_storage *st, const tasker_task_scheme *s,
                           char id_out[TASKER_ID_SIZE]);
    int (*remove_task_scheme)(tasker_storage *st, const char *scheme_id);
    int (*list_task_schemes)(tasker_storage *st, tasker_task_scheme **out, size_t *n);
    /* Records that the schedule's occurrence fire_us has been handled (fired, skipped).
     * Only moves forward: a fire_us not after the stored one is ignored (TASKER_OK).
     * TASKER_ENOTFOUND when the schedule is gone. */
    int (*set_scheme_fire)(tasker_storage *st, const char *scheme_id, int64_t fire_us);

    /* Executions. add_task_exec stores a new execution (any status: pending for a run,
     * skipped for a fire not run). TASKER_EEXISTS when exec_id exists, or when an
     * execution with the same non-NULL scheme_id and scheduled_us exists: no
     * occurrence can be stored twice. TASKER_ENOTFOUND when the task does not exist.
     * Then it applies retention: of the task's executions only the newest
     * env.max_execs_per_task are kept, and none whose queued_us is older than
     * env.max_exec_age_s before now; pending and running executions are never pruned.
     * A task's own max_execs / max_exec_age_s, when nonzero, replace the env's for it
     * (negative = unlimited); a driver that also ages out idle tasks leaves a task with
     * its own age to that age.
     * Pending and running executions count in the ranking; an execution queued exactly
     * at the age cutoff is kept. Pruned executions lose their events with them. A
     * skipped execution occupies its (scheme_id, scheduled_us) slot like any other. */
    int (*add_task_exec)(tasker_storage *st, const tasker_task_exec *e);
    /* Moves a pending execution to running, with start_us and node_id, as one
     * compare-and-set: TASKER_ESTATE when it is not pending (another worker or process
     * took it), TASKER_ENOTFOUND when absent. TASKER_OK only once that change is
     * durable (committed): the caller then runs the handler, so an answer given before
     * a commit that may still be rolled back would let another node run it too. Any
     * other failure (TASKER_ESTORAGE) means not started: the run is pending. */
    int (*start_task_exec)(tasker_storage *st, const char *exec_id, int64_t start_us,
                           const char *node_id);
    /* Records the outcome of an execution: status, end_us, success, result, error,
     * all five written as given (NULLs included); other fields are left alone.
     * TASKER_ENOTFOUND when absent.
     * Fencing (version 3): when e->node_id is not NULL the write is the outcome of a run
     * that node started, and is made only if the execution is still `running` and owned
     * by that node. Otherwise nothing is overwritten: the driver appends an event to the
     * execution (level warning, "late outcome from node N refused: the run is S[, held
     * by node M]; outcome was STATUS[: ERROR]") and returns TASKER_ESTATE. The core sets
     * node_id on every outcome it writes; an outcome with node_id NULL is written as
     * before (tools, tests). The asynchronous form fences the same way and reports
     * TASKER_ESTATE through done. The same outcome written again (same status and end_us)
     * is TASKER_OK, so a write replayed after a lost commit does no harm. */
    int (*update_task_exec)(tasker_storage *st, const tasker_task_exec *e);
    int (*get_task_exec)(tasker_storage *st, const char *exec_id, tasker_task_exec *out);
    /* task_id NULL = all executions. Newest first: queued_us descending, then exec_id
     * descending. limit 0 = no limit. */
    int (*list_task_execs)(tasker_storage *st, const char *task_id, size_t limit,
                           tasker_task_exec **out, size_t *n);
    /* Pending executions, oldest first (queued_us, then exec_id), at most limit
     * (0 = no limit). */
    int (*list_pending_execs)(tasker_storage *st, size_t limit, tasker_task_exec **out,
                              size_t *n);
    /* Marks interrupted (end_us = now, error "interrupted: node NODE stopped") every
     * running execution whose node_id alive() says is dead. *n, when not NULL, gets how
     * many were marked. */
    int (*interrupt_dead)(tasker_storage *st, tasker_node_alive_fn alive, void *udata,
                          size_t *n);

    /* Events. add_task_event appends an event (its event_id is assigned by the driver
     * and ignored here); TASKER_ENOTFOUND when the execution does not exist.
     * list_task_events: oldest first (event_id ascending); TASKER_ENOTFOUND when the
     * execution does not exist, OK with NULL and 0 when it has no events. Event ids
     * increase across the whole store. */
    int (*add_task_event)(tasker_storage *st, const tasker_task_event *ev);
    int (*list_task_events)(tasker_storage *st, const char *exec_id,
                            tasker_task_event **out, size_t *n);

    /* Frees the driver and everything it holds. Called once, last. */
    void (*close)(tasker_storage *st);

    /* ---- version 2: asynchronous writes, so that a worker need not wait for a commit.
     * Either both are set or neither; the core uses the synchronous operations above
     * when they are NULL or version < 2.
     * Both copy what they need and return at once: TASKER_OK when the write was
     * accepted (done will be called), or an error code when it was refused outright
     * (done is not called). The writes one thread submits, asynchronous or not, are
     * applied in the order it submitted them; an asynchronous write becomes visible to
     * reads once it is durable. close() first finishes every accepted write. */

    /* add_task_event without waiting: the event is durable no later than the next
     * write the same thread waits for or is told of (so a run's events are stored
     * before its outcome). done may be NULL. */
    int (*add_task_event_async)(tasker_storage *st, const tasker_task_event *ev,
                                tasker_storage_done_fn done, void *udata);
    /* update_task_exec without waiting; done reports its result as update_task_exec
     * would return it. */
    int (*update_task_exec_async)(tasker_storage *st, const tasker_task_exec *e,
                                  tasker_storage_done_fn done, void *udata);

    /* Stores n new executions as add_task_exec would (retention included), all or
     * nothing, in one write: TASKER_OK when all are stored; otherwise none is, and the
     * code and message are those of the first that failed (a clash between two of the
     * n counts as one). May be NULL: the core then calls add_task_exec for each. */
    int (*add_task_execs)(tasker_storage *st, const tasker_task_exec *v, size_t n);
    /* start_task_exec for n executions in one write: rcs[i] gets the code
     * start_task_exec would return for ids[i] (TASKER_OK, TASKER_ESTATE,
     * TASKER_ENOTFOUND, or TASKER_ESTORAGE for one the store could not decide). Returns
     * TASKER_OK when every rcs[i] is set; any other code means none was started. May be
     * NULL: the core then starts them one by one. */
    int (*start_task_execs)(tasker_storage *st, const char *const *ids, size_t n,
                            int64_t start_us, const char *node_id, int *rcs);

    /* ---- version 3: cluster mode (docs/storage.md, "Version 3"). Every operation is
     * optional: NULL (or a version below 3) keeps the core single-node for that part.
     * node_beat, list_nodes, node_gone and interrupt_expired come together: a driver
     * that sets one sets all four (a shared store). The memory driver sets none of them
     * (its store belongs to one handle) but has claim_task_execs and find_active_exec.
     * "The store's clock" is the driver's notion of now: MySQL's UTC_TIMESTAMP(6); the
     * env clock for a store on one host (SQLite). */

    /* Upserts self's row in the nodes table: host, pid, running, handlers and
     * clock_skew_us as given; heartbeat_us = the store's now; started_us = the store's
     * now when the row is new or was stopped (self->started_us is ignored); a stopped
     * row is live again. *store_now_us, when not NULL, gets the store's now as written.
     * self->node_id must not be NULL. */
    int (*node_beat)(tasker_storage *st, const tasker_node *self, int64_t *store_now_us);
    /* The nodes whose heartbeat_us is at or after since_us (store clock; 0 = all),
     * ordered by node_id, in a new array the core frees with tasker_free_nodes.
     * *store_now_us, when not NULL, gets the store's now, so that the caller can judge
     * liveness (heartbeat_us + lease) on the same clock. Fields the driver fills:
     * node_id, host, pid, started_us, heartbeat_us, running, handlers, clock_skew_us,
     * stopped_us; `alive` is left false (the core sets it). */
    int (*list_nodes)(tasker_storage *st, int64_t since_us, tasker_node **out, size_t *n,
                      int64_t *store_now_us);
    /* A clean close: marks the node's row stopped (stopped_us = the store's now); the
     * row is kept for listings until interrupt_expired forgets it. TASKER_OK when the row
     * is absent. */
    int (*node_gone)(tasker_storage *st, const char *node_id);
    /* The lease rule, run by every live node at its heartbeat. In one atomic step (one
     * transaction) marks `interrupted` every running execution whose node's row has a
     * heartbeat older than lease_us before the store's now, or is stopped: end_us = the
     * store's now, success false, error "interrupted: node N silent since ISO-8601 UTC
     * TIME" (or "interrupted: node N stopped"). Two nodes running it at once mark each
     * execution once: *n (when not NULL) gets how many this call marked. Running
     * executions whose node has no row are left alone (interrupt_dead judges them).
     * The same step forgets rows of nodes stopped or silent for more than
     * TASKER_NODE_KEEP_S that hold no running execution, and a driver may do other
     * bounded periodic work here (MySQL applies the age limit to idle tasks). */
    int (*interrupt_expired)(tasker_storage *st, int64_t lease_us, size_t *n);
    /* Work goes where there is room: atomically picks up to max pending executions
     * whose task exists and has a handler among handlers[0..nh), oldest first
     * (queued_us, then exec_id); marks them running with node_id and start_us =
     * now_us; commits; and only then returns them
     * in *out (a new array of *n, as stored after the claim; NULL and 0 when none).
     * No execution is returned to two callers. TASKER_ESTORAGE when the claim could
     * not be made (nothing was claimed then). */
    int (*claim_task_execs)(tasker_storage *st, const char *node_id,
                            const char *const *handlers, size_t nh, size_t max,
                            int64_t now_us, tasker_task_exec **out, size_t *n);
    /* Overlap across nodes: copies into exec_id_out the id of an execution of schedule
     * scheme_id that is pending or running (any one), TASKER_OK; TASKER_ENOTFOUND when
     * there is none. */
    int (*find_active_exec)(tasker_storage *st, const char *scheme_id,
                            char exec_id_out[TASKER_ID_SIZE]);

    /* ---- version 4, job lifecycle (design section 6; docs/storage.md "Version 4").
     * Each may be NULL: the core then refuses the call that needs it (TASKER_ESTATE).
     * The records carry the lifecycle fields since version 4: add_task_exec(s) store
     * attempt, retry_of, run_at_us, priority, param, unique_key and timeout_ms (the
     * run's own timeout; a driver that does not store it returns 0: the run then gets
     * its task's timeout when another handle starts it), and the reads return them. A pending or running execution with a non-NULL unique_key holds
     * it for its task: add_task_exec(s) of another such run is TASKER_EEXISTS, enforced
     * by the store itself (a unique index), never by a check before the insert.
     * start_task_exec(s) and claim_task_execs start only a run that is due
     * (run_at_us <= now), of a task not paused and below its max_concurrency (a store
     * shared by processes judges the limit in the claim's transaction and may leave a
     * limited task's runs to claims: TASKER_ESTATE from a start with the run still
     * pending); claims take higher priority first, then run_at_us, queued_us, exec_id.
     * (Another block of version-4 operations, for bulk definitions, may follow.) */

    /* Cancels an execution: pending -> cancelled (end_us = now_us, error "cancelled"),
     * running -> its cancel request is set (the node running it sees it), finished ->
     * TASKER_ESTATE; TASKER_ENOTFOUND when absent. *was, when not NULL, gets the status
     * found. */
    int (*cancel_task_exec)(tasker_storage *st, const char *exec_id, int64_t now_us,
                            tasker_exec_status *was);
    /* Sets a task's paused state. TASKER_ENOTFOUND when the task is absent. */
    int (*set_task_paused)(tasker_storage *st, const char *task_id, bool paused);
    /* Sets a schedule's paused state; resuming also moves last_fire_us forward to
     * now_us (never back), so that the fires missed while paused are not caught up.
     * TASKER_ENOTFOUND when the schedule is absent. */
    int (*set_scheme_paused)(tasker_storage *st, const char *scheme_id, bool paused,
                             int64_t now_us);
    /* The executions f selects (f->cursor is ignored), newest first (queued_us, then
     * exec_id, descending), strictly older than (after_queued_us, after_exec_id) when
     * after_exec_id is not NULL; at most limit (never 0). A bounded query. */
    int (*list_task_execs_filter)(tasker_storage *st, const tasker_exec_filter *f,
                                  int64_t after_queued_us, const char *after_exec_id,
                                  size_t limit, tasker_task_exec **out, size_t *n);
    /* The id of the pending or running execution of task_id holding key: TASKER_OK, or
     * TASKER_ENOTFOUND when none holds it. */
    int (*find_unique_exec)(tasker_storage *st, const char *task_id, const char *key,
                            char exec_id_out[TASKER_ID_SIZE]);
    /* The running executions of node_id whose cancel was requested (cancel_task_exec),
     * in a new array (only exec_id need be set; freed with tasker_free_execs). Read
     * by the node at each heartbeat: a cancel reaches the node running the run within a
     * heartbeat. */
    int (*list_cancel_requests)(tasker_storage *st, const char *node_id,
                                tasker_task_exec **out, size_t *n);
    /* ---- end of the job lifecycle block */
    /* ---- version 4: bulk definitions (issue 14). Each may be NULL: the core then
     * makes one call per item. ---- */
    /* set_scheme_fire for n schedules in one write: ids[i] moves to fire_us[i] (only
     * forward). A schedule gone meanwhile is passed over; TASKER_OK unless the write
     * failed. */
    int (*set_scheme_fires)(tasker_storage *st, const char *const *ids,
                            const int64_t *fire_us, size_t n);
    /* Adds nt tasks (each as add_task) and then ns schedules (each as add_task_scheme,
     * the stored ids not copied out) in one write, all or nothing: a schedule may name a
     * task of the same call. On failure nothing is stored, and the code and message are
     * those of the first item that failed. */
    int (*add_definitions)(tasker_storage *st, const tasker_task *tasks, size_t nt,
                           const tasker_task_scheme *schemes, size_t ns);
    /* A number that changes whenever a schedule is added, removed or changed, or a task
     * changed or removed, by any process sharing the store (recording a fire need not
     * change it). The schedule loop rereads the schedules only when it moved; NULL: it
     * rereads them every second. */
    int (*schemes_version)(tasker_storage *st, uint64_t *out);

    /* ---- version 4: firing a herd (issue 14). May be NULL: the core then stores fires
     * with add_task_execs and starts them as any run (a claim each). ---- */
    /* add_task_execs, and in the same write start_task_exec (start_us, node_id) for the
     * first max_start of the new pending executions that it would start (due, of a task
     * neither paused nor limited) and, when handlers is not NULL, whose task's handler is
     * one of the nh handlers. started[i] (n entries) says which were started; the
     * others stay pending. TASKER_OK only once the write is durable (committed): the
     * caller then runs the started ones, so, as for start_task_exec, an answer before a
     * commit that could still be undone would let another node run them too. Otherwise
     * nothing is stored and nothing started (a driver that lost the connection at its
     * commit finds out which it was before it answers), with the code and message of
     * add_task_execs. */
    int (*add_started_execs)(tasker_storage *st, const tasker_task_exec *v, size_t n,
                             int64_t start_us, const char *node_id,
                             const char *const *handlers, size_t nh, size_t max_start,
                             bool *started);
};

/* How long the rows of stopped or silent nodes are kept for listings (one day). */
#define TASKER_NODE_KEEP_S 86400

/* Records a message for the calling thread (printf-style) and returns err, so that a
 * driver's error path is one line: return tasker_set_error(TASKER_ESTORAGE, "...");
 * Thread-safe. */
int tasker_set_error(int err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The built-in drivers, for use with tasker_new(). Each returns NULL on failure with
 * the thread's message set. The caller owns the driver until it hands it to
 * tasker_new() (which then owns it), or frees it with st->ops->close(st).
 * Thread-safe. */
tasker_storage *tasker_memory_storage(void);
/* path: a file name; options after '?' as in the DSN (see docs/storage.md). */
tasker_storage *tasker_sqlite_storage(const char *path_and_options);
/* url: "mysql://USER:PASS@HOST:PORT/DB[?socket=PATH&...]". */
tasker_storage *tasker_mysql_storage(const char *url);
/* Opens the driver a DSN names ("memory:", "sqlite:PATH", "mysql://..."). */
tasker_storage *tasker_storage_open(const char *dsn);

#ifdef __cplusplus
}
#endif
#endif /* TASKER_STORAGE_H */
