/* `tasker task add|ls|show|rm`: defining tasks, checked as far as this command can
 * (the params of its own handler, `shell`), and one task's whole picture. */
#include "cli/alert.h"
#include "cli/cli.h"
#include "cli/output.h"
#include "cli/wakeup.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const char task_help[] =
    "usage: tasker task add ID --handler H [--param JSON|@FILE|-] [--desc TEXT]\n"
    "                           [--on-failure CMD] [--keep N] [--keep-for DURATION]\n"
    "                           [--retries N] [--backoff D] [--backoff-max D]\n"
    "                           [--timeout D] [--concurrency N] [--priority N]\n"
    "       tasker task ls [--json]\n"
    "       tasker task show ID [--runs N] [--json]\n"
    "       tasker task pause|resume ID\n"
    "       tasker task rm ID\n"
    "\n"
    "A task is a handler and its JSON params. The daemon has one built-in handler,\n"
    "'shell', whose params are {\"cmd\": \"...\", \"timeout\": SECONDS, \"env\": {...},\n"
    "\"cwd\": \"...\"}; add checks them (exit 1 naming the field at fault) and warns\n"
    "about any other handler, which only a program of yours can run. Adding a task\n"
    "with an existing ID replaces it (its schedules and history stay). show prints the\n"
    "task, its schedules with their next fire, and its last runs. Removing a task\n"
    "removes its schedules. pause stops new runs of the task from starting anywhere\n"
    "(triggers and fires still queue up); resume lets them run.\n"
    "\n"
    "Options:\n"
    "  --handler H    the handler's name (add; required)\n"
    "  --param P      the params, any JSON value (add; default null): the JSON text,\n"
    "                 or @FILE to read it from FILE, or - to read it from stdin (up\n"
    "                 to the 1 MiB limit, beyond what a command line holds)\n"
    "  --desc TEXT    a description (add)\n"
    "  --on-failure CMD  (add) a command the daemon runs with /bin/sh -c when a run\n"
    "                 of the task fails or is interrupted; stored in the params as\n"
    "                 \"on_failure\" (see tasker run --on-failure for its environment)\n"
    "  --keep N       keep this task's newest N runs (add; default: the store's\n"
    "                 100 per task; 'all' = no limit)\n"
    "  --keep-for DURATION\n"
    "                 keep this task's runs this long, e.g. 90s, 30m, 12h, 7d, 2w, 1d12h\n"
    "                 (add; default: the store's 1h; 'forever' = no limit). Runs\n"
    "                 still pending or running are never pruned.\n"
    "  --retries N    (add) a failed, interrupted or timed-out run is tried again, up\n"
    "                 to N more times (default 0; docs/lifecycle.md)\n"
    "  --backoff D    (add) the delay before the first retry (default 1s), doubled\n"
    "                 for each next one, times 0.9 to 1.1; D is 500ms, 30s, 10m...\n"
    "  --backoff-max D  (add) the longest delay between attempts (default 1h)\n"
    "  --timeout D    (add) a run still going after D is cancelled and recorded\n"
    "                 failed, \"timed out\" (a C handler must check tasker_cancelled)\n"
    "  --concurrency N  (add) at most N runs of the task at once, cluster-wide\n"
    "  --priority N   (add) higher runs first among pending runs (default 0)\n"
    "  --runs N       show: the last N runs (default 5; 0 = none)\n"
    "  --json         ls, show: print JSON\n";

/* The handlers `tasker run` and `trigger --local` have; any other needs a program
 * that registers it. */
static const char *const known_handlers[] = {"shell"};

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* What the shell handler (src/cli/shell.c) will bind at run time, checked now:
 * CLI_OK, or CLI_FAIL after a message naming the field. Unknown fields only warn. */
