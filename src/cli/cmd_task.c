/* `tasker task add|ls|rm`: defining tasks. */
#include "cli/cli.h"
#include "cli/output.h"
#include "cli/wakeup.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const char task_help[] =
    "usage: tasker task add ID --handler H [--param JSON] [--desc TEXT] [--keep N]\n"
    "                          [--keep-for DURATION]\n"
    "       tasker task ls [--json]\n"
    "       tasker task rm ID\n"
    "\n"
    "A task is a handler and its JSON params. The daemon has one built-in handler,\n"
    "'shell', whose params are {\"cmd\": \"...\", \"timeout\": SECONDS, \"env\": {...},\n"
    "\"cwd\": \"...\"}. Adding a task with an existing ID replaces it (its schedules\n"
    "and history stay). Removing a task removes its schedules.\n"
    "\n"
    "Options:\n"
    "  --handler H    the handler's name (add; required)\n"
    "  --param JSON   the params, any JSON value (add; default null)\n"
    "  --desc TEXT    a description (add)\n"
    "  --keep N       keep this task's newest N runs (add; default: the store's\n"
    "                 100 per task; 'all' = no limit)\n"
    "  --keep-for DURATION\n"
    "                 keep this task's runs this long, e.g. 90s, 30m, 12h, 7d, 2w, 1d12h\n"
    "                 (add; default: the store's 1h; 'forever' = no limit). Runs\n"
    "                 still pending or running are never pruned.\n"
    "  --json         ls: print JSON\n";

/* Checks JSON here rather than in the library so the message can say where it broke. */
static int check_json(const char *what, const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
    if (v) {
        json_decref(v);
        return CLI_OK;
    }
    cli_errorf("%s: invalid JSON at line %d, column %d: %s", what, err.line, err.column, err.text);
    return CLI_USAGE;
}

/* --keep N: a count of runs >= 1, or "all" (-1: no limit). */
static bool parse_keep(const char *text, int *out)
{
    if (strcmp(text, "all") == 0) {
        *out = -1;
        return true;
    }
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < 1 || v > INT_MAX) return false;
    *out = (int)v;
    return true;
}

/* --keep-for DURATION: one or more NUMBER UNIT groups (s, m, h, d, w; "1d12h"), a bare
 * number of seconds, or "forever" (-1: no limit). Private here: the command has no
 * shared duration parser yet. */
static bool parse_keep_for(const char *text, int64_t *out)
{
    if (strcmp(text, "forever") == 0) {
        *out = -1;
        return true;
    }
    static const struct {
        char unit;
        int64_t s;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}};
    int64_t total = 0;
    const char *p = text;
    if (!*p) return false;
    while (*p) {
        if (*p < '0' || *p > '9') return false;
        int64_t n = 0;
        while (*p >= '0' && *p <= '9')
            if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, *p++ - '0', &n))
                return false;
        int64_t unit_s = 0;
        for (size_t i = 0; i < sizeof units / sizeof *units; i++)
            if (*p == units[i].unit) unit_s = units[i].s;
        if (!unit_s && *p) return false;
        if (!unit_s) unit_s = 1; /* a bare number at the end: seconds */
        else p++;
        if (__builtin_mul_overflow(n, unit_s, &n) || __builtin_add_overflow(total, n, &total))
            return false;
    }
    if (total < 1) return false;
    *out = total;
    return true;
}

