/* tasker: a persistent task scheduler for C.
 *
 * The public API: the handle, handlers, tasks, schedules, triggering, the schedule
 * loop, and the queries over the stored history. The handler's own API is in
 * tasker/context.h, the storage driver interface in tasker/storage.h and cron
 * expressions in tasker/cron.h.
 *
 * Conventions, for every function here:
 *  - Functions that can fail return an int: TASKER_OK (0) or a negative TASKER_E* code;
 *    tasker_last_error() then holds a message for the calling thread.
 *  - Functions returning a pointer return NULL on failure and set the same message.
 *  - Every function is thread-safe unless its comment says otherwise. A handler may call
 *    any of them except tasker_close() on its own handle.
 *  - Strings passed in are copied; the caller keeps ownership of its arguments.
 *  - Times are microseconds since the Unix epoch, UTC, in int64_t fields named *_us.
 */
#ifndef TASKER_TASKER_H
#define TASKER_TASKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TASKER_VERSION "0.1.0"

/* Ids (tasks, schedules, executions) and handler names are at most 63 bytes plus NUL,
 * valid UTF-8 without control characters (else TASKER_EINVAL). */
#define TASKER_ID_SIZE 64
#define TASKER_DEFAULT_MAX_EXECS 100          /* executions kept per task */
#define TASKER_DEFAULT_MAX_EXEC_AGE_S 3600    /* seconds an execution is kept */
#define TASKER_DEFAULT_MAX_JSON_BYTES (1 << 20)   /* params and results: 1 MiB */
#define TASKER_DEFAULT_MAX_EVENT_BYTES 4096       /* one event message */
#define TASKER_DEFAULT_MAX_EVENTS 1000            /* events kept per execution */

/* ---- 2.1 Errors ------------------------------------------------------------------ */

enum {
    TASKER_OK = 0,
    TASKER_EINVAL = -1,    /* bad argument, bad JSON, bad cron expression */
    TASKER_ENOTFOUND = -2, /* no such task, schedule, execution or handler */
    TASKER_EEXISTS = -3,   /* the record exists already */
    TASKER_ESTORAGE = -4,  /* the driver or its database failed */
    TASKER_ENOMEM = -5,    /* out of memory */
    TASKER_ESTATE = -6,    /* wrong state for the call, e.g. tasker_run twice */
    TASKER_ETIMEDOUT = -7  /* the wait ended before the execution did */
};

/* A static name for an error code ("TASKER_EINVAL"); never NULL. Thread-safe. */
const char *tasker_strerror(int err);

/* The detail of the last failure on the calling thread, e.g.
 * "cron: field 'hour' (\"25\"): 25 is out of range 0-23". Never NULL ("" when none).
 * The string belongs to the library and stays valid until the next failing call on
 * this thread. */
const char *tasker_last_error(void);

/* ---- 2.2 The handle -------------------------------------------------------------- */

typedef struct tasker tasker_t;
typedef struct tasker_storage tasker_storage; /* see tasker/storage.h */

/* A clock, for tests: returns the current time in microseconds since the epoch. */
typedef int64_t (*tasker_clock_fn)(void *udata);

/* Options. A zero field means its default: `tasker_options o = {0};` is the default
 * configuration. */
