/* Schedules at scale (issue 14): N schedules that all fire at the same second.
 *
 *  - add rate: N tasks and N schedules added with one tasker_define call;
 *  - bytes per loaded schedule: malloc's bytes in use (mallinfo2) once the loop holds the
 *    N schedules minus before it started, over N; and the same by RSS, which also counts
 *    memory freed after loading that malloc keeps (an upper bound);
 *  - herd lateness: every schedule is "0 * * * * *"; the bench's clock (tasker_options
 *    .clock, real time plus an offset) is moved to just before a minute boundary, and each
 *    run records its start minus its scheduled instant (on MySQL, whose handles follow
 *    the server's clock, the bench waits for a real boundary instead: up to a minute);
 *  - open to firing: the store is closed and opened again with the clock just past a
 *    boundary; from tasker_open_opts until the first run starts (a persistent DSN only).
 */
#include "bench.h"

#include <tasker/context.h>
#include <tasker/tasker.h>

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int64_t clock_offset_us;

static int64_t real_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t bench_clock(void *udata)
{
    (void)udata;
    return real_us() + atomic_load(&clock_offset_us);
}

static pthread_mutex_t herd_lock = PTHREAD_MUTEX_INITIALIZER; /* guards the fields below */
static pthread_cond_t herd_cond = PTHREAD_COND_INITIALIZER;
static int64_t *herd_late;
static int herd_cap, herd_n;
static int64_t herd_first_ns; /* monotonic time of the first run's start */

