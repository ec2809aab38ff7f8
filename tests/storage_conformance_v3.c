/* The conformance suite, storage version 3: cluster mode. The nodes table (node_beat,
 * list_nodes, node_gone, interrupt_expired: all four or none), claiming by handler,
 * the overlap check, and fencing of late outcomes. A test of an operation the driver
 * leaves NULL is skipped.
 *
 * Leases are judged on the store's clock: the fake clock for a store of one host, the
 * server's for MySQL. So the lease tests move the fake clock past the lease AND wait,
 * in real time, until the store says the lease ended (at most a few seconds): each
 * store then sees a silent node, whichever clock it reads. */
#include "conformance_fixture.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* On a server's clock the lease passes in real time: long enough that a few writes and
 * a check fit inside it on a loaded machine (200 ms did not, under ctest -j2). */
#define LEASE_US (1000 * 1000LL)

static void need_nodes(fixture *f)
{
    const tasker_storage_ops *o = OPS;
    bool any = o->version >= 3 && (o->node_beat || o->list_nodes || o->node_gone ||
                                   o->interrupt_expired);
    bool all = o->version >= 3 && o->node_beat && o->list_nodes && o->node_gone &&
               o->interrupt_expired;
    if (any != all) fail_msg("node_beat, list_nodes, node_gone, interrupt_expired: all or none");
    if (!all) skip();
}

static void need(fixture *f, bool has)
{
    if (OPS->version < 3 || !has) skip();
}

/* Fencing is part of every version 3 driver's outcome write. */
static void need_fencing(fixture *f)
{
    if (OPS->version < 3) skip();
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static void beat(fixture *f, const char *node_id, int running, int64_t *store_now_us)
{
    tasker_node self = {.node_id = (char *)node_id, .host = "host-1", .pid = 4242,
                        .running = running, .handlers = "[\"h\"]", .clock_skew_us = -5};
    OK(OPS->node_beat(ST, &self, store_now_us));
}

static tasker_node *find_node(tasker_node *v, size_t n, const char *node_id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].node_id, node_id) == 0) return &v[i];
    return NULL;
}

static void running_as(fixture *f, const char *exec_id, const char *node_id)
{
    add_exec(f, exec_id, "t", f->now_us, TASKER_EXEC_PENDING);
    OK(OPS->start_task_exec(ST, exec_id, f->now_us, node_id));
}

static tasker_task_exec get(fixture *f, const char *exec_id)
{
    tasker_task_exec e;
    OK(OPS->get_task_exec(ST, exec_id, &e));
    return e;
}

/* ---- nodes ------------------------------------------------------------------------- */

static void beat_writes_the_row_and_list_nodes_shows_it(void **state)
{
    fixture *f = *state;
    need_nodes(f);
    int64_t now1 = 0, now2 = 0, listed_now = 0;
    beat(f, "node-a", 2, &now1);
    assert_true(now1 > 0);
    tasker_node *v = NULL;
    size_t n = 0;
    OK(OPS->list_nodes(ST, 0, &v, &n, &listed_now));
    assert_int_equal(n, 1);
    str_eq(v[0].node_id, "node-a");
    str_eq(v[0].host, "host-1");
    assert_int_equal(v[0].pid, 4242);
    assert_int_equal(v[0].running, 2);
    str_eq(v[0].handlers, "[\"h\"]");
    assert_int_equal(v[0].clock_skew_us, -5);
    assert_int_equal(v[0].heartbeat_us, now1);
    assert_int_equal(v[0].started_us, now1);
    assert_int_equal(v[0].stopped_us, 0);
    assert_false(v[0].alive); /* the core's to judge */
    assert_true(listed_now >= now1);
    int64_t started = v[0].started_us;
    tasker_free_nodes(v, n);

    set_clock(f, f->now_us + SECOND_US);
    beat(f, "node-a", 0, &now2);
    assert_true(now2 >= now1);
    OK(OPS->list_nodes(ST, 0, &v, &n, NULL));
    assert_int_equal(n, 1);
    assert_int_equal(v[0].running, 0);
    assert_int_equal(v[0].heartbeat_us, now2);
    assert_int_equal(v[0].started_us, started); /* the same life */
    tasker_free_nodes(v, n);

    /* since_us filters by heartbeat. */
    OK(OPS->list_nodes(ST, now2 + 1, &v, &n, NULL));
    assert_null(v);
    assert_int_equal(n, 0);
}

