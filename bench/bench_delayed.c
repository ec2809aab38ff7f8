/* A backlog of delayed runs coming due at once (job lifecycle): N runs triggered with
 * the same run_at_us, a little in the future; then how fast the pool gets through them
 * once due, and how late the last one started after its time. */
#include "bench.h"

#include <tasker/context.h>
#include <tasker/tasker.h>

#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static atomic_int_fast64_t last_start_ns;
static atomic_int done_count;

static int due_handler(tasker_ctx *c)
{
    (void)c;
    atomic_store(&last_start_ns, bench_now_ns());
    atomic_fetch_add(&done_count, 1);
    return 0;
}

static int64_t real_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
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
    /* Due 3 s after the first trigger plus a second per 20,000 runs to enqueue them. */
    int64_t due_us = real_us() + 3000000 + (int64_t)runs * 50;
    tasker_run_opts ro = {.run_at_us = due_us};
    int failures = 0;
    int64_t t0 = bench_now_ns();
    for (int i = 0; i < runs; i++)
        if (tasker_trigger_opts(t, "bench-due", &ro, NULL) != TASKER_OK) failures++;
    int64_t queued_ns = bench_now_ns();
    int64_t due_ns = bench_now_ns() + (due_us - real_us()) * 1000; /* on the monotonic clock */
    while (atomic_load(&done_count) < runs - failures) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL); /* a bench, not a test: poll the counter */
    }
    int64_t end_ns = atomic_load(&last_start_ns);
    char note[128];
    snprintf(note, sizeof note, "%d delayed runs due at once, %d workers%s", runs, workers,
             failures ? " (SOME TRIGGERS FAILED)" : "");
    bench_row("delayed: triggers/s", runs / ((queued_ns - t0) / 1e9), "trig/s", note);
    bench_row("delayed: runs/s once due", runs / ((end_ns - due_ns) / 1e9), "exec/s", NULL);
    bench_row("delayed: last start after due", (end_ns - due_ns) / 1e6, "ms", NULL);
    tasker_close(t);
}
