/* The public record types: freeing them, naming their enums, a schedule's next fire. */
#include "core/error.h"

#include <tasker/cron.h>
#include <tasker/tasker.h>

#include <stdlib.h>
#include <string.h>

void tasker_task_clear(tasker_task *t)
{
    if (!t) return;
    free(t->task_id);
    free(t->handler);
    free(t->desc);
    free(t->param);
    memset(t, 0, sizeof *t);
}

void tasker_scheme_clear(tasker_task_scheme *s)
{
    if (!s) return;
    free(s->scheme_id);
    free(s->task_id);
    free(s->cron);
    memset(s, 0, sizeof *s);
}

void tasker_exec_clear(tasker_task_exec *e)
{
    if (!e) return;
    free(e->exec_id);
    free(e->task_id);
    free(e->scheme_id);
    free(e->result);
    free(e->error);
    free(e->node_id);
    free(e->retry_of);
    free(e->param);
    free(e->unique_key);
    memset(e, 0, sizeof *e);
}

void tasker_event_clear(tasker_task_event *e)
{
    if (!e) return;
    free(e->exec_id);
    free(e->message);
    memset(e, 0, sizeof *e);
}

#define DEFINE_FREE(fn, type, clear)                                                     \
    void fn(type *v, size_t n)                                                           \
    {                                                                                    \
        if (!v) return;                                                                  \
        for (size_t i = 0; i < n; i++) clear(&v[i]);                                     \
        free(v);                                                                         \
    }

DEFINE_FREE(tasker_free_tasks, tasker_task, tasker_task_clear)
DEFINE_FREE(tasker_free_schemes, tasker_task_scheme, tasker_scheme_clear)
DEFINE_FREE(tasker_free_execs, tasker_task_exec, tasker_exec_clear)
DEFINE_FREE(tasker_free_events, tasker_task_event, tasker_event_clear)

const char *tasker_exec_status_name(tasker_exec_status s)
{
    static const char *names[] = {"pending", "running", "success",
                                  "failed",  "interrupted", "skipped", "cancelled"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

const char *tasker_level_name(tasker_level l)
{
    static const char *names[] = {"debug", "normal", "warning", "error"};
    return (unsigned)l < sizeof names / sizeof names[0] ? names[l] : "unknown";
}

const char *tasker_misfire_name(tasker_misfire m)
{
    static const char *names[] = {"once", "skip", "all"};
    return (unsigned)m < sizeof names / sizeof names[0] ? names[m] : "unknown";
}

const char *tasker_overlap_name(tasker_overlap o)
{
    static const char *names[] = {"allow", "forbid"};
    return (unsigned)o < sizeof names / sizeof names[0] ? names[o] : "unknown";
}

int tasker_scheme_next_us(const tasker_task_scheme *s, int64_t after_us, int64_t *next_us)
{
    if (!s || !s->cron || !next_us)
        return tasker_fail(TASKER_EINVAL, "scheme_next: schedule and next_us must not be NULL");
    tasker_cron *expr = NULL;
    int rc = tasker_cron_parse_key(s->cron, s->task_id, &expr);
    if (rc != TASKER_OK) return rc;
    tasker_cron_set_anchor(expr, s->created_us);
    rc = tasker_cron_next(expr, after_us, next_us);
    tasker_cron_free(expr);
    return rc;
}