static int check_shell_params(const json_t *p)
{
    if (!json_is_object(p)) {
        cli_errorf("task add: --param: the shell handler needs an object such as "
                   "{\"cmd\": \"echo hi\"}, not %s",
                   json_kind(p));
        return CLI_FAIL;
    }
    const json_t *cmd = json_object_get(p, "cmd"), *timeout = json_object_get(p, "timeout");
    const json_t *env = json_object_get(p, "env"), *cwd = json_object_get(p, "cwd");
    const char *bad = NULL, *want = NULL;
    if (!cmd)
        bad = "cmd", want = "missing (the command line to run)";
    else if (!json_is_string(cmd))
        bad = "cmd", want = "expected a string (the command line)";
    else if (timeout && (!json_is_number(timeout) || json_number_value(timeout) < 0))
        bad = "timeout", want = "expected a number of seconds, 0 or more";
    else if (env && !json_is_null(env) && !json_is_object(env))
        bad = "env", want = "expected an object of NAME: value";
    else if (cwd && !json_is_string(cwd))
        bad = "cwd", want = "expected a string (a directory)";
    if (bad) {
        const json_t *v = json_object_get(p, bad);
        char got[64] = "";
        if (v && json_is_number(v))
            snprintf(got, sizeof got, ", got %g", json_number_value(v));
        else if (v)
            snprintf(got, sizeof got, ", got %s", json_kind(v));
        cli_errorf("task add: --param: shell: field '%s': %s%s", bad, want, got);
        return CLI_FAIL;
    }
    const char *name;
    const json_t *v;
    if (json_is_object(env)) {
        json_object_foreach((json_t *)env, name, v)
        {
            if (!json_is_object(v) && !json_is_array(v)) continue;
            cli_errorf("task add: --param: shell: field 'env.%s': expected a string, a "
                       "number, a boolean or null (unset), got %s",
                       name, json_kind(v));
            return CLI_FAIL;
        }
    }
    json_object_foreach((json_t *)p, name, v)
    {
        bool known = !strcmp(name, "cmd") || !strcmp(name, "timeout") || !strcmp(name, "env") ||
                     !strcmp(name, "cwd") || !strcmp(name, "on_failure");
        if (!known)
            cli_errorf("warning: task add: shell: field '%s' is not one the shell handler "
                       "reads (cmd, timeout, env, cwd, on_failure)",
                       name);
    }
    return CLI_OK;
}

/* Checks JSON and, for a handler this command knows, its params; warns about a
 * handler it does not know. CLI_OK, or the exit code after saying why. JSON is
 * checked here rather than left to the library so the message can say where it broke. */
