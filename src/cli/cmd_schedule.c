/* `tasker schedule add|ls|rm`: cron schedules of tasks, listed with their next fire. */
#include "cli/cli.h"
#include "cli/output.h"
#include "cli/wakeup.h"

#include <tasker/cron.h>

#include <stdlib.h>
#include <string.h>

static const char schedule_help[] =
    "usage: tasker schedule add TASK CRON [--replace] [--misfire once|skip|all]\n"
    "                           [--overlap allow|forbid]\n"
    "       tasker schedule ls [--json]\n"
    "       tasker schedule rm ID...\n"
    "       tasker schedule rm TASK CRON\n"
    "       tasker schedule pause|resume ID\n"
    "\n"
    "CRON has 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds\n"
    "first), or a descriptor: @hourly, @daily, @every 90s, ... It may begin with\n"
    "CRON_TZ=Area/City. Quote it. Check one with `tasker cron EXPR`; an expression\n"
    "that never fires (0 0 30 2 *) is refused.\n"
    "Adding the same TASK and CRON twice keeps one schedule (and updates its policies).\n"
    "rm takes schedule ids or any unique prefix of one, or a task and the text of one\n"
    "of its expressions (when the first argument names a task). pause stops a\n"
    "schedule's fires (ID or a unique prefix; ls shows NEXT FIRE \"paused\"); resume\n"
    "fires from now on, with no catch-up of the fires missed meanwhile.\n"
    "\n"
    "Options:\n"
    "  --replace     add: change the task's schedule to CRON instead of adding one;\n"
    "                the new schedule keeps the old one's policies unless given, and\n"
    "                gets a new id. Refused when the task has several schedules\n"
    "                (remove the one to change); with none, CRON is added\n"
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

int64_t cli_next_fire_us(const tasker_task_scheme *s)
{
    int64_t next_us = 0;
    return tasker_scheme_next_us(s, now_us(), &next_us) == TASKER_OK ? next_us : 0;
}

typedef struct add_opts {
    tasker_schedule_opts so;
    bool misfire_set, overlap_set; /* given on the command line */
    bool replace;
} add_opts;

static int parse_add_options(cli_global *g, int argc, char **argv, add_opts *o)
{
    static const struct option options[] = {{"misfire", required_argument, NULL, 'm'},
                                            {"overlap", required_argument, NULL, 'o'},
                                            {"replace", no_argument, NULL, 'r'},
                                            CLI_GLOBAL_OPTIONS,
                                            {0}};
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        if (cli_global_option(g, c, optarg)) continue;
        if (c == 'r') {
            o->replace = true;
            continue;
        }
        if (c == 'm' && (o->misfire_set = parse_misfire(optarg, &o->so.misfire))) continue;
        if (c == 'o' && (o->overlap_set = parse_overlap(optarg, &o->so.overlap))) continue;
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
static int report_added(const cli_global *g, tasker_t *t, const char *id,
                        const tasker_task_scheme *replaced)
{
    tasker_task_scheme *v = NULL;
    size_t n = 0;
    int rc = CLI_OK, err = tasker_list_schemes(t, &v, &n);
    if (err != TASKER_OK) return cli_lib_error(err, "schedule add");
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].scheme_id, id) != 0) continue;
        int64_t next_us = cli_next_fire_us(&v[i]);
        char next[FMT_TIME_SIZE];
        fmt_local_time_zone(next_us, next);
        if (g->json)
            rc = out_json(json_scheme(&v[i], next_us));
        else
            printf("%s\n", id);
        fprintf(stderr, "schedule %s: task %s at '%s'; next fire %s\n", id, v[i].task_id, v[i].cron,
                next_us ? next : "never");
        if (replaced && strcmp(replaced->scheme_id, id) != 0)
            fprintf(stderr, "schedule %s ('%s') removed: replaced\n", replaced->scheme_id,
                    replaced->cron);
    }
    tasker_free_schemes(v, n);
    return rc;
}

/* For --replace: finds task_id's only schedule (*found false when it has none). Prints
 * why and returns an exit code when it has several; else -1. */
