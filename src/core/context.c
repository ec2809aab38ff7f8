/* The handler's context: events, outcome, params. One context per running execution. */
#include "core/internal.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tasker_ctx_init(tasker_ctx *c, tasker_t *t, const tasker_task *task, const char *exec_id,
                     int64_t scheduled_us, void *udata)
{
    memset(c, 0, sizeof *c);
    c->t = t;
    c->exec_id = exec_id;
    c->task_id = task->task_id;
    c->param = task->param ? task->param : "null";
    c->scheduled_us = scheduled_us;
    c->udata = udata;
    pthread_mutex_init(&c->lock, NULL);
}

static int store_event(tasker_ctx *c, tasker_level level, const char *msg)
{
    tasker_task_event ev = {.exec_id = (char *)c->exec_id, .time_us = tasker_now_us(c->t),
                            .level = level, .message = (char *)msg};
    return tasker_store_event(c->t, &ev);
}

/* Called once the handler returned: the note about dropped events comes last. */
void tasker_ctx_finish(tasker_ctx *c)
{
    if (c->dropped > 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "%d more events dropped: the limit is %d per execution",
                 c->dropped, c->t->opt.max_events_per_exec);
        store_event(c, TASKER_WARNING, msg);
    }
}

void tasker_ctx_destroy(tasker_ctx *c)
{
    free(c->error);
    free(c->result);
    if (c->param_json) json_decref((json_t *)c->param_json);
    pthread_mutex_destroy(&c->lock);
}

/* Cuts msg (of len bytes) to the limit on a UTF-8 character boundary and appends a
 * marker saying how much was cut. Returns a new string, or NULL when out of memory. */
static char *cut_message(const char *msg, size_t len, size_t limit)
{
    size_t keep = limit;
    while (keep > 0 && ((unsigned char)msg[keep] & 0xc0) == 0x80) keep--;
    char marker[64];
    int mlen = snprintf(marker, sizeof marker, "... [cut %zu bytes]", len - keep);
    char *out = malloc(keep + (size_t)mlen + 1);
    if (!out) return NULL;
    memcpy(out, msg, keep);
    memcpy(out + keep, marker, (size_t)mlen + 1);
    return out;
}

static int vevent(tasker_ctx *c, tasker_level level, const char *fmt, va_list ap)
{
    if (!c) return tasker_fail(TASKER_EINVAL, "event: context is NULL");
    if (!fmt) return tasker_fail(TASKER_EINVAL, "event: format is NULL");
    if ((unsigned)level > TASKER_ERROR)
        return tasker_fail(TASKER_EINVAL, "event: level %d is not a tasker_level", (int)level);
    pthread_mutex_lock(&c->lock);
    int cap = c->t->opt.max_events_per_exec;
    if (cap >= 0 && c->events >= cap) {
        c->dropped++;
        pthread_mutex_unlock(&c->lock);
        return TASKER_OK;
    }
    c->events++;
    pthread_mutex_unlock(&c->lock);

    char *msg = NULL;
    int len = vasprintf(&msg, fmt, ap);
    if (len < 0) return tasker_fail(TASKER_ENOMEM, "event: out of memory");
    if ((size_t)len > c->t->opt.max_event_bytes) {
        char *cut = cut_message(msg, (size_t)len, c->t->opt.max_event_bytes);
        free(msg);
        if (!cut) return tasker_fail(TASKER_ENOMEM, "event: out of memory");
        msg = cut;
    }
    int rc = store_event(c, level, msg);
    free(msg);
    return rc;
}

int tasker_event(tasker_ctx *c, tasker_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vevent(c, level, fmt, ap);
    va_end(ap);
    return rc;
}

int tasker_success(tasker_ctx *c, const char *result_json)
{
    if (!c) return tasker_fail(TASKER_EINVAL, "success: context is NULL");
    int rc = tasker_check_json(c->t, "result", result_json);
    if (rc != TASKER_OK) return rc;
    char *copy = tasker_strdup_or_null(result_json);
    if (result_json && !copy) return tasker_fail(TASKER_ENOMEM, "success: out of memory");
    pthread_mutex_lock(&c->lock);
    free(c->result);
    c->result = copy;
    pthread_mutex_unlock(&c->lock);
    return TASKER_OK;
}

int tasker_failed(tasker_ctx *c, const char *fmt, ...)
{
    if (!c) return tasker_fail(TASKER_EINVAL, "failed: context is NULL");
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int len = fmt ? vasprintf(&msg, fmt, ap) : -1;
    va_end(ap);
    if (!fmt) msg = strdup("failed");
    else if (len < 0) msg = NULL;
    if (!msg) return tasker_fail(TASKER_ENOMEM, "failed: out of memory");
    if (strlen(msg) > c->t->opt.max_event_bytes) {
        char *cut = cut_message(msg, strlen(msg), c->t->opt.max_event_bytes);
        free(msg);
        if (!cut) return tasker_fail(TASKER_ENOMEM, "failed: out of memory");
        msg = cut;
    }
    pthread_mutex_lock(&c->lock);
    bool first = !c->failed;
    c->failed = true;
    if (first) c->error = strdup(msg);
    pthread_mutex_unlock(&c->lock);
    int rc = tasker_event(c, TASKER_ERROR, "%s", msg);
    free(msg);
    return rc;
}

const char *tasker_param(tasker_ctx *c) { return c ? c->param : NULL; }
const char *tasker_task_id(tasker_ctx *c) { return c ? c->task_id : NULL; }
const char *tasker_exec_id(tasker_ctx *c) { return c ? c->exec_id : NULL; }
int64_t tasker_scheduled_us(tasker_ctx *c) { return c ? c->scheduled_us : 0; }
void *tasker_udata(tasker_ctx *c) { return c ? c->udata : NULL; }
tasker_t *tasker_handle(tasker_ctx *c) { return c ? c->t : NULL; }
bool tasker_cancelled(tasker_ctx *c) { return c && atomic_load(&c->t->interrupted); }