static void node_gone_marks_stopped_and_a_beat_revives(void **state)
{
    fixture *f = *state;
    need_nodes(f);
    beat(f, "node-a", 0, NULL);
    beat(f, "node-b", 0, NULL);
    OK(OPS->node_gone(ST, "node-a"));
    OK(OPS->node_gone(ST, "no-such-node"));
    tasker_node *v = NULL;
    size_t n = 0;
    OK(OPS->list_nodes(ST, 0, &v, &n, NULL));
    assert_int_equal(n, 2);
    str_eq(v[0].node_id, "node-a"); /* ordered by node_id */
    assert_true(v[0].stopped_us > 0);
    assert_int_equal(find_node(v, n, "node-b")->stopped_us, 0);
    tasker_free_nodes(v, n);
    beat(f, "node-a", 0, NULL);
    OK(OPS->list_nodes(ST, 0, &v, &n, NULL));
    assert_int_equal(find_node(v, n, "node-a")->stopped_us, 0);
    tasker_free_nodes(v, n);
}

/* ---- the lease rule ---------------------------------------------------------------- */

static void lease_expiry_interrupts_a_silent_nodes_runs_exactly_once(void **state)
{
    fixture *f = *state;
    need_nodes(f);
    add_task(f, "t");
    beat(f, "ghost", 1, NULL);
    beat(f, "live", 1, NULL);
    running_as(f, "e-ghost", "ghost");
    running_as(f, "e-live", "live");
    running_as(f, "e-rowless", "legacy-node"); /* no row: not the lease's business */
    size_t marked = 0;
    OK(OPS->interrupt_expired(ST, LEASE_US, &marked));
    assert_int_equal(marked, 0); /* nobody silent yet */

    set_clock(f, f->now_us + 10 * LEASE_US);
    int64_t deadline = mono_ms() + 5000;
    while (marked == 0 && mono_ms() < deadline) {
        beat(f, "live", 1, NULL); /* live keeps beating; ghost is silent */
        OK(OPS->interrupt_expired(ST, LEASE_US, &marked));
        if (!marked) pause_ms(20);
    }
    assert_int_equal(marked, 1);
    /* A second live node applying the rule finds nothing left to do. */
    size_t again = 99;
    OK(OPS->interrupt_expired(ST, LEASE_US, &again));
    assert_int_equal(again, 0);

    tasker_task_exec e = get(f, "e-ghost");
    assert_int_equal(e.status, TASKER_EXEC_INTERRUPTED);
    assert_false(e.success);
    assert_true(e.end_us > 0);
    assert_non_null(e.error);
    if (strncmp(e.error, "interrupted: node ghost silent since ", 37) != 0)
        fail_msg("error: %s", e.error);
    tasker_exec_clear(&e);
    e = get(f, "e-live");
    assert_int_equal(e.status, TASKER_EXEC_RUNNING);
    tasker_exec_clear(&e);
    e = get(f, "e-rowless");
    assert_int_equal(e.status, TASKER_EXEC_RUNNING);
    tasker_exec_clear(&e);
}

static void a_stopped_nodes_runs_are_interrupted_at_once(void **state)
{
    fixture *f = *state;
    need_nodes(f);
    add_task(f, "t");
    beat(f, "n1", 1, NULL);
    running_as(f, "e1", "n1");
    OK(OPS->node_gone(ST, "n1"));
    size_t marked = 0;
    OK(OPS->interrupt_expired(ST, 3600 * SECOND_US, &marked));
    assert_int_equal(marked, 1);
    tasker_task_exec e = get(f, "e1");
    assert_int_equal(e.status, TASKER_EXEC_INTERRUPTED);
    str_eq(e.error, "interrupted: node n1 stopped");
    tasker_exec_clear(&e);
}

/* Two nodes judging at once: each run is marked once in total. */
typedef struct {
    fixture *f;
    size_t marked;
    int rc;
} judge_arg;

static void *judge_main(void *p)
{
    judge_arg *a = p;
    a->rc = a->f->st->ops->interrupt_expired(a->f->st, LEASE_US, &a->marked);
    return NULL;
}

