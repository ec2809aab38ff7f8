/* The built-in `shell` handler: binds its params, builds the environment, starts
 * /bin/sh -c CMD in a new process group (under a guard: shell_guard.c), and turns how
 * it ended into the run's outcome. Following the running command is shell_watch.c's
 * job. */
#include "cli/shell.h"

#include <jansson.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

typedef struct shell_params {
    const char *cmd, *cwd;
    json_t *env;      /* borrowed from the bound params; NULL = none */
    double timeout_s; /* 0 = none */
} shell_params;

/* Fills *p from the run's params; false (and the run failed, saying why) when they do
 * not fit. */
static bool bind_params(tasker_ctx *c, shell_params *p)
{
    memset(p, 0, sizeof *p);
    if (tasker_bind(c, "{s:s, s?F, s?o, s?s}", "cmd", &p->cmd, "timeout", &p->timeout_s, "env",
                    &p->env, "cwd", &p->cwd) != TASKER_OK) {
        tasker_failed(c, "shell: params: %s", tasker_last_error());
        return false;
    }
    if (p->timeout_s < 0) {
        tasker_failed(c, "shell: params: field 'timeout': %g is negative", p->timeout_s);
        return false;
    }
    if (p->env && json_is_null(p->env)) p->env = NULL;
    if (p->env && !json_is_object(p->env)) {
        tasker_failed(c, "shell: params: field 'env': expected an object");
        return false;
    }
    return true;
}

/* "NAME=value" for one env param; NULL (and a failure) for a value that is not a
 * string, number or boolean. */
static char *env_entry(tasker_ctx *c, const char *name, json_t *v)
{
    char *entry = NULL, num[64];
    const char *text;
    if (json_is_string(v))
        text = json_string_value(v);
    else if (json_is_integer(v))
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v)), text = num;
    else if (json_is_real(v))
        snprintf(num, sizeof num, "%.17g", json_real_value(v)), text = num;
    else if (json_is_boolean(v))
        text = json_is_true(v) ? "true" : "false";
    else {
        tasker_failed(c, "shell: params: env '%s': expected a string, number or boolean", name);
        return NULL;
    }
    if (strchr(name, '=') || !*name) {
        tasker_failed(c, "shell: params: env name '%s' is not valid", name);
        return NULL;
    }
    if (asprintf(&entry, "%s=%s", name, text) < 0) return NULL;
    return entry;
}

static bool overridden(const char *entry, json_t *env, const char *const *extra_names)
{
    size_t len = strcspn(entry, "=");
    char name[256];
    if (len >= sizeof name) return false;
    memcpy(name, entry, len);
    name[len] = '\0';
    for (size_t i = 0; extra_names[i]; i++)
        if (strcmp(name, extra_names[i]) == 0) return true;
    /* A null value in params.env removes the variable. */
    return env && json_object_get(env, name) != NULL;
}

/* The command's environment: the daemon's, with TASKER_TASK_ID and TASKER_EXEC_ID,
 * then params.env on top. Entries are malloc'd; free with free_env(). */
static char **build_env(tasker_ctx *c, json_t *env)
{
    static const char *const extra_names[] = {"TASKER_TASK_ID", "TASKER_EXEC_ID", NULL};
    size_t n_inherited = 0;
    while (environ[n_inherited])
        n_inherited++;
    char **envp = calloc(n_inherited + (env ? json_object_size(env) : 0) + 3, sizeof *envp);
    if (!envp) return NULL;
    size_t n = 0;
    for (size_t i = 0; i < n_inherited; i++)
        if (!overridden(environ[i], env, extra_names) && !(envp[n++] = strdup(environ[i])))
            goto fail;
    if (asprintf(&envp[n++], "TASKER_TASK_ID=%s", tasker_task_id(c)) < 0 ||
        asprintf(&envp[n++], "TASKER_EXEC_ID=%s", tasker_exec_id(c)) < 0) {
        envp[--n] = NULL;
        goto fail;
    }
    const char *name;
    json_t *v;
    json_object_foreach(env, name, v)
    {
        if (json_is_null(v)) continue;
        if (!(envp[n++] = env_entry(c, name, v))) goto fail;
    }
    return envp;
fail:
    for (size_t i = 0; envp[i]; i++)
        free(envp[i]);
    free(envp);
    return NULL;
}

static void free_env(char **envp)
{
    for (size_t i = 0; envp && envp[i]; i++)
        free(envp[i]);
    free(envp);
}

/* The run's outcome from how the command ended. Returns the handler's result. */
static int report(tasker_ctx *c, const shell_params *p, const shell_result *res)
{
    if (res->killed_leftovers)
        tasker_event(c, TASKER_WARNING,
                     "killed processes the command left running with its output open");
    if (res->end == SHELL_END_TIMEOUT) {
        tasker_failed(c, "command timed out after %gs; killed its process group", p->timeout_s);
    } else if (res->end == SHELL_END_CANCEL) {
        tasker_failed(c, "run interrupted; killed the command's process group");
    } else if (WIFEXITED(res->status)) {
        int code = WEXITSTATUS(res->status);
        char result[48];
        snprintf(result, sizeof result, "{\"exit_code\":%d}", code);
        tasker_success(c, result);
        if (code == 0) return 0;
        tasker_failed(c, "command exited with code %d", code);
    } else if (WIFSIGNALED(res->status)) {
        int sig = WTERMSIG(res->status);
        const char *abbrev = sigabbrev_np(sig);
        tasker_failed(c, "command killed by signal %d (SIG%s)", sig, abbrev ? abbrev : "?");
    } else {
        tasker_failed(c, "command ended with wait status %d", res->status);
    }
    return 1;
}

int shell_handler(tasker_ctx *c)
{
    shell_params p;
    if (!bind_params(c, &p)) return 1;
    if (tasker_cancelled(c)) {
        /* Queued behind others when the daemon was told to stop: do not start it only
         * to kill it. */
        tasker_failed(c, "run interrupted before the command started");
        return 1;
    }
    int rc = 1, out[2] = {-1, -1}, err[2] = {-1, -1};
    char **envp = build_env(c, p.env);
    if (!envp) {
        /* env_entry has said why, unless memory ran out (then the first failure
         * message below is what is kept). */
        tasker_failed(c, "shell: cannot build the environment");
        goto out;
    }
    /* O_CLOEXEC: commands started at the same time by other workers must not inherit
     * these pipes, or our end of file would wait for them. */
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
        tasker_failed(c, "shell: pipe: %s", strerror(errno));
        goto out;
    }
    pid_t pid;
    int spawn_err = shell_spawn_guarded(p.cmd, p.cwd, envp, out[1], err[1], &pid);
    close(out[1]);
    close(err[1]);
    out[1] = err[1] = -1;
    if (spawn_err) {
        if (p.cwd)
            tasker_failed(c, "shell: cannot start /bin/sh in '%s': %s", p.cwd, strerror(spawn_err));
        else
            tasker_failed(c, "shell: cannot start /bin/sh: %s", strerror(spawn_err));
        goto out;
    }
    tasker_event(c, TASKER_DEBUG, "started /bin/sh -c (process group %d)", (int)pid);
    shell_result res;
    int64_t timeout_ms = (int64_t)(p.timeout_s * 1000.0);
    if (p.timeout_s > 0 && timeout_ms < 1) timeout_ms = 1;
    shell_watch(c, pid, out[0], err[0], timeout_ms, &res);
    out[0] = err[0] = -1; /* closed by shell_watch */
    rc = report(c, &p, &res);
out:
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0) close(out[i]);
        if (err[i] >= 0) close(err[i]);
    }
    free_env(envp);
    return rc;
}
