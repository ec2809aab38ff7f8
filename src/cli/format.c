/* Formatting for people: colour on a terminal, local and UTC times, durations. */
#include "cli/output.h"

#include <tasker/cron.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- colour ---------------------------------------------------------------------- */

bool out_colour_enabled(void)
{
    /* Decided once: stdout does not stop being a terminal halfway through. */
    static int enabled = -1;
    if (enabled < 0) {
        const char *no_colour = getenv("NO_COLOR");
        enabled = isatty(STDOUT_FILENO) && !(no_colour && *no_colour);
    }
    return enabled;
}

const char *out_colour_on(cli_colour c)
{
    static const char *codes[] = {
        [CLR_NONE] = "",           [CLR_RED] = "\033[31m",  [CLR_GREEN] = "\033[32m",
        [CLR_YELLOW] = "\033[33m", [CLR_CYAN] = "\033[36m", [CLR_DIM] = "\033[2m",
        [CLR_BOLD] = "\033[1m",
    };
    if (c == CLR_NONE || !out_colour_enabled() || (unsigned)c >= sizeof codes / sizeof *codes)
        return "";
    return codes[c];
}

const char *out_colour_off(cli_colour c)
{
    return c == CLR_NONE || !out_colour_enabled() ? "" : "\033[0m";
}

cli_colour out_status_colour(tasker_exec_status s)
{
    switch (s) {
    case TASKER_EXEC_SUCCESS: return CLR_GREEN;
    case TASKER_EXEC_FAILED: return CLR_RED;
    case TASKER_EXEC_INTERRUPTED:
    case TASKER_EXEC_SKIPPED: return CLR_YELLOW;
    case TASKER_EXEC_RUNNING: return CLR_CYAN;
    default: return CLR_DIM;
    }
}

cli_colour out_level_colour(tasker_level l)
{
    switch (l) {
    case TASKER_DEBUG: return CLR_DIM;
    case TASKER_WARNING: return CLR_YELLOW;
    case TASKER_ERROR: return CLR_RED;
    default: return CLR_NONE;
    }
}

/* ---- times ----------------------------------------------------------------------- */

int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Splits microseconds into whole seconds (floor, so times before 1970 stay right)
 * and the microseconds within that second. */
static time_t split_us(int64_t time_us, int *frac_us)
{
    int64_t s = time_us / 1000000, rem = time_us % 1000000;
    if (rem < 0) {
        rem += 1000000;
        s -= 1;
    }
    *frac_us = (int)rem;
    return (time_t)s;
}

static void format_tm(int64_t time_us, bool utc, const char *fmt, char buf[FMT_TIME_SIZE])
{
    int frac_us;
    time_t s = split_us(time_us, &frac_us);
    struct tm tm;
    if (!(utc ? gmtime_r(&s, &tm) : localtime_r(&s, &tm)) ||
        strftime(buf, FMT_TIME_SIZE, fmt, &tm) == 0)
        snprintf(buf, FMT_TIME_SIZE, "@%lld", (long long)time_us);
}

void fmt_local_time(int64_t time_us, char buf[FMT_TIME_SIZE])
{
    if (time_us == 0) {
        strcpy(buf, "-");
        return;
    }
    format_tm(time_us, false, "%Y-%m-%d %H:%M:%S", buf);
}

void fmt_local_time_ms(int64_t time_us, char buf[FMT_TIME_SIZE])
{
    int frac_us;
    split_us(time_us, &frac_us);
    format_tm(time_us, false, "%Y-%m-%d %H:%M:%S", buf);
    size_t len = strlen(buf);
    snprintf(buf + len, FMT_TIME_SIZE - len, ".%03d", frac_us / 1000);
}

void fmt_local_time_zone(int64_t time_us, char buf[FMT_TIME_SIZE])
{
    format_tm(time_us, false, "%a %Y-%m-%d %H:%M:%S %Z", buf);
}

void fmt_utc_time(int64_t time_us, char buf[FMT_TIME_SIZE])
{
    format_tm(time_us, true, "%a %Y-%m-%d %H:%M:%S UTC", buf);
}

void fmt_iso_utc(int64_t time_us, char buf[FMT_TIME_SIZE])
{
    int frac_us;
    split_us(time_us, &frac_us);
    format_tm(time_us, true, "%Y-%m-%dT%H:%M:%S", buf);
    size_t len = strlen(buf);
    snprintf(buf + len, FMT_TIME_SIZE - len, ".%06dZ", frac_us);
}

