/* The job lifecycle API of design section 6 (tasker.h, context.h): runs with options,
 * cancel, re-run, pausing tasks and schedules, the filtered history, and the handler's
 * attempt. Each call is one storage operation of version 4 (storage.h), so the state is
 * the store's, durable and seen by every node; a driver without the operation gets
 * TASKER_ESTATE naming what it lacks.
 *
 * Retries are the store's: the write that records a failure also stores the next
 * attempt (storage.h, version 4). A timeout is judged when tasker_cancelled() is asked
 * and when the handler returns: a C handler must poll tasker_cancelled() to stop early.
 * A run's own timeout_ms is stored with it (tasker_task_exec.timeout_ms): whichever
 * handle starts it, now or after a restart, judges it by that, else by its task's. */
#include "core/internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HAS_OP(t, op) ((t)->st->ops->version >= 4 && (t)->st->ops->op)

static int lacks(tasker_t *t, const char *what)
{
    return tasker_fail(TASKER_ESTATE, "%s: the '%s' store has no job lifecycle operations "
                       "(storage version 4)", what, t->st->ops->name);
}

/* The exec record of a run with options, into e; j gets the run's params. */
static int fill_run(tasker_t *t, const tasker_run_opts *o, job *j, tasker_task_exec *e)
{
    int64_t now = tasker_now_us(t);
    if (o->run_at_us < 0 || o->delay_ms < 0 || o->timeout_ms < 0)
        return tasker_fail(TASKER_EINVAL, "trigger '%s': run_at_us, delay_ms and timeout_ms "
                           "must not be negative", j->task_id);
    if (o->run_at_us && o->delay_ms)
        return tasker_fail(TASKER_EINVAL, "trigger '%s': give run_at_us or delay_ms, not both",
                           j->task_id);
    if (o->unique_key && (!*o->unique_key || strlen(o->unique_key) >= 256))
        return tasker_fail(TASKER_EINVAL, "trigger '%s': unique_key must be 1 to 255 bytes",
                           j->task_id);
    int rc;
    if (o->param_json && (rc = tasker_check_json(t, "trigger param", o->param_json)))
        return rc;
    e->queued_us = now;
    e->status = TASKER_EXEC_PENDING;
    e->attempt = 1;
    e->run_at_us = o->run_at_us > now ? o->run_at_us
                   : o->delay_ms   ? now + o->delay_ms * 1000
                                   : 0;
    e->priority = o->priority ? o->priority : j->task.priority;
    e->param = (char *)o->param_json;
    e->unique_key = (char *)o->unique_key;
    e->timeout_ms = o->timeout_ms;
    if (o->param_json && !(j->run_param = strdup(o->param_json)))
        return tasker_fail(TASKER_ENOMEM, "trigger '%s': out of memory", j->task_id);
    return TASKER_OK;
}

/* TASKER_EEXISTS from a unique key: the holder's id into exec_id. */
static int key_taken(tasker_t *t, const char *task_id, const char *key,
                     char exec_id[TASKER_ID_SIZE])
{
    char holder[TASKER_ID_SIZE] = "";
    if (HAS_OP(t, find_unique_exec) &&
        t->st->ops->find_unique_exec(t->st, task_id, key, holder) == TASKER_OK && exec_id)
        memcpy(exec_id, holder, TASKER_ID_SIZE);
    return tasker_fail(TASKER_EEXISTS, "trigger '%s': run %s holds unique key '%s'", task_id,
                       *holder ? holder : "(finished meanwhile)", key);
}

int tasker_trigger_opts(tasker_t *t, const char *task_id, const tasker_run_opts *o,
                        char exec_id[TASKER_ID_SIZE])
{
    if (!o) return tasker_trigger(t, task_id, exec_id);
    int rc;
    if ((rc = tasker_check_handle(t)) || (rc = tasker_check_id("task id", task_id))) return rc;
    if (t->st->ops->version < 4) return lacks(t, "trigger_opts");
    job *j = calloc(1, sizeof *j);
    if (!j) return tasker_fail(TASKER_ENOMEM, "trigger '%s': out of memory", task_id);
    snprintf(j->task_id, sizeof j->task_id, "%s", task_id);
    if ((rc = t->st->ops->get_task(t->st, task_id, &j->task)) != TASKER_OK) {
        if (rc == TASKER_ENOTFOUND) tasker_fail(rc, "trigger: task '%s' not found", task_id);
        goto out;
    }
    tasker_new_id(t, j->exec_id);
    tasker_task_exec e = {.exec_id = j->exec_id, .task_id = (char *)task_id};
    if ((rc = fill_run(t, o, j, &e)) != TASKER_OK) goto out;
    j->attempt = 1;
    j->timeout_ms = o->timeout_ms;
    rc = t->st->ops->add_task_exec(t->st, &e);
    if (rc == TASKER_EEXISTS && o->unique_key) {
        rc = key_taken(t, task_id, o->unique_key, exec_id);
        goto out;
    }
    if (rc != TASKER_OK) goto out;
    if (exec_id) memcpy(exec_id, j->exec_id, TASKER_ID_SIZE);
    tasker_pool_pickup_first(t);
    /* A delayed run is left to the poll (claims) or the rescan at its time. */
    if (e.run_at_us) {
        tasker_sched_wake_at(t, e.run_at_us);
        goto out;
    }
    if (tasker_pool_submit(t, j)) j = NULL;
out:
    tasker_job_free(j);
    return rc;
}

