/* The retention limits from the command line and the environment: runs kept per task,
 * their age, events per run (tasker_options' max_execs_per_task, max_exec_age_s,
 * max_events_per_exec). Retention is applied by whichever process adds runs: the
 * daemon for scheduled fires, `tasker trigger` for triggered ones. So both read
 * TASKER_KEEP, TASKER_KEEP_FOR and TASKER_MAX_EVENTS, the daemon's flags override
 * them, and a one-shot command never deletes runs by age unless TASKER_KEEP_FOR says
 * so (its default of one hour would otherwise undo a daemon's --keep-for 8d). */
#ifndef TASKER_CLI_RETENTION_H
#define TASKER_CLI_RETENTION_H

#include <tasker/tasker.h>

#include <stdbool.h>
#include <stdint.h>

/* "unlimited" (-1) or a count from 1; false when s is neither. */
bool retention_parse_count(const char *s, int *out);
/* "unlimited" (-1) or a duration of at least a second (cli_parse_duration); false when
 * s is neither. */
bool retention_parse_age(const char *s, int64_t *out_s);

/* Fills o's retention fields from the variables that are set. Prints which one is
 * wrong and returns false when one does not parse. */
bool retention_from_env(tasker_options *o);

#endif
