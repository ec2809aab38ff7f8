/* `tasker exec ls|show`: the history of runs and their events. */
#include "cli/cli.h"
#include "cli/follow.h"
#include "cli/output.h"

#include <tasker/storage.h>

#include <stdlib.h>
#include <string.h>

static const char exec_help[] =
    "usage: tasker exec ls [TASK] [--limit N] [--status S[,S...]] [--since WHEN]\n"
    "                      [--until WHEN] [--json]\n"
    "       tasker exec show EXEC [--json]\n"
    "       tasker exec events EXEC [--follow [--timeout SECONDS]] [--json]\n"
    "       tasker exec cancel EXEC\n"
    "       tasker exec retry EXEC\n"
    "\n"
    "ls lists runs, newest first: all tasks', or TASK's. show prints one run's record\n"
    "and all its events (for the shell handler: its output lines); events prints the\n"
    "events alone, and with --follow keeps printing them until the run ends (exit 0\n"
    "if it succeeded, 1 if not). EXEC may be any unique prefix of an execution id; a\n"
    "prefix that matches several runs is an error that lists them. cancel stops a\n"
    "run: a pending one never runs, a running one is told (tasker_cancelled) and is\n"
    "recorded cancelled when it returns. retry runs a finished run again now, with\n"
    "the same params, as a new run, and prints its id. ATTEMPT is \"2/5\" for the\n"
    "second of five allowed attempts; `exec ls --status failed` lists failures, and\n"
    "those for good (the dead-letter view) are the last attempt (\"3/3\") or marked\n"
    "\"final\" (the handler said no retry); others are followed by a retry.\n"
    "\n"
    "Options:\n"
    "  --limit N     at most N runs (default 20; 0 = all)\n"
    "  --status S    only runs in these states: pending, running, success, failed,\n"
    "                interrupted, skipped, cancelled (comma-separated, or repeated)\n"
    "  --since WHEN  only runs queued at or after WHEN: a duration ago (30s, 10m, 2h,\n"
    "                7d, 1h30m) or a local time (2026-12-06, 2026-12-06T10:00,\n"
    "                '2026-12-06 10:00:30'; a final Z means UTC)\n"
    "  --until WHEN  only runs queued before WHEN (the same forms)\n"
    "  --follow      events: follow the run until it ends\n"
    "  --timeout S   with --follow: give up after S seconds (exit 1; the run goes on)\n"
    "  --json        print JSON\n";

/* A bit per tasker_exec_status named in a comma-separated list; 0 on a bad name. */
static unsigned parse_statuses(const char *list)
{
    unsigned mask = 0;
    char *copy = strdup(list), *save = NULL;
    if (!copy) return 0;
    for (char *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        int s = TASKER_EXEC_PENDING;
        for (; s <= TASKER_EXEC_CANCELLED; s++)
            if (strcmp(name, tasker_exec_status_name((tasker_exec_status)s)) == 0) break;
        if (s > TASKER_EXEC_CANCELLED) {
            mask = 0;
            break;
        }
        mask |= 1u << s;
    }
    free(copy);
    return mask;
}

/* Which runs exec ls shows. */
typedef struct exec_filter {
    unsigned statuses; /* a bit per tasker_exec_status; 0 = all */
    long limit;        /* 0 = all */
    int64_t since_us;  /* queued at or after; 0 = any */
    int64_t until_us;  /* queued before; 0 = any */
} exec_filter;

static bool filter_match(const exec_filter *f, const tasker_task_exec *e)
{
    if (f->statuses && !(f->statuses & (1u << e->status))) return false;
    if (f->since_us && e->queued_us < f->since_us) return false;
    if (f->until_us && e->queued_us >= f->until_us) return false;
    return true;
}

/* The max_attempts of task_id among tasks (0 when unknown). */
static int task_attempts(const tasker_task *tasks, size_t n_tasks, const char *task_id)
{
    for (size_t i = 0; i < n_tasks; i++)
        if (strcmp(tasks[i].task_id, task_id) == 0) return tasks[i].max_attempts;
    return 0;
}