int tasker_cancel(tasker_t *t, const char *exec_id)
{
    int rc;
    if ((rc = tasker_check_handle(t)) || (rc = tasker_check_id("exec id", exec_id))) return rc;
    if (!HAS_OP(t, cancel_task_exec)) return lacks(t, "cancel");
    tasker_exec_status was = TASKER_EXEC_PENDING;
    rc = t->st->ops->cancel_task_exec(t->st, exec_id, tasker_now_us(t), &was);
    if (rc == TASKER_OK && was == TASKER_EXEC_PENDING) tasker_notify_done(t);
    if (rc == TASKER_OK && was == TASKER_EXEC_RUNNING) tasker_life_cancel_local(t, exec_id);
    return rc;
}

int tasker_retry(tasker_t *t, const char *exec_id, char new_exec_id[TASKER_ID_SIZE])
{
    int rc;
    if ((rc = tasker_check_handle(t)) || (rc = tasker_check_id("exec id", exec_id))) return rc;
    tasker_task_exec old = {0};
    if ((rc = t->st->ops->get_task_exec(t->st, exec_id, &old)) != TASKER_OK) return rc;
    if (old.status == TASKER_EXEC_PENDING || old.status == TASKER_EXEC_RUNNING) {
        rc = tasker_fail(TASKER_ESTATE, "retry: execution '%s' is %s, not finished", exec_id,
                         tasker_exec_status_name(old.status));
    } else {
        tasker_run_opts o = {
            .param_json = old.param, .priority = old.priority, .timeout_ms = old.timeout_ms};
        rc = tasker_trigger_opts(t, old.task_id, &o, new_exec_id);
    }
    tasker_exec_clear(&old);
    return rc;
}

static int set_task_paused(tasker_t *t, const char *task_id, bool paused, const char *what)
{
    int rc;
    if ((rc = tasker_check_handle(t)) || (rc = tasker_check_id("task id", task_id))) return rc;
    if (!HAS_OP(t, set_task_paused)) return lacks(t, what);
    if ((rc = t->st->ops->set_task_paused(t->st, task_id, paused)) != TASKER_OK) return rc;
    if (!paused) tasker_wake(t); /* its queued runs may start now */
    return TASKER_OK;
}

int tasker_pause_task(tasker_t *t, const char *task_id)
{
    return set_task_paused(t, task_id, true, "pause_task");
}
int tasker_resume_task(tasker_t *t, const char *task_id)
{
    return set_task_paused(t, task_id, false, "resume_task");
}

static int set_scheme_paused(tasker_t *t, const char *scheme_id, bool paused, const char *what)
{
    int rc;
    if ((rc = tasker_check_handle(t)) || (rc = tasker_check_id("schedule id", scheme_id)))
        return rc;
    if (!HAS_OP(t, set_scheme_paused)) return lacks(t, what);
    rc = t->st->ops->set_scheme_paused(t->st, scheme_id, paused, tasker_now_us(t));
    if (rc == TASKER_OK) tasker_sched_changed(t);
    return rc;
}

int tasker_pause_schedule(tasker_t *t, const char *scheme_id)
{
    return set_scheme_paused(t, scheme_id, true, "pause_schedule");
}
int tasker_resume_schedule(tasker_t *t, const char *scheme_id)
{
    return set_scheme_paused(t, scheme_id, false, "resume_schedule");
}

