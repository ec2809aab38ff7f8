/* Triggering a run, running one execution on a worker, recording its outcome, and
 * waiting for it. */
#include "core/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TASKER_OUTCOME_LOG_MS 5000       /* an outcome not stored is said this often */
#define TASKER_OUTCOME_CLOSE_MS 10000    /* and retried this long once closing */
#define TASKER_WAIT_STORE_DOWN_MS 60000  /* tasker_wait gives up on a store failing this long */

int tasker_trigger(tasker_t *t, const char *task_id, char exec_id[TASKER_ID_SIZE])
{
    int rc;
    if ((rc = tasker_check_handle(t)) || (rc = tasker_check_id("task id", task_id))) return rc;
    job *j = calloc(1, sizeof *j);
    if (!j) return tasker_fail(TASKER_ENOMEM, "trigger '%s': out of memory", task_id);
    rc = t->st->ops->get_task(t->st, task_id, &j->task);
    if (rc != TASKER_OK) {
        if (rc == TASKER_ENOTFOUND) tasker_fail(rc, "trigger: task '%s' not found", task_id);
        goto fail;
    }
    tasker_new_id(t, j->exec_id);
    snprintf(j->task_id, sizeof j->task_id, "%s", task_id);
    tasker_task_exec e = {.exec_id = j->exec_id, .task_id = (char *)task_id,
                          .queued_us = tasker_now_us(t), .status = TASKER_EXEC_PENDING};
    if ((rc = t->st->ops->add_task_exec(t->st, &e)) != TASKER_OK) {
        if (rc == TASKER_ENOTFOUND) tasker_fail(rc, "trigger: task '%s' not found", task_id);
        goto fail;
    }
    if (exec_id) memcpy(exec_id, j->exec_id, TASKER_ID_SIZE);
    tasker_pool_pickup_first(t); /* older pending runs first: they were queued earlier */
    if (!tasker_pool_submit(t, j)) tasker_job_free(j);
    return TASKER_OK;
fail:
    tasker_job_free(j);
    return rc;
}

/* Stores the n executions: at once when the driver can, else one by one. */
static int store_execs(tasker_t *t, const tasker_task_exec *v, size_t n)
{
    const tasker_storage_ops *ops = t->st->ops;
    if (ops->version >= 2 && ops->add_task_execs) return ops->add_task_execs(t->st, v, n);
    int rc = TASKER_OK;
    for (size_t i = 0; i < n && rc == TASKER_OK; i++) rc = ops->add_task_exec(t->st, &v[i]);
    return rc;
}

/* Snapshots task_ids[i] into j, reusing the previous job's snapshot for a repeated id
 * (the common case: many runs of one task). */
static int snapshot_task(tasker_t *t, job *j, const job *prev, const char *task_id)
{
    snprintf(j->task_id, sizeof j->task_id, "%s", task_id);
    if (!prev || strcmp(prev->task_id, task_id) != 0) {
        int rc = t->st->ops->get_task(t->st, task_id, &j->task);
        if (rc == TASKER_ENOTFOUND)
            return tasker_fail(rc, "trigger_many: task '%s' not found", task_id);
        return rc;
    }
    j->task.task_id = tasker_strdup_or_null(prev->task.task_id);
    j->task.handler = tasker_strdup_or_null(prev->task.handler);
    j->task.param = tasker_strdup_or_null(prev->task.param);
    j->task.desc = tasker_strdup_or_null(prev->task.desc);
    if ((prev->task.task_id && !j->task.task_id) || (prev->task.handler && !j->task.handler) ||
        (prev->task.param && !j->task.param) || (prev->task.desc && !j->task.desc))
        return tasker_fail(TASKER_ENOMEM, "trigger_many: out of memory");
    return TASKER_OK;
}

