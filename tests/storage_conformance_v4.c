/* The storage conformance suite, version 4: the job lifecycle (storage.h, the block
 * "version 4, job lifecycle"). Each test skips on a driver without the operation. */
#include "conformance_fixture.h"

#include <stdlib.h>
#include <string.h>

static void need(fixture *f, bool has)
{
    if (OPS->version < 4 || !has) skip();
}

static tasker_task_exec get(fixture *f, const char *exec_id)
{
    tasker_task_exec e;
    OK(OPS->get_task_exec(ST, exec_id, &e));
    return e;
}

static void add_task_opts(fixture *f, const char *task_id, int max_concurrency)
{
    tasker_task t = {.task_id = (char *)task_id, .handler = "h", .param = "{}",
                     .max_concurrency = max_concurrency};
    OK(OPS->add_task(ST, &t));
}

static void lifecycle_fields_round_trip(void **state)
{
    fixture *f = *state;
    need(f, true);
    add_task(f, "t");
    tasker_task_exec e = exec_rec("r2", "t", T0_US, TASKER_EXEC_PENDING);
    e.attempt = 2;
    e.retry_of = "r1";
    e.run_at_us = T0_US + 5 * SECOND_US;
    e.priority = -3;
    e.param = "{\"to\":\"a@b\"}";
    e.unique_key = "mail-a";
    OK(OPS->add_task_exec(ST, &e));
    tasker_task_exec got = get(f, "r2");
    assert_int_equal(got.attempt, 2);
    str_eq(got.retry_of, "r1");
    assert_int_equal(got.run_at_us, T0_US + 5 * SECOND_US);
    assert_int_equal(got.priority, -3);
    str_eq(got.param, "{\"to\":\"a@b\"}");
    str_eq(got.unique_key, "mail-a");
    tasker_exec_clear(&got);
    /* The same through the bulk add and the listing. */
    tasker_task_exec v[1] = {exec_rec("r3", "t", T0_US + 1, TASKER_EXEC_PENDING)};
    v[0].param = "[3]";
    v[0].attempt = 1;
    if (OPS->add_task_execs) OK(OPS->add_task_execs(ST, v, 1));
    else OK(OPS->add_task_exec(ST, &v[0]));
    tasker_task_exec *list;
    size_t n;
    OK(OPS->list_task_execs(ST, "t", 0, &list, &n));
    assert_int_equal(n, 2);
    str_eq(list[0].exec_id, "r3");
    str_eq(list[0].param, "[3]");
    assert_null(list[0].unique_key);
    tasker_free_execs(list, n);
}

static void unique_key_is_held_while_pending_or_running(void **state)
{
    fixture *f = *state;
    need(f, OPS->find_unique_exec != NULL);
    add_task(f, "t");
    add_task(f, "u");
    tasker_task_exec a = exec_rec("a", "t", T0_US, TASKER_EXEC_PENDING);
    a.unique_key = "K";
    OK(OPS->add_task_exec(ST, &a));
    tasker_task_exec b = exec_rec("b", "t", T0_US + 1, TASKER_EXEC_PENDING);
    b.unique_key = "K";
    EXPECT_FAIL_WITH_MESSAGE(TASKER_EEXISTS, OPS->add_task_exec(ST, &b));
    char holder[TASKER_ID_SIZE];
    OK(OPS->find_unique_exec(ST, "t", "K", holder));
    str_eq(holder, "a");
    /* Another task may use the key. */
    tasker_task_exec other = exec_rec("o", "u", T0_US, TASKER_EXEC_PENDING);
    other.unique_key = "K";
    OK(OPS->add_task_exec(ST, &other));
    /* Running still holds it; finished frees it. */
    OK(OPS->start_task_exec(ST, "a", T0_US + 2, "node-a"));
    EXPECT_RC(TASKER_EEXISTS, OPS->add_task_exec(ST, &b));
    tasker_task_exec done = exec_rec("a", "t", 0, TASKER_EXEC_SUCCESS);
    done.end_us = T0_US + 3;
    done.success = true;
    OK(OPS->update_task_exec(ST, &done));
    EXPECT_RC(TASKER_ENOTFOUND, OPS->find_unique_exec(ST, "t", "K", holder));
    OK(OPS->add_task_exec(ST, &b));
}

