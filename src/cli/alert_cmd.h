/* The parts of an alert that alert.c's thread calls (alert_cmd.c). */
#ifndef TASKER_CLI_ALERT_CMD_H
#define TASKER_CLI_ALERT_CMD_H

#include <tasker/tasker.h>

#include <errno.h>
#include <sys/types.h>

/* The failed run an alert is about; strings owned by the alert thread. */
typedef struct alert_run {
    char *exec_id, *task_id, *error, *tail;
    tasker_exec_status status;
} alert_run;

/* The task's on-failure command (its params' "on_failure" string), malloc'd; NULL when
 * it has none or cannot be read (then logged). */
char *alert_task_command(tasker_t *t, const char *task_id);

/* The last ALERT_TAIL_LINES lines of the run's non-debug events, malloc'd (never NULL
 * unless out of memory; "" when there are none or they cannot be read, then logged). */
char *alert_output_tail(tasker_t *t, const char *exec_id);

/* The daemon's environment with the run's TASKER_* variables; free with
 * alert_free_env(). NULL on out of memory. */
char **alert_env(const alert_run *r);
void alert_free_env(char **envp);

/* Starts /bin/sh -c cmd in a new process group, stdin /dev/null, stdout and stderr into
 * a pipe whose non-blocking read end goes to *out_fd. 0, or an errno value. */
int alert_spawn(const char *cmd, char **envp, pid_t *pid, int *out_fd);

#endif
