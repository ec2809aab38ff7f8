/* Following an execution by polling the store, and printing events and run lines. */
#include "cli/follow.h"
#include "cli/output.h"

#include <tasker/storage.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define POLL_MIN_MS 20
#define POLL_MAX_MS 100

static volatile sig_atomic_t interrupt_requests;

static void on_interrupt(int sig)
{
    if (interrupt_requests++ > 0) {
        /* Second request: the user wants out now. */
        signal(sig, SIG_DFL);
        raise(sig);
    }
}

void follow_catch_interrupt(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

bool exec_finished(tasker_exec_status s)
{
    return s == TASKER_EXEC_SUCCESS || s == TASKER_EXEC_FAILED || s == TASKER_EXEC_INTERRUPTED ||
           s == TASKER_EXEC_SKIPPED;
}

void print_event(FILE *f, const tasker_task_event *ev)
{
    char when[FMT_TIME_SIZE];
    fmt_local_time_ms(ev->time_us, when);
    cli_colour colour = out_level_colour(ev->level);
    /* The clock part only: the date is in the run's header. */
    const char *clock_part = strlen(when) > 11 ? when + 11 : when;
    fprintf(f, "%s  %s%-7s%s  %s\n", clock_part, out_colour_on(colour),
            tasker_level_name(ev->level), out_colour_off(colour), ev->message ? ev->message : "");
}

void print_run_line(FILE *f, const tasker_task_exec *e)
{
    char when[FMT_TIME_SIZE], took[FMT_TIME_SIZE];
    fmt_local_time(e->end_us ? e->end_us : e->queued_us, when);
    fmt_exec_duration(e, now_us(), took);
    cli_colour colour = out_status_colour(e->status);
    fprintf(f, "%s  %-16s  %s%-11s%s  %6s  exec %s  %s\n", when, e->task_id, out_colour_on(colour),
            tasker_exec_status_name(e->status), out_colour_off(colour), took, e->exec_id,
            fmt_exec_outcome(e));
    fflush(f);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL); /* a signal cuts it short, which is what we want */
}

/* Prints the events after *last_id; returns how many were new. */
static int print_new_events(tasker_t *t, const char *exec_id, int64_t *last_id, bool quiet,
                            int *err)
{
    tasker_task_event *evs = NULL;
    size_t n = 0;
    int fresh = 0;
    *err = tasker_list_events(t, exec_id, &evs, &n);
    for (size_t i = 0; *err == TASKER_OK && i < n; i++) {
        if (evs[i].event_id <= *last_id) continue;
        *last_id = evs[i].event_id;
        fresh++;
        if (!quiet) print_event(stdout, &evs[i]);
    }
    if (fresh) fflush(stdout);
    tasker_free_events(evs, n);
    return fresh;
}

/* True when node_id names a process of this host that no longer exists (node ids are
 * "hostname:pid" unless a program chose its own; any other shape counts as alive). */
static bool node_gone(const char *node_id)
{
    const char *colon = node_id ? strrchr(node_id, ':') : NULL;
    char host[256];
    if (!colon || gethostname(host, sizeof host) != 0) return false;
    host[sizeof host - 1] = '\0';
    size_t host_len = strlen(host);
    if ((size_t)(colon - node_id) != host_len || strncmp(node_id, host, host_len) != 0)
        return false;
    char *end;
    long pid = strtol(colon + 1, &end, 10);
    if (*end || pid <= 0) return false;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

int follow_exec(tasker_t *t, const char *exec_id, int timeout_ms, bool quiet, tasker_task_exec *out)
{
    int64_t deadline_us = timeout_ms < 0 ? 0 : now_us() + (int64_t)timeout_ms * 1000;
    int64_t last_event_id = -1;
    int wait_ms = POLL_MIN_MS, err;
    bool interrupted = false;
    memset(out, 0, sizeof *out);
    for (;;) {
        /* The state first, then the events: a run seen finished here has all its
         * events stored already, so the last listing below is complete. */
        tasker_exec_clear(out);
        if ((err = tasker_get_exec(t, exec_id, out)) != TASKER_OK) return err;
        int fresh = print_new_events(t, exec_id, &last_event_id, quiet, &err);
        if (err != TASKER_OK) return err;
        if (exec_finished(out->status)) return TASKER_OK;
        /* A daemon killed mid-run leaves the run `running` until a tasker opens the
         * store again: waiting for it would never end. */
        if (out->status == TASKER_EXEC_RUNNING && node_gone(out->node_id))
            return tasker_set_error(TASKER_ESTATE,
                                    "exec %s: the process running it (%s) is gone; the run "
                                    "will be marked interrupted when a daemon starts",
                                    exec_id, out->node_id);
        if (interrupt_requests && !interrupted) {
            interrupted = true;
            fprintf(stderr, "tasker: interrupting the run (Ctrl-C again to leave now)\n");
            tasker_interrupt(t);
        }
        if (deadline_us && now_us() >= deadline_us) return TASKER_ETIMEDOUT;
        wait_ms = fresh ? POLL_MIN_MS : (wait_ms * 2 > POLL_MAX_MS ? POLL_MAX_MS : wait_ms * 2);
        sleep_ms(wait_ms);
    }
}
