/* The storage conformance suite, version 4 bulk operations (issue 14; storage.h, the
 * block "version 4: bulk definitions"): add_definitions, set_scheme_fires and
 * schemes_version. Each test skips on a driver without the operation. */
#include "conformance_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MANY 1200 /* more than one chunk of a multi-row statement (MySQL: 500) */

static void need(fixture *f, bool has)
{
    if (OPS->version < 4 || !has) skip();
}

static tasker_task_scheme *scheme_of(tasker_task_scheme *v, size_t n, const char *task_id,
                                     const char *cron)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].task_id, task_id) == 0 && strcmp(v[i].cron, cron) == 0) return &v[i];
    return NULL;
}

static int64_t last_fire(fixture *f, const char *scheme_id)
{
    tasker_task_scheme *v;
    size_t n;
    int64_t at = -1;
    OK(OPS->list_task_schemes(ST, &v, &n));
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].scheme_id, scheme_id) == 0) at = v[i].last_fire_us;
    tasker_free_schemes(v, n);
    return at;
}

static void add_definitions_stores_tasks_then_schedules_of_them(void **state)
{
    fixture *f = *state;
    need(f, OPS->add_definitions != NULL);
    /* An existing task is replaced and keeps its paused state and its schedule. */
    tasker_task old = {.task_id = "a", .handler = "old", .param = "1", .paused = true};
    OK(OPS->add_task(ST, &old));
    tasker_task_scheme kept = {"s-kept", "a", "0 * * * *", TASKER_MISFIRE_ONCE,
                               TASKER_OVERLAP_ALLOW, T0_US, 0, false};
    OK(OPS->add_task_scheme(ST, &kept, NULL));
    tasker_task tasks[] = {
        {.task_id = "a", .handler = "h1", .param = "{\"x\":1}", .desc = "first",
         .max_attempts = 3},
        {.task_id = "b", .handler = "h2", .param = "null"},
    };
    tasker_task_scheme schemes[] = {
        {"s1", "b", "*/5 * * * *", TASKER_MISFIRE_SKIP, TASKER_OVERLAP_FORBID, T0_US, 0, false},
        /* the same task and cron as a stored one: that one's id, these policies */
        {"s2", "a", "0 * * * *", TASKER_MISFIRE_ALL, TASKER_OVERLAP_FORBID, T0_US, 0, false},
    };
    OK(OPS->add_definitions(ST, tasks, 2, schemes, 2));
    tasker_task got;
    OK(OPS->get_task(ST, "a", &got));
    str_eq(got.handler, "h1");
    str_eq(got.param, "{\"x\":1}");
    str_eq(got.desc, "first");
    assert_int_equal(got.max_attempts, 3);
    assert_true(got.paused);
    tasker_task_clear(&got);
    OK(OPS->get_task(ST, "b", &got));
    str_eq(got.handler, "h2");
    assert_false(got.paused);
    tasker_task_clear(&got);
    tasker_task_scheme *v;
    size_t n;
    OK(OPS->list_task_schemes(ST, &v, &n));
    assert_int_equal(n, 2);
    tasker_task_scheme *s1 = scheme_of(v, n, "b", "*/5 * * * *"),
                       *s2 = scheme_of(v, n, "a", "0 * * * *");
    assert_non_null(s1);
    assert_non_null(s2);
    str_eq(s1->scheme_id, "s1");
    assert_int_equal(s1->misfire, TASKER_MISFIRE_SKIP);
    str_eq(s2->scheme_id, "s-kept");
    assert_int_equal(s2->misfire, TASKER_MISFIRE_ALL);
    assert_int_equal(s2->overlap, TASKER_OVERLAP_FORBID);
    tasker_free_schemes(v, n);
    /* Empty is nothing to do. */
    OK(OPS->add_definitions(ST, NULL, 0, NULL, 0));
}