static void two_nodes_judging_at_once_mark_each_run_once(void **state)
{
    fixture *f = *state;
    need_nodes(f);
    add_task(f, "t");
    beat(f, "ghost", 8, NULL);
    char id[16];
    for (int i = 0; i < 8; i++) {
        snprintf(id, sizeof id, "g%d", i);
        running_as(f, id, "ghost");
    }
    set_clock(f, f->now_us + 10 * LEASE_US);
    /* Wait (real time, for a server's clock) until the ghost's lease has ended: a
     * third judge with a zero lease would see it; we only peek through list_nodes. */
    int64_t deadline = mono_ms() + 5000, store_now = 0;
    for (;;) {
        tasker_node *v = NULL;
        size_t n = 0;
        OK(OPS->list_nodes(ST, 0, &v, &n, &store_now));
        bool expired = n == 1 && store_now - v[0].heartbeat_us > LEASE_US;
        tasker_free_nodes(v, n);
        if (expired) break;
        if (mono_ms() > deadline) fail_msg("the lease never ended");
        pause_ms(20);
    }
    judge_arg a = {f, 0, -1}, b = {f, 0, -1};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, judge_main, &a);
    pthread_create(&tb, NULL, judge_main, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.rc, TASKER_OK);
    assert_int_equal(b.rc, TASKER_OK);
    assert_int_equal(a.marked + b.marked, 8);
}

/* ---- fencing ----------------------------------------------------------------------- */

static bool has_event_containing(fixture *f, const char *exec_id, const char *text)
{
    tasker_task_event *v = NULL;
    size_t n = 0;
    OK(OPS->list_task_events(ST, exec_id, &v, &n));
    bool found = false;
    for (size_t i = 0; i < n; i++)
        if (strstr(v[i].message, text) && v[i].level == TASKER_WARNING) found = true;
    tasker_free_events(v, n);
    return found;
}

static void a_late_outcome_is_refused_and_recorded_as_an_event(void **state)
{
    fixture *f = *state;
    need_fencing(f);
    add_task(f, "t");
    running_as(f, "e1", "node-a");
    /* Another node's outcome: refused, nothing overwritten. */
    tasker_task_exec late = exec_rec("e1", "t", 0, TASKER_EXEC_SUCCESS);
    late.success = true;
    late.end_us = f->now_us + 5;
    late.node_id = "node-b";
    EXPECT_FAIL_WITH_MESSAGE(TASKER_ESTATE, OPS->update_task_exec(ST, &late));
    tasker_task_exec e = get(f, "e1");
    assert_int_equal(e.status, TASKER_EXEC_RUNNING);
    str_eq(e.node_id, "node-a");
    tasker_exec_clear(&e);
    assert_true(has_event_containing(f, "e1", "late outcome from node node-b refused: the run "
                                               "is running, held by node node-a; outcome was "
                                               "success"));
    /* Decided meanwhile (interrupted by a live node): the holder's own outcome is late. */
    tasker_task_exec intr = exec_rec("e1", "t", 0, TASKER_EXEC_INTERRUPTED);
    intr.error = "interrupted: node node-a silent since then";
    intr.end_us = f->now_us + 6;
    OK(OPS->update_task_exec(ST, &intr)); /* node_id NULL: written unconditionally */
    tasker_task_exec mine = exec_rec("e1", "t", 0, TASKER_EXEC_FAILED);
    mine.error = "boom";
    mine.end_us = f->now_us + 7;
    mine.node_id = "node-a";
    EXPECT_RC(TASKER_ESTATE, OPS->update_task_exec(ST, &mine));
    e = get(f, "e1");
    assert_int_equal(e.status, TASKER_EXEC_INTERRUPTED);
    str_eq(e.error, "interrupted: node node-a silent since then");
    tasker_exec_clear(&e);
    assert_true(has_event_containing(f, "e1", "late outcome from node node-a refused: the run "
                                               "is interrupted; outcome was failed: boom"));
    /* The holder's outcome while it holds the run is written. */
    running_as(f, "e2", "node-a");
    tasker_task_exec ok = exec_rec("e2", "t", 0, TASKER_EXEC_SUCCESS);
    ok.success = true;
    ok.end_us = f->now_us + 8;
    ok.node_id = "node-a";
    OK(OPS->update_task_exec(ST, &ok));
    e = get(f, "e2");
    assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
    tasker_exec_clear(&e);
    /* A missing execution stays ENOTFOUND. */
    ok.exec_id = "nope";
    EXPECT_RC(TASKER_ENOTFOUND, OPS->update_task_exec(ST, &ok));
}

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls, rc;
} report;

