/* The records as JSON, for --json. Field names are those of the C records; times
 * stay integers in microseconds (UTC) and gain an ISO 8601 twin for readers; stored
 * params and results nest as JSON values rather than strings. */
#include "cli/cli.h"
#include "cli/output.h"

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

json_t *json_from_text(const char *text)
{
    if (!text) return json_null();
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    return v ? v : json_string(text);
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
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
    return json_pack("{s:s?, s:s?, s:o, s:o}", "task_id", t->task_id, "handler", t->handler,
                     "param", json_from_text(t->param), "desc", str_or_null(t->desc));
}

json_t *json_scheme(const tasker_task_scheme *s, int64_t next_us)
{
    json_t *o = json_pack("{s:s?, s:s?, s:s?, s:s, s:s}", "scheme_id", s->scheme_id, "task_id",
                          s->task_id, "cron", s->cron, "misfire", tasker_misfire_name(s->misfire),
                          "overlap", tasker_overlap_name(s->overlap));
    if (!o) return NULL;
    set_time(o, "created_us", "created_at", s->created_us);
    set_time(o, "last_fire_us", "last_fire_at", s->last_fire_us);
    set_time(o, "next_fire_us", "next_fire_at", next_us);
    return o;
}

json_t *json_exec(const tasker_task_exec *e)
{
    json_t *o = json_pack("{s:s?, s:s?, s:o, s:s, s:b, s:o, s:o, s:o}", "exec_id", e->exec_id,
                          "task_id", e->task_id, "scheme_id", str_or_null(e->scheme_id), "status",
                          tasker_exec_status_name(e->status), "success", e->success, "result",
                          json_from_text(e->result), "error", str_or_null(e->error), "node_id",
                          str_or_null(e->node_id));
    if (!o) return NULL;
    set_time(o, "scheduled_us", "scheduled_at", e->scheduled_us);
    set_time(o, "queued_us", "queued_at", e->queued_us);
    set_time(o, "start_us", "start_at", e->start_us);
    set_time(o, "end_us", "end_at", e->end_us);
    if (e->start_us && e->end_us)
        json_object_set_new(o, "duration_us", json_integer(e->end_us - e->start_us));
    else
        json_object_set_new(o, "duration_us", json_null());
    return o;
}

json_t *json_event(const tasker_task_event *e)
{
    json_t *o = json_pack("{s:I, s:s?, s:s, s:s?}", "event_id", (json_int_t)e->event_id, "exec_id",
                          e->exec_id, "level", tasker_level_name(e->level), "message", e->message);
    if (!o) return NULL;
    set_time(o, "time_us", "time_at", e->time_us);
    return o;
}
