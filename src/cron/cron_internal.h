/* Internal: the parsed form of a cron expression, shared by the parser (parse.c,
 * fields.c) and the search (next.c, days.c), plus the few questions the schedule loop
 * and the CLI ask of an expression beyond tasker_cron_next(). */
#ifndef TASKER_CRON_INTERNAL_H
#define TASKER_CRON_INTERNAL_H

#include <tasker/cron.h>

#include "tz.h"

#include <stdbool.h>
#include <stdint.h>

/* Years searched past the start before next() gives up with TASKER_ENOTFOUND. The
 * Gregorian calendar repeats every 400 years (146097 days, a whole number of weeks),
 * so a day pattern with no match in 401 consecutive years has none at all. */
#define CRON_SEARCH_YEARS 401

#define CRON_US_PER_S 1000000LL
/* Fire seconds beyond these are not representable as int64 microseconds (next() and
 * prev() answer within them, so each finds what the other does). */
#define CRON_MAX_FIRE_S (INT64_MAX / CRON_US_PER_S - 2 * 86400)
#define CRON_MIN_FIRE_S (INT64_MIN / CRON_US_PER_S) /* C division truncates: representable */

/* Every field is a bit set: bit v set when value v matches. */
struct tasker_cron {
    uint64_t sec;           /* bits 0-59 */
    uint64_t min;           /* bits 0-59 */
    uint32_t hour;          /* bits 0-23 */
    uint32_t dom;           /* bits 1-31: plain days */
    uint32_t dom_last;      /* bit n: "L-n" (bit 0: "L") */
    uint32_t dom_near;      /* bit n: "nW" */
    uint32_t dom_last_near; /* bit n: "L-nW" (bit 0: "LW") */
    uint16_t mon;           /* bits 1-12 */
    uint8_t dow;            /* bits 0-6, Sunday 0 */
    uint8_t dow_last;       /* bit w: "wL" */
    uint8_t dow_nth[7];     /* dow_nth[w] bit k-1: "w#k" */
    bool dom_star;          /* the dom field began with '*' or '?' (Vixie's DOM_STAR) */
    bool dow_star;          /* likewise for dow */
    bool hour_star;         /* the hour began with '*' or "H/": DST treats it as wildcard */
    bool hashed;            /* some field used H: the value depends on the key */
    bool every;             /* "@every D": fixed intervals */
    int64_t every_us;
    int64_t anchor_us;
    const tz_zone *zone; /* cached, never freed */
};

/* True when c is "@every D" (fires at anchor + k*D, no calendar, no zone). */
bool tasker_cron_is_every(const tasker_cron *c);

/* For "@every D": D in microseconds; 0 for calendar expressions. */
int64_t tasker_cron_every_us(const tasker_cron *c);

/* The zone the expression is evaluated in ("Europe/London", or the local zone's name
 * such as "localtime" or the value of $TZ). Never NULL; valid for the process life. */
const char *tasker_cron_zone_name(const tasker_cron *c);

/* True when some field of c used H, so that expressions of the same text parsed with
 * different keys differ (a cache of parsed expressions must key on the text and the key). */
bool tasker_cron_is_hashed(const tasker_cron *c);

/* Parses one field's text [s, s+len) into c. index is the field's position in the
 * 6-field form (0 second ... 5 dow). key is what H hashes (NULL: H is an error).
 * TASKER_EINVAL with the message on error. */
int cron_parse_field(tasker_cron *c, int index, const char *s, size_t len, const char *key);

/* The hash H uses for key in field index (docs/cron.md gives the formula). */
uint64_t cron_key_hash(const char *key, int index);

/* The days of year-month that match c's dom and dow fields (Vixie's rule applied), as
 * bits 1-31. */
uint32_t cron_month_days(const tasker_cron *c, int64_t year, int month);

#endif
