/* tasker-bench: throughput, trigger-to-start latency, schedule lateness and cron speed
 * for one DSN.
 *
 *   tasker-bench [DSN] [--workers N] [--runs N] [--triggerers N] [--batch N]
 *                [--samples N] [--lateness-s N] [--no-cron] [--delayed N] [--herd N]
 *
 * Throughput: N triggerer threads trigger --runs executions of a no-op handler that
 * logs one event (one by one with tasker_trigger, or --batch at a time with
 * tasker_trigger_many); the clock runs from the first trigger until the last outcome is
 * stored. Latency: one trigger at a time on an idle pool, from the call to the handler's
 * first instruction (this includes storing the pending execution durably). Lateness:
 * schedules firing every second; how long after its occurrence each run started.
 * --delayed N: only N delayed runs coming due at once (bench/bench_delayed.c). Herd
 * (--herd N): N schedules firing at the same second (bench/bench_sched.c). */
#include "bench.h"

#include <tasker/context.h>
#include <tasker/tasker.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void bench_row(const char *what, double value, const char *unit, const char *note)
{
    printf("| %-34s | %14.1f | %-10s | %s\n", what, value, unit, note ? note : "");
    fflush(stdout);
}

typedef struct {
    const char *dsn;
    int workers, runs, triggerers, samples, lateness_s;
    int batch; /* runs per tasker_trigger_many call; 1 = tasker_trigger */
    bool cron;
    int delayed; /* --delayed N: only the delayed backlog figure */
    int herd; /* schedules firing at the same second; 0 = not measured */
    bool herd_open_only; /* --herd-open-only: add rate and open to first fire only */
} bench_args;

static int noop_handler(tasker_ctx *c)
{
    tasker_event(c, TASKER_NORMAL, "ran");
    return 0;
}

typedef struct {
    tasker_t *t;
    int runs, batch;
    atomic_int failures;
} trig_args;

static void *triggerer(void *arg)
{
    trig_args *a = arg;
    if (a->batch <= 1) {
        for (int i = 0; i < a->runs; i++)
            if (tasker_trigger(a->t, "bench-noop", NULL) != TASKER_OK)
                atomic_fetch_add(&a->failures, 1);
        return NULL;
    }
    const char **ids = malloc((size_t)a->batch * sizeof *ids);
    if (!ids) {
        atomic_fetch_add(&a->failures, a->runs);
        return NULL;
    }
    for (int i = 0; i < a->batch; i++) ids[i] = "bench-noop";
    for (int done = 0; done < a->runs; done += a->batch) {
        int n = a->runs - done < a->batch ? a->runs - done : a->batch;
        if (tasker_trigger_many(a->t, ids, (size_t)n, NULL) != TASKER_OK)
            atomic_fetch_add(&a->failures, n);
    }
    free(ids);
    return NULL;
}

static tasker_t *open_bench(const bench_args *a)
{
    tasker_options o = {.workers = a->workers};
    tasker_t *t = tasker_open_opts(a->dsn, &o);
    if (!t) {
        fprintf(stderr, "tasker-bench: %s\n", tasker_last_error());
        return NULL;
    }
    tasker_register(t, "noop", noop_handler, NULL);
    if (tasker_add_task(t, "bench-noop", "noop", "{}") != TASKER_OK) {
        fprintf(stderr, "tasker-bench: %s\n", tasker_last_error());
        tasker_close(t);
        return NULL;
    }
    return t;
}

static void bench_throughput(const bench_args *a)
{
    tasker_t *t = open_bench(a);
    if (!t) return;
    pthread_t th[64];
    trig_args ta = {.t = t, .runs = a->runs / a->triggerers, .batch = a->batch};
    int64_t start_ns = bench_now_ns();
    for (int i = 0; i < a->triggerers; i++) pthread_create(&th[i], NULL, triggerer, &ta);
    for (int i = 0; i < a->triggerers; i++) pthread_join(th[i], NULL);
    int64_t triggered_ns = bench_now_ns();
    tasker_drain(t, -1);
    int64_t end_ns = bench_now_ns();
    int total = ta.runs * a->triggerers;
    char note[160];
    char how[48] = "";
    if (a->batch > 1) snprintf(how, sizeof how, " (trigger_many by %d)", a->batch);
    snprintf(note, sizeof note, "%d runs, %d workers, %d triggerers%s, 1 event each%s", total,
             a->workers, a->triggerers, how, ta.failures ? " (SOME TRIGGERS FAILED)" : "");
    bench_row("executions/s", total / ((end_ns - start_ns) / 1e9), "exec/s", note);
    bench_row("triggers/s (pending stored)", total / ((triggered_ns - start_ns) / 1e9),
              "trig/s", NULL);
    tasker_close(t);
}

/* ---- trigger-to-start latency ---- */

static pthread_mutex_t lat_lock = PTHREAD_MUTEX_INITIALIZER; /* guards lat_started_ns */
static pthread_cond_t lat_cond = PTHREAD_COND_INITIALIZER;
static int64_t lat_started_ns;

static int latency_handler(tasker_ctx *c)
{
    int64_t now = bench_now_ns();
    pthread_mutex_lock(&lat_lock);
    lat_started_ns = now;
    pthread_cond_signal(&lat_cond);
    pthread_mutex_unlock(&lat_lock);
    tasker_event(c, TASKER_NORMAL, "ran");
    return 0;
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

void bench_sort_i64(int64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_i64);
}

