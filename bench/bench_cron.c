/* tasker-bench: how long tasker_cron_next and tasker_cron_prev take for typical
 * expressions, each in a zone with DST, from instants spread over ten years (so DST
 * changes, month ends and leap years all come up). Target: under 1 us per call. */
#include "bench.h"

#include <tasker/cron.h>
#include <tasker/tasker.h>

#include <stdio.h>
#include <string.h>

#define BENCH_CRON_CALLS 200000
#define BENCH_CRON_FROM_US (1767225600LL * 1000000) /* 2026-01-01T00:00:00Z */
#define BENCH_CRON_SPAN_S (3652LL * 86400)          /* ten years */

static const struct {
    const char *label; /* short, for the table's first column */
    const char *expr;
    const char *note;
} cases[] = {
    {"cron next 0 9 * * MON-FRI", "CRON_TZ=Europe/London 0 9 * * MON-FRI", "Europe/London"},
    {"cron next */5 * * * *", "CRON_TZ=America/New_York */5 * * * *", "America/New_York"},
    {"cron next 0 0 L * *", "CRON_TZ=America/New_York 0 0 L * *", "America/New_York"},
    {"cron next 0 30 2 * * *", "CRON_TZ=America/New_York 0 30 2 * * *",
     "America/New_York, 6 fields, DST gap"},
    {"cron next 0 30 1 * * 1#2,5L", "CRON_TZ=Australia/Lord_Howe 0 30 1 * * 1#2,5L",
     "Australia/Lord_Howe"},
    {"cron next 0 0 29 2 *", "CRON_TZ=Europe/London 0 0 29 2 *", "Europe/London, leap years"},
    {"cron next @daily", "CRON_TZ=America/Santiago @daily", "America/Santiago"},
    {"cron next H H * * *", "CRON_TZ=Europe/London H H * * *", "Europe/London, hashed"},
    {"cron next 0 0 L-3W * *", "CRON_TZ=America/New_York 0 0 L-3W * *", "America/New_York"},
    {"cron next @every 90s", "@every 90s", "fixed interval"},
};

/* One expression's next() (prev = 0) or prev() (prev = 1) calls; label begins "cron next". */
static void bench_one(const char *label, const char *expr, const char *note, int prev)
{
    tasker_cron *c = NULL;
    int64_t next_us = 0, sum_us = 0;
    char prev_label[64];
    if (prev) { /* the same row, named for prev */
        snprintf(prev_label, sizeof prev_label, "cron prev%s", label + strlen("cron next"));
        label = prev_label;
    }
    if (tasker_cron_parse_key(expr, "bench-task", &c) != TASKER_OK) {
        bench_row(expr, 0, "error", tasker_last_error());
        return;
    }
    int64_t start_ns = bench_now_ns();
    int calls = 0;
    for (; calls < BENCH_CRON_CALLS; calls++) {
        /* Instants spread over 2026-2035, as a scheduler asks from "now". */
        int64_t after_us = BENCH_CRON_FROM_US +
                           (int64_t)((uint64_t)calls * 2654435761U % BENCH_CRON_SPAN_S) * 1000000;
        int rc = prev ? tasker_cron_prev(c, after_us, &next_us)
                      : tasker_cron_next(c, after_us, &next_us);
        if (rc == TASKER_OK) sum_us += next_us; /* used, so the call is not optimised away */
    }
    int64_t elapsed_ns = bench_now_ns() - start_ns;
    bench_row(label, (double)elapsed_ns / calls, "ns/call", sum_us ? note : "no fire found");
    tasker_cron_free(c);
}

/* How long "never fires" takes to say so: the whole 401-year search, each way. */
static void bench_not_found(void)
{
    tasker_cron *c = NULL;
    int64_t fire_us = 0;
    int calls = 200;
    if (tasker_cron_parse("CRON_TZ=America/New_York 0 0 30 2 *", &c) != TASKER_OK) return;
    for (int prev = 0; prev <= 1; prev++) {
        int64_t start_ns = bench_now_ns();
        for (int i = 0; i < calls; i++) {
            int rc = prev ? tasker_cron_prev(c, BENCH_CRON_FROM_US, &fire_us)
                          : tasker_cron_next(c, BENCH_CRON_FROM_US, &fire_us);
            if (rc != TASKER_ENOTFOUND) break;
        }
        bench_row(prev ? "cron prev 0 0 30 2 * (never)" : "cron next 0 0 30 2 * (never)",
                  (double)(bench_now_ns() - start_ns) / calls, "ns/call",
                  "America/New_York, ENOTFOUND after 401 years");
    }
    tasker_cron_free(c);
}

/* Parsing, with the zone already cached (the first parse of a zone reads its file). */
static void bench_parse(void)
{
    int calls = 100000, failed = 0;
    int64_t start_ns = bench_now_ns();
    for (int i = 0; i < calls; i++) {
        tasker_cron *c = NULL;
        failed += tasker_cron_parse("CRON_TZ=Europe/London 0 9 * * MON-FRI", &c) != TASKER_OK;
        tasker_cron_free(c);
    }
    bench_row("cron parse 0 9 * * MON-FRI", (double)(bench_now_ns() - start_ns) / calls, "ns/call",
              failed ? "parse failed" : "Europe/London, zone cached");
}

void bench_cron(void)
{
    for (int prev = 0; prev <= 1; prev++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            bench_one(cases[i].label, cases[i].expr, cases[i].note, prev);
    bench_not_found();
    bench_parse();
}
