/* Internal: the handle, its parts, and the functions the core's files share. */
#ifndef TASKER_SRC_INTERNAL_H
#define TASKER_SRC_INTERNAL_H

#include <tasker/context.h>
#include <tasker/cron.h>
#include <tasker/storage.h>

#include <errno.h>
#include <time.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "core/error.h"
#include "core/cron_intern.h"
#include "core/heap.h"
#include "core/strset.h"

/* ---- handlers (handlers.c) ---- */
typedef struct handler_entry {
    char *name;
    tasker_handler fn;
    void *udata;
    struct handler_entry *next;
} handler_entry;

/* ---- the worker pool (pool.c) ---- */
typedef struct job {
    char exec_id[TASKER_ID_SIZE];
    char task_id[TASKER_ID_SIZE];
    tasker_task task;      /* snapshot taken at trigger; task.task_id NULL = read at run */
    int64_t scheduled_us;  /* 0 when triggered */
    char *scheme_id;       /* NULL when triggered */
    bool counted;          /* counted in sched.running_schemes (overlap forbid) */
    char *run_param;       /* this run's own params (tasker_run_opts), or NULL */
    int attempt;           /* 1 for the first attempt (0 read as 1) */
    int64_t timeout_ms;    /* this run's timeout; 0 = the task's */
    struct job *next;
} job;

/* Outcomes handed to the store asynchronously, and the thread that completes their
 * runs once they are written (finish.c). */
struct outcome_rec;
typedef struct finisher {
    pthread_t thread;
    bool ready, started, stopping;
    pthread_mutex_t lock; /* guards the list, in_flight, stopping */
    pthread_cond_t cond;
    struct outcome_rec *head, *tail; /* written, waiting for the finisher */
    int in_flight;                   /* handed to the store, not completed yet */
} finisher;

typedef struct pool {
    finisher fin;
    pthread_t *threads;
    int nthreads;
    pthread_mutex_t queue_lock; /* guards head, tail, queued, ready_*, running, stopping,
                                 * queued_ids */
    pthread_cond_t queue_cond;  /* signalled when a job is queued or on stop */
    pthread_cond_t idle_cond;   /* signalled when a job finishes (for tasker_drain) */
    job *head, *tail;
    size_t queued;
    /* Runs claimed (started in the store) by a worker for the pool, not yet running:
     * any idle worker takes one before claiming more. Counted in running. */
    job *ready_head, *ready_tail;
    size_t ready_n; /* jobs on the ready list: claimed or started, not yet begun */
    int running;
    bool stopping;
    strset queued_ids; /* exec ids queued or running here, so a rescan does not requeue */
    /* Cluster mode: claiming from the store (pool.c). One idle worker at a time polls
     * (poller); store_has_more says the last claim was full, so that a worker that
     * runs out of work claims again at once instead of waiting for the next poll. */
    bool can_claim;       /* set at open: cluster mode, claim_task_execs, pickup allowed */
    bool claims;          /* claiming started (at the first trigger, start, run or wake) */
    bool poller;          /* a worker is the poller now */
    int64_t poll_pause_us; /* poll_ms, or longer while the store is down */
    /* When the next poll is due (monotonic), kept across the poller's turns: a turn cut
     * short by local work must not restart the pause, or a node whose schedules give
     * it work more often than the pause (a backed-off pause after an outage) never
     * claims again. Unset (tv_sec 0) when no poll is pending. */
    struct timespec poll_at;
    bool store_has_more;
    bool claim_wake;      /* a poll is asked for now (tasker_wake, a local trigger) */
    /* Sizing a poll's claim under a backlog of short runs (pool.c, poll_claim_max). */
    _Atomic int64_t last_run_us; /* the last run's length, on any worker; INT64_MAX = none */
    _Atomic int64_t avg_run_us;  /* runs' length, smoothed (1/8 per run); INT64_MAX = none */
    int64_t last_poll_us;        /* the last poll's claim, round trip included */
    /* This node's place among the nodes, as of the last poll (tasker_cluster_place):
     * with others, polls are jittered and never claim ahead (pool.c, poll_wait_us). */
    size_t place_rank, place_count;
    unsigned poll_seed; /* rand_r state of the jitter */
} pool;

/* ---- the schedule loop (schedule.c) ---- */
/* The longest pause of a loop whose store is down (schedule, heartbeat, poll). */
#define TASKER_BACKOFF_MAX_US 5000000LL
typedef struct sched_entry sched_entry;

