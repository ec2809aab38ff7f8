/* The built-in `shell` handler: runs params.cmd through /bin/sh -c in its own process
 * group. shell.c reads the params and starts the command; shell_guard.c makes the group
 * die with the daemon; shell_watch.c follows it (output lines as events, timeout,
 * cancellation) until it ends. */
#ifndef TASKER_CLI_SHELL_H
#define TASKER_CLI_SHELL_H

#include <tasker/context.h>

#include <stdbool.h>
#include <sys/types.h>

/* The handler, as registered under the name "shell". Params:
 *   {"cmd": "...", "timeout": SECONDS, "env": {"NAME": "value"|null}, "cwd": "..."}
 * Each stdout line is a normal event, each stderr line a warning event. Exit 0 is
 * success with result {"exit_code":0}; anything else fails saying the exit code or
 * signal. On timeout or tasker_interrupt() the whole process group is stopped. */
int shell_handler(tasker_ctx *c);

/* Starts /bin/sh -c cmd (in cwd when not NULL, with envp, stdin from /dev/null,
 * stdout and stderr into out_w and err_w) under a guard process that leads a new
 * process group and kills that group if the daemon dies (shell_guard.c). *pid is the
 * guard: the group's id, and its exit status is the command's. Returns 0 or an errno
 * value (the guard could not start, or could not enter cwd). */
int shell_spawn_guarded(const char *cmd, const char *cwd, char **envp, int out_w, int err_w,
                        pid_t *pid);

/* How a watched command ended. */
typedef enum {
    SHELL_END_EXIT,    /* it exited (or was killed) on its own; see status */
    SHELL_END_TIMEOUT, /* the timeout passed; the group was killed */
    SHELL_END_CANCEL,  /* the run was interrupted; the group was killed */
} shell_end;

typedef struct shell_result {
    shell_end end;
    int status;            /* waitpid status of the leader */
    bool killed_leftovers; /* processes still holding the output after the leader exited
                            * were killed */
} shell_result;

/* Follows the started command pid (leader of its group), whose stdout and stderr are
 * the read ends out_fd and err_fd (closed here), until it has exited and its output
 * is read. timeout_ms <= 0 means none. Reaps the leader. */
void shell_watch(tasker_ctx *c, pid_t pid, int out_fd, int err_fd, int64_t timeout_ms,
                 shell_result *res);

#endif
