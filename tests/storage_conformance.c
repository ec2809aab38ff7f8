/* The storage conformance suite (see storage_conformance.h): every rule of
 * include/tasker/storage.h, checked through the ops table of a fresh store per test. */
#include "conformance_fixture.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

void str_eq(const char *got, const char *want)
{
    if (!got && !want) return;
    if (!got || !want || strcmp(got, want) != 0)
        fail_msg("got %s%s%s, want %s%s%s", got ? "\"" : "", got ? got : "NULL",
                 got ? "\"" : "", want ? "\"" : "", want ? want : "NULL", want ? "\"" : "");
}

void add_task(fixture *f, const char *task_id)
{
    tasker_task t = {.task_id = (char *)task_id, .handler = "handler", .desc = NULL, .param = "{}"};
    OK(OPS->add_task(ST, &t));
}

static void add_scheme(fixture *f, const char *scheme_id, const char *task_id, const char *cron)
{
    tasker_task_scheme s = {(char *)scheme_id, (char *)task_id, (char *)cron, 0, 0, T0_US, 0, false};
    OK(OPS->add_task_scheme(ST, &s, NULL));
}

tasker_task_exec exec_rec(const char *exec_id, const char *task_id, int64_t queued_us,
                          tasker_exec_status status)
{
    tasker_task_exec e = {0};
    e.exec_id = (char *)exec_id;
    e.task_id = (char *)task_id;
    e.queued_us = queued_us;
    e.status = status;
    return e;
}

void add_exec(fixture *f, const char *exec_id, const char *task_id, int64_t queued_us,
              tasker_exec_status status)
{
    tasker_task_exec e = exec_rec(exec_id, task_id, queued_us, status);
    OK(OPS->add_task_exec(ST, &e));
}

static void finish_exec(fixture *f, const char *exec_id, tasker_exec_status status)
{
    tasker_task_exec e = {0};
    e.exec_id = (char *)exec_id;
    e.status = status;
    e.success = status == TASKER_EXEC_SUCCESS;
    e.end_us = f->now_us;
    OK(OPS->update_task_exec(ST, &e));
}

static void add_event(fixture *f, const char *exec_id, const char *message)
{
    tasker_task_event ev = {0, (char *)exec_id, f->now_us, TASKER_NORMAL, (char *)message};
    OK(OPS->add_task_event(ST, &ev));
}

bool exec_exists(fixture *f, const char *exec_id)
{
    tasker_task_exec e;
    int rc = OPS->get_task_exec(ST, exec_id, &e);
    if (rc == TASKER_OK) tasker_exec_clear(&e);
    else if (rc != TASKER_ENOTFOUND)
        fail_msg("get_task_exec(%s): %s (%s)", exec_id, tasker_strerror(rc), tasker_last_error());
    return rc == TASKER_OK;
}

static size_t count_execs(fixture *f, const char *task_id)
{
    tasker_task_exec *v;
    size_t n;
    OK(OPS->list_task_execs(ST, task_id, 0, &v, &n));
    tasker_free_execs(v, n);
    return n;
}

size_t count_events(fixture *f, const char *exec_id)
{
    tasker_task_event *v;
    size_t n;
    OK(OPS->list_task_events(ST, exec_id, &v, &n));
    tasker_free_events(v, n);
    return n;
}

/* Events of a pruned execution must be gone from the store, not merely hidden behind
 * the missing execution: store a new execution under the same id and look. */
static void assert_events_gone(fixture *f, const char *exec_id, const char *task_id)
{
    assert_false(exec_exists(f, exec_id));
    add_exec(f, exec_id, task_id, f->now_us, TASKER_EXEC_PENDING);
    assert_int_equal(count_events(f, exec_id), 0);
}

static void id_of(char *buf, size_t size, const char *prefix, int i)
{
    snprintf(buf, size, "%s%05d", prefix, i);
}

/* ---- tasks ------------------------------------------------------------------------ */

static void task_round_trips_and_is_copied(void **state)
{
    fixture *f = *state;
    char id[] = "task-1", param[] = "{\"a\":1}";
    tasker_task t = {.task_id = id, .handler = "handler-1", .desc = "first task", .param = param};
    OK(OPS->add_task(ST, &t));
    id[0] = param[2] = 'X'; /* the driver must have copied */
    tasker_task got;
    OK(OPS->get_task(ST, "task-1", &got));
    str_eq(got.task_id, "task-1");
    str_eq(got.handler, "handler-1");
    str_eq(got.desc, "first task");
    str_eq(got.param, "{\"a\":1}");
    tasker_task_clear(&got);
}

static void add_task_twice_replaces_handler_param_desc_and_keeps_schedules(void **state)
{
    fixture *f = *state;
    tasker_task t = {.task_id = "t", .handler = "h1", .desc = "d1", .param = "{\"v\":1}"};
    OK(OPS->add_task(ST, &t));
    tasker_task_scheme s = {"s1", "t", "* * * * *", 0, 0, T0_US, 0, false};
    char sid[TASKER_ID_SIZE];
    OK(OPS->add_task_scheme(ST, &s, sid));
    tasker_task t2 = {.task_id = "t", .handler = "h2", .desc = NULL, .param = "[2]"};
    OK(OPS->add_task(ST, &t2));
    tasker_task got;
    OK(OPS->get_task(ST, "t", &got));
    str_eq(got.handler, "h2");
    str_eq(got.desc, NULL);
    str_eq(got.param, "[2]");
    tasker_task_clear(&got);
    tasker_task *v;
    size_t n;
    OK(OPS->list_tasks(ST, &v, &n));
    assert_int_equal(n, 1);
    tasker_free_tasks(v, n);
    tasker_task_scheme *sv;
    OK(OPS->list_task_schemes(ST, &sv, &n));
    assert_int_equal(n, 1);
    str_eq(sv[0].scheme_id, "s1");
    tasker_free_schemes(sv, n);
}

static void null_desc_round_trips_as_null(void **state)
{
    fixture *f = *state;
    tasker_task t = {.task_id = "t", .handler = "h", .desc = NULL, .param = "null"};
    OK(OPS->add_task(ST, &t));
    tasker_task got;
    OK(OPS->get_task(ST, "t", &got));
    assert_null(got.desc);
    str_eq(got.param, "null");
    tasker_task_clear(&got);
    tasker_task *v;
    size_t n;
    OK(OPS->list_tasks(ST, &v, &n));
    assert_int_equal(n, 1);
    assert_null(v[0].desc);
    tasker_free_tasks(v, n);
}

static void missing_task_is_enotfound_for_get_and_remove(void **state)
{
    fixture *f = *state;
    tasker_task got;
    EXPECT_FAIL_WITH_MESSAGE(TASKER_ENOTFOUND, OPS->get_task(ST, "nope", &got));
    EXPECT_FAIL_WITH_MESSAGE(TASKER_ENOTFOUND, OPS->remove_task(ST, "nope"));
    add_task(f, "t");
    OK(OPS->remove_task(ST, "t"));
    EXPECT_RC(TASKER_ENOTFOUND, OPS->get_task(ST, "t", &got));
    EXPECT_RC(TASKER_ENOTFOUND, OPS->remove_task(ST, "t"));
}