static int find_replaced(tasker_t *t, const char *task_id, tasker_task_scheme *out, bool *found)
{
    tasker_task_scheme *v = NULL;
    size_t n = 0, matches = 0, at = 0;
    int err = tasker_list_schemes(t, &v, &n);
    if (err != TASKER_OK) return cli_lib_error(err, "schedule add");
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].task_id, task_id) == 0) matches++, at = i;
    int rc = -1;
    *found = matches == 1;
    if (matches == 1) {
        *out = v[at];
        memset(&v[at], 0, sizeof v[at]);
    } else if (matches > 1) {
        cli_errorf("schedule add: --replace: task '%s' has %zu schedules; remove the one to "
                   "change (tasker schedule rm ID), then add the new one:",
                   task_id, matches);
        for (size_t i = 0; i < n; i++)
            if (strcmp(v[i].task_id, task_id) == 0)
                fprintf(stderr, "  %s  %s\n", v[i].scheme_id, v[i].cron);
        rc = CLI_FAIL;
    }
    tasker_free_schemes(v, n);
    return rc;
}

/* Adds the schedule (replacing the task's only one with --replace) and reports it. */
static int add_schedule(const cli_global *g, tasker_t *t, const char *task_id, const char *cron,
                        add_opts *o)
{
    tasker_task_scheme old = {0};
    bool replacing = false;
    int rc = o->replace ? find_replaced(t, task_id, &old, &replacing) : -1;
    if (rc >= 0) return rc;
    if (replacing) { /* what was not given carries over */
        if (!o->misfire_set) o->so.misfire = old.misfire;
        if (!o->overlap_set) o->so.overlap = old.overlap;
    }
    char id[TASKER_ID_SIZE];
    /* The new one first: if it cannot be added, the old one still runs. */
    int err = tasker_add_task_schedule_opts(t, task_id, cron, &o->so, id);
    if (err == TASKER_OK && replacing && strcmp(old.scheme_id, id) != 0)
        err = tasker_remove_task_schedule(t, old.scheme_id);
    if (err != TASKER_OK)
        rc = cli_lib_error(err, "schedule add");
    else
        rc = report_added(g, t, id, replacing ? &old : NULL);
    wakeup_send(g->dsn); /* a running daemon reloads its schedules when woken */
    tasker_scheme_clear(&old);
    return rc;
}

