/* `tasker exec ls|show`: the history of runs and their events. */
#include "cli/cli.h"
#include "cli/follow.h"
#include "cli/output.h"

#include <tasker/storage.h>

#include <stdlib.h>
#include <string.h>

static const char exec_help[] =
    "usage: tasker exec ls [TASK] [--limit N] [--status S[,S...]] [--json]\n"
    "       tasker exec show EXEC [--json]\n"
    "\n"
    "ls lists runs, newest first: all tasks', or TASK's. show prints one run's record\n"
    "and all its events (for the shell handler: its output lines). EXEC may be any\n"
    "unique prefix of an execution id.\n"
    "\n"
    "Options:\n"
    "  --limit N     at most N runs (default 20; 0 = all)\n"
    "  --status S    only runs in these states: pending, running, success, failed,\n"
    "                interrupted, skipped (comma-separated)\n"
    "  --json        print JSON\n";

/* A bit per tasker_exec_status named in a comma-separated list; 0 on a bad name. */
static unsigned parse_statuses(const char *list)
{
    unsigned mask = 0;
    char *copy = strdup(list), *save = NULL;
    if (!copy) return 0;
    for (char *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        int s = TASKER_EXEC_PENDING;
        for (; s <= TASKER_EXEC_SKIPPED; s++)
            if (strcmp(name, tasker_exec_status_name((tasker_exec_status)s)) == 0) break;
        if (s > TASKER_EXEC_SKIPPED) {
            mask = 0;
            break;
        }
        mask |= 1u << s;
    }
    free(copy);
    return mask;
}

static int print_execs(const cli_global *g, tasker_task_exec *v, size_t n, unsigned statuses,
                       long limit)
{
    json_t *arr = g->json ? json_array() : NULL;
    static const char *const headers[] = {"EXEC",   "TASK",     "STATUS",
                                          "QUEUED", "DURATION", "RESULT / ERROR"};
    out_table *tb = g->json ? NULL : table_new(6, headers);
    if (!arr && !tb) return CLI_FAIL;
    if (tb) table_set_max_width(tb, 5, 60);
    int64_t now = now_us();
    long shown = 0, matching = 0;
    for (size_t i = 0; i < n; i++) {
        if (statuses && !(statuses & (1u << v[i].status))) continue;
        if (limit && shown >= limit) {
            matching++; /* counted for the note below, not shown */
            continue;
        }
        shown++;
        matching++;
        if (arr) {
            json_array_append_new(arr, json_exec(&v[i]));
            continue;
        }
        char queued[FMT_TIME_SIZE], took[FMT_TIME_SIZE];
        fmt_local_time(v[i].queued_us, queued);
        fmt_exec_duration(&v[i], now, took);
        const char *cells[] = {v[i].exec_id, v[i].task_id, tasker_exec_status_name(v[i].status),
                               queued,       took,         fmt_exec_outcome(&v[i])};
        const cli_colour colours[] = {CLR_NONE, CLR_NONE, out_status_colour(v[i].status),
                                      CLR_NONE, CLR_NONE, CLR_NONE};
        table_add_row(tb, cells, colours);
    }
    if (arr) return out_json(arr);
    table_print(tb, stdout);
    table_free(tb);
    fflush(stdout); /* the note comes after the table on a terminal */
    if (matching > shown)
        fprintf(stderr, "(%ld of %ld shown; --limit 0 shows all)\n", shown, matching);
    return CLI_OK;
}

static int exec_ls(cli_global *g, int argc, char **argv)
{
    static const struct option options[] = {{"limit", required_argument, NULL, 'n'},
                                            {"status", required_argument, NULL, 's'},
                                            CLI_GLOBAL_OPTIONS,
                                            {0}};
    long limit = 20;
    unsigned statuses = 0;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":hn:", options, NULL)) != -1) {
        if (cli_global_option(g, c, optarg)) continue;
        if (c == 'n' && !cli_parse_int(optarg, 0, 1000000000, &limit))
            return cli_usage_error("exec ls", "exec ls: --limit '%s': expected a number", optarg);
        if (c == 's' && !(statuses = parse_statuses(optarg)))
            return cli_usage_error("exec ls",
                                   "exec ls: --status '%s': expected pending, running, "
                                   "success, failed, interrupted or skipped",
                                   optarg);
        if (c != 'n' && c != 's') return cli_bad_option("exec ls", c, argv);
    }
    if (g->help) return cli_help(exec_help);
    if (argc - optind > 1)
        return cli_usage_error("exec ls", "exec ls: expected at most one task ID");
    tasker_t *t = cli_open(g, -1);
    if (!t) return CLI_FAIL;
    tasker_task_exec *v = NULL;
    size_t n = 0;
    int err = tasker_list_execs(t, optind < argc ? argv[optind] : NULL, &v, &n);
    int rc =
        err == TASKER_OK ? print_execs(g, v, n, statuses, limit) : cli_lib_error(err, "exec ls");
    tasker_free_execs(v, n);
    tasker_close(t);
    return rc;
}

