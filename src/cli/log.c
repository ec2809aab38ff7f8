/* The daemon's level-prefixed diagnostics (see log.h). */
#include "cli/log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Set once by log_daemon_mode before any thread exists; read-only afterwards. */
static bool prefix_stdout, prefix_stderr;

void log_daemon_mode(void)
{
    prefix_stdout = !isatty(STDOUT_FILENO);
    prefix_stderr = !isatty(STDERR_FILENO);
}

const char *log_prefix(FILE *f, log_prio prio)
{
    bool on = f == stdout ? prefix_stdout : f == stderr ? prefix_stderr : false;
    if (!on) return "";
    switch (prio) {
    case LOG_PRIO_ERR: return "<3>";
    case LOG_PRIO_WARNING: return "<4>";
    case LOG_PRIO_DEBUG: return "<7>";
    default: return "<6>";
    }
}

log_prio log_level_prio(tasker_level l)
{
    switch (l) {
    case TASKER_DEBUG: return LOG_PRIO_DEBUG;
    case TASKER_WARNING: return LOG_PRIO_WARNING;
    case TASKER_ERROR: return LOG_PRIO_ERR;
    default: return LOG_PRIO_INFO;
    }
}

log_prio log_status_prio(tasker_exec_status s)
{
    switch (s) {
    case TASKER_EXEC_FAILED: return LOG_PRIO_ERR;
    case TASKER_EXEC_INTERRUPTED:
    case TASKER_EXEC_SKIPPED: return LOG_PRIO_WARNING;
    default: return LOG_PRIO_INFO;
    }
}

void log_msg(log_prio prio, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (len >= (int)sizeof msg) memcpy(msg + sizeof msg - 4, "...", 3); /* cut: say so */
    const char *prefix = log_prefix(stderr, prio);
    /* One locked stretch per message, so lines of two threads do not mix; a message of
     * several lines gets the prefix on each, or journald would log the rest as info. */
    flockfile(stderr);
    fprintf(stderr, "%stasker: ", prefix);
    for (const char *p = msg; *p; p++) {
        if (*p == '\n')
            fprintf(stderr, "\n%s  ", prefix);
        else
            putc_unlocked(*p, stderr);
    }
    putc_unlocked('\n', stderr);
    funlockfile(stderr);
}
