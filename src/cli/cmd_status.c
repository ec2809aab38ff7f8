/* `tasker status`: the store at a glance, as `systemctl list-timers` shows timers:
 * each schedule with its task, its next fire, and the task's last run (when, status,
 * how long); tasks without a schedule after them. Failing tasks (last run failed or
 * interrupted) come first, in red on a terminal, and are named again below the table.
 * Then pending runs that nothing will run: those whose handler no running process
 * has, when that is known (serving.h), and those waiting for more than a minute. */
#include "cli/cli.h"
#include "cli/output.h"
#include "cli/serving.h"

#include <stdlib.h>
#include <string.h>

#define PENDING_OLD_US (60 * 1000000LL) /* pending longer than this is worth a line */

static const char status_help[] =
    "usage: tasker status [--json]\n"
    "\n"
    "Each schedule with its task, its next fire (and how long until then), and the\n"
    "task's last run: when it started, how long ago, its status and how long it took.\n"
    "Tasks without a schedule follow. Failing tasks (last run failed or interrupted)\n"
    "are listed first and named under the table (in red on a terminal).\n"
    "Pending runs are called out when no running process has their handler (known\n"
    "when the store lists its processes, or when no process has a SQLite store open),\n"
    "or when they have waited for more than a minute.\n"
    "\n"
    "Options:\n"
    "  --json   print {\"entries\": [...], \"pending\": [...]} instead\n";

typedef struct status_row {
    const tasker_task *task;          /* NULL when the schedule's task is gone */
    const tasker_task_scheme *scheme; /* NULL: a task without a schedule */
    int64_t next_us;                  /* 0 = none */
    const tasker_task_exec *last;     /* the task's newest run that started; or NULL */
    bool failing;
} status_row;

typedef struct task_info {
    const tasker_task_exec *last;
    size_t pending;
    int64_t oldest_pending_us;
    bool scheduled;
} task_info;

typedef struct status_data {
    tasker_task *tasks;
    size_t ntasks;
    tasker_task_scheme *schemes;
    size_t nschemes;
    tasker_task_exec *execs;
    size_t nexecs;
    task_info *info; /* per task, in the order of tasks (by id) */
    status_row *rows;
    size_t nrows;
    serving serving;
} status_data;

static int cmp_task_id(const void *key, const void *elem)
{
    return strcmp(key, ((const tasker_task *)elem)->task_id);
}

/* The index of task_id in the tasks (sorted by id), or -1. */
static long find_task(const status_data *d, const char *task_id)
{
    const tasker_task *t = bsearch(task_id, d->tasks, d->ntasks, sizeof *d->tasks, cmp_task_id);
    return t ? t - d->tasks : -1;
}

static bool is_failing(const tasker_task_exec *e)
{
    return e && (e->status == TASKER_EXEC_FAILED || e->status == TASKER_EXEC_INTERRUPTED);
}

static int cmp_rows(const void *a, const void *b)
{
    const status_row *x = a, *y = b;
    if (x->failing != y->failing) return x->failing ? -1 : 1;
    if ((x->next_us == 0) != (y->next_us == 0)) return x->next_us == 0 ? 1 : -1;
    if (x->next_us != y->next_us) return x->next_us < y->next_us ? -1 : 1;
    const char *tx = x->task ? x->task->task_id : x->scheme->task_id;
    const char *ty = y->task ? y->task->task_id : y->scheme->task_id;
    return strcmp(tx, ty);
}

/* Per task: its newest started run (executions come newest first), pending count. */
static void scan_execs(status_data *d)
{
    for (size_t i = 0; i < d->nexecs; i++) {
        const tasker_task_exec *e = &d->execs[i];
        long k = find_task(d, e->task_id);
        if (k < 0) continue;
        task_info *ti = &d->info[k];
        if (e->status == TASKER_EXEC_PENDING) {
            ti->pending++;
            if (!ti->oldest_pending_us || e->queued_us < ti->oldest_pending_us)
                ti->oldest_pending_us = e->queued_us;
        } else if (!ti->last) {
            ti->last = e;
        }
    }
}

