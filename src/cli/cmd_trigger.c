/* `tasker trigger TASK [--wait] [--local]`: a run now. By default the run is stored
 * pending and the daemon on the same store is woken to run it; --local runs it here. */
#include "cli/cli.h"
#include "cli/follow.h"
#include "cli/output.h"
#include "cli/retention.h"
#include "cli/serving.h"
#include "cli/shell.h"
#include "cli/wakeup.h"

#include <stdlib.h>
#include <string.h>

static const char trigger_help[] =
    "usage: tasker trigger TASK [--wait [--timeout SECONDS]] [--local] [--json]\n"
    "                      [--param JSON|@FILE|-] [--in DURATION | --at TIME]\n"
    "                      [--key KEY] [--priority N] [--run-timeout DURATION]\n"
    "\n"
    "Queues a run of TASK and prints its execution id. The daemon (`tasker run`) on\n"
    "the same store is told at once and runs it; without a daemon the run stays\n"
    "pending until one starts. \"no daemon is running\" is said only when that is\n"
    "known: when no process has the store open (SQLite) or the store lists its\n"
    "running processes and none has the task's handler.\n"
    "\n"
    "Options:\n"
    "  --wait         follow the run: print its events as they happen, then exit 0 if\n"
    "                 it succeeded and 1 if not\n"
    "  --timeout S    with --wait: give up after S seconds (exit 1; the run goes on)\n"
    "  --local        run it in this command instead (built-in handler 'shell' only),\n"
    "                 following it as --wait does; Ctrl-C interrupts it. Only this\n"
    "                 run: runs others left pending stay for the daemon\n"
    "  --json         print the finished run as JSON (with its events) instead\n"
    "  --param P      this run's params instead of the task's: JSON text, @FILE or -\n"
    "                 (stdin)\n"
    "  --in D         run it after D (30s, 10m, 2h, 1d); it stays pending till then\n"
    "  --at TIME      run it at TIME: 2026-12-06T10:00, '2026-12-06 10:00:30' (local;\n"
    "                 a final Z means UTC)\n"
    "  --key K        a unique key: while a pending or running run of the task has\n"
    "                 K, no new run is queued; the command prints that run's id and\n"
    "                 exits 1\n"
    "  --priority N   higher runs first among pending runs (default: the task's)\n"
    "  --run-timeout D  cancel this run when still going after D (500ms, 30s, 10m);\n"
    "                 it is recorded failed, \"timed out\"\n"
    "\n"
    "With --db memory: the run is always local (no other process sees that store).\n";

typedef struct trigger_opts {
    bool wait, local;
    long timeout_s;      /* -1 = none */
    const char *param;   /* --param as given (text, @FILE or -) */
    char *param_text;    /* what it reads as; malloc'd */
    tasker_run_opts run; /* the run's options (design section 6) */
    bool has_run_opts;   /* any of them given: tasker_trigger_opts, else tasker_trigger */
} trigger_opts;

/* The run options: -1, or the exit code after saying which value is wrong. */
static int parse_run_option(int c, const char *arg, trigger_opts *o)
{
    int64_t v;
    long n;
    if (c <= 0 || c >= 128 || !strchr("pkiaPT", c)) return -2; /* not a run option */
    o->has_run_opts = true;
    switch (c) {
    case 'p': o->param = arg; return -1;
    case 'k':
        if (!*arg) return cli_usage_error("trigger", "trigger: --key: the key is empty");
        o->run.unique_key = arg;
        return -1;
    case 'i':
        if (cli_parse_duration_ms(arg, &v) && v > 0) {
            o->run.delay_ms = v;
            return -1;
        }
        return cli_usage_error("trigger",
                               "trigger: --in '%s': expected a duration (30s, 10m, "
                               "2h, 1d)",
                               arg);
    case 'a':
        /* A duration here would mean "ago", which is no time to run: --in says later. */
        if (!cli_parse_duration_s(arg, &v) && cli_parse_when_us(arg, now_us(), &v)) {
            o->run.run_at_us = v;
            return -1;
        }
        return cli_usage_error("trigger",
                               "trigger: --at '%s': expected a time (2026-12-06T10:00, "
                               "'2026-12-06 10:00:30', a final Z for UTC); for a delay use --in",
                               arg);
    case 'P':
        if (cli_parse_int(arg, -1000000, 1000000, &n)) {
            o->run.priority = (int)n;
            return -1;
        }
        return cli_usage_error("trigger", "trigger: --priority '%s': expected an integer", arg);
    case 'T':
        if (cli_parse_duration_ms(arg, &v) && v > 0) {
            o->run.timeout_ms = v;
            return -1;
        }
        return cli_usage_error("trigger",
                               "trigger: --run-timeout '%s': expected a duration above "
                               "0 (500ms, 30s, 10m)",
                               arg);
    default: return -2;
    }
}

