/* `tasker run`: the daemon. It fires schedules and runs triggered tasks with the
 * built-in `shell` handler, wakes on a datagram from `tasker trigger` (wakeup.c), logs
 * each finished run with its events (runlog.c), and on SIGINT/SIGTERM stops
 * gracefully: no new runs, a grace period for running ones, then an interrupt (the
 * shell handler kills its process group and the run is recorded as interrupted). */
#include "cli/cli.h"
#include "cli/runlog.h"
#include "cli/shell.h"
#include "cli/wakeup.h"
#include "web/web.h" /* --web */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define INTERRUPT_WAIT_MS 10000 /* after the interrupt, how long handlers get to return */

static const char run_help[] =
    "usage: tasker run [--workers N] [--grace SECONDS] [--quiet | --quiet-events] [--json]\n"
    "\n"
    "The daemon: fires the schedules of the store and runs triggered tasks, with the\n"
    "built-in handler 'shell'. `tasker trigger` on the same store wakes it at once.\n"
    "On start it says how many earlier runs the store holds. Then it prints a line per\n"
    "finished run (and per skipped fire), with the run's events indented under it.\n"
    "SIGINT or SIGTERM stops it: no new runs start, running ones get the grace period,\n"
    "then are killed and recorded as interrupted. A second signal skips the rest of\n"
    "the grace period.\n"
    "\n"
    "Options:\n"
    "  --workers N      runs at once (default: the number of CPUs)\n"
    "  --grace S        seconds running tasks get to finish on stop (default 10)\n"
    "  --quiet          do not print finished runs\n"
    "  --quiet-events   print the run lines only, not the events under them\n"
    "  --web ADDR:PORT  serve the dashboard, API and metrics (docs/web.md); a token\n"
    "                   from the file $TASKER_WEB_TOKEN_FILE, if set\n"
    "  --json           print finished runs as JSON, one object per line (with an\n"
    "                   \"events\" array unless --quiet-events)\n";

typedef struct run_opts {
    long workers, grace_s;
    bool quiet, quiet_events;
    const char *web; /* --web ADDR:PORT */
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

static int parse_options(cli_global *g, int argc, char **argv, run_opts *o)
{
    static const struct option options[] = {{"workers", required_argument, NULL, 'w'},
                                            {"grace", required_argument, NULL, 'g'},
                                            {"quiet", no_argument, NULL, 'q'},
                                            {"quiet-events", no_argument, NULL, 'e'},
                                            {"web", required_argument, NULL, 'W'},
                                            CLI_GLOBAL_OPTIONS,
                                            {0}};
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":hq", options, NULL)) != -1) {
        if (cli_global_option(g, c, optarg)) continue;
        if (c == 'w' && !cli_parse_int(optarg, 1, 1024, &o->workers))
            return cli_usage_error("run", "run: --workers '%s': expected 1 to 1024", optarg);
        if (c == 'g' && !cli_parse_int(optarg, 0, 86400, &o->grace_s))
            return cli_usage_error("run", "run: --grace '%s': expected seconds", optarg);
        if (c == 'q') o->quiet = true;
        if (c == 'e') o->quiet_events = true;
        if (c == 'W') o->web = optarg;
        if (!strchr("wgqeW", c)) return cli_bad_option("run", c, argv);
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

/* The graceful part of stopping: waits for running handlers for up to grace_s (cut
 * short by another signal), then interrupts the rest. */
static void shut_down(tasker_t *t, long grace_s)
{
    int running = tasker_running_count(t);
    if (running > 0)
        fprintf(stderr, "tasker: stopping; %d run(s) still going get %lds to finish\n", running,
                grace_s);
    sig_atomic_t seen = stop_requests;
    for (long waited_ms = 0; waited_ms < grace_s * 1000; waited_ms += 100) {
        if (tasker_drain(t, 100) == TASKER_OK) return;
        if (stop_requests != seen) break; /* asked again: stop waiting */
    }
    if (tasker_drain(t, 0) == TASKER_OK) return;
    fprintf(stderr, "tasker: interrupting %d run(s)\n", tasker_running_count(t));
    tasker_interrupt(t);
    if (tasker_drain(t, INTERRUPT_WAIT_MS) != TASKER_OK) {
        fprintf(stderr, "tasker: %d handler(s) did not return; waiting for them\n",
                tasker_running_count(t));
        tasker_drain(t, -1); /* tasker_close would wait for them too */
    }
}

static int open_wakeup(const cli_global *g)
{
    if (!wakeup_supported(g->dsn)) return -1;
    int fd = wakeup_listen(g->dsn);
    if (fd < 0 && errno == EADDRINUSE)
        fprintf(stderr,
                "tasker: warning: another daemon already runs on %s; "
                "triggers will wake that one\n",
                g->dsn);
    else if (fd < 0)
        fprintf(stderr,
                "tasker: warning: no wakeup socket (%s); triggers are seen "
                "within a second\n",
                strerror(errno));
    return fd;
}

int cmd_run(cli_global *g, int argc, char **argv)
{
    run_opts o = {.workers = 0, .grace_s = 10};
    int rc = parse_options(g, argc, argv, &o);
    if (rc >= 0) return rc;
    if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        cli_errorf("run: pipe: %s", strerror(errno));
        return CLI_FAIL;
    }
    rc = CLI_FAIL;
    int wake_fd = -1;
    runlog *log = NULL;
    web_server *web = NULL;
    tasker_t *t = cli_open(g, (int)o.workers);
    if (!t) goto out;
    runlog_print_history(stderr, t, g->dsn);
    if (!o.quiet && !(log = runlog_start(t, g->json, !o.quiet_events))) goto out;
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
    fprintf(stderr, "tasker: daemon running on %s (pid %d); Ctrl-C stops\n", g->dsn, (int)getpid());
    if (web) fprintf(stderr, "tasker: web on http://%s/\n", web_address(web));
    serve(t, wake_fd);
    shut_down(t, o.grace_s);
    rc = CLI_OK;
out:
    daemon_handle = NULL;
    web_stop(web); /* --web: before the handle it serves goes */
    tasker_close(t);
    runlog_free(log); /* after close: the hook may run until then */
    if (wake_fd >= 0) close(wake_fd);
    close(stop_pipe[0]);
    close(stop_pipe[1]);
    return rc;
}
