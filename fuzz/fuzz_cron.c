/* libFuzzer target for the cron parser and search: any bytes as an expression; when it
 * parses, a few next() calls from instants across the range must not crash either. */
#include <tasker/cron.h>
#include <tasker/tasker.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int64_t starts_us[] = {
        0,
        1767225600000000LL,
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
    if (tasker_cron_parse(expr, &c) == TASKER_OK) {
        tasker_cron_set_anchor(c, (int64_t)size * 1000003);
        for (size_t i = 0; i < sizeof starts_us / sizeof starts_us[0]; i++) {
            int64_t t_us = starts_us[i];
            for (int k = 0; k < 3; k++) {
                int64_t next_us = 0;
                if (tasker_cron_next(c, t_us, &next_us) != TASKER_OK) break;
                if (next_us <= t_us) abort(); /* next must move strictly forward */
                t_us = next_us;
            }
        }
        tasker_cron_free(c);
    }
    free(expr);
    return 0;
}