void fmt_duration(int64_t duration_us, char buf[FMT_TIME_SIZE])
{
    if (duration_us < 0) {
        strcpy(buf, "-");
        return;
    }
    int64_t ms = duration_us / 1000, s = duration_us / 1000000;
    if (ms < 1000)
        snprintf(buf, FMT_TIME_SIZE, "%lldms", (long long)ms);
    else if (s < 10)
        snprintf(buf, FMT_TIME_SIZE, "%lld.%llds", (long long)s, (long long)(ms % 1000) / 100);
    else if (s < 60)
        snprintf(buf, FMT_TIME_SIZE, "%llds", (long long)s);
    else if (s < 3600)
        snprintf(buf, FMT_TIME_SIZE, "%lldm%02llds", (long long)s / 60, (long long)s % 60);
    else if (s < 86400)
        snprintf(buf, FMT_TIME_SIZE, "%lldh%02lldm", (long long)s / 3600,
                 (long long)(s % 3600) / 60);
    else
        snprintf(buf, FMT_TIME_SIZE, "%lldd%02lldh", (long long)s / 86400,
                 (long long)(s % 86400) / 3600);
}

void fmt_span_s(int64_t seconds, char buf[FMT_TIME_SIZE])
{
    static const struct {
        char unit;
        int64_t seconds;
    } units[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof units / sizeof *units && seconds > 0; i++) {
        int64_t n = seconds / units[i].seconds;
        if (n == 0) continue;
        seconds -= n * units[i].seconds;
        int w = snprintf(buf + used, FMT_TIME_SIZE - used, "%lld%c", (long long)n, units[i].unit);
        if (w > 0 && (size_t)w < FMT_TIME_SIZE - used) used += (size_t)w;
    }
    if (used == 0) snprintf(buf, FMT_TIME_SIZE, "0s");
}

void fmt_coarse_span(int64_t span_us, char buf[FMT_TIME_SIZE])
{
    if (span_us < 0) {
        strcpy(buf, "-");
        return;
    }
    long long s = (long long)(span_us / 1000000);
    if (s < 60)
        snprintf(buf, FMT_TIME_SIZE, "%llds", s);
    else if (s < 3600)
        snprintf(buf, FMT_TIME_SIZE, "%lldm", s / 60);
    else if (s < 86400)
        snprintf(buf, FMT_TIME_SIZE, "%lldh%02lldm", s / 3600, s % 3600 / 60);
    else
        snprintf(buf, FMT_TIME_SIZE, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}

void fmt_exec_duration(const tasker_task_exec *e, int64_t now, char buf[FMT_TIME_SIZE])
{
    if (e->start_us && e->end_us) {
        fmt_duration(e->end_us - e->start_us, buf);
    } else if (e->start_us && e->status == TASKER_EXEC_RUNNING) {
        char d[FMT_TIME_SIZE];
        fmt_duration(now - e->start_us, d);
        snprintf(buf, FMT_TIME_SIZE, "running %.40s", d);
    } else {
        strcpy(buf, "-");
    }
}

const char *fmt_exec_outcome(const tasker_task_exec *e)
{
    if (e->error && *e->error) return e->error;
    if (e->result && strcmp(e->result, "null") != 0) return e->result;
    return "";
}

void fmt_exec_attempt(const tasker_task_exec *e, int max_attempts, char buf[FMT_TIME_SIZE])
{
    int attempt = e->attempt > 0 ? e->attempt : 1;
    if (max_attempts > 1)
        snprintf(buf, FMT_TIME_SIZE, "%d/%d", attempt, max_attempts);
    else
        snprintf(buf, FMT_TIME_SIZE, "%d", attempt);
}

void fmt_exec_state(const tasker_task_exec *e, int64_t now, char buf[FMT_TIME_SIZE])
{
    const char *name = tasker_exec_status_name(e->status);
    if (e->status == TASKER_EXEC_PENDING && e->run_at_us > now) {
        char span[FMT_TIME_SIZE];
        fmt_coarse_span(e->run_at_us - now, span);
        snprintf(buf, FMT_TIME_SIZE, "%s, in %.32s", name, span);
    } else {
        snprintf(buf, FMT_TIME_SIZE, "%s", name);
    }
}
