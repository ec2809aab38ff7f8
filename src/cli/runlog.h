/* The daemon's log: one line (or one JSON object) per finished run of this daemon, with
 * the run's events under it, printed from the library's exec hook; and the one-line
 * summary of the history already in the store, printed at start. */
#ifndef TASKER_CLI_RUNLOG_H
#define TASKER_CLI_RUNLOG_H

#include <tasker/tasker.h>

#include <stdbool.h>
#include <stdio.h>

typedef struct runlog runlog;

/* A log printing to stdout: per finished run (success, failed, interrupted, or a fire
 * the schedule loop skipped) a line, with events, the run's events under it; json: one
 * JSON object per line (with an "events" array when events). Text lines carry
 * journald's level prefix when stdout is not a terminal (log.h); JSON lines never do.
 * NULL on out of memory. */
runlog *runlog_new(bool json, bool events);

/* Prints the finished run e of t; for the exec hook (thread-safe). */
void runlog_exec_done(runlog *log, tasker_t *t, const tasker_task_exec *e);

/* Frees the log. Call after tasker_close(t): the hook may run until then. NULL is a
 * no-op. */
void runlog_free(runlog *log);

/* Logs (log_msg) a line on the runs already stored in t, e.g.
 * "tasker: 12 earlier runs in sqlite:tasker.db (9 success, 3 failed); last: demo-ok
 * success at 2026-11-25 10:41:20". Call before tasker_start(). */
void runlog_print_history(tasker_t *t, const char *dsn);

#endif
