/* The conformance suite, storage version 2: asynchronous writes (add_task_event_async,
 * update_task_exec_async) and the batch operations (add_task_execs, start_task_execs).
 * Every one of them is optional; a test of an operation the driver leaves NULL is
 * skipped, and the asynchronous pair must be both set or both NULL. */
#include "conformance_fixture.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* What a driver's done callbacks reported, in the order it called them. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls, order[16], rcs[16];
} reports;

typedef struct {
    reports *r;
    int tag;
} tagged;

static void reports_init(reports *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
}

static void reports_destroy(reports *r)
{
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
}

static void on_done(void *udata, int rc, const char *msg)
{
    tagged *t = udata;
    reports *r = t->r;
    if (rc != TASKER_OK && (!msg || !*msg)) rc = -1000; /* a failure must say why */
    pthread_mutex_lock(&r->lock);
    if (r->calls < 16) {
        r->order[r->calls] = t->tag;
        r->rcs[r->calls] = rc;
    }
    r->calls++;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

/* Waits up to 10 s for want callbacks; returns how many came. */
static int wait_reports(reports *r, int want)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&r->lock);
    while (r->calls < want &&
           pthread_cond_timedwait(&r->cond, &r->lock, &until) == 0) {
    }
    int calls = r->calls;
    pthread_mutex_unlock(&r->lock);
    return calls;
}

static void need_async(fixture *f)
{
    bool ev = OPS->version >= 2 && OPS->add_task_event_async;
    bool up = OPS->version >= 2 && OPS->update_task_exec_async;
    if (ev != up) fail_msg("add_task_event_async and update_task_exec_async: set one, not both");
    if (!ev) skip();
}

static void running_exec(fixture *f, const char *exec_id)
{
    add_exec(f, exec_id, "t", f->now_us, TASKER_EXEC_PENDING);
    OK(OPS->start_task_exec(ST, exec_id, f->now_us, "node-a"));
}

static void async_events_then_outcome_are_stored_in_order_and_reported_once(void **state)
{
    fixture *f = *state;
    need_async(f);
    add_task(f, "t");
    running_exec(f, "e");
    reports r;
    reports_init(&r);
    tagged tags[4] = {{&r, 0}, {&r, 1}, {&r, 2}, {&r, 3}};
    char msg[3][8];
    for (int i = 0; i < 3; i++) {
        snprintf(msg[i], sizeof msg[i], "ev%d", i);
        tasker_task_event ev = {0, "e", f->now_us + i, TASKER_NORMAL, msg[i]};
        OK(OPS->add_task_event_async(ST, &ev, on_done, &tags[i]));
        msg[i][0] = 'X'; /* the driver copied it */
    }
    char result[] = "{\"n\":1}";
    tasker_task_exec out = {.exec_id = "e", .status = TASKER_EXEC_SUCCESS, .success = true,
                            .end_us = f->now_us + 10, .result = result};
    OK(OPS->update_task_exec_async(ST, &out, on_done, &tags[3]));
    result[0] = 'X';
    assert_int_equal(wait_reports(&r, 4), 4);
    for (int i = 0; i < 4; i++) assert_int_equal(r.rcs[i], TASKER_OK);
    /* Once the outcome is reported durable, it and every event before it are readable. */
    tasker_task_exec e;
    OK(OPS->get_task_exec(ST, "e", &e));
    assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
    str_eq(e.result, "{\"n\":1}");
    tasker_exec_clear(&e);
    tasker_task_event *v;
    size_t n;
    OK(OPS->list_task_events(ST, "e", &v, &n));
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        char want[32];
        snprintf(want, sizeof want, "ev%zu", i);
        str_eq(v[i].message, want);
    }
    tasker_free_events(v, n);
    assert_int_equal(wait_reports(&r, 4), 4); /* and never a second call */
    reports_destroy(&r);
}

static void async_outcome_of_a_missing_exec_reports_enotfound(void **state)
{
    fixture *f = *state;
    need_async(f);
    reports r;
    reports_init(&r);
    tagged tag = {&r, 0};
    tasker_task_exec out = {.exec_id = "nope", .status = TASKER_EXEC_FAILED, .error = "x"};
    int rc = OPS->update_task_exec_async(ST, &out, on_done, &tag);
    if (rc == TASKER_OK) { /* accepted: then done says it */
        assert_int_equal(wait_reports(&r, 1), 1);
        assert_int_equal(r.rcs[0], TASKER_ENOTFOUND);
    } else {
        assert_int_equal(rc, TASKER_ENOTFOUND);
        assert_int_equal(r.calls, 0);
    }
    reports_destroy(&r);
}

static void close_finishes_accepted_async_writes(void **state)
{
    fixture *f = *state;
    need_async(f);
    add_task(f, "t");
    reports r;
    reports_init(&r);
    tagged tags[8];
    char id[8];
    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof id, "e%d", i);
        running_exec(f, id);
        tags[2 * i] = (tagged){&r, 2 * i};
        tags[2 * i + 1] = (tagged){&r, 2 * i + 1};
        tasker_task_event ev = {0, id, f->now_us, TASKER_NORMAL, "m"};
        OK(OPS->add_task_event_async(ST, &ev, on_done, &tags[2 * i]));
        tasker_task_exec out = {.exec_id = id, .status = TASKER_EXEC_SUCCESS, .success = true};
        OK(OPS->update_task_exec_async(ST, &out, on_done, &tags[2 * i + 1]));
    }
    OPS->close(ST);
    ST = NULL;
    pthread_mutex_lock(&r.lock);
    int calls = r.calls;
    pthread_mutex_unlock(&r.lock);
    assert_int_equal(calls, 8);
    for (int i = 0; i < 8; i++) assert_int_equal(r.rcs[i], TASKER_OK);
    reports_destroy(&r);
}