static bool build_rows(status_data *d)
{
    d->rows = calloc(d->nschemes + d->ntasks + 1, sizeof *d->rows);
    if (!d->rows) return false;
    for (size_t i = 0; i < d->nschemes; i++) {
        status_row *r = &d->rows[d->nrows++];
        long k = find_task(d, d->schemes[i].task_id);
        r->scheme = &d->schemes[i];
        r->next_us = cli_next_fire_us(r->scheme);
        if (k >= 0) {
            r->task = &d->tasks[k];
            r->last = d->info[k].last;
            d->info[k].scheduled = true;
        }
    }
    for (size_t k = 0; k < d->ntasks; k++)
        if (!d->info[k].scheduled)
            d->rows[d->nrows++] = (status_row){.task = &d->tasks[k], .last = d->info[k].last};
    for (size_t i = 0; i < d->nrows; i++)
        d->rows[i].failing = is_failing(d->rows[i].last);
    qsort(d->rows, d->nrows, sizeof *d->rows, cmp_rows);
    return true;
}

static int load(status_data *d, tasker_t *t, const char *dsn)
{
    int err;
    if ((err = tasker_list_tasks(t, &d->tasks, &d->ntasks)) != TASKER_OK ||
        (err = tasker_list_schemes(t, &d->schemes, &d->nschemes)) != TASKER_OK ||
        (err = tasker_list_execs(t, NULL, &d->execs, &d->nexecs)) != TASKER_OK)
        return err;
    if (!(d->info = calloc(d->ntasks + 1, sizeof *d->info))) return TASKER_ENOMEM;
    scan_execs(d);
    if (!build_rows(d)) return TASKER_ENOMEM;
    serving_read(&d->serving, t, dsn);
    return TASKER_OK;
}

static void unload(status_data *d)
{
    tasker_free_tasks(d->tasks, d->ntasks);
    tasker_free_schemes(d->schemes, d->nschemes);
    tasker_free_execs(d->execs, d->nexecs);
    free(d->info);
    free(d->rows);
    serving_free(&d->serving);
}

static void print_table(const status_data *d, int64_t now)
{
    static const char *const headers[] = {"NEXT",   "LEFT", "LAST", "PASSED",
                                          "STATUS", "TOOK", "TASK", "SCHEDULE"};
    out_table *tb = table_new(8, headers);
    if (!tb) return;
    table_set_max_width(tb, 6, 40);
    for (size_t i = 0; i < d->nrows; i++) {
        const status_row *r = &d->rows[i];
        char next[FMT_TIME_SIZE] = "-", left[FMT_TIME_SIZE + 8] = "-", last[FMT_TIME_SIZE] = "-",
             passed[FMT_TIME_SIZE + 8] = "-", took[FMT_TIME_SIZE] = "-", span[FMT_TIME_SIZE];
        if (r->next_us) {
            fmt_local_time(r->next_us, next);
            fmt_coarse_span(r->next_us - now, span);
            snprintf(left, sizeof left, "in %s", span);
        }
        if ((r->scheme && r->scheme->paused) || (r->task && r->task->paused))
            snprintf(left, sizeof left, "paused");
        if (r->last) {
            fmt_local_time(r->last->start_us ? r->last->start_us : r->last->queued_us, last);
            fmt_coarse_span(now - (r->last->start_us ? r->last->start_us : r->last->queued_us),
                            span);
            snprintf(passed, sizeof passed, "%s ago", span);
            fmt_exec_duration(r->last, now, took);
        }
        const char *status = r->last ? tasker_exec_status_name(r->last->status) : "never ran";
        const char *cells[] = {next,
                               left,
                               last,
                               passed,
                               status,
                               took,
                               r->task ? r->task->task_id : r->scheme->task_id,
                               r->scheme ? r->scheme->cron : "-"};
        cli_colour none = CLR_NONE, red = r->failing ? CLR_RED : CLR_NONE;
        cli_colour colours[] = {
            none, none, none, none, r->last ? out_status_colour(r->last->status) : CLR_DIM,
            none, red,  none};
        table_add_row(tb, cells, colours);
    }
    table_print(tb, stdout);
    table_free(tb);
}

