/* One cluster node for the multi-node tests (tests/test_cluster_*.sh): a tasker_run
 * daemon on a shared store, written against the public API only.
 *
 *   tasker-test-node --dsn DSN --name NAME --log FILE [--workers N] [--skew-ms MS]
 *                    [--heartbeat-ms MS] [--lease-ms MS] [--poll-ms MS] [--no-sleep]
 *
 * Host name: as root the node enters a UTS namespace of its own and takes NAME as its
 * host name, so the library's default node id ("hostname:pid") names another host, as
 * on a real cluster. Otherwise the node id is set to "NAME:pid" (the host part is what
 * tells nodes apart). Clock skew: --skew-ms gives the library a clock that is the real
 * one plus MS, as a node whose clock is off would have.
 *
 * Handlers: `mark` appends "exec_id node_id start_us scheduled_us task_id" to the log
 * with one write() on an O_APPEND descriptor, so lines of concurrent nodes never mix and
 * a run executed twice shows up twice even when the store never knew; start_us is the
 * real clock, not the skewed one. `sleep` (params {"ms": N}) logs the same way, then
 * sleeps N ms or until cancelled; --no-sleep leaves it unregistered.
 *
 * Prints "ready NODE_ID HOST PID" once the store is open and the handlers registered,
 * runs until SIGTERM or SIGINT, then shuts down gracefully (tasker_shutdown). */
#include <tasker/context.h>
#include <tasker/tasker.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SHUTDOWN_GRACE_MS 5000

static tasker_t *node;     /* for the signal handler */
static int log_fd = -1;
static char node_id[256];

static int64_t real_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The library's clock on a node whose clock is off by *skew_ms. */
static int64_t skewed_clock_us(void *udata)
{
    return real_now_us() + *(const int64_t *)udata * 1000;
}

/* One line, one write(): O_APPEND makes it atomic against the other nodes' lines. */
static int log_start(tasker_ctx *c, int64_t start_us)
{
    char line[512];
    int len = snprintf(line, sizeof line, "%s %s %" PRId64 " %" PRId64 " %s\n",
                       tasker_exec_id(c), node_id, start_us, tasker_scheduled_us(c),
                       tasker_task_id(c));
    if (len <= 0 || (size_t)len >= sizeof line || write(log_fd, line, (size_t)len) != len)
        return tasker_failed(c, "node: cannot append to the start log: %s", strerror(errno));
    return 0;
}

static int mark_handler(tasker_ctx *c) { return log_start(c, real_now_us()); }

static int sleep_handler(tasker_ctx *c)
{
    int64_t start_us = real_now_us();
    int ms = 0;
    if (tasker_bind(c, "{s:i}", "ms", &ms) != TASKER_OK) return 1;
    if (log_start(c, start_us) != 0) return 1;
    const struct timespec step = {0, 10 * 1000000L};
    while (!tasker_cancelled(c) && real_now_us() - start_us < (int64_t)ms * 1000)
        nanosleep(&step, NULL);
    return 0;
}

static void on_signal(int sig)
{
    (void)sig;
    tasker_stop(node); /* async-signal-safe */
}

/* As root: a UTS namespace of our own, named name; else false (node id set by hand). */
static bool own_host_name(const char *name)
{
    if (geteuid() != 0) return false;
    if (unshare(CLONE_NEWUTS) != 0 || sethostname(name, strlen(name)) != 0) {
        fprintf(stderr, "node: no UTS namespace (%s); using node id %s:PID\n",
                strerror(errno), name);
        return false;
    }
    return true;
}

static int usage(void)
{
    fputs("usage: tasker-test-node --dsn DSN --name NAME --log FILE [--workers N]\n"
          "       [--skew-ms MS] [--heartbeat-ms MS] [--lease-ms MS] [--poll-ms MS]"
          " [--no-sleep]\n",
          stderr);
    return 2;
}

/* The command line. */
typedef struct {
    const char *dsn, *name, *log_path;
    int64_t skew_ms;
    bool with_sleep;
    tasker_options opt;
} node_config;

static bool parse_args(int argc, char **argv, node_config *cfg)
{
    static const struct option options[] = {
        {"dsn", required_argument, NULL, 'd'},      {"name", required_argument, NULL, 'n'},
        {"log", required_argument, NULL, 'l'},      {"workers", required_argument, NULL, 'w'},
        {"skew-ms", required_argument, NULL, 's'},  {"heartbeat-ms", required_argument, NULL, 'H'},
        {"lease-ms", required_argument, NULL, 'L'}, {"poll-ms", required_argument, NULL, 'P'},
        {"no-sleep", no_argument, NULL, 'N'},       {0}};
    /* All history kept: the tests read every execution back. */
    *cfg = (node_config){.with_sleep = true,
                         .opt = {.max_execs_per_task = -1, .max_exec_age_s = -1}};
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 'd': cfg->dsn = optarg; break;
        case 'n': cfg->name = optarg; break;
        case 'l': cfg->log_path = optarg; break;
        case 'w': cfg->opt.workers = atoi(optarg); break;
        case 's': cfg->skew_ms = strtoll(optarg, NULL, 10); break;
        case 'H': cfg->opt.heartbeat_ms = strtoll(optarg, NULL, 10); break;
        case 'L': cfg->opt.lease_ms = strtoll(optarg, NULL, 10); break;
        case 'P': cfg->opt.poll_ms = strtoll(optarg, NULL, 10); break;
        case 'N': cfg->with_sleep = false; break;
        default: return false;
        }
    }
    return cfg->dsn && cfg->name && cfg->log_path && optind == argc;
}

/* Names the node (see the top comment) into node_id and host. */
static void name_node(node_config *cfg, char host[256])
{
    if (own_host_name(cfg->name)) {
        cfg->opt.node_id = NULL; /* the library's default: our host name and pid */
        gethostname(host, 256);
        host[255] = '\0';
    } else {
        snprintf(host, 256, "%s", cfg->name);
        cfg->opt.node_id = node_id;
    }
    snprintf(node_id, sizeof node_id, "%.200s:%ld", host, (long)getpid());
}

int main(int argc, char **argv)
{
    static node_config cfg; /* static: the clock reads cfg.skew_ms until exit */
    if (!parse_args(argc, argv, &cfg)) return usage();
    log_fd = open(cfg.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
        fprintf(stderr, "node: %s: %s\n", cfg.log_path, strerror(errno));
        return 1;
    }
    char host[256];
    name_node(&cfg, host);
    if (cfg.skew_ms != 0) {
        cfg.opt.clock = skewed_clock_us;
        cfg.opt.clock_udata = &cfg.skew_ms;
    }

    node = tasker_open_opts(cfg.dsn, &cfg.opt);
    if (!node) {
        fprintf(stderr, "node %s: open: %s\n", node_id, tasker_last_error());
        return 1;
    }
    tasker_register(node, "mark", mark_handler, NULL);
    if (cfg.with_sleep) tasker_register(node, "sleep", sleep_handler, NULL);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    printf("ready %s %s %ld\n", node_id, host, (long)getpid());
    fflush(stdout);
    int rc = tasker_run(node);
    if (rc != TASKER_OK) fprintf(stderr, "node %s: run: %s\n", node_id, tasker_last_error());
    tasker_shutdown(node, SHUTDOWN_GRACE_MS);
    tasker_close(node);
    close(log_fd);
    return rc == TASKER_OK ? 0 : 1;
}