static void on_done(void *udata, int rc, const char *msg)
{
    (void)msg;
    report *r = udata;
    pthread_mutex_lock(&r->lock);
    r->calls++;
    r->rc = rc;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

static void an_async_late_outcome_reports_estate(void **state)
{
    fixture *f = *state;
    need_fencing(f);
    need(f, OPS->update_task_exec_async != NULL);
    add_task(f, "t");
    running_as(f, "e1", "node-a");
    report r = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    tasker_task_exec late = exec_rec("e1", "t", 0, TASKER_EXEC_SUCCESS);
    late.node_id = "node-b";
    late.end_us = f->now_us + 1;
    OK(OPS->update_task_exec_async(ST, &late, on_done, &r));
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&r.lock);
    while (r.calls == 0 && pthread_cond_timedwait(&r.cond, &r.lock, &until) == 0) {
    }
    pthread_mutex_unlock(&r.lock);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.rc, TASKER_ESTATE);
    tasker_task_exec e = get(f, "e1");
    assert_int_equal(e.status, TASKER_EXEC_RUNNING);
    tasker_exec_clear(&e);
    assert_true(has_event_containing(f, "e1", "late outcome from node node-b refused"));
}

/* ---- claims ------------------------------------------------------------------------ */

static void add_task_h(fixture *f, const char *task_id, const char *handler)
{
    tasker_task t = {.task_id = (char *)task_id, .handler = (char *)handler, .param = "{}"};
    OK(OPS->add_task(ST, &t));
}

static void claim_takes_only_runs_of_the_given_handlers_oldest_first(void **state)
{
    fixture *f = *state;
    need(f, OPS->claim_task_execs != NULL);
    add_task_h(f, "t1", "h1");
    add_task_h(f, "t2", "h2");
    add_exec(f, "e1", "t1", T0_US + 1, TASKER_EXEC_PENDING);
    add_exec(f, "e2", "t2", T0_US + 2, TASKER_EXEC_PENDING);
    add_exec(f, "e3", "t1", T0_US + 3, TASKER_EXEC_PENDING);
    add_exec(f, "e0", "t1", T0_US + 0, TASKER_EXEC_PENDING);
    add_exec(f, "done", "t1", T0_US - 5, TASKER_EXEC_SUCCESS);
    const char *h1[] = {"h1", "h-other"};
    tasker_task_exec *v = NULL;
    size_t n = 0;
    OK(OPS->claim_task_execs(ST, "node-a", h1, 2, 2, T0_US + 50, &v, &n));
    assert_int_equal(n, 2);
    str_eq(v[0].exec_id, "e0");
    str_eq(v[1].exec_id, "e1");
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(v[i].status, TASKER_EXEC_RUNNING);
        str_eq(v[i].node_id, "node-a");
        assert_int_equal(v[i].start_us, T0_US + 50);
        str_eq(v[i].task_id, "t1");
    }
    tasker_free_execs(v, n);
    tasker_task_exec e = get(f, "e1");
    assert_int_equal(e.status, TASKER_EXEC_RUNNING);
    str_eq(e.node_id, "node-a");
    tasker_exec_clear(&e);
    /* What is left of h1, then nothing; e2 stays pending for a node with h2. */
    OK(OPS->claim_task_execs(ST, "node-a", h1, 2, 10, T0_US + 60, &v, &n));
    assert_int_equal(n, 1);
    str_eq(v[0].exec_id, "e3");
    tasker_free_execs(v, n);
    OK(OPS->claim_task_execs(ST, "node-a", h1, 2, 10, T0_US + 70, &v, &n));
    assert_null(v);
    assert_int_equal(n, 0);
    e = get(f, "e2");
    assert_int_equal(e.status, TASKER_EXEC_PENDING);
    tasker_exec_clear(&e);
    const char *h2[] = {"h2"};
    OK(OPS->claim_task_execs(ST, "node-b", h2, 1, 10, T0_US + 80, &v, &n));
    assert_int_equal(n, 1);
    str_eq(v[0].exec_id, "e2");
    str_eq(v[0].node_id, "node-b");
    tasker_free_execs(v, n);
    /* No handlers: nothing. */
    OK(OPS->claim_task_execs(ST, "node-c", NULL, 0, 10, T0_US, &v, &n));
    assert_int_equal(n, 0);
}

typedef struct {
    fixture *f;
    char node[16];
    char (*got)[TASKER_ID_SIZE];
    size_t n_got;
    int rc;
} claimer;

