/* GET /api/v1/overview (an addition to section 7's endpoints): what the dashboard's
 * first screen shows, computed in one pass over the shared snapshot: runs by status in
 * the last hour and day (totals and buckets for the bar charts), per task its last
 * run, its failures in the last day and its queue, failing tasks first; and the newest
 * runs. */
#include "web/internal.h"

#include "cli/output.h"

#include <stdlib.h>
#include <string.h>

#define HOUR_BUCKETS 12 /* of 5 minutes */
#define DAY_BUCKETS 24  /* of an hour */
#define HOUR_US (3600 * (int64_t)1000000)
#define NSTATUS (TASKER_EXEC_CANCELLED + 1)
#define RECENT_RUNS 12

typedef struct task_row {
    json_t *json; /* the row being built */
    int64_t last_queued_us;
    int failed_day, runs_day, pending, running;
    bool last_failed;
} task_row;

typedef struct counts {
    int by_status[NSTATUS];
} counts;

static json_t *counts_json(const counts *c)
{
    json_t *o = json_object();
    for (int s = 0; o && s < NSTATUS; s++)
        json_object_set_new(o, tasker_exec_status_name((tasker_exec_status)s),
                            json_integer(c->by_status[s]));
    return o;
}

static json_t *buckets_json(const counts *b, int n, int64_t first_us, int64_t width_us)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) {
        json_t *o = counts_json(&b[i]);
        if (o) json_object_set_new(o, "start_us", json_integer(first_us + i * width_us));
        json_array_append_new(a, o);
    }
    return a;
}

static bool is_failure(tasker_exec_status s)
{
    return s == TASKER_EXEC_FAILED || s == TASKER_EXEC_INTERRUPTED;
}

static void count_task(task_row *row, const tasker_task_exec *e, int64_t now_us)
{
    if (e->status == TASKER_EXEC_PENDING) row->pending++;
    if (e->status == TASKER_EXEC_RUNNING) row->running++;
    if (now_us - e->queued_us < 24 * HOUR_US) {
        row->runs_day++;
        if (is_failure(e->status)) row->failed_day++;
    }
    if (e->queued_us >= row->last_queued_us) {
        row->last_queued_us = e->queued_us;
        row->last_failed = is_failure(e->status);
        json_object_set_new(row->json, "last", json_exec(e));
    }
    if (is_failure(e->status)) {
        json_t *lf = json_object_get(row->json, "last_failure_us");
        if (!lf || json_integer_value(lf) < e->queued_us)
            json_object_set_new(row->json, "last_failure_us", json_integer(e->queued_us));
    }
}

/* Failing first (the last run failed), then by failures in the day, then by id. */
static int row_cmp(const void *pa, const void *pb)
{
    const task_row *a = pa, *b = pb;
    if (a->last_failed != b->last_failed) return a->last_failed ? -1 : 1;
    if (a->failed_day != b->failed_day) return b->failed_day - a->failed_day;
    return strcmp(json_string_value(json_object_get(a->json, "task_id")),
                  json_string_value(json_object_get(b->json, "task_id")));
}

static task_row *task_rows(const tasker_task *tasks, size_t n, json_t *index)
{
    task_row *rows = calloc(n ? n : 1, sizeof *rows);
    for (size_t i = 0; rows && i < n; i++) {
        rows[i].json = json_task(&tasks[i]);
        json_object_set_new(rows[i].json, "last", json_null());
        json_object_set_new(rows[i].json, "last_failure_us", json_null());
        json_object_set_new(index, tasks[i].task_id, json_integer((json_int_t)i));
    }
    return rows;
}

/* The newest RECENT_RUNS runs of the snapshot (newest first, as the store lists them):
 * the overview's "recent runs" without a second scan. */
static json_t *recent_json(const web_snapshot *snap)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < snap->n && i < RECENT_RUNS; i++)
        json_array_append_new(a, json_exec(&snap->v[i]));
    return a;
}

/* The bucket of time_us; a run queued after now (another node's clock) is in the last. */
static int bucket(int64_t time_us, int64_t first_us, int64_t width_us, int n)
{
    int64_t i = (time_us - first_us) / width_us;
    return i >= n ? n - 1 : (int)i;
}

static json_t *build(const tasker_task *tasks, size_t ntasks, const web_snapshot *snap)
{
    int64_t now_us = web_now_us();
    counts hour = {0}, day = {0}, hb[HOUR_BUCKETS] = {0}, db[DAY_BUCKETS] = {0};
    int64_t hour_w = HOUR_US / HOUR_BUCKETS, day_w = HOUR_US;
    int64_t hour_first = now_us - HOUR_BUCKETS * hour_w, day_first = now_us - DAY_BUCKETS * day_w;
    json_t *index = json_object();
    task_row *rows = index ? task_rows(tasks, ntasks, index) : NULL;
    if (!rows) {
        json_decref(index);
        return NULL;
    }
    for (size_t i = 0; i < snap->n; i++) {
        const tasker_task_exec *e = &snap->v[i];
        int s = (int)e->status;
        if (s < 0 || s >= NSTATUS) continue;
        if (e->queued_us >= hour_first) {
            hour.by_status[s]++;
            hb[bucket(e->queued_us, hour_first, hour_w, HOUR_BUCKETS)].by_status[s]++;
        }
        if (e->queued_us >= day_first) {
            day.by_status[s]++;
            db[bucket(e->queued_us, day_first, day_w, DAY_BUCKETS)].by_status[s]++;
        }
        json_t *at = json_object_get(index, e->task_id);
        if (at) count_task(&rows[json_integer_value(at)], e, now_us);
    }
    qsort(rows, ntasks, sizeof *rows, row_cmp);
    json_t *recent = recent_json(snap);
    json_t *list = json_array();
    for (size_t i = 0; i < ntasks; i++) {
        json_t *o = rows[i].json;
        json_object_set_new(o, "runs_day", json_integer(rows[i].runs_day));
        json_object_set_new(o, "failed_day", json_integer(rows[i].failed_day));
        json_object_set_new(o, "pending", json_integer(rows[i].pending));
        json_object_set_new(o, "running", json_integer(rows[i].running));
        json_array_append_new(list, o);
    }
    free(rows);
    json_decref(index);
    return json_pack(
        "{s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o}", "now_us", (json_int_t)now_us, "execs_stored",
        (json_int_t)snap->n, "last_hour", counts_json(&hour), "last_day", counts_json(&day),
        "hour_buckets", buckets_json(hb, HOUR_BUCKETS, hour_first, hour_w), "day_buckets",
        buckets_json(db, DAY_BUCKETS, day_first, day_w), "tasks", list, "recent", recent);
}

enum MHD_Result api_overview(web_req *r)
{
    tasker_task *tasks = NULL;
    size_t ntasks = 0;
    int err = tasker_list_tasks(r->srv->t, &tasks, &ntasks);
    if (err != TASKER_OK) return web_reply_lib_error(r, err, "tasks");
    web_snapshot *snap = web_snapshot_get(r->srv, &err);
    if (!snap) {
        tasker_free_tasks(tasks, ntasks);
        return web_reply_lib_error(r, err, "execs");
    }
    json_t *o = build(tasks, ntasks, snap);
    web_snapshot_release(r->srv, snap);
    tasker_free_tasks(tasks, ntasks);
    return web_reply_json(r, MHD_HTTP_OK, o);
}