static void remove_task_takes_its_schedules_only(void **state)
{
    fixture *f = *state;
    add_task(f, "a");
    add_task(f, "b");
    tasker_task_scheme s1 = {"s1", "a", "* * * * *", 0, 0, T0_US, 0, false};
    tasker_task_scheme s2 = {"s2", "a", "0 * * * *", 0, 0, T0_US, 0, false};
    tasker_task_scheme s3 = {"s3", "b", "* * * * *", 0, 0, T0_US, 0, false};
    OK(OPS->add_task_scheme(ST, &s1, NULL));
    OK(OPS->add_task_scheme(ST, &s2, NULL));
    OK(OPS->add_task_scheme(ST, &s3, NULL));
    OK(OPS->remove_task(ST, "a"));
    tasker_task_scheme *v;
    size_t n;
    OK(OPS->list_task_schemes(ST, &v, &n));
    assert_int_equal(n, 1);
    str_eq(v[0].scheme_id, "s3");
    tasker_free_schemes(v, n);
    EXPECT_RC(TASKER_ENOTFOUND, OPS->remove_task_scheme(ST, "s1"));
    tasker_task *tv;
    OK(OPS->list_tasks(ST, &tv, &n));
    assert_int_equal(n, 1);
    str_eq(tv[0].task_id, "b");
    tasker_free_tasks(tv, n);
}

static void remove_task_keeps_its_execution_history(void **state)
{
    fixture *f = *state;
    add_task(f, "t");
    add_exec(f, "e1", "t", T0_US, TASKER_EXEC_SUCCESS);
    add_event(f, "e1", "kept");
    OK(OPS->remove_task(ST, "t"));
    assert_true(exec_exists(f, "e1"));
    assert_int_equal(count_execs(f, "t"), 1);
    assert_int_equal(count_events(f, "e1"), 1);
    tasker_task_exec e = exec_rec("e2", "t", T0_US, TASKER_EXEC_PENDING);
    EXPECT_RC(TASKER_ENOTFOUND, OPS->add_task_exec(ST, &e));
}

static void list_tasks_is_ordered_by_id_and_empty_is_null(void **state)
{
    fixture *f = *state;
    tasker_task *v = (tasker_task *)1;
    size_t n = 7;
    OK(OPS->list_tasks(ST, &v, &n));
    assert_null(v);
    assert_int_equal(n, 0);
    add_task(f, "charlie");
    add_task(f, "alpha");
    add_task(f, "bravo");
    OK(OPS->list_tasks(ST, &v, &n));
    assert_int_equal(n, 3);
    str_eq(v[0].task_id, "alpha");
    str_eq(v[1].task_id, "bravo");
    str_eq(v[2].task_id, "charlie");
    str_eq(v[0].handler, "handler");
    tasker_free_tasks(v, n);
}

/* ---- awkward strings -------------------------------------------------------------- */

#define NASTY "it's \"quoted\" \\ back; DROP TABLE t; -- % %s \t ünïcødé 名前 🚀"

static void fill_id(char *buf, char c)
{
    memset(buf, c, TASKER_ID_SIZE - 1);
    buf[TASKER_ID_SIZE - 1] = '\0';
}

static void utf8_quotes_and_max_length_ids_round_trip(void **state)
{
    fixture *f = *state;
    char task_id[TASKER_ID_SIZE], scheme_id[TASKER_ID_SIZE], exec_id[TASKER_ID_SIZE];
    fill_id(task_id, 't');
    fill_id(scheme_id, 's');
    fill_id(exec_id, 'e');
    memcpy(task_id, "tâche-名", strlen("tâche-名")); /* multibyte, still 63 bytes */
    tasker_task t = {.task_id = task_id, .handler = "händ'ler\"", .desc = NASTY,
                     .param = "{\"q\":\"" "it's \\\"q\\\" ü 🚀" "\"}"};
    OK(OPS->add_task(ST, &t));
    tasker_task got;
    OK(OPS->get_task(ST, task_id, &got));
    str_eq(got.task_id, task_id);
    str_eq(got.handler, t.handler);
    str_eq(got.desc, NASTY);
    str_eq(got.param, t.param);
    tasker_task_clear(&got);

    tasker_task_scheme s = {scheme_id, task_id, "CRON_TZ=Europe/Zürich 0 'x' * * *", 0, 0,
                            T0_US, 0, false};
    char sid[TASKER_ID_SIZE];
    OK(OPS->add_task_scheme(ST, &s, sid));
    str_eq(sid, scheme_id);
    tasker_task_scheme *sv;
    size_t n;
    OK(OPS->list_task_schemes(ST, &sv, &n));
    assert_int_equal(n, 1);
    str_eq(sv[0].cron, s.cron);
    str_eq(sv[0].task_id, task_id);
    tasker_free_schemes(sv, n);

    tasker_task_exec e = exec_rec(exec_id, task_id, T0_US, TASKER_EXEC_PENDING);
    e.scheme_id = scheme_id;
    e.scheduled_us = T0_US;
    OK(OPS->add_task_exec(ST, &e));
    char node[TASKER_ID_SIZE];
    fill_id(node, 'n');
    OK(OPS->start_task_exec(ST, exec_id, T0_US, node));
    add_event(f, exec_id, NASTY);
    tasker_task_exec upd = exec_rec(exec_id, task_id, 0, TASKER_EXEC_FAILED);
    upd.result = "{\"r\":\"" "ü \\\"x\\\" 🚀" "\"}";
    upd.error = NASTY;
    upd.end_us = T0_US + 1;
    OK(OPS->update_task_exec(ST, &upd));
    tasker_task_exec ge;
    OK(OPS->get_task_exec(ST, exec_id, &ge));
    str_eq(ge.exec_id, exec_id);
    str_eq(ge.task_id, task_id);
    str_eq(ge.scheme_id, scheme_id);
    str_eq(ge.node_id, node);
    str_eq(ge.result, upd.result);
    str_eq(ge.error, NASTY);
    tasker_exec_clear(&ge);
    tasker_task_event *ev;
    OK(OPS->list_task_events(ST, exec_id, &ev, &n));
    assert_int_equal(n, 1);
    str_eq(ev[0].message, NASTY);
    str_eq(ev[0].exec_id, exec_id);
    tasker_free_events(ev, n);
}

/* ---- schedules -------------------------------------------------------------------- */

static void same_task_and_cron_give_one_schedule_with_updated_policies(void **state)
{
    fixture *f = *state;
    add_task(f, "t");
    add_task(f, "u");
    tasker_task_scheme s = {"s1", "t", "*/5 * * * *", TASKER_MISFIRE_ONCE,
                            TASKER_OVERLAP_ALLOW, T0_US, 0, false};
    char id[TASKER_ID_SIZE] = "";
    OK(OPS->add_task_scheme(ST, &s, id));
    str_eq(id, "s1");
    tasker_task_scheme again = {"s2", "t", "*/5 * * * *", TASKER_MISFIRE_SKIP,
                                TASKER_OVERLAP_FORBID, T0_US + SECOND_US, 0, false};
    memset(id, 0, sizeof id);
    OK(OPS->add_task_scheme(ST, &again, id));
    str_eq(id, "s1");
    tasker_task_scheme *v;
    size_t n;
    OK(OPS->list_task_schemes(ST, &v, &n));
    assert_int_equal(n, 1);
    str_eq(v[0].scheme_id, "s1");
    assert_int_equal(v[0].misfire, TASKER_MISFIRE_SKIP);
    assert_int_equal(v[0].overlap, TASKER_OVERLAP_FORBID);
    assert_int_equal(v[0].created_us, T0_US);
    tasker_free_schemes(v, n);
    /* Another expression, or the same one on another task, is another schedule. */
    tasker_task_scheme other_cron = {"s3", "t", "*/6 * * * *", 0, 0, T0_US, 0, false};
    tasker_task_scheme other_task = {"s4", "u", "*/5 * * * *", 0, 0, T0_US, 0, false};
    OK(OPS->add_task_scheme(ST, &other_cron, id));
    str_eq(id, "s3");
    OK(OPS->add_task_scheme(ST, &other_task, NULL));
    OK(OPS->list_task_schemes(ST, &v, &n));
    assert_int_equal(n, 3);
    tasker_free_schemes(v, n);
}