/* The whole history, read once when a failure's fate must be known. */
typedef struct history {
    tasker_t *t;
    bool loaded;
    tasker_task_exec *v;
    size_t n;
} history;

/* A failed or interrupted run with attempts left is followed by a retry, unless the
 * handler said tasker_no_retry (or it was cancelled): then it is a dead letter too.
 * True when e is such a failure that no later attempt follows. */
static bool final_before_last(history *h, const tasker_task_exec *e, int max_attempts)
{
    if (e->status != TASKER_EXEC_FAILED && e->status != TASKER_EXEC_INTERRUPTED) return false;
    int attempt = e->attempt > 0 ? e->attempt : 1;
    if (max_attempts <= 1 || attempt >= max_attempts) return false; /* "3/3" says it */
    if (!h->loaded && tasker_list_execs(h->t, NULL, &h->v, &h->n) != TASKER_OK) h->n = 0;
    h->loaded = true;
    const char *first = e->retry_of ? e->retry_of : e->exec_id;
    for (size_t i = 0; i < h->n; i++)
        if (h->v[i].retry_of && strcmp(h->v[i].retry_of, first) == 0 &&
            h->v[i].attempt == attempt + 1)
            return false;
    return true;
}

/* Prints the runs of v that match f, at most f->limit; more says whether the store
 * has further ones (a filtered page that was cut). */
static int print_execs(const cli_global *g, tasker_t *t, tasker_task_exec *v, size_t n,
                       const exec_filter *f, bool more)
{
    json_t *arr = g->json ? json_array() : NULL;
    static const char *const headers[] = {"EXEC",   "TASK",     "STATUS",        "ATTEMPT",
                                          "QUEUED", "DURATION", "RESULT / ERROR"};
    out_table *tb = g->json ? NULL : table_new(7, headers);
    if (!arr && !tb) return CLI_FAIL;
    if (tb) table_set_max_width(tb, 6, 60);
    tasker_task *tasks = NULL;
    size_t n_tasks = 0;
    if (tb && tasker_list_tasks(t, &tasks, &n_tasks) != TASKER_OK) n_tasks = 0;
    history hist = {.t = t};
    int64_t now = now_us();
    long shown = 0, matching = 0;
    for (size_t i = 0; i < n; i++) {
        if (!filter_match(f, &v[i])) continue;
        matching++;
        if (f->limit && shown >= f->limit) continue; /* counted for the note below */
        shown++;
        if (g->json) {
            if (!json_append(&arr, json_exec(&v[i]))) break;
            continue;
        }
        char queued[FMT_TIME_SIZE], took[FMT_TIME_SIZE], state[FMT_TIME_SIZE], tries[FMT_TIME_SIZE];
        fmt_local_time(v[i].queued_us, queued);
        fmt_exec_duration(&v[i], now, took);
        fmt_exec_state(&v[i], now, state);
        int max_attempts = task_attempts(tasks, n_tasks, v[i].task_id);
        fmt_exec_attempt(&v[i], max_attempts, tries);
        if (final_before_last(&hist, &v[i], max_attempts))
            strncat(tries, " final", sizeof tries - strlen(tries) - 1);
        const char *cells[] = {v[i].exec_id, v[i].task_id,           state, tries, queued,
                               took,         fmt_exec_outcome(&v[i])};
        const cli_colour colours[] = {CLR_NONE, CLR_NONE, out_status_colour(v[i].status),
                                      CLR_NONE, CLR_NONE, CLR_NONE,
                                      CLR_NONE};
        table_add_row(tb, cells, colours);
    }
    tasker_free_tasks(tasks, n_tasks);
    tasker_free_execs(hist.v, hist.n);
    if (g->json) return out_json(arr);
    table_print(tb, stdout);
    table_free(tb);
    fflush(stdout); /* the note comes after the table on a terminal */
    if (matching > shown)
        fprintf(stderr, "(%ld of %ld shown; --limit 0 shows all)\n", shown, matching);
    else if (more)
        fprintf(stderr, "(%ld shown, more kept; --limit 0 shows all)\n", shown);
    return CLI_OK;
}