static int task_add(cli_global *g, int argc, char **argv)
{
    static const struct option options[] = {{"handler", required_argument, NULL, 'H'},
                                            {"param", required_argument, NULL, 'p'},
                                            {"desc", required_argument, NULL, 'd'},
                                            {"keep", required_argument, NULL, 'k'},
                                            {"keep-for", required_argument, NULL, 'K'},
                                            CLI_GLOBAL_OPTIONS,
                                            {0}};
    const char *handler = NULL, *param = NULL, *desc = NULL;
    tasker_task_opts opts = {0};
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        if (cli_global_option(g, c, optarg)) continue;
        if (c == 'H')
            handler = optarg;
        else if (c == 'p')
            param = optarg;
        else if (c == 'd')
            desc = optarg;
        else if (c == 'k' && !parse_keep(optarg, &opts.max_execs))
            return cli_usage_error("task add", "task add: --keep: '%s' is not a number of runs "
                                   "(1 or more) or 'all'", optarg);
        else if (c == 'K' && !parse_keep_for(optarg, &opts.max_exec_age_s))
            return cli_usage_error("task add", "task add: --keep-for: '%s' is not a duration "
                                   "(e.g. 90s, 30m, 12h, 7d, 2w, 1d12h) or 'forever'", optarg);
        else if (c != 'k' && c != 'K')
            return cli_bad_option("task add", c, argv);
    }
    if (g->help) return cli_help(task_help);
    if (optind != argc - 1)
        return cli_usage_error("task add", "task add: expected one task ID, got %d arguments",
                               argc - optind);
    if (!handler) return cli_usage_error("task add", "task add: --handler is required");
    if (param && check_json("task add: --param", param) != CLI_OK) return CLI_USAGE;

    tasker_t *t = cli_open(g, -1);
    if (!t) return CLI_FAIL;
    int rc = CLI_OK;
    opts.desc = desc;
    int err = tasker_add_task_opts(t, argv[optind], handler, param, &opts);
    if (err != TASKER_OK) rc = cli_lib_error(err, "task add");
    tasker_close(t);
    return rc;
}

static int print_tasks(const cli_global *g, tasker_task *tasks, size_t n)
{
    if (g->json) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n; i++)
            json_array_append_new(arr, json_task(&tasks[i]));
        return out_json(arr);
    }
    static const char *const headers[] = {"TASK", "HANDLER", "PARAM", "DESC"};
    out_table *tb = table_new(4, headers);
    if (!tb) return CLI_FAIL;
    table_set_max_width(tb, 2, 60);
    table_set_max_width(tb, 3, 40);
    for (size_t i = 0; i < n; i++) {
        const char *cells[] = {tasks[i].task_id, tasks[i].handler, tasks[i].param,
                               tasks[i].desc ? tasks[i].desc : ""};
        table_add_row(tb, cells, NULL);
    }
    table_print(tb, stdout);
    table_free(tb);
    return CLI_OK;
}

static int task_ls(cli_global *g, int argc, char **argv)
{
    static const struct option options[] = {CLI_GLOBAL_OPTIONS, {0}};
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1)
        if (!cli_global_option(g, c, optarg)) return cli_bad_option("task ls", c, argv);
    if (g->help) return cli_help(task_help);
    if (optind != argc)
        return cli_usage_error("task ls", "task ls: unexpected argument '%s'", argv[optind]);

    tasker_t *t = cli_open(g, -1);
    if (!t) return CLI_FAIL;
    tasker_task *tasks = NULL;
    size_t n = 0;
    int rc, err = tasker_list_tasks(t, &tasks, &n);
    rc = err == TASKER_OK ? print_tasks(g, tasks, n) : cli_lib_error(err, "task ls");
    tasker_free_tasks(tasks, n);
    tasker_close(t);
    return rc;
}

static int task_rm(cli_global *g, int argc, char **argv)
{
    static const struct option options[] = {CLI_GLOBAL_OPTIONS, {0}};
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1)
        if (!cli_global_option(g, c, optarg)) return cli_bad_option("task rm", c, argv);
    if (g->help) return cli_help(task_help);
    if (optind >= argc) return cli_usage_error("task rm", "task rm: expected a task ID");

    tasker_t *t = cli_open(g, -1);
    if (!t) return CLI_FAIL;
    int rc = CLI_OK;
    for (int i = optind; i < argc; i++) {
        int err = tasker_remove_task(t, argv[i]);
        if (err != TASKER_OK) rc = cli_lib_error(err, "task rm");
    }
    wakeup_send(g->dsn); /* its schedules went with it: a running daemon reloads */
    tasker_close(t);
    return rc;
}

int cmd_task(cli_global *g, int argc, char **argv)
{
    const char *sub = cli_take_subcommand(&argc, argv);
    if (!sub) {
        if (g->help || cli_wants_help(argc, argv)) return cli_help(task_help);
        return cli_usage_error("task", "task: expected add, ls or rm");
    }
    if (strcmp(sub, "add") == 0) return task_add(g, argc, argv);
    if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0) return task_ls(g, argc, argv);
    if (strcmp(sub, "rm") == 0 || strcmp(sub, "remove") == 0) return task_rm(g, argc, argv);
    return cli_usage_error("task", "task: no subcommand '%s'; expected add, ls or rm", sub);
}