static void schedule_for_missing_task_is_enotfound(void **state)
{
    fixture *f = *state;
    tasker_task_scheme s = {"s1", "ghost", "* * * * *", 0, 0, T0_US, 0, false};
    char id[TASKER_ID_SIZE];
    EXPECT_FAIL_WITH_MESSAGE(TASKER_ENOTFOUND, OPS->add_task_scheme(ST, &s, id));
    tasker_task_scheme *v;
    size_t n;
    OK(OPS->list_task_schemes(ST, &v, &n));
    assert_int_equal(n, 0);
    assert_null(v);
}

static void schedules_round_trip_and_list_by_id(void **state)
{
    fixture *f = *state;
    add_task(f, "t");
    tasker_task_scheme a = {"sched-b", "t", "0 1 * * *", TASKER_MISFIRE_ALL,
                            TASKER_OVERLAP_FORBID, T0_US + 5, 0, false};
    tasker_task_scheme b = {"sched-a", "t", "0 2 * * *", TASKER_MISFIRE_SKIP,
                            TASKER_OVERLAP_ALLOW, T0_US + 7, 0, false};
    tasker_task_scheme c = {"sched-c", "t", "@every 1m", 0, 0, T0_US + 9, 0, false};
    OK(OPS->add_task_scheme(ST, &a, NULL));
    OK(OPS->add_task_scheme(ST, &b, NULL));
    OK(OPS->add_task_scheme(ST, &c, NULL));
    tasker_task_scheme *v;
    size_t n;
    OK(OPS->list_task_schemes(ST, &v, &n));
    assert_int_equal(n, 3);
    str_eq(v[0].scheme_id, "sched-a");
    str_eq(v[1].scheme_id, "sched-b");
    str_eq(v[2].scheme_id, "sched-c");
    str_eq(v[1].task_id, "t");
    str_eq(v[1].cron, "0 1 * * *");
    assert_int_equal(v[1].misfire, TASKER_MISFIRE_ALL);
    assert_int_equal(v[1].overlap, TASKER_OVERLAP_FORBID);
    assert_int_equal(v[1].created_us, T0_US + 5);
    assert_int_equal(v[1].last_fire_us, 0);
    assert_int_equal(v[0].misfire, TASKER_MISFIRE_SKIP);
    assert_int_equal(v[0].created_us, T0_US + 7);
    str_eq(v[2].cron, "@every 1m");
    tasker_free_schemes(v, n);
}

static void remove_schedule_and_missing_schedule_is_enotfound(void **state)
{
    fixture *f = *state;
    add_task(f, "t");
    tasker_task_scheme s = {"s1", "t", "* * * * *", 0, 0, T0_US, 0, false};
    OK(OPS->add_task_scheme(ST, &s, NULL));
    EXPECT_FAIL_WITH_MESSAGE(TASKER_ENOTFOUND, OPS->remove_task_scheme(ST, "s2"));
    OK(OPS->remove_task_scheme(ST, "s1"));
    EXPECT_RC(TASKER_ENOTFOUND, OPS->remove_task_scheme(ST, "s1"));
    tasker_task_scheme *v;
    size_t n;
    OK(OPS->list_task_schemes(ST, &v, &n));
    assert_int_equal(n, 0);
    /* The task itself stays, and the same (task, cron) can be added afresh. */
    tasker_task got;
    OK(OPS->get_task(ST, "t", &got));
    tasker_task_clear(&got);
    tasker_task_scheme again = {"s9", "t", "* * * * *", 0, 0, T0_US, 0, false};
    char id[TASKER_ID_SIZE];
    OK(OPS->add_task_scheme(ST, &again, id));
    str_eq(id, "s9");
}

static int64_t last_fire_of(fixture *f, const char *scheme_id)
{
    tasker_task_scheme *v;
    size_t n;
    int64_t last_us = -1;
    OK(OPS->list_task_schemes(ST, &v, &n));
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].scheme_id, scheme_id) == 0) last_us = v[i].last_fire_us;
    tasker_free_schemes(v, n);
    return last_us;
}

static void set_scheme_fire_only_moves_forward(void **state)
{
    fixture *f = *state;
    add_task(f, "t");
    tasker_task_scheme s = {"s1", "t", "* * * * *", 0, 0, T0_US, 0, false};
    OK(OPS->add_task_scheme(ST, &s, NULL));
    OK(OPS->set_scheme_fire(ST, "s1", T0_US + 60 * SECOND_US));
    assert_int_equal(last_fire_of(f, "s1"), T0_US + 60 * SECOND_US);
    OK(OPS->set_scheme_fire(ST, "s1", T0_US)); /* older: ignored */
    assert_int_equal(last_fire_of(f, "s1"), T0_US + 60 * SECOND_US);
    OK(OPS->set_scheme_fire(ST, "s1", T0_US + 60 * SECOND_US)); /* same: ignored */
    OK(OPS->set_scheme_fire(ST, "s1", T0_US + 120 * SECOND_US));
    assert_int_equal(last_fire_of(f, "s1"), T0_US + 120 * SECOND_US);
    /* Re-adding the schedule keeps its last fire. */
    OK(OPS->add_task_scheme(ST, &s, NULL));
    assert_int_equal(last_fire_of(f, "s1"), T0_US + 120 * SECOND_US);
    EXPECT_FAIL_WITH_MESSAGE(TASKER_ENOTFOUND, OPS->set_scheme_fire(ST, "gone", T0_US));
}

/* ---- executions ------------------------------------------------------------------- */

static void exec_round_trips_every_field(void **state)
{
    fixture *f = *state;
    add_task(f, "t");
    add_scheme(f, "s1", "t", "* * * * *");
    tasker_task_exec e = exec_rec("e1", "t", T0_US + 3, TASKER_EXEC_PENDING);
    e.scheme_id = "s1";
    e.scheduled_us = T0_US;
    OK(OPS->add_task_exec(ST, &e));
    tasker_task_exec got;
    OK(OPS->get_task_exec(ST, "e1", &got));
    str_eq(got.exec_id, "e1");
    str_eq(got.task_id, "t");
    str_eq(got.scheme_id, "s1");
    assert_int_equal(got.scheduled_us, T0_US);
    assert_int_equal(got.queued_us, T0_US + 3);
    assert_int_equal(got.start_us, 0);
    assert_int_equal(got.end_us, 0);
    assert_int_equal(got.status, TASKER_EXEC_PENDING);
    assert_false(got.success);
    assert_null(got.result);
    assert_null(got.error);
    assert_null(got.node_id);
    tasker_exec_clear(&got);

    /* A fire not run is stored as skipped, with its reason, in one call. */
    tasker_task_exec sk = exec_rec("e2", "t", T0_US + 4, TASKER_EXEC_SKIPPED);
    sk.scheme_id = "s1";
    sk.scheduled_us = T0_US + 60 * SECOND_US;
    sk.end_us = T0_US + 4;
    sk.error = "skipped: previous run still running";
    OK(OPS->add_task_exec(ST, &sk));
    OK(OPS->get_task_exec(ST, "e2", &got));
    assert_int_equal(got.status, TASKER_EXEC_SKIPPED);
    assert_int_equal(got.end_us, T0_US + 4);
    str_eq(got.error, sk.error);
    tasker_exec_clear(&got);
}

