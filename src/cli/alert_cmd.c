/* One alert's command: what runs (the task's on_failure and the daemon's command), its
 * environment (the run's id, task, status, error and output tail), and starting it.
 * The alert thread (alert.c) calls these; nothing here runs on a worker. */
#include "cli/alert_cmd.h"
#include "cli/alert.h"
#include "cli/log.h"

#include <jansson.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

bool alert_due(const tasker_task_exec *e)
{
    /* For good: no retry follows these (the library has no retries yet; when it gains
     * them, a failure with attempts left is not final and must not alert). */
    return e->status == TASKER_EXEC_FAILED || e->status == TASKER_EXEC_INTERRUPTED;
}

char *alert_task_command(tasker_t *t, const char *task_id)
{
    tasker_task *v = NULL;
    size_t n = 0;
    char *cmd = NULL;
    if (tasker_list_tasks(t, &v, &n) != TASKER_OK) {
        log_msg(LOG_PRIO_ERR, "on-failure: cannot read task '%s': %s", task_id,
                tasker_last_error());
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].task_id, task_id) != 0 || !v[i].param) continue;
        json_t *params = json_loads(v[i].param, JSON_DECODE_ANY, NULL);
        json_t *c = json_is_object(params) ? json_object_get(params, ALERT_PARAM_KEY) : NULL;
        if (json_is_string(c) && *json_string_value(c)) cmd = strdup(json_string_value(c));
        json_decref(params);
        break;
    }
    tasker_free_tasks(v, n);
    return cmd;
}

char *alert_params_with_command(const char *param_json, const char *cmd)
{
    json_t *params = param_json ? json_loads(param_json, JSON_DECODE_ANY, NULL) : json_null();
    char *out = NULL;
    if (json_is_null(params)) {
        json_decref(params);
        params = json_object();
    }
    if (json_is_object(params) &&
        json_object_set_new(params, ALERT_PARAM_KEY, json_string(cmd)) == 0)
        out = json_dumps(params, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(params);
    return out;
}

/* Counts the lines of a message (an event may hold several). */
static size_t count_lines(const char *s)
{
    size_t n = 1;
    for (; *s; s++)
        if (*s == '\n' && s[1]) n++;
    return n;
}

char *alert_output_tail(tasker_t *t, const char *exec_id)
{
    tasker_task_event *evs = NULL;
    size_t n = 0;
    if (tasker_list_events(t, exec_id, &evs, &n) != TASKER_OK) {
        log_msg(LOG_PRIO_WARNING, "on-failure: exec %s: cannot read its events: %s", exec_id,
                tasker_last_error());
        return strdup("");
    }
    /* Walk back from the newest until ALERT_TAIL_LINES lines are taken. */
    size_t first = n, lines = 0;
    while (first > 0 && lines < ALERT_TAIL_LINES) {
        const tasker_task_event *ev = &evs[first - 1];
        if (ev->level != TASKER_DEBUG) lines += count_lines(ev->message ? ev->message : "");
        first--;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f) {
        bool any = false;
        for (size_t i = first; i < n; i++) {
            if (evs[i].level == TASKER_DEBUG) continue;
            fprintf(f, "%s%s", any ? "\n" : "", evs[i].message ? evs[i].message : "");
            any = true;
        }
        fclose(f);
    }
    tasker_free_events(evs, n);
    if (buf && len > ALERT_TAIL_MAX_BYTES) { /* keep the end: that is where errors are */
        memmove(buf, buf + len - ALERT_TAIL_MAX_BYTES, ALERT_TAIL_MAX_BYTES + 1);
    }
    return buf ? buf : strdup("");
}

static bool is_alert_var(const char *entry)
{
    static const char *const names[] = {"TASKER_EXEC_ID=", "TASKER_TASK_ID=", "TASKER_STATUS=",
                                        "TASKER_ERROR=", "TASKER_OUTPUT_TAIL="};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strncmp(entry, names[i], strlen(names[i])) == 0) return true;
    return false;
}

char **alert_env(const alert_run *r)
{
    size_t n_inherited = 0;
    while (environ[n_inherited])
        n_inherited++;
    char **envp = calloc(n_inherited + 6, sizeof *envp);
    if (!envp) return NULL;
    size_t n = 0;
    for (size_t i = 0; i < n_inherited; i++)
        if (!is_alert_var(environ[i]) && !(envp[n++] = strdup(environ[i]))) goto fail;
    const char *vars[][2] = {{"TASKER_EXEC_ID", r->exec_id},
                             {"TASKER_TASK_ID", r->task_id},
                             {"TASKER_STATUS", tasker_exec_status_name(r->status)},
                             {"TASKER_ERROR", r->error ? r->error : ""},
                             {"TASKER_OUTPUT_TAIL", r->tail ? r->tail : ""}};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (asprintf(&envp[n++], "%s=%s", vars[i][0], vars[i][1]) < 0) {
            envp[--n] = NULL;
            goto fail;
        }
    return envp;
fail:
    alert_free_env(envp);
    return NULL;
}

void alert_free_env(char **envp)
{
    for (size_t i = 0; envp && envp[i]; i++)
        free(envp[i]);
    free(envp);
}

int alert_spawn(const char *cmd, char **envp, pid_t *pid, int *out_fd)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) return errno;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
    /* Its own group, so a timeout stops all it started; default signals and an empty
     * mask, whatever the daemon ignores (SIGPIPE) or blocks. */
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    sigset_t mask, defaults;
    sigemptyset(&mask);
    posix_spawnattr_setsigmask(&attr, &mask);
    sigemptyset(&defaults);
    const int reset[] = {SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof reset / sizeof *reset; i++)
        sigaddset(&defaults, reset[i]);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
    int rc = posix_spawn(pid, "/bin/sh", &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(pipefd[1]);
    if (rc != 0) {
        close(pipefd[0]);
        return rc;
    }
    fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
    *out_fd = pipefd[0];
    return 0;
}
