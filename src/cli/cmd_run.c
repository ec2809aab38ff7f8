/* `tasker run`: the daemon. It fires schedules and runs triggered tasks with the
 * built-in `shell` handler, wakes on a datagram from `tasker trigger` (wakeup.c), logs
 * each finished run with its events (runlog.c), runs on-failure commands (alert.c),
 * and on SIGINT/SIGTERM stops gracefully with tasker_shutdown(): no new runs (queued
 * ones stay pending in the store, for the next start), a grace period for running
 * ones, then an interrupt (the shell handler kills its process group and the run is
 * recorded as interrupted). */
#include "cli/alert.h"
#include "cli/cli.h"
#include "cli/log.h"
#include "cli/output.h"
#include "cli/retention.h"
#include "cli/runlog.h"
#include "cli/shell.h"
#include "cli/wakeup.h"
#include "web/web.h" /* --web */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INTERRUPT_WAIT_MS 10000  /* after the interrupt, when to say handlers still run */
#define ALERT_STOP_WAIT_MS 10000 /* at stop, how long on-failure commands get to end */

static const char run_help[] =
    "usage: tasker run [--workers N] [--grace SECONDS] [--on-failure CMD]\n"
    "                  [--keep N] [--keep-for DURATION] [--max-events N]\n"
    "                  [--quiet | --quiet-events] [--json]\n"
    "\n"
    "The daemon: fires the schedules of the store and runs triggered tasks, with the\n"
    "built-in handler 'shell'. `tasker trigger` on the same store wakes it at once.\n"
    "On start it says how many earlier runs the store holds. Then it prints a line per\n"
    "finished run (and per skipped fire), with the run's events indented under it.\n"
    "When stdout or stderr is not a terminal (a pipe, a file, journald), colours are\n"
    "off and each line starts with a level prefix journald maps to a priority: <3>\n"
    "error, <4> warning, <6> info, <7> debug (not with --json).\n"
    "SIGINT or SIGTERM stops it: no new run starts, runs still queued stay pending in\n"
    "the store and run after the next start, running ones get the grace period, then\n"
    "are killed and recorded as interrupted. A second signal ends the grace period.\n"
    "\n"
    "Options:\n"
    "  --workers N        runs at once (default: the number of CPUs)\n"
    "  --grace S          seconds running tasks get to finish on stop (default 10)\n"
    "  --on-failure CMD   run CMD (with /bin/sh -c) when a run fails or is interrupted,\n"
    "                     for every task; TASKER_EXEC_ID, TASKER_TASK_ID, TASKER_STATUS,\n"
    "                     TASKER_ERROR and TASKER_OUTPUT_TAIL (its last 20 output lines)\n"
    "                     are in its environment (see also task add --on-failure)\n"
    "  --keep N           runs kept per task (default 100; 'unlimited')\n"
    "  --keep-for D       runs older than D are deleted with their events (default 1h;\n"
    "                     30s, 10m, 2h, 7d, 'unlimited'). A daily task's record is gone\n"
    "                     an hour after it ran unless this is raised\n"
    "  --max-events N     events (output lines) kept per run (default 1000; 'unlimited')\n"
    "                     (TASKER_KEEP, TASKER_KEEP_FOR, TASKER_MAX_EVENTS set these too,\n"
    "                     for `tasker trigger` as well, which applies them to the runs it\n"
    "                     adds: set them alike for both)\n"
    "  --web ADDR:PORT    serve the dashboard, API and metrics (docs/web.md); a token\n"
    "                     from the file $TASKER_WEB_TOKEN_FILE, if set\n"
    "  --quiet            do not print finished runs\n"
    "  --quiet-events     print the run lines only, not the events under them\n"
    "  --json             print finished runs as JSON, one object per line (with an\n"
    "                     \"events\" array unless --quiet-events)\n";

typedef struct run_opts {
    long workers, grace_s;
    bool quiet, quiet_events;
    const char *on_failure;
    tasker_options lib; /* the retention limits */
    const char *web;    /* --web ADDR:PORT */
} run_opts;

