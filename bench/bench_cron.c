/* tasker-bench: how long tasker_cron_next takes for typical expressions, each in a
 * zone with DST, from instants spread over ten years (so DST changes, month ends and
 * leap years all come up). Target: under 1 us per call. */
#include "bench.h"

#include <tasker/cron.h>
#include <tasker/tasker.h>

#include <stdio.h>

#define BENCH_CRON_CALLS 200000
#define BENCH_CRON_FROM_US (1767225600LL * 1000000) /* 2026-01-01T00:00:00Z */
#define BENCH_CRON_SPAN_S (3652LL * 86400)          /* ten years */

static const struct {
    const char *expr;
    const char *note;
} cases[] = {
    {"CRON_TZ=Europe/London 0 9 * * MON-FRI", "weekdays 09:00, London"},
    {"CRON_TZ=America/New_York */5 * * * *", "every 5 minutes, New York"},
    {"CRON_TZ=America/New_York 0 0 L * *", "last day of the month"},
    {"CRON_TZ=America/New_York 0 30 2 * * *", "6 fields, 02:30 (DST gap)"},
    {"CRON_TZ=Australia/Lord_Howe 0 30 1 * * 1#2,5L", "2nd Monday, last Friday"},
    {"CRON_TZ=Europe/London 0 0 29 2 *", "29 Feb (leap years only)"},
};

static void bench_one(const char *expr, const char *note)
{
    tasker_cron *c = NULL;
    int64_t next_us = 0, sum_us = 0;
    char what[96];
    if (tasker_cron_parse(expr, &c) != TASKER_OK) {
        bench_row(expr, 0, "error", tasker_last_error());
        return;
    }
    int64_t start_ns = bench_now_ns();
    int calls = 0;
    for (; calls < BENCH_CRON_CALLS; calls++) {
        /* Instants spread over 2026-2035, as a scheduler asks from "now". */
        int64_t after_us = BENCH_CRON_FROM_US + (int64_t)((uint64_t)calls * 2654435761U % BENCH_CRON_SPAN_S) * 1000000;
        if (tasker_cron_next(c, after_us, &next_us) == TASKER_OK)
            sum_us += next_us; /* used, so the call is not optimised away */
    }
    int64_t elapsed_ns = bench_now_ns() - start_ns;
    snprintf(what, sizeof what, "cron next: %s", expr);
    bench_row(what, (double)elapsed_ns / calls, "ns/call", sum_us ? note : "no fire found");
    tasker_cron_free(c);
}

void bench_cron(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        bench_one(cases[i].expr, cases[i].note);
}