static int check_task(const char *handler, const char *param)
{
    json_error_t jerr;
    json_t *v = json_loads(param ? param : "null", JSON_DECODE_ANY, &jerr);
    if (!v) {
        cli_errorf("task add: --param: invalid JSON at line %d, column %d: %s", jerr.line,
                   jerr.column, jerr.text);
        return CLI_USAGE;
    }
    int rc = CLI_OK;
    size_t known = 0;
    while (known < sizeof known_handlers / sizeof *known_handlers &&
           strcmp(known_handlers[known], handler) != 0)
        known++;
    if (strcmp(handler, "shell") == 0)
        rc = check_shell_params(v);
    else if (known == sizeof known_handlers / sizeof *known_handlers)
        cli_errorf("warning: task add: handler '%s' is not one this command knows (shell); "
                   "only a program that registers '%s' (tasker_register) can run this task",
                   handler, handler);
    json_decref(v);
    return rc;
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
 * number of seconds (cli_parse_duration_s), or "forever" (-1: no limit). */
static bool parse_keep_for(const char *text, int64_t *out)
{
    if (strcmp(text, "forever") == 0) {
        *out = -1;
        return true;
    }
    return cli_parse_duration_s(text, out) && *out > 0;
}

/* The lifecycle policies of task add (design section 6): -1, or the exit code after
 * saying which value is wrong. */
static int parse_policy(int c, const char *arg, tasker_task_opts *o)
{
    long n;
    int64_t ms;
    switch (c) {
    case 'r':
        /* N retries after the first attempt: max_attempts counts them all. */
        if (!cli_parse_int(arg, 0, 1000, &n)) break;
        o->max_attempts = (int)n + 1;
        return -1;
    case 'b':
    case 'B':
    case 't':
        if (!cli_parse_duration_ms(arg, &ms) || ms <= 0) break;
        *(c == 'b' ? &o->backoff_ms : c == 'B' ? &o->backoff_max_ms : &o->timeout_ms) = ms;
        return -1;
    case 'c':
        if (!cli_parse_int(arg, 0, 1000000, &n)) break;
        o->max_concurrency = (int)n;
        return -1;
    case 'P':
        if (!cli_parse_int(arg, -1000000, 1000000, &n)) break;
        o->priority = (int)n;
        return -1;
    default: return -2; /* not a policy option */
    }
    const char *name = c == 'r'   ? "--retries"
                       : c == 'b' ? "--backoff"
                       : c == 'B' ? "--backoff-max"
                       : c == 't' ? "--timeout"
                       : c == 'c' ? "--concurrency"
                                  : "--priority";
    const char *want = c == 'r'   ? "a number of retries, 0 to 1000"
                       : c == 'c' ? "a number of runs at once (0 = no limit)"
                       : c == 'P' ? "an integer (higher runs first)"
                                  : "a duration above 0 (500ms, 30s, 10m, 1h)";
    return cli_usage_error("task add", "task add: %s '%s': expected %s", name, arg, want);
}

static int task_add(cli_global *g, int argc, char **argv)
{
    static const struct option options[] = {{"handler", required_argument, NULL, 'H'},
                                            {"param", required_argument, NULL, 'p'},
                                            {"desc", required_argument, NULL, 'd'},
                                            {"on-failure", required_argument, NULL, 'f'},
                                            {"keep", required_argument, NULL, 'k'},
                                            {"keep-for", required_argument, NULL, 'K'},
                                            {"retries", required_argument, NULL, 'r'},
                                            {"backoff", required_argument, NULL, 'b'},
                                            {"backoff-max", required_argument, NULL, 'B'},
                                            {"timeout", required_argument, NULL, 't'},
                                            {"concurrency", required_argument, NULL, 'c'},
                                            {"priority", required_argument, NULL, 'P'},
                                            CLI_GLOBAL_OPTIONS,
                                            {0}};
    const char *handler = NULL, *param = NULL, *desc = NULL, *on_failure = NULL;
    tasker_task_opts opts = {0};
    int c, prc;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        if (cli_global_option(g, c, optarg)) continue;
        if ((prc = parse_policy(c, optarg, &opts)) != -2) {
            if (prc >= 0) return prc;
        } else if (c == 'H')
            handler = optarg;
        else if (c == 'p')
            param = optarg;
        else if (c == 'd')
            desc = optarg;
        else if (c == 'f')
            on_failure = optarg;
        else if (c == 'k' && !parse_keep(optarg, &opts.max_execs))
            return cli_usage_error("task add",
                                   "task add: --keep: '%s' is not a number of runs "
                                   "(1 or more) or 'all'",
                                   optarg);
        else if (c == 'K' && !parse_keep_for(optarg, &opts.max_exec_age_s))
            return cli_usage_error("task add",
                                   "task add: --keep-for: '%s' is not a duration "
                                   "(e.g. 90s, 30m, 12h, 7d, 2w, 1d12h) or 'forever'",
                                   optarg);
        else if (c != 'k' && c != 'K')
            return cli_bad_option("task add", c, argv);
    }
    if (g->help) return cli_help(task_help);
    if (optind != argc - 1)
        return cli_usage_error("task add", "task add: expected one task ID, got %d arguments",
                               argc - optind);
    if (!handler) return cli_usage_error("task add", "task add: --handler is required");
    char *text = NULL, *with_alert = NULL;
    int rc = param ? cli_read_param("task add", param, &text) : -1;
    if (rc >= 0) return rc;
    if ((rc = check_task(handler, text)) != CLI_OK) goto out;
    if (on_failure && !(with_alert = alert_params_with_command(text, on_failure))) {
        rc = cli_usage_error("task add", "task add: --on-failure: --param must be a JSON object "
                                         "(or absent) to hold \"on_failure\"");
        goto out;
    }

    tasker_t *t = cli_open(g, -1);
    rc = CLI_FAIL;
    if (!t) goto out;
    opts.desc = desc;
    int err = tasker_add_task_opts(t, argv[optind], handler, with_alert ? with_alert : text, &opts);
    rc = err == TASKER_OK ? CLI_OK : cli_lib_error(err, "task add");
    tasker_close(t);
out:
    free(text);
    free(with_alert);
    return rc;
}