static int parse_ls_option(int c, const char *arg, int64_t now, exec_filter *f)
{
    if (c == 'n' && !cli_parse_int(arg, 0, 1000000000, &f->limit))
        return cli_usage_error("exec ls", "exec ls: --limit '%s': expected a number", arg);
    unsigned mask = c == 's' ? parse_statuses(arg) : 0;
    if (c == 's' && !mask)
        return cli_usage_error("exec ls",
                               "exec ls: --status '%s': expected pending, running, success, "
                               "failed, interrupted, skipped or cancelled",
                               arg);
    f->statuses |= mask; /* repeated --status options add up */
    if ((c == 'S' && !cli_parse_when_us(arg, now, &f->since_us)) ||
        (c == 'U' && !cli_parse_when_us(arg, now, &f->until_us)))
        return cli_usage_error("exec ls",
                               "exec ls: %s '%s': expected a duration ago (30s, 10m, 2h, 7d) or "
                               "a time (2026-12-06, 2026-12-06T10:00, '2026-12-06 10:00')",
                               c == 'S' ? "--since" : "--until", arg);
    return -1;
}

/* Appends the n records of add to *v (taking their strings). False on out of memory,
 * with add freed. */
static bool append_execs(tasker_task_exec **v, size_t *n, tasker_task_exec *add, size_t n_add)
{
    if (!n_add) return true;
    tasker_task_exec *grown = realloc(*v, (*n + n_add) * sizeof **v);
    if (!grown) {
        tasker_free_execs(add, n_add);
        return false;
    }
    memcpy(grown + *n, add, n_add * sizeof *add);
    free(add); /* the strings moved */
    *v = grown;
    *n += n_add;
    return true;
}

/* The runs f selects through the store's filter (bounded pages, so a long history is
 * not read whole): at most f->limit, or every page with --limit 0. *more: the store
 * holds further matches. TASKER_ESTATE from a library that lacks the filter. */
static int list_filtered(tasker_t *t, const char *task_id, const exec_filter *f,
                         tasker_task_exec **v, size_t *n, bool *more)
{
    enum { PAGE = 500 };
    tasker_exec_filter q = {.task_id = task_id,
                            .status_mask = f->statuses,
                            .since_us = f->since_us,
                            .until_us = f->until_us};
    char *cursor = NULL;
    int err = TASKER_OK;
    *v = NULL, *n = 0;
    do {
        size_t want = f->limit ? (size_t)f->limit - *n : PAGE;
        q.limit = want < PAGE ? want : PAGE;
        q.cursor = cursor;
        tasker_task_exec *page = NULL;
        size_t got = 0;
        char *next = NULL;
        err = tasker_list_execs_filter(t, &q, &page, &got, &next);
        free(cursor);
        cursor = next;
        if (err == TASKER_OK && !append_execs(v, n, page, got)) err = TASKER_ENOMEM;
    } while (err == TASKER_OK && cursor && (!f->limit || *n < (size_t)f->limit));
    *more = err == TASKER_OK && cursor;
    free(cursor);
    if (err != TASKER_OK) {
        tasker_free_execs(*v, *n);
        *v = NULL, *n = 0;
    }
    return err;
}