typedef struct tasker_options {
    int workers;                /* handler threads; 0 = number of CPUs; negative = none:
                                   the handle stores and queries, and its triggers stay
                                   pending for another process (a daemon) to run */
    int max_execs_per_task;     /* 0 = 100; negative = unlimited */
    int64_t max_exec_age_s;     /* 0 = 3600; negative = unlimited */
    const char *node_id;        /* NULL = "hostname:pid"; copied */
    size_t max_json_bytes;      /* params and results; 0 = 1 MiB */
    size_t max_event_bytes;     /* an event message longer than this is cut; 0 = 4 KiB */
    int max_events_per_exec;    /* 0 = 1000; negative = unlimited */
    /* true: this handle never runs executions that other handles or processes left
     * pending (a command that runs one task locally beside a daemon). */
    bool no_pickup;
    /* For tests: the clock the library reads (retention ages, the schedule loop, the
     * times recorded). NULL = the system's real-time clock. After moving a fake clock
     * forward, call tasker_wake() so the schedule loop re-reads it. */
    tasker_clock_fn clock;
    void *clock_udata;
    /* Cluster mode (docs/cluster.md). Each node writes a heartbeat row every
     * heartbeat_ms; a node silent for lease_ms is dead and its running executions are
     * marked interrupted by any live node; an idle node looks for runnable pending
     * executions every poll_ms. */
    int64_t heartbeat_ms; /* 0 = 2000 */
    int64_t lease_ms;     /* 0 = 10000 */
    int64_t poll_ms;      /* 0 = 200 */
} tasker_options;

/* Opens the store named by dsn: "memory:", "sqlite:PATH" or
 * "mysql://USER:PASS@HOST:PORT/DB". Starts the worker pool and marks executions left
 * `running` by a dead process as interrupted. Executions left `pending` are queued at
 * the first tasker_trigger(), tasker_start(), tasker_run() or tasker_wake(), so that the
 * handlers registered after open are known when they run.
 * Returns NULL on failure; tasker_last_error() says why. Free with tasker_close(). */
tasker_t *tasker_open(const char *dsn);

/* tasker_open with options; opt may be NULL (defaults). */
tasker_t *tasker_open_opts(const char *dsn, const tasker_options *opt);

/* Opens the store named by $TASKER_DSN if set, else "sqlite:tasker.db". */
tasker_t *tasker_default(void);

/* Opens a handle over a custom storage driver. Takes ownership of st in every case:
 * on failure st has been closed. opt may be NULL. */
tasker_t *tasker_new(tasker_storage *st, const tasker_options *opt);

/* Stops the schedule loop, waits for running handlers to return, and frees the handle.
 * Executions still queued stay `pending` in the store and run after the next open.
 * NULL is a no-op. Not to be called from a handler of the same handle. */
void tasker_close(tasker_t *t);

/* ---- 2.3 Handlers, tasks, schedules ---------------------------------------------- */

typedef struct tasker_ctx tasker_ctx;             /* see tasker/context.h */
typedef int (*tasker_handler)(tasker_ctx *c);     /* 0 = success, nonzero = failure */

/* Registers fn under name (registering a name again replaces it). udata is handed to
 * the handler through tasker_udata(). */
int tasker_register(tasker_t *t, const char *name, tasker_handler fn, void *udata);

/* Stores a task. An existing task with the same id is replaced (handler, params, desc),
 * its schedules and history kept. param_json must be valid JSON; NULL means null.
 * The handler need not be registered in this process. */
int tasker_add_task(tasker_t *t, const char *task_id, const char *handler,
                    const char *param_json);
/* tasker_add_task with a human description (NULL = none). */
int tasker_add_task_desc(tasker_t *t, const char *task_id, const char *handler,
                         const char *param_json, const char *desc);
/* ---- 6. Task policies ----
 * A task may carry its own policies. Zero in any field means the default; a negative
 * max_attempts, backoff_ms, backoff_max_ms, timeout_ms or max_concurrency is refused
 * with TASKER_EINVAL ("task 'X': max_attempts must not be negative").
 * Retry delay of attempt k+1 after attempt k failed: min(backoff_ms * 2^(k-1),
 * backoff_max_ms) times a jitter drawn uniformly from [0.9, 1.1], counted from the end
 * of attempt k. The store writes the retry in the same transaction as the failure.
 * A timeout is judged by tasker_cancelled() (a C handler must poll it to stop early)
 * and when the handler returns: a run past its timeout is recorded failed, "timed out
 * after N ms", and retried like any failure. */