static int parse_options(cli_global *g, int argc, char **argv, trigger_opts *o)
{
    static const struct option options[] = {{"wait", no_argument, NULL, 'w'},
                                            {"local", no_argument, NULL, 'l'},
                                            {"timeout", required_argument, NULL, 't'},
                                            {"param", required_argument, NULL, 'p'},
                                            {"in", required_argument, NULL, 'i'},
                                            {"at", required_argument, NULL, 'a'},
                                            {"key", required_argument, NULL, 'k'},
                                            {"priority", required_argument, NULL, 'P'},
                                            {"run-timeout", required_argument, NULL, 'T'},
                                            CLI_GLOBAL_OPTIONS,
                                            {0}};
    int c, rc;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        if (cli_global_option(g, c, optarg)) continue;
        if ((rc = parse_run_option(c, optarg, o)) != -2) {
            if (rc >= 0) return rc;
        } else if (c == 'w')
            o->wait = true;
        else if (c == 'l')
            o->local = true;
        else if (c == 't') {
            if (!cli_parse_int(optarg, 0, 1000000, &o->timeout_s))
                return cli_usage_error("trigger", "trigger: --timeout '%s': expected seconds",
                                       optarg);
        } else
            return cli_bad_option("trigger", c, argv);
    }
    return -1;
}

/* Prints the finished run (JSON or a summary line) and returns its exit code. */
static int report_run(const cli_global *g, tasker_t *t, const tasker_task_exec *e)
{
    int rc = e->status == TASKER_EXEC_SUCCESS ? CLI_OK : CLI_FAIL;
    if (!g->json) {
        print_run_line(stdout, e);
        return rc;
    }
    json_t *o = json_exec(e);
    json_t *events = json_array();
    tasker_task_event *evs = NULL;
    size_t n = 0;
    if (tasker_list_events(t, e->exec_id, &evs, &n) == TASKER_OK)
        for (size_t i = 0; i < n; i++)
            json_array_append_new(events, json_event(&evs[i]));
    tasker_free_events(evs, n);
    json_object_set_new(o, "events", events);
    return out_json(o) == CLI_OK ? rc : CLI_FAIL;
}

static int follow(const cli_global *g, tasker_t *t, const char *exec_id, long timeout_s)
{
    tasker_task_exec e;
    int timeout_ms = timeout_s < 0 ? -1 : (int)(timeout_s * 1000);
    int err = follow_exec(t, exec_id, timeout_ms, g->json, &e);
    int rc;
    if (err == TASKER_ETIMEDOUT) {
        cli_errorf("trigger: exec %s still %s after %lds", exec_id,
                   tasker_exec_status_name(e.status), timeout_s);
        rc = CLI_FAIL;
    } else if (err != TASKER_OK) {
        rc = cli_lib_error(err, "trigger");
    } else {
        rc = report_run(g, t, &e);
    }
    tasker_exec_clear(&e);
    return rc;
}

/* The trigger, with the run options when any was given (so that a library without
 * them still serves a plain trigger). */
static int do_trigger(tasker_t *t, const char *task_id, const trigger_opts *o,
                      char exec_id[TASKER_ID_SIZE])
{
    if (!o->has_run_opts) return tasker_trigger(t, task_id, exec_id);
    tasker_run_opts run = o->run;
    run.param_json = o->param_text;
    return tasker_trigger_opts(t, task_id, &run, exec_id);
}

/* A refused trigger: a held unique key names the run that holds it. */
static int trigger_error(const cli_global *g, int err, const trigger_opts *o, const char *exec_id)
{
    if (err != TASKER_EEXISTS || !o->run.unique_key || !*exec_id)
        return cli_lib_error(err, "trigger");
    cli_errorf("trigger: a run with key '%s' is pending or running: exec %s", o->run.unique_key,
               exec_id);
    if (g->json)
        out_json(json_pack("{s:s, s:s, s:s}", "exec_id", exec_id, "unique_key", o->run.unique_key,
                           "error", "exists"));
    else
        printf("%s\n", exec_id);
    return CLI_FAIL;
}

/* Adding a run applies retention (retention.h): by count as the daemon would, by age
 * only when TASKER_KEEP_FOR asks for it. */
static bool retention_options(tasker_options *opt)
{
    opt->max_exec_age_s = -1;
    return retention_from_env(opt);
}

/* In cluster mode a run of a handler this command lacks stays pending for a process
 * that registers it; --local means "here, now", so such a task is refused up front. */
static bool local_handler_ok(tasker_t *t, const char *task_id)
{
    tasker_task *v;
    size_t n;
    if (tasker_list_tasks(t, &v, &n) != TASKER_OK) return true; /* the trigger reports it */
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].task_id, task_id) != 0 || strcmp(v[i].handler, "shell") == 0) continue;
        fprintf(stderr,
                "tasker: trigger --local: task '%s' has handler '%s', which this command does "
                "not have (it runs shell tasks only); `tasker trigger` leaves the run to the "
                "process that registers '%s'\n",
                task_id, v[i].handler, v[i].handler);
        ok = false;
    }
    tasker_free_tasks(v, n);
    return ok;
}