/* Set once before the signal handlers are installed; read by them. */
static tasker_t *volatile daemon_handle;
static int stop_pipe[2] = {-1, -1};
static volatile sig_atomic_t stop_requests;

static void on_stop_signal(int sig)
{
    (void)sig;
    int saved = errno;
    stop_requests++;
    if (daemon_handle) tasker_stop(daemon_handle); /* async-signal-safe by contract */
    ssize_t ignored = write(stop_pipe[1], "s", 1);
    (void)ignored;
    errno = saved;
}

/* One option of `run` beyond the global ones; -1 to go on, else an exit code. */
static int take_option(int c, const char *arg, char **argv, run_opts *o)
{
    switch (c) {
    case 'w':
        if (!cli_parse_int(arg, 1, 1024, &o->workers))
            return cli_usage_error("run", "run: --workers '%s': expected 1 to 1024", arg);
        return -1;
    case 'g':
        if (!cli_parse_int(arg, 0, 86400, &o->grace_s))
            return cli_usage_error("run", "run: --grace '%s': expected seconds", arg);
        return -1;
    case 'q': o->quiet = true; return -1;
    case 'e': o->quiet_events = true; return -1;
    case 'f':
        if (!*arg) return cli_usage_error("run", "run: --on-failure: the command is empty");
        o->on_failure = arg;
        return -1;
    case 'k':
        if (!retention_parse_count(arg, &o->lib.max_execs_per_task))
            return cli_usage_error("run", "run: --keep '%s': expected a count or 'unlimited'", arg);
        return -1;
    case 'a':
        if (!retention_parse_age(arg, &o->lib.max_exec_age_s))
            return cli_usage_error("run",
                                   "run: --keep-for '%s': expected a duration (30s, 10m, 2h, "
                                   "7d) or 'unlimited'",
                                   arg);
        return -1;
    case 'm':
        if (!retention_parse_count(arg, &o->lib.max_events_per_exec))
            return cli_usage_error("run", "run: --max-events '%s': expected a count or 'unlimited'",
                                   arg);
        return -1;
    case 'W': o->web = arg; return -1;
    default: return cli_bad_option("run", c, argv);
    }
}

static int parse_options(cli_global *g, int argc, char **argv, run_opts *o)
{
    static const struct option options[] = {{"workers", required_argument, NULL, 'w'},
                                            {"grace", required_argument, NULL, 'g'},
                                            {"quiet", no_argument, NULL, 'q'},
                                            {"quiet-events", no_argument, NULL, 'e'},
                                            {"on-failure", required_argument, NULL, 'f'},
                                            {"keep", required_argument, NULL, 'k'},
                                            {"keep-for", required_argument, NULL, 'a'},
                                            {"max-events", required_argument, NULL, 'm'},
                                            {"web", required_argument, NULL, 'W'},
                                            CLI_GLOBAL_OPTIONS,
                                            {0}};
    int c, rc;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":hq", options, NULL)) != -1) {
        if (cli_global_option(g, c, optarg)) continue;
        if ((rc = take_option(c, optarg, argv, o)) >= 0) return rc;
    }
    if (g->help) return cli_help(run_help);
    if (optind != argc)
        return cli_usage_error("run", "run: unexpected argument '%s'", argv[optind]);
    return -1;
}