static void exec_of_missing_task_or_id_is_enotfound(void **state)
{
    fixture *f = *state;
    tasker_task_exec e = exec_rec("e1", "ghost", T0_US, TASKER_EXEC_PENDING);
    EXPECT_FAIL_WITH_MESSAGE(TASKER_ENOTFOUND, OPS->add_task_exec(ST, &e));
    tasker_task_exec got;
    EXPECT_FAIL_WITH_MESSAGE(TASKER_ENOTFOUND, OPS->get_task_exec(ST, "e1", &got));
    tasker_task_exec upd = exec_rec("e1", "ghost", 0, TASKER_EXEC_SUCCESS);
    EXPECT_FAIL_WITH_MESSAGE(TASKER_ENOTFOUND, OPS->update_task_exec(ST, &upd));
    EXPECT_FAIL_WITH_MESSAGE(TASKER_ENOTFOUND, OPS->start_task_exec(ST, "e1", T0_US, "n"));
    assert_int_equal(count_execs(f, NULL), 0);
}

static void duplicate_exec_id_is_eexists_and_keeps_the_first(void **state)
{
    fixture *f = *state;
    add_task(f, "a");
    add_task(f, "b");
    add_exec(f, "e1", "a", T0_US, TASKER_EXEC_PENDING);
    tasker_task_exec dup = exec_rec("e1", "b", T0_US + 1, TASKER_EXEC_SUCCESS);
    EXPECT_FAIL_WITH_MESSAGE(TASKER_EEXISTS, OPS->add_task_exec(ST, &dup));
    tasker_task_exec got;
    OK(OPS->get_task_exec(ST, "e1", &got));
    str_eq(got.task_id, "a");
    assert_int_equal(got.status, TASKER_EXEC_PENDING);
    assert_int_equal(got.queued_us, T0_US);
    tasker_exec_clear(&got);
    assert_int_equal(count_execs(f, NULL), 1);
}

static void duplicate_occurrence_is_eexists_but_triggered_runs_are_not(void **state)
{
    fixture *f = *state;
    add_task(f, "t");
    add_scheme(f, "s1", "t", "* * * * *");
    add_scheme(f, "s2", "t", "0 * * * *");
    tasker_task_exec e = exec_rec("e1", "t", T0_US, TASKER_EXEC_PENDING);
    e.scheme_id = "s1";
    e.scheduled_us = T0_US;
    OK(OPS->add_task_exec(ST, &e));
    e.exec_id = "e2"; /* same (scheme, occurrence), new id */
    EXPECT_FAIL_WITH_MESSAGE(TASKER_EEXISTS, OPS->add_task_exec(ST, &e));
    e.status = TASKER_EXEC_SKIPPED; /* a skipped record counts as the occurrence too */
    EXPECT_RC(TASKER_EEXISTS, OPS->add_task_exec(ST, &e));
    e.status = TASKER_EXEC_PENDING;
    e.scheduled_us = T0_US + 60 * SECOND_US; /* the next occurrence */
    OK(OPS->add_task_exec(ST, &e));
    e.exec_id = "e3";
    e.scheme_id = "s2"; /* same instant, other schedule */
    OK(OPS->add_task_exec(ST, &e));
    /* Triggered runs: scheme_id NULL and scheduled_us 0, any number of them. */
    add_exec(f, "e4", "t", T0_US, TASKER_EXEC_PENDING);
    add_exec(f, "e5", "t", T0_US, TASKER_EXEC_PENDING);
    add_exec(f, "e6", "t", T0_US, TASKER_EXEC_PENDING);
    assert_int_equal(count_execs(f, "t"), 6);
    tasker_task_exec got;
    OK(OPS->get_task_exec(ST, "e4", &got));
    assert_null(got.scheme_id);
    assert_int_equal(got.scheduled_us, 0);
    tasker_exec_clear(&got);
}

static void assert_exec_ids(tasker_task_exec *v, size_t n, const char *const *want,
                            size_t n_want)
{
    if (n != n_want) fail_msg("got %zu executions, want %zu", n, n_want);
    for (size_t i = 0; i < n; i++) str_eq(v[i].exec_id, want[i]);
}

static void list_execs_is_newest_first_with_limit_by_task_and_all(void **state)
{
    fixture *f = *state;
    add_task(f, "a");
    add_task(f, "b");
    add_exec(f, "a-100", "a", T0_US + 100, TASKER_EXEC_SUCCESS);
    add_exec(f, "a-300", "a", T0_US + 300, TASKER_EXEC_PENDING);
    add_exec(f, "a-200", "a", T0_US + 200, TASKER_EXEC_FAILED);
    add_exec(f, "b-250", "b", T0_US + 250, TASKER_EXEC_SUCCESS);
    add_exec(f, "a-400-y", "a", T0_US + 400, TASKER_EXEC_PENDING); /* a tie on queued_us: */
    add_exec(f, "a-400-x", "a", T0_US + 400, TASKER_EXEC_PENDING); /* exec_id descending */
    tasker_task_exec *v;
    size_t n;
    OK(OPS->list_task_execs(ST, "a", 0, &v, &n));
    const char *by_a[] = {"a-400-y", "a-400-x", "a-300", "a-200", "a-100"};
    assert_exec_ids(v, n, by_a, 5);
    tasker_free_execs(v, n);
    OK(OPS->list_task_execs(ST, "a", 2, &v, &n));
    assert_exec_ids(v, n, by_a, 2);
    tasker_free_execs(v, n);
    OK(OPS->list_task_execs(ST, NULL, 0, &v, &n));
    const char *all[] = {"a-400-y", "a-400-x", "a-300", "b-250", "a-200", "a-100"};
    assert_exec_ids(v, n, all, 6);
    assert_int_equal(v[3].status, TASKER_EXEC_SUCCESS);
    str_eq(v[3].task_id, "b");
    tasker_free_execs(v, n);
    OK(OPS->list_task_execs(ST, NULL, 4, &v, &n));
    assert_exec_ids(v, n, all, 4);
    tasker_free_execs(v, n);
    v = (tasker_task_exec *)1;
    OK(OPS->list_task_execs(ST, "nobody", 0, &v, &n));
    assert_null(v);
    assert_int_equal(n, 0);
}

static void start_is_a_compare_and_set_from_pending(void **state)
{
    fixture *f = *state;
    add_task(f, "t");
    add_exec(f, "e1", "t", T0_US, TASKER_EXEC_PENDING);
    OK(OPS->start_task_exec(ST, "e1", T0_US + 5, "node-a"));
    tasker_task_exec got;
    OK(OPS->get_task_exec(ST, "e1", &got));
    assert_int_equal(got.status, TASKER_EXEC_RUNNING);
    assert_int_equal(got.start_us, T0_US + 5);
    str_eq(got.node_id, "node-a");
    tasker_exec_clear(&got);
    EXPECT_FAIL_WITH_MESSAGE(TASKER_ESTATE, OPS->start_task_exec(ST, "e1", T0_US + 6, "node-b"));
    OK(OPS->get_task_exec(ST, "e1", &got));
    str_eq(got.node_id, "node-a"); /* the loser changed nothing */
    assert_int_equal(got.start_us, T0_US + 5);
    tasker_exec_clear(&got);
    finish_exec(f, "e1", TASKER_EXEC_SUCCESS);
    EXPECT_RC(TASKER_ESTATE, OPS->start_task_exec(ST, "e1", T0_US + 7, "node-b"));
    add_exec(f, "e2", "t", T0_US, TASKER_EXEC_SKIPPED);
    EXPECT_RC(TASKER_ESTATE, OPS->start_task_exec(ST, "e2", T0_US + 7, "node-b"));
    EXPECT_FAIL_WITH_MESSAGE(TASKER_ENOTFOUND, OPS->start_task_exec(ST, "e3", T0_US, "n"));
}

