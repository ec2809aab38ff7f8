/* A backlog of delayed runs coming due at once (job lifecycle): N runs triggered with
 * the same run_at_us, far enough ahead that every trigger is stored before it; then how
 * late the first and the last of them started after their time, and how fast the pool
 * got through them once due. A no-op handler, so the figure is the store's and the
 * core's: how fast due runs are found and started. */
#include "bench.h"

#include <tasker/context.h>
#include <tasker/tasker.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#define DELAYED_TRIGGERERS 8

static atomic_int_fast64_t first_start_ns, last_start_ns;
static atomic_int done_count;

static int due_handler(tasker_ctx *c)
{
    (void)c;
    int_fast64_t now = bench_now_ns(), unset = 0;
    atomic_compare_exchange_strong(&first_start_ns, &unset, now);
    atomic_store(&last_start_ns, now);
    atomic_fetch_add(&done_count, 1);
    return 0;
}

static int64_t real_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

typedef struct {
    tasker_t *t;
    int runs;
    int64_t due_us;
    atomic_int failures;
} delayed_args;

static void *trigger_delayed(void *arg)
{
    delayed_args *a = arg;
    tasker_run_opts ro = {.run_at_us = a->due_us};
    for (int i = 0; i < a->runs; i++)
        if (tasker_trigger_opts(a->t, "bench-due", &ro, NULL) != TASKER_OK)
            atomic_fetch_add(&a->failures, 1);
    return NULL;
}

void bench_delayed(const char *dsn, int workers, int runs)
{
    tasker_options o = {.workers = workers};
    tasker_t *t = tasker_open_opts(dsn, &o);
    if (!t) {
        fprintf(stderr, "tasker-bench: %s\n", tasker_last_error());
        return;
    }
    tasker_register(t, "due", due_handler, NULL);
    if (tasker_add_task(t, "bench-due", "due", "{}") != TASKER_OK || tasker_start(t) != TASKER_OK) {
        fprintf(stderr, "tasker-bench: %s\n", tasker_last_error());
        tasker_close(t);
        return;
    }
    /* Due 2 s after the first trigger plus 150 µs per run (15 s for 100,000), so that
     * the triggers, from several threads, are all stored before it on a slow machine;
     * a note says when they were not. */
    pthread_t th[DELAYED_TRIGGERERS];
    delayed_args a = {.t = t,
                      .runs = runs / DELAYED_TRIGGERERS,
                      .due_us = real_us() + 2000000 + (int64_t)runs * 150};
    runs = a.runs * DELAYED_TRIGGERERS;
    int64_t t0 = bench_now_ns();
    int64_t due_ns = t0 + (a.due_us - real_us()) * 1000; /* on the monotonic clock */
    for (int i = 0; i < DELAYED_TRIGGERERS; i++)
        pthread_create(&th[i], NULL, trigger_delayed, &a);
    for (int i = 0; i < DELAYED_TRIGGERERS; i++)
        pthread_join(th[i], NULL);
    int64_t queued_ns = bench_now_ns();
    int failures = atomic_load(&a.failures);
    while (atomic_load(&done_count) < runs - failures) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL); /* a bench, not a test: poll the counter */
    }
    int64_t first_ns = atomic_load(&first_start_ns), end_ns = atomic_load(&last_start_ns);
    char note[160];
    snprintf(note, sizeof note, "%d delayed runs due at once, %d workers, %d triggerers%s%s", runs,
             workers, DELAYED_TRIGGERERS, failures ? " (SOME TRIGGERS FAILED)" : "",
             queued_ns > due_ns ? " (TRIGGERS OUTLASTED THE DUE TIME)" : "");
    bench_row("delayed: triggers/s", runs / ((queued_ns - t0) / 1e9), "trig/s", note);
    bench_row("delayed: first start after due", (first_ns - due_ns) / 1e6, "ms", NULL);
    bench_row("delayed: last start after due", (end_ns - due_ns) / 1e6, "ms", NULL);
    bench_row("delayed: runs/s once due", runs / ((end_ns - due_ns) / 1e9), "exec/s", NULL);
    tasker_close(t);
}
