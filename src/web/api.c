/* The JSON endpoints over the records: tasks, schedules, nodes, one execution, the
 * overview the dashboard opens with, and the trigger. The record fields keep the C
 * names (cli/json.c); times are *_us integers with ISO twins (*_at). */
#include "web/internal.h"

#include "cli/output.h"
#include "cli/wakeup.h"

#include <tasker/cron.h>

#include <stdlib.h>
#include <string.h>

int64_t web_next_fire_us(const tasker_task_scheme *s, int64_t now_us)
{
    int64_t next_us = 0;
    return tasker_scheme_next_us(s, now_us, &next_us) == TASKER_OK ? next_us : 0;
}

const char *web_node_state(const tasker_node *n)
{
    /* The library judged `alive` on the store's clock with the node's lease. */
    return n->stopped_us ? "stopped" : n->alive ? "live" : "dead";
}

/* A task as the API shows it: its fields with its policies and "paused" (cli/json.c). */
static json_t *task_json(const tasker_task *t)
{
    return json_task(t);
}

/* A schedule with its next fire and "paused". */
static json_t *scheme_json(const tasker_task_scheme *s, int64_t now_us)
{
    return json_scheme(s, web_next_fire_us(s, now_us));
}

enum MHD_Result api_tasks(web_req *r)
{
    tasker_task *v = NULL;
    size_t n = 0;
    int err = tasker_list_tasks(r->srv->t, &v, &n);
    if (err != TASKER_OK) return web_reply_lib_error(r, err, "tasks");
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, task_json(&v[i]));
    tasker_free_tasks(v, n);
    return web_reply_json(r, MHD_HTTP_OK, a);
}

/* The schedules of task_id (every task's when NULL) as a JSON array. */
static json_t *schedules_json(tasker_t *t, const char *task_id, int *err)
{
    tasker_task_scheme *v = NULL;
    size_t n = 0;
    if ((*err = tasker_list_schemes(t, &v, &n)) != TASKER_OK) return NULL;
    int64_t now_us = web_now_us();
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (!task_id || strcmp(v[i].task_id, task_id) == 0)
            json_array_append_new(a, scheme_json(&v[i], now_us));
    tasker_free_schemes(v, n);
    return a;
}

enum MHD_Result api_task(web_req *r)
{
    tasker_task *v = NULL;
    size_t n = 0;
    int err = tasker_list_tasks(r->srv->t, &v, &n);
    if (err != TASKER_OK) return web_reply_lib_error(r, err, "tasks");
    json_t *o = NULL;
    for (size_t i = 0; i < n && !o; i++)
        if (strcmp(v[i].task_id, r->id) == 0) o = task_json(&v[i]);
    tasker_free_tasks(v, n);
    if (!o) return web_reply_error(r, MHD_HTTP_NOT_FOUND, "no task '%.100s'", r->id);
    json_t *schedules = schedules_json(r->srv->t, r->id, &err);
    if (!schedules) {
        json_decref(o);
        return web_reply_lib_error(r, err, "schedules");
    }
    json_object_set_new(o, "schedules", schedules);
    return web_reply_json(r, MHD_HTTP_OK, o);
}

enum MHD_Result api_schedules(web_req *r)
{
    int err = TASKER_OK;
    json_t *a = schedules_json(r->srv->t, NULL, &err);
    return a ? web_reply_json(r, MHD_HTTP_OK, a) : web_reply_lib_error(r, err, "schedules");
}

enum MHD_Result api_nodes(web_req *r)
{
    tasker_node *v = NULL;
    size_t n = 0;
    int err = tasker_list_nodes(r->srv->t, &v, &n);
    if (err != TASKER_OK) return web_reply_lib_error(r, err, "nodes");
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(
            a, json_pack("{s:s?, s:s?, s:I, s:I, s:I, s:i, s:o, s:s}", "node_id", v[i].node_id,
                         "host", v[i].host, "pid", (json_int_t)v[i].pid, "started_us",
                         (json_int_t)v[i].started_us, "heartbeat_us", (json_int_t)v[i].heartbeat_us,
                         "running", v[i].running, "handlers", json_from_text(v[i].handlers),
                         "state", web_node_state(&v[i])));
    tasker_free_nodes(v, n);
    return web_reply_json(r, MHD_HTTP_OK, a);
}

enum MHD_Result api_exec(web_req *r)
{
    tasker_task_exec e = {0};
    int err = tasker_get_exec(r->srv->t, r->id, &e);
    if (err != TASKER_OK) return web_reply_lib_error(r, err, "exec");
    json_t *o = json_exec(&e);
    tasker_exec_clear(&e);
    tasker_task_event *evs = NULL;
    size_t n = 0;
    if ((err = tasker_list_events(r->srv->t, r->id, &evs, &n)) != TASKER_OK &&
        err != TASKER_ENOTFOUND) {
        json_decref(o);
        return web_reply_lib_error(r, err, "events");
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_event(&evs[i]));
    tasker_free_events(evs, n);
    if (o) json_object_set_new(o, "events", a ? a : json_array());
    return web_reply_json(r, MHD_HTTP_OK, o);
}

