/* The conformance suite's fixture and helpers, shared by its files
 * (storage_conformance.c: version 1 operations; storage_conformance_v2.c: version 2;
 * storage_conformance_v3.c: version 3, cluster mode).
 * A fixture is a fresh store with a fake clock that tests move. */
#ifndef TASKER_TESTS_CONFORMANCE_FIXTURE_H
#define TASKER_TESTS_CONFORMANCE_FIXTURE_H

#include "storage_conformance.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define T0_US INT64_C(1700000000000000) /* 2023-11-14, a plausible "now" */
#define SECOND_US INT64_C(1000000)

typedef struct fixture {
    tasker_storage *st;
    int64_t now_us; /* the fake clock; tests move it, the driver reads it */
} fixture;

/* The store each fixture opens (set by tasker_storage_conformance). */
extern conformance_open_fn conformance_open;
extern void *conformance_udata;

int conformance_setup(void **state);
int conformance_teardown(void **state);
void set_clock(fixture *f, int64_t now_us);
void set_retention(fixture *f, int max_execs, int64_t max_age_s);

#define OPS (f->st->ops)
#define ST (f->st)

/* Fails with the driver's message when call does not return want. */
#define EXPECT_RC(want, call)                                                            \
    do {                                                                                 \
        int rc_ = (call);                                                                \
        if (rc_ != (want))                                                               \
            fail_msg("%s returned %s, want %s (%s)", #call, tasker_strerror(rc_),       \
                     tasker_strerror(want), tasker_last_error());                        \
    } while (0)
#define OK(call) EXPECT_RC(TASKER_OK, call)

/* A failure must leave a message for the thread. */
#define EXPECT_FAIL_WITH_MESSAGE(want, call)                                             \
    do {                                                                                 \
        tasker_set_error(TASKER_OK, "%s", "");                                           \
        EXPECT_RC(want, call);                                                           \
        if (!tasker_last_error()[0]) fail_msg("%s failed without a message", #call);    \
    } while (0)

void str_eq(const char *got, const char *want);
void add_task(fixture *f, const char *task_id);
tasker_task_exec exec_rec(const char *exec_id, const char *task_id, int64_t queued_us,
                          tasker_exec_status status);
void add_exec(fixture *f, const char *exec_id, const char *task_id, int64_t queued_us,
              tasker_exec_status status);
bool exec_exists(fixture *f, const char *exec_id);
size_t count_events(fixture *f, const char *exec_id);

/* The version 2 tests (storage_conformance_v2.c); *n gets their number. */
const struct CMUnitTest *conformance_v2_tests(size_t *n);
/* The task policy tests (storage_conformance_policy.c); *n gets their number. */
const struct CMUnitTest *conformance_policy_tests(size_t *n);
/* The version 3 tests (storage_conformance_v3.c): cluster mode. */
const struct CMUnitTest *conformance_v3_tests(size_t *n);
/* The version 4 tests (storage_conformance_v4.c): the job lifecycle. */
const struct CMUnitTest *conformance_v4_tests(size_t *n);
/* The version 4 bulk tests (storage_conformance_bulk.c): bulk definitions, fires, the
 * schedules' change counter. */
const struct CMUnitTest *conformance_bulk_tests(size_t *n);

#endif
