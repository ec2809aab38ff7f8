/* Failure alerts, as cron's MAILTO and systemd's OnFailure= give: when a run of the
 * daemon fails for good (failed or interrupted; a skipped fire does not count), a
 * command runs through /bin/sh -c with the run in its environment:
 *   TASKER_EXEC_ID, TASKER_TASK_ID, TASKER_STATUS, TASKER_ERROR, and
 *   TASKER_OUTPUT_TAIL: the last ALERT_TAIL_LINES lines of the run's output events
 *   (debug events left out), oldest first, newline-separated.
 * The commands are the task's own ("on_failure" in its params, set by `tasker task add
 * --on-failure`) and then the daemon's (`tasker run --on-failure`), each when set.
 * They run on a thread of their own, never on a worker, at most ALERT_MAX_RUNNING at
 * once, each for at most ALERT_TIMEOUT_S; their output is read, and a command that
 * cannot start, exits nonzero, is killed by a signal or times out is logged as an error
 * with its last output line, so no alert is lost silently. */
#ifndef TASKER_CLI_ALERT_H
#define TASKER_CLI_ALERT_H

#include <tasker/tasker.h>

#include <stdbool.h>

#define ALERT_TAIL_LINES 20
#define ALERT_TAIL_MAX_BYTES 16384 /* TASKER_OUTPUT_TAIL keeps at most its last 16 KiB */
#define ALERT_MAX_RUNNING 4
#define ALERT_TIMEOUT_S 60

/* The key of a task's params that holds its on-failure command. */
#define ALERT_PARAM_KEY "on_failure"

/* The task params param_json (NULL = null) with ALERT_PARAM_KEY set to cmd: a new
 * malloc'd JSON text. NULL when the params are neither an object nor null (they cannot
 * hold the command) or on out of memory. For `tasker task add --on-failure`. */
char *alert_params_with_command(const char *param_json, const char *cmd);

typedef struct alerter alerter;

/* Starts the alert thread for runs of t; daemon_cmd (copied; NULL = none) runs for
 * every task's failures. NULL (logged) when the thread cannot start. */
alerter *alerter_start(tasker_t *t, const char *daemon_cmd);

/* For the exec hook: queues the alerts of e if it failed for good. Quick: copies a few
 * strings and wakes the thread. Thread-safe. */
void alerter_exec_done(alerter *a, const tasker_task_exec *e);

/* True when the run failed for good: an alert is due. */
bool alert_due(const tasker_task_exec *e);

/* Runs what is queued, waits up to wait_ms for the commands running, kills (and logs)
 * what is left, and frees a. Call after the last run finished (tasker_shutdown) and
 * before tasker_close(t). NULL is a no-op. */
void alerter_stop(alerter *a, int wait_ms);

#endif
