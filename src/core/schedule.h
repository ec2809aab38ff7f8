/* The schedule loop's parts (schedule.c, fires.c): a loaded schedule, and a pass's
 * batch of fires, collected by schedule.c and stored by fires.c. Internal to the core. */
#ifndef TASKER_SRC_CORE_SCHEDULE_H
#define TASKER_SRC_CORE_SCHEDULE_H

#include "core/internal.h"

/* One loaded schedule: about 128 bytes with its ids (issue 14 asks at most 256), the
 * parsed expression shared with the schedules of the same text where it can be. */
struct sched_entry {
    heap_item item; /* key = next fire, microseconds */
    const char *scheme_id, *task_id; /* into ids */
    tasker_cron *cron;
    int64_t last_us; /* last occurrence handled */
    sched_entry *next;
    uint8_t misfire, overlap; /* tasker_misfire, tasker_overlap */
    bool armed;      /* in the heap */
    bool paused;     /* job lifecycle: tasker_pause_schedule(), no fires */
    bool own_cron;   /* cron is this entry's, not sched.crons' */
    char ids[];      /* scheme id, NUL, task id, NUL */
};

/* ---- firing, in batches ----
 *
 * A pass collects the executions its fires create (pending runs and skipped records)
 * and stores them with one write per FIRE_BATCH_MAX (the first FIRE_BATCH_FIRST), all
 * or nothing; the runs of a stored batch are queued at once, so workers start while the
 * next batch is written. Where the store can (add_started_execs), the write also starts
 * the runs this node will begin soon (pool.c, tasker_pool_fire_room), and those go
 * straight to the workers once it has committed: no claim each. When a batch is refused
 * (say EEXISTS: a peer sharing the store fired some of these occurrences already) each
 * item is stored on its own, and the store's (scheme_id, scheduled_us) key decides
 * which are ours, as when firing one by one. The schedules' last fires are recorded
 * after their executions, in one write where the driver can (set_scheme_fires, storage
 * version 4). */
#define FIRE_BATCH_MAX 512
/* A pass's first batch is smaller: its runs start sooner, and by the second batch this
 * node has measured a run (how many it may store started depends on it, pool.c). */
#define FIRE_BATCH_FIRST 32

typedef struct fire_item {
    sched_entry *e;
    int64_t occ_us, now_us;
    job *j;      /* a run; NULL for a skipped record */
    char *why;   /* a skipped record's reason, owned */
    char id[TASKER_ID_SIZE];
} fire_item;

typedef struct fire_batch {
    fire_item *v;
    size_t n, cap;
    size_t limit; /* flushed at this many: FIRE_BATCH_FIRST, then FIRE_BATCH_MAX */
    const char **fire_ids; /* schedules whose last fire moved, and to when */
    int64_t *fire_us;
    size_t nf, capf;
} fire_batch;

/* Frees the batch's arrays (its items' runs were handed over or freed by the flush). */
void tasker_fires_free(fire_batch *b);
/* A new zeroed item at the batch's end; NULL when out of memory. */
fire_item *tasker_fires_slot(fire_batch *b);
/* Stores the collected executions and queues their runs; with fires, then records the
 * schedules' last fires. Called with sched.lock held (released while the store
 * writes). */
void tasker_fires_flush(tasker_t *t, fire_batch *b, bool fires);

#endif