/* Finds the execution whose id is id, or else the only one whose id starts with it. */
static int find_exec(tasker_t *t, const char *id, tasker_task_exec *out)
{
    int err = tasker_get_exec(t, id, out);
    if (err != TASKER_ENOTFOUND) return err;
    tasker_task_exec *v = NULL;
    size_t n = 0, matches = 0, found = 0;
    if ((err = tasker_list_execs(t, NULL, &v, &n)) != TASKER_OK) return err;
    for (size_t i = 0; i < n; i++)
        if (strncmp(v[i].exec_id, id, strlen(id)) == 0) matches++, found = i;
    if (matches == 1) {
        *out = v[found];
        memset(&v[found], 0, sizeof v[found]);
        err = TASKER_OK;
    } else if (matches > 1) {
        cli_errorf("exec show: '%s' matches %zu executions; give more of the id", id, matches);
        err = TASKER_EEXISTS;
    } else {
        err = tasker_set_error(TASKER_ENOTFOUND, "no execution '%s'", id);
    }
    tasker_free_execs(v, n);
    return err;
}

static void print_field(const char *name, const char *value)
{
    printf("%s%-10s%s %s\n", out_colour_on(CLR_BOLD), name, out_colour_off(CLR_BOLD),
           value ? value : "-");
}

static void print_exec_record(const tasker_task_exec *e)
{
    char buf[FMT_TIME_SIZE], line[256];
    print_field("exec", e->exec_id);
    print_field("task", e->task_id);
    snprintf(line, sizeof line, "%s%s%s", out_colour_on(out_status_colour(e->status)),
             tasker_exec_status_name(e->status), out_colour_off(out_status_colour(e->status)));
    print_field("status", line);
    if (e->scheme_id) {
        fmt_local_time(e->scheduled_us, buf);
        snprintf(line, sizeof line, "schedule %s, the fire of %s", e->scheme_id, buf);
        print_field("by", line);
    } else {
        print_field("by", "trigger");
    }
    fmt_local_time(e->queued_us, buf);
    print_field("queued", buf);
    fmt_local_time(e->start_us, buf);
    print_field("started", buf);
    fmt_local_time(e->end_us, buf);
    print_field("ended", buf);
    fmt_exec_duration(e, now_us(), buf);
    print_field("duration", buf);
    print_field("node", e->node_id);
    print_field("result", e->result);
    if (e->error) print_field("error", e->error);
}

static int show_exec(const cli_global *g, tasker_t *t, const tasker_task_exec *e)
{
    tasker_task_event *evs = NULL;
    size_t n = 0;
    int err = tasker_list_events(t, e->exec_id, &evs, &n);
    if (err != TASKER_OK) return cli_lib_error(err, "exec show");
    int rc = CLI_OK;
    if (g->json) {
        json_t *o = json_exec(e), *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_event(&evs[i]));
        json_object_set_new(o, "events", arr);
        rc = out_json(o);
    } else {
        print_exec_record(e);
        printf("\n%sevents (%zu)%s\n", out_colour_on(CLR_BOLD), n, out_colour_off(CLR_BOLD));
        for (size_t i = 0; i < n; i++)
            print_event(stdout, &evs[i]);
    }
    tasker_free_events(evs, n);
    return rc;
}

static int exec_show(cli_global *g, int argc, char **argv)
{
    static const struct option options[] = {CLI_GLOBAL_OPTIONS, {0}};
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1)
        if (!cli_global_option(g, c, optarg)) return cli_bad_option("exec show", c, argv);
    if (g->help) return cli_help(exec_help);
    if (optind != argc - 1)
        return cli_usage_error("exec show", "exec show: expected one execution ID");
    tasker_t *t = cli_open(g, -1);
    if (!t) return CLI_FAIL;
    tasker_task_exec e = {0};
    int rc, err = find_exec(t, argv[optind], &e);
    if (err == TASKER_EEXISTS)
        rc = CLI_FAIL; /* ambiguous; said so */
    else if (err != TASKER_OK)
        rc = cli_lib_error(err, "exec show");
    else
        rc = show_exec(g, t, &e);
    tasker_exec_clear(&e);
    tasker_close(t);
    return rc;
}

int cmd_exec(cli_global *g, int argc, char **argv)
{
    const char *sub = cli_take_subcommand(&argc, argv);
    if (!sub) {
        if (g->help || cli_wants_help(argc, argv)) return cli_help(exec_help);
        return cli_usage_error("exec", "exec: expected ls or show");
    }
    if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0) return exec_ls(g, argc, argv);
    if (strcmp(sub, "show") == 0) return exec_show(g, argc, argv);
    return cli_usage_error("exec", "exec: no subcommand '%s'; expected ls or show", sub);
}
