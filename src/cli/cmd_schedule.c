/* `tasker schedule add|ls|rm`: cron schedules of tasks, listed with their next fire. */
#include "cli/cli.h"
#include "cli/output.h"
#include "cli/wakeup.h"

#include <tasker/cron.h>

#include <stdlib.h>
#include <string.h>

static const char schedule_help[] =
    "usage: tasker schedule add TASK CRON [--misfire once|skip|all] [--overlap allow|forbid]\n"
    "       tasker schedule ls [--json]\n"
    "       tasker schedule rm ID...\n"
    "\n"
    "CRON has 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds\n"
    "first), or a descriptor: @hourly, @daily, @every 90s, ... It may begin with\n"
    "CRON_TZ=Area/City. Quote it. Check one with `tasker cron EXPR`.\n"
    "Adding the same TASK and CRON twice keeps one schedule (and updates its policies).\n"
    "\n"
    "Options:\n"
    "  --misfire P   fires missed while no daemon ran: once (one catch-up run, the\n"
    "                default), skip (none; recorded as skipped), all (each one)\n"
    "  --overlap P   a fire while the previous run still runs: allow (default) or\n"
    "                forbid (recorded as skipped)\n"
    "  --json        ls: print JSON\n";

static bool parse_misfire(const char *s, tasker_misfire *out)
{
    for (int m = TASKER_MISFIRE_ONCE; m <= TASKER_MISFIRE_ALL; m++)
        if (strcmp(s, tasker_misfire_name((tasker_misfire)m)) == 0) {
            *out = (tasker_misfire)m;
            return true;
        }
    return false;
}

static bool parse_overlap(const char *s, tasker_overlap *out)
{
    for (int o = TASKER_OVERLAP_ALLOW; o <= TASKER_OVERLAP_FORBID; o++)
        if (strcmp(s, tasker_overlap_name((tasker_overlap)o)) == 0) {
            *out = (tasker_overlap)o;
            return true;
        }
    return false;
}

/* The schedule's next fire after now: @every counts from the schedule's creation.
 * 0 when the expression never fires again (or no longer parses). */
static int64_t next_fire_us(const char *cron, int64_t created_us)
{
    tasker_cron *expr = NULL;
    int64_t next = 0;
    if (tasker_cron_parse(cron, &expr) != TASKER_OK) return 0;
    tasker_cron_set_anchor(expr, created_us);
    if (tasker_cron_next(expr, now_us(), &next) != TASKER_OK) next = 0;
    tasker_cron_free(expr);
    return next;
}

static int parse_add_options(cli_global *g, int argc, char **argv, tasker_schedule_opts *so)
{
    static const struct option options[] = {{"misfire", required_argument, NULL, 'm'},
                                            {"overlap", required_argument, NULL, 'o'},
                                            CLI_GLOBAL_OPTIONS,
                                            {0}};
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        if (cli_global_option(g, c, optarg)) continue;
        if (c == 'm' && parse_misfire(optarg, &so->misfire)) continue;
        if (c == 'o' && parse_overlap(optarg, &so->overlap)) continue;
        if (c == 'm')
            return cli_usage_error(
                "schedule add", "schedule add: --misfire '%s': expected once, skip or all", optarg);
        if (c == 'o')
            return cli_usage_error(
                "schedule add", "schedule add: --overlap '%s': expected allow or forbid", optarg);
        return cli_bad_option("schedule add", c, argv);
    }
    return -1;
}

/* Reports the schedule just added: its id on stdout (or JSON), its next fire on
 * stderr. The stored record gives the creation time @every counts from. */
static int report_added(const cli_global *g, tasker_t *t, const char *id)
{
    tasker_task_scheme *v = NULL;
    size_t n = 0;
    int rc = CLI_OK, err = tasker_list_schemes(t, &v, &n);
    if (err != TASKER_OK) return cli_lib_error(err, "schedule add");
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].scheme_id, id) != 0) continue;
        int64_t next_us = next_fire_us(v[i].cron, v[i].created_us);
        char next[FMT_TIME_SIZE];
        fmt_local_time_zone(next_us, next);
        if (g->json)
            rc = out_json(json_scheme(&v[i], next_us));
        else
            printf("%s\n", id);
        fprintf(stderr, "schedule %s: task %s at '%s'; next fire %s\n", id, v[i].task_id, v[i].cron,
                next_us ? next : "never");
    }
    tasker_free_schemes(v, n);
    return rc;
}

