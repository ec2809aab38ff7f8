/* The memory driver's job lifecycle operations (storage version 4): cancel, pausing
 * tasks and schedules, the filtered history and the holder of a unique key. Every one
 * works under the store's lock, which makes each a single atomic step. */
#include "storage/memory/internal.h"

#include <stdio.h>
#include <stdlib.h>

int mem_cancel_task_exec(tasker_storage *st, const char *exec_id, int64_t now_us,
                         tasker_exec_status *was)
{
    if (!exec_id) return tasker_fail(TASKER_EINVAL, "memory: cancel_task_exec: NULL exec_id");
    mem_store *m = mem(st);
    char *error = strdup("cancelled");
    if (!error) return tasker_fail(TASKER_ENOMEM, "memory: cancel_task_exec: out of memory");
    int rc = TASKER_OK;
    pthread_mutex_lock(&m->lock);
    mexec *x = mem_find_exec(m, exec_id);
    if (!x) {
        rc = tasker_fail(TASKER_ENOTFOUND, "memory: no execution '%s'", exec_id);
    } else {
        if (was) *was = x->rec.status;
        if (x->rec.status == TASKER_EXEC_PENDING) {
            x->rec.status = TASKER_EXEC_CANCELLED;
            x->rec.end_us = now_us;
            x->rec.success = false;
            free(x->rec.error);
            x->rec.error = error;
            error = NULL;
            mem_place_on_list(m, x);
        } else if (x->rec.status == TASKER_EXEC_RUNNING) {
            x->cancel_requested = true;
        } else {
            rc = tasker_fail(TASKER_ESTATE, "memory: execution '%s' is %s: finished, not "
                             "cancelled", exec_id, tasker_exec_status_name(x->rec.status));
        }
    }
    pthread_mutex_unlock(&m->lock);
    free(error);
    return rc;
}

int mem_set_task_paused(tasker_storage *st, const char *task_id, bool paused)
{
    if (!task_id) return tasker_fail(TASKER_EINVAL, "memory: set_task_paused: NULL task_id");
    mem_store *m = mem(st);
    pthread_mutex_lock(&m->lock);
    mtask *t = mem_find_task(m, task_id);
    if (t) t->rec.paused = paused;
    pthread_mutex_unlock(&m->lock);
    return t ? TASKER_OK : tasker_fail(TASKER_ENOTFOUND, "memory: no task '%s'", task_id);
}

int mem_set_scheme_paused(tasker_storage *st, const char *scheme_id, bool paused,
                          int64_t now_us)
{
    if (!scheme_id)
        return tasker_fail(TASKER_EINVAL, "memory: set_scheme_paused: NULL scheme_id");
    mem_store *m = mem(st);
    pthread_mutex_lock(&m->lock);
    mscheme *sc = mem_find_scheme(m, scheme_id);
    if (sc) {
        sc->rec.paused = paused;
        if (!paused && sc->rec.last_fire_us < now_us) sc->rec.last_fire_us = now_us;
    }
    pthread_mutex_unlock(&m->lock);
    return sc ? TASKER_OK : tasker_fail(TASKER_ENOTFOUND, "memory: no schedule '%s'", scheme_id);
}

static bool filter_match(const tasker_exec_filter *f, const mexec *x, int64_t after_queued_us,
                         const char *after_exec_id)
{
    const tasker_task_exec *e = &x->rec;
    if (f->task_id && strcmp(e->task_id, f->task_id) != 0) return false;
    if (f->status_mask && !(f->status_mask & (1u << e->status))) return false;
    if (f->since_us && e->queued_us < f->since_us) return false;
    if (f->until_us && e->queued_us >= f->until_us) return false;
    if (after_exec_id && (e->queued_us > after_queued_us ||
                          (e->queued_us == after_queued_us &&
                           strcmp(e->exec_id, after_exec_id) >= 0)))
        return false;
    return true;
}

static int cmp_newest_first(const void *a, const void *b)
{
    const mexec *x = *(mexec *const *)a, *y = *(mexec *const *)b;
    return -cmp_exec(x, y);
}

/* A task's history is walked newest first and stops at limit; every task's is sorted
 * (a listing for people, as list_task_execs). */
