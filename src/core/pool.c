/* The worker threads and their queue. Workers exist from open, so a trigger runs
 * whether or not the schedule loop was started. */
#include "core/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tasker_job_free(job *j)
{
    if (!j) return;
    tasker_task_clear(&j->task);
    free(j->scheme_id);
    free(j->run_param);
    free(j);
}

/* Claiming several runs at once: a worker that finds a backlog claims up to
 * TASKER_CLAIM_MAX queued runs in one write, runs the first, and leaves the others on
 * the ready list for any worker. It does so only while runs are short (its last one
 * took under FAST_RUN_US) and a claim costs more than a run (a round trip to a
 * database, not a memory store), and claims about as many runs as one claim's round
 * trip could have run: so a claimed run waits about one round trip at most, and a
 * worker no longer waits for a round trip per run. A long run never holds a claimed successor back,
 * since idle workers take from the ready list first. */
#define FAST_RUN_US 1000

/* How many runs to claim next: as many as one claim's round trip could have run, up to
 * max; one when runs are long or claims cheap. */
static size_t claim_size(int64_t last_run_us, int64_t last_claim_us, size_t max)
{
    if (last_run_us >= FAST_RUN_US || last_claim_us <= last_run_us) return 1;
    int64_t k = last_claim_us / (last_run_us > 0 ? last_run_us : 1);
    return k < 1 ? 1 : (size_t)k < max ? (size_t)k : max;
}

static void ready_push(pool *p, job *j)
{
    j->next = NULL;
    if (p->ready_tail) p->ready_tail->next = j;
    else p->ready_head = j;
    p->ready_tail = j;
    p->ready_n++;
}

/* Takes up to max queued jobs into jobs[]; called with queue_lock held. */
static size_t take_queued(pool *p, job **jobs, size_t max)
{
    size_t k = 0;
    while (k < max && p->head) {
        job *j = p->head;
        p->head = j->next;
        if (!p->head) p->tail = NULL;
        p->queued--;
        p->running++;
        jobs[k++] = j;
    }
    return k;
}

/* Cluster mode: a run whose handler this node lacks is left pending for a node that
 * has it. A fire carries no task snapshot, so its task is read here, before the start,
 * rather than after it. Drops such jobs from jobs[0..k) and returns how many remain. */
static size_t keep_runnable(tasker_t *t, job **jobs, size_t k)
{
    if (!t->cl.on) return k;
    size_t kept = 0;
    for (size_t i = 0; i < k; i++) {
        job *j = jobs[i];
        if (!j->task.task_id && t->st->ops->get_task(t->st, j->task_id, &j->task) != TASKER_OK)
            tasker_task_clear(&j->task); /* gone, or the store is away: read again at run */
        if (j->task.task_id && !tasker_may_run(t, j->task.handler)) {
            tasker_pool_job_finished(t, j);
            continue;
        }
        jobs[kept++] = j;
    }
    return kept;
}

/* Claims jobs[0..k) in the store; returns the first claimed (for the caller to run)
 * and puts the other claimed ones on the ready list. */
static job *claim(tasker_t *t, job **jobs, size_t k)
{
    pool *p = &t->pool;
    int rcs[TASKER_CLAIM_MAX];
    if (!(k = keep_runnable(t, jobs, k))) return NULL;
    tasker_start_jobs(t, jobs, k, rcs);
    job *mine = NULL;
    bool shared = false;
    for (size_t i = 0; i < k; i++) {
        if (rcs[i] != TASKER_OK) { /* another worker or process took it, or it is gone */
            tasker_pool_job_finished(t, jobs[i]);
            jobs[i] = NULL;
        } else if (!mine) {
            mine = jobs[i];
            jobs[i] = NULL;
        } else {
            shared = true;
        }
    }
    if (shared) {
        pthread_mutex_lock(&p->queue_lock);
        for (size_t i = 0; i < k; i++)
            if (jobs[i]) ready_push(p, jobs[i]);
        for (size_t i = 0; i < k; i++)
            if (jobs[i]) pthread_cond_signal(&p->queue_cond);
        pthread_mutex_unlock(&p->queue_lock);
    }
    return mine;
}