static void need_op(fixture *f, const void *op)
{
    if (OPS->version < 2 || !op) skip();
}

static void add_task_execs_is_all_or_nothing(void **state)
{
    fixture *f = *state;
    need_op(f, (const void *)OPS->add_task_execs);
    add_task(f, "t");
    add_exec(f, "old", "t", f->now_us, TASKER_EXEC_PENDING);
    tasker_task_exec v[3] = {exec_rec("a", "t", f->now_us, TASKER_EXEC_PENDING),
                             exec_rec("b", "missing", f->now_us, TASKER_EXEC_PENDING),
                             exec_rec("c", "t", f->now_us, TASKER_EXEC_PENDING)};
    EXPECT_FAIL_WITH_MESSAGE(TASKER_ENOTFOUND, OPS->add_task_execs(ST, v, 3));
    assert_false(exec_exists(f, "a"));
    assert_false(exec_exists(f, "c"));
    v[1] = exec_rec("old", "t", f->now_us, TASKER_EXEC_PENDING); /* clashes with the store */
    EXPECT_FAIL_WITH_MESSAGE(TASKER_EEXISTS, OPS->add_task_execs(ST, v, 3));
    assert_false(exec_exists(f, "a"));
    v[1] = exec_rec("a", "t", f->now_us, TASKER_EXEC_PENDING); /* clashes within the batch */
    EXPECT_FAIL_WITH_MESSAGE(TASKER_EEXISTS, OPS->add_task_execs(ST, v, 3));
    assert_false(exec_exists(f, "a"));
    assert_false(exec_exists(f, "c"));
    v[1] = exec_rec("b", "t", f->now_us, TASKER_EXEC_PENDING);
    OK(OPS->add_task_execs(ST, v, 3));
    assert_true(exec_exists(f, "a") && exec_exists(f, "b") && exec_exists(f, "c"));
    OK(OPS->add_task_execs(ST, v, 0));
}

static void add_task_execs_applies_retention(void **state)
{
    fixture *f = *state;
    need_op(f, (const void *)OPS->add_task_execs);
    add_task(f, "t");
    set_retention(f, 2, -1);
    add_exec(f, "done1", "t", f->now_us - 3, TASKER_EXEC_SUCCESS);
    add_exec(f, "done2", "t", f->now_us - 2, TASKER_EXEC_SUCCESS);
    tasker_task_exec v[2] = {exec_rec("n1", "t", f->now_us - 1, TASKER_EXEC_SUCCESS),
                             exec_rec("n2", "t", f->now_us, TASKER_EXEC_SUCCESS)};
    OK(OPS->add_task_execs(ST, v, 2));
    assert_false(exec_exists(f, "done1"));
    assert_false(exec_exists(f, "done2"));
    assert_true(exec_exists(f, "n1") && exec_exists(f, "n2"));
}

static void start_task_execs_gives_each_its_own_result(void **state)
{
    fixture *f = *state;
    need_op(f, (const void *)OPS->start_task_execs);
    add_task(f, "t");
    add_exec(f, "p1", "t", f->now_us, TASKER_EXEC_PENDING);
    add_exec(f, "p2", "t", f->now_us, TASKER_EXEC_PENDING);
    running_exec(f, "r");
    const char *ids[4] = {"p1", "r", "missing", "p2"};
    int rcs[4] = {-1, -1, -1, -1};
    OK(OPS->start_task_execs(ST, ids, 4, f->now_us + 5, "node-b", rcs));
    assert_int_equal(rcs[0], TASKER_OK);
    assert_int_equal(rcs[1], TASKER_ESTATE);
    assert_int_equal(rcs[2], TASKER_ENOTFOUND);
    assert_int_equal(rcs[3], TASKER_OK);
    tasker_task_exec e;
    OK(OPS->get_task_exec(ST, "p2", &e));
    assert_int_equal(e.status, TASKER_EXEC_RUNNING);
    assert_int_equal(e.start_us, f->now_us + 5);
    str_eq(e.node_id, "node-b");
    tasker_exec_clear(&e);
    OK(OPS->get_task_exec(ST, "r", &e));
    str_eq(e.node_id, "node-a"); /* the lost compare-and-set changed nothing */
    tasker_exec_clear(&e);
    /* A second claim of the same runs: each is taken already. */
    OK(OPS->start_task_execs(ST, ids, 1, f->now_us + 6, "node-c", rcs));
    assert_int_equal(rcs[0], TASKER_ESTATE);
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, conformance_setup, conformance_teardown)

static const struct CMUnitTest v2_tests[] = {
    TEST(async_events_then_outcome_are_stored_in_order_and_reported_once),
    TEST(async_outcome_of_a_missing_exec_reports_enotfound),
    TEST(close_finishes_accepted_async_writes),
    TEST(add_task_execs_is_all_or_nothing),
    TEST(add_task_execs_applies_retention),
    TEST(start_task_execs_gives_each_its_own_result),
};

const struct CMUnitTest *conformance_v2_tests(size_t *n)
{
    *n = sizeof v2_tests / sizeof v2_tests[0];
    return v2_tests;
}