static void cancel_pending_running_and_finished(void **state)
{
    fixture *f = *state;
    need(f, OPS->cancel_task_exec != NULL);
    add_task(f, "t");
    add_exec(f, "p", "t", T0_US, TASKER_EXEC_PENDING);
    add_exec(f, "r", "t", T0_US + 1, TASKER_EXEC_PENDING);
    add_exec(f, "d", "t", T0_US + 2, TASKER_EXEC_SUCCESS);
    OK(OPS->start_task_exec(ST, "r", T0_US + 2, "node-a"));
    tasker_exec_status was = TASKER_EXEC_SUCCESS;
    OK(OPS->cancel_task_exec(ST, "p", T0_US + 9, &was));
    assert_int_equal(was, TASKER_EXEC_PENDING);
    tasker_task_exec e = get(f, "p");
    assert_int_equal(e.status, TASKER_EXEC_CANCELLED);
    assert_int_equal(e.end_us, T0_US + 9);
    tasker_exec_clear(&e);
    OK(OPS->cancel_task_exec(ST, "r", T0_US + 9, &was));
    assert_int_equal(was, TASKER_EXEC_RUNNING);
    e = get(f, "r");
    assert_int_equal(e.status, TASKER_EXEC_RUNNING); /* the node records the outcome */
    tasker_exec_clear(&e);
    EXPECT_FAIL_WITH_MESSAGE(TASKER_ESTATE, OPS->cancel_task_exec(ST, "d", T0_US + 9, NULL));
    EXPECT_FAIL_WITH_MESSAGE(TASKER_ESTATE, OPS->cancel_task_exec(ST, "p", T0_US + 9, NULL));
    EXPECT_FAIL_WITH_MESSAGE(TASKER_ENOTFOUND,
                             OPS->cancel_task_exec(ST, "ghost", T0_US + 9, NULL));
    /* A cancelled run is never started. */
    EXPECT_RC(TASKER_ESTATE, OPS->start_task_exec(ST, "p", T0_US + 10, "node-a"));
}

static void pause_task_and_schedule(void **state)
{
    fixture *f = *state;
    need(f, OPS->set_task_paused && OPS->set_scheme_paused);
    add_task(f, "t");
    OK(OPS->set_task_paused(ST, "t", true));
    tasker_task t;
    OK(OPS->get_task(ST, "t", &t));
    assert_true(t.paused);
    tasker_task_clear(&t);
    /* A re-add keeps the paused state. */
    add_task(f, "t");
    OK(OPS->get_task(ST, "t", &t));
    assert_true(t.paused);
    tasker_task_clear(&t);
    /* A paused task's run neither starts nor is claimed. */
    add_exec(f, "p", "t", T0_US, TASKER_EXEC_PENDING);
    EXPECT_RC(TASKER_ESTATE, OPS->start_task_exec(ST, "p", T0_US + 1, "node-a"));
    if (OPS->claim_task_execs) {
        const char *h[] = {"handler"};
        tasker_task_exec *v;
        size_t n;
        OK(OPS->claim_task_execs(ST, "node-a", h, 1, 5, T0_US + 1, &v, &n));
        assert_int_equal(n, 0);
    }
    OK(OPS->set_task_paused(ST, "t", false));
    OK(OPS->start_task_exec(ST, "p", T0_US + 2, "node-a"));
    EXPECT_FAIL_WITH_MESSAGE(TASKER_ENOTFOUND, OPS->set_task_paused(ST, "ghost", true));

    tasker_task_scheme s = {.scheme_id = "s1", .task_id = "t", .cron = "* * * * *",
                            .created_us = T0_US, .last_fire_us = T0_US};
    OK(OPS->add_task_scheme(ST, &s, NULL));
    OK(OPS->set_scheme_paused(ST, "s1", true, T0_US + 100 * SECOND_US));
    tasker_task_scheme *v;
    size_t n;
    OK(OPS->list_task_schemes(ST, &v, &n));
    assert_int_equal(n, 1);
    assert_true(v[0].paused);
    assert_int_equal(v[0].last_fire_us, T0_US);
    tasker_free_schemes(v, n);
    /* Resuming: no catch-up, the fires missed meanwhile count as handled. */
    set_clock(f, T0_US + 500 * SECOND_US);
    OK(OPS->set_scheme_paused(ST, "s1", false, T0_US + 500 * SECOND_US));
    OK(OPS->list_task_schemes(ST, &v, &n));
    assert_false(v[0].paused);
    assert_true(v[0].last_fire_us >= T0_US + 400 * SECOND_US);
    tasker_free_schemes(v, n);
    EXPECT_FAIL_WITH_MESSAGE(TASKER_ENOTFOUND, OPS->set_scheme_paused(ST, "s9", true, T0_US));
}

static void delayed_runs_start_only_when_due_and_claims_honour_priority(void **state)
{
    fixture *f = *state;
    need(f, OPS->claim_task_execs != NULL);
    add_task(f, "t");
    tasker_task_exec late = exec_rec("late", "t", T0_US, TASKER_EXEC_PENDING);
    late.run_at_us = T0_US + 60 * SECOND_US;
    OK(OPS->add_task_exec(ST, &late));
    EXPECT_RC(TASKER_ESTATE, OPS->start_task_exec(ST, "late", T0_US + SECOND_US, "n"));
    tasker_task_exec e = get(f, "late");
    assert_int_equal(e.status, TASKER_EXEC_PENDING);
    tasker_exec_clear(&e);
    tasker_task_exec lo = exec_rec("lo", "t", T0_US + 1, TASKER_EXEC_PENDING);
    tasker_task_exec hi = exec_rec("hi", "t", T0_US + 2, TASKER_EXEC_PENDING);
    hi.priority = 5;
    OK(OPS->add_task_exec(ST, &lo));
    OK(OPS->add_task_exec(ST, &hi));
    const char *h[] = {"handler"};
    tasker_task_exec *v;
    size_t n;
    OK(OPS->claim_task_execs(ST, "n", h, 1, 10, T0_US + 2 * SECOND_US, &v, &n));
    assert_int_equal(n, 2);
    str_eq(v[0].exec_id, "hi");
    str_eq(v[1].exec_id, "lo");
    tasker_free_execs(v, n);
    set_clock(f, T0_US + 61 * SECOND_US);
    OK(OPS->claim_task_execs(ST, "n", h, 1, 10, T0_US + 61 * SECOND_US, &v, &n));
    assert_int_equal(n, 1);
    str_eq(v[0].exec_id, "late");
    tasker_free_execs(v, n);
}

