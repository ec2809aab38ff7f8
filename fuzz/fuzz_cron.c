/* libFuzzer target for the cron parser and search: any bytes as an expression (parsed
 * with a key for H, or without one when the input's length is odd, so that the error
 * path runs too); when it parses, a few next() calls from instants across the range must
 * not crash, and prev() must agree with next() at each of them:
 *   n = next(t): prev(n) == n;
 *   p = prev(t): p <= t, next(p - 1) == p, and no fire lies in (p, t]. */
#include <tasker/cron.h>
#include <tasker/tasker.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Aborts (a crash libFuzzer reports) when prev and next disagree at t_us. */
static void check_prev(const tasker_cron *c, int64_t t_us)
{
    int64_t n_us = 0, p_us = 0, x_us = 0;
    if (tasker_cron_next(c, t_us, &n_us) == TASKER_OK &&
        (tasker_cron_prev(c, n_us, &x_us) != TASKER_OK || x_us != n_us))
        abort();
    if (tasker_cron_prev(c, t_us, &p_us) != TASKER_OK) return;
    if (p_us > t_us) abort();
    if (tasker_cron_next(c, p_us - 1, &x_us) != TASKER_OK || x_us != p_us) abort();
    if (tasker_cron_next(c, p_us, &x_us) == TASKER_OK && x_us <= t_us) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int64_t starts_us[] = {
        0,
        1767225600000000LL,
        1793512799999999LL, /* 2026-11-01 05:59:59.999999 Z: a fall back in America */
        -2208988800000000LL,
        4102444800000000LL,
        INT64_MIN,
        INT64_MAX,
        INT64_MAX - 86400000000LL * 400,
    };
    char *expr = malloc(size + 1);
    tasker_cron *c = NULL;
    if (!expr) return 0;
    memcpy(expr, data, size);
    expr[size] = '\0';
    if (tasker_cron_parse_key(expr, size % 2 ? NULL : "fuzz-task", &c) == TASKER_OK) {
        tasker_cron_set_anchor(c, (int64_t)size * 1000003);
        for (size_t i = 0; i < sizeof starts_us / sizeof starts_us[0]; i++) {
            int64_t t_us = starts_us[i];
            check_prev(c, t_us);
            for (int k = 0; k < 3; k++) {
                int64_t next_us = 0;
                if (tasker_cron_next(c, t_us, &next_us) != TASKER_OK) break;
                if (next_us <= t_us) abort(); /* next must move strictly forward */
                t_us = next_us;
                check_prev(c, t_us + 1);
            }
        }
        tasker_cron_free(c);
    }
    free(expr);
    return 0;
}