/* ---- claiming from the store (cluster mode) ----------------------------------------
 * Runs triggered or fired here are queued here (the fast path above). Runs that other
 * processes left pending are claimed from the store: one idle worker at a time is the
 * poller; it claims every poll_ms, or at once when the last claim was full (there is
 * more) or a poll was asked for. A claim takes one run per free worker, so a node takes
 * only the work it has room for, and only runs whose handler it has. Under a backlog
 * (the last claim was full) of short runs it takes, per free worker, as many as one
 * claim's round trip could have run (claim_size, as the local path does): a claim then
 * costs the store one write per that many runs instead of one per free worker, and a
 * claimed run waits on the ready list about one round trip at most. The store returns
 * claimed runs after its commit: they are running already.
 *
 * With other live nodes, a backlog is shared rather than taken by whoever polls first:
 * a node claims one run per free worker, never ahead, so a burst of short runs is still
 * being claimed when the other nodes' polls come; and each pause is poll_ms times a
 * random factor in [0.5, 1.5), so that a producer in step with poll_ms does not always
 * meet the same node's poll first. Claiming ahead, the first node took a burst of 100
 * whole in 25-70 ms on Galera, and the split of a test of 8 bursts was a lottery
 * (docs/cluster.md, "Work split on Galera"). */

/* A job for the pending or claimed run e, taking e's scheme id and params. */
static job *job_from_exec(tasker_task_exec *e)
{
    job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    snprintf(j->exec_id, sizeof j->exec_id, "%s", e->exec_id);
    snprintf(j->task_id, sizeof j->task_id, "%s", e->task_id);
    j->scheduled_us = e->scheduled_us;
    j->scheme_id = e->scheme_id; /* moved */
    e->scheme_id = NULL;
    j->run_param = e->param; /* moved */
    e->param = NULL;
    j->attempt = e->attempt;
    j->timeout_ms = e->timeout_ms;
    return j;
}

size_t tasker_pool_claim(tasker_t *t, size_t max)
{
    pool *p = &t->pool;
    size_t nh = 0, n = 0, queued = 0;
    tasker_task_exec *v = NULL;
    char **names = tasker_handler_names(t, &nh);
    int rc = names ? TASKER_OK : TASKER_ENOMEM;
    if (rc == TASKER_OK && nh)
        rc = t->st->ops->claim_task_execs(t->st, t->node_id, (const char *const *)names, nh,
                                          max, tasker_now_us(t), &v, &n);
    tasker_free_names(names, nh);
    pthread_mutex_lock(&p->queue_lock);
    p->store_has_more = rc == TASKER_OK && n == max;
    if (rc == TASKER_OK) {
        p->poll_pause_us = t->opt.poll_ms * 1000;
    } else { /* the store is away: poll less often until it is back */
        p->poll_pause_us *= 2;
        if (p->poll_pause_us > TASKER_BACKOFF_MAX_US) p->poll_pause_us = TASKER_BACKOFF_MAX_US;
    }
    for (size_t i = 0; i < n; i++) {
        job *j = job_from_exec(&v[i]);
        /* Out of memory: the run stays running under this node until it stops (rare). */
        if (!j) continue;
        strset_add(&p->queued_ids, j->exec_id);
        p->running++;
        ready_push(p, j);
        pthread_cond_signal(&p->queue_cond);
        queued++;
    }
    pthread_mutex_unlock(&p->queue_lock);
    tasker_free_execs(v, n);
    return queued;
}

/* ---- runs started by this node's fires ----------------------------------------------
 * A fire stores the runs this node will begin soon already started (storage op
 * add_started_execs): no claim per run. "Soon" is within poll_ms: a run left pending
 * waits that long anyway before an idle node looks for it, so a run this node's workers
 * reach by then is taken from no one. That is poll_ms over a run's time (smoothed: one
 * slow run must not stop it) per worker, at most FIRE_AHEAD_MAX, less the runs this node
 * holds and has not begun (its ready list); runs queued here pending do not count (any
 * node may still take them), nor those whose outcome is still being written. When runs
 * last poll_ms or more, or are not yet measured: one per free worker, nothing ahead.
 * The rest is stored pending, for any node with room, this one's workers included
 * (through the usual start). */
