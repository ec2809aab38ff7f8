/* /metrics in the Prometheus text format (version 0.0.4), with design section 7's names.
 * Counters and histograms of finished runs live in memory: in the daemon they are fed by
 * the exec hook (every run this process finished, exactly once), in `tasker web` by the
 * shared scan of the store (each finished run counted once, by exec id; runs pruned by
 * retention before a scan saw them are missed). Gauges come from that same scan and
 * from tasker_list_nodes, so a scrape costs at most one scan per WEB_SNAPSHOT_TTL_US. */
#include "web/internal.h"

#include <tasker/storage.h> /* tasker_set_error */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATUS_SLOTS 8             /* room for the statuses issue 12 appends */
#define SCAN_WINDOW_US 900000000LL /* scan mode: finished runs are remembered this long */

static const double duration_le[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                     2.5,   5,    10,    30,   60,  300,  900, 3600};
static const double lateness_le[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 60, 300};
#define N_DURATION (sizeof duration_le / sizeof *duration_le)
#define N_LATENESS (sizeof lateness_le / sizeof *lateness_le)

typedef struct histogram {
    uint64_t *buckets; /* not cumulative; the last one is +Inf */
    double sum;
    uint64_t count;
} histogram;

typedef struct task_stats {
    char *task_id;
    uint64_t by_status[STATUS_SLOTS];
    uint64_t duration[N_DURATION + 1];
    double duration_sum;
    uint64_t duration_count;
} task_stats;

struct web_metrics {
    pthread_mutex_t lock; /* guards everything below */
    json_t *index;        /* task id -> position in tasks */
    task_stats *tasks;
    size_t n, cap;
    uint64_t lateness[N_LATENESS + 1];
    double lateness_sum;
    uint64_t lateness_count;
    json_t *seen; /* scan mode: exec id -> its end time, for runs after floor_us */
    int64_t floor_us;
};

web_metrics *metrics_new(void)
{
    web_metrics *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    pthread_mutex_init(&m->lock, NULL);
    m->index = json_object();
    m->seen = json_object();
    if (!m->index || !m->seen) {
        metrics_free(m);
        return NULL;
    }
    return m;
}

void metrics_free(web_metrics *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n; i++)
        free(m->tasks[i].task_id);
    free(m->tasks);
    json_decref(m->index);
    json_decref(m->seen);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static task_stats *stats_for(web_metrics *m, const char *task_id)
{
    json_t *at = json_object_get(m->index, task_id);
    if (at) return &m->tasks[json_integer_value(at)];
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        task_stats *grown = realloc(m->tasks, cap * sizeof *grown);
        if (!grown) return NULL;
        m->tasks = grown;
        m->cap = cap;
    }
    task_stats *s = &m->tasks[m->n];
    memset(s, 0, sizeof *s);
    if (!(s->task_id = strdup(task_id))) return NULL;
    json_object_set_new(m->index, task_id, json_integer((json_int_t)m->n));
    m->n++;
    return s;
}

static void bucket_add(uint64_t *buckets, const double *le, size_t n, double v)
{
    size_t i = 0;
    while (i < n && v > le[i])
        i++;
    buckets[i]++;
}

static void observe_locked(web_metrics *m, const tasker_task_exec *e)
{
    if (!e->task_id || (unsigned)e->status >= STATUS_SLOTS) return;
    task_stats *s = stats_for(m, e->task_id);
    if (!s) return;
    s->by_status[e->status]++;
    if (e->status == TASKER_EXEC_SKIPPED || !e->start_us) return;
    if (e->end_us >= e->start_us) {
        double d = (double)(e->end_us - e->start_us) / 1e6;
        bucket_add(s->duration, duration_le, N_DURATION, d);
        s->duration_sum += d;
        s->duration_count++;
    }
    if (e->scheduled_us) {
        double late =
            e->start_us > e->scheduled_us ? (double)(e->start_us - e->scheduled_us) / 1e6 : 0;
        bucket_add(m->lateness, lateness_le, N_LATENESS, late);
        m->lateness_sum += late;
        m->lateness_count++;
    }
}

void metrics_observe(web_metrics *m, const tasker_task_exec *e)
{
    pthread_mutex_lock(&m->lock);
    observe_locked(m, e);
    pthread_mutex_unlock(&m->lock);
}

