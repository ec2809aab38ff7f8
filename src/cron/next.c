/* The next fire instant of an expression. Computed, not scanned: the local calendar
 * search jumps field by field with the bit sets (month, then day from the month's day
 * mask, then hour, minute, second); the zone walk then maps local times to instants
 * span by span, applying the DST rules of docs/cron.md:
 *  - a matching local time in a gap (spring forward) fires once, at the gap's end, when
 *    the hour field is not '*'; with hour '*' it is skipped;
 *  - a matching local time that occurs twice (fall back) fires at its first occurrence
 *    only when the hour field is not '*'; with hour '*' at both. */
#include "civil.h"
#include "cron_internal.h"

#include "core/error.h"

#include <limits.h>

#define US_PER_S CRON_US_PER_S
#define MAX_FIRE_S CRON_MAX_FIRE_S

/* The lowest set bit of mask at or above from, or -1. */
static int next_bit(uint64_t mask, int from)
{
    uint64_t x = from >= 64 ? 0 : mask & (~0ULL << from);
    return x ? __builtin_ctzll(x) : -1;
}

/* The earliest matching time of day at or after *h:*m:*s; false when none is left. */
static bool time_next(const tasker_cron *c, int *h, int *m, int *s)
{
    for (;;) {
        int nh = next_bit(c->hour, *h);
        if (nh < 0) return false;
        if (nh != *h) {
            *h = nh;
            *m = *s = 0;
        }
        int nm = next_bit(c->min, *m);
        if (nm < 0) {
            (*h)++;
            *m = *s = 0;
            continue;
        }
        if (nm != *m) {
            *m = nm;
            *s = 0;
        }
        int ns = next_bit(c->sec, *s);
        if (ns < 0) {
            (*m)++;
            *s = 0;
            continue;
        }
        *s = ns;
        return true;
    }
}

/* The smallest matching local second >= lo_s (seconds since the epoch on the local
 * calendar), searching no later than limit_year. */
static bool calendar_next(const tasker_cron *c, int64_t lo_s, int64_t limit_year, int64_t *out_s)
{
    int64_t days = civil_floor_div(lo_s, CIVIL_DAY_S);
    int sod = (int)(lo_s - days * CIVIL_DAY_S);
    int64_t year;
    int month, day, h = sod / 3600, m = sod / 60 % 60, s = sod % 60;
    civil_from_days(days, &year, &month, &day);
    while (year <= limit_year) {
        int nmon = next_bit(c->mon, month);
        if (nmon < 0) {
            year++;
            month = 1;
            day = 1;
            h = m = s = 0;
            continue;
        }
        if (nmon != month) {
            month = nmon;
            day = 1;
            h = m = s = 0;
        }
        uint32_t mdays = cron_month_days(c, year, month);
        for (int d; (d = next_bit(mdays, day)) >= 0; day = d + 1, h = m = s = 0) {
            if (d != day) h = m = s = 0;
            if (time_next(c, &h, &m, &s)) {
                *out_s = civil_days_from(year, month, d) * CIVIL_DAY_S + h * 3600 + m * 60 + s;
                return true;
            }
        }
        if (++month > 12) {
            month = 1;
            year++;
        }
        day = 1;
        h = m = s = 0;
    }
    return false;
}

/* calendar_next with a memory: no match lies in [lo_s, match_s) of the last answer, so
 * a later query inside that interval has the same answer. Spans overlap in local time
 * only around a fall back, so the walk below mostly hits this. */
typedef struct {
    const tasker_cron *c;
    int64_t limit_year;
    bool valid;
    int64_t lo_s, match_s;
} search;

static bool search_next(search *q, int64_t lo_s, int64_t *out_s)
{
    if (!q->valid || lo_s < q->lo_s || lo_s > q->match_s) {
        if (!calendar_next(q->c, lo_s, q->limit_year, &q->match_s)) return false;
        q->lo_s = lo_s;
        q->valid = true;
    }
    *out_s = q->match_s;
    return true;
}

/* The first fire second >= from_s, walking the zone's spans of constant offset. */
static bool zone_next(const tasker_cron *c, int64_t from_s, int64_t *out_s)
{
    int64_t year, m_s;
    int month, day;
    tz_span sp;
    civil_from_days(civil_floor_div(from_s, CIVIL_DAY_S), &year, &month, &day);
    search q = {c, year + CRON_SEARCH_YEARS, false, 0, 0};
    tz_span_at(c->zone, from_s, &sp);
    for (;;) {
        bool opened_gap = sp.off_s > sp.prev_off_s && sp.start_s >= from_s;
        bool opened_overlap = sp.prev_off_s > sp.off_s && sp.start_s != INT64_MIN;
        if (opened_gap && !c->hour_star) {
            /* A fixed-hour match inside the skipped local times fires as the gap ends. */
            if (!search_next(&q, sp.start_s + sp.prev_off_s, &m_s)) return false;
            if (m_s < sp.start_s + sp.off_s) {
                *out_s = sp.start_s;
                return true;
            }
        }
        int64_t lo_s = (sp.start_s > from_s ? sp.start_s : from_s) + sp.off_s;
        if (opened_overlap && !c->hour_star && lo_s < sp.start_s + sp.prev_off_s)
            lo_s = sp.start_s + sp.prev_off_s; /* the repeated local times fired already */
        if (!search_next(&q, lo_s, &m_s)) return false;
        if (sp.end_s == INT64_MAX || m_s < sp.end_s + sp.off_s) {
            *out_s = m_s - sp.off_s;
            return true;
        }
        tz_span_at(c->zone, sp.end_s, &sp);
    }
}

static int every_next(const tasker_cron *c, int64_t after_us, int64_t *next_us)
{
    __int128 first = (__int128)c->anchor_us + c->every_us;
    __int128 next = first;
    if (after_us >= first)
        next = c->anchor_us + ((__int128)after_us - c->anchor_us) / c->every_us * c->every_us +
               c->every_us;
    if (next > INT64_MAX)
        return tasker_fail(TASKER_ENOTFOUND, "cron: next fire is past the int64 microsecond range");
    *next_us = (int64_t)next;
    return TASKER_OK;
}

int tasker_cron_next(const tasker_cron *c, int64_t after_us, int64_t *next_us)
{
    int64_t from_s, fire_s;
    if (!c || !next_us) return tasker_fail(TASKER_EINVAL, "cron: expression or output is NULL");
    if (c->every) return every_next(c, after_us, next_us);
    /* Fires fall on whole seconds: the first candidate is the next whole second. */
    from_s = civil_floor_div(after_us, US_PER_S) + 1;
    if (from_s > MAX_FIRE_S || !zone_next(c, from_s, &fire_s) || fire_s > MAX_FIRE_S)
        return tasker_fail(TASKER_ENOTFOUND, "cron: no fire time within %d years",
                           CRON_SEARCH_YEARS);
    *next_us = fire_s * US_PER_S;
    return TASKER_OK;
}