static int exec_ls(cli_global *g, int argc, char **argv)
{
    static const struct option options[] = {{"limit", required_argument, NULL, 'n'},
                                            {"status", required_argument, NULL, 's'},
                                            {"since", required_argument, NULL, 'S'},
                                            {"until", required_argument, NULL, 'U'},
                                            CLI_GLOBAL_OPTIONS,
                                            {0}};
    exec_filter f = {.limit = 20};
    int64_t now = now_us();
    int c, rc;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":hn:", options, NULL)) != -1) {
        if (cli_global_option(g, c, optarg)) continue;
        if (!strchr("nsSU", c) || c == 0) return cli_bad_option("exec ls", c, argv);
        if ((rc = parse_ls_option(c, optarg, now, &f)) >= 0) return rc;
    }
    if (g->help) return cli_help(exec_help);
    if (argc - optind > 1)
        return cli_usage_error("exec ls", "exec ls: expected at most one task ID");
    if (f.since_us && f.until_us && f.since_us >= f.until_us)
        return cli_usage_error("exec ls", "exec ls: --since is not before --until");
    tasker_t *t = cli_open(g, -1);
    if (!t) return CLI_FAIL;
    tasker_task_exec *v = NULL;
    size_t n = 0;
    bool more = false;
    const char *task_id = optind < argc ? argv[optind] : NULL;
    int err = list_filtered(t, task_id, &f, &v, &n, &more);
    if (err == TASKER_ESTATE) /* a library without the filter: the whole history */
        err = tasker_list_execs(t, task_id, &v, &n);
    rc = err == TASKER_OK ? print_execs(g, t, v, n, &f, more) : cli_lib_error(err, "exec ls");
    tasker_free_execs(v, n);
    tasker_close(t);
    return rc;
}

static void print_field(const char *name, const char *value)
{
    printf("%s%-10s%s %s\n", out_colour_on(CLR_BOLD), name, out_colour_off(CLR_BOLD),
           value ? value : "-");
}

/* The lifecycle fields, when they say something: a retry, a delay, a run's own
 * params, a priority or a unique key. */
