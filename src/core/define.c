/* Bulk definitions (issue 14): many tasks and schedules checked first, then stored in
 * one write by the driver's add_definitions (storage version 4), or item by item where
 * a driver has none. */
#include "core/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Re-raises the thread's last error with the item named in front. */
static int name_item(int rc, const char *kind, size_t i, const char *task_id)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s", tasker_last_error());
    return tasker_fail(rc, "define: %s[%zu] (task '%s'): %s", kind, i,
                       task_id ? task_id : "(null)", msg);
}

/* A task definition is checked as tasker_add_task_opts checks it. */
static int check_task(const tasker_t *t, const tasker_task_def *d)
{
    int rc;
    const tasker_task_opts *o = &d->opts;
    if ((rc = tasker_check_id("task id", d->task_id)) || (rc = tasker_check_id("handler name", d->handler)) ||
        (rc = tasker_check_json(t, "param", d->param_json)))
        return rc;
    return tasker_check_task_policies(t, d->task_id, o);
}

static int check_schedule(const tasker_schedule_def *d)
{
    int rc;
    if ((rc = tasker_check_id("task id", d->task_id))) return rc;
    if (!d->cron) return tasker_fail(TASKER_EINVAL, "cron: expression is NULL");
    if ((unsigned)d->opts.misfire > TASKER_MISFIRE_ALL ||
        (unsigned)d->opts.overlap > TASKER_OVERLAP_FORBID)
        return tasker_fail(TASKER_EINVAL, "unknown misfire or overlap policy");
    tasker_cron *parsed;
    if ((rc = tasker_cron_parse_key(d->cron, d->task_id, &parsed)) != TASKER_OK) return rc;
    tasker_cron_free(parsed);
    return TASKER_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Without the driver's op: every schedule's task must be in the call or in the store
 * before anything is written, so that a missing one stores nothing. */
static int store_one_by_one(tasker_t *t, const tasker_task *tasks, size_t nt,
                            const tasker_task_scheme *schemes, size_t ns)
{
    int rc = TASKER_OK;
    const char **ids = malloc((nt ? nt : 1) * sizeof *ids);
    if (!ids) return tasker_fail(TASKER_ENOMEM, "define: out of memory");
    for (size_t i = 0; i < nt; i++) ids[i] = tasks[i].task_id;
    qsort(ids, nt, sizeof *ids, cmp_str);
    for (size_t i = 0; i < ns && rc == TASKER_OK; i++) {
        const char *key = schemes[i].task_id;
        if (nt && bsearch(&key, ids, nt, sizeof *ids, cmp_str)) continue;
        tasker_task got = {0};
        rc = t->st->ops->get_task(t->st, key, &got);
        if (rc == TASKER_OK) tasker_task_clear(&got);
        else rc = name_item(rc, "schedules", i, key);
    }
    free(ids);
    for (size_t i = 0; i < nt && rc == TASKER_OK; i++)
        if ((rc = t->st->ops->add_task(t->st, &tasks[i])) != TASKER_OK)
            rc = name_item(rc, "tasks", i, tasks[i].task_id);
    char out[TASKER_ID_SIZE];
    for (size_t i = 0; i < ns && rc == TASKER_OK; i++)
        if ((rc = t->st->ops->add_task_scheme(t->st, &schemes[i], out)) != TASKER_OK)
            rc = name_item(rc, "schedules", i, schemes[i].task_id);
    return rc;
}

int tasker_define(tasker_t *t, const tasker_task_def *tasks, size_t nt,
                  const tasker_schedule_def *schedules, size_t ns)
{
    int rc;
    if ((rc = tasker_check_handle(t))) return rc;
    if ((nt && !tasks) || (ns && !schedules))
        return tasker_fail(TASKER_EINVAL, "define: NULL array");
    for (size_t i = 0; i < nt; i++)
        if ((rc = check_task(t, &tasks[i]))) return name_item(rc, "tasks", i, tasks[i].task_id);
    for (size_t i = 0; i < ns; i++)
        if ((rc = check_schedule(&schedules[i])))
            return name_item(rc, "schedules", i, schedules[i].task_id);
    if (nt + ns == 0) return TASKER_OK;

    tasker_task *tv = calloc(nt ? nt : 1, sizeof *tv);
    tasker_task_scheme *sv = calloc(ns ? ns : 1, sizeof *sv);
    char (*idv)[TASKER_ID_SIZE] = malloc((ns ? ns : 1) * sizeof *idv);
    if (!tv || !sv || !idv) {
        rc = tasker_fail(TASKER_ENOMEM, "define: out of memory");
        goto out;
    }
    for (size_t i = 0; i < nt; i++) {
        const tasker_task_def *d = &tasks[i];
        tv[i] = (tasker_task){.task_id = (char *)d->task_id, .handler = (char *)d->handler,
                              .desc = (char *)d->opts.desc,
                              .param = (char *)(d->param_json ? d->param_json : "null"),
                              .max_execs = d->opts.max_execs,
                              .max_exec_age_s = d->opts.max_exec_age_s,
                              .max_attempts = d->opts.max_attempts,
                              .backoff_ms = d->opts.backoff_ms,
                              .backoff_max_ms = d->opts.backoff_max_ms,
                              .timeout_ms = d->opts.timeout_ms,
                              .max_concurrency = d->opts.max_concurrency,
                              .priority = d->opts.priority};
    }
    int64_t now_us = tasker_now_us(t);
    for (size_t i = 0; i < ns; i++) {
        const tasker_schedule_def *d = &schedules[i];
        tasker_new_id(t, idv[i]);
        sv[i] = (tasker_task_scheme){.scheme_id = idv[i], .task_id = (char *)d->task_id,
                                     .cron = (char *)d->cron, .misfire = d->opts.misfire,
                                     .overlap = d->opts.overlap, .created_us = now_us};
    }
    const tasker_storage_ops *ops = t->st->ops;
    if (ops->version >= 4 && ops->add_definitions) {
        rc = ops->add_definitions(t->st, tv, nt, sv, ns);
        if (rc != TASKER_OK) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", tasker_last_error());
            rc = tasker_fail(rc, "define: %s", msg);
        }
    } else {
        rc = store_one_by_one(t, tv, nt, sv, ns);
    }
    if (rc == TASKER_OK) tasker_sched_changed(t);
out:
    free(tv);
    free(sv);
    free(idv);
    return rc;
}