/* The cursor is "QUEUED_US:EXEC_ID" of a page's last row: opaque to callers. */
int tasker_list_execs_filter(tasker_t *t, const tasker_exec_filter *f, tasker_task_exec **out,
                             size_t *n, char **next_cursor)
{
    int rc;
    if ((rc = tasker_check_handle(t))) return rc;
    if (!f || !out || !n)
        return tasker_fail(TASKER_EINVAL, "list_execs_filter: NULL filter or output");
    *out = NULL;
    *n = 0;
    if (next_cursor) *next_cursor = NULL;
    if (f->task_id && (rc = tasker_check_id("task id", f->task_id))) return rc;
    if (!HAS_OP(t, list_task_execs_filter)) return lacks(t, "list_execs_filter");
    int64_t after_us = 0;
    char after_id[TASKER_ID_SIZE] = "";
    if (f->cursor) {
        int used = 0;
        if (sscanf(f->cursor, "%" SCNd64 ":%n", &after_us, &used) != 1 || used <= 0 ||
            tasker_check_id("cursor", f->cursor + used) != TASKER_OK)
            return tasker_fail(TASKER_EINVAL, "list_execs_filter: bad cursor '%s'", f->cursor);
        snprintf(after_id, sizeof after_id, "%s", f->cursor + used);
    }
    size_t limit = f->limit ? f->limit : 100;
    rc = t->st->ops->list_task_execs_filter(t->st, f, after_us, f->cursor ? after_id : NULL,
                                            limit, out, n);
    if (rc != TASKER_OK || !next_cursor || *n < limit) return rc;
    const tasker_task_exec *last = &(*out)[*n - 1];
    if (asprintf(next_cursor, "%" PRId64 ":%s", last->queued_us, last->exec_id) < 0) {
        *next_cursor = NULL;
        tasker_free_execs(*out, *n);
        *out = NULL;
        *n = 0;
        return tasker_fail(TASKER_ENOMEM, "list_execs_filter: out of memory");
    }
    return TASKER_OK;
}

void tasker_no_retry(tasker_ctx *c)
{
    if (!c) return;
    pthread_mutex_lock(&c->lock);
    c->no_retry = true;
    pthread_mutex_unlock(&c->lock);
}

void tasker_life_join(tasker_t *t, tasker_ctx *c, int64_t timeout_ms)
{
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
    c->deadline_mono_us = c->timeout_ms ? tasker_mono_us() + c->timeout_ms * 1000 : 0;
    pthread_mutex_lock(&t->life.lock);
    c->run_next = t->life.running;
    t->life.running = c;
    pthread_mutex_unlock(&t->life.lock);
}

void tasker_life_leave(tasker_t *t, tasker_ctx *c)
{
    pthread_mutex_lock(&t->life.lock);
    for (tasker_ctx **p = &t->life.running; *p; p = &(*p)->run_next)
        if (*p == c) {
            *p = c->run_next;
            break;
        }
    pthread_mutex_unlock(&t->life.lock);
}

bool tasker_life_cancel_local(tasker_t *t, const char *exec_id)
{
    bool found = false;
    pthread_mutex_lock(&t->life.lock);
    for (tasker_ctx *c = t->life.running; c; c = c->run_next)
        if (strcmp(c->exec_id, exec_id) == 0) {
            atomic_store(&c->cancel, true);
            found = true;
        }
    pthread_mutex_unlock(&t->life.lock);
    return found;
}

void tasker_life_read_cancels(tasker_t *t)
{
    if (!HAS_OP(t, list_cancel_requests)) return;
    pthread_mutex_lock(&t->life.lock);
    bool any = t->life.running != NULL; /* nothing runs here: nothing to read */
    pthread_mutex_unlock(&t->life.lock);
    if (!any) return;
    tasker_task_exec *v = NULL;
    size_t n = 0;
    if (t->st->ops->list_cancel_requests(t->st, t->node_id, &v, &n) != TASKER_OK) return;
    for (size_t i = 0; i < n; i++)
        if (v[i].exec_id) tasker_life_cancel_local(t, v[i].exec_id);
    tasker_free_execs(v, n);
}

bool tasker_life_timed_out(const tasker_ctx *c)
{
    return c->deadline_mono_us && tasker_mono_us() >= c->deadline_mono_us;
}
int tasker_attempt(tasker_ctx *c) { return c ? (c->attempt > 0 ? c->attempt : 1) : 0; }

void tasker_life_wake_for_retry(tasker_t *t, const job *j, const tasker_task_exec *e)
{
    bool retryable = e->status == TASKER_EXEC_FAILED || e->status == TASKER_EXEC_INTERRUPTED;
    int attempt = j->attempt > 0 ? j->attempt : 1;
    int max = j->task.max_attempts > 0 ? j->task.max_attempts : 1;
    if (!retryable || e->attempt < 0 || attempt >= max) return;
    /* The drivers' delay: backoff_ms doubled per attempt, capped, times [0.9, 1.1]. */
    int64_t ms = j->task.backoff_ms > 0 ? j->task.backoff_ms : 1000;
    int64_t cap = j->task.backoff_max_ms > 0 ? j->task.backoff_max_ms : 3600000;
    for (int k = 1; k < attempt && ms < cap; k++) ms *= 2;
    if (ms > cap) ms = cap;
    tasker_sched_wake_at(t, e->end_us + ms * 900); /* 0.9 x ms, in microseconds */
}