static int schedule_add(cli_global *g, int argc, char **argv)
{
    tasker_schedule_opts so = {0};
    int rc = parse_add_options(g, argc, argv, &so);
    if (rc >= 0) return rc;
    if (g->help) return cli_help(schedule_help);
    if (argc - optind < 2)
        return cli_usage_error("schedule add", "schedule add: expected TASK and CRON");
    const char *task_id = argv[optind];
    /* An unquoted expression arrives as several words; take them all. */
    char *cron = cli_join_args(argc, argv, optind + 1);
    tasker_cron *expr = NULL;
    tasker_t *t = NULL;
    rc = CLI_FAIL;
    if (!cron) goto out;
    /* Parse first: the cron engine's message says which field is wrong and why. */
    int err = tasker_cron_parse(cron, &expr);
    if (err != TASKER_OK) {
        rc = cli_lib_error(err, "schedule add");
        goto out;
    }
    if (!(t = cli_open(g, -1))) goto out;
    char id[TASKER_ID_SIZE];
    if ((err = tasker_add_task_schedule_opts(t, task_id, cron, &so, id)) != TASKER_OK) {
        rc = cli_lib_error(err, "schedule add");
        goto out;
    }
    wakeup_send(g->dsn); /* a running daemon reloads its schedules when woken */
    rc = report_added(g, t, id);
out:
    tasker_close(t);
    tasker_cron_free(expr);
    free(cron);
    return rc;
}

static int print_schemes(const cli_global *g, tasker_task_scheme *s, size_t n)
{
    if (g->json) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n; i++)
            json_array_append_new(arr,
                                  json_scheme(&s[i], next_fire_us(s[i].cron, s[i].created_us)));
        return out_json(arr);
    }
    static const char *const headers[] = {"SCHEDULE",  "TASK",    "CRON",   "NEXT FIRE",
                                          "LAST FIRE", "MISFIRE", "OVERLAP"};
    out_table *tb = table_new(7, headers);
    if (!tb) return CLI_FAIL;
    for (size_t i = 0; i < n; i++) {
        char next[FMT_TIME_SIZE], last[FMT_TIME_SIZE];
        int64_t next_us = next_fire_us(s[i].cron, s[i].created_us);
        fmt_local_time(next_us, next);
        if (!next_us) strcpy(next, "never");
        fmt_local_time(s[i].last_fire_us, last);
        const char *cells[] = {s[i].scheme_id,
                               s[i].task_id,
                               s[i].cron,
                               next,
                               last,
                               tasker_misfire_name(s[i].misfire),
                               tasker_overlap_name(s[i].overlap)};
        table_add_row(tb, cells, NULL);
    }
    table_print(tb, stdout);
    table_free(tb);
    return CLI_OK;
}

static int schedule_ls(cli_global *g, int argc, char **argv)
{
    static const struct option options[] = {CLI_GLOBAL_OPTIONS, {0}};
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1)
        if (!cli_global_option(g, c, optarg)) return cli_bad_option("schedule ls", c, argv);
    if (g->help) return cli_help(schedule_help);
    if (optind != argc)
        return cli_usage_error("schedule ls", "schedule ls: unexpected argument '%s'",
                               argv[optind]);
    tasker_t *t = cli_open(g, -1);
    if (!t) return CLI_FAIL;
    tasker_task_scheme *s = NULL;
    size_t n = 0;
    int err = tasker_list_schemes(t, &s, &n);
    int rc = err == TASKER_OK ? print_schemes(g, s, n) : cli_lib_error(err, "schedule ls");
    tasker_free_schemes(s, n);
    tasker_close(t);
    return rc;
}

static int schedule_rm(cli_global *g, int argc, char **argv)
{
    static const struct option options[] = {CLI_GLOBAL_OPTIONS, {0}};
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1)
        if (!cli_global_option(g, c, optarg)) return cli_bad_option("schedule rm", c, argv);
    if (g->help) return cli_help(schedule_help);
    if (optind >= argc)
        return cli_usage_error("schedule rm", "schedule rm: expected a schedule ID");
    tasker_t *t = cli_open(g, -1);
    if (!t) return CLI_FAIL;
    int rc = CLI_OK;
    for (int i = optind; i < argc; i++) {
        int err = tasker_remove_task_schedule(t, argv[i]);
        if (err != TASKER_OK) rc = cli_lib_error(err, "schedule rm");
    }
    wakeup_send(g->dsn); /* a running daemon reloads its schedules when woken */
    tasker_close(t);
    return rc;
}

int cmd_schedule(cli_global *g, int argc, char **argv)
{
    const char *sub = cli_take_subcommand(&argc, argv);
    if (!sub) {
        if (g->help || cli_wants_help(argc, argv)) return cli_help(schedule_help);
        return cli_usage_error("schedule", "schedule: expected add, ls or rm");
    }
    if (strcmp(sub, "add") == 0) return schedule_add(g, argc, argv);
    if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0) return schedule_ls(g, argc, argv);
    if (strcmp(sub, "rm") == 0 || strcmp(sub, "remove") == 0) return schedule_rm(g, argc, argv);
    return cli_usage_error("schedule", "schedule: no subcommand '%s'; expected add, ls or rm", sub);
}
