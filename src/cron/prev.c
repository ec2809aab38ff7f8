/* The previous fire instant of an expression: next.c's search run backwards. The local
 * calendar search jumps down field by field (month, day from the month's day mask, hour,
 * minute, second); the zone walk goes from the span holding the instant to earlier
 * spans. Each span contributes exactly the fires next.c's walk finds in it, so the two
 * agree on every instant:
 *  - the instants of the span whose local time matches, except, in a span that opened
 *    with an overlap when the hour field is not '*', the repeated local times (they
 *    fired in the span before);
 *  - the span's first instant, when it opened with a gap, the hour field is not '*',
 *    and a matching local time lies in the skipped ones. */
#include "civil.h"
#include "cron_internal.h"

#include "core/error.h"

#include <limits.h>

/* The highest set bit of mask at or below from, or -1. */
static int prev_bit(uint64_t mask, int from)
{
    if (from < 0) return -1;
    uint64_t x = from >= 63 ? mask : mask & ((2ULL << from) - 1);
    return x ? 63 - __builtin_clzll(x) : -1;
}

/* The latest matching time of day at or before *h:*m:*s; false when none is left. */
static bool time_prev(const tasker_cron *c, int *h, int *m, int *s)
{
    for (;;) {
        int ph = prev_bit(c->hour, *h);
        if (ph < 0) return false;
        if (ph != *h) {
            *h = ph;
            *m = *s = 59;
        }
        int pm = prev_bit(c->min, *m);
        if (pm < 0) {
            (*h)--;
            *m = *s = 59;
            continue;
        }
        if (pm != *m) {
            *m = pm;
            *s = 59;
        }
        int ps = prev_bit(c->sec, *s);
        if (ps < 0) {
            (*m)--; /* at -1 the minute search fails and steps back an hour */
            *s = 59;
            continue;
        }
        *s = ps;
        return true;
    }
}

/* The largest matching local second <= hi_s, searching no earlier than limit_year. */
static bool calendar_prev(const tasker_cron *c, int64_t hi_s, int64_t limit_year, int64_t *out_s)
{
    int64_t days = civil_floor_div(hi_s, CIVIL_DAY_S);
    int sod = (int)(hi_s - days * CIVIL_DAY_S);
    int64_t year;
    int month, day, h = sod / 3600, m = sod / 60 % 60, s = sod % 60;
    civil_from_days(days, &year, &month, &day);
    while (year >= limit_year) {
        int pmon = prev_bit(c->mon, month);
        if (pmon < 0) {
            year--;
            month = 12;
            day = 31;
            h = 23;
            m = s = 59;
            continue;
        }
        if (pmon != month) {
            month = pmon;
            day = 31; /* the month's day mask has no bit past its length */
            h = 23;
            m = s = 59;
        }
        uint32_t mdays = cron_month_days(c, year, month);
        for (int d; (d = prev_bit(mdays, day)) >= 0; day = d - 1, h = 23, m = s = 59) {
            if (d != day) {
                h = 23;
                m = s = 59;
            }
            if (time_prev(c, &h, &m, &s)) {
                *out_s = civil_days_from(year, month, d) * CIVIL_DAY_S + h * 3600 + m * 60 + s;
                return true;
            }
        }
        if (--month < 1) {
            month = 12;
            year--;
        }
        day = 31;
        h = 23;
        m = s = 59;
    }
    return false;
}

/* calendar_prev with a memory: no match lies in (match_s, hi_s] of the last answer, so a
 * later query inside [match_s, hi_s] has the same answer. */
typedef struct {
    const tasker_cron *c;
    int64_t limit_year;
    bool valid;
    int64_t hi_s, match_s;
} search;

static bool search_prev(search *q, int64_t hi_s, int64_t *out_s)
{
    if (!q->valid || hi_s > q->hi_s || hi_s < q->match_s) {
        if (!calendar_prev(q->c, hi_s, q->limit_year, &q->match_s)) return false;
        q->hi_s = hi_s;
        q->valid = true;
    }
    *out_s = q->match_s;
    return true;
}

/* The last fire second <= to_s, walking the zone's spans backwards. */
static bool zone_prev(const tasker_cron *c, int64_t to_s, int64_t *out_s)
{
    int64_t year, m_s;
    int month, day;
    tz_span sp;
    civil_from_days(civil_floor_div(to_s, CIVIL_DAY_S), &year, &month, &day);
    search q = {c, year - CRON_SEARCH_YEARS, false, 0, 0};
    tz_span_at(c->zone, to_s, &sp);
    for (;;) {
        bool first = sp.start_s == INT64_MIN;
        bool opened_gap = !first && sp.off_s > sp.prev_off_s;
        bool opened_overlap = !first && sp.prev_off_s > sp.off_s;
        int64_t hi_s = (sp.end_s <= to_s ? sp.end_s - 1 : to_s) + sp.off_s;
        int64_t lo_s = first ? INT64_MIN : sp.start_s + sp.off_s;
        if (opened_overlap && !c->hour_star)
            lo_s = sp.start_s + sp.prev_off_s; /* the repeated local times fired before */
        if (hi_s >= lo_s) {
            if (!search_prev(&q, hi_s, &m_s)) return false;
            if (m_s >= lo_s) {
                *out_s = m_s - sp.off_s;
                return true;
            }
        }
        if (opened_gap && !c->hour_star) {
            /* A fixed-hour match inside the skipped local times fired as the gap ended. */
            if (!search_prev(&q, sp.start_s + sp.off_s - 1, &m_s)) return false;
            if (m_s >= sp.start_s + sp.prev_off_s) {
                *out_s = sp.start_s;
                return true;
            }
        }
        if (first) return false;
        tz_span_at(c->zone, sp.start_s - 1, &sp);
    }
}

static int every_prev(const tasker_cron *c, int64_t at_us, int64_t *prev_us)
{
    __int128 since = (__int128)at_us - c->anchor_us;
    __int128 k = since / c->every_us;
    if (since % c->every_us < 0) k--; /* floor, for instants before the anchor */
    if (k < 1)
        return tasker_fail(TASKER_ENOTFOUND,
                           "cron: @every: no fire at or before this instant (the first is one "
                           "interval after the anchor)");
    *prev_us = (int64_t)(c->anchor_us + k * c->every_us); /* <= at_us, so it fits */
    return TASKER_OK;
}

int tasker_cron_prev(const tasker_cron *c, int64_t at_us, int64_t *prev_us)
{
    int64_t to_s, fire_s;
    if (!c || !prev_us) return tasker_fail(TASKER_EINVAL, "cron: expression or output is NULL");
    if (c->every) return every_prev(c, at_us, prev_us);
    /* Fires fall on whole seconds: the last candidate is at_us's own second. */
    to_s = civil_floor_div(at_us, CRON_US_PER_S);
    if (to_s > CRON_MAX_FIRE_S) to_s = CRON_MAX_FIRE_S; /* next() finds nothing later */
    if (!zone_prev(c, to_s, &fire_s) || fire_s < CRON_MIN_FIRE_S)
        return tasker_fail(TASKER_ENOTFOUND, "cron: no fire time within %d years before",
                           CRON_SEARCH_YEARS);
    *prev_us = fire_s * CRON_US_PER_S;
    return TASKER_OK;
}