typedef struct tasker_task_opts {
    const char *desc;
    int max_attempts;        /* 0 = 1: no retry. A failed, interrupted or timed-out run
                                with attempts left gets a new pending execution */
    int64_t backoff_ms;      /* delay before attempt 2; 0 = 1000; then doubled each time */
    int64_t backoff_max_ms;  /* cap of the delay; 0 = 3,600,000 */
    int64_t timeout_ms;      /* 0 = none; past it tasker_cancelled() turns true and the run
                                is recorded failed with error "timed out after N ms" */
    int max_concurrency;     /* 0 = unlimited; runs of this task at once, cluster-wide */
    int priority;            /* higher runs first among pending runs; default 0 */
    int max_execs;           /* retention override; 0 = the handle's (max_execs_per_task);
                                negative = unlimited */
    int64_t max_exec_age_s;  /* retention override; 0 = the handle's (max_exec_age_s);
                                negative = unlimited */
} tasker_task_opts;

/* Stores a task with its policies; o NULL = all defaults (then it is tasker_add_task_desc
 * with no desc). Replaces an existing task like tasker_add_task: handler, params, desc
 * and every policy field (a task's paused state is kept). The retention overrides apply
 * to this task's executions in every driver, from its next added execution on: the
 * newest max_execs are kept and none queued more than max_exec_age_s ago (pending and
 * running ones are never pruned; events go with their execution). A task with
 * max_exec_age_s set is left out of the handle-wide age sweep. TASKER_EINVAL for a
 * negative policy (see above). Thread-safe. */
int tasker_add_task_opts(tasker_t *t, const char *task_id, const char *handler,
                         const char *param_json, const tasker_task_opts *o);

/* Removes a task and its schedules. Its execution history stays until retention
 * prunes it. TASKER_ENOTFOUND if there is no such task. */
int tasker_remove_task(tasker_t *t, const char *task_id);

/* What a schedule does with fires it missed while no scheduler ran. */
typedef enum {
    TASKER_MISFIRE_ONCE = 0, /* one catch-up run for any number of missed fires */
    TASKER_MISFIRE_SKIP,     /* none; each missed fire is recorded as skipped */
    TASKER_MISFIRE_ALL       /* every missed fire, up to TASKER_MISFIRE_ALL_MAX */
} tasker_misfire;
#define TASKER_MISFIRE_ALL_MAX 100

/* What a schedule does when it fires while its previous run still runs. */
typedef enum {
    TASKER_OVERLAP_ALLOW = 0, /* run anyway */
    TASKER_OVERLAP_FORBID     /* record the fire as skipped */
} tasker_overlap;

typedef struct tasker_schedule_opts {
    tasker_misfire misfire;
    tasker_overlap overlap;
} tasker_schedule_opts;

/* Adds a cron schedule (see tasker/cron.h) to a task. The same task and expression give
 * one schedule: a second call returns the first one's id (and updates its policies).
 * scheme_id, when not NULL, receives the schedule's id. TASKER_ENOTFOUND when the task
 * does not exist, TASKER_EINVAL for a bad expression. */
int tasker_add_task_schedule(tasker_t *t, const char *task_id, const char *cron,
                             char scheme_id[TASKER_ID_SIZE]);
/* tasker_add_task_schedule with misfire and overlap policies; opt NULL = defaults. */
int tasker_add_task_schedule_opts(tasker_t *t, const char *task_id, const char *cron,
                                  const tasker_schedule_opts *opt,
                                  char scheme_id[TASKER_ID_SIZE]);
/* Removes a schedule. TASKER_ENOTFOUND if there is none with that id. */
int tasker_remove_task_schedule(tasker_t *t, const char *scheme_id);

/* ---- Bulk definitions (docs/scheduling.md) ---- */

/* One task for tasker_define: what tasker_add_task_opts takes. */
typedef struct tasker_task_def {
    const char *task_id;
    const char *handler;
    const char *param_json; /* NULL = null */
    tasker_task_opts opts;
} tasker_task_def;

