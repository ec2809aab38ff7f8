/* Ids given by a unique prefix: executions (exec show, exec events, exec wait) and
 * schedules (schedule rm). Generated ids are 36 characters; people copy the first
 * dozen, as they do with git's hashes. An ambiguous prefix is an error that lists the
 * records it matches, so the next try can be exact. */
#include "cli/cli.h"
#include "cli/output.h"

#include <string.h>

/* At most this many matches are listed under an ambiguous prefix. */
#define PREFIX_LIST_MAX 10

static bool has_prefix(const char *id, const char *prefix)
{
    return id && strncmp(id, prefix, strlen(prefix)) == 0;
}

static void list_exec_matches(const char *cmd, const char *prefix, const tasker_task_exec *v,
                              size_t n, size_t matches)
{
    cli_errorf("%s: '%s' matches %zu executions; give more of the id:", cmd, prefix, matches);
    size_t listed = 0;
    for (size_t i = 0; i < n && listed < PREFIX_LIST_MAX; i++) {
        if (!has_prefix(v[i].exec_id, prefix)) continue;
        char queued[FMT_TIME_SIZE];
        fmt_local_time(v[i].queued_us, queued);
        fprintf(stderr, "  %s  %s  %s  %s\n", v[i].exec_id, v[i].task_id,
                tasker_exec_status_name(v[i].status), queued);
        listed++;
    }
    if (matches > listed) fprintf(stderr, "  ... and %zu more\n", matches - listed);
}

int cli_find_exec(tasker_t *t, const char *cmd, const char *id, tasker_task_exec *out)
{
    memset(out, 0, sizeof *out);
    int err = tasker_get_exec(t, id, out);
    if (err == TASKER_OK) return CLI_OK;
    if (err != TASKER_ENOTFOUND) return cli_lib_error(err, cmd);
    tasker_task_exec *v = NULL;
    size_t n = 0, matches = 0, found = 0;
    if ((err = tasker_list_execs(t, NULL, &v, &n)) != TASKER_OK) return cli_lib_error(err, cmd);
    for (size_t i = 0; i < n; i++)
        if (has_prefix(v[i].exec_id, id)) matches++, found = i;
    int rc = CLI_FAIL;
    if (matches == 1) {
        *out = v[found];
        memset(&v[found], 0, sizeof v[found]);
        rc = CLI_OK;
    } else if (matches > 1) {
        list_exec_matches(cmd, id, v, n, matches);
    } else {
        cli_errorf("%s: no execution '%s'", cmd, id);
    }
    tasker_free_execs(v, n);
    return rc;
}

static void list_scheme_matches(const char *cmd, const char *prefix, const tasker_task_scheme *v,
                                size_t n, size_t matches)
{
    cli_errorf("%s: '%s' matches %zu schedules; give more of the id:", cmd, prefix, matches);
    size_t listed = 0;
    for (size_t i = 0; i < n && listed < PREFIX_LIST_MAX; i++) {
        if (!has_prefix(v[i].scheme_id, prefix)) continue;
        fprintf(stderr, "  %s  %s  %s\n", v[i].scheme_id, v[i].task_id, v[i].cron);
        listed++;
    }
    if (matches > listed) fprintf(stderr, "  ... and %zu more\n", matches - listed);
}

int cli_find_scheme(tasker_t *t, const char *cmd, const char *id, tasker_task_scheme *out)
{
    memset(out, 0, sizeof *out);
    tasker_task_scheme *v = NULL;
    size_t n = 0, matches = 0, found = 0;
    int err = tasker_list_schemes(t, &v, &n);
    if (err != TASKER_OK) return cli_lib_error(err, cmd);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].scheme_id, id) == 0) { /* an exact id wins over prefixes */
            matches = 1, found = i;
            break;
        }
        if (has_prefix(v[i].scheme_id, id)) matches++, found = i;
    }
    int rc = CLI_FAIL;
    if (*id == '\0') {
        cli_errorf("%s: the schedule id is empty", cmd);
    } else if (matches == 1) {
        *out = v[found];
        memset(&v[found], 0, sizeof v[found]);
        rc = CLI_OK;
    } else if (matches > 1) {
        list_scheme_matches(cmd, id, v, n, matches);
    } else {
        cli_errorf("%s: no schedule '%s'", cmd, id);
    }
    tasker_free_schemes(v, n);
    return rc;
}