void metrics_observe_scan(web_metrics *m, const tasker_task_exec *v, size_t n)
{
    pthread_mutex_lock(&m->lock);
    int64_t newest_us = 0;
    for (size_t i = 0; i < n; i++) {
        const tasker_task_exec *e = &v[i];
        if (e->status == TASKER_EXEC_PENDING || e->status == TASKER_EXEC_RUNNING) continue;
        int64_t at_us = e->end_us ? e->end_us : e->queued_us;
        if (at_us > newest_us) newest_us = at_us;
        if (at_us <= m->floor_us || json_object_get(m->seen, e->exec_id)) continue;
        json_object_set_new(m->seen, e->exec_id, json_integer(at_us));
        observe_locked(m, e);
    }
    /* Forget runs that ended long before the newest: a run is stored finished within
     * seconds of its end, so none that old can still arrive uncounted. */
    if (newest_us - SCAN_WINDOW_US > m->floor_us) {
        m->floor_us = newest_us - SCAN_WINDOW_US;
        const char *key;
        json_t *val, *tmp;
        json_object_foreach_safe(m->seen, tmp, key, val)
        {
            if (json_integer_value(val) <= m->floor_us) json_object_del(m->seen, key);
        }
    }
    pthread_mutex_unlock(&m->lock);
}

/* ---- the daemon's exec hook ------------------------------------------------------------ */

/* One per process: the hook must stay callable after web_stop until tasker_close, so
 * its state is static, and web_stop only detaches the metrics from it. */
static struct {
    pthread_mutex_t lock; /* guards the fields below */
    web_metrics *metrics;
    tasker_exec_hook next; /* the hook this one replaced, called after it */
    void *next_udata;
} tap = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void tap_hook(tasker_t *t, const tasker_task_exec *e, void *udata)
{
    pthread_mutex_lock(&tap.lock);
    if (tap.metrics) metrics_observe(tap.metrics, e);
    tasker_exec_hook next = tap.next;
    void *next_udata = tap.next_udata;
    pthread_mutex_unlock(&tap.lock);
    if (next) next(t, e, next_udata); /* outside the lock: the daemon's log writes */
}

int metrics_tap(tasker_t *t, web_metrics *m, bool observe)
{
    pthread_mutex_lock(&tap.lock);
    int rc = TASKER_OK;
    if (!observe) {
        if (tap.metrics == m) tap.metrics = NULL;
    } else if (tap.metrics) {
        rc = tasker_set_error(TASKER_ESTATE, "web: another server of this process observes runs");
    } else {
        void *udata = NULL;
        tasker_exec_hook current = tasker_get_exec_hook(t, &udata);
        if (current != tap_hook) { /* a second server on t: keep the first chain */
            tap.next = current;
            tap.next_udata = udata;
            tasker_set_exec_hook(t, tap_hook, NULL);
        }
        tap.metrics = m;
    }
    pthread_mutex_unlock(&tap.lock);
    return rc;
}

/* ---- the text format ------------------------------------------------------------------- */

/* A label value: backslash, double quote and newline escaped. */
static void put_label(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') fputc('\\', f);
        if (*s == '\n') {
            fputs("\\n", f);
            continue;
        }
        fputc(*s, f);
    }
}

static void put_histogram(FILE *f, const char *name, const char *task, const uint64_t *buckets,
                          const double *le, size_t n, double sum, uint64_t count)
{
    uint64_t acc = 0;
    for (size_t i = 0; i <= n; i++) {
        acc += buckets[i];
        fprintf(f, "%s_bucket{", name);
        if (task) {
            fputs("task=\"", f);
            put_label(f, task);
            fputs("\",", f);
        }
        if (i < n)
            fprintf(f, "le=\"%g\"} %llu\n", le[i], (unsigned long long)acc);
        else
            fprintf(f, "le=\"+Inf\"} %llu\n", (unsigned long long)acc);
    }
    const char *sep[] = {"_sum", "_count"};
    for (int k = 0; k < 2; k++) {
        fprintf(f, "%s%s", name, sep[k]);
        if (task) {
            fputs("{task=\"", f);
            put_label(f, task);
            fputs("\"}", f);
        }
        if (k == 0)
            fprintf(f, " %.6f\n", sum);
        else
            fprintf(f, " %llu\n", (unsigned long long)count);
    }
}

