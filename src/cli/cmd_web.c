/* `tasker web`: the dashboard, the HTTP API and /metrics for a store, without running
 * anything: its handle has no workers, so a trigger from the page stays pending for the
 * daemon (`tasker run`), which is woken as `tasker trigger` wakes it. The server itself
 * is src/web. */
#include "cli/cli.h"
#include "web/web.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static const char web_help[] =
    "usage: tasker web [--listen ADDR:PORT] [--token-file FILE] [--read-only]\n"
    "\n"
    "Serves the store's dashboard, its JSON API (/api/v1/...) and Prometheus metrics\n"
    "(/metrics) over HTTP, until SIGINT or SIGTERM. Runs are done by the daemon\n"
    "(`tasker run`, which can serve the same with --web ADDR:PORT). See docs/web.md.\n"
    "\n"
    "Options:\n"
    "  --listen ADDR:PORT  where to listen (default 127.0.0.1:8080; port 0: any free\n"
    "                      port, printed at start). Without a token only loopback\n"
    "                      addresses are allowed.\n"
    "  --token-file FILE   require 'Authorization: Bearer TOKEN' on /api and /metrics,\n"
    "                      TOKEN being the first line of FILE\n"
    "  --read-only         refuse every POST (trigger and the rest) with 403\n";

static int parse_options(cli_global *g, int argc, char **argv, web_opts *o)
{
    static const struct option options[] = {{"listen", required_argument, NULL, 'l'},
                                            {"token-file", required_argument, NULL, 't'},
                                            {"read-only", no_argument, NULL, 'r'},
                                            CLI_GLOBAL_OPTIONS,
                                            {0}};
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        if (cli_global_option(g, c, optarg)) continue;
        if (c == 'l')
            o->listen = optarg;
        else if (c == 't')
            o->token_file = optarg;
        else if (c == 'r')
            o->read_only = true;
        else
            return cli_bad_option("web", c, argv);
    }
    if (g->help) return cli_help(web_help);
    if (optind != argc)
        return cli_usage_error("web", "web: unexpected argument '%s'", argv[optind]);
    return -1;
}

int cmd_web(cli_global *g, int argc, char **argv)
{
    web_opts o = {.wake_dsn = g->dsn};
    int rc = parse_options(g, argc, argv, &o);
    if (rc >= 0) return rc;
    /* The signals are taken by sigwait below: blocked before the server's threads
     * exist, so none of them is interrupted by one. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    tasker_t *t = cli_open(g, -1);
    if (!t) return CLI_FAIL;
    web_server *srv = NULL;
    int err = web_start(t, &o, &srv);
    if (err != TASKER_OK) {
        rc = cli_lib_error(err, "web");
        tasker_close(t);
        return rc;
    }
    fprintf(stderr, "tasker: web on http://%s/ for %s%s (pid %d); Ctrl-C stops\n", web_address(srv),
            g->dsn, o.read_only ? ", read-only" : "", (int)getpid());
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "tasker: web: stopping\n");
    web_stop(srv);
    tasker_close(t);
    return CLI_OK;
}
