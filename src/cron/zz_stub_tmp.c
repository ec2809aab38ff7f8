/* TEMPORARY: every-minute stand-in until the cron engine lands. */
#include "core/error.h"
#include <tasker/cron.h>
#include <stdlib.h>
struct tasker_cron { int x; };
int tasker_cron_parse(const char *expr, tasker_cron **out)
{
    if (!expr || !*expr) return tasker_fail(TASKER_EINVAL, "cron: empty");
    *out = calloc(1, sizeof **out);
    return TASKER_OK;
}
int tasker_cron_next(const tasker_cron *c, int64_t after_us, int64_t *next_us)
{
    (void)c;
    int64_t m = 60000000LL;
    *next_us = (after_us / m + 1) * m;
    return TASKER_OK;
}
void tasker_cron_set_anchor(tasker_cron *c, int64_t a) { (void)c; (void)a; }
void tasker_cron_free(tasker_cron *c) { free(c); }