static void print_lifecycle(const tasker_task_exec *e)
{
    char buf[FMT_TIME_SIZE], line[256];
    snprintf(line, sizeof line, "%d%s%s", e->attempt > 0 ? e->attempt : 1,
             e->retry_of ? ", a retry of " : "", e->retry_of ? e->retry_of : "");
    print_field("attempt", line);
    if (e->run_at_us) {
        fmt_local_time(e->run_at_us, buf);
        int64_t now = now_us();
        char span[FMT_TIME_SIZE] = "";
        if (e->status == TASKER_EXEC_PENDING && e->run_at_us > now) {
            fmt_coarse_span(e->run_at_us - now, span);
            snprintf(line, sizeof line, "%s (in %s)", buf, span);
        } else {
            snprintf(line, sizeof line, "%s", buf);
        }
        print_field("run at", line);
    }
    if (e->priority) {
        snprintf(line, sizeof line, "%d", e->priority);
        print_field("priority", line);
    }
    if (e->param) print_field("param", e->param);
    if (e->unique_key) print_field("key", e->unique_key);
    if (e->timeout_ms) {
        snprintf(line, sizeof line, "%lld ms (this run's own)", (long long)e->timeout_ms);
        print_field("timeout", line);
    }
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
    print_lifecycle(e);
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

/* exec show --json, exec events --json: the events as an array. NULL on out of memory. */
static json_t *json_events(const tasker_task_event *evs, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        json_append(&arr, json_event(&evs[i]));
    return arr;
}

static int show_exec(const cli_global *g, tasker_t *t, const tasker_task_exec *e, bool record)
{
    tasker_task_event *evs = NULL;
    size_t n = 0;
    int err = tasker_list_events(t, e->exec_id, &evs, &n);
    if (err != TASKER_OK) return cli_lib_error(err, record ? "exec show" : "exec events");
    int rc = CLI_OK;
    if (g->json && record) {
        json_t *o = json_exec(e), *arr = json_events(evs, n);
        if (o && arr && json_object_set_new(o, "events", arr) == 0) {
            rc = out_json(o);
        } else {
            json_decref(o);
            rc = out_json(NULL); /* out of memory: says so */
        }
    } else if (g->json) {
        rc = out_json(json_events(evs, n));
    } else {
        if (record) {
            print_exec_record(e);
            printf("\n%sevents (%zu)%s\n", out_colour_on(CLR_BOLD), n, out_colour_off(CLR_BOLD));
        }
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
    tasker_task_exec e;
    int rc = cli_find_exec(t, "exec show", argv[optind], &e);
    if (rc == CLI_OK) rc = show_exec(g, t, &e, true);
    tasker_exec_clear(&e);
    tasker_close(t);
    return rc;
}

/* exec events --follow: as trigger --wait, for a run queued earlier. Ctrl-C leaves
 * (the run is some daemon's, not this command's to interrupt). */
static int follow_events(const cli_global *g, tasker_t *t, const char *exec_id, long timeout_s)
{
    tasker_task_exec e;
    int timeout_ms = timeout_s < 0 ? -1 : (int)(timeout_s * 1000);
    int err = follow_exec(t, exec_id, timeout_ms, g->json, &e);
    int rc;
    if (err == TASKER_ETIMEDOUT) {
        cli_errorf("exec events: exec %s still %s after %lds", exec_id,
                   tasker_exec_status_name(e.status), timeout_s);
        rc = CLI_FAIL;
    } else if (err != TASKER_OK) {
        rc = cli_lib_error(err, "exec events");
    } else {
        rc = CLI_OK;
        if (g->json)
            rc = show_exec(g, t, &e, false);
        else
            print_run_line(stdout, &e);
        if (rc == CLI_OK && e.status != TASKER_EXEC_SUCCESS) rc = CLI_FAIL;
    }
    tasker_exec_clear(&e);
    return rc;
}

static int exec_events(cli_global *g, int argc, char **argv)
{
    static const struct option options[] = {{"follow", no_argument, NULL, 'f'},
                                            {"timeout", required_argument, NULL, 't'},
                                            CLI_GLOBAL_OPTIONS,
                                            {0}};
    bool follow = false;
    long timeout_s = -1;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":hf", options, NULL)) != -1) {
        if (cli_global_option(g, c, optarg)) continue;
        if (c == 'f')
            follow = true;
        else if (c == 't' && !cli_parse_int(optarg, 0, 1000000, &timeout_s))
            return cli_usage_error("exec events", "exec events: --timeout '%s': expected seconds",
                                   optarg);
        else if (c != 't')
            return cli_bad_option("exec events", c, argv);
    }
    if (g->help) return cli_help(exec_help);
    if (optind != argc - 1)
        return cli_usage_error("exec events", "exec events: expected one execution ID");
    if (timeout_s >= 0 && !follow)
        return cli_usage_error("exec events", "exec events: --timeout needs --follow");
    tasker_t *t = cli_open(g, -1);
    if (!t) return CLI_FAIL;
    tasker_task_exec e;
    int rc = cli_find_exec(t, "exec events", argv[optind], &e);
    if (rc == CLI_OK)
        rc = follow ? follow_events(g, t, e.exec_id, timeout_s) : show_exec(g, t, &e, false);
    tasker_exec_clear(&e);
    tasker_close(t);
    return rc;
}

int cmd_exec(cli_global *g, int argc, char **argv)
{
    const char *sub = cli_take_subcommand(&argc, argv);
    if (!sub) {
        if (g->help || cli_wants_help(argc, argv)) return cli_help(exec_help);
        return cli_usage_error("exec", "exec: expected ls, show, events, cancel or retry");
    }
    if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0) return exec_ls(g, argc, argv);
    if (strcmp(sub, "show") == 0) return exec_show(g, argc, argv);
    if (strcmp(sub, "events") == 0) return exec_events(g, argc, argv);
    if (strcmp(sub, "cancel") == 0) return cli_exec_cancel_cmd(g, argc, argv, exec_help);
    if (strcmp(sub, "retry") == 0) return cli_exec_retry_cmd(g, argc, argv, exec_help);
    return cli_usage_error("exec",
                           "exec: no subcommand '%s'; expected ls, show, events, cancel "
                           "or retry",
                           sub);
}
