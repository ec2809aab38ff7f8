/* The records as JSON, for --json. Field names are those of the C records; times
 * stay integers in microseconds (UTC) and gain an ISO 8601 twin for readers; stored
 * params and results nest as JSON values rather than strings. Text that is not valid
 * UTF-8 (a command's raw output, a record written by an older version) is encoded,
 * one U+FFFD per bad byte, never dropped: JSON text is UTF-8, and jansson refuses
 * anything else. */
#include "cli/cli.h"
#include "cli/output.h"
#include "core/utf8.h"

#include <stdlib.h>
#include <string.h>

int out_json(json_t *v)
{
    if (!v) {
        cli_errorf("out of memory building JSON output");
        return CLI_FAIL;
    }
    json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(v);
    return CLI_OK;
}

/* A copy of the n bytes at s in which each byte that starts no valid sequence is
 * U+FFFD (3 bytes); *out_len is its length. NULL on out of memory. */
static char *utf8_repair(const char *s, size_t n, size_t *out_len)
{
    char *fixed = malloc(3 * n + 1);
    if (!fixed) return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t out = 0;
    for (size_t i = 0; i < n;) {
        size_t len = tasker_utf8_len(p + i, n - i);
        if (len == 0) {
            memcpy(fixed + out, "\xef\xbf\xbd", 3);
            out += 3;
            i++;
        } else {
            memcpy(fixed + out, p + i, len);
            out += len;
            i += len;
        }
    }
    fixed[out] = '\0';
    *out_len = out;
    return fixed;
}

json_t *json_text(const char *s)
{
    if (!s) return json_null();
    size_t n = strlen(s), fixed_len;
    json_t *v = json_stringn(s, n);
    if (v) return v;
    char *fixed = utf8_repair(s, n, &fixed_len);
    if (fixed) v = json_stringn(fixed, fixed_len);
    free(fixed);
    return v;
}

bool json_append(json_t **arr, json_t *item)
{
    /* json_array_append_new takes item even when it fails. */
    if (json_array_append_new(*arr, item) == 0) return true;
    json_decref(*arr);
    *arr = NULL;
    return false;
}

json_t *json_from_text(const char *text)
{
    if (!text) return json_null();
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    if (v) return v;
    /* Stored by something that did not check it: repaired, it may still nest. */
    size_t n = strlen(text), fixed_len;
    char *fixed = utf8_repair(text, n, &fixed_len);
    if (!fixed) return NULL;
    v = json_loadb(fixed, fixed_len, JSON_DECODE_ANY, NULL);
    if (!v) v = json_stringn(fixed, fixed_len);
    free(fixed);
    return v;
}

/* Adds name (integer microseconds) and name without "_us" plus "_at" (ISO text, or
 * null for 0). */
static void set_time(json_t *o, const char *name_us, const char *name_at, int64_t time_us)
{
    json_object_set_new(o, name_us, json_integer(time_us));
    if (time_us) {
        char iso[FMT_TIME_SIZE];
        fmt_iso_utc(time_us, iso);
        json_object_set_new(o, name_at, json_string(iso));
    } else {
        json_object_set_new(o, name_at, json_null());
    }
}

json_t *json_task(const tasker_task *t)
{
    /* The policies as stored: 0 means the default (design section 6). */
    return json_pack("{s:o, s:o, s:o, s:o, s:i, s:I, s:I, s:I, s:i, s:i, s:i, s:I, s:b}", "task_id",
                     json_text(t->task_id), "handler", json_text(t->handler), "param",
                     json_from_text(t->param), "desc", json_text(t->desc), "max_attempts",
                     t->max_attempts, "backoff_ms", (json_int_t)t->backoff_ms, "backoff_max_ms",
                     (json_int_t)t->backoff_max_ms, "timeout_ms", (json_int_t)t->timeout_ms,
                     "max_concurrency", t->max_concurrency, "priority", t->priority, "max_execs",
                     t->max_execs, "max_exec_age_s", (json_int_t)t->max_exec_age_s, "paused",
                     t->paused);
}

json_t *json_scheme(const tasker_task_scheme *s, int64_t next_us)
{
    json_t *o =
        json_pack("{s:o, s:o, s:o, s:s, s:s}", "scheme_id", json_text(s->scheme_id), "task_id",
                  json_text(s->task_id), "cron", json_text(s->cron), "misfire",
                  tasker_misfire_name(s->misfire), "overlap", tasker_overlap_name(s->overlap));
    if (!o) return NULL;
    json_object_set_new(o, "paused", json_boolean(s->paused));
    set_time(o, "created_us", "created_at", s->created_us);
    set_time(o, "last_fire_us", "last_fire_at", s->last_fire_us);
    set_time(o, "next_fire_us", "next_fire_at", next_us);
    return o;
}

json_t *json_exec(const tasker_task_exec *e)
{
    json_t *o = json_pack("{s:o, s:o, s:o, s:s, s:b, s:o, s:o, s:o}", "exec_id",
                          json_text(e->exec_id), "task_id", json_text(e->task_id), "scheme_id",
                          json_text(e->scheme_id), "status", tasker_exec_status_name(e->status),
                          "success", e->success, "result", json_from_text(e->result), "error",
                          json_text(e->error), "node_id", json_text(e->node_id));
    if (!o) return NULL;
    set_time(o, "scheduled_us", "scheduled_at", e->scheduled_us);
    set_time(o, "queued_us", "queued_at", e->queued_us);
    set_time(o, "start_us", "start_at", e->start_us);
    set_time(o, "end_us", "end_at", e->end_us);
    if (e->start_us && e->end_us)
        json_object_set_new(o, "duration_us", json_integer(e->end_us - e->start_us));
    else
        json_object_set_new(o, "duration_us", json_null());
    /* The lifecycle fields (design section 6); a run's own params nest as JSON. */
    json_object_set_new(o, "attempt", json_integer(e->attempt ? e->attempt : 1));
    json_object_set_new(o, "retry_of", json_text(e->retry_of));
    set_time(o, "run_at_us", "run_at", e->run_at_us);
    json_object_set_new(o, "priority", json_integer(e->priority));
    json_object_set_new(o, "param", json_from_text(e->param));
    json_object_set_new(o, "unique_key", json_text(e->unique_key));
    json_object_set_new(o, "timeout_ms", json_integer(e->timeout_ms));
    return o;
}

json_t *json_event(const tasker_task_event *e)
{
    json_t *o = json_pack("{s:I, s:o, s:s, s:o}", "event_id", (json_int_t)e->event_id, "exec_id",
                          json_text(e->exec_id), "level", tasker_level_name(e->level), "message",
                          json_text(e->message));
    if (!o) return NULL;
    set_time(o, "time_us", "time_at", e->time_us);
    return o;
}
