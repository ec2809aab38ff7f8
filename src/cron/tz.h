/* Internal: time zones for cron evaluation. A zone maps UTC instants to UTC offsets
 * as spans of constant offset; it is read from TZif files (tzif.c) with the POSIX TZ
 * rule of the file's footer for instants beyond its table (tzrule.c). Loaded zones are
 * cached for the life of the process and are immutable, so any thread may use them. */
#ifndef TASKER_CRON_TZ_H
#define TASKER_CRON_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tz_zone tz_zone;

/* A stretch of time with one UTC offset: [start_s, end_s). start_s is INT64_MIN when
 * the offset holds since forever, end_s INT64_MAX when it holds forever. prev_off_s is
 * the offset in force just before start_s (equal to off_s when there is none), so a
 * caller sees the gap (prev < off) or overlap (prev > off) that opened the span. */
typedef struct {
    int64_t start_s;
    int64_t end_s;
    int32_t off_s;
    int32_t prev_off_s;
} tz_span;

/* A day in a POSIX TZ rule: 'J' Julian day 1-365 without Feb 29, 'D' zero-based day
 * 0-365, 'M' month.week.weekday. time_s is local time of day (may be < 0 or > 24 h). */
typedef struct {
    char kind;
    int day;     /* J and D */
    int month;   /* M: 1-12 */
    int week;    /* M: 1-5, 5 = last */
    int weekday; /* M: 0 = Sunday */
    int32_t time_s;
} tz_rule_date;

/* A POSIX TZ rule ("EST5EDT,M3.2.0,M11.1.0"), offsets as seconds east of UTC. */
typedef struct {
    int32_t std_off_s;
    int32_t dst_off_s;
    bool has_dst;
    tz_rule_date start;
    tz_rule_date end;
} tz_rule;

/* Parses a POSIX TZ string of len bytes. Returns true on success. */
bool tz_rule_parse(const char *s, size_t len, tz_rule *out);

/* The span of the rule that contains t_s. */
void tz_rule_span(const tz_rule *r, int64_t t_s, tz_span *out);

/* Finds the IANA zone named by name[0..len) ("Europe/London") under $TZDIR or
 * /usr/share/zoneinfo, loading it on first use. TASKER_EINVAL with the message
 * "cron: unknown time zone 'NAME'" when there is no such zone. Thread-safe. */
int tz_find(const char *name, size_t len, const tz_zone **out);

/* The process's local zone: $TZ (a zone name, ":name", an absolute path, or a POSIX TZ
 * string), else /etc/localtime, else UTC. Never fails. Thread-safe. */
const tz_zone *tz_local(void);

/* UTC itself. */
const tz_zone *tz_utc(void);

/* The span of z that contains t_s. */
void tz_span_at(const tz_zone *z, int64_t t_s, tz_span *out);

/* The name the zone was found by ("Europe/London", "UTC", or the $TZ value). */
const char *tz_name(const tz_zone *z);

#endif