/* One schedule for tasker_define: what tasker_add_task_schedule_opts takes. */
typedef struct tasker_schedule_def {
    const char *task_id; /* a task of the same call, or one stored already */
    const char *cron;
    tasker_schedule_opts opts;
} tasker_schedule_def;

/* Adds nt tasks and ns schedules in one write, all or nothing: each task as
 * tasker_add_task_opts (an existing one is replaced), each schedule as
 * tasker_add_task_schedule_opts (the same task and expression as a stored schedule
 * updates its policies). Everything is checked before anything is written; on failure
 * nothing is stored and the message names the first bad item, e.g.
 * "define: schedules[41] (task 'a'): cron: ...". The stores of this library write it in
 * one transaction (docs/scheduling.md, "Bulk definitions").
 * Arrays are the caller's. Thread-safe. */
int tasker_define(tasker_t *t, const tasker_task_def *tasks, size_t nt,
                  const tasker_schedule_def *schedules, size_t ns);

/* ---- 2.4 Running ----------------------------------------------------------------- */

/* Queues a run of task_id. Returns once the execution record is stored as `pending`
 * (committed, for persistent drivers); a worker then runs it. exec_id, when not NULL,
 * receives the new execution's id. TASKER_ENOTFOUND if the task does not exist. */
int tasker_trigger(tasker_t *t, const char *task_id, char exec_id[TASKER_ID_SIZE]);

/* One run's options (design section 6). A zero field means: as the task says. */
typedef struct tasker_run_opts {
    const char *param_json;  /* NULL = the task's params; else this run's params instead */
    int64_t run_at_us;       /* 0 = now; later = a delayed run, pending until then */
    int64_t delay_ms;        /* alternative to run_at_us: now + delay */
    int priority;            /* 0 = the task's */
    int64_t timeout_ms;      /* 0 = the task's */
    const char *unique_key;  /* while a pending or running run of this task has the same
                                key, the call returns TASKER_EEXISTS and that run's id */
} tasker_run_opts;

/* tasker_trigger with options; o NULL = tasker_trigger. exec_id (may be NULL) gets the
 * new run's id, or with TASKER_EEXISTS the id of the pending or running run holding
 * o->unique_key. Thread-safe. */
int tasker_trigger_opts(tasker_t *t, const char *task_id, const tasker_run_opts *o,
                        char exec_id[TASKER_ID_SIZE]);

/* Cancels a run. Pending: becomes `cancelled` and never runs. Running: tasker_cancelled()
 * turns true on the node that runs it (within a heartbeat) and the run is recorded
 * `cancelled` when the handler returns. Finished: TASKER_ESTATE. A cancelled run is not
 * retried. TASKER_ENOTFOUND when there is no such run. Thread-safe. */
int tasker_cancel(tasker_t *t, const char *exec_id);
/* Runs a finished run again, now, with the same task and params: a new execution,
 * attempt 1, whose id goes to new_exec_id (may be NULL). TASKER_ESTATE when the run has
 * not finished. Thread-safe. */
int tasker_retry(tasker_t *t, const char *exec_id, char new_exec_id[TASKER_ID_SIZE]);
/* Pausing a task: no run of it starts anywhere (triggers still queue up) until resumed.
 * Durable and cluster-wide (a run already running finishes). TASKER_ENOTFOUND when
 * there is no such task. Thread-safe. */
int tasker_pause_task(tasker_t *t, const char *task_id);
int tasker_resume_task(tasker_t *t, const char *task_id);
/* Pausing a schedule: no fires while paused; resuming fires from now on, with no
 * catch-up of the fires missed meanwhile. TASKER_ENOTFOUND when there is none.
 * Thread-safe. */
int tasker_pause_schedule(tasker_t *t, const char *scheme_id);
int tasker_resume_schedule(tasker_t *t, const char *scheme_id);

/* The most runs one tasker_trigger_many() call takes. */
#define TASKER_TRIGGER_MANY_MAX 10000