int tasker_trigger_many(tasker_t *t, const char *const *task_ids, size_t n,
                        char (*exec_ids)[TASKER_ID_SIZE])
{
    int rc;
    if ((rc = tasker_check_handle(t))) return rc;
    if (n == 0) return TASKER_OK;
    if (!task_ids) return tasker_fail(TASKER_EINVAL, "trigger_many: task_ids is NULL");
    if (n > TASKER_TRIGGER_MANY_MAX)
        return tasker_fail(TASKER_EINVAL, "trigger_many: %zu runs, over the limit of %d", n,
                           TASKER_TRIGGER_MANY_MAX);
    for (size_t i = 0; i < n; i++)
        if ((rc = tasker_check_id("task id", task_ids[i]))) return rc;
    job **jobs = calloc(n, sizeof *jobs);
    tasker_task_exec *v = calloc(n, sizeof *v);
    if (!jobs || !v) {
        rc = tasker_fail(TASKER_ENOMEM, "trigger_many: out of memory for %zu runs", n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(jobs[i] = calloc(1, sizeof *jobs[i]))) {
            rc = tasker_fail(TASKER_ENOMEM, "trigger_many: out of memory for %zu runs", n);
            goto out;
        }
        if ((rc = snapshot_task(t, jobs[i], i ? jobs[i - 1] : NULL, task_ids[i]))) goto out;
        tasker_new_id(t, jobs[i]->exec_id);
        v[i] = (tasker_task_exec){.exec_id = jobs[i]->exec_id, .task_id = jobs[i]->task_id,
                                  .queued_us = tasker_now_us(t),
                                  .status = TASKER_EXEC_PENDING};
    }
    if ((rc = store_execs(t, v, n)) != TASKER_OK) goto out;
    if (exec_ids)
        for (size_t i = 0; i < n; i++) memcpy(exec_ids[i], jobs[i]->exec_id, TASKER_ID_SIZE);
    tasker_pool_pickup_first(t);
    tasker_pool_submit_many(t, jobs, n);
out:
    for (size_t i = 0; jobs && i < n; i++) tasker_job_free(jobs[i]);
    free(jobs);
    free(v);
    return rc;
}

void tasker_notify_done(tasker_t *t)
{
    pthread_mutex_lock(&t->done_lock);
    t->done_gen++;
    pthread_cond_broadcast(&t->done_cond);
    pthread_mutex_unlock(&t->done_lock);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps before the next attempt at a write the store refused as ESTORAGE: 50 ms
 * doubling to 2 s, so that a store that is away is not hammered. */
static void storage_backoff(int attempt)
{
    int delay_ms = 50 << (attempt < 6 ? attempt : 6);
    if (delay_ms > 2000) delay_ms = 2000;
    struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static bool pool_stopping(tasker_t *t)
{
    pthread_mutex_lock(&t->pool.queue_lock);
    bool stopping = t->pool.stopping;
    pthread_mutex_unlock(&t->pool.queue_lock);
    return stopping;
}

void tasker_outcome_written(tasker_t *t, tasker_task_exec *e, int rc)
{
    /* The store away must not leave a finished run `running`: the outcome is kept and
     * written again, with backoff, for as long as the handle lives; once it is closing
     * (or shutting down), for TASKER_OUTCOME_CLOSE_MS more at most. Failures are said
     * on stderr, at most once per TASKER_OUTCOME_LOG_MS. */
    int64_t first_ms = mono_ms(), logged_ms = 0, stop_ms = 0;
    for (int attempt = 0; rc == TASKER_ESTORAGE; attempt++) {
        int64_t now_ms = mono_ms();
        if (!logged_ms || now_ms - logged_ms >= TASKER_OUTCOME_LOG_MS) {
            fprintf(stderr, "tasker: the outcome of execution '%s' is not stored yet (%lld s): "
                    "%s; retrying\n", e->exec_id, (long long)(now_ms - first_ms) / 1000,
                    tasker_last_error());
            logged_ms = now_ms;
        }
        if (!stop_ms && pool_stopping(t)) stop_ms = now_ms + TASKER_OUTCOME_CLOSE_MS;
        if (stop_ms && now_ms >= stop_ms) {
            fprintf(stderr, "tasker: the outcome of execution '%s' was not stored before "
                    "close: the run stays running until a node marks it interrupted\n",
                    e->exec_id);
            return;
        }
        storage_backoff(attempt);
        rc = t->st->ops->update_task_exec(t->st, e);
    }
    if (rc == TASKER_ESTATE) /* fenced: the run was decided without this node */
        fprintf(stderr, "tasker: the outcome of execution '%s' was refused: %s\n", e->exec_id,
                tasker_last_error());
    if (rc == TASKER_OK && t->hook) {
        tasker_task_exec stored = {0};
        if (t->st->ops->get_task_exec(t->st, e->exec_id, &stored) == TASKER_OK)
            tasker_call_hook(t, &stored);
        tasker_exec_clear(&stored);
    }
}

/* Records the outcome of j; true when it went to the store asynchronously. */
static bool record_outcome(tasker_t *t, job *j, tasker_task_exec *e)
{
    e->end_us = tasker_now_us(t);
    e->node_id = t->node_id; /* the claim's owner: the store fences on it */
    tasker_life_wake_for_retry(t, j, e);
    if (tasker_finish_async(t, j, e)) return true;
    tasker_outcome_written(t, e, t->st->ops->update_task_exec(t->st, e));
    return false;
}

void tasker_call_hook(tasker_t *t, const tasker_task_exec *e)
{
    tasker_exec_hook fn = t->hook;
    if (fn) fn(t, e, t->hook_udata);
}

void tasker_set_exec_hook(tasker_t *t, tasker_exec_hook fn, void *udata)
{
    if (!t) return;
    t->hook_udata = udata;
    t->hook = fn;
}

tasker_exec_hook tasker_get_exec_hook(tasker_t *t, void **udata)
{
    if (udata) *udata = t ? t->hook_udata : NULL;
    return t ? t->hook : NULL;
}

static bool finish_failed(tasker_t *t, job *j, const char *fmt, const char *arg)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, arg);
    tasker_task_exec e = {.exec_id = j->exec_id, .status = TASKER_EXEC_FAILED, .error = msg};
    return record_outcome(t, j, &e);
}

