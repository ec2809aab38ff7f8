/* `tasker nodes`: the nodes sharing the store (cluster mode, docs/cluster.md), with
 * their heartbeats, whether they are alive, and the runs they hold. */
#include "cli/cli.h"
#include "cli/output.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_LEASE_MS 10000 /* the library's default lease (tasker_options.lease_ms) */

static const char nodes_help[] =
    "usage: tasker nodes [--lease-ms MS] [--json]\n"
    "\n"
    "Lists the nodes (processes running tasker on any host) that share the store, live\n"
    "ones and those dead recently, by node id: host, pid, when it started, its last\n"
    "heartbeat and how long ago that was, its state, the runs it holds now and the\n"
    "handlers it has registered, and its clock's skew from the store's (SKEW). A node\n"
    "whose last heartbeat (on the store's clock) is older than the lease is dead; the\n"
    "other nodes then mark its running runs interrupted. One that closed is stopped.\n"
    "\n"
    "Options:\n"
    "  --lease-ms MS  the lease the nodes run with, to tell live from dead\n"
    "                 (default 10000, the library's default)\n"
    "  --json         print JSON\n";

/* The library judges liveness on the store's clock with this handle's lease (the
 * --lease-ms given); a node that closed cleanly is "stopped". */
static const char *node_state(const tasker_node *nd)
{
    return nd->stopped_us ? "stopped" : nd->alive ? "live" : "dead";
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The handlers' JSON array as "a, b, c" for a table cell (into buf), sorted: the node
 * lists them in no particular order, and a row should not change with it. */
static const char *handlers_text(const char *json, char *buf, size_t size)
{
    json_t *a = json_from_text(json);
    size_t o = 0, n = 0, i;
    json_t *v;
    buf[0] = '\0';
    const char **names = calloc(json_array_size(a) + 1, sizeof *names);
    json_array_foreach(a, i, v) {
        if (names && json_is_string(v)) names[n++] = json_string_value(v);
    }
    if (n) qsort(names, n, sizeof *names, cmp_str);
    for (i = 0; i < n && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s%s", o ? ", " : "", names[i]);
    free(names);
    json_decref(a);
    return buf;
}

static json_t *json_node(const tasker_node *nd, int64_t now)
{
    char started[FMT_TIME_SIZE] = "", heartbeat[FMT_TIME_SIZE] = "";
    if (nd->started_us) fmt_iso_utc(nd->started_us, started);
    if (nd->heartbeat_us) fmt_iso_utc(nd->heartbeat_us, heartbeat);
    return json_pack("{s:s?, s:s?, s:I, s:I, s:s?, s:I, s:s?, s:I, s:s, s:i, s:o, s:I}", "node_id",
                     nd->node_id, "host", nd->host, "pid", (json_int_t)nd->pid, "started_us",
                     (json_int_t)nd->started_us, "started_at", started[0] ? started : NULL,
                     "heartbeat_us", (json_int_t)nd->heartbeat_us, "heartbeat_at",
                     heartbeat[0] ? heartbeat : NULL, "heartbeat_age_ms",
                     (json_int_t)((now - nd->heartbeat_us) / 1000), "state",
                     node_state(nd), "running", nd->running, "handlers",
                     json_from_text(nd->handlers), "clock_skew_us", (json_int_t)nd->clock_skew_us);
}

static int print_nodes(const cli_global *g, const tasker_node *v, size_t n)
{
    int64_t now = now_us();
    if (g->json) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n; i++) json_array_append_new(arr, json_node(&v[i], now));
        return out_json(arr);
    }
    static const char *const headers[] = {"NODE",  "HOST",    "PID",     "STARTED", "HEARTBEAT",
                                          "STATE", "RUNNING", "SKEW",    "HANDLERS"};
    out_table *tb = table_new(9, headers);
    if (!tb) return CLI_FAIL;
    table_set_max_width(tb, 8, 60);
    for (size_t i = 0; i < n; i++) {
        char pid[24], started[FMT_TIME_SIZE], age[FMT_TIME_SIZE], beat[FMT_TIME_SIZE + 8],
            running[16], handlers[512], skew[32];
        snprintf(pid, sizeof pid, "%" PRId64, v[i].pid);
        fmt_local_time(v[i].started_us, started);
        fmt_duration(now - v[i].heartbeat_us, age);
        snprintf(beat, sizeof beat, "%s ago", age);
        snprintf(running, sizeof running, "%d", v[i].running);
        snprintf(skew, sizeof skew, "%+.3fs", (double)v[i].clock_skew_us / 1e6);
        const char *state = node_state(&v[i]);
        const char *cells[] = {v[i].node_id, v[i].host, pid, started, beat, state, running, skew,
                               handlers_text(v[i].handlers, handlers, sizeof handlers)};
        cli_colour colours[9] = {0};
        colours[5] = strcmp(state, "live") == 0 ? CLR_GREEN : strcmp(state, "dead") == 0 ? CLR_RED : CLR_NONE;
        table_add_row(tb, cells, colours);
    }
    table_print(tb, stdout);
    table_free(tb);
    return CLI_OK;
}

int cmd_nodes(cli_global *g, int argc, char **argv)
{
    static const struct option options[] = {
        {"lease-ms", required_argument, NULL, 'L'}, CLI_GLOBAL_OPTIONS, {0}};
    long lease_ms = DEFAULT_LEASE_MS;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        if (cli_global_option(g, c, optarg)) continue;
        if (c == 'L') {
            if (!cli_parse_int(optarg, 1, 86400000L, &lease_ms))
                return cli_usage_error("nodes", "nodes: --lease-ms '%s': expected 1 to 86400000",
                                       optarg);
        } else {
            return cli_bad_option("nodes", c, argv);
        }
    }
    if (g->help) return cli_help(nodes_help);
    if (optind != argc)
        return cli_usage_error("nodes", "nodes: unexpected argument '%s'", argv[optind]);

    tasker_options opt = {.workers = -1, .lease_ms = lease_ms};
    tasker_t *t = cli_open_opts(g, &opt);
    if (!t) return CLI_FAIL;
    tasker_node *v = NULL;
    size_t n = 0;
    int err = tasker_list_nodes(t, &v, &n);
    int rc = err == TASKER_OK ? print_nodes(g, v, n) : cli_lib_error(err, "nodes");
    tasker_free_nodes(v, n);
    tasker_close(t);
    return rc;
}