#define FIRE_AHEAD_MAX 2048

size_t tasker_pool_fire_room(tasker_t *t)
{
    pool *p = &t->pool;
    if (p->nthreads == 0) return 0;
    int64_t avg_us = atomic_load(&p->avg_run_us), poll_us = (int64_t)t->opt.poll_ms * 1000;
    size_t per = avg_us == INT64_MAX || avg_us >= poll_us ? 1
                 : (size_t)(poll_us / (avg_us > 0 ? avg_us : 1));
    if (per > FIRE_AHEAD_MAX) per = FIRE_AHEAD_MAX;
    pthread_mutex_lock(&p->queue_lock);
    size_t cap = (size_t)p->nthreads * per, held = per > 1 ? p->ready_n
                                                  : (size_t)(p->running > 0 ? p->running : 0);
    size_t room = p->stopping || held >= cap ? 0 : cap - held;
    pthread_mutex_unlock(&p->queue_lock);
    return room;
}

void tasker_pool_add_started(tasker_t *t, job **jobs, size_t n)
{
    pool *p = &t->pool;
    if (n == 0) return;
    pthread_mutex_lock(&p->queue_lock);
    for (size_t i = 0; i < n; i++) {
        /* Out of memory here costs only the duplicate check: the run is ours, it must
         * run. */
        strset_add(&p->queued_ids, jobs[i]->exec_id);
        p->running++;
        ready_push(p, jobs[i]);
        jobs[i] = NULL;
    }
    /* One wake-up per job would be a system call each, on the loop's path. */
    if (n >= (size_t)p->nthreads) pthread_cond_broadcast(&p->queue_cond);
    else
        for (size_t i = 0; i < n; i++) pthread_cond_signal(&p->queue_cond);
    pthread_mutex_unlock(&p->queue_lock);
}

void tasker_pool_poke(tasker_t *t)
{
    pool *p = &t->pool;
    pthread_mutex_lock(&p->queue_lock);
    p->claim_wake = true;
    pthread_cond_broadcast(&p->queue_cond); /* the poller is one of the waiters */
    pthread_mutex_unlock(&p->queue_lock);
}

static bool has_work(const pool *p)
{
    return p->ready_head || p->head || p->stopping;
}

/* How many runs the poller claims (see above); called with queue_lock held. */
static size_t poll_claim_max(const pool *p)
{
    int free_workers = p->nthreads - p->running;
    size_t max = free_workers < 1 ? 1 : (size_t)free_workers;
    if (p->store_has_more && p->place_count < 2)
        max *= claim_size(atomic_load(&p->last_run_us), p->last_poll_us, TASKER_CLAIM_MAX);
    return max < TASKER_POLL_CLAIM_MAX ? max : TASKER_POLL_CLAIM_MAX;
}

/* How long the poller waits for its next poll (see above); called with queue_lock held. */
static int64_t poll_wait_us(tasker_t *t)
{
    pool *p = &t->pool;
    int64_t pause_us = p->poll_pause_us;
    if (p->place_count < 2 || pause_us <= 0) return pause_us;
    /* Never 0: rand_r's state is 0 only before the first turn. */
    if (!p->poll_seed) p->poll_seed = (unsigned)tasker_mono_us() | 1u;
    return pause_us / 2 + (int64_t)((uint64_t)rand_r(&p->poll_seed) % (uint64_t)pause_us);
}

/* The poller's turn, called with queue_lock held and no work at hand: waits for the
 * poll (unless one is due now), then claims for the free workers. */