static void report_percentiles(const char *what, int64_t *v, int n, double scale,
                               const char *unit)
{
    if (n == 0) return;
    qsort(v, (size_t)n, sizeof *v, cmp_i64);
    char label[96], note[64];
    snprintf(note, sizeof note, "%d samples", n);
    snprintf(label, sizeof label, "%s p50", what);
    bench_row(label, v[n / 2] / scale, unit, note);
    snprintf(label, sizeof label, "%s p99", what);
    bench_row(label, v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / scale, unit, note);
}

static void bench_latency(const bench_args *a)
{
    if (a->samples <= 0) return;
    tasker_t *t = open_bench(a);
    if (!t) return;
    tasker_register(t, "latency", latency_handler, NULL);
    tasker_add_task(t, "bench-latency", "latency", "{}");
    int64_t *lat = calloc((size_t)a->samples, sizeof *lat);
    int n = 0;
    for (int i = 0; i < a->samples; i++) {
        pthread_mutex_lock(&lat_lock);
        lat_started_ns = 0;
        pthread_mutex_unlock(&lat_lock);
        int64_t t0 = bench_now_ns();
        if (tasker_trigger(t, "bench-latency", NULL) != TASKER_OK) break;
        pthread_mutex_lock(&lat_lock);
        while (!lat_started_ns) pthread_cond_wait(&lat_cond, &lat_lock);
        lat[n++] = lat_started_ns - t0;
        pthread_mutex_unlock(&lat_lock);
        tasker_drain(t, -1); /* idle pool before the next sample */
    }
    report_percentiles("trigger-to-start", lat, n, 1000.0, "us");
    free(lat);
    tasker_close(t);
}

/* ---- schedule lateness ---- */

static pthread_mutex_t late_lock = PTHREAD_MUTEX_INITIALIZER; /* guards late_v, late_n */
static int64_t late_v[4096];
static int late_n;

static int lateness_handler(tasker_ctx *c)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    pthread_mutex_lock(&late_lock);
    if (late_n < 4096) late_v[late_n++] = now_us - tasker_scheduled_us(c);
    pthread_mutex_unlock(&late_lock);
    return 0;
}

static void bench_lateness(const bench_args *a)
{
    if (a->lateness_s <= 0) return;
    tasker_t *t = open_bench(a);
    if (!t) return;
    tasker_register(t, "late", lateness_handler, NULL);
    for (int i = 0; i < 10; i++) {
        char id[32];
        snprintf(id, sizeof id, "bench-late-%d", i);
        tasker_add_task(t, id, "late", "{}");
        tasker_add_task_schedule(t, id, "* * * * * *", NULL);
    }
    tasker_start(t);
    int64_t end_ns = bench_now_ns() + (int64_t)a->lateness_s * 1000000000LL;
    while (bench_now_ns() < end_ns) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL); /* the bench's own duration, not synchronisation */
    }
    tasker_stop(t);
    tasker_close(t);
    pthread_mutex_lock(&late_lock);
    report_percentiles("schedule lateness", late_v, late_n, 1000.0, "ms");
    pthread_mutex_unlock(&late_lock);
}

static int parse_args(int argc, char **argv, bench_args *a)
{
    *a = (bench_args){.dsn = "memory:", .workers = 4, .runs = 100000, .triggerers = 4, .batch = 1,
                      .samples = 2000, .lateness_s = 3, .cron = true};
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--workers") && v) a->workers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && v) a->runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--triggerers") && v) a->triggerers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && v) a->batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--samples") && v) a->samples = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--lateness-s") && v) a->lateness_s = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-cron")) a->cron = false;
        else if (!strcmp(argv[i], "--delayed") && v) a->delayed = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--herd") && v) a->herd = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--herd-open-only")) a->herd_open_only = true;
        else if (argv[i][0] != '-') a->dsn = argv[i];
        else {
            fprintf(stderr, "usage: tasker-bench [DSN] [--workers N] [--runs N] "
                            "[--triggerers N] [--batch N] [--samples N] [--lateness-s N] "
                            "[--no-cron] [--delayed N] [--herd N] [--herd-open-only]\n");
            return 2;
        }
    }
    if (a->triggerers < 1 || a->triggerers > 64 || a->workers < 1 || a->runs < 1 ||
        a->batch < 1 || a->batch > TASKER_TRIGGER_MANY_MAX) {
        fprintf(stderr, "tasker-bench: triggerers 1-64, batch 1-%d, workers and runs at "
                        "least 1\n", TASKER_TRIGGER_MANY_MAX);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    bench_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    printf("tasker-bench %s on %s\n", TASKER_VERSION, a.dsn);
    printf("| %-34s | %14s | %-10s | %s\n", "measure", "value", "unit", "note");
    printf("|%s|%s|%s|------\n", "------------------------------------",
           "----------------", "------------");
    if (a.delayed > 0) {
        bench_delayed(a.dsn, a.workers, a.delayed);
        return 0;
    }
    bench_throughput(&a);
    bench_latency(&a);
    bench_lateness(&a);
    bench_sched(a.dsn, a.herd, a.workers, a.herd_open_only);
    if (a.cron) bench_cron();
    return 0;
}
