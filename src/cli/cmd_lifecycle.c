/* The lifecycle subcommands (design section 6): `task pause|resume`, `schedule
 * pause|resume`, `exec cancel|retry`. Each is one library call on the store; the
 * daemon on the same store is then woken, so a pause, a resume or a cancel is acted on
 * now rather than at its next rescan (other nodes see it within a heartbeat). */
#include "cli/cli.h"
#include "cli/output.h"
#include "cli/wakeup.h"

#include <stdio.h>
#include <string.h>

/* Parses the global options of a one-argument subcommand: -1 and *id set, or the exit
 * code. */
static int one_id(cli_global *g, int argc, char **argv, const char *cmd, const char *what,
                  const char *help, const char **id)
{
    static const struct option options[] = {CLI_GLOBAL_OPTIONS, {0}};
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1)
        if (!cli_global_option(g, c, optarg)) return cli_bad_option(cmd, c, argv);
    if (g->help) return cli_help(help);
    if (optind != argc - 1) return cli_usage_error(cmd, "%s: expected one %s", cmd, what);
    *id = argv[optind];
    return -1;
}

int cli_pause_cmd(cli_global *g, int argc, char **argv, const char *kind, bool pause,
                  const char *help)
{
    char cmd[32];
    snprintf(cmd, sizeof cmd, "%s %s", kind, pause ? "pause" : "resume");
    bool task = strcmp(kind, "task") == 0;
    const char *id;
    int rc = one_id(g, argc, argv, cmd, task ? "task ID" : "schedule ID", help, &id);
    if (rc >= 0) return rc;
    tasker_t *t = cli_open(g, -1);
    if (!t) return CLI_FAIL;
    int err;
    char scheme_id[TASKER_ID_SIZE] = "";
    if (task) {
        err = pause ? tasker_pause_task(t, id) : tasker_resume_task(t, id);
    } else {
        /* A schedule by unique prefix, as schedule rm takes it. */
        tasker_task_scheme s;
        rc = cli_find_scheme(t, cmd, id, &s);
        if (rc == CLI_OK) snprintf(scheme_id, sizeof scheme_id, "%s", s.scheme_id);
        tasker_scheme_clear(&s);
        if (rc != CLI_OK) {
            tasker_close(t);
            return rc;
        }
        id = scheme_id;
        err = pause ? tasker_pause_schedule(t, id) : tasker_resume_schedule(t, id);
    }
    rc = err == TASKER_OK ? CLI_OK : cli_lib_error(err, cmd);
    if (rc == CLI_OK) {
        wakeup_send(g->dsn);
        if (g->json)
            rc = out_json(json_pack("{s:s, s:s, s:b}", task ? "task_id" : "scheme_id", id, "kind",
                                    kind, "paused", pause));
        else
            printf("%s %s %s\n", kind, id, pause ? "paused" : "resumed");
    }
    tasker_close(t);
    return rc;
}

int cli_exec_cancel_cmd(cli_global *g, int argc, char **argv, const char *help)
{
    const char *id;
    int rc = one_id(g, argc, argv, "exec cancel", "execution ID", help, &id);
    if (rc >= 0) return rc;
    tasker_t *t = cli_open(g, -1);
    if (!t) return CLI_FAIL;
    tasker_task_exec e;
    rc = cli_find_exec(t, "exec cancel", id, &e);
    if (rc == CLI_OK) {
        bool was_running = e.status == TASKER_EXEC_RUNNING;
        int err = tasker_cancel(t, e.exec_id);
        rc = err == TASKER_OK ? CLI_OK : cli_lib_error(err, "exec cancel");
        if (rc == CLI_OK) {
            wakeup_send(g->dsn);
            /* A running run stops when its handler sees tasker_cancelled(). */
            const char *state = was_running ? "cancelling" : "cancelled";
            if (g->json)
                rc = out_json(json_pack("{s:s, s:s}", "exec_id", e.exec_id, "status", state));
            else
                printf("exec %s %s\n", e.exec_id, state);
        }
    }
    tasker_exec_clear(&e);
    tasker_close(t);
    return rc;
}

int cli_exec_retry_cmd(cli_global *g, int argc, char **argv, const char *help)
{
    const char *id;
    int rc = one_id(g, argc, argv, "exec retry", "execution ID", help, &id);
    if (rc >= 0) return rc;
    tasker_t *t = cli_open(g, -1);
    if (!t) return CLI_FAIL;
    tasker_task_exec e;
    rc = cli_find_exec(t, "exec retry", id, &e);
    if (rc == CLI_OK) {
        char new_id[TASKER_ID_SIZE];
        int err = tasker_retry(t, e.exec_id, new_id);
        rc = err == TASKER_OK ? CLI_OK : cli_lib_error(err, "exec retry");
        if (rc == CLI_OK) {
            wakeup_send(g->dsn);
            if (g->json)
                rc = out_json(json_pack("{s:s, s:s, s:s}", "exec_id", new_id, "retry_of", e.exec_id,
                                        "status", "pending"));
            else
                printf("%s\n", new_id);
        }
    }
    tasker_exec_clear(&e);
    tasker_close(t);
    return rc;
}
