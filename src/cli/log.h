/* The daemon's diagnostics on stderr, fit for a terminal and for journald: on a
 * terminal "tasker: message" as always; otherwise each line starts with the sd-daemon(3)
 * level prefix ("<3>" error, "<4>" warning, "<6>" info, "<7>" debug) that journald turns
 * into the entry's priority. Other commands print plain lines: the prefixes are on only
 * after log_daemon_mode(). */
#ifndef TASKER_CLI_LOG_H
#define TASKER_CLI_LOG_H

#include <tasker/tasker.h>

#include <stdbool.h>
#include <stdio.h>

/* Priorities as syslog numbers them (not syslog.h's names, to avoid its macros). */
typedef enum {
    LOG_PRIO_ERR = 3,
    LOG_PRIO_WARNING = 4,
    LOG_PRIO_INFO = 6,
    LOG_PRIO_DEBUG = 7
} log_prio;

/* Turns prefixes on for the streams that are not terminals. Call once, before threads
 * start (the decision is read without a lock afterwards). */
void log_daemon_mode(void);

/* The prefix ("<4>") for a line at prio on f (stdout or stderr), or "" when f is a
 * terminal or prefixes are off. A static string. */
const char *log_prefix(FILE *f, log_prio prio);

/* The priority journald should give an event of this level / a run of this status. */
log_prio log_level_prio(tasker_level l);
log_prio log_status_prio(tasker_exec_status s);

/* Prints "[<p>]tasker: <fmt>\n" to stderr in one write, so lines of threads do not mix.
 * Thread-safe. */
void log_msg(log_prio prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
