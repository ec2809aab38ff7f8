/* Which days of a month match the dom and dow fields, with the specials resolved for
 * that month (L, L-n, nW, LW, L-nW, nL, n#k) and Vixie cron's rule joining the two fields:
 * when both are restricted a day matches if either does; when one began with '*' or
 * '?', both must (so the unrestricted one lets everything through). */
#include "civil.h"
#include "cron_internal.h"

/* Bits 0, 7, 14, 21, 28: one weekday of a month, before shifting to its first day. */
#define EVERY_7TH_DAY (1ULL | 1ULL << 7 | 1ULL << 14 | 1ULL << 21 | 1ULL << 28)

/* "nW": the weekday (Mon-Fri) nearest day n without leaving the month. */
static int nearest_weekday(int n, int wd, int ndays)
{
    if (wd == 6) return n > 1 ? n - 1 : n + 2;     /* Saturday: Friday, or Monday the 3rd */
    if (wd == 0) return n < ndays ? n + 1 : n - 2; /* Sunday: Monday, or Friday before */
    return n;
}

static uint32_t dom_days(const tasker_cron *c, int ndays, int wd1, uint32_t valid)
{
    uint32_t days = c->dom & valid;
    for (uint32_t bits = c->dom_last; bits; bits &= bits - 1) {
        int n = __builtin_ctz(bits);
        if (n < ndays) days |= 1U << (ndays - n);
    }
    /* "L-nW" is "mW" for m = the month's last day - n ("LW": m = the last day). */
    for (uint32_t bits = c->dom_last_near; bits; bits &= bits - 1) {
        int m = ndays - __builtin_ctz(bits);
        if (m >= 1) days |= 1U << nearest_weekday(m, (wd1 + m - 1) % 7, ndays);
    }
    for (uint32_t bits = c->dom_near; bits; bits &= bits - 1) {
        int n = __builtin_ctz(bits);
        if (n <= ndays) days |= 1U << nearest_weekday(n, (wd1 + n - 1) % 7, ndays);
    }
    return days;
}

static uint32_t dow_days(const tasker_cron *c, int ndays, int wd1, uint32_t valid)
{
    uint64_t days = 0;
    int wd_last = (wd1 + ndays - 1) % 7;
    for (int w = 0; w < 7; w++) {
        int first = 1 + (w - wd1 + 7) % 7; /* the month's first day that is weekday w */
        if (c->dow & (1U << w)) days |= EVERY_7TH_DAY << first;
        if (c->dow_last & (1U << w)) days |= 1ULL << (ndays - (wd_last - w + 7) % 7);
        for (uint32_t k = c->dow_nth[w]; k; k &= k - 1)
            days |= 1ULL << (first + 7 * __builtin_ctz(k));
    }
    return (uint32_t)days & valid;
}

uint32_t cron_month_days(const tasker_cron *c, int64_t year, int month)
{
    int ndays = civil_days_in_month(year, month);
    uint32_t valid = ((1U << ndays) - 1) << 1; /* bits 1..ndays */
    int wd1 = civil_weekday(civil_days_from(year, month, 1));
    uint32_t dom = dom_days(c, ndays, wd1, valid);
    if (c->dow_star && c->dow == 0x7f)
        return dom; /* the common "* * *" and "1 * *": no weekday work */
    uint32_t dow = dow_days(c, ndays, wd1, valid);
    if (c->dom_star || c->dow_star) return dom & dow;
    return dom | dow;
}
