/* Following one execution from the command line: its events printed as they are
 * stored, until it has finished (for `trigger --wait` and `trigger --local`), and the
 * printing of events and one-line run summaries shared with `exec show` and the
 * daemon's log. */
#ifndef TASKER_CLI_FOLLOW_H
#define TASKER_CLI_FOLLOW_H

#include <tasker/tasker.h>

#include <stdbool.h>
#include <stdio.h>

/* Polls the store for exec_id's events and state (every 20 to 100 ms: the follower is
 * a short-lived command, the daemon is not slowed by it) and prints new events to
 * stdout unless quiet. Ends when the execution has finished, filling *out (free with
 * tasker_exec_clear). TASKER_ETIMEDOUT when timeout_ms (negative = none) passed first.
 * On SIGINT (see follow_catch_interrupt), calls tasker_interrupt(t) once and keeps
 * following; a second SIGINT ends the command. */
int follow_exec(tasker_t *t, const char *exec_id, int timeout_ms, bool quiet,
                tasker_task_exec *out);

/* Makes the first SIGINT/SIGTERM interrupt the followed run (for runs in this process)
 * instead of ending the command. */
void follow_catch_interrupt(void);

/* "10:49:01.250  normal   message" with the level coloured. */
void print_event(FILE *f, const tasker_task_event *ev);

/* "2026-11-25 10:50:00  task  success  1.2s  exec ID  outcome" for a finished run. */
void print_run_line(FILE *f, const tasker_task_exec *e);

/* True for success, failed, interrupted and skipped. */
bool exec_finished(tasker_exec_status s);

#endif