/* Applies the outcome rules of context.h to a handler's return value. */
static bool finish_from_ctx(tasker_t *t, job *j, tasker_ctx *c, int handler_rc)
{
    char msg[64];
    tasker_ctx_finish(c);
    tasker_task_exec e = {.exec_id = (char *)c->exec_id, .result = c->result};
    /* Job lifecycle: attempt < 0 tells the store this failure is final (no retry). */
    e.attempt = c->no_retry ? -1 : 0;
    if (atomic_load(&c->cancel)) {
        e.status = TASKER_EXEC_CANCELLED;
        e.error = "cancelled";
    } else if (tasker_life_timed_out(c)) {
        snprintf(msg, sizeof msg, "timed out after %lld ms", (long long)c->timeout_ms);
        e.status = TASKER_EXEC_FAILED;
        e.error = msg;
        e.result = NULL;
    } else if (atomic_load(&t->interrupted)) {
        e.status = TASKER_EXEC_INTERRUPTED;
        e.error = c->failed ? c->error : "interrupted: the scheduler shut down";
    } else if (c->failed) {
        e.status = TASKER_EXEC_FAILED;
        e.error = c->error;
    } else if (handler_rc != 0) {
        snprintf(msg, sizeof msg, "handler returned %d", handler_rc);
        e.status = TASKER_EXEC_FAILED;
        e.error = msg;
    } else {
        e.status = TASKER_EXEC_SUCCESS;
        e.success = true;
    }
    return record_outcome(t, j, &e);
}

/* A worker's starts that failed in a row because the store is away: each failure
 * pauses the worker (storage_backoff) before it takes its next job. */
static _Thread_local int start_failures;

/* A start the store could not make (ESTORAGE) is not retried here: the run stays
 * pending, for this or any node to claim later, and the worker moves on after a pause
 * that grows while the store stays away. */
static void start_settled(int rc)
{
    if (rc != TASKER_ESTORAGE) {
        start_failures = 0;
        return;
    }
    storage_backoff(start_failures < 16 ? start_failures++ : start_failures);
}

int tasker_start_job(tasker_t *t, job *j)
{
    int rc = t->st->ops->start_task_exec(t->st, j->exec_id, tasker_now_us(t), t->node_id);
    start_settled(rc);
    return rc;
}

void tasker_start_jobs(tasker_t *t, job **jobs, size_t n, int *rcs)
{
    const tasker_storage_ops *ops = t->st->ops;
    if (n < 2 || ops->version < 2 || !ops->start_task_execs || n > TASKER_CLAIM_MAX) {
        for (size_t i = 0; i < n; i++) rcs[i] = tasker_start_job(t, jobs[i]);
        return;
    }
    const char *ids[TASKER_CLAIM_MAX];
    for (size_t i = 0; i < n; i++) ids[i] = jobs[i]->exec_id;
    int rc = ops->start_task_execs(t->st, ids, n, tasker_now_us(t), t->node_id, rcs);
    bool failed = rc != TASKER_OK;
    for (size_t i = 0; i < n; i++) {
        if (rc != TASKER_OK) rcs[i] = rc;
        failed = failed || rcs[i] == TASKER_ESTORAGE;
    }
    start_settled(failed ? TASKER_ESTORAGE : TASKER_OK);
}

/* Reads the task of a run claimed from the store. The run is running under this node
 * already: a store away for a moment must not fail it unrun, so a store error is retried
 * with backoff (as outcomes are written) until the handle stops. */