static void poll_store(tasker_t *t)
{
    pool *p = &t->pool;
    p->poller = true;
    bool due = p->store_has_more || p->claim_wake;
    if (!due) {
        if (!p->poll_at.tv_sec) p->poll_at = tasker_mono_after_us(poll_wait_us(t));
        while (!has_work(p) && !p->claim_wake &&
               pthread_cond_timedwait(&p->queue_cond, &p->queue_lock, &p->poll_at) != ETIMEDOUT) {
        }
    }
    if (!has_work(p)) {
        p->claim_wake = false;
        p->poll_at.tv_sec = 0; /* the next turn waits a whole pause from now */
        size_t max = poll_claim_max(p);
        pthread_mutex_unlock(&p->queue_lock);
        int64_t claim_start_us = tasker_mono_us();
        tasker_pool_claim(t, max);
        int64_t claim_us = tasker_mono_us() - claim_start_us;
        size_t rank, count;
        tasker_cluster_place(t, &rank, &count);
        pthread_mutex_lock(&p->queue_lock);
        p->last_poll_us = claim_us;
        p->place_rank = rank;
        p->place_count = count;
    }
    p->poller = false;
    /* Leaving the turn for work: an idle worker, if any, takes it over (it may find a
     * job instead, then the next one does). After an empty claim this one polls on. */
    if (has_work(p)) pthread_cond_signal(&p->queue_cond);
}

/* Waits, queue_lock held, until there is a job, a claimed run, or a stop; an idle worker
 * polls the store meanwhile when no other does. */
static void wait_for_work(tasker_t *t)
{
    pool *p = &t->pool;
    while (!has_work(p)) {
        if (p->claims && !p->poller) poll_store(t);
        else pthread_cond_wait(&p->queue_cond, &p->queue_lock);
    }
}

static void *worker_main(void *arg)
{
    tasker_t *t = arg;
    pool *p = &t->pool;
    pthread_setname_np(pthread_self(), "tasker-worker");
    int64_t last_run_us = INT64_MAX, last_claim_us = 0;
    const tasker_storage_ops *ops = t->st->ops;
    size_t claim_max = ops->version >= 2 && ops->start_task_execs ? TASKER_CLAIM_MAX : 1;
    for (;;) {
        job *jobs[TASKER_CLAIM_MAX], *j = NULL;
        size_t k = 0;
        pthread_mutex_lock(&p->queue_lock);
        wait_for_work(t);
        if (p->ready_head) { /* claimed already: it runs even when stopping */
            j = p->ready_head;
            p->ready_head = j->next;
            if (!p->ready_head) p->ready_tail = NULL;
            p->ready_n--;
        } else if (p->stopping) {
            pthread_mutex_unlock(&p->queue_lock);
            return NULL;
        } else {
            k = take_queued(p, jobs, claim_size(last_run_us, last_claim_us, claim_max));
        }
        pthread_mutex_unlock(&p->queue_lock);

        if (!j) {
            int64_t claim_start_us = tasker_mono_us();
            j = claim(t, jobs, k);
            last_claim_us = tasker_mono_us() - claim_start_us;
            if (!j) continue;
        }
        int64_t start_us = tasker_mono_us();
        bool async = tasker_run_started(t, j);
        last_run_us = tasker_mono_us() - start_us;
        atomic_store(&p->last_run_us, last_run_us);
        /* Racing workers may lose an update: it only smooths. */
        int64_t avg_us = atomic_load(&p->avg_run_us);
        atomic_store(&p->avg_run_us,
                     avg_us == INT64_MAX ? last_run_us : avg_us + (last_run_us - avg_us) / 8);
        if (!async) tasker_pool_job_finished(t, j);
    }
}

void tasker_pool_job_finished(tasker_t *t, job *j)
{
    pool *p = &t->pool;
    pthread_mutex_lock(&p->queue_lock);
    strset_remove(&p->queued_ids, j->exec_id);
    p->running--;
    pthread_cond_broadcast(&p->idle_cond);
    pthread_mutex_unlock(&p->queue_lock);
    tasker_job_done(t, j);
}