static void update_records_the_outcome_and_ignores_other_fields(void **state)
{
    fixture *f = *state;
    add_task(f, "t");
    add_task(f, "u");
    add_exec(f, "e1", "t", T0_US, TASKER_EXEC_PENDING);
    OK(OPS->start_task_exec(ST, "e1", T0_US + 1, "node-a"));
    tasker_task_exec upd = exec_rec("e1", "u", T0_US + 999, TASKER_EXEC_SUCCESS);
    upd.scheme_id = "sx";
    upd.scheduled_us = 42;
    upd.start_us = 77;
    /* Version 3 fences outcomes by node id (storage_conformance_v3.c): there the
     * holder's own id is the one a write may carry. */
    upd.node_id = OPS->version >= 3 ? "node-a" : "node-z";
    upd.success = true;
    upd.end_us = T0_US + 10;
    upd.result = "{\"rows\":3}";
    OK(OPS->update_task_exec(ST, &upd));
    tasker_task_exec got;
    OK(OPS->get_task_exec(ST, "e1", &got));
    assert_int_equal(got.status, TASKER_EXEC_SUCCESS);
    assert_true(got.success);
    assert_int_equal(got.end_us, T0_US + 10);
    str_eq(got.result, "{\"rows\":3}");
    assert_null(got.error);
    /* Not outcome fields: unchanged. */
    str_eq(got.task_id, "t");
    assert_null(got.scheme_id);
    assert_int_equal(got.scheduled_us, 0);
    assert_int_equal(got.queued_us, T0_US);
    assert_int_equal(got.start_us, T0_US + 1);
    str_eq(got.node_id, "node-a");
    tasker_exec_clear(&got);
    assert_int_equal(count_execs(f, "u"), 0);
    /* A second update overwrites every outcome field, NULLs included. */
    tasker_task_exec fail = exec_rec("e1", "t", 0, TASKER_EXEC_FAILED);
    fail.error = "boom";
    fail.end_us = T0_US + 11;
    OK(OPS->update_task_exec(ST, &fail));
    OK(OPS->get_task_exec(ST, "e1", &got));
    assert_int_equal(got.status, TASKER_EXEC_FAILED);
    assert_false(got.success);
    assert_null(got.result);
    str_eq(got.error, "boom");
    assert_int_equal(got.end_us, T0_US + 11);
    tasker_exec_clear(&got);
}

static void list_pending_is_oldest_first_with_limit(void **state)
{
    fixture *f = *state;
    add_task(f, "a");
    add_task(f, "b");
    add_exec(f, "p-30", "a", T0_US + 30, TASKER_EXEC_PENDING);
    add_exec(f, "p-10", "b", T0_US + 10, TASKER_EXEC_PENDING);
    add_exec(f, "r-05", "a", T0_US + 5, TASKER_EXEC_PENDING);
    add_exec(f, "s-01", "a", T0_US + 1, TASKER_EXEC_SUCCESS);
    add_exec(f, "p-20-b", "a", T0_US + 20, TASKER_EXEC_PENDING);
    add_exec(f, "p-20-a", "b", T0_US + 20, TASKER_EXEC_PENDING);
    OK(OPS->start_task_exec(ST, "r-05", T0_US + 40, "n"));
    tasker_task_exec *v;
    size_t n;
    OK(OPS->list_pending_execs(ST, 0, &v, &n));
    const char *want[] = {"p-10", "p-20-a", "p-20-b", "p-30"};
    assert_exec_ids(v, n, want, 4);
    assert_int_equal(v[0].status, TASKER_EXEC_PENDING);
    str_eq(v[0].task_id, "b");
    tasker_free_execs(v, n);
    OK(OPS->list_pending_execs(ST, 2, &v, &n));
    assert_exec_ids(v, n, want, 2);
    tasker_free_execs(v, n);
    OK(OPS->start_task_exec(ST, "p-10", T0_US + 41, "n"));
    OK(OPS->list_pending_execs(ST, 1, &v, &n));
    assert_exec_ids(v, n, want + 1, 1);
    tasker_free_execs(v, n);
}

static void list_pending_of_an_empty_store_is_null(void **state)
{
    fixture *f = *state;
    tasker_task_exec *v = (tasker_task_exec *)1;
    size_t n = 3;
    OK(OPS->list_pending_execs(ST, 0, &v, &n));
    assert_null(v);
    assert_int_equal(n, 0);
    v = (tasker_task_exec *)1;
    OK(OPS->list_task_execs(ST, NULL, 0, &v, &n));
    assert_null(v);
    assert_int_equal(n, 0);
}

/* Nodes whose name starts with "dead" are dead; counts the questions asked. */
static bool alive_unless_dead_prefix(const char *node_id, void *udata)
{
    __atomic_fetch_add((int *)udata, 1, __ATOMIC_SEQ_CST);
    return strncmp(node_id, "dead", 4) != 0;
}

static void interrupt_dead_marks_running_execs_of_dead_nodes(void **state)
{
    fixture *f = *state;
    add_task(f, "t");
    const char *nodes[] = {"alive-1", "dead-1", "dead-1", "dead-2", "alive-2"};
    char id[32];
    for (int i = 0; i < 5; i++) {
        id_of(id, sizeof id, "run-", i);
        add_exec(f, id, "t", T0_US + i, TASKER_EXEC_PENDING);
        OK(OPS->start_task_exec(ST, id, T0_US + 10, nodes[i]));
    }
    add_exec(f, "pending", "t", T0_US + 9, TASKER_EXEC_PENDING);
    add_exec(f, "done", "t", T0_US + 9, TASKER_EXEC_PENDING);
    OK(OPS->start_task_exec(ST, "done", T0_US + 10, "dead-3"));
    finish_exec(f, "done", TASKER_EXEC_SUCCESS);
    set_clock(f, T0_US + 100 * SECOND_US);
    int asked = 0;
    size_t n = 99;
    OK(OPS->interrupt_dead(ST, alive_unless_dead_prefix, &asked, &n));
    assert_int_equal(n, 3);
    assert_true(asked >= 1);
    tasker_task_exec got;
    for (int i = 0; i < 5; i++) {
        id_of(id, sizeof id, "run-", i);
        OK(OPS->get_task_exec(ST, id, &got));
        if (strncmp(nodes[i], "dead", 4) == 0) {
            char want[64];
            snprintf(want, sizeof want, "interrupted: node %s stopped", nodes[i]);
            assert_int_equal(got.status, TASKER_EXEC_INTERRUPTED);
            assert_int_equal(got.end_us, T0_US + 100 * SECOND_US);
            assert_false(got.success);
            str_eq(got.error, want);
            str_eq(got.node_id, nodes[i]);
        } else {
            assert_int_equal(got.status, TASKER_EXEC_RUNNING);
            assert_int_equal(got.end_us, 0);
            assert_null(got.error);
        }
        tasker_exec_clear(&got);
    }
    OK(OPS->get_task_exec(ST, "pending", &got));
    assert_int_equal(got.status, TASKER_EXEC_PENDING);
    tasker_exec_clear(&got);
    OK(OPS->get_task_exec(ST, "done", &got));
    assert_int_equal(got.status, TASKER_EXEC_SUCCESS);
    assert_null(got.error);
    tasker_exec_clear(&got);
    /* Nothing left to mark; n may be NULL. */
    OK(OPS->interrupt_dead(ST, alive_unless_dead_prefix, &asked, &n));
    assert_int_equal(n, 0);
    OK(OPS->interrupt_dead(ST, alive_unless_dead_prefix, &asked, NULL));
}