int mem_list_task_execs_filter(tasker_storage *st, const tasker_exec_filter *f,
                               int64_t after_queued_us, const char *after_exec_id,
                               size_t limit, tasker_task_exec **out, size_t *n)
{
    if (!f || !out || !n || !limit)
        return tasker_fail(TASKER_EINVAL, "memory: list_task_execs_filter: bad argument");
    *out = NULL;
    *n = 0;
    mem_store *m = mem(st);
    pthread_mutex_lock(&m->lock);
    size_t cap = f->task_id ? limit : m->execs.count, count = 0;
    mexec **v = malloc((cap + 1) * sizeof *v);
    hnode **nodes = f->task_id ? NULL : malloc((m->execs.count + 1) * sizeof *nodes);
    int rc = TASKER_OK;
    if (!v || (!f->task_id && !nodes)) {
        rc = tasker_fail(TASKER_ENOMEM, "memory: list_task_execs_filter: out of memory");
    } else if (f->task_id) {
        mgroup *g = mem_find_group(m, f->task_id);
        for (mexec *x = g ? g->newest : NULL; x && count < limit; x = x->older)
            if (filter_match(f, x, after_queued_us, after_exec_id)) v[count++] = x;
    } else {
        size_t total = mem_htab_collect(&m->execs, nodes);
        for (size_t i = 0; i < total; i++) {
            mexec *x = OWNER(nodes[i], mexec, by_id);
            if (filter_match(f, x, after_queued_us, after_exec_id)) v[count++] = x;
        }
        qsort(v, count, sizeof *v, cmp_newest_first);
        if (count > limit) count = limit;
    }
    if (rc == TASKER_OK) rc = mem_copy_execs_out(v, count, out, n);
    pthread_mutex_unlock(&m->lock);
    free(v);
    free(nodes);
    return rc;
}

int mem_find_unique_exec(tasker_storage *st, const char *task_id, const char *key,
                         char exec_id_out[TASKER_ID_SIZE])
{
    if (!task_id || !key || !exec_id_out)
        return tasker_fail(TASKER_EINVAL, "memory: find_unique_exec: NULL argument");
    mem_store *m = mem(st);
    int rc = TASKER_ENOTFOUND;
    pthread_mutex_lock(&m->lock);
    for (int l = 0; l < 2 && rc != TASKER_OK; l++)
        for (const mexec *x = l ? m->running.head : m->pending.head; x; x = x->next)
            if (x->rec.unique_key && strcmp(x->rec.unique_key, key) == 0 &&
                strcmp(x->rec.task_id, task_id) == 0) {
                snprintf(exec_id_out, TASKER_ID_SIZE, "%s", x->rec.exec_id);
                rc = TASKER_OK;
                break;
            }
    pthread_mutex_unlock(&m->lock);
    if (rc != TASKER_OK)
        return tasker_fail(rc, "memory: no pending or running run of '%s' holds key '%s'",
                           task_id, key);
    return rc;
}

/* Job lifecycle: the delay before the attempt after `attempt`, in microseconds:
 * backoff_ms (0 = 1000) doubled per attempt, capped by backoff_max_ms (0 = 3,600,000),
 * times a jitter in [0.9, 1.1] (from the id's hash: no shared random state). */
static int64_t retry_delay_us(const tasker_task *t, int attempt, const char *id)
{
    int64_t base = t->backoff_ms > 0 ? t->backoff_ms : 1000;
    int64_t cap = t->backoff_max_ms > 0 ? t->backoff_max_ms : 3600000;
    int shift = attempt - 1 < 30 ? attempt - 1 : 30;
    int64_t ms = base > (cap >> shift) ? cap : base << shift;
    if (ms > cap) ms = cap;
    return ms * (900 + (int64_t)(mem_hash_str(id) % 201));
}

/* Job lifecycle: stores the next attempt of x (just failed or interrupted) when its task
 * has attempts left; under the lock of the write that recorded the failure, so one
 * atomic step with it. Retention applies as for any add, so x (finished now) may be
 * freed: the caller must not use x after. Its id is the first attempt's id + "." + attempt. */
void mem_add_retry(mem_store *m, mexec *x)
{
    const tasker_task_exec *f = &x->rec;
    mtask *task = mem_find_task(m, f->task_id);
    int attempt = f->attempt > 0 ? f->attempt : 1;
    if (!task || attempt >= task->rec.max_attempts) return;
    char id[TASKER_ID_SIZE];
    const char *root = f->retry_of ? f->retry_of : f->exec_id;
    if (snprintf(id, sizeof id, "%s.%d", root, attempt + 1) >= (int)sizeof id) return;
    tasker_task_exec r = {.exec_id = id, .task_id = f->task_id, .scheduled_us = f->scheduled_us,
                          .queued_us = f->end_us, .status = TASKER_EXEC_PENDING,
                          .attempt = attempt + 1, .retry_of = (char *)root,
                          .run_at_us = f->end_us + retry_delay_us(&task->rec, attempt, id),
                          .priority = f->priority, .param = f->param,
                          .unique_key = f->unique_key, .timeout_ms = f->timeout_ms};
    mgroup *g = NULL;
    mexec *y = calloc(1, sizeof *y);
    if (!y || !mem_exec_copy(&y->rec, &r) || mem_check_new_exec(m, &r) != TASKER_OK ||
        !(g = mem_group_get(m, r.task_id))) {
        if (y) mem_exec_free_fields(y);
        return;
    }
    mem_htab_insert(&m->execs, &y->by_id, mem_hash_str(y->rec.exec_id));
    mem_group_link(g, y);
    mem_place_on_list(m, y);
    mem_group_admit(m, y);
    mem_apply_retention(m, g); /* an add like any other: x may be pruned here */
}