typedef struct sched {
    pthread_t thread;
    bool started;                 /* guarded by lock */
    bool exited;                  /* the thread returned (after a stop); not joined yet */
    pthread_mutex_t lock;         /* guards everything below */
    pthread_cond_t cond;          /* wakes the loop: changes, stop, wake */
    bool reload;                  /* schedules changed: reread them */
    bool rescan;                  /* pick up pending executions now */
    int64_t wake_at_us;           /* job lifecycle: a delayed run's time; 0 = none */
    bool stopping;                /* the loop should return */
    heap due;                     /* sched_entry by next fire */
    sched_entry *entries;         /* every loaded schedule (a list, owns them) */
    cron_intern crons;            /* expressions the entries share (cron_intern.h) */
    uint64_t version;             /* the store's schemes_version at the last reload */
    bool have_version;            /* version was read */
    int64_t last_now_us;          /* the clock at the previous pass, to see it jump */
    int64_t backoff_us;           /* the pause after a failed reload; 0 = the store is up */
    bool fires_lost;              /* the store refused occurrences this pass (schedule.c) */
    /* running scheduled executions per scheme, for overlap forbid */
    strset running_schemes;
} sched;

/* ---- cluster mode (heartbeat.c) ---- */
typedef struct cluster {
    bool on;            /* the store keeps a nodes table (storage version 3 node ops) */
    bool member;        /* this handle has workers: it has a row and applies the lease */
    pthread_t thread;   /* the heartbeat thread */
    bool started;
    pthread_mutex_t lock; /* guards stopping */
    pthread_cond_t cond;  /* wakes the heartbeat thread to stop */
    bool stopping;
    bool ready;           /* lock and cond initialised */
    /* One beat at a time: a beat that read the handler list before a registration must
     * not write it over the newer list of the registration's beat. */
    pthread_mutex_t beat_lock;
    _Atomic int64_t offset_us; /* the store's clock minus ours, at the last heartbeat */
    int64_t lease_us;
    char host[256];
    /* The heartbeat thread's own: the store being down, for backoff and logging. */
    int64_t down_since_mono_us; /* 0 = up */
    int64_t last_log_mono_us;
    /* This node's place among the live nodes (tasker_cluster_place), read from the
     * store at most once per PLACE_TTL_US (monotonic place_read_us); guarded by lock. */
    size_t place_rank, place_count;
    int64_t place_read_us;
} cluster;

/* Job lifecycle: the contexts of the runs executing here, so that a cancel reaches
 * them (lifecycle.c). */
typedef struct life {
    pthread_mutex_t lock; /* guards running */
    struct tasker_ctx *running;
} life;

struct tasker {
    tasker_storage *st;
    life life;
    tasker_options opt;
    char node_id[256];

    pthread_rwlock_t handlers_lock; /* guards handlers */
    handler_entry *handlers;

    pool pool;
    sched sched;
    cluster cl;

    pthread_mutex_t done_lock;  /* guards done_gen */
    pthread_cond_t done_cond;   /* broadcast when any execution finishes here */
    uint64_t done_gen;

    bool sched_ready, pool_ready; /* initialised, so close may tear them down */
    bool node_registered;         /* counted in the process's open node ids */
    atomic_bool pickup_due;       /* pending executions from before open not queued yet */
    tasker_exec_hook hook;        /* set before running; read by workers */
    void *hook_udata;
    atomic_bool interrupted;
    /* tasker_stop is async-signal-safe: it only stores this flag and writes one byte to
     * a pipe, which the stop watcher thread turns into a condition-variable signal. */
    volatile sig_atomic_t stop_requested;
    int stop_pipe[2];
    pthread_t stop_watcher;
    bool stop_watcher_started;
    pthread_mutex_t run_lock; /* guards run_state */
    pthread_cond_t run_cond;
    int run_state;            /* 0 idle, 1 running (tasker_run), 2 stop asked */
};

/* struct tasker_ctx: one per execution, alive while its handler runs (context.c). */
struct tasker_ctx {
    tasker_t *t;
    const char *exec_id, *task_id, *param;
    int64_t scheduled_us;
    void *udata;
    pthread_mutex_t lock; /* guards the fields below: handlers may log from threads */
    bool failed;
    char *error;   /* first failure's message */
    char *result;  /* last success result, or NULL */
    int events;    /* events of the head, stored as they came */
    int dropped;   /* events over the cap, not stored */
    struct tasker_tail *tail; /* the last events past the head, stored at the end (context.c) */
    void *param_json; /* json_t, parsed on first tasker_bind */
    int attempt;      /* tasker_attempt(): 1 for the first attempt */
    /* Job lifecycle (lifecycle.c). */
    bool no_retry;              /* tasker_no_retry(): this failure is final */
    int64_t timeout_ms;         /* 0 = none */
    int64_t deadline_mono_us;   /* start + timeout, on the monotonic clock; 0 = none */
    atomic_bool cancel;         /* tasker_cancel() of this run (here or on another node) */
    struct tasker_ctx *run_next; /* the handle's running contexts (t->life) */
};

