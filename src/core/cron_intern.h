/* Internal: parsed cron expressions shared by the schedules that use the same text
 * (issue 14: a million schedules often use a handful of expressions). Only expressions
 * that depend on nothing but their text are shared: not those with H (they hash the task
 * id) nor @every (it counts from the schedule's creation). Not thread-safe: the schedule
 * loop's lock guards it. */
#ifndef TASKER_SRC_CRON_INTERN_H
#define TASKER_SRC_CRON_INTERN_H

#include <tasker/cron.h>

#include <stdbool.h>
#include <stddef.h>

typedef struct cron_intern_node cron_intern_node;
typedef struct cron_intern {
    cron_intern_node **buckets;
    size_t nbuckets, len;
} cron_intern;

/* The parsed expression for text with key (the task id H hashes): *shared is true when
 * it belongs to ci (do not free it, do not set its anchor), false when the caller owns
 * it. TASKER_OK, or the parse error. */
int cron_intern_get(cron_intern *ci, const char *text, const char *key, tasker_cron **out,
                    bool *shared);
/* Frees every shared expression (their schedules must be gone) and the table. */
void cron_intern_clear(cron_intern *ci);

#endif