static int herd_handler(tasker_ctx *c)
{
    int64_t late = bench_clock(NULL) - tasker_scheduled_us(c);
    int64_t now_ns = bench_now_ns();
    pthread_mutex_lock(&herd_lock);
    if (!herd_first_ns) herd_first_ns = now_ns;
    if (herd_n < herd_cap) herd_late[herd_n] = late;
    herd_n++;
    pthread_cond_broadcast(&herd_cond);
    pthread_mutex_unlock(&herd_lock);
    return 0;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (!f) return 0;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    fclose(f);
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static void bench_sleep_us(int64_t us) /* the bench's own pacing, not synchronisation */
{
    if (us <= 0) return;
    struct timespec ts = {us / 1000000, (long)(us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* Waits until want runs have started or timeout_s passed; returns how many started. */
static int herd_wait(int want, int timeout_s)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_s;
    pthread_mutex_lock(&herd_lock);
    while (herd_n < want && pthread_cond_timedwait(&herd_cond, &herd_lock, &until) == 0) {
    }
    int n = herd_n;
    pthread_mutex_unlock(&herd_lock);
    return n;
}

static void herd_reset(void)
{
    pthread_mutex_lock(&herd_lock);
    herd_n = 0;
    herd_first_ns = 0;
    pthread_mutex_unlock(&herd_lock);
}

static tasker_t *herd_open(const char *dsn, int workers)
{
    tasker_options o = {.workers = workers, .clock = bench_clock};
    tasker_t *t = tasker_open_opts(dsn, &o);
    if (!t) {
        fprintf(stderr, "tasker-bench: %s\n", tasker_last_error());
        return NULL;
    }
    tasker_register(t, "herd", herd_handler, NULL);
    return t;
}

/* Adds n tasks "herd-I" with one schedule each, in one tasker_define call; returns the
 * seconds it took (building the arrays included), -1 on error. */
static double herd_add(tasker_t *t, int n)
{
    int64_t t0 = bench_now_ns();
    tasker_task_def *tv = calloc((size_t)n, sizeof *tv);
    tasker_schedule_def *sv = calloc((size_t)n, sizeof *sv);
    char (*ids)[24] = malloc((size_t)n * sizeof *ids);
    double took = -1;
    if (tv && sv && ids) {
        for (int i = 0; i < n; i++) {
            snprintf(ids[i], sizeof ids[i], "herd-%d", i);
            tv[i] = (tasker_task_def){.task_id = ids[i], .handler = "herd", .param_json = "{}"};
            sv[i] = (tasker_schedule_def){.task_id = ids[i], .cron = "0 * * * * *"};
        }
        if (tasker_define(t, tv, (size_t)n, sv, (size_t)n) == TASKER_OK)
            took = (bench_now_ns() - t0) / 1e9;
        else
            fprintf(stderr, "tasker-bench: %s\n", tasker_last_error());
    }
    free(tv);
    free(sv);
    free(ids);
    return took;
}

/* A store with a clock of its own (MySQL: the handle follows the server's clock,
 * whatever tasker_options.clock says) cannot be moved: the bench waits for real time. */
static bool real_time;

/* Moves the bench clock so that the next minute boundary is lead_us away (a negative
 * lead: the boundary passed -lead_us ago); with real_time, waits until then instead. */
static void clock_before_boundary(int64_t lead_us)
{
    int64_t now = bench_clock(NULL);
    int64_t boundary = (now / 60000000 + 1) * 60000000;
    if (real_time) {
        if (boundary - lead_us - now < 500000) boundary += 60000000; /* too close: the next */
        bench_sleep_us(boundary - lead_us - now);
        return;
    }
    atomic_fetch_add(&clock_offset_us, boundary - lead_us - now);
}

static void report_herd(int n, int fired, const char *what)
{
    char note[96];
    snprintf(note, sizeof note, "%d schedules, %d fired%s", n, fired,
             fired < n ? " (SOME DID NOT FIRE)" : "");
    pthread_mutex_lock(&herd_lock);
    int m = herd_n < herd_cap ? herd_n : herd_cap;
    int64_t *v = malloc((size_t)(m ? m : 1) * sizeof *v);
    if (v) memcpy(v, herd_late, (size_t)m * sizeof *v);
    pthread_mutex_unlock(&herd_lock);
    if (!v || m == 0) {
        free(v);
        return;
    }
    bench_sort_i64(v, m);
    char label[64];
    snprintf(label, sizeof label, "%s lateness p50", what);
    bench_row(label, v[m / 2] / 1000.0, "ms", note);
    snprintf(label, sizeof label, "%s lateness p99", what);
    bench_row(label, v[(m * 99) / 100 < m ? (m * 99) / 100 : m - 1] / 1000.0, "ms", note);
    free(v);
}

void bench_sched(const char *dsn, int n, int workers, bool open_only)
{
    if (n <= 0) return;
    real_time = strncmp(dsn, "mysql:", 6) == 0 || strncmp(dsn, "mariadb:", 8) == 0;
    herd_cap = n;
    herd_late = calloc((size_t)n, sizeof *herd_late);
    tasker_t *t = herd_late ? herd_open(dsn, workers) : NULL;
    if (!t) goto out;
    double add_s = herd_add(t, n);
    if (add_s < 0) goto out;
    char note[96];
    snprintf(note, sizeof note, "%d tasks + schedules, tasker_define, %.2f s", n, add_s);
    bench_row("schedules added/s", n / add_s, "sched/s", note);

    if (open_only) {
        tasker_close(t);
        t = NULL;
        goto reopen;
    }
    /* Loaded: the loop reads the schedules on its first pass; 2 s before the boundary. */
    clock_before_boundary(4000000);
    long rss0 = rss_kib();
    struct mallinfo2 m0 = mallinfo2();
    int64_t t0 = bench_now_ns();
    tasker_start(t);
    bench_sleep_us(2500000);
    long rss1 = rss_kib();
    struct mallinfo2 m1 = mallinfo2();
    snprintf(note, sizeof note, "malloc in use once %d schedules are loaded, minus before", n);
    bench_row("bytes per loaded schedule", ((double)m1.uordblks - (double)m0.uordblks) / n,
              "bytes", note);
    snprintf(note, sizeof note, "the same by RSS (freed memory kept by malloc counts)");
    bench_row("RSS bytes per loaded schedule", (rss1 - rss0) * 1024.0 / n, "bytes", note);
    int fired = herd_wait(n, 120);
    (void)t0;
    report_herd(n, fired, "herd");
    tasker_stop(t);
    tasker_close(t);
    t = NULL;
    if (strncmp(dsn, "memory:", 7) == 0) goto out;

    /* Open to firing: the clock just past a boundary when the store is opened. */
reopen:
    herd_reset();
    clock_before_boundary(-1000);
    int64_t open_ns = bench_now_ns();
    t = herd_open(dsn, workers);
    if (!t) goto out;
    tasker_start(t);
    if (herd_wait(1, 120) >= 1) {
        pthread_mutex_lock(&herd_lock);
        double s = (herd_first_ns - open_ns) / 1e9;
        pthread_mutex_unlock(&herd_lock);
        snprintf(note, sizeof note, "%d schedules in the store", n);
        bench_row("open to first fire", s * 1000.0, "ms", note);
    }
    if (!open_only) report_herd(n, herd_wait(n, 120), "herd after open");
    tasker_stop(t);
out:
    if (t) tasker_close(t);
    free(herd_late);
    herd_late = NULL;
}
