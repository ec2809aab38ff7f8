/* Shared test helpers: a fake clock, opening handles, waiting on conditions. */
#ifndef TASKER_TESTUTIL_H
#define TASKER_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <tasker/context.h>
#include <tasker/storage.h>
#include <tasker/tasker.h>

/* A clock the test moves by hand. Thread-safe. */
typedef struct fake_clock {
    _Atomic int64_t now_us;
} fake_clock;
int64_t fake_clock_read(void *udata);
void fake_clock_set(fake_clock *c, int64_t now_us);
void fake_clock_advance(fake_clock *c, int64_t delta_us);

/* Opens dsn with workers and an optional fake clock; fails the test when it cannot. */
tasker_t *test_open(const char *dsn, int workers, fake_clock *clock);

/* Waits up to timeout_ms for pred(arg) to be true, checking every millisecond. */
bool test_wait_for(bool (*pred)(void *arg), void *arg, int timeout_ms);

/* Triggers task_id and waits for the run; fills *out (clear with tasker_exec_clear). */
void test_run_task(tasker_t *t, const char *task_id, tasker_task_exec *out);

/* "2024-03-10 07:00:00" (UTC) in microseconds. */
int64_t test_utc_us(const char *text);

#endif