static void put_header(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_counters(FILE *f, web_metrics *m)
{
    pthread_mutex_lock(&m->lock);
    put_header(f, "tasker_executions_total", "counter",
               "Finished executions (and skipped fires) by task and status.");
    for (size_t i = 0; i < m->n; i++)
        for (int s = 0; s < STATUS_SLOTS; s++) {
            if (!m->tasks[i].by_status[s]) continue;
            fputs("tasker_executions_total{task=\"", f);
            put_label(f, m->tasks[i].task_id);
            fprintf(f, "\",status=\"%s\"} %llu\n", tasker_exec_status_name((tasker_exec_status)s),
                    (unsigned long long)m->tasks[i].by_status[s]);
        }
    put_header(f, "tasker_execution_duration_seconds", "histogram",
               "Run time of finished executions, from start to end, by task.");
    for (size_t i = 0; i < m->n; i++)
        put_histogram(f, "tasker_execution_duration_seconds", m->tasks[i].task_id,
                      m->tasks[i].duration, duration_le, N_DURATION, m->tasks[i].duration_sum,
                      m->tasks[i].duration_count);
    put_header(f, "tasker_schedule_lateness_seconds", "histogram",
               "How long after its cron occurrence a scheduled run started.");
    put_histogram(f, "tasker_schedule_lateness_seconds", NULL, m->lateness, lateness_le, N_LATENESS,
                  m->lateness_sum, m->lateness_count);
    pthread_mutex_unlock(&m->lock);
}

/* The gauges read from the snapshot: the queue per task, the runs running, the age of
 * the oldest pending run. */
static void put_queue(FILE *f, const web_snapshot *snap, const tasker_task *tasks, size_t ntasks)
{
    json_t *pending = json_object();
    int64_t running = 0, oldest_us = 0, now_us = web_now_us();
    for (size_t i = 0; i < ntasks && pending; i++)
        json_object_set_new(pending, tasks[i].task_id, json_integer(0));
    for (size_t i = 0; i < snap->n && pending; i++) {
        const tasker_task_exec *e = &snap->v[i];
        if (e->status == TASKER_EXEC_RUNNING) running++;
        if (e->status != TASKER_EXEC_PENDING) continue;
        json_t *c = json_object_get(pending, e->task_id);
        json_object_set_new(pending, e->task_id, json_integer(c ? json_integer_value(c) + 1 : 1));
        if (!oldest_us || e->queued_us < oldest_us) oldest_us = e->queued_us;
    }
    put_header(f, "tasker_pending_executions", "gauge", "Executions waiting to run, by task.");
    const char *key;
    json_t *val;
    json_object_foreach(pending, key, val)
    {
        fputs("tasker_pending_executions{task=\"", f);
        put_label(f, key);
        fprintf(f, "\"} %lld\n", (long long)json_integer_value(val));
    }
    json_decref(pending);
    put_header(f, "tasker_running_executions", "gauge", "Executions running now, on every node.");
    fprintf(f, "tasker_running_executions %lld\n", (long long)running);
    put_header(f, "tasker_oldest_pending_age_seconds", "gauge",
               "Age of the oldest pending execution; 0 when none waits.");
    fprintf(f, "tasker_oldest_pending_age_seconds %.3f\n",
            oldest_us && now_us > oldest_us ? (double)(now_us - oldest_us) / 1e6 : 0.0);
}

static void put_nodes(FILE *f, tasker_t *t)
{
    tasker_node *v = NULL;
    size_t n = 0, live = 0, dead = 0;
    if (tasker_list_nodes(t, &v, &n) != TASKER_OK) n = 0;
    for (size_t i = 0; i < n; i++) {
        const char *state = web_node_state(&v[i]);
        live += strcmp(state, "live") == 0;
        dead += strcmp(state, "dead") == 0;
    }
    tasker_free_nodes(v, n);
    put_header(f, "tasker_nodes", "gauge",
               "Nodes sharing the store, by state (live, dead, stopped: closed cleanly).");
    fprintf(f, "tasker_nodes{state=\"live\"} %zu\ntasker_nodes{state=\"dead\"} %zu\n"
            "tasker_nodes{state=\"stopped\"} %zu\n", live, dead, n - live - dead);
}

enum MHD_Result api_metrics(web_req *r)
{
    tasker_task *tasks = NULL;
    size_t ntasks = 0;
    int err = tasker_list_tasks(r->srv->t, &tasks, &ntasks);
    web_snapshot *snap = err == TASKER_OK ? web_snapshot_get(r->srv, &err) : NULL;
    if (!snap) {
        tasker_free_tasks(tasks, ntasks);
        return web_reply_lib_error(r, err, "metrics");
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f) {
        put_counters(f, r->srv->metrics);
        put_queue(f, snap, tasks, ntasks);
        put_nodes(f, r->srv->t);
        fclose(f);
    }
    web_snapshot_release(r->srv, snap);
    tasker_free_tasks(tasks, ntasks);
    if (!text) return web_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    enum MHD_Result ret =
        web_reply(r, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
    return ret;
}
