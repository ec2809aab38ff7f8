/* POSIX TZ rules ("EST5EDT,M3.2.0,M11.1.0"): parsing them, and the spans of constant
 * offset they define. TZif files carry one as a footer for instants beyond their table;
 * $TZ may hold one too. Offsets here are seconds east of UTC (POSIX writes west). */
#include "civil.h"
#include "tz.h"

#include <limits.h>
#include <stdbool.h>

typedef struct {
    const char *p;
    const char *end;
} cursor;

static bool at_end(const cursor *c)
{
    return c->p >= c->end;
}

static bool is_alpha(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* A zone abbreviation: three or more letters, or anything but '>' within <...>. */
static bool parse_name(cursor *c)
{
    const char *start = c->p;
    if (!at_end(c) && *c->p == '<') {
        c->p++;
        while (!at_end(c) && *c->p != '>')
            c->p++;
        if (at_end(c)) return false;
        c->p++;
        return c->p - start >= 3;
    }
    while (!at_end(c) && is_alpha(*c->p))
        c->p++;
    return c->p - start >= 3;
}

static bool parse_uint(cursor *c, int max, int *out)
{
    int value = 0;
    const char *start = c->p;
    while (!at_end(c) && is_digit(*c->p)) {
        value = value * 10 + (*c->p - '0');
        if (value > max) return false;
        c->p++;
    }
    *out = value;
    return c->p > start;
}

/* [+-]hh[:mm[:ss]] with hours up to max_h (24 for offsets, 167 for rule times, as
 * RFC 8536 allows). Returns the signed seconds as written. */
static bool parse_hms(cursor *c, int max_h, int32_t *out)
{
    int sign = 1, h = 0, m = 0, s = 0;
    if (!at_end(c) && (*c->p == '+' || *c->p == '-')) sign = *c->p++ == '-' ? -1 : 1;
    if (!parse_uint(c, max_h, &h)) return false;
    if (!at_end(c) && *c->p == ':') {
        c->p++;
        if (!parse_uint(c, 59, &m)) return false;
        if (!at_end(c) && *c->p == ':') {
            c->p++;
            if (!parse_uint(c, 59, &s)) return false;
        }
    }
    *out = sign * (h * 3600 + m * 60 + s);
    return true;
}

static bool parse_date(cursor *c, tz_rule_date *d)
{
    d->time_s = 2 * 3600;
    if (at_end(c)) return false;
    if (*c->p == 'J') {
        c->p++;
        d->kind = 'J';
        if (!parse_uint(c, 365, &d->day) || d->day < 1) return false;
    } else if (*c->p == 'M') {
        c->p++;
        d->kind = 'M';
        if (!parse_uint(c, 12, &d->month) || d->month < 1 || at_end(c) || *c->p++ != '.')
            return false;
        if (!parse_uint(c, 5, &d->week) || d->week < 1 || at_end(c) || *c->p++ != '.') return false;
        if (!parse_uint(c, 6, &d->weekday)) return false;
    } else {
        d->kind = 'D';
        if (!parse_uint(c, 365, &d->day)) return false;
    }
    if (!at_end(c) && *c->p == '/') {
        c->p++;
        if (!parse_hms(c, 167, &d->time_s)) return false;
    }
    return true;
}

bool tz_rule_parse(const char *s, size_t len, tz_rule *out)
{
    cursor c = {s, s + len};
    int32_t west_s;
    *out = (tz_rule){0};
    if (!parse_name(&c) || !parse_hms(&c, 24, &west_s)) return false;
    out->std_off_s = -west_s;
    if (at_end(&c)) return true;
    if (!parse_name(&c)) return false;
    out->has_dst = true;
    out->dst_off_s = out->std_off_s + 3600;
    if (!at_end(&c) && *c.p != ',') {
        if (!parse_hms(&c, 24, &west_s)) return false;
        out->dst_off_s = -west_s;
    }
    if (at_end(&c)) {
        /* No rule: POSIX leaves it to the implementation; glibc uses the US rules. */
        out->start = (tz_rule_date){.kind = 'M', .month = 3, .week = 2, .time_s = 7200};
        out->end = (tz_rule_date){.kind = 'M', .month = 11, .week = 1, .time_s = 7200};
        return true;
    }
    if (*c.p++ != ',' || !parse_date(&c, &out->start)) return false;
    if (at_end(&c) || *c.p++ != ',' || !parse_date(&c, &out->end)) return false;
    return at_end(&c);
}

/* The local second (seconds since the epoch on the local calendar) a rule date names
 * in year. */
static int64_t date_local_s(const tz_rule_date *d, int64_t year)
{
    int64_t day;
    if (d->kind == 'J') {
        day = civil_days_from(year, 1, 1) + d->day - 1;
        if (civil_is_leap(year) && d->day >= 60) day++;
    } else if (d->kind == 'D') {
        day = civil_days_from(year, 1, 1) + d->day;
    } else {
        int64_t first = civil_days_from(year, d->month, 1);
        int dim = civil_days_in_month(year, d->month);
        day = first + (d->weekday - civil_weekday(first) + 7) % 7 + (d->week - 1) * 7;
        while (day >= first + dim)
            day -= 7;
    }
    return day * CIVIL_DAY_S + d->time_s;
}

typedef struct {
    int64_t at_s;
    int32_t off_s;
} transition;

/* The transitions of years first..first+n_years-1 in time order, equal instants
 * merged (the later one wins: permanent DST is written as an end and a start that
 * meet) and changes to the same offset dropped. Returns how many. */
static int year_transitions(const tz_rule *r, int64_t first, int n_years, transition *out)
{
    transition all[6];
    int n = 0, kept = 0;
    for (int i = 0; i < n_years; i++) {
        int64_t year = first + i;
        all[n++] = (transition){date_local_s(&r->end, year) - r->dst_off_s, r->std_off_s};
        all[n++] = (transition){date_local_s(&r->start, year) - r->std_off_s, r->dst_off_s};
    }
    for (int i = 1; i < n; i++) { /* insertion sort, stable: an end stays before a start */
        transition x = all[i];
        int j = i - 1;
        for (; j >= 0 && all[j].at_s > x.at_s; j--)
            all[j + 1] = all[j];
        all[j + 1] = x;
    }
    for (int i = 0; i < n; i++) {
        if (kept > 0 && out[kept - 1].at_s == all[i].at_s) kept--;
        if (kept > 0 && out[kept - 1].off_s == all[i].off_s) continue;
        out[kept++] = all[i];
    }
    return kept;
}

void tz_rule_span(const tz_rule *r, int64_t t_s, tz_span *out)
{
    transition tr[6];
    int64_t year;
    int month, day, n, k = -1;
    *out = (tz_span){INT64_MIN, INT64_MAX, r->std_off_s, r->std_off_s};
    if (!r->has_dst) return;
    civil_from_days(civil_floor_div(t_s, CIVIL_DAY_S), &year, &month, &day);
    n = year_transitions(r, year - 1, 3, tr);
    for (int i = 0; i < n && tr[i].at_s <= t_s; i++)
        k = i;
    if (k < 0) { /* only for rule times far beyond a day; keep the span honest */
        out->end_s = n > 0 ? tr[0].at_s : INT64_MAX;
        return;
    }
    out->start_s = tr[k].at_s;
    out->off_s = tr[k].off_s;
    out->prev_off_s =
        k > 0 ? tr[k - 1].off_s : (tr[k].off_s == r->std_off_s ? r->dst_off_s : r->std_off_s);
    out->end_s = k + 1 < n ? tr[k + 1].at_s : INT64_MAX;
}