/* Queues n runs at once (task_ids[i] may repeat): as n calls of tasker_trigger, but the
 * n executions are stored in one write, so a producer that enqueues in bulk pays one
 * commit instead of n. All or nothing: on any error no run is queued, and the message
 * names the first task id at fault. exec_ids, when not NULL, receives the n new ids.
 * TASKER_EINVAL when n > TASKER_TRIGGER_MANY_MAX. (With a driver that lacks the
 * add_task_execs operation of storage.h, the executions are stored one by one, after
 * every task was found; a store failing half way then leaves those before stored,
 * pending, to be picked up at the next rescan.) Thread-safe. */
int tasker_trigger_many(tasker_t *t, const char *const *task_ids, size_t n,
                        char (*exec_ids)[TASKER_ID_SIZE]);

/* Waits until the execution has finished (success, failed, interrupted or skipped).
 * TASKER_OK when finished, TASKER_ETIMEDOUT when timeout_ms passed first (negative =
 * no limit), TASKER_ENOTFOUND if there is no such execution. Finished means its outcome
 * is stored; while the store is away the wait goes on, but TASKER_ESTORAGE once every
 * read of the record has failed for 60 s in a row (even with no limit). */
int tasker_wait(tasker_t *t, const char *exec_id, int timeout_ms);

/* Starts the schedule loop in a background thread. TASKER_ESTATE if already started. */
int tasker_start(tasker_t *t);
/* tasker_start, then blocks until tasker_stop(). Returns TASKER_OK after a stop. */
int tasker_run(tasker_t *t);
/* Asks the schedule loop to stop and tasker_run to return. Async-signal-safe: a SIGINT
 * handler may call it. Workers keep running until tasker_close(). */
void tasker_stop(tasker_t *t);
/* Makes the schedule loop re-read the clock and the schedules now, and picks up
 * executions that other processes left pending in the store. For tests that move an
 * injected clock, and for programs told that another process triggered a run. */
void tasker_wake(tasker_t *t);

/* Asks running handlers to stop: tasker_cancelled() becomes true in their contexts, and
 * a run whose handler returns after this is recorded as interrupted. For a graceful
 * shutdown after a grace period. New runs are still started; see tasker_stop(). */
void tasker_interrupt(tasker_t *t);

/* Waits until no handler of this handle is running and no run is queued in this
 * process (after tasker_shutdown: until no handler is running). TASKER_OK, or TASKER_ETIMEDOUT when timeout_ms (negative = no limit) passed. */
int tasker_drain(tasker_t *t, int timeout_ms);

/* A daemon's graceful stop: stops the schedule loop, starts no further runs (queued
 * ones stay pending in the store), gives running handlers grace_ms to return, then
 * calls tasker_interrupt() and waits for them. TASKER_OK when all returned within the
 * grace period, TASKER_ETIMEDOUT when they had to be interrupted. Call tasker_close()
 * afterwards. Not async-signal-safe: call it from the thread that ran tasker_run(). */
int tasker_shutdown(tasker_t *t, int grace_ms);

/* The number of handlers running now in this process. */
int tasker_running_count(tasker_t *t);

/* ---- 5. Cluster mode: the nodes sharing a store ---------------------------------- */

typedef struct {
    char *node_id, *host;
    int64_t pid;
    int64_t started_us, heartbeat_us; /* the store's clock */
    int running;                      /* runs it holds now */
    char *handlers;                   /* JSON array of its registered handler names */
    /* Appended after the contract's fields. */
    int64_t clock_skew_us; /* the node's clock minus the store's, as it measured at its
                              last heartbeat: positive = its clock is ahead. The node
                              corrects for it; seconds of skew mean its NTP is off */
    int64_t stopped_us;    /* store clock: when it closed cleanly; 0 = not stopped */
    bool alive;            /* not stopped, and its heartbeat is within the lease */
} tasker_node;