/* ---- events ----------------------------------------------------------------------- */

static void events_are_listed_oldest_first_with_increasing_ids(void **state)
{
    fixture *f = *state;
    add_task(f, "t");
    add_exec(f, "e1", "t", T0_US, TASKER_EXEC_PENDING);
    add_exec(f, "e2", "t", T0_US, TASKER_EXEC_PENDING);
    add_exec(f, "e3", "t", T0_US, TASKER_EXEC_PENDING);
    const tasker_level levels[] = {TASKER_DEBUG, TASKER_NORMAL, TASKER_WARNING, TASKER_ERROR};
    const char *messages[] = {"one", "two", "", "four"};
    for (int i = 0; i < 4; i++) {
        /* Times go backwards: the order is insertion (event_id), not time. */
        tasker_task_event ev = {999, "e1", T0_US + 10 - i, levels[i], (char *)messages[i]};
        OK(OPS->add_task_event(ST, &ev));
        if (i == 1) add_event(f, "e2", "other exec");
    }
    tasker_task_event *v;
    size_t n;
    OK(OPS->list_task_events(ST, "e1", &v, &n));
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++) {
        str_eq(v[i].exec_id, "e1");
        str_eq(v[i].message, messages[i]);
        assert_int_equal(v[i].level, levels[i]);
        assert_int_equal(v[i].time_us, T0_US + 10 - (int64_t)i);
        if (i > 0 && v[i].event_id <= v[i - 1].event_id)
            fail_msg("event_id %lld after %lld: not increasing", (long long)v[i].event_id,
                     (long long)v[i - 1].event_id);
    }
    int64_t last_e1_id = v[3].event_id;
    tasker_free_events(v, n);
    OK(OPS->list_task_events(ST, "e2", &v, &n));
    assert_int_equal(n, 1);
    str_eq(v[0].message, "other exec");
    tasker_free_events(v, n);
    add_event(f, "e2", "later");
    OK(OPS->list_task_events(ST, "e2", &v, &n));
    assert_int_equal(n, 2);
    assert_true(v[1].event_id > last_e1_id); /* ids increase across executions too */
    tasker_free_events(v, n);
    v = (tasker_task_event *)1;
    OK(OPS->list_task_events(ST, "e3", &v, &n));
    assert_null(v);
    assert_int_equal(n, 0);
}

static void events_of_missing_exec_are_enotfound(void **state)
{
    fixture *f = *state;
    tasker_task_event ev = {0, "ghost", T0_US, TASKER_NORMAL, "hello"};
    EXPECT_FAIL_WITH_MESSAGE(TASKER_ENOTFOUND, OPS->add_task_event(ST, &ev));
    tasker_task_event *v;
    size_t n;
    EXPECT_FAIL_WITH_MESSAGE(TASKER_ENOTFOUND, OPS->list_task_events(ST, "ghost", &v, &n));
}

/* ---- retention -------------------------------------------------------------------- */

/* One run the way the core does it: pending, running, two events, finished. */
static void run_exec(fixture *f, const char *exec_id, const char *task_id, int64_t queued_us)
{
    add_exec(f, exec_id, task_id, queued_us, TASKER_EXEC_PENDING);
    OK(OPS->start_task_exec(ST, exec_id, queued_us, "node"));
    char msg[80];
    snprintf(msg, sizeof msg, "%s first", exec_id);
    add_event(f, exec_id, msg);
    snprintf(msg, sizeof msg, "%s second", exec_id);
    add_event(f, exec_id, msg);
    finish_exec(f, exec_id, TASKER_EXEC_SUCCESS);
}

static void assert_events_intact(fixture *f, const char *exec_id)
{
    tasker_task_event *v;
    size_t n;
    char want[80];
    OK(OPS->list_task_events(ST, exec_id, &v, &n));
    assert_int_equal(n, 2);
    snprintf(want, sizeof want, "%s first", exec_id);
    str_eq(v[0].message, want);
    snprintf(want, sizeof want, "%s second", exec_id);
    str_eq(v[1].message, want);
    tasker_free_events(v, n);
}

static void retention_keeps_newest_100_and_their_events(void **state)
{
    fixture *f = *state;
    set_retention(f, 100, -1);
    add_task(f, "t");
    char id[32];
    for (int i = 0; i < 150; i++) {
        id_of(id, sizeof id, "e-", i);
        run_exec(f, id, "t", T0_US + i * SECOND_US);
    }
    /* The 150th add pruned down to 100 (the new one, still pending then, among them). */
    tasker_task_exec *v;
    size_t n;
    OK(OPS->list_task_execs(ST, "t", 0, &v, &n));
    assert_int_equal(n, 100);
    for (size_t i = 0; i < n; i++) {
        id_of(id, sizeof id, "e-", 149 - (int)i);
        str_eq(v[i].exec_id, id);
    }
    tasker_free_execs(v, n);
    for (int i = 50; i < 150; i++) {
        id_of(id, sizeof id, "e-", i);
        assert_events_intact(f, id);
    }
    for (int i = 0; i < 50; i++) {
        id_of(id, sizeof id, "e-", i);
        assert_false(exec_exists(f, id));
    }
    id_of(id, sizeof id, "e-", 0);
    assert_events_gone(f, id, "t");
    id_of(id, sizeof id, "e-", 49);
    assert_events_gone(f, id, "t");
}

static void retention_by_age_follows_the_store_clock(void **state)
{
    fixture *f = *state;
    set_retention(f, -1, 3600);
    add_task(f, "t");
    char id[32];
    for (int i = 0; i < 10; i++) {
        id_of(id, sizeof id, "old-", i);
        run_exec(f, id, "t", T0_US);
    }
    set_clock(f, T0_US + 1800 * SECOND_US);
    for (int i = 0; i < 10; i++) {
        id_of(id, sizeof id, "mid-", i);
        run_exec(f, id, "t", T0_US + 1800 * SECOND_US);
    }
    assert_int_equal(count_execs(f, "t"), 20);
    /* Now the cutoff is exactly the mid runs' queued_us: older goes, equal stays. */
    set_clock(f, T0_US + (3600 + 1800) * SECOND_US);
    add_exec(f, "new-1", "t", f->now_us, TASKER_EXEC_PENDING);
    assert_int_equal(count_execs(f, "t"), 11);
    id_of(id, sizeof id, "mid-", 9);
    assert_events_intact(f, id);
    id_of(id, sizeof id, "old-", 3);
    assert_events_gone(f, id, "t"); /* re-added at "now", so it stays */
    set_clock(f, f->now_us + 1);
    add_exec(f, "new-2", "t", f->now_us, TASKER_EXEC_PENDING);
    assert_int_equal(count_execs(f, "t"), 3); /* new-1, old-3 (re-added), new-2 */
    id_of(id, sizeof id, "mid-", 0);
    assert_false(exec_exists(f, id));
}