static int trigger_local(const cli_global *g, const char *task_id, const trigger_opts *o)
{
    long timeout_s = o->timeout_s;
    /* One worker for this run only: what others left pending is the daemon's. */
    tasker_options opt = {.workers = 1, .no_pickup = true};
    if (!retention_options(&opt)) return CLI_USAGE;
    tasker_t *t = cli_open_opts(g, &opt);
    if (!t) return CLI_FAIL;
    int rc;
    char exec_id[TASKER_ID_SIZE] = "";
    int err = tasker_register(t, "shell", shell_handler, NULL);
    if (err == TASKER_OK && !local_handler_ok(t, task_id)) {
        tasker_close(t);
        return CLI_FAIL;
    }
    if (err == TASKER_OK) err = do_trigger(t, task_id, o, exec_id);
    if (err != TASKER_OK) {
        rc = trigger_error(g, err, o, exec_id);
    } else {
        follow_catch_interrupt();
        rc = follow(g, t, exec_id, timeout_s);
        if (rc != CLI_OK && timeout_s >= 0) tasker_interrupt(t); /* do not hang in close */
    }
    tasker_close(t);
    return rc;
}

/* The trigger reached no daemon: say so only when it is known that no running process
 * has the task's handler (serving.h). A C program serving the store, a daemon on
 * another host or one that spells the store otherwise make it unknown: then nothing. */
static void note_unserved(const cli_global *g, tasker_t *t, const char *task_id,
                          const char *exec_id)
{
    tasker_task *v = NULL;
    size_t n = 0;
    char handler[TASKER_ID_SIZE * 4] = "";
    if (tasker_list_tasks(t, &v, &n) != TASKER_OK) return;
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].task_id, task_id) == 0 && v[i].handler)
            snprintf(handler, sizeof handler, "%s", v[i].handler);
    tasker_free_tasks(v, n);
    serving s;
    serving_read(&s, t, g->dsn);
    if (*handler && serving_handler(&s, handler) == SERVING_NO) {
        if (strcmp(handler, "shell") == 0)
            fprintf(stderr,
                    "tasker: no daemon is running on %s; exec %s stays pending until "
                    "`tasker run` starts (or use --local)\n",
                    g->dsn, exec_id);
        else
            fprintf(stderr,
                    "tasker: no running process on %s has handler '%s'; exec %s stays "
                    "pending until one that has it starts\n",
                    g->dsn, handler, exec_id);
    }
    serving_free(&s);
}

static int trigger_daemon(const cli_global *g, const char *task_id, const trigger_opts *o)
{
    /* No workers: the run is the daemon's to do, not this command's. */
    tasker_options opt = {.workers = -1};
    if (!retention_options(&opt)) return CLI_USAGE;
    tasker_t *t = cli_open_opts(g, &opt);
    if (!t) return CLI_FAIL;
    int rc = CLI_OK;
    char exec_id[TASKER_ID_SIZE] = "";
    int err = do_trigger(t, task_id, o, exec_id);
    if (err != TASKER_OK) {
        rc = trigger_error(g, err, o, exec_id);
        goto out;
    }
    if (!wakeup_send(g->dsn)) note_unserved(g, t, task_id, exec_id);
    if (o->wait)
        rc = follow(g, t, exec_id, o->timeout_s);
    else if (g->json)
        rc = out_json(json_pack("{s:s, s:s}", "exec_id", exec_id, "status", "pending"));
    else
        printf("%s\n", exec_id);
out:
    tasker_close(t);
    return rc;
}

/* --param: read and checked as JSON here, so the message can say where it broke. */
static int read_run_param(trigger_opts *o)
{
    int rc = cli_read_param("trigger", o->param, &o->param_text);
    if (rc >= 0) return rc;
    json_error_t jerr;
    json_t *v = json_loads(o->param_text, JSON_DECODE_ANY, &jerr);
    if (v) {
        json_decref(v);
        return -1;
    }
    cli_errorf("trigger: --param: invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
               jerr.text);
    free(o->param_text);
    o->param_text = NULL;
    return CLI_USAGE;
}

int cmd_trigger(cli_global *g, int argc, char **argv)
{
    trigger_opts o = {.timeout_s = -1};
    int rc = parse_options(g, argc, argv, &o);
    if (rc >= 0) return rc;
    if (g->help) return cli_help(trigger_help);
    if (optind != argc - 1)
        return cli_usage_error("trigger", "trigger: expected one task ID, got %d arguments",
                               argc - optind);
    if (o.timeout_s >= 0 && !o.wait && !o.local)
        return cli_usage_error("trigger", "trigger: --timeout needs --wait or --local (the "
                                          "run's own limit is --run-timeout)");
    if (o.run.delay_ms && o.run.run_at_us)
        return cli_usage_error("trigger", "trigger: --in and --at both given; choose one");
    if ((o.run.delay_ms || o.run.run_at_us) && o.local)
        return cli_usage_error("trigger", "trigger: --local runs now; --in and --at are for "
                                          "the daemon");
    if (o.param && (rc = read_run_param(&o)) >= 0) return rc;
    if (o.local || !wakeup_supported(g->dsn))
        rc = trigger_local(g, argv[optind], &o);
    else
        rc = trigger_daemon(g, argv[optind], &o);
    free(o.param_text);
    return rc;
}