static void *claimer_main(void *p)
{
    claimer *c = p;
    const char *h[] = {"handler"};
    for (;;) {
        tasker_task_exec *v = NULL;
        size_t n = 0;
        c->rc = c->f->st->ops->claim_task_execs(c->f->st, c->node, h, 1, 7, T0_US, &v, &n);
        if (c->rc != TASKER_OK || n == 0) break;
        for (size_t i = 0; i < n; i++) snprintf(c->got[c->n_got++], TASKER_ID_SIZE, "%s", v[i].exec_id);
        tasker_free_execs(v, n);
    }
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void concurrent_claims_never_hand_out_a_run_twice(void **state)
{
    fixture *f = *state;
    need(f, OPS->claim_task_execs != NULL);
    enum { RUNS = 120, CLAIMERS = 4 };
    add_task(f, "t");
    tasker_task_exec v[RUNS];
    char ids[RUNS][16];
    for (int i = 0; i < RUNS; i++) {
        snprintf(ids[i], sizeof ids[i], "c%03d", i);
        v[i] = exec_rec(ids[i], "t", T0_US + i, TASKER_EXEC_PENDING);
        if (!OPS->add_task_execs) OK(OPS->add_task_exec(ST, &v[i]));
    }
    if (OPS->add_task_execs) OK(OPS->add_task_execs(ST, v, RUNS));
    static char got[CLAIMERS][RUNS][TASKER_ID_SIZE];
    claimer c[CLAIMERS];
    pthread_t th[CLAIMERS];
    for (int i = 0; i < CLAIMERS; i++) {
        c[i] = (claimer){.f = f, .got = got[i]};
        snprintf(c[i].node, sizeof c[i].node, "node-%d", i);
        pthread_create(&th[i], NULL, claimer_main, &c[i]);
    }
    static char all[RUNS * CLAIMERS][TASKER_ID_SIZE];
    size_t total = 0;
    for (int i = 0; i < CLAIMERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(c[i].rc, TASKER_OK);
        for (size_t k = 0; k < c[i].n_got && total < RUNS * CLAIMERS; k++)
            memcpy(all[total++], got[i][k], TASKER_ID_SIZE);
    }
    assert_int_equal(total, RUNS);
    qsort(all, total, TASKER_ID_SIZE, cmp_id);
    for (size_t k = 1; k < total; k++)
        if (strcmp(all[k - 1], all[k]) == 0) fail_msg("%s claimed twice", all[k]);
}

/* ---- overlap ------------------------------------------------------------------------ */

static void find_active_exec_sees_pending_and_running_runs_of_a_schedule(void **state)
{
    fixture *f = *state;
    need(f, OPS->find_active_exec != NULL);
    add_task(f, "t");
    tasker_task_scheme s = {"s1", "t", "* * * * *", 0, 0, T0_US, 0, false};
    OK(OPS->add_task_scheme(ST, &s, NULL));
    char id[TASKER_ID_SIZE] = "";
    EXPECT_FAIL_WITH_MESSAGE(TASKER_ENOTFOUND, OPS->find_active_exec(ST, "s1", id));
    tasker_task_exec e = exec_rec("f1", "t", T0_US, TASKER_EXEC_PENDING);
    e.scheme_id = "s1";
    e.scheduled_us = T0_US;
    OK(OPS->add_task_exec(ST, &e));
    add_exec(f, "other", "t", T0_US, TASKER_EXEC_PENDING); /* triggered: not the schedule's */
    OK(OPS->find_active_exec(ST, "s1", id));
    str_eq(id, "f1");
    OK(OPS->start_task_exec(ST, "f1", T0_US, "node-a"));
    OK(OPS->find_active_exec(ST, "s1", id));
    str_eq(id, "f1");
    tasker_task_exec done = exec_rec("f1", "t", 0, TASKER_EXEC_SUCCESS);
    done.end_us = T0_US + 1;
    OK(OPS->update_task_exec(ST, &done));
    EXPECT_RC(TASKER_ENOTFOUND, OPS->find_active_exec(ST, "s1", id));
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, conformance_setup, conformance_teardown)

static const struct CMUnitTest v3_tests[] = {
    TEST(beat_writes_the_row_and_list_nodes_shows_it),
    TEST(node_gone_marks_stopped_and_a_beat_revives),
    TEST(lease_expiry_interrupts_a_silent_nodes_runs_exactly_once),
    TEST(a_stopped_nodes_runs_are_interrupted_at_once),
    TEST(two_nodes_judging_at_once_mark_each_run_once),
    TEST(a_late_outcome_is_refused_and_recorded_as_an_event),
    TEST(an_async_late_outcome_reports_estate),
    TEST(claim_takes_only_runs_of_the_given_handlers_oldest_first),
    TEST(concurrent_claims_never_hand_out_a_run_twice),
    TEST(find_active_exec_sees_pending_and_running_runs_of_a_schedule),
};

const struct CMUnitTest *conformance_v3_tests(size_t *n)
{
    *n = sizeof v3_tests / sizeof v3_tests[0];
    return v3_tests;
}