int tasker_pool_init(tasker_t *t)
{
    pool *p = &t->pool;
    pthread_mutex_init(&p->queue_lock, NULL);
    tasker_cond_init_mono(&p->queue_cond); /* the poller waits with a timeout */
    tasker_cond_init_mono(&p->idle_cond);
    strset_init(&p->queued_ids);
    p->poll_pause_us = t->opt.poll_ms * 1000;
    atomic_init(&p->last_run_us, INT64_MAX);
    atomic_init(&p->avg_run_us, INT64_MAX);
    p->can_claim = t->cl.on && t->st->ops->claim_task_execs && !t->opt.no_pickup &&
                   t->opt.workers > 0;
    t->pool_ready = true;
    int rc = tasker_finisher_start(t);
    if (rc != TASKER_OK || t->opt.workers <= 0) return rc;
    p->threads = calloc((size_t)t->opt.workers, sizeof *p->threads);
    if (!p->threads) return tasker_fail(TASKER_ENOMEM, "open: out of memory for workers");
    for (int i = 0; i < t->opt.workers; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, t) != 0)
            return tasker_fail(TASKER_ESTATE, "open: cannot start worker thread %d", i);
        p->nthreads++;
    }
    return TASKER_OK;
}

void tasker_job_done(tasker_t *t, job *j)
{
    if (j->counted) tasker_sched_exec_finished(t, j->scheme_id);
    tasker_job_free(j);
}

/* Queues j unless the same execution is queued or running here already. */
static bool submit_locked(pool *p, job *j)
{
    if (strset_count(&p->queued_ids, j->exec_id) > 0 || strset_add(&p->queued_ids, j->exec_id) < 0)
        return false;
    j->next = NULL;
    if (p->tail) p->tail->next = j;
    else p->head = j;
    p->tail = j;
    p->queued++;
    pthread_cond_signal(&p->queue_cond);
    return true;
}

bool tasker_pool_submit(tasker_t *t, job *j)
{
    pool *p = &t->pool;
    if (p->nthreads == 0) return false; /* no workers: it stays pending for another process */
    if (j->task.handler && !tasker_may_run(t, j->task.handler))
        return false; /* pending, for a node that has its handler */
    pthread_mutex_lock(&p->queue_lock);
    bool queued = !p->stopping && submit_locked(p, j);
    pthread_mutex_unlock(&p->queue_lock);
    return queued;
}

void tasker_pool_submit_many(tasker_t *t, job **jobs, size_t n)
{
    pool *p = &t->pool;
    if (p->nthreads > 0) {
        /* One lock for all: a worker that wakes sees the whole batch, to claim at once. */
        pthread_mutex_lock(&p->queue_lock);
        for (size_t i = 0; i < n; i++)
            if (!p->stopping && (!jobs[i]->task.handler || tasker_may_run(t, jobs[i]->task.handler)) &&
                submit_locked(p, jobs[i]))
                jobs[i] = NULL;
        pthread_mutex_unlock(&p->queue_lock);
    }
    for (size_t i = 0; i < n; i++) {
        tasker_job_free(jobs[i]);
        jobs[i] = NULL;
    }
}

void tasker_pool_pickup_first(tasker_t *t)
{
    if (atomic_exchange(&t->pickup_due, false)) tasker_pool_pickup_pending(t);
}

/* Job lifecycle: the claims' order, higher priority first, then due time, then age
 * (queued_us, exec_id: list_pending_execs's order, kept by a stable comparison). */
static int cmp_claim_order(const void *a, const void *b)
{
    const tasker_task_exec *x = a, *y = b;
    if (x->priority != y->priority) return x->priority > y->priority ? -1 : 1;
    if (x->run_at_us != y->run_at_us) return x->run_at_us < y->run_at_us ? -1 : 1;
    if (x->queued_us != y->queued_us) return x->queued_us < y->queued_us ? -1 : 1;
    return strcmp(x->exec_id, y->exec_id);
}

