/* Shared test helpers. */
#include "support/testutil.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t fake_clock_read(void *udata)
{
    return atomic_load(&((fake_clock *)udata)->now_us);
}

void fake_clock_set(fake_clock *c, int64_t now_us)
{
    atomic_store(&c->now_us, now_us);
}

void fake_clock_advance(fake_clock *c, int64_t delta_us)
{
    atomic_fetch_add(&c->now_us, delta_us);
}

tasker_t *test_open(const char *dsn, int workers, fake_clock *clock)
{
    tasker_options o = {.workers = workers};
    if (clock) {
        o.clock = fake_clock_read;
        o.clock_udata = clock;
    }
    tasker_t *t = tasker_open_opts(dsn, &o);
    if (!t) fail_msg("open %s: %s", dsn, tasker_last_error());
    return t;
}

bool test_wait_for(bool (*pred)(void *arg), void *arg, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited++) {
        if (pred(arg)) return true;
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
    return pred(arg);
}

void test_run_task(tasker_t *t, const char *task_id, tasker_task_exec *out)
{
    char id[TASKER_ID_SIZE];
    assert_int_equal(tasker_trigger(t, task_id, id), TASKER_OK);
    assert_int_equal(tasker_wait(t, id, 10000), TASKER_OK);
    assert_int_equal(tasker_get_exec(t, id, out), TASKER_OK);
}

int64_t test_utc_us(const char *text)
{
    struct tm tm = {0};
    if (!strptime(text, "%Y-%m-%d %H:%M:%S", &tm)) fail_msg("bad time '%s'", text);
    return (int64_t)timegm(&tm) * 1000000;
}