static void max_concurrency_holds_in_claims_and_starts(void **state)
{
    fixture *f = *state;
    need(f, OPS->claim_task_execs != NULL);
    tasker_task t = {.task_id = "lim", .handler = "handler", .param = "{}",
                     .max_concurrency = 2};
    OK(OPS->add_task(ST, &t));
    for (int i = 0; i < 5; i++) {
        char id[8] = {'e', (char)('0' + i), 0};
        add_exec(f, id, "lim", T0_US + i, TASKER_EXEC_PENDING);
    }
    const char *h[] = {"handler"};
    tasker_task_exec *v;
    size_t total = 0, n;
    for (int round = 0; round < 4; round++) {
        OK(OPS->claim_task_execs(ST, "n", h, 1, 10, T0_US + 10, &v, &n));
        total += n;
        tasker_free_execs(v, n);
    }
    assert_int_equal(total, 2);
    EXPECT_RC(TASKER_ESTATE, OPS->start_task_exec(ST, "e4", T0_US + 11, "n"));
    /* One finishes: one more may start. */
    tasker_task_exec done = exec_rec("e0", "lim", 0, TASKER_EXEC_SUCCESS);
    done.end_us = T0_US + 12;
    OK(OPS->update_task_exec(ST, &done));
    OK(OPS->claim_task_execs(ST, "n", h, 1, 10, T0_US + 13, &v, &n));
    assert_int_equal(n, 1);
    tasker_free_execs(v, n);
    (void)add_task_opts;
}

static void filter_selects_and_pages_with_a_cursor(void **state)
{
    fixture *f = *state;
    need(f, OPS->list_task_execs_filter != NULL);
    add_task(f, "t");
    add_task(f, "u");
    for (int i = 0; i < 7; i++) {
        char id[8] = {'t', (char)('0' + i), 0};
        add_exec(f, id, "t", T0_US + i, i % 2 ? TASKER_EXEC_FAILED : TASKER_EXEC_SUCCESS);
    }
    add_exec(f, "u0", "u", T0_US + 3, TASKER_EXEC_FAILED);
    tasker_exec_filter flt = {.task_id = "t"};
    tasker_task_exec *v;
    size_t n;
    /* Pages of 3, newest first, by the keyset of the last row. */
    OK(OPS->list_task_execs_filter(ST, &flt, 0, NULL, 3, &v, &n));
    assert_int_equal(n, 3);
    str_eq(v[0].exec_id, "t6");
    str_eq(v[2].exec_id, "t4");
    tasker_free_execs(v, n);
    OK(OPS->list_task_execs_filter(ST, &flt, T0_US + 4, "t4", 3, &v, &n));
    assert_int_equal(n, 3);
    str_eq(v[0].exec_id, "t3");
    tasker_free_execs(v, n);
    OK(OPS->list_task_execs_filter(ST, &flt, T0_US + 1, "t1", 3, &v, &n));
    assert_int_equal(n, 1);
    str_eq(v[0].exec_id, "t0");
    tasker_free_execs(v, n);
    /* Status mask, every task, and a time window [since, until). */
    tasker_exec_filter failed = {.status_mask = 1u << TASKER_EXEC_FAILED,
                                 .since_us = T0_US + 1, .until_us = T0_US + 5};
    OK(OPS->list_task_execs_filter(ST, &failed, 0, NULL, 100, &v, &n));
    assert_int_equal(n, 3); /* t3, u0 (same time: exec_id descending), t1 */
    str_eq(v[0].exec_id, "u0");
    str_eq(v[1].exec_id, "t3");
    str_eq(v[2].exec_id, "t1");
    tasker_free_execs(v, n);
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, conformance_setup, conformance_teardown)

static const struct CMUnitTest v4_tests[] = {
    TEST(lifecycle_fields_round_trip),
    TEST(unique_key_is_held_while_pending_or_running),
    TEST(cancel_pending_running_and_finished),
    TEST(pause_task_and_schedule),
    TEST(delayed_runs_start_only_when_due_and_claims_honour_priority),
    TEST(max_concurrency_holds_in_claims_and_starts),
    TEST(filter_selects_and_pages_with_a_cursor),
};

const struct CMUnitTest *conformance_v4_tests(size_t *n)
{
    *n = sizeof v4_tests / sizeof v4_tests[0];
    return v4_tests;
}