static int load_task(tasker_t *t, job *j)
{
    int rc = t->st->ops->get_task(t->st, j->task_id, &j->task);
    for (int attempt = 0; rc == TASKER_ESTORAGE && !pool_stopping(t); attempt++) {
        storage_backoff(attempt);
        rc = t->st->ops->get_task(t->st, j->task_id, &j->task);
    }
    return rc;
}

bool tasker_run_started(tasker_t *t, job *j)
{
    bool async;
    tasker_handler fn;
    void *udata;
    int rc = j->task.task_id ? TASKER_OK : load_task(t, j);
    if (rc == TASKER_ENOTFOUND)
        async = finish_failed(t, j, "task '%s' no longer exists", j->task_id);
    else if (rc != TASKER_OK)
        async = finish_failed(t, j, "task '%s' could not be read: the store failed", j->task_id);
    else if (!tasker_find_handler(t, j->task.handler, &fn, &udata))
        async = finish_failed(t, j, "unknown handler '%s'", j->task.handler);
    else {
        tasker_ctx c;
        if (j->run_param) { /* this run's params replace the task's */
            free(j->task.param);
            j->task.param = j->run_param;
            j->run_param = NULL;
        }
        tasker_ctx_init(&c, t, &j->task, j->exec_id, j->scheduled_us, udata);
        c.attempt = j->attempt > 0 ? j->attempt : 1;
        tasker_life_join(t, &c, j->timeout_ms ? j->timeout_ms : j->task.timeout_ms);
        int handler_rc = fn(&c);
        tasker_life_leave(t, &c);
        async = finish_from_ctx(t, j, &c, handler_rc);
        tasker_ctx_destroy(&c);
    }
    if (!async) tasker_notify_done(t);
    return async;
}

void tasker_interrupt(tasker_t *t)
{
    if (t) atomic_store(&t->interrupted, true);
}

static bool is_finished(tasker_exec_status s)
{
    return s == TASKER_EXEC_SUCCESS || s == TASKER_EXEC_FAILED ||
           s == TASKER_EXEC_INTERRUPTED || s == TASKER_EXEC_SKIPPED ||
           s == TASKER_EXEC_CANCELLED;
}

/* Finished runs of this process broadcast done_cond; runs in other processes are seen
 * by rereading the record at least every 100 ms. It returns only once the outcome is
 * stored; but when the store has failed every read for TASKER_WAIT_STORE_DOWN_MS in a
 * row, it gives up with TASKER_ESTORAGE, even with no timeout: a waiter must not hang
 * on a store that never comes back. */
int tasker_wait(tasker_t *t, const char *exec_id, int timeout_ms)
{
    int rc;
    if ((rc = tasker_check_handle(t)) || (rc = tasker_check_id("execution id", exec_id)))
        return rc;
    int64_t deadline_ms = mono_ms() + timeout_ms, failing_since_ms = 0;
    for (;;) {
        pthread_mutex_lock(&t->done_lock);
        uint64_t gen = t->done_gen;
        pthread_mutex_unlock(&t->done_lock);

        tasker_task_exec e = {0};
        rc = t->st->ops->get_task_exec(t->st, exec_id, &e);
        bool done = rc == TASKER_OK && is_finished(e.status);
        tasker_exec_clear(&e);
        if (rc == TASKER_ENOTFOUND)
            return tasker_fail(rc, "wait: execution '%s' not found", exec_id);
        if (rc != TASKER_OK && rc != TASKER_ESTORAGE) return rc;
        if (done) return TASKER_OK;
        if (rc == TASKER_OK) failing_since_ms = 0;
        else if (!failing_since_ms) failing_since_ms = mono_ms();
        else if (mono_ms() - failing_since_ms >= TASKER_WAIT_STORE_DOWN_MS)
            return tasker_fail(TASKER_ESTORAGE, "wait: execution '%s': the store has failed "
                               "for %d s: %s", exec_id, TASKER_WAIT_STORE_DOWN_MS / 1000,
                               tasker_last_error());

        int64_t slice_ms = 100;
        if (timeout_ms >= 0) {
            int64_t left_ms = deadline_ms - mono_ms();
            if (left_ms <= 0)
                return tasker_fail(TASKER_ETIMEDOUT, "wait: execution '%s' still unfinished "
                                   "after %d ms", exec_id, timeout_ms);
            if (left_ms < slice_ms) slice_ms = left_ms;
        }
        struct timespec until = tasker_mono_after_us(slice_ms * 1000);
        pthread_mutex_lock(&t->done_lock);
        while (t->done_gen == gen &&
               pthread_cond_timedwait(&t->done_cond, &t->done_lock, &until) != ETIMEDOUT) {
        }
        pthread_mutex_unlock(&t->done_lock);
    }
}