/* The policies that differ from the defaults, for people: "paused, 5 attempts,
 * backoff 2s..10m, timeout 10m, 2 at once, priority 3"; "-" when none. */
static void fmt_policies(const tasker_task *t, char *buf, size_t size)
{
    char a[FMT_TIME_SIZE], b[FMT_TIME_SIZE];
    size_t len = 0;
    buf[0] = '\0';
#define ADD(...) (len += (size_t)snprintf(buf + len, len < size ? size - len : 0, __VA_ARGS__))
    if (t->paused) ADD("%spaused", len ? ", " : "");
    if (t->max_attempts > 1) {
        ADD("%s%d attempts", len ? ", " : "", t->max_attempts);
        if (t->backoff_ms || t->backoff_max_ms) {
            fmt_duration((t->backoff_ms ? t->backoff_ms : 1000) * 1000, a);
            fmt_duration((t->backoff_max_ms ? t->backoff_max_ms : 3600000) * 1000, b);
            ADD(", backoff %s..%s", a, b);
        }
    }
    if (t->timeout_ms) {
        fmt_duration(t->timeout_ms * 1000, a);
        ADD("%stimeout %s", len ? ", " : "", a);
    }
    if (t->max_concurrency) ADD("%s%d at once", len ? ", " : "", t->max_concurrency);
    if (t->priority) ADD("%spriority %d", len ? ", " : "", t->priority);
#undef ADD
    if (!len) snprintf(buf, size, "-");
}