static void install_signals(tasker_t *t)
{
    daemon_handle = t;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Sleeps in poll until a stop signal; answers wakeup datagrams meanwhile. */
static void serve(tasker_t *t, int wake_fd)
{
    struct pollfd fds[2] = {{.fd = stop_pipe[0], .events = POLLIN},
                            {.fd = wake_fd, .events = POLLIN}};
    while (!stop_requests) {
        int n = poll(fds, wake_fd >= 0 ? 2 : 1, -1);
        if (n < 0 && errno != EINTR) break;
        if (n > 0 && wake_fd >= 0 && fds[1].revents && wakeup_drain(wake_fd) > 0) tasker_wake(t);
    }
}

static void drain_pipe(int fd)
{
    char buf[64];
    while (read(fd, buf, sizeof buf) > 0) {
    }
}

/* What tasker_shutdown cannot do from inside its wait: end the grace period early on a
 * second signal, and say when the grace period ran out and when handlers are slow to
 * return after the interrupt. Runs beside it until done[0] becomes readable. */
typedef struct stop_watch {
    tasker_t *t;
    long grace_s;
    int done[2]; /* written when tasker_shutdown returned */
} stop_watch;

/* Waits for a signal or the end; true when done[0] was written. */
static bool watch_wait(const stop_watch *w, int timeout_ms, bool *signalled)
{
    struct pollfd fds[2] = {{.fd = w->done[0], .events = POLLIN},
                            {.fd = stop_pipe[0], .events = POLLIN}};
    *signalled = false;
    int n;
    while ((n = poll(fds, 2, timeout_ms)) < 0 && errno == EINTR) {
    }
    if (n > 0 && fds[0].revents) return true;
    if (n > 0 && fds[1].revents) {
        drain_pipe(stop_pipe[0]);
        *signalled = true;
    }
    return false;
}

/* Says what the stop does; logging here, not before tasker_shutdown, so that a slow
 * log reader (journald pushing back) cannot delay the moment runs stop starting. */
static void log_stopping(tasker_t *t, long grace_s)
{
    int running = tasker_running_count(t);
    if (running > 0)
        log_msg(LOG_PRIO_INFO,
                "stopping: no new runs; %d run(s) still going get %lds to finish; queued "
                "runs stay pending for the next start",
                running, grace_s);
    else
        log_msg(LOG_PRIO_INFO, "stopping: queued runs stay pending for the next start");
}

static void *stop_watch_main(void *arg)
{
    stop_watch *w = arg;
    bool signalled;
    log_stopping(w->t, w->grace_s);
    if (watch_wait(w, (int)(w->grace_s * 1000), &signalled)) return NULL;
    int running = tasker_running_count(w->t);
    if (running > 0 && signalled) {
        log_msg(LOG_PRIO_WARNING, "asked again: interrupting %d run(s) now", running);
        tasker_interrupt(w->t);
    } else if (running > 0) {
        log_msg(LOG_PRIO_WARNING, "grace period over: interrupting %d run(s)", running);
    }
    if (watch_wait(w, INTERRUPT_WAIT_MS, &signalled)) return NULL;
    log_msg(LOG_PRIO_WARNING, "%d handler(s) did not return after the interrupt; waiting for them",
            tasker_running_count(w->t));
    while (!watch_wait(w, -1, &signalled)) {
    }
    return NULL;
}

/* The graceful stop: tasker_shutdown (no new run; queued runs stay pending in the
 * store), with the watcher above beside it. */
static void shut_down(tasker_t *t, long grace_s)
{
    drain_pipe(stop_pipe[0]); /* the signal that brought us here */
    stop_watch w = {.t = t, .grace_s = grace_s, .done = {-1, -1}};
    pthread_t watcher;
    bool watching =
        pipe2(w.done, O_CLOEXEC) == 0 && pthread_create(&watcher, NULL, stop_watch_main, &w) == 0;
    if (!watching) log_stopping(t, grace_s);
    tasker_shutdown(t, (int)(grace_s * 1000));
    if (watching) {
        ssize_t ignored = write(w.done[1], "d", 1);
        (void)ignored;
        pthread_join(watcher, NULL);
    }
    if (w.done[0] >= 0) close(w.done[0]);
    if (w.done[1] >= 0) close(w.done[1]);
}

static int open_wakeup(const cli_global *g)
{
    if (!wakeup_supported(g->dsn)) return -1;
    int fd = wakeup_listen(g->dsn);
    if (fd < 0 && errno == EADDRINUSE)
        log_msg(LOG_PRIO_WARNING, "another daemon already runs on %s; triggers will wake that one",
                g->dsn);
    else if (fd < 0)
        log_msg(LOG_PRIO_WARNING, "no wakeup socket (%s); triggers are seen within a second",
                strerror(errno));
    return fd;
}

/* The exec hook: the log, then the alerts (which only queue). */
typedef struct daemon_hooks {
    runlog *log;
    alerter *alerts;
} daemon_hooks;

static void on_exec_done(tasker_t *t, const tasker_task_exec *e, void *udata)
{
    daemon_hooks *h = udata;
    if (h->log) runlog_exec_done(h->log, t, e);
    alerter_exec_done(h->alerts, e);
}

/* "100 runs per task", "unlimited runs per task", for the start message. */
static void describe_limit(char *buf, size_t size, long v, long dflt, const char *what)
{
    if (v < 0)
        snprintf(buf, size, "unlimited %s", what);
    else
        snprintf(buf, size, "%ld %s", v ? v : dflt, what);
}

static void log_retention(const tasker_options *o)
{
    char runs[64], events[64], age[FMT_TIME_SIZE];
    describe_limit(runs, sizeof runs, o->max_execs_per_task, 100, "runs per task");
    describe_limit(events, sizeof events, o->max_events_per_exec, 1000, "events per run");
    if (o->max_exec_age_s < 0)
        snprintf(age, sizeof age, "of any age");
    else
        fmt_span_s(o->max_exec_age_s ? o->max_exec_age_s : 3600, age);
    log_msg(LOG_PRIO_INFO, "keeps the last %s, %s%s, %s (--keep, --keep-for, --max-events)", runs,
            o->max_exec_age_s < 0 ? "" : "none older than ", age, events);
}

int cmd_run(cli_global *g, int argc, char **argv)
{
    run_opts o = {.workers = 0, .grace_s = 10};
    if (!retention_from_env(&o.lib)) return CLI_USAGE; /* the flags override these */
    int rc = parse_options(g, argc, argv, &o);
    if (rc >= 0) return rc;
    log_daemon_mode();
    if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        cli_errorf("run: pipe: %s", strerror(errno));
        return CLI_FAIL;
    }
    rc = CLI_FAIL;
    int wake_fd = -1;
    daemon_hooks hooks = {0};
    web_server *web = NULL;
    o.lib.workers = (int)o.workers;
    tasker_t *t = cli_open_opts(g, &o.lib);
    if (!t) goto out;
    runlog_print_history(t, g->dsn);
    if (!o.quiet && !(hooks.log = runlog_new(g->json, !o.quiet_events))) goto out;
    if (!(hooks.alerts = alerter_start(t, o.on_failure))) goto out;
    tasker_set_exec_hook(t, on_exec_done, &hooks);
    int err = tasker_register(t, "shell", shell_handler, NULL);
    install_signals(t);
    if (err == TASKER_OK && o.web) /* --web: after the log's hook, which it chains to */
        err = web_start(t, &(web_opts){.listen = o.web, .observe_runs = true,
                                       .token_file = getenv("TASKER_WEB_TOKEN_FILE")}, &web);
    if (err == TASKER_OK) err = tasker_start(t);
    if (err != TASKER_OK) {
        cli_lib_error(err, "run");
        goto out;
    }
    wake_fd = open_wakeup(g);
    log_retention(&o.lib);
    log_msg(LOG_PRIO_INFO, "daemon running on %s (pid %d); Ctrl-C stops", g->dsn, (int)getpid());
    if (web) log_msg(LOG_PRIO_INFO, "web on http://%s/", web_address(web));
    serve(t, wake_fd);
    shut_down(t, o.grace_s);
    rc = CLI_OK;
out:
    daemon_handle = NULL;
    web_stop(web); /* --web: before the handle it serves goes */
    if (t) tasker_shutdown(t, 0);                   /* when start failed: nothing runs after this */
    alerter_stop(hooks.alerts, ALERT_STOP_WAIT_MS); /* the last runs have finished */
    tasker_close(t);
    runlog_free(hooks.log); /* after close: the hook may run until then */
    if (wake_fd >= 0) close(wake_fd);
    close(stop_pipe[0]);
    close(stop_pipe[1]);
    if (rc == CLI_OK) log_msg(LOG_PRIO_INFO, "stopped");
    return rc;
}