/* Many items, past a chunk: all stored; and a bad one late in the call stores none. */
static void add_definitions_of_many_is_all_or_nothing_naming_the_bad_one(void **state)
{
    fixture *f = *state;
    need(f, OPS->add_definitions != NULL);
    tasker_task *tasks = calloc(MANY, sizeof *tasks);
    tasker_task_scheme *schemes = calloc(MANY, sizeof *schemes);
    char (*ids)[3][24] = calloc(MANY, sizeof *ids);
    assert_non_null(tasks);
    assert_non_null(schemes);
    assert_non_null(ids);
    for (int i = 0; i < MANY; i++) {
        snprintf(ids[i][0], sizeof ids[i][0], "t%05d", i);
        snprintf(ids[i][1], sizeof ids[i][1], "s%05d", i);
        snprintf(ids[i][2], sizeof ids[i][2], "x%05d", i);
        tasks[i] = (tasker_task){.task_id = ids[i][0], .handler = "h", .param = "{}"};
        schemes[i] = (tasker_task_scheme){.scheme_id = ids[i][1], .task_id = ids[i][0],
                                          .cron = "0 0 * * *", .created_us = T0_US};
    }
    /* A schedule of a task in neither the call nor the store, past the first chunk. */
    schemes[MANY - 100].task_id = "no-such-task";
    EXPECT_FAIL_WITH_MESSAGE(TASKER_ENOTFOUND,
                             OPS->add_definitions(ST, tasks, MANY, schemes, MANY));
    if (!strstr(tasker_last_error(), "no-such-task"))
        fail_msg("the message does not name the bad schedule's task: %s", tasker_last_error());
    tasker_task *tv;
    tasker_task_scheme *sv;
    size_t n;
    OK(OPS->list_tasks(ST, &tv, &n));
    assert_int_equal(n, 0); /* nothing of the call, tasks included */
    OK(OPS->list_task_schemes(ST, &sv, &n));
    assert_int_equal(n, 0);
    /* Fixed, the same call stores everything. */
    schemes[MANY - 100].task_id = ids[MANY - 100][0];
    OK(OPS->add_definitions(ST, tasks, MANY, schemes, MANY));
    OK(OPS->list_tasks(ST, &tv, &n));
    assert_int_equal(n, MANY);
    tasker_free_tasks(tv, n);
    OK(OPS->list_task_schemes(ST, &sv, &n));
    assert_int_equal(n, MANY);
    str_eq(sv[MANY - 1].scheme_id, "s01199");
    str_eq(sv[MANY - 1].task_id, "t01199");
    tasker_free_schemes(sv, n);
    /* A second schedule per task: the first chunks stored, then a bad one: none kept. */
    for (int i = 0; i < MANY; i++) {
        schemes[i].scheme_id = ids[i][2];
        schemes[i].cron = "30 0 * * *";
    }
    schemes[MANY - 1].task_id = "missing-too";
    EXPECT_FAIL_WITH_MESSAGE(TASKER_ENOTFOUND, OPS->add_definitions(ST, NULL, 0, schemes, MANY));
    OK(OPS->list_task_schemes(ST, &sv, &n));
    assert_int_equal(n, MANY);
    tasker_free_schemes(sv, n);
    free(tasks);
    free(schemes);
    free(ids);
}

static void set_scheme_fires_moves_each_forward_and_passes_over_gone_ones(void **state)
{
    fixture *f = *state;
    need(f, OPS->set_scheme_fires != NULL);
    add_task(f, "t");
    tasker_task_scheme a = {"sa", "t", "* * * * *", 0, 0, T0_US, 0, false};
    tasker_task_scheme b = {"sb", "t", "*/2 * * * *", 0, 0, T0_US, 0, false};
    OK(OPS->add_task_scheme(ST, &a, NULL));
    OK(OPS->add_task_scheme(ST, &b, NULL));
    OK(OPS->set_scheme_fire(ST, "sb", T0_US + 600 * SECOND_US));
    const char *ids[] = {"sa", "gone", "sb"};
    int64_t at[] = {T0_US + 60 * SECOND_US, T0_US, T0_US + 120 * SECOND_US};
    OK(OPS->set_scheme_fires(ST, ids, at, 3));
    assert_int_equal(last_fire(f, "sa"), T0_US + 60 * SECOND_US);
    assert_int_equal(last_fire(f, "sb"), T0_US + 600 * SECOND_US); /* never back */
    /* Many at once, each to its own time. */
    enum { N = 700 };
    static char names[N][16];
    const char *many[N];
    int64_t when[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "m%03d", i);
        char cron[32];
        snprintf(cron, sizeof cron, "%d %d * * *", i % 60, (i / 60) % 24);
        tasker_task_scheme s = {names[i], "t", cron, 0, 0, T0_US, 0, false};
        OK(OPS->add_task_scheme(ST, &s, NULL));
        many[i] = names[i];
        when[i] = T0_US + (i + 1) * SECOND_US;
    }
    OK(OPS->set_scheme_fires(ST, many, when, N));
    assert_int_equal(last_fire(f, "m000"), T0_US + SECOND_US);
    assert_int_equal(last_fire(f, "m699"), T0_US + 700 * SECOND_US);
    assert_int_equal(last_fire(f, "m350"), T0_US + 351 * SECOND_US);
}