/* Fills *out with a newly allocated array of *n nodes that share this store, ordered by
 * node_id: the live ones, and those stopped or silent (dead) within the last day
 * (TASKER_NODE_KEEP_S in tasker/storage.h), after which their rows are forgotten. A
 * node is a handle with workers that takes work; handles without workers (the `tasker`
 * command, a web front end) and no_pickup handles are not listed. `alive` is judged on the store's clock: not stopped, and a
 * heartbeat within this handle's lease_ms. `clock_skew_us` shows how far each node's
 * clock is off the store's (it corrects for it). A store without a nodes table (the
 * memory store, a storage driver of version 1 or 2) lists this handle alone.
 * The caller frees it with tasker_free_nodes(*out, *n). Thread-safe. */
int tasker_list_nodes(tasker_t *t, tasker_node **out, size_t *n);
/* Frees an array returned by tasker_list_nodes, and its strings. NULL is a no-op. */
void tasker_free_nodes(tasker_node *v, size_t n);

/* ---- 2.6 Records and queries ----------------------------------------------------- */

typedef enum { TASKER_DEBUG, TASKER_NORMAL, TASKER_WARNING, TASKER_ERROR } tasker_level;

typedef enum {
    TASKER_EXEC_PENDING,
    TASKER_EXEC_RUNNING,
    TASKER_EXEC_SUCCESS,
    TASKER_EXEC_FAILED,
    TASKER_EXEC_INTERRUPTED,
    TASKER_EXEC_SKIPPED, /* a fire not run: overlap or misfire policy; error says why */
    TASKER_EXEC_CANCELLED /* tasker_cancel(): never ran, or stopped; finished, not retried */
} tasker_exec_status;

typedef struct {
    char *task_id, *handler, *desc, *param; /* desc may be NULL; param is JSON text */
    /* The policies of tasker_task_opts (0 = the default), then the paused state. */
    int max_attempts;
    int64_t backoff_ms, backoff_max_ms, timeout_ms;
    int max_concurrency;
    int priority;
    int max_execs;
    int64_t max_exec_age_s;
    bool paused;
} tasker_task;

typedef struct {
    char *scheme_id, *task_id, *cron;
    tasker_misfire misfire;
    tasker_overlap overlap;
    int64_t created_us;   /* when first added; @every intervals count from here */
    int64_t last_fire_us; /* the last occurrence fired (or skipped); 0 = never */
    bool paused;          /* tasker_pause_schedule(): no fires until resumed */
} tasker_task_scheme;

typedef struct {
    char *exec_id, *task_id;
    char *scheme_id;           /* NULL when triggered */
    int64_t scheduled_us;      /* the cron occurrence it serves; 0 when triggered */
    int64_t queued_us;         /* when triggered or fired */
    int64_t start_us, end_us;  /* 0 = not yet */
    tasker_exec_status status;
    bool success;
    char *result;              /* JSON text or NULL */
    char *error;               /* why it failed, was skipped or interrupted; or NULL */
    char *node_id;             /* the node that ran it; NULL until started */
    int attempt;               /* 1 for the first attempt; a retry is attempt + 1 */
    char *retry_of;            /* the first attempt's exec id; NULL on attempt 1 */
    int64_t run_at_us;         /* not started before this (delayed runs, retries); 0 = at once */
    int priority;              /* higher runs first among pending runs */
    char *param;               /* this run's params when they differ from the task's, else NULL */
    char *unique_key;          /* tasker_run_opts.unique_key, or NULL */
    int64_t timeout_ms;        /* this run's own timeout (tasker_run_opts.timeout_ms);
                                  0 = the task's */
} tasker_task_exec;

typedef struct {
    int64_t event_id; /* increases with insertion */
    char *exec_id;
    int64_t time_us;
    tasker_level level;
    char *message;
} tasker_task_event;

/* Called after this handle stored the outcome of an execution: a run it ran (success,
 * failed, interrupted) or a fire its schedule loop skipped. e is valid during the call
 * only (its strings belong to the library). Called from worker threads, the finisher
 * thread (which completes runs whose outcome the store wrote asynchronously) and the
 * schedule thread: it must be thread-safe and quick. */