/* time and ids (id.c) */
/* Condition variables here time out on CLOCK_MONOTONIC, immune to wall-clock steps. */
void tasker_cond_init_mono(pthread_cond_t *c);
/* The CLOCK_MONOTONIC instant delay_us from now, for pthread_cond_timedwait. */
struct timespec tasker_mono_after_us(int64_t delay_us);
int64_t tasker_mono_us(void); /* the monotonic clock, in microseconds */
int64_t tasker_real_clock_us(void *udata);
int64_t tasker_now_us(tasker_t *t);
/* A new time-ordered id (UUIDv7 layout, 36 chars) into out. */
void tasker_new_id(tasker_t *t, char out[TASKER_ID_SIZE]);

/* validation (validate.c) */
int tasker_check_handle(const tasker_t *t);
/* TASKER_OK, or TASKER_EINVAL naming what and the byte at fault: NULL, empty, longer
 * than TASKER_ID_SIZE - 1 bytes, a control character, or not valid UTF-8. */
int tasker_check_id(const char *what, const char *id);
int tasker_check_json(const tasker_t *t, const char *what, const char *json);
/* A task's policies (tasker_task_opts): negative values, and policies the store cannot act
 * on (before storage version 4), are refused naming the field (tasker.c). */
int tasker_check_task_policies(const tasker_t *t, const char *task_id, const tasker_task_opts *o);
char *tasker_strdup_or_null(const char *s);

/* handlers (handlers.c) */
bool tasker_find_handler(tasker_t *t, const char *name, tasker_handler *fn, void **udata);
void tasker_free_handlers(tasker_t *t);

/* pool (pool.c) */
int tasker_pool_init(tasker_t *t);
/* Queues a run and takes ownership of j; false (j still the caller's) when the pool
 * has no workers, is stopping, or has the execution queued already. */
bool tasker_pool_submit(tasker_t *t, job *j);
/* Queues jobs[0..n) (as tasker_pool_submit each) under one lock; frees those not
 * queued, and sets every jobs[i] to NULL. */
void tasker_pool_submit_many(tasker_t *t, job **jobs, size_t n);
/* How many runs a fire may store started for this node's workers (storage op
 * add_started_execs): as many as they begin within poll_ms while runs are short, else
 * one per free worker (pool.c). */
size_t tasker_pool_fire_room(tasker_t *t);
/* Takes jobs[0..n), runs this node's fire stored started (its commit succeeded), to run
 * as claimed runs: they run even when the pool is stopping. Takes ownership of them and
 * sets each jobs[i] to NULL. */
void tasker_pool_add_started(tasker_t *t, job **jobs, size_t n);
/* Queues the store's pending executions not queued here yet (not with no_pickup). */
int tasker_pool_pickup_pending(tasker_t *t);
/* Queues the executions left pending before open, once, at the first run call. */
void tasker_pool_pickup_first(tasker_t *t);
/* Calls the exec hook, if any, with the execution as stored. */
void tasker_call_hook(tasker_t *t, const tasker_task_exec *e);
void tasker_pool_shutdown(tasker_t *t);
void tasker_job_free(job *j);
/* Frees a job that was queued, releasing its overlap count. */
void tasker_job_done(tasker_t *t, job *j);

/* Takes a job off the running count once its outcome is stored, and frees it. */
void tasker_pool_job_finished(tasker_t *t, job *j);

/* running one execution (exec.c) */
/* The most runs a worker claims at once (see pool.c). */
#define TASKER_CLAIM_MAX 32
/* The most runs one poll claims from the store for the whole pool (see pool.c). */
#define TASKER_POLL_CLAIM_MAX 256
/* Starts j in the store (pending to running), retrying while the store is away: the
 * store's code (TASKER_ESTATE: another worker or process took it). */
int tasker_start_job(tasker_t *t, job *j);
/* Starts n jobs, in one write when the store can: rcs[i] gets jobs[i]'s code. */
void tasker_start_jobs(tasker_t *t, job **jobs, size_t n, int *rcs);
/* Runs a started j; true when its outcome went to the store asynchronously (the
 * finisher then completes j), false when the run is complete and j is the caller's to
 * finish. */
bool tasker_run_started(tasker_t *t, job *j);
void tasker_notify_done(tasker_t *t);
/* After an outcome write returned rc: retries it while the store is away
 * (TASKER_ESTORAGE), then calls the exec hook when it is stored. */
void tasker_outcome_written(tasker_t *t, tasker_task_exec *e, int rc);