static void pending_and_running_execs_are_never_pruned(void **state)
{
    fixture *f = *state;
    set_retention(f, 2, 60);
    add_task(f, "t");
    add_exec(f, "p-old", "t", T0_US, TASKER_EXEC_PENDING);
    add_exec(f, "r-old", "t", T0_US + 1, TASKER_EXEC_PENDING);
    OK(OPS->start_task_exec(ST, "r-old", T0_US + 1, "node"));
    char id[32];
    for (int i = 0; i < 5; i++) {
        id_of(id, sizeof id, "f-", i);
        run_exec(f, id, "t", T0_US + 2 + i);
    }
    /* By count: f-3 and f-4 are the newest two; the old pending and running stay. */
    tasker_task_exec *v;
    size_t n;
    OK(OPS->list_task_execs(ST, "t", 0, &v, &n));
    const char *want[] = {"f-00004", "f-00003", "r-old", "p-old"};
    assert_exec_ids(v, n, want, 4);
    tasker_free_execs(v, n);
    /* By age: a day later everything finished goes. */
    set_clock(f, T0_US + 86400 * SECOND_US);
    add_exec(f, "new-1", "t", f->now_us, TASKER_EXEC_PENDING);
    OK(OPS->list_task_execs(ST, "t", 0, &v, &n));
    const char *want2[] = {"new-1", "r-old", "p-old"};
    assert_exec_ids(v, n, want2, 3);
    tasker_free_execs(v, n);
    /* Once finished, the old running one is prunable at the next add. */
    finish_exec(f, "r-old", TASKER_EXEC_FAILED);
    add_exec(f, "new-2", "t", f->now_us, TASKER_EXEC_PENDING);
    OK(OPS->list_task_execs(ST, "t", 0, &v, &n));
    const char *want3[] = {"new-2", "new-1", "p-old"};
    assert_exec_ids(v, n, want3, 3);
    tasker_free_execs(v, n);
}

static void unlimited_retention_keeps_everything(void **state)
{
    fixture *f = *state;
    set_retention(f, -1, -1);
    add_task(f, "t");
    char id[32];
    for (int i = 0; i < 150; i++) {
        set_clock(f, T0_US + i * 86400 * SECOND_US);
        id_of(id, sizeof id, "e-", i);
        run_exec(f, id, "t", f->now_us);
    }
    assert_int_equal(count_execs(f, "t"), 150);
    assert_events_intact(f, "e-00000");
}

static void retention_counts_each_task_separately(void **state)
{
    fixture *f = *state;
    set_retention(f, 3, -1);
    add_task(f, "a");
    add_task(f, "b");
    char id[32];
    for (int i = 0; i < 2; i++) {
        id_of(id, sizeof id, "b-", i);
        run_exec(f, id, "b", T0_US + i);
    }
    for (int i = 0; i < 6; i++) {
        id_of(id, sizeof id, "a-", i);
        run_exec(f, id, "a", T0_US + 10 + i);
    }
    add_exec(f, "a-last", "a", T0_US + 100, TASKER_EXEC_SUCCESS);
    assert_int_equal(count_execs(f, "a"), 3);
    assert_int_equal(count_execs(f, "b"), 2);
    assert_events_intact(f, "b-00000");
}

/* ---- concurrency ------------------------------------------------------------------ */

#define THREADS 4
#define EXECS_PER_THREAD 500
#define EVENTS_PER_EXEC 3
#define RACE_OCCURRENCES 200

typedef struct worker {
    fixture *f;
    pthread_barrier_t *go;
    int index;
    int failures;
    char first_failure[256];
    int *wins; /* the race tests: per occurrence or execution, how many calls won */
} worker;

static void worker_failed(worker *w, const char *what, int rc)
{
    if (!w->failures++)
        snprintf(w->first_failure, sizeof w->first_failure, "thread %d: %s: %s (%s)", w->index,
                 what, tasker_strerror(rc), tasker_last_error());
}

static void *write_execs_with_events(void *arg)
{
    worker *w = arg;
    tasker_storage *st = w->f->st;
    char task_id[16], exec_id[32], msg[16];
    snprintf(task_id, sizeof task_id, "ct-%d", w->index);
    pthread_barrier_wait(w->go);
    for (int i = 0; i < EXECS_PER_THREAD; i++) {
        snprintf(exec_id, sizeof exec_id, "ct-%d-%05d", w->index, i);
        tasker_task_exec e = exec_rec(exec_id, task_id, T0_US + i, TASKER_EXEC_PENDING);
        int rc = st->ops->add_task_exec(st, &e);
        if (rc == TASKER_OK) rc = st->ops->start_task_exec(st, exec_id, T0_US + i, task_id);
        for (int k = 0; k < EVENTS_PER_EXEC && rc == TASKER_OK; k++) {
            snprintf(msg, sizeof msg, "step %d", k);
            tasker_task_event ev = {0, exec_id, T0_US + i, TASKER_NORMAL, msg};
            rc = st->ops->add_task_event(st, &ev);
        }
        if (rc == TASKER_OK) {
            e.status = TASKER_EXEC_SUCCESS;
            e.success = true;
            e.end_us = T0_US + i + 1;
            rc = st->ops->update_task_exec(st, &e);
        }
        if (rc != TASKER_OK) worker_failed(w, exec_id, rc);
    }
    return NULL;
}

static void run_workers(fixture *f, void *(*fn)(void *), worker *w, int *wins)
{
    pthread_t threads[THREADS];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.f = f, .go = &go, .index = i, .wins = wins};
        if (pthread_create(&threads[i], NULL, fn, &w[i]) != 0) fail_msg("pthread_create");
    }
    for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&go);
    for (int i = 0; i < THREADS; i++)
        if (w[i].failures) fail_msg("%d failures; first: %s", w[i].failures, w[i].first_failure);
}

static void assert_exec_events_in_order(fixture *f, const char *exec_id)
{
    tasker_task_event *v;
    size_t n;
    char want[32];
    OK(OPS->list_task_events(ST, exec_id, &v, &n));
    if (n != EVENTS_PER_EXEC) fail_msg("%s has %zu events, want %d", exec_id, n, EVENTS_PER_EXEC);
    for (size_t k = 0; k < n; k++) {
        snprintf(want, sizeof want, "step %zu", k);
        str_eq(v[k].message, want);
        if (k && v[k].event_id <= v[k - 1].event_id) fail_msg("%s: event ids not increasing", exec_id);
    }
    tasker_free_events(v, n);
}

static void concurrent_writers_keep_every_exec_and_event_order(void **state)
{
    fixture *f = *state;
    set_retention(f, -1, -1);
    char task_id[16];
    for (int i = 0; i < THREADS; i++) {
        snprintf(task_id, sizeof task_id, "ct-%d", i);
        add_task(f, task_id);
    }
    worker w[THREADS];
    run_workers(f, write_execs_with_events, w, NULL);
    assert_int_equal(count_execs(f, NULL), THREADS * EXECS_PER_THREAD);
    tasker_task_exec *pending;
    size_t n;
    OK(OPS->list_pending_execs(ST, 0, &pending, &n));
    assert_int_equal(n, 0);
    for (int t = 0; t < THREADS; t++) {
        snprintf(task_id, sizeof task_id, "ct-%d", t);
        tasker_task_exec *v;
        OK(OPS->list_task_execs(ST, task_id, 0, &v, &n));
        assert_int_equal(n, EXECS_PER_THREAD);
        for (size_t i = 0; i < n; i++) {
            if (v[i].status != TASKER_EXEC_SUCCESS) fail_msg("%s not success", v[i].exec_id);
            str_eq(v[i].node_id, task_id);
            assert_exec_events_in_order(f, v[i].exec_id);
        }
        tasker_free_execs(v, n);
    }
}