typedef void (*tasker_exec_hook)(tasker_t *t, const tasker_task_exec *e, void *udata);

/* Sets (or, with NULL, removes) the hook. Set it before tasker_start() or the first
 * trigger: a change races with executions finishing at that moment. */
void tasker_set_exec_hook(tasker_t *t, tasker_exec_hook fn, void *udata);
/* The hook set now (NULL when none) and, when udata is not NULL, its udata into *udata:
 * a second observer (the web server in the daemon) chains to the hook it replaces. */
tasker_exec_hook tasker_get_exec_hook(tasker_t *t, void **udata);

/* Each list function fills *out with a newly allocated array of *n records (NULL and 0
 * when empty); the caller frees it with the matching tasker_free_* function. */
int tasker_list_tasks(tasker_t *t, tasker_task **out, size_t *n);           /* by id */
int tasker_list_schemes(tasker_t *t, tasker_task_scheme **out, size_t *n);  /* by id */
/* A task's executions, newest first; task_id NULL = every task's. */
int tasker_list_execs(tasker_t *t, const char *task_id, tasker_task_exec **out, size_t *n);
/* One execution into *out; free its fields with tasker_exec_clear(). */
int tasker_get_exec(tasker_t *t, const char *exec_id, tasker_task_exec *out);
/* Filtered history (tasker_list_execs_filter). A zero field does not filter. */
typedef struct tasker_exec_filter {
    const char *task_id;       /* NULL = every task */
    unsigned status_mask;      /* bit (1u << status) per wanted tasker_exec_status; 0 = all */
    int64_t since_us, until_us;/* queued_us in [since_us, until_us); 0 = unbounded */
    size_t limit;              /* at most this many; 0 = 100 */
    const char *cursor;        /* NULL = from the newest; else a page's next_cursor */
} tasker_exec_filter;

/* The executions f selects, newest first (queued_us, then exec_id, descending), at most
 * f->limit. *next_cursor gets a malloc'd opaque string to pass as f->cursor for the next
 * page, or NULL when there is none; the caller frees it (and the array with
 * tasker_free_execs). Bounded by limit in every driver. Thread-safe. */
int tasker_list_execs_filter(tasker_t *t, const tasker_exec_filter *f, tasker_task_exec **out,
                             size_t *n, char **next_cursor);

/* An execution's events, oldest first. */
int tasker_list_events(tasker_t *t, const char *exec_id, tasker_task_event **out, size_t *n);

/* Free an array returned by a list function, and its strings. NULL is a no-op. */
void tasker_free_tasks(tasker_task *v, size_t n);
void tasker_free_schemes(tasker_task_scheme *v, size_t n);
void tasker_free_execs(tasker_task_exec *v, size_t n);
void tasker_free_events(tasker_task_event *v, size_t n);
/* Free the fields of one record, and zero it. */
void tasker_task_clear(tasker_task *t);
void tasker_scheme_clear(tasker_task_scheme *s);
void tasker_exec_clear(tasker_task_exec *e);
void tasker_event_clear(tasker_task_event *e);

/* The schedule's first fire strictly after after_us, as the schedule loop computes it:
 * the expression parsed with the task id as the key of `H` fields (tasker/cron.h), @every
 * counted from created_us. TASKER_ENOTFOUND when it never fires again, TASKER_EINVAL for
 * a bad expression. Needs no handle; thread-safe. */
int tasker_scheme_next_us(const tasker_task_scheme *s, int64_t after_us, int64_t *next_us);

/* Names for enums: "pending", "success", ...; "debug", "normal", "warning", "error";
 * "once", "skip", "all"; "allow", "forbid". Static strings. */
const char *tasker_exec_status_name(tasker_exec_status s);
const char *tasker_level_name(tasker_level l);
const char *tasker_misfire_name(tasker_misfire m);
const char *tasker_overlap_name(tasker_overlap o);

#ifdef __cplusplus
}
#endif
#endif /* TASKER_TASKER_H */
