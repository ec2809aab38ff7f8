/* GET /api/v1/execs/{id}/events?after=EVENT_ID: a run's events after an id, as JSON, or
 * with "Accept: text/event-stream" as a live tail (Server-Sent Events): first the run's
 * record ("exec") and the events so far ("event", with the event id as the SSE id, so
 * a reconnecting client resumes by Last-Event-ID), then each new event as it is stored
 * and the record again when the status changes, and last "end" with the finished
 * record. The tail looks at the store every WEB_TAIL_POLL_MS: it works alike for runs
 * of this process and of other processes or nodes. Each tail holds its connection's
 * thread; web_stop wakes and ends them all. */
#include "web/internal.h"

#include "cli/output.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tail {
    web_server *srv;
    char exec_id[WEB_PATH_ID_SIZE];
    int64_t after;   /* the last event id sent */
    int last_status; /* -1 before the first record */
    bool finished;   /* "end" is queued: stop after the buffer */
    char *buf;       /* formatted and not yet handed to MHD */
    size_t len, off;
    int64_t last_write_us;
} tail;

static bool is_finished(tasker_exec_status s)
{
    return s != TASKER_EXEC_PENDING && s != TASKER_EXEC_RUNNING;
}

static void append(tail *t, const char *event, const char *id, json_t *data)
{
    char *text = data ? json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(data);
    if (!text) return;
    size_t need = strlen(event) + strlen(text) + (id ? strlen(id) : 0) + 32;
    char *grown = realloc(t->buf, t->len + need);
    if (grown) {
        t->buf = grown;
        t->len += (size_t)sprintf(t->buf + t->len, "%s%s%sevent: %s\ndata: %s\n\n",
                                  id ? "id: " : "", id ? id : "", id ? "\n" : "", event, text);
    }
    free(text);
}

/* Queues what the store holds that the client has not seen; false when the run is gone. */
static bool poll_store(tail *t)
{
    tasker_task_exec e = {0};
    if (tasker_get_exec(t->srv->t, t->exec_id, &e) != TASKER_OK) return false;
    /* The status is read before the events: a run seen finished here has all its events
     * in the list read next. */
    tasker_task_event *evs = NULL;
    size_t n = 0;
    tasker_list_events(t->srv->t, t->exec_id, &evs, &n);
    if ((int)e.status != t->last_status && !is_finished(e.status)) {
        t->last_status = (int)e.status;
        append(t, "exec", NULL, json_exec(&e));
    }
    for (size_t i = 0; i < n; i++) {
        if (evs[i].event_id <= t->after) continue;
        char id[32];
        snprintf(id, sizeof id, "%lld", (long long)evs[i].event_id);
        append(t, "event", id, json_event(&evs[i]));
        t->after = evs[i].event_id;
    }
    tasker_free_events(evs, n);
    if (is_finished(e.status)) {
        append(t, "end", NULL, json_exec(&e));
        t->finished = true;
    }
    tasker_exec_clear(&e);
    return true;
}

/* Waits up to ms for the server to stop; true when it stops. */
static bool wait_stop(web_server *s, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)ms * 1000000;
    ts.tv_sec += ts.tv_nsec / 1000000000;
    ts.tv_nsec %= 1000000000;
    pthread_mutex_lock(&s->stop_lock);
    while (!atomic_load(&s->stopping))
        if (pthread_cond_timedwait(&s->stop_cond, &s->stop_lock, &ts) != 0) break;
    pthread_mutex_unlock(&s->stop_lock);
    return atomic_load(&s->stopping);
}

/* libmicrohttpd asks for the next bytes; this connection's thread may block here. */
static ssize_t tail_read(void *cls, uint64_t pos, char *out, size_t max)
{
    tail *t = cls;
    while (t->off == t->len) {
        t->off = t->len = 0;
        if (t->finished || atomic_load(&t->srv->stopping)) return MHD_CONTENT_READER_END_OF_STREAM;
        if (!poll_store(t)) return MHD_CONTENT_READER_END_OF_STREAM; /* pruned meanwhile */
        if (t->len) break;
        if (web_now_us() - t->last_write_us > WEB_TAIL_KEEPALIVE_MS * 1000) {
            static const char ping[] = ": keepalive\n\n";
            char *grown = realloc(t->buf, sizeof ping);
            if (!grown) return MHD_CONTENT_READER_END_WITH_ERROR;
            t->buf = grown;
            memcpy(t->buf, ping, sizeof ping - 1);
            t->len = sizeof ping - 1;
            break;
        }
        if (wait_stop(t->srv, WEB_TAIL_POLL_MS)) return MHD_CONTENT_READER_END_OF_STREAM;
    }
    size_t n = t->len - t->off < max ? t->len - t->off : max;
    memcpy(out, t->buf + t->off, n);
    t->off += n;
    t->last_write_us = web_now_us();
    return (ssize_t)n;
}

static void tail_free(void *cls)
{
    tail *t = cls;
    free(t->buf);
    free(t);
}

static bool wants_stream(web_req *r)
{
    const char *accept = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Accept");
    return accept && strstr(accept, "text/event-stream");
}

static enum MHD_Result live_tail(web_req *r, int64_t after)
{
    tail *t = calloc(1, sizeof *t);
    if (!t) return web_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    t->srv = r->srv;
    snprintf(t->exec_id, sizeof t->exec_id, "%s", r->id);
    t->after = after;
    t->last_status = -1;
    t->last_write_us = web_now_us();
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, tail_read, t, tail_free);
    if (!resp) {
        tail_free(t);
        return MHD_NO;
    }
    web_secure_headers(resp, "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no"); /* a proxy must not hold it */
    enum MHD_Result ret = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result api_events(web_req *r)
{
    int64_t after = 0;
    const char *a = web_arg(r, "after");
    if (!a) a = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Last-Event-ID");
    if (a && *a) {
        char *end = NULL;
        long long v = strtoll(a, &end, 10);
        if (end == a || *end || v < 0)
            return web_reply_error(r, MHD_HTTP_BAD_REQUEST,
                                   "query: bad after '%.40s': expected an event id", a);
        after = v;
    }
    tasker_task_exec e = {0};
    int err = tasker_get_exec(r->srv->t, r->id, &e);
    tasker_exec_clear(&e);
    if (err != TASKER_OK) return web_reply_lib_error(r, err, "exec");
    if (wants_stream(r)) return live_tail(r, after);
    tasker_task_event *evs = NULL;
    size_t n = 0;
    if ((err = tasker_list_events(r->srv->t, r->id, &evs, &n)) != TASKER_OK &&
        err != TASKER_ENOTFOUND)
        return web_reply_lib_error(r, err, "events");
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++)
        if (evs[i].event_id > after) json_array_append_new(list, json_event(&evs[i]));
    tasker_free_events(evs, n);
    return web_reply_json(r, MHD_HTTP_OK, json_pack("{s:o}", "events", list ? list : json_array()));
}