static void schemes_version_moves_with_what_fires_not_with_fires(void **state)
{
    fixture *f = *state;
    need(f, OPS->schemes_version != NULL);
    uint64_t v0, v;
    OK(OPS->schemes_version(ST, &v0));
    add_task(f, "t");
    tasker_task_scheme s = {"s1", "t", "* * * * *", 0, 0, T0_US, 0, false};
    OK(OPS->add_task_scheme(ST, &s, NULL));
    OK(OPS->schemes_version(ST, &v));
    assert_true(v != v0);
    /* A fire alone does not move it. */
    uint64_t before = v;
    OK(OPS->set_scheme_fire(ST, "s1", T0_US + 60 * SECOND_US));
    if (OPS->set_scheme_fires) {
        const char *ids[] = {"s1"};
        int64_t at[] = {T0_US + 120 * SECOND_US};
        OK(OPS->set_scheme_fires(ST, ids, at, 1));
    }
    OK(OPS->schemes_version(ST, &v));
    assert_true(v == before);
    /* A pause, a resume, a task replaced, a bulk add, a removal each move it. */
    if (OPS->set_scheme_paused) {
        OK(OPS->set_scheme_paused(ST, "s1", true, T0_US));
        OK(OPS->schemes_version(ST, &v));
        assert_true(v != before);
        before = v;
        OK(OPS->set_scheme_paused(ST, "s1", false, T0_US + 600 * SECOND_US));
        OK(OPS->schemes_version(ST, &v));
        assert_true(v != before);
        before = v;
    }
    if (OPS->set_task_paused) {
        OK(OPS->set_task_paused(ST, "t", true));
        OK(OPS->schemes_version(ST, &v));
        assert_true(v != before);
        before = v;
    }
    tasker_task changed = {.task_id = "t", .handler = "other", .param = "{}"};
    OK(OPS->add_task(ST, &changed));
    OK(OPS->schemes_version(ST, &v));
    assert_true(v != before);
    before = v;
    if (OPS->add_definitions) {
        tasker_task_scheme more = {"s2", "t", "0 * * * *", 0, 0, T0_US, 0, false};
        OK(OPS->add_definitions(ST, NULL, 0, &more, 1));
        OK(OPS->schemes_version(ST, &v));
        assert_true(v != before);
        before = v;
    }
    OK(OPS->remove_task_scheme(ST, "s1"));
    OK(OPS->schemes_version(ST, &v));
    assert_true(v != before);
    before = v;
    OK(OPS->remove_task(ST, "t"));
    OK(OPS->schemes_version(ST, &v));
    assert_true(v != before);
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, conformance_setup, conformance_teardown)

const struct CMUnitTest *conformance_bulk_tests(size_t *n)
{
    static const struct CMUnitTest tests[] = {
        TEST(add_definitions_stores_tasks_then_schedules_of_them),
        TEST(add_definitions_of_many_is_all_or_nothing_naming_the_bad_one),
        TEST(set_scheme_fires_moves_each_forward_and_passes_over_gone_ones),
        TEST(schemes_version_moves_with_what_fires_not_with_fires),
    };
    *n = sizeof tests / sizeof tests[0];
    return tests;
}
