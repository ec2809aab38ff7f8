/* The MySQL driver's asynchronous writes (storage version 2): add_task_event_async and
 * update_task_exec_async. A run's events are stored before its outcome; done is called
 * exactly once, with update_task_exec's result; close() finishes what was accepted; and
 * a write whose batch did not commit (a fault in place of the COMMIT, or the server
 * restarting) is replayed until it commits, not dropped. */
#include "storage/mysql/internal.h"
#include "support/mariadb.h"

#include <tasker/storage.h>

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static atomic_int fault_mode; /* the fault for the next batch with an outcome in it */

static int inject(const my_write *batch)
{
    for (const my_write *w = batch; w; w = w->next)
        if (w->async && w->kind == MW_UPDATE) return atomic_exchange(&fault_mode, 0);
    return 0;
}

static char *fresh_dsn(void)
{
    char *dsn = tasker_test_mariadb_fresh_dsn("tasker_a", "connect_timeout=2");
    if (!dsn) fail_msg("%s", tasker_test_mariadb_error());
    return dsn;
}

static tasker_storage *open_dsn(const char *dsn)
{
    tasker_storage *st = tasker_mysql_storage(dsn);
    if (!st) fail_msg("open %s: %s", dsn, tasker_last_error());
    st->env.max_execs_per_task = -1;
    st->env.max_exec_age_s = -1;
    return st;
}

static void add_running(tasker_storage *st, const char *exec_id)
{
    tasker_task t = {.task_id = "t", .handler = "h", .param = "{}"};
    assert_int_equal(st->ops->add_task(st, &t), TASKER_OK);
    tasker_task_exec e = {.exec_id = (char *)exec_id, .task_id = "t", .queued_us = 1,
                          .status = TASKER_EXEC_PENDING};
    assert_int_equal(st->ops->add_task_exec(st, &e), TASKER_OK);
    assert_int_equal(st->ops->start_task_exec(st, exec_id, 2, "me"), TASKER_OK);
}

/* What done reported, for one write. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls;
    int rc;
    char msg[512];
} report;

static void report_init(report *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
}

static void report_destroy(report *r)
{
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
}

static void on_done(void *udata, int rc, const char *msg)
{
    report *r = udata;
    pthread_mutex_lock(&r->lock);
    r->calls++;
    r->rc = rc;
    snprintf(r->msg, sizeof r->msg, "%s", msg ? msg : "");
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

/* Waits until done was called, up to timeout_ms; returns its rc. */
static int wait_done(report *r, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->lock);
    while (r->calls == 0)
        if (pthread_cond_timedwait(&r->cond, &r->lock, &until) != 0) break;
    int calls = r->calls, rc = r->rc;
    pthread_mutex_unlock(&r->lock);
    if (calls == 0) fail_msg("done was not called within %d ms", timeout_ms);
    return rc;
}

static void submit_outcome(tasker_storage *st, const char *exec_id, report *r)
{
    tasker_task_exec out = {.exec_id = (char *)exec_id, .status = TASKER_EXEC_SUCCESS,
                            .success = true, .end_us = 9, .result = "{\"ok\":1}"};
    assert_int_equal(st->ops->update_task_exec_async(st, &out, on_done, r), TASKER_OK);
}

static void submit_event(tasker_storage *st, const char *exec_id, const char *message,
                         report *r)
{
    tasker_task_event ev = {.exec_id = (char *)exec_id, .time_us = 5,
                            .level = TASKER_NORMAL, .message = (char *)message};
    assert_int_equal(st->ops->add_task_event_async(st, &ev, r ? on_done : NULL, r),
                     TASKER_OK);
}

static void assert_finished(tasker_storage *st, const char *exec_id)
{
    tasker_task_exec e = {0};
    assert_int_equal(st->ops->get_task_exec(st, exec_id, &e), TASKER_OK);
    assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
    assert_int_equal(e.start_us, 2);
    assert_int_equal(e.end_us, 9);
    assert_string_equal(e.result, "{\"ok\":1}");
    tasker_exec_clear(&e);
}

static void events_then_outcome_each_reported_once(void **state)
{
    (void)state;
    char *dsn = fresh_dsn();
    tasker_storage *st = open_dsn(dsn);
    add_running(st, "x");
    report ev, out, missing;
    report_init(&ev);
    report_init(&out);
    report_init(&missing);
    submit_event(st, "x", "one", NULL);
    submit_event(st, "x", "two", &ev);
    submit_outcome(st, "x", &out);
    submit_outcome(st, "nope", &missing);
    assert_int_equal(wait_done(&out, 10000), TASKER_OK);
    /* The events were submitted first: stored no later than the outcome. */
    assert_int_equal(wait_done(&ev, 10000), TASKER_OK);
    assert_int_equal(wait_done(&missing, 10000), TASKER_ENOTFOUND);
    assert_non_null(strstr(missing.msg, "nope"));
    assert_finished(st, "x");
    tasker_task_event *evs = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->list_task_events(st, "x", &evs, &n), TASKER_OK);
    assert_int_equal(n, 2);
    assert_string_equal(evs[0].message, "one");
    assert_string_equal(evs[1].message, "two");
    tasker_free_events(evs, n);
    st->ops->close(st);
    assert_int_equal(ev.calls, 1);
    assert_int_equal(out.calls, 1);
    assert_int_equal(missing.calls, 1);
    report_destroy(&ev);
    report_destroy(&out);
    report_destroy(&missing);
    free(dsn);
}