/* The lines under the table: failing tasks, pending runs nothing will run. */
static void print_notes(const status_data *d, const char *dsn, int64_t now)
{
    size_t failing = 0;
    for (size_t k = 0; k < d->ntasks; k++)
        if (is_failing(d->info[k].last)) {
            printf("%s%stask %s is failing: its last run %s: %s%s\n", failing++ ? "" : "\n",
                   out_colour_on(CLR_RED), d->tasks[k].task_id,
                   tasker_exec_status_name(d->info[k].last->status),
                   d->info[k].last->error ? d->info[k].last->error : "no error recorded",
                   out_colour_off(CLR_RED));
        }
    bool first = true;
    for (size_t k = 0; k < d->ntasks; k++) {
        const task_info *ti = &d->info[k];
        if (!ti->pending) continue;
        char age[FMT_TIME_SIZE];
        fmt_coarse_span(now - ti->oldest_pending_us, age);
        const char *handler = d->tasks[k].handler;
        if (serving_handler(&d->serving, handler) == SERVING_NO)
            printf("%s%zu pending run%s of task %s: no running process has handler '%s'\n",
                   first ? "\n" : "", ti->pending, ti->pending == 1 ? "" : "s", d->tasks[k].task_id,
                   handler);
        else if (now - ti->oldest_pending_us > PENDING_OLD_US)
            printf("%s%zu pending run%s of task %s, the oldest queued %s ago\n", first ? "\n" : "",
                   ti->pending, ti->pending == 1 ? "" : "s", d->tasks[k].task_id, age);
        else
            continue;
        first = false;
    }
    if (d->nrows == 0) printf("no tasks in %s; add one with `tasker task add`\n", dsn);
}

static const char *serving_name(serving_answer a)
{
    return a == SERVING_YES ? "yes" : a == SERVING_NO ? "no" : "unknown";
}

static int print_json(const status_data *d)
{
    json_t *entries = json_array(), *pending = json_array();
    for (size_t i = 0; i < d->nrows; i++) {
        const status_row *r = &d->rows[i];
        json_t *o = json_pack(
            "{s:s, s:o, s:o, s:o, s:b}", "task_id", r->task ? r->task->task_id : r->scheme->task_id,
            "handler", r->task ? json_string(r->task->handler) : json_null(), "schedule",
            r->scheme ? json_scheme(r->scheme, r->next_us) : json_null(), "last_run",
            r->last ? json_exec(r->last) : json_null(), "failing", r->failing);
        json_array_append_new(entries, o);
    }
    for (size_t k = 0; k < d->ntasks; k++) {
        const task_info *ti = &d->info[k];
        if (!ti->pending) continue;
        char at[FMT_TIME_SIZE];
        fmt_iso_utc(ti->oldest_pending_us, at);
        json_array_append_new(
            pending,
            json_pack("{s:s, s:s, s:I, s:I, s:s, s:s}", "task_id", d->tasks[k].task_id, "handler",
                      d->tasks[k].handler, "count", (json_int_t)ti->pending, "oldest_queued_us",
                      (json_int_t)ti->oldest_pending_us, "oldest_queued_at", at, "served",
                      serving_name(serving_handler(&d->serving, d->tasks[k].handler))));
    }
    return out_json(json_pack("{s:o, s:o}", "entries", entries, "pending", pending));
}

int cmd_status(cli_global *g, int argc, char **argv)
{
    static const struct option options[] = {CLI_GLOBAL_OPTIONS, {0}};
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1)
        if (!cli_global_option(g, c, optarg)) return cli_bad_option("status", c, argv);
    if (g->help) return cli_help(status_help);
    if (optind != argc)
        return cli_usage_error("status", "status: unexpected argument '%s'", argv[optind]);
    tasker_t *t = cli_open(g, -1);
    if (!t) return CLI_FAIL;
    status_data d = {0};
    int rc, err = load(&d, t, g->dsn);
    if (err != TASKER_OK) {
        rc = cli_lib_error(err, "status");
    } else if (g->json) {
        rc = print_json(&d);
    } else {
        int64_t now = now_us();
        print_table(&d, now);
        print_notes(&d, g->dsn, now);
        rc = CLI_OK;
    }
    unload(&d);
    tasker_close(t);
    return rc;
}