/* asynchronous outcomes and events (finish.c) */
int tasker_finisher_start(tasker_t *t);
/* Waits for every outcome in flight, then stops the finisher thread. */
void tasker_finisher_stop(tasker_t *t);
/* Hands e (the outcome of j) to the store without waiting; false when the store has no
 * asynchronous writes or refused it (then nothing was written). */
bool tasker_finish_async(tasker_t *t, job *j, const tasker_task_exec *e);
/* Stores a handler's event: asynchronously when the store can. */
int tasker_store_event(tasker_t *t, const tasker_task_event *ev);

/* cluster mode (heartbeat.c, nodes.c) */
/* Sets up cluster mode at open: when the store keeps nodes, writes the first heartbeat
 * (measuring the clock offset) and starts the heartbeat thread. */
int tasker_cluster_start(tasker_t *t);
/* At close, after the workers: stops the heartbeat and marks the node stopped. */
void tasker_cluster_stop(tasker_t *t);
/* The lease rule and the same-host fast path: marks the running executions of dead
 * nodes interrupted. */
void tasker_cluster_judge(tasker_t *t);
/* A handler was registered: a member node beats now, so that its row lists the handler
 * before tasker_register returns (`tasker trigger` and `tasker status` judge from the
 * rows whether a live process has a handler). A failure is left to the next beat. */
void tasker_cluster_handlers_changed(tasker_t *t);
/* This node's place among the live member nodes sharing the store, ordered by node id:
 * *rank of *count (0 of 1 when alone, for a client, or when the store keeps no nodes).
 * Read from the store at most once a second; thread-safe. */
void tasker_cluster_place(tasker_t *t, size_t *rank, size_t *count);
/* The registered handler names as a JSON array (malloc'd), or NULL. */
char *tasker_handlers_json(tasker_t *t);
/* The registered handler names: a malloc'd array of *n strdup'd names. */
char **tasker_handler_names(tasker_t *t, size_t *n);
void tasker_free_names(char **v, size_t n);
/* The clock the core judges by: the handle's clock plus the store's offset. */
int64_t tasker_local_us(tasker_t *t); /* the handle's clock alone */
/* Whether this node should run executions of handler name: in cluster mode only if it
 * has it registered (others may); a private store runs it to record the failure. */
bool tasker_may_run(tasker_t *t, const char *handler);
/* Whether the driver answers node liveness for a node id (interrupt_dead's callback). */
bool tasker_node_alive(const char *node_id, void *udata);
/* Claims up to max pending runs for this node's handlers; puts them on the ready list.
 * Returns how many (pool.c). */
size_t tasker_pool_claim(tasker_t *t, size_t max);
/* Asks the poller to claim now (a trigger or wake in cluster mode). */
void tasker_pool_poke(tasker_t *t);

/* context (context.c) */
void tasker_ctx_init(tasker_ctx *c, tasker_t *t, const tasker_task *task, const char *exec_id,
                     int64_t scheduled_us, void *udata);
void tasker_ctx_finish(tasker_ctx *c);
/* How many of a run's last events are kept when it logs more than limit (context.c). */
int tasker_tail_events(int limit);
void tasker_ctx_destroy(tasker_ctx *c);

/* schedule loop (schedule.c) */
int tasker_sched_init(tasker_t *t);
void tasker_sched_changed(tasker_t *t);
/* Job lifecycle: pending runs are looked for at when_us (a delayed run's time). */
void tasker_sched_wake_at(tasker_t *t, int64_t when_us);
/* Job lifecycle: when e (j's outcome, end_us set) will be retried by the store, wakes
 * the scheduler at the earliest instant the retry can be due (its delay's lower jitter
 * bound), so that the retry starts on time rather than at the next rescan. */
void tasker_life_wake_for_retry(tasker_t *t, const job *j, const tasker_task_exec *e);
/* Job lifecycle (lifecycle.c): a run's context joins / leaves the handle's running list
 * (the timeout starts at join); tasker_life_cancel_local sets the cancel flag of exec_id
 * if it runs here (true then). */
void tasker_life_join(tasker_t *t, tasker_ctx *c, int64_t timeout_ms);
void tasker_life_leave(tasker_t *t, tasker_ctx *c);
bool tasker_life_cancel_local(tasker_t *t, const char *exec_id);
/* At a heartbeat: the cancel requests of this node's runs, from any node. */
void tasker_life_read_cancels(tasker_t *t);
/* Whether c's timeout has passed. */
bool tasker_life_timed_out(const tasker_ctx *c);
/* Stops the schedule thread and the stop watcher. */
void tasker_sched_stop(tasker_t *t);
/* Frees the loop's state; after tasker_sched_stop and the pool's shutdown. */
void tasker_sched_destroy(tasker_t *t);
void tasker_sched_exec_finished(tasker_t *t, const char *scheme_id);

#endif
