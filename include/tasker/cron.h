/* tasker: cron expressions, usable on their own.
 *
 * The dialect (5 or 6 fields, names, L, L-n, W, L-nW, #, H, descriptors, @every,
 * CRON_TZ=) and the DST rules are documented in docs/cron.md. A parsed expression is
 * immutable: one may be used from many threads at once.
 */
#ifndef TASKER_CRON_H
#define TASKER_CRON_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tasker_cron tasker_cron;

/* Parses expr into *out. TASKER_EINVAL with a message saying what and where on a bad
 * expression ("cron: field 'hour' (\"25\"): 25 is out of range 0-23"). The caller frees
 * *out with tasker_cron_free(). Thread-safe. */
int tasker_cron_parse(const char *expr, tasker_cron **out);

/* Like tasker_cron_parse, with the key that 'H' fields hash (a schedule passes its task
 * id): "H H * * *" then runs once a day at a time of that key's own, the same in every
 * process, on every node and architecture (FNV-1a 64 of the key's bytes and the field's
 * position; docs/cron.md fixes the formula). hash_key is read during the call only and
 * may be NULL: then an 'H' is TASKER_EINVAL ("cron: field 'minute': H needs a key (the
 * task id): use tasker_cron_parse_key"). The caller frees *out with tasker_cron_free().
 * Thread-safe. */
int tasker_cron_parse_key(const char *expr, const char *hash_key, tasker_cron **out);

/* The first fire instant strictly after after_us (UTC microseconds) into *next_us.
 * TASKER_ENOTFOUND when there is none (e.g. "0 0 30 2 *"). For "@every D" the
 * intervals count from the anchor set by tasker_cron_set_anchor (default: the epoch).
 * Thread-safe. */
int tasker_cron_next(const tasker_cron *c, int64_t after_us, int64_t *next_us);

/* The latest fire instant at or before at_us (UTC microseconds) into *prev_us: the
 * occurrence a schedule last owed at that instant. It agrees with tasker_cron_next
 * across DST gaps and overlaps: next(prev(t) - 1) == prev(t) and prev(next(t)) ==
 * next(t). TASKER_ENOTFOUND when there is none within 401 years before at_us, or, for
 * "@every D", when at_us is before the first interval after the anchor. Thread-safe. */
int tasker_cron_prev(const tasker_cron *c, int64_t at_us, int64_t *prev_us);

/* For "@every D": the instant the intervals count from (a schedule's creation).
 * No effect on other expressions. Not thread-safe against concurrent next() or prev()
 * calls on the same expression: set it before sharing. */
void tasker_cron_set_anchor(tasker_cron *c, int64_t anchor_us);

/* Frees an expression; NULL is a no-op. */
void tasker_cron_free(tasker_cron *c);

#ifdef __cplusplus
}
#endif
#endif /* TASKER_CRON_H */
