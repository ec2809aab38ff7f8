/* The daemon's log of finished runs. The library calls the exec hook once it has stored
 * an outcome, so the log shows exactly what `tasker exec show` will: every run of this
 * daemon (the shell handler's, runs of unknown handlers, interrupted ones) and every
 * fire the schedule loop skipped. The hook runs on worker threads and the schedule
 * thread: it reads the run's events and formats everything into a buffer of its own,
 * then writes the buffer under a mutex, so the lines of two runs never interleave and
 * the lock is held only for one write. Also the summary of earlier runs printed when the
 * daemon starts, so a restart shows that the history is still there. */
#include "cli/runlog.h"
#include "cli/follow.h"
#include "cli/output.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Events printed under one run; the rest are in `tasker exec show`. */
#define LOG_MAX_EVENTS 100
#define EVENT_INDENT "    "

struct runlog {
    bool json, events;
    pthread_mutex_t write_lock; /* one run's output is written whole */
};

/* "    [warning] message", coloured for warnings and errors; control characters become
 * spaces (a command's output must not drive the terminal), a newline continues the
 * message on an indented line. */
static void print_log_event(FILE *f, const tasker_task_event *ev)
{
    cli_colour colour = out_level_colour(ev->level);
    fprintf(f, EVENT_INDENT "%s[%s] ", out_colour_on(colour), tasker_level_name(ev->level));
    for (const char *p = ev->message ? ev->message : ""; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '\n')
            fputs("\n" EVENT_INDENT "  ", f);
        else
            fputc(ch < 0x20 || ch == 0x7f ? ' ' : ch, f);
    }
    fprintf(f, "%s\n", out_colour_off(colour));
}

static void format_text(FILE *f, const tasker_task_exec *e, const tasker_task_event *evs, size_t n)
{
    print_run_line(f, e);
    size_t shown = n > LOG_MAX_EVENTS ? LOG_MAX_EVENTS : n;
    for (size_t i = 0; i < shown; i++)
        print_log_event(f, &evs[i]);
    if (n > shown)
        fprintf(f, EVENT_INDENT "... %zu more events: tasker exec show %s\n", n - shown,
                e->exec_id);
}

static void format_json(FILE *f, const tasker_task_exec *e, const tasker_task_event *evs, size_t n,
                        bool with_events)
{
    json_t *o = json_exec(e);
    if (!o) return;
    if (with_events) {
        json_t *events = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(events, json_event(&evs[i]));
        json_object_set_new(o, "events", events);
    }
    json_dumpf(o, f, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fputc('\n', f);
    json_decref(o);
}

static void on_exec_done(tasker_t *t, const tasker_task_exec *e, void *udata)
{
    runlog *log = udata;
    if (!log) return;
    tasker_task_event *evs = NULL;
    size_t n = 0;
    /* A skipped fire never ran: it has no events to read. */
    if (log->events && e->status != TASKER_EXEC_SKIPPED &&
        tasker_list_events(t, e->exec_id, &evs, &n) != TASKER_OK)
        fprintf(stderr, "tasker: exec %s: its events: %s\n", e->exec_id, tasker_last_error());
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f) {
        if (log->json)
            format_json(f, e, evs, n, log->events);
        else
            format_text(f, e, evs, n);
        fclose(f);
        pthread_mutex_lock(&log->write_lock);
        fwrite(buf, 1, len, stdout);
        fflush(stdout);
        pthread_mutex_unlock(&log->write_lock);
    }
    free(buf);
    tasker_free_events(evs, n);
}

runlog *runlog_start(tasker_t *t, bool json, bool events)
{
    runlog *log = calloc(1, sizeof *log);
    if (!log) return NULL;
    log->json = json;
    log->events = events;
    pthread_mutex_init(&log->write_lock, NULL);
    (void)out_colour_enabled(); /* decide it now, before threads ask at once */
    tasker_set_exec_hook(t, on_exec_done, log);
    return log;
}

void runlog_free(runlog *log)
{
    if (!log) return;
    pthread_mutex_destroy(&log->write_lock);
    free(log);
}

/* "9 success, 3 failed, 2 pending" into buf. */
static void format_counts(const size_t count[TASKER_EXEC_SKIPPED + 1], char *buf, size_t size)
{
    static const tasker_exec_status order[] = {TASKER_EXEC_SUCCESS,     TASKER_EXEC_FAILED,
                                               TASKER_EXEC_INTERRUPTED, TASKER_EXEC_SKIPPED,
                                               TASKER_EXEC_RUNNING,     TASKER_EXEC_PENDING};
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof order / sizeof *order && used < size; i++) {
        if (!count[order[i]]) continue;
        int w = snprintf(buf + used, size - used, "%s%zu %s", used ? ", " : "", count[order[i]],
                         tasker_exec_status_name(order[i]));
        if (w > 0) used += (size_t)w;
    }
}

void runlog_print_history(FILE *f, tasker_t *t, const char *dsn)
{
    tasker_task_exec *v = NULL;
    size_t n = 0;
    if (tasker_list_execs(t, NULL, &v, &n) != TASKER_OK) {
        fprintf(f, "tasker: cannot read the earlier runs in %s: %s\n", dsn, tasker_last_error());
        return;
    }
    if (n == 0) {
        fprintf(f, "tasker: no earlier runs in %s\n", dsn);
        return;
    }
    size_t count[TASKER_EXEC_SKIPPED + 1] = {0};
    const tasker_task_exec *last = NULL;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned)v[i].status <= TASKER_EXEC_SKIPPED) count[v[i].status]++;
        if (exec_finished(v[i].status) && (!last || v[i].end_us > last->end_us)) last = &v[i];
    }
    char counts[256], when[FMT_TIME_SIZE];
    format_counts(count, counts, sizeof counts);
    fprintf(f, "tasker: %zu earlier run%s in %s (%s)", n, n == 1 ? "" : "s", dsn, counts);
    if (last) {
        fmt_local_time(last->end_us, when);
        fprintf(f, "; last: %s %s at %s", last->task_id, tasker_exec_status_name(last->status),
                when);
    }
    fputc('\n', f);
    tasker_free_execs(v, n);
}