static int schedule_add(cli_global *g, int argc, char **argv)
{
    add_opts o = {0};
    int rc = parse_add_options(g, argc, argv, &o);
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
    /* Parse first: the cron engine's message says which field is wrong and why; and
     * refuse what never fires, as `tasker cron` does. */
    if ((rc = cli_parse_cron(cron, task_id, &expr)) != CLI_OK) goto out;
    rc = CLI_FAIL;
    if (!(t = cli_open(g, -1))) goto out;
    rc = add_schedule(g, t, task_id, cron, &o);
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
            json_append(&arr, json_scheme(&s[i], cli_next_fire_us(&s[i])));
        return out_json(arr);
    }
    static const char *const headers[] = {"SCHEDULE",  "TASK",    "CRON",   "NEXT FIRE",
                                          "LAST FIRE", "MISFIRE", "OVERLAP"};
    out_table *tb = table_new(7, headers);
    if (!tb) return CLI_FAIL;
    for (size_t i = 0; i < n; i++) {
        char next[FMT_TIME_SIZE], last[FMT_TIME_SIZE];
        int64_t next_us = cli_next_fire_us(&s[i]);
        fmt_local_time(next_us, next);
        if (!next_us) strcpy(next, "never");
        if (s[i].paused) strcpy(next, "paused");
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

/* Copies text with runs of blanks as one space and none at the ends, so that
 * `schedule rm job 0 3 * * *` finds the schedule added as "0  3 * * *". */
static void squeeze_blanks(const char *text, char *out)
{
    char *o = out;
    for (const char *p = text; *p; p++) {
        if (*p == ' ' || *p == '\t') {
            if (o != out && o[-1] != ' ') *o++ = ' ';
        } else {
            *o++ = *p;
        }
    }
    if (o != out && o[-1] == ' ') o--;
    *o = '\0';
}

static bool same_expression(const char *a, const char *b)
{
    size_t len_a = strlen(a), len_b = strlen(b);
    char *sa = malloc(len_a + 1), *sb = malloc(len_b + 1);
    bool same = false;
    if (sa && sb) {
        squeeze_blanks(a, sa);
        squeeze_blanks(b, sb);
        same = strcmp(sa, sb) == 0;
    }
    free(sa);
    free(sb);
    return same;
}

static bool task_exists(tasker_t *t, const char *task_id)
{
    tasker_task *v = NULL;
    size_t n = 0;
    bool found = false;
    if (tasker_list_tasks(t, &v, &n) == TASKER_OK)
        for (size_t i = 0; i < n && !found; i++)
            found = strcmp(v[i].task_id, task_id) == 0;
    tasker_free_tasks(v, n);
    return found;
}

/* schedule rm TASK CRON: the task's schedule with that expression (as written, blanks
 * aside); when there is none, says which the task has. */
static int remove_by_expression(tasker_t *t, const char *task_id, const char *cron)
{
    tasker_task_scheme *v = NULL;
    size_t n = 0, at = 0, matches = 0, of_task = 0;
    int err = tasker_list_schemes(t, &v, &n);
    if (err != TASKER_OK) return cli_lib_error(err, "schedule rm");
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].task_id, task_id) != 0) continue;
        of_task++;
        if (same_expression(v[i].cron, cron)) matches++, at = i;
    }
    int rc = CLI_FAIL;
    if (matches == 1) {
        if ((err = tasker_remove_task_schedule(t, v[at].scheme_id)) == TASKER_OK) {
            fprintf(stderr, "schedule %s ('%s') removed\n", v[at].scheme_id, v[at].cron);
            rc = CLI_OK;
        } else {
            rc = cli_lib_error(err, "schedule rm");
        }
    } else {
        cli_errorf("schedule rm: task '%s' has no schedule '%s'%s", task_id, cron,
                   of_task ? "; its schedules:" : " (it has none)");
        for (size_t i = 0; i < n; i++)
            if (strcmp(v[i].task_id, task_id) == 0)
                fprintf(stderr, "  %s  %s\n", v[i].scheme_id, v[i].cron);
    }
    tasker_free_schemes(v, n);
    return rc;
}

/* schedule rm ID...: each by its id or a unique prefix of it. */
static int remove_by_ids(tasker_t *t, int argc, char **argv)
{
    int rc = CLI_OK;
    for (int i = optind; i < argc; i++) {
        tasker_task_scheme s;
        int one = cli_find_scheme(t, "schedule rm", argv[i], &s);
        if (one == CLI_OK) {
            int err = tasker_remove_task_schedule(t, s.scheme_id);
            if (err != TASKER_OK)
                one = cli_lib_error(err, "schedule rm");
            else if (strcmp(s.scheme_id, argv[i]) != 0) /* say which a prefix meant */
                fprintf(stderr, "schedule %s ('%s', task %s) removed\n", s.scheme_id, s.cron,
                        s.task_id);
        }
        if (one != CLI_OK) rc = one;
        tasker_scheme_clear(&s);
    }
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
    int rc;
    if (argc - optind >= 2 && task_exists(t, argv[optind])) {
        char *cron = cli_join_args(argc, argv, optind + 1);
        rc = cron ? remove_by_expression(t, argv[optind], cron) : CLI_FAIL;
        free(cron);
    } else {
        rc = remove_by_ids(t, argc, argv);
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
        return cli_usage_error("schedule", "schedule: expected add, ls, rm, pause or resume");
    }
    if (strcmp(sub, "add") == 0) return schedule_add(g, argc, argv);
    if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0) return schedule_ls(g, argc, argv);
    if (strcmp(sub, "rm") == 0 || strcmp(sub, "remove") == 0) return schedule_rm(g, argc, argv);
    if (strcmp(sub, "pause") == 0 || strcmp(sub, "resume") == 0)
        return cli_pause_cmd(g, argc, argv, "schedule", sub[0] == 'p', schedule_help);
    return cli_usage_error("schedule",
                           "schedule: no subcommand '%s'; expected add, ls, rm, "
                           "pause or resume",
                           sub);
}
