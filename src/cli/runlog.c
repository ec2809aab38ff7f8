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
#include "cli/log.h"
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

/* Copies text to f with prefix at the start of each of its lines (journald's level
 * prefix, or ""): a message or error that holds newlines keeps its priority on every
 * line. */
static void put_prefixed(FILE *f, const char *text, size_t len, const char *prefix)
{
    bool line_start = true;
    for (size_t i = 0; i < len; i++) {
        if (line_start) fputs(prefix, f);
        fputc(text[i], f);
        line_start = text[i] == '\n';
    }
}

/* The run line, then each event, goes through a memory stream of its own and is copied
 * to f with the prefix of its priority on each line. */
static void put_run_line(FILE *f, const tasker_task_exec *e)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *pf = open_memstream(&buf, &len);
    if (!pf) return;
    print_run_line(pf, e);
    fclose(pf);
    put_prefixed(f, buf, len, log_prefix(stdout, log_status_prio(e->status)));
    free(buf);
}

static void put_event(FILE *f, const tasker_task_event *ev)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *pf = open_memstream(&buf, &len);
    if (!pf) return;
    print_log_event(pf, ev);
    fclose(pf);
    put_prefixed(f, buf, len, log_prefix(stdout, log_level_prio(ev->level)));
    free(buf);
}

static void format_text(FILE *f, const tasker_task_exec *e, const tasker_task_event *evs, size_t n)
{
    put_run_line(f, e);
    size_t shown = n > LOG_MAX_EVENTS ? LOG_MAX_EVENTS : n;
    for (size_t i = 0; i < shown; i++)
        put_event(f, &evs[i]);
    if (n > shown)
        fprintf(f, "%s" EVENT_INDENT "... %zu more events: tasker exec show %s\n",
                log_prefix(stdout, LOG_PRIO_INFO), n - shown, e->exec_id);
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

void runlog_exec_done(runlog *log, tasker_t *t, const tasker_task_exec *e)
{
    if (!log) return;
    tasker_task_event *evs = NULL;
    size_t n = 0;
    /* A skipped fire never ran: it has no events to read. */
    if (log->events && e->status != TASKER_EXEC_SKIPPED &&
        tasker_list_events(t, e->exec_id, &evs, &n) != TASKER_OK)
        log_msg(LOG_PRIO_WARNING, "exec %s: its events: %s", e->exec_id, tasker_last_error());
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

runlog *runlog_new(bool json, bool events)
{
    runlog *log = calloc(1, sizeof *log);
    if (!log) return NULL;
    log->json = json;
    log->events = events;
    pthread_mutex_init(&log->write_lock, NULL);
    (void)out_colour_enabled(); /* decide it now, before threads ask at once */
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

void runlog_print_history(tasker_t *t, const char *dsn)
{
    tasker_task_exec *v = NULL;
    size_t n = 0;
    if (tasker_list_execs(t, NULL, &v, &n) != TASKER_OK) {
        log_msg(LOG_PRIO_WARNING, "cannot read the earlier runs in %s: %s", dsn,
                tasker_last_error());
        return;
    }
    if (n == 0) {
        log_msg(LOG_PRIO_INFO, "no earlier runs in %s", dsn);
        return;
    }
    size_t count[TASKER_EXEC_SKIPPED + 1] = {0};
    const tasker_task_exec *last = NULL;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned)v[i].status <= TASKER_EXEC_SKIPPED) count[v[i].status]++;
        if (exec_finished(v[i].status) && (!last || v[i].end_us > last->end_us)) last = &v[i];
    }
    char counts[256], when[FMT_TIME_SIZE], last_text[TASKER_ID_SIZE + 128] = "";
    format_counts(count, counts, sizeof counts);
    if (last) {
        fmt_local_time(last->end_us, when);
        snprintf(last_text, sizeof last_text, "; last: %s %s at %s", last->task_id,
                 tasker_exec_status_name(last->status), when);
    }
    log_msg(LOG_PRIO_INFO, "%zu earlier run%s in %s (%s)%s", n, n == 1 ? "" : "s", dsn, counts,
            last_text);
    tasker_free_execs(v, n);
}
