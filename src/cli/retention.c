/* Retention limits from flags and the environment (see retention.h). */
#include "cli/retention.h"
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

bool retention_parse_count(const char *s, int *out)
{
    long v;
    if (strcmp(s, "unlimited") == 0) {
        *out = -1;
        return true;
    }
    if (!cli_parse_int(s, 1, 1000000000, &v)) return false;
    *out = (int)v;
    return true;
}

bool retention_parse_age(const char *s, int64_t *out_s)
{
    int64_t v;
    if (strcmp(s, "unlimited") == 0) {
        *out_s = -1;
        return true;
    }
    if (!cli_parse_duration_s(s, &v) || v < 1) return false;
    *out_s = v;
    return true;
}

bool retention_from_env(tasker_options *o)
{
    const char *keep = getenv("TASKER_KEEP"), *age = getenv("TASKER_KEEP_FOR"),
               *events = getenv("TASKER_MAX_EVENTS");
    if (keep && *keep && !retention_parse_count(keep, &o->max_execs_per_task)) {
        cli_errorf("TASKER_KEEP='%s': expected a count or 'unlimited'", keep);
        return false;
    }
    if (age && *age && !retention_parse_age(age, &o->max_exec_age_s)) {
        cli_errorf("TASKER_KEEP_FOR='%s': expected a duration (30s, 10m, 2h, 7d) or "
                   "'unlimited'",
                   age);
        return false;
    }
    if (events && *events && !retention_parse_count(events, &o->max_events_per_exec)) {
        cli_errorf("TASKER_MAX_EVENTS='%s': expected a count or 'unlimited'", events);
        return false;
    }
    return true;
}
