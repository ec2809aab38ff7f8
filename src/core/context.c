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

/* The tail of a long run's output. Past the head (the first limit - K events, stored as
 * they come), events go to a ring of the last K; each one pushed out of a full ring is
 * counted as dropped. When the handler returns, a note saying how many were dropped and
 * then the ring are stored, so the run's last lines (its summary, its error) survive. */
typedef struct {
    int64_t time_us;
    tasker_level level;
    char *message;
} tail_event;

struct tasker_tail {
    int size;        /* K */
    int first, used; /* ring: the oldest entry, how many are held */
    tail_event ev[];
};

/* K for a limit: a tenth of it, at least 1 once the limit is 2 or more (so even a small
 * limit keeps the last line), 0 for a limit of 0 or 1. */
int tasker_tail_events(int limit)
{
    if (limit < 2) return 0;
    return limit / 10 > 0 ? limit / 10 : 1;
}

static int store_event_at(tasker_ctx *c, int64_t time_us, tasker_level level, const char *msg)
{
    tasker_task_event ev = {.exec_id = (char *)c->exec_id, .time_us = time_us,
                            .level = level, .message = (char *)msg};
    return tasker_store_event(c->t, &ev);
}

/* Keeps msg (taken over) as one of the last K events; called with c->lock held.
 * Returns false when out of memory (msg is then freed and the event counted dropped). */
static bool tail_push(tasker_ctx *c, int64_t time_us, tasker_level level, char *msg)
{
    int k = tasker_tail_events(c->t->opt.max_events_per_exec);
    if (!c->tail) {
        c->tail = calloc(1, sizeof *c->tail + (size_t)k * sizeof(tail_event));
        if (!c->tail) {
            free(msg);
            c->dropped++;
            return false;
        }
        c->tail->size = k;
    }
    struct tasker_tail *r = c->tail;
    tail_event *slot;
    if (r->used == r->size) { /* full: the oldest makes room */
        slot = &r->ev[r->first];
        free(slot->message);
        r->first = (r->first + 1) % r->size;
        c->dropped++;
    } else {
        slot = &r->ev[(r->first + r->used) % r->size];
        r->used++;
    }
    *slot = (tail_event){.time_us = time_us, .level = level, .message = msg};
    return true;
}

/* Called once the handler returned: the note about dropped events, then the tail. The
 * note carries the time of the first tail event (or now), so times stay in order. */
void tasker_ctx_finish(tasker_ctx *c)
{
    struct tasker_tail *r = c->tail;
    int held = r ? r->used : 0;
    if (c->dropped > 0) {
        char msg[160];
        if (held > 0)
            snprintf(msg, sizeof msg, "%d events dropped between here and the last %d", c->dropped,
                     held);
        else
            snprintf(msg, sizeof msg, "%d more events dropped: the limit is %d per execution",
                     c->dropped, c->t->opt.max_events_per_exec);
        store_event_at(c, held > 0 ? r->ev[r->first].time_us : tasker_now_us(c->t),
                       TASKER_WARNING, msg);
    }
    for (int i = 0; i < held; i++) {
        tail_event *e = &r->ev[(r->first + i) % r->size];
        store_event_at(c, e->time_us, e->level, e->message);
        free(e->message);
        e->message = NULL;
    }
    if (r) r->used = 0;
}

void tasker_ctx_destroy(tasker_ctx *c)
{
    if (c->tail) {
        for (int i = 0; i < c->tail->used; i++)
            free(c->tail->ev[(c->tail->first + i) % c->tail->size].message);
        free(c->tail);
    }
    free(c->error);
    free(c->result);
    if (c->param_json) json_decref((json_t *)c->param_json);
    pthread_mutex_destroy(&c->lock);
}

/* Cuts msg (of len bytes, len > limit) to at most limit bytes, marker included: the
 * message is cut on a UTF-8 character boundary and ends with "... [cut N bytes]". A
 * limit too small for the marker keeps only what fits, without it. Returns a new
 * string, or NULL when out of memory. */
static char *cut_message(const char *msg, size_t len, size_t limit)
{
    char marker[64];
    /* N <= len, so the marker for N = len is at least as long as the final one. */
    size_t mlen = (size_t)snprintf(marker, sizeof marker, "... [cut %zu bytes]", len);
    if (mlen >= limit) mlen = 0;
    size_t keep = limit - mlen;
    while (keep > 0 && ((unsigned char)msg[keep] & 0xc0) == 0x80) keep--;
    if (mlen) mlen = (size_t)snprintf(marker, sizeof marker, "... [cut %zu bytes]", len - keep);
    char *out = malloc(keep + mlen + 1);
    if (!out) return NULL;
    memcpy(out, msg, keep);
    memcpy(out + keep, marker, mlen);
    out[keep + mlen] = '\0';
    return out;
}

static int vevent(tasker_ctx *c, tasker_level level, const char *fmt, va_list ap)
{
    if (!c) return tasker_fail(TASKER_EINVAL, "event: context is NULL");
    if (!fmt) return tasker_fail(TASKER_EINVAL, "event: format is NULL");
    if ((unsigned)level > TASKER_ERROR)
        return tasker_fail(TASKER_EINVAL, "event: level %d is not a tasker_level", (int)level);
    int64_t time_us = tasker_now_us(c->t);
    int cap = c->t->opt.max_events_per_exec;
    int head = cap - tasker_tail_events(cap);
    pthread_mutex_lock(&c->lock);
    bool in_head = cap < 0 || c->events < head;
    if (in_head) c->events++;
    else if (tasker_tail_events(cap) == 0) {
        c->dropped++;
        pthread_mutex_unlock(&c->lock);
        return TASKER_OK;
    }
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
    if (!in_head) {
        pthread_mutex_lock(&c->lock);
        bool kept = tail_push(c, time_us, level, msg);
        pthread_mutex_unlock(&c->lock);
        return kept ? TASKER_OK : tasker_fail(TASKER_ENOMEM, "event: out of memory");
    }
    int rc = store_event_at(c, time_us, level, msg);
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
/* True at shutdown, after tasker_cancel() of the run, and past its timeout (judged when
 * asked: no timer thread is needed for a flag that is only ever read). */
bool tasker_cancelled(tasker_ctx *c)
{
    return c && (atomic_load(&c->t->interrupted) || atomic_load(&c->cancel) ||
                 tasker_life_timed_out(c));
}
