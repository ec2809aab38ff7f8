/* tasker-bench internals: each bench_*.c file measures one thing and prints table rows. */
#ifndef TASKER_BENCH_H
#define TASKER_BENCH_H

#include <stdint.h>

/* Monotonic time in nanoseconds. */
int64_t bench_now_ns(void);
/* Prints one table row: what, the figure, its unit, and a note. */
void bench_row(const char *what, double value, const char *unit, const char *note);

/* Cron next() speed for typical expressions (bench/bench_cron.c). */
void bench_cron(void);
/* A backlog of `runs` delayed runs coming due at once (bench/bench_delayed.c). */
void bench_delayed(const char *dsn, int workers, int runs);

#endif