int tasker_pool_pickup_pending(tasker_t *t)
{
    if (t->pool.nthreads == 0 || t->opt.no_pickup) return TASKER_OK;
    if (t->pool.can_claim) { /* cluster mode: claimed by handler, for free workers only */
        pthread_mutex_lock(&t->pool.queue_lock);
        t->pool.claims = true;
        pthread_mutex_unlock(&t->pool.queue_lock);
        tasker_pool_poke(t);
        return TASKER_OK;
    }
    tasker_task_exec *v = NULL;
    size_t n = 0;
    int rc = t->st->ops->list_pending_execs(t->st, 0, &v, &n);
    if (rc != TASKER_OK) return rc;
    if (n > 1) qsort(v, n, sizeof *v, cmp_claim_order);
    int64_t now_us = tasker_now_us(t), next_due_us = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i].run_at_us > now_us) { /* not due: the loop wakes at the earliest */
            if (!next_due_us || v[i].run_at_us < next_due_us) next_due_us = v[i].run_at_us;
            continue;
        }
        job *j = job_from_exec(&v[i]);
        if (!j) {
            rc = tasker_fail(TASKER_ENOMEM, "out of memory queueing pending executions");
            break;
        }
        if (!tasker_pool_submit(t, j)) tasker_job_free(j);
    }
    tasker_free_execs(v, n);
    if (next_due_us) tasker_sched_wake_at(t, next_due_us);
    return rc;
}

void tasker_pool_shutdown(tasker_t *t)
{
    pool *p = &t->pool;
    if (!t->pool_ready) return;
    t->pool_ready = false;
    pthread_mutex_lock(&p->queue_lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->queue_cond);
    pthread_mutex_unlock(&p->queue_lock);
    for (int i = 0; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
    tasker_finisher_stop(t); /* after the workers: it waits for their last outcomes */
    free(p->threads);
    p->threads = NULL;
    p->nthreads = 0;
    for (job *j = p->head; j;) { /* left pending in the store, for the next open */
        job *next = j->next;
        tasker_job_done(t, j);
        j = next;
    }
    p->head = p->tail = NULL;
    strset_free(&p->queued_ids);
    pthread_mutex_destroy(&p->queue_lock);
    pthread_cond_destroy(&p->queue_cond);
    pthread_cond_destroy(&p->idle_cond);
}

int tasker_drain(tasker_t *t, int timeout_ms)
{
    int rc;
    if ((rc = tasker_check_handle(t))) return rc;
    pool *p = &t->pool;
    struct timespec deadline = tasker_mono_after_us((int64_t)timeout_ms * 1000);
    rc = TASKER_OK;
    pthread_mutex_lock(&p->queue_lock);
    while ((p->running > 0 || (p->queued > 0 && !p->stopping)) && rc == TASKER_OK) {
        if (timeout_ms < 0) pthread_cond_wait(&p->idle_cond, &p->queue_lock);
        else if (pthread_cond_timedwait(&p->idle_cond, &p->queue_lock, &deadline) == ETIMEDOUT)
            rc = tasker_fail(TASKER_ETIMEDOUT, "drain: %d running, %zu queued after %d ms",
                             p->running, p->queued, timeout_ms);
    }
    pthread_mutex_unlock(&p->queue_lock);
    return rc;
}

int tasker_running_count(tasker_t *t)
{
    if (!t) return 0;
    pthread_mutex_lock(&t->pool.queue_lock);
    int n = t->pool.running;
    pthread_mutex_unlock(&t->pool.queue_lock);
    return n;
}

int tasker_shutdown(tasker_t *t, int grace_ms)
{
    int rc;
    if ((rc = tasker_check_handle(t))) return rc;
    tasker_stop(t);
    pool *p = &t->pool;
    pthread_mutex_lock(&p->queue_lock);
    p->stopping = true; /* workers take no new job; queued ones stay pending */
    pthread_cond_broadcast(&p->queue_cond);
    pthread_mutex_unlock(&p->queue_lock);
    if (tasker_drain(t, grace_ms) == TASKER_OK) return TASKER_OK;
    tasker_interrupt(t);
    return tasker_drain(t, -1) == TASKER_OK ? TASKER_ETIMEDOUT : TASKER_ESTATE;
}