/* ---- the trigger --------------------------------------------------------------------- */

/* Parses the trigger's body into *out (an object; an empty body is {}); 400 queued
 * and false on anything else. */
static bool trigger_body(web_req *r, json_t **out, enum MHD_Result *ret)
{
    json_error_t jerr;
    json_t *b = r->body_len ? json_loadb(r->body, r->body_len, 0, &jerr) : json_object();
    if (!b) {
        *ret = web_reply_error(r, MHD_HTTP_BAD_REQUEST, "body: bad JSON at line %d column %d: %s",
                               jerr.line, jerr.column, jerr.text);
        return false;
    }
    if (!json_is_object(b)) {
        json_decref(b);
        *ret = web_reply_error(r, MHD_HTTP_BAD_REQUEST, "body: expected a JSON object");
        return false;
    }
    const char *key;
    json_t *v;
    json_object_foreach(b, key, v)
    {
        if (strcmp(key, "param") && strcmp(key, "delay_ms") && strcmp(key, "unique_key") &&
            strcmp(key, "priority") && strcmp(key, "timeout_ms")) {
            *ret = web_reply_error(r, MHD_HTTP_BAD_REQUEST,
                                   "body: unknown field '%.60s' (known: param, delay_ms, "
                                   "unique_key, priority, timeout_ms)",
                                   key);
            json_decref(b); /* after the message: key is b's */
            return false;
        }
    }
    *out = b;
    return true;
}

/* The run options of the body into *o (strings point into body; *param_text is
 * malloc'd). NULL, or the name of the field at fault. */
static const char *run_options(json_t *body, tasker_run_opts *o, char **param_text, bool *any)
{
    json_t *delay = json_object_get(body, "delay_ms"), *key = json_object_get(body, "unique_key");
    json_t *prio = json_object_get(body, "priority"), *param = json_object_get(body, "param");
    *param_text = NULL;
    *any = false;
    if (delay && !json_is_null(delay)) {
        if (!json_is_integer(delay) || json_integer_value(delay) < 0) return "delay_ms";
        o->delay_ms = json_integer_value(delay);
        *any = true;
    }
    if (key && !json_is_null(key)) {
        if (!json_is_string(key) || !*json_string_value(key)) return "unique_key";
        o->unique_key = json_string_value(key);
        *any = true;
    }
    json_t *timeout = json_object_get(body, "timeout_ms");
    if (timeout && !json_is_null(timeout)) {
        if (!json_is_integer(timeout) || json_integer_value(timeout) < 0) return "timeout_ms";
        o->timeout_ms = json_integer_value(timeout);
        *any = true;
    }
    if (prio && !json_is_null(prio)) {
        if (!json_is_integer(prio) || json_integer_value(prio) < -1000000 ||
            json_integer_value(prio) > 1000000)
            return "priority";
        o->priority = (int)json_integer_value(prio);
        *any = true;
    }
    /* "param" is any JSON value, the run's params; absent (or null) = the task's. */
    if (param && !json_is_null(param)) {
        *param_text = json_dumps(param, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
        if (!*param_text) return "param";
        o->param_json = *param_text;
        *any = true;
    }
    return NULL;
}

enum MHD_Result api_trigger(web_req *r)
{
    json_t *body = NULL;
    enum MHD_Result ret = MHD_NO;
    if (!trigger_body(r, &body, &ret)) return ret;
    tasker_run_opts o = {0};
    char *param_text = NULL, exec_id[TASKER_ID_SIZE] = "";
    bool any = false;
    const char *bad = run_options(body, &o, &param_text, &any);
    int err = TASKER_OK;
    if (bad)
        ret = web_reply_error(r, MHD_HTTP_BAD_REQUEST,
                              "body: bad %s (delay_ms: an integer >= 0; unique_key: a non-empty "
                              "string; priority: an integer)",
                              bad);
    else
        err = any ? tasker_trigger_opts(r->srv->t, r->id, &o, exec_id)
                  : tasker_trigger(r->srv->t, r->id, exec_id);
    free(param_text);
    json_decref(body); /* after the call: o's strings were body's */
    if (bad) return ret;
    if (err == TASKER_EEXISTS && o.unique_key && *exec_id) {
        const char *detail = tasker_last_error();
        return web_reply_json(r, MHD_HTTP_CONFLICT,
                              json_pack("{s:s, s:s}", "error",
                                        *detail ? detail : "a run holds this unique_key", "exec_id",
                                        exec_id));
    }
    if (err != TASKER_OK) return web_reply_lib_error(r, err, "trigger");
    if (r->srv->wake_dsn) wakeup_send(r->srv->wake_dsn); /* no daemon: it stays pending */
    return web_reply_json(r, MHD_HTTP_CREATED,
                          json_pack("{s:s, s:s}", "exec_id", exec_id, "status", "pending"));
}
