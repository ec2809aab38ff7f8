/* Internal: the shared writer, what the SQL drivers' group commit has in common.
 *
 * A queue of write jobs, and writer threads that take what is queued and hand it to the
 * driver as one batch, to run in one transaction (group commit). A caller that submits
 * a job waits until its batch has run and the driver has given the job its result; an
 * asynchronous job is reported through its callback instead. The driver supplies the
 * narrow part, through a versioned table of hooks (as SQLite's VFS): run one batch on
 * one seat (a connection of its own, say), and finish a seat at stop.
 *
 * Seats: a writer of N seats runs up to N batches at once, each on its own seat, with N
 * writer threads over the one queue. A seat that failed in a way that must be retried
 * (the driver says so) is run again after a pause growing from retry_min_ms to
 * retry_max_ms, with whatever is queued by then, or with nothing.
 *
 * The guarantee is the driver's: a job is answered once run() hands it back, which the
 * drivers do only after their COMMIT succeeded (or the job failed). The writer only
 * batches, wakes, and drains: tasker_commit_stop() returns once every job queued before
 * it has been answered. See docs/storage.md, "The shared writer". */
#ifndef TASKER_SRC_STORAGE_COMMIT_H
#define TASKER_SRC_STORAGE_COMMIT_H

#include <stdbool.h>
#include <stddef.h>

#define TASKER_COMMIT_VERSION 1
#define TASKER_COMMIT_SEATS_MAX 64 /* seats (and writer threads) of one writer */

typedef struct tasker_commit tasker_commit;
typedef struct tasker_commit_job tasker_commit_job;
struct tasker_commit_waiter;

/* Reports an asynchronous job once its batch is over (outside the writer's lock). */
typedef void (*tasker_commit_report_fn)(tasker_commit_job *job);

/* A job: embedded in the driver's own record of a write, which the driver finds back
 * from it (container_of). The fields are the writer's; a run hook may relink next. */
struct tasker_commit_job {
    tasker_commit_job *next;             /* the queue's, then the batch's link */
    tasker_commit_report_fn report;      /* asynchronous: called once, when answered */
    struct tasker_commit_waiter *waiter; /* synchronous: who waits (NULL: asynchronous) */
};

/* One batch, handed to the driver's run hook. */
typedef struct {
    tasker_commit *writer;
    void *ctx;              /* the driver's, as given to tasker_commit_new */
    int seat;               /* 0 .. seats - 1: which of the driver's seats to run on */
    bool by_caller;         /* led by a submitting caller on an idle writer, not a thread */
    tasker_commit_job *jobs; /* in: the batch, in queue order; out: the jobs to answer */
} tasker_commit_batch;

/* What a run hook returns. */
enum {
    TASKER_COMMIT_DONE = 0, /* the seat owes nothing */
    TASKER_COMMIT_OWED = 1  /* the seat has work of its own to retry (writes to replay) */
};

/* Callers may lead a batch themselves on an idle writer (see tasker_commit_submit). */
#define TASKER_COMMIT_CALLER_LEADS 1u

/* The driver's hooks. New fields only at the end, gated by version. */
typedef struct tasker_commit_driver {
    int version;             /* TASKER_COMMIT_VERSION */
    const char *thread_name; /* the writer threads' name (at most 15 characters) */
    unsigned flags;          /* TASKER_COMMIT_CALLER_LEADS */
    size_t batch_max;        /* jobs taken into one batch at most; 0: every job queued */
    int retry_min_ms;        /* an owed seat's first pause before it runs again */
    int retry_max_ms;        /* and its longest (the pause doubles) */
    /* Runs the batch b->jobs on seat b->seat, in one transaction, and gives each job its
     * result (in the driver's own record). On return b->jobs lists the jobs to answer
     * now; jobs the driver took out are its own (answered early with
     * tasker_commit_answer, or kept to replay). Returns TASKER_COMMIT_DONE or
     * TASKER_COMMIT_OWED. Called without the writer's lock; never twice at once for
     * one seat. */
    int (*run)(tasker_commit_batch *b);
    /* Optional: called once per seat by tasker_commit_stop, after the queue drained and
     * the threads ended: the seat's last chance to run what it owes, and to release
     * what it holds (its connection). */
    void (*finish)(void *ctx, int seat);
} tasker_commit_driver;

/* Creates a stopped writer of seats seats (1 .. TASKER_COMMIT_SEATS_MAX) over the
 * driver's hooks (not copied: drv must outlive the writer) and ctx. TASKER_EINVAL for a
 * version or seat count out of range, TASKER_ENOMEM; the thread's message says why.
 * Free it with tasker_commit_free(). */
int tasker_commit_new(const tasker_commit_driver *drv, void *ctx, int seats,
                      tasker_commit **out);
/* Starts one writer thread per seat. TASKER_ESTORAGE when a thread cannot start (those
 * started keep running until tasker_commit_stop). */
int tasker_commit_start(tasker_commit *w);
/* Answers every job queued (new ones are still taken while it drains), stops the
 * threads, then calls finish for each seat. Not concurrent with a submit that begins
 * after it: once it returned, submits fail with TASKER_ESTATE. Idempotent. */
void tasker_commit_stop(tasker_commit *w);
/* Stops the writer if it runs, and frees it. NULL is accepted. */
void tasker_commit_free(tasker_commit *w);

/* Queues job and waits until it is answered; the result is in the driver's record.
 * With TASKER_COMMIT_CALLER_LEADS, a caller that finds every thread asleep and nothing
 * else queued runs the batch itself (saving two thread wake-ups on an idle store).
 * TASKER_OK once answered; TASKER_ESTATE (job not queued) when the writer is not
 * running. Thread-safe. */
int tasker_commit_submit(tasker_commit *w, tasker_commit_job *job);
/* The same for the n jobs linked by next from first, queued together (one batch takes
 * them, up to batch_max) and waited for together. */
int tasker_commit_submit_many(tasker_commit *w, tasker_commit_job *first, size_t n);
/* Queues job without waiting; report(job) is called once it is answered (by the thread
 * that ran its batch), unless the run hook takes it out of the batch (then the driver
 * reports it). TASKER_ESTATE (job not queued) when the writer is not running. */
int tasker_commit_submit_async(tasker_commit *w, tasker_commit_job *job,
                               tasker_commit_report_fn report);

/* For run hooks. */
/* Answers job now, before its batch ends (the run hook takes it out of b->jobs first):
 * wakes its caller, or reports it. The job's memory may be gone on return. */
void tasker_commit_answer(tasker_commit_job *job);
/* Takes up to room jobs queued since the batch began (room 0: all of them); the first
 * taken, linked by next, or NULL. The run hook adds them to its batch: once taken, a
 * job is answered as any of the batch's. */
tasker_commit_job *tasker_commit_take(tasker_commit_batch *b, size_t room);
/* Whether jobs are queued now (a hint, read without the lock). */
bool tasker_commit_queued(const tasker_commit *w);

#endif
