/* tasker-bench internals: each bench_*.c file measures one thing and prints table rows. */
#ifndef TASKER_BENCH_H
#define TASKER_BENCH_H

#include <stdbool.h>
#include <stdint.h>

/* Monotonic time in nanoseconds. */
int64_t bench_now_ns(void);
/* Prints one table row: what, the figure, its unit, and a note. */
void bench_row(const char *what, double value, const char *unit, const char *note);

/* Sorts n 64-bit integers ascending. */
void bench_sort_i64(int64_t *v, int n);

/* Schedules at scale: add rate, bytes per loaded schedule, herd lateness, open to
 * first fire, for n schedules firing at the same second (bench/bench_sched.c).
 * open_only: only the add rate and the time from open to the first fire. */
void bench_sched(const char *dsn, int n, int workers, bool open_only);

/* Cron next() speed for typical expressions (bench/bench_cron.c). */
void bench_cron(void);
/* A backlog of `runs` delayed runs coming due at once (bench/bench_delayed.c). */
void bench_delayed(const char *dsn, int workers, int runs);

#endif