/* Events of one batch go as one bulk INSERT; one for a missing run makes it fail whole,
 * and then each is stored alone: the others exactly once, that one ENOTFOUND. */
static void a_bad_event_in_a_bulk_fails_alone(void **state)
{
    (void)state;
    char *dsn = fresh_dsn();
    tasker_storage *st = open_dsn(dsn);
    add_running(st, "x");
    enum { N = 40 };
    static report r[N];
    for (int i = 0; i < N; i++) {
        report_init(&r[i]);
        char msg[16];
        snprintf(msg, sizeof msg, "e%02d", i);
        submit_event(st, i == N / 2 ? "nope" : "x", msg, &r[i]);
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(wait_done(&r[i], 10000), i == N / 2 ? TASKER_ENOTFOUND : TASKER_OK);
    tasker_task_event *evs = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->list_task_events(st, "x", &evs, &n), TASKER_OK);
    assert_int_equal(n, N - 1);
    for (size_t i = 0, want = 0; i < n; i++, want++) {
        if (want == N / 2) want++;
        char msg[16];
        snprintf(msg, sizeof msg, "e%02zu", want);
        assert_string_equal(evs[i].message, msg);
    }
    tasker_free_events(evs, n);
    st->ops->close(st);
    for (int i = 0; i < N; i++) {
        assert_int_equal(r[i].calls, 1);
        report_destroy(&r[i]);
    }
    free(dsn);
}

#define DRAIN_N 200

/* close() right after submitting: every write is stored and reported, once. */
static void close_finishes_accepted_writes(void **state)
{
    (void)state;
    char *dsn = fresh_dsn();
    tasker_storage *st = open_dsn(dsn);
    static report r[DRAIN_N];
    char id[DRAIN_N][16];
    for (int i = 0; i < DRAIN_N; i++) {
        snprintf(id[i], sizeof id[i], "d%d", i);
        add_running(st, id[i]);
    }
    for (int i = 0; i < DRAIN_N; i++) {
        report_init(&r[i]);
        submit_event(st, id[i], "ran", NULL);
        submit_outcome(st, id[i], &r[i]);
    }
    st->ops->close(st);
    for (int i = 0; i < DRAIN_N; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].rc, TASKER_OK);
        report_destroy(&r[i]);
    }
    st = open_dsn(dsn);
    for (int i = 0; i < DRAIN_N; i++) assert_finished(st, id[i]);
    st->ops->close(st);
    free(dsn);
}

/* A batch whose COMMIT failed (rolled back, or cut off with either fate): the outcome
 * and the event before it are replayed, stored once, and reported once, as OK. */
static void replayed_after_a_failed_commit(void **state)
{
    (void)state;
    static const int modes[] = {MY_FAULT_LOST, MY_FAULT_UNKNOWN, MY_FAULT_UNKNOWN_COMMITTED};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        char *dsn = fresh_dsn();
        tasker_storage *st = open_dsn(dsn);
        add_running(st, "x");
        report out;
        report_init(&out);
        atomic_store(&fault_mode, modes[m]);
        submit_event(st, "x", "ran", NULL);
        submit_outcome(st, "x", &out);
        assert_int_equal(wait_done(&out, 10000), TASKER_OK);
        assert_int_equal(atomic_load(&fault_mode), 0); /* the fault did fire */
        assert_finished(st, "x");
        tasker_task_event *evs = NULL;
        size_t n = 0;
        assert_int_equal(st->ops->list_task_events(st, "x", &evs, &n), TASKER_OK);
        assert_int_equal(n, 1);
        tasker_free_events(evs, n);
        st->ops->close(st);
        assert_int_equal(out.calls, 1);
        report_destroy(&out);
        free(dsn);
    }
}

/* The server goes away with an outcome accepted: it is stored once the server is back. */
static void outcome_survives_a_server_restart(void **state)
{
    (void)state;
    if (tasker_test_mariadb_external()) skip();
    char *dsn = fresh_dsn();
    tasker_storage *st = open_dsn(dsn);
    add_running(st, "x");
    report out;
    report_init(&out);
    if (tasker_test_mariadb_stop() != 0) fail_msg("%s", tasker_test_mariadb_error());
    submit_event(st, "x", "ran", NULL);
    submit_outcome(st, "x", &out);
    if (tasker_test_mariadb_start() != 0) fail_msg("%s", tasker_test_mariadb_error());
    assert_int_equal(wait_done(&out, 20000), TASKER_OK);
    assert_finished(st, "x");
    st->ops->close(st);
    assert_int_equal(out.calls, 1);
    report_destroy(&out);
    free(dsn);
}

static int setup(void **state)
{
    (void)state;
    if (tasker_test_mariadb_start() != 0) {
        fprintf(stderr, "MariaDB test server: %s\n", tasker_test_mariadb_error());
        return -1;
    }
    my_test_before_commit = inject;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    my_test_before_commit = NULL;
    tasker_test_mariadb_drop_fresh();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(events_then_outcome_each_reported_once),
        cmocka_unit_test(close_finishes_accepted_writes),
        cmocka_unit_test(a_bad_event_in_a_bulk_fails_alone),
        cmocka_unit_test(replayed_after_a_failed_commit),
        cmocka_unit_test(outcome_survives_a_server_restart),
    };
    return cmocka_run_group_tests_name("mysql_async", tests, setup, teardown);
}