static int print_tasks(const cli_global *g, tasker_task *tasks, size_t n)
{
    if (g->json) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n; i++)
            json_append(&arr, json_task(&tasks[i]));
        return out_json(arr);
    }
    static const char *const headers[] = {"TASK", "HANDLER", "PARAM", "POLICIES", "DESC"};
    out_table *tb = table_new(5, headers);
    if (!tb) return CLI_FAIL;
    table_set_max_width(tb, 2, 60);
    table_set_max_width(tb, 4, 40);
    for (size_t i = 0; i < n; i++) {
        char policies[256];
        fmt_policies(&tasks[i], policies, sizeof policies);
        const char *cells[] = {tasks[i].task_id, tasks[i].handler, tasks[i].param, policies,
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

/* ---- task show ------------------------------------------------------------------- */

/* One task's picture, gathered before printing. */
typedef struct task_view {
    tasker_task task;
    tasker_task_scheme *schemes; /* all; those of other tasks are skipped when printing */
    size_t n_schemes;
    tasker_task_exec *execs; /* the task's, newest first */
    size_t n_execs;
} task_view;

static void task_view_free(task_view *tv)
{
    tasker_task_clear(&tv->task);
    tasker_free_schemes(tv->schemes, tv->n_schemes);
    tasker_free_execs(tv->execs, tv->n_execs);
}

/* Fills *tv for task_id: CLI_OK, or the exit code after saying why. */
static int task_view_load(tasker_t *t, const char *task_id, task_view *tv)
{
    tasker_task *tasks = NULL;
    size_t n = 0;
    int err = tasker_list_tasks(t, &tasks, &n);
    if (err != TASKER_OK) return cli_lib_error(err, "task show");
    for (size_t i = 0; i < n; i++)
        if (strcmp(tasks[i].task_id, task_id) == 0) {
            tv->task = tasks[i];
            memset(&tasks[i], 0, sizeof tasks[i]);
            break;
        }
    tasker_free_tasks(tasks, n);
    if (!tv->task.task_id) {
        cli_errorf("task show: no task '%s'", task_id);
        return CLI_FAIL;
    }
    if ((err = tasker_list_schemes(t, &tv->schemes, &tv->n_schemes)) != TASKER_OK ||
        (err = tasker_list_execs(t, task_id, &tv->execs, &tv->n_execs)) != TASKER_OK)
        return cli_lib_error(err, "task show");
    return CLI_OK;
}

static int print_task_json(const task_view *tv, size_t runs)
{
    json_t *o = json_task(&tv->task), *schemes = json_array(), *execs = json_array();
    for (size_t i = 0; schemes && i < tv->n_schemes; i++) {
        const tasker_task_scheme *s = &tv->schemes[i];
        if (strcmp(s->task_id, tv->task.task_id) == 0)
            json_append(&schemes, json_scheme(s, cli_next_fire_us(s)));
    }
    for (size_t i = 0; execs && i < tv->n_execs && i < runs; i++)
        json_append(&execs, json_exec(&tv->execs[i]));
    if (o && schemes && execs && json_object_set_new(o, "schedules", schemes) == 0 &&
        json_object_set_new(o, "runs", execs) == 0)
        return out_json(o);
    json_decref(o);
    return out_json(NULL); /* says out of memory */
}

static void print_heading(const char *text)
{
    printf("\n%s%s%s\n", out_colour_on(CLR_BOLD), text, out_colour_off(CLR_BOLD));
}

static void print_task_schedules(const task_view *tv)
{
    static const char *const headers[] = {"SCHEDULE",  "CRON",    "NEXT FIRE",
                                          "LAST FIRE", "MISFIRE", "OVERLAP"};
    out_table *tb = table_new(6, headers);
    size_t count = 0;
    for (size_t i = 0; tb && i < tv->n_schemes; i++) {
        const tasker_task_scheme *s = &tv->schemes[i];
        if (strcmp(s->task_id, tv->task.task_id) != 0) continue;
        char next[FMT_TIME_SIZE], last[FMT_TIME_SIZE];
        int64_t next_us = cli_next_fire_us(s);
        fmt_local_time_zone(next_us, next);
        if (!next_us) strcpy(next, "never");
        if (s->paused) strcpy(next, "paused");
        fmt_local_time(s->last_fire_us, last);
        const char *cells[] = {s->scheme_id,
                               s->cron,
                               next,
                               last,
                               tasker_misfire_name(s->misfire),
                               tasker_overlap_name(s->overlap)};
        table_add_row(tb, cells, NULL);
        count++;
    }
    char heading[64];
    snprintf(heading, sizeof heading, "schedules (%zu)", count);
    print_heading(heading);
    if (count) table_print(tb, stdout);
    table_free(tb);
}

static void print_task_runs(const task_view *tv, size_t runs)
{
    static const char *const headers[] = {"EXEC",   "STATUS",   "ATTEMPT",
                                          "QUEUED", "DURATION", "RESULT / ERROR"};
    size_t shown = tv->n_execs < runs ? tv->n_execs : runs;
    char heading[64];
    snprintf(heading, sizeof heading, "last runs (%zu of %zu kept)", shown, tv->n_execs);
    print_heading(heading);
    if (!shown) return;
    out_table *tb = table_new(6, headers);
    if (!tb) return;
    table_set_max_width(tb, 5, 60);
    int64_t now = now_us();
    for (size_t i = 0; i < shown; i++) {
        const tasker_task_exec *e = &tv->execs[i];
        char queued[FMT_TIME_SIZE], took[FMT_TIME_SIZE], state[FMT_TIME_SIZE], tries[FMT_TIME_SIZE];
        fmt_local_time(e->queued_us, queued);
        fmt_exec_duration(e, now, took);
        fmt_exec_state(e, now, state);
        fmt_exec_attempt(e, tv->task.max_attempts, tries);
        const char *cells[] = {e->exec_id, state, tries, queued, took, fmt_exec_outcome(e)};
        const cli_colour colours[] = {
            CLR_NONE, out_status_colour(e->status), CLR_NONE, CLR_NONE, CLR_NONE, CLR_NONE};
        table_add_row(tb, cells, colours);
    }
    table_print(tb, stdout);
    table_free(tb);
}

static void print_task_text(const task_view *tv, size_t runs)
{
    const tasker_task *task = &tv->task;
    const char *bold = out_colour_on(CLR_BOLD), *plain = out_colour_off(CLR_BOLD);
    printf("%s%-8s%s %s\n", bold, "task", plain, task->task_id);
    printf("%s%-8s%s %s\n", bold, "handler", plain, task->handler);
    printf("%s%-8s%s %s\n", bold, "desc", plain, task->desc ? task->desc : "-");
    char policies[256];
    fmt_policies(task, policies, sizeof policies);
    printf("%s%-8s%s %s\n", bold, "policies", plain, policies);
    /* The params indented as JSON when they parse, else as stored. */
    json_t *v = json_loads(task->param ? task->param : "null", JSON_DECODE_ANY, NULL);
    char *pretty = v ? json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) : NULL;
    printf("%s%-8s%s %s\n", bold, "param", plain, pretty ? pretty : task->param);
    free(pretty);
    json_decref(v);
    print_task_schedules(tv);
    print_task_runs(tv, runs);
}

static int task_show(cli_global *g, int argc, char **argv)
{
    static const struct option options[] = {
        {"runs", required_argument, NULL, 'r'}, CLI_GLOBAL_OPTIONS, {0}};
    long runs = 5;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        if (cli_global_option(g, c, optarg)) continue;
        if (c != 'r') return cli_bad_option("task show", c, argv);
        if (!cli_parse_int(optarg, 0, 1000000, &runs))
            return cli_usage_error("task show", "task show: --runs '%s': expected a number",
                                   optarg);
    }
    if (g->help) return cli_help(task_help);
    if (optind != argc - 1) return cli_usage_error("task show", "task show: expected one task ID");
    tasker_t *t = cli_open(g, -1);
    if (!t) return CLI_FAIL;
    task_view tv = {0};
    int rc = task_view_load(t, argv[optind], &tv);
    if (rc == CLI_OK && g->json)
        rc = print_task_json(&tv, (size_t)runs);
    else if (rc == CLI_OK)
        print_task_text(&tv, (size_t)runs);
    task_view_free(&tv);
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
        return cli_usage_error("task", "task: expected add, ls, show, pause, resume or rm");
    }
    if (strcmp(sub, "add") == 0) return task_add(g, argc, argv);
    if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0) return task_ls(g, argc, argv);
    if (strcmp(sub, "show") == 0) return task_show(g, argc, argv);
    if (strcmp(sub, "rm") == 0 || strcmp(sub, "remove") == 0) return task_rm(g, argc, argv);
    if (strcmp(sub, "pause") == 0 || strcmp(sub, "resume") == 0)
        return cli_pause_cmd(g, argc, argv, "task", sub[0] == 'p', task_help);
    return cli_usage_error("task",
                           "task: no subcommand '%s'; expected add, ls, show, pause, "
                           "resume or rm",
                           sub);
}
