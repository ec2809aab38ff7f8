/* The daemon's log of finished runs: one line (or one JSON object) per run, printed
 * by a thread of its own once the run's outcome is stored. */
#ifndef TASKER_CLI_RUNLOG_H
#define TASKER_CLI_RUNLOG_H

#include <tasker/tasker.h>

#include <stdbool.h>

typedef struct runlog runlog;

/* Starts the printing thread for runs of t; json: one JSON object per line. NULL on
 * failure. */
runlog *runlog_start(tasker_t *t, bool json);

/* Says that the handler of exec_id has returned; its record is printed once stored.
 * Called from worker threads; NULL log is a no-op. */
void runlog_ended(runlog *log, const char *exec_id);

/* Prints what is queued, stops the thread and frees the log. Call after the last
 * handler has returned and before tasker_close(). NULL is a no-op. */
void runlog_stop(runlog *log);

#endif