/* Every thread stores every occurrence of one schedule under its own exec ids. */
static void *race_for_occurrences(void *arg)
{
    worker *w = arg;
    tasker_storage *st = w->f->st;
    char exec_id[32];
    pthread_barrier_wait(w->go);
    for (int i = 0; i < RACE_OCCURRENCES; i++) {
        snprintf(exec_id, sizeof exec_id, "race-%d-%05d", w->index, i);
        tasker_task_exec e = exec_rec(exec_id, "t", T0_US + i, TASKER_EXEC_PENDING);
        e.scheme_id = "s";
        e.scheduled_us = T0_US + i * 60 * SECOND_US;
        int rc = st->ops->add_task_exec(st, &e);
        if (rc == TASKER_OK) __atomic_fetch_add(&w->wins[i], 1, __ATOMIC_SEQ_CST);
        else if (rc != TASKER_EEXISTS) worker_failed(w, exec_id, rc);
    }
    return NULL;
}

/* Every thread tries to start every pending execution. */
static void *race_for_starts(void *arg)
{
    worker *w = arg;
    tasker_storage *st = w->f->st;
    tasker_task_exec *v;
    size_t n;
    pthread_barrier_wait(w->go);
    int rc = st->ops->list_pending_execs(st, 0, &v, &n);
    if (rc != TASKER_OK) {
        worker_failed(w, "list_pending_execs", rc);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        int k = atoi(v[i].exec_id + strlen("race-0-"));
        rc = st->ops->start_task_exec(st, v[i].exec_id, T0_US, "racer");
        if (rc == TASKER_OK) __atomic_fetch_add(&w->wins[k], 1, __ATOMIC_SEQ_CST);
        else if (rc != TASKER_ESTATE) worker_failed(w, v[i].exec_id, rc);
    }
    tasker_free_execs(v, n);
    return NULL;
}

static void concurrent_races_have_exactly_one_winner(void **state)
{
    fixture *f = *state;
    set_retention(f, -1, -1);
    add_task(f, "t");
    add_scheme(f, "s", "t", "* * * * *");
    int wins[RACE_OCCURRENCES] = {0};
    worker w[THREADS];
    run_workers(f, race_for_occurrences, w, wins);
    for (int i = 0; i < RACE_OCCURRENCES; i++)
        if (wins[i] != 1) fail_msg("occurrence %d stored %d times", i, wins[i]);
    assert_int_equal(count_execs(f, "t"), RACE_OCCURRENCES);
    memset(wins, 0, sizeof wins);
    run_workers(f, race_for_starts, w, wins);
    for (int i = 0; i < RACE_OCCURRENCES; i++)
        if (wins[i] != 1) fail_msg("execution of occurrence %d started %d times", i, wins[i]);
}

/* ---- the runner ------------------------------------------------------------------- */

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, conformance_setup, conformance_teardown)

int tasker_storage_conformance(const char *name, conformance_open_fn open, void *udata)
{
    conformance_open = open;
    conformance_udata = udata;
    const char *filter = getenv("TASKER_CONFORMANCE_FILTER");
    if (filter && *filter) cmocka_set_test_filter(filter);
    const struct CMUnitTest tests[] = {
        TEST(task_round_trips_and_is_copied),
        TEST(add_task_twice_replaces_handler_param_desc_and_keeps_schedules),
        TEST(null_desc_round_trips_as_null),
        TEST(missing_task_is_enotfound_for_get_and_remove),
        TEST(remove_task_takes_its_schedules_only),
        TEST(remove_task_keeps_its_execution_history),
        TEST(list_tasks_is_ordered_by_id_and_empty_is_null),
        TEST(utf8_quotes_and_max_length_ids_round_trip),
        TEST(same_task_and_cron_give_one_schedule_with_updated_policies),
        TEST(schedule_for_missing_task_is_enotfound),
        TEST(schedules_round_trip_and_list_by_id),
        TEST(remove_schedule_and_missing_schedule_is_enotfound),
        TEST(set_scheme_fire_only_moves_forward),
        TEST(exec_round_trips_every_field),
        TEST(exec_of_missing_task_or_id_is_enotfound),
        TEST(duplicate_exec_id_is_eexists_and_keeps_the_first),
        TEST(duplicate_occurrence_is_eexists_but_triggered_runs_are_not),
        TEST(list_execs_is_newest_first_with_limit_by_task_and_all),
        TEST(start_is_a_compare_and_set_from_pending),
        TEST(update_records_the_outcome_and_ignores_other_fields),
        TEST(list_pending_is_oldest_first_with_limit),
        TEST(list_pending_of_an_empty_store_is_null),
        TEST(interrupt_dead_marks_running_execs_of_dead_nodes),
        TEST(events_are_listed_oldest_first_with_increasing_ids),
        TEST(events_of_missing_exec_are_enotfound),
        TEST(retention_keeps_newest_100_and_their_events),
        TEST(retention_by_age_follows_the_store_clock),
        TEST(pending_and_running_execs_are_never_pruned),
        TEST(unlimited_retention_keeps_everything),
        TEST(retention_counts_each_task_separately),
        TEST(concurrent_writers_keep_every_exec_and_event_order),
        TEST(concurrent_races_have_exactly_one_winner),
    };
    int failed = cmocka_run_group_tests_name(name, tests, NULL, NULL);
    size_t n_v2 = 0;
    const struct CMUnitTest *v2 = conformance_v2_tests(&n_v2);
    char v2_name[128];
    snprintf(v2_name, sizeof v2_name, "%s (storage version 2)", name);
    failed += _cmocka_run_group_tests(v2_name, v2, n_v2, NULL, NULL);
    size_t n_policy = 0;
    const struct CMUnitTest *policy = conformance_policy_tests(&n_policy);
    char policy_name[128];
    snprintf(policy_name, sizeof policy_name, "%s (task policies)", name);
    failed += _cmocka_run_group_tests(policy_name, policy, n_policy, NULL, NULL);
    size_t n_v3 = 0;
    const struct CMUnitTest *v3 = conformance_v3_tests(&n_v3);
    char v3_name[128];
    snprintf(v3_name, sizeof v3_name, "%s (storage version 3)", name);
    failed += _cmocka_run_group_tests(v3_name, v3, n_v3, NULL, NULL);
    size_t n_v4 = 0;
    const struct CMUnitTest *v4 = conformance_v4_tests(&n_v4);
    char v4_name[128];
    snprintf(v4_name, sizeof v4_name, "%s (storage version 4, job lifecycle)", name);
    failed += _cmocka_run_group_tests(v4_name, v4, n_v4, NULL, NULL);
    size_t n_bulk = 0;
    const struct CMUnitTest *bulk = conformance_bulk_tests(&n_bulk);
    char bulk_name[128];
    snprintf(bulk_name, sizeof bulk_name, "%s (storage version 4, bulk definitions)", name);
    return failed + _cmocka_run_group_tests(bulk_name, bulk, n_bulk, NULL, NULL);
}
