/* The job lifecycle through the public API (design section 6): retries with backoff,
 * tasker_no_retry, timeouts, cancel, pause/resume, unique keys under concurrent
 * triggers, priorities, per-run params, max_concurrency across two handles, and the
 * filtered history. Runs on memory:, on SQLite files named by $TASKER_TEST_DSN_PREFIX,
 * and on a fresh database per test on the private MariaDB server when
 * $TASKER_TEST_LIFECYCLE_MYSQL is set (CMakeLists.txt runs it the three ways). */
#include "support/mariadb.h"
#include "support/testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0 INT64_C(1800000000000000)

static bool on_mysql(void) { return getenv("TASKER_TEST_LIFECYCLE_MYSQL") != NULL; }

static const char *dsn_for(const char *name, char *buf, size_t size)
{
    if (on_mysql()) {
        char *dsn = tasker_test_mariadb_fresh_dsn("tlife", "connect_timeout=2");
        if (!dsn) fail_msg("%s: %s", name, tasker_test_mariadb_error());
        snprintf(buf, size, "%s", dsn);
        free(dsn);
        return buf;
    }
    const char *prefix = getenv("TASKER_TEST_DSN_PREFIX");
    if (!prefix) return "memory:";
    snprintf(buf, size, "%slife-%s.db", prefix, name);
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char path[1100];
        snprintf(path, sizeof path, "%s%s", buf + strlen("sqlite:"), suffix[i]);
        unlink(path);
    }
    return buf;
}

/* A store that several handles can share. */
static bool shared_store(void) { return getenv("TASKER_TEST_DSN_PREFIX") != NULL || on_mysql(); }

static tasker_t *open_with(const char *name, int workers, fake_clock *clock)
{
    char buf[1024];
    return test_open(dsn_for(name, buf, sizeof buf), workers, clock);
}

static tasker_task_exec get(tasker_t *t, const char *id)
{
    tasker_task_exec e;
    if (tasker_get_exec(t, id, &e) != TASKER_OK) fail_msg("get %s: %s", id, tasker_last_error());
    return e;
}

static void wait_done(tasker_t *t, const char *id)
{
    if (tasker_wait(t, id, 20000) != TASKER_OK) fail_msg("wait %s: %s", id, tasker_last_error());
}

static int fail_handler(tasker_ctx *c)
{
    tasker_failed(c, "boom %d", tasker_attempt(c));
    return 1;
}

static void retries_follow_the_backoff_and_stop_after_max_attempts(void **state)
{
    (void)state;
    fake_clock clock = {T0};
    tasker_t *t = open_with("retry", 2, &clock);
    tasker_register(t, "fail", fail_handler, NULL);
    tasker_task_opts o = {.max_attempts = 3, .backoff_ms = 1000, .backoff_max_ms = 1500};
    assert_int_equal(tasker_add_task_opts(t, "job", "fail", "{\"p\":1}", &o), TASKER_OK);
    char first[TASKER_ID_SIZE], id[TASKER_ID_SIZE + 8];
    assert_int_equal(tasker_trigger(t, "job", first), TASKER_OK);
    wait_done(t, first);
    int64_t delays_ms[] = {1000, 1500}; /* doubled, then capped */
    for (int attempt = 2; attempt <= 3; attempt++) {
        snprintf(id, sizeof id, "%s.%d", first, attempt);
        char prev_id[TASKER_ID_SIZE + 8];
        snprintf(prev_id, sizeof prev_id, attempt == 2 ? "%s" : "%s.2", first);
        tasker_task_exec prev = get(t, prev_id);
        int64_t failed_at = prev.end_us; /* the delay counts from the failure's end */
        tasker_exec_clear(&prev);
        tasker_task_exec r = get(t, id);
        assert_int_equal(r.status, TASKER_EXEC_PENDING);
        assert_int_equal(r.attempt, attempt);
        assert_string_equal(r.retry_of, first);
        int64_t d = delays_ms[attempt - 2] * 1000;
        assert_true(r.run_at_us >= failed_at + d * 9 / 10);
        assert_true(r.run_at_us <= failed_at + d * 11 / 10);
        tasker_exec_clear(&r);
        /* Not before its time. */
        assert_int_equal(tasker_wait(t, id, 300), TASKER_ETIMEDOUT);
        fake_clock_advance(&clock, d * 11 / 10 + 1);
        tasker_wake(t);
        wait_done(t, id);
        r = get(t, id);
        assert_int_equal(r.status, TASKER_EXEC_FAILED);
        assert_string_equal(r.error, attempt == 2 ? "boom 2" : "boom 3");
        tasker_exec_clear(&r);
    }
    tasker_task_exec *v;
    size_t n;
    assert_int_equal(tasker_list_execs(t, "job", &v, &n), TASKER_OK);
    assert_int_equal(n, 3); /* no fourth attempt */
    tasker_free_execs(v, n);
    tasker_close(t);
}

static int final_failure(tasker_ctx *c)
{
    tasker_no_retry(c);
    return 1;
}

static void no_retry_makes_a_failure_final(void **state)
{
    (void)state;
    tasker_t *t = open_with("noretry", 1, NULL);
    tasker_register(t, "final", final_failure, NULL);
    tasker_task_opts o = {.max_attempts = 5, .backoff_ms = 1};
    assert_int_equal(tasker_add_task_opts(t, "job", "final", NULL, &o), TASKER_OK);
    char id[TASKER_ID_SIZE];
    assert_int_equal(tasker_trigger(t, "job", id), TASKER_OK);
    wait_done(t, id);
    tasker_task_exec *v;
    size_t n;
    assert_int_equal(tasker_list_execs(t, "job", &v, &n), TASKER_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].status, TASKER_EXEC_FAILED);
    tasker_free_execs(v, n);
    tasker_close(t);
}

static const char *retry_of_first;
static int retry_n;
static tasker_t *retry_t;
static bool retry_stored(void *arg)
{
    (void)arg;
    char id[TASKER_ID_SIZE + 8];
    snprintf(id, sizeof id, "%s.%d", retry_of_first, retry_n);
    tasker_task_exec e;
    if (tasker_get_exec(retry_t, id, &e) != TASKER_OK) return false;
    tasker_exec_clear(&e);
    return true;
}

/* Waits until attempt n (n > 1) of first is stored. */
static void wait_stored(tasker_t *t, const char *first, int n)
{
    retry_t = t;
    retry_of_first = first;
    retry_n = n;
    assert_true(test_wait_for(retry_stored, NULL, 10000));
}

static size_t history_size(tasker_t *t, const char *task_id)
{
    tasker_task_exec *v;
    size_t n;
    assert_int_equal(tasker_list_execs(t, task_id, &v, &n), TASKER_OK);
    tasker_free_execs(v, n);
    return n;
}

/* A retry is started at its due time, not at the scheduler's next rescan (once a
 * second): the core wakes itself when a failure it wrote will be retried. */
static void retries_start_on_time_not_at_the_next_rescan(void **state)
{
    (void)state;
    tasker_t *t = open_with("retry-wake", 2, NULL);
    tasker_register(t, "fail", fail_handler, NULL);
    assert_int_equal(tasker_start(t), TASKER_OK); /* the schedule loop starts due runs */
    tasker_task_opts o = {.max_attempts = 4, .backoff_ms = 200, .backoff_max_ms = 200};
    assert_int_equal(tasker_add_task_opts(t, "job", "fail", NULL, &o), TASKER_OK);
    char first[TASKER_ID_SIZE], id[TASKER_ID_SIZE + 8];
    assert_int_equal(tasker_trigger(t, "job", first), TASKER_OK);
    int64_t worst_us = 0;
    for (int attempt = 2; attempt <= 4; attempt++) {
        snprintf(id, sizeof id, "%s.%d", first, attempt);
        retry_of_first = first;
        retry_n = attempt;
        retry_t = t;
        assert_true(test_wait_for(retry_stored, NULL, 20000));
        wait_done(t, id);
        tasker_task_exec r = get(t, id);
        assert_true(r.start_us >= r.run_at_us);
        if (r.start_us - r.run_at_us > worst_us) worst_us = r.start_us - r.run_at_us;
        tasker_exec_clear(&r);
    }
    /* Woken at the due time, the lateness is that of a wakeup; at the rescan, it would
     * be up to a second (all three under 400 ms by chance: 6 %). */
    if (worst_us >= 400000) fail_msg("a retry started %lld ms late", (long long)worst_us / 1000);
    tasker_close(t);
}

/* A retry is an add like any other: the write that stores it applies its task's
 * max_execs, pruning the failed attempts beyond it (not waiting for the next add). */
static void a_retry_applies_its_tasks_max_execs(void **state)
{
    (void)state;
    tasker_t *t = open_with("retrykeep", 1, NULL);
    tasker_register(t, "fail", fail_handler, NULL);
    tasker_task_opts o = {.max_attempts = 3, .backoff_ms = 1, .max_execs = 2};
    assert_int_equal(tasker_add_task_opts(t, "job", "fail", NULL, &o), TASKER_OK);
    assert_int_equal(tasker_start(t), TASKER_OK); /* its rescans start the retries */
    char first[TASKER_ID_SIZE], id[TASKER_ID_SIZE + 8];
    assert_int_equal(tasker_trigger(t, "job", first), TASKER_OK);
    wait_stored(t, first, 3);
    snprintf(id, sizeof id, "%s.3", first);
    wait_done(t, id);
    /* Attempt 3's retry pruned attempt 1: the newest two remain. */
    assert_int_equal(history_size(t, "job"), 2);
    tasker_task_exec e;
    assert_int_equal(tasker_get_exec(t, first, &e), TASKER_ENOTFOUND);
    snprintf(id, sizeof id, "%s.2", first);
    e = get(t, id);
    assert_int_equal(e.status, TASKER_EXEC_FAILED);
    tasker_exec_clear(&e);
    tasker_close(t);
}

/* The same for the task's max_exec_age_s: once its retry comes, a failed attempt older
 * than the task's age is pruned, with the retry's own predecessor when it is as old. */
static void a_retry_applies_its_tasks_max_exec_age(void **state)
{
    (void)state;
    fake_clock clock = {T0};
    tasker_t *t = open_with("retryage", 1, &clock);
    tasker_register(t, "fail", fail_handler, NULL);
    tasker_task_opts o = {.max_attempts = 3, .backoff_ms = 1000, .max_exec_age_s = 60};
    assert_int_equal(tasker_add_task_opts(t, "job", "fail", NULL, &o), TASKER_OK);
    char first[TASKER_ID_SIZE], id[TASKER_ID_SIZE + 8];
    assert_int_equal(tasker_trigger(t, "job", first), TASKER_OK);
    wait_done(t, first);
    assert_int_equal(history_size(t, "job"), 2); /* the failure and its retry */
    fake_clock_advance(&clock, 120 * INT64_C(1000000));
    tasker_wake(t);
    wait_stored(t, first, 3);
    /* Attempt 3, queued now, in the write of attempt 2's failure; attempts 1 and 2
     * were queued two minutes ago. */
    assert_int_equal(history_size(t, "job"), 1);
    snprintf(id, sizeof id, "%s.2", first);
    tasker_task_exec e;
    assert_int_equal(tasker_get_exec(t, id, &e), TASKER_ENOTFOUND);
    snprintf(id, sizeof id, "%s.3", first);
    e = get(t, id);
    assert_int_equal(e.status, TASKER_EXEC_PENDING);
    tasker_exec_clear(&e);
    tasker_close(t);
}

static atomic_int started;

/* Cooperates: runs until tasker_cancelled() (a timeout or a cancel). */
static int patient(tasker_ctx *c)
{
    atomic_fetch_add(&started, 1);
    while (!tasker_cancelled(c)) usleep(1000);
    return 0;
}

static void a_timeout_turns_cancelled_true_and_fails_the_run(void **state)
{
    (void)state;
    tasker_t *t = open_with("timeout", 1, NULL);
    tasker_register(t, "patient", patient, NULL);
    tasker_task_opts o = {.timeout_ms = 50};
    assert_int_equal(tasker_add_task_opts(t, "job", "patient", NULL, &o), TASKER_OK);
    char id[TASKER_ID_SIZE];
    assert_int_equal(tasker_trigger(t, "job", id), TASKER_OK);
    wait_done(t, id);
    tasker_task_exec e = get(t, id);
    assert_int_equal(e.status, TASKER_EXEC_FAILED);
    assert_string_equal(e.error, "timed out after 50 ms");
    tasker_exec_clear(&e);
    tasker_close(t);
}

static bool started_one(void *arg) { return atomic_load(&started) >= *(int *)arg; }

static void expect_timed_out_after(tasker_t *t, const char *id, const char *error)
{
    /* The task's timeout is a minute: a run judged by it would not finish in time. */
    if (tasker_wait(t, id, 10000) != TASKER_OK) fail_msg("wait %s: %s", id, tasker_last_error());
    tasker_task_exec e = get(t, id);
    assert_int_equal(e.status, TASKER_EXEC_FAILED);
    assert_string_equal(e.error, error);
    assert_int_equal(e.timeout_ms, 50);
    tasker_exec_clear(&e);
}

/* A delayed run is started from its stored record (pickup or claim), not from the
 * queue of the handle that triggered it: the record carries the run's own timeout. */
static void a_delayed_run_keeps_its_own_timeout(void **state)
{
    (void)state;
    fake_clock clock = {T0};
    tasker_t *t = open_with("owntimeout", 1, &clock);
    tasker_register(t, "patient", patient, NULL);
    tasker_task_opts o = {.timeout_ms = 60000, .max_attempts = 2};
    assert_int_equal(tasker_add_task_opts(t, "job", "patient", NULL, &o), TASKER_OK);
    char id[TASKER_ID_SIZE], retry[TASKER_ID_SIZE + 8];
    tasker_run_opts r = {.delay_ms = 1000, .timeout_ms = 50};
    assert_int_equal(tasker_trigger_opts(t, "job", &r, id), TASKER_OK);
    tasker_task_exec e = get(t, id);
    assert_int_equal(e.timeout_ms, 50);
    tasker_exec_clear(&e);
    fake_clock_advance(&clock, 1001000);
    tasker_wake(t);
    expect_timed_out_after(t, id, "timed out after 50 ms");
    /* Its retry, stored with the failure, keeps the run's own timeout. */
    snprintf(retry, sizeof retry, "%s.2", id);
    e = get(t, retry);
    assert_int_equal(e.status, TASKER_EXEC_PENDING);
    assert_int_equal(e.timeout_ms, 50);
    tasker_exec_clear(&e);
    tasker_close(t);
}

/* A handle without workers triggers; another handle on the file runs the run by its
 * own timeout; then the same for a delayed run whose trigger's handle has closed and
 * whose runner opens after it was stored (a restart). */
static void a_run_keeps_its_own_timeout_on_another_handle_and_after_a_restart(void **state)
{
    (void)state;
    if (!shared_store()) skip(); /* a memory store belongs to one handle */
    char buf[1024];
    const char *dsn = dsn_for("xtimeout", buf, sizeof buf);
    tasker_options none = {.workers = -1, .node_id = "trigger"};
    tasker_options runs = {.workers = 2, .node_id = "runner", .poll_ms = 20};
    tasker_t *a = tasker_open_opts(dsn, &none);
    assert_non_null(a);
    tasker_task_opts o = {.timeout_ms = 60000};
    assert_int_equal(tasker_add_task_opts(a, "job", "patient", NULL, &o), TASKER_OK);
    tasker_t *b = tasker_open_opts(dsn, &runs);
    assert_non_null(b);
    tasker_register(b, "patient", patient, NULL);
    assert_int_equal(tasker_start(b), TASKER_OK);
    char now[TASKER_ID_SIZE], later[TASKER_ID_SIZE];
    tasker_run_opts r = {.timeout_ms = 50};
    assert_int_equal(tasker_trigger_opts(a, "job", &r, now), TASKER_OK);
    expect_timed_out_after(b, now, "timed out after 50 ms");
    tasker_close(b);

    r.delay_ms = 300;
    assert_int_equal(tasker_trigger_opts(a, "job", &r, later), TASKER_OK);
    tasker_close(a);
    b = tasker_open_opts(dsn, &runs);
    assert_non_null(b);
    tasker_register(b, "patient", patient, NULL);
    assert_int_equal(tasker_start(b), TASKER_OK);
    expect_timed_out_after(b, later, "timed out after 50 ms");
    tasker_task_exec e = get(b, later);
    assert_string_equal(e.node_id, "runner");
    tasker_exec_clear(&e);
    tasker_close(b);
}

static void cancel_pending_and_running_runs(void **state)
{
    (void)state;
    atomic_store(&started, 0);
    tasker_t *t = open_with("cancel", 1, NULL);
    tasker_register(t, "patient", patient, NULL);
    tasker_task_opts o = {.max_attempts = 3};
    assert_int_equal(tasker_add_task_opts(t, "job", "patient", NULL, &o), TASKER_OK);
    char later[TASKER_ID_SIZE], now[TASKER_ID_SIZE];
    tasker_run_opts delayed = {.delay_ms = 3600 * 1000};
    assert_int_equal(tasker_trigger_opts(t, "job", &delayed, later), TASKER_OK);
    assert_int_equal(tasker_cancel(t, later), TASKER_OK);
    wait_done(t, later);
    tasker_task_exec e = get(t, later);
    assert_int_equal(e.status, TASKER_EXEC_CANCELLED);
    tasker_exec_clear(&e);
    assert_int_equal(tasker_cancel(t, later), TASKER_ESTATE);

    assert_int_equal(tasker_trigger(t, "job", now), TASKER_OK);
    int one = 1;
    assert_true(test_wait_for(started_one, &one, 10000));
    assert_int_equal(tasker_cancel(t, now), TASKER_OK);
    wait_done(t, now);
    e = get(t, now);
    assert_int_equal(e.status, TASKER_EXEC_CANCELLED);
    tasker_exec_clear(&e);
    /* A cancelled run is not retried. */
    tasker_task_exec *v;
    size_t n;
    assert_int_equal(tasker_list_execs(t, "job", &v, &n), TASKER_OK);
    assert_int_equal(n, 2);
    tasker_free_execs(v, n);
    assert_int_equal(tasker_cancel(t, "no-such-run"), TASKER_ENOTFOUND);
    tasker_close(t);
}

static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;
static char order[16][64];
static int n_order;

static int record_param(tasker_ctx *c)
{
    pthread_mutex_lock(&order_lock);
    if (n_order < 16) snprintf(order[n_order++], sizeof order[0], "%s", tasker_param(c));
    pthread_mutex_unlock(&order_lock);
    return 0;
}

static void pause_holds_runs_and_resume_starts_them_by_priority(void **state)
{
    (void)state;
    n_order = 0;
    tasker_t *t = open_with("pause", 1, NULL);
    tasker_register(t, "rec", record_param, NULL);
    assert_int_equal(tasker_add_task(t, "job", "rec", "\"task\""), TASKER_OK);
    assert_int_equal(tasker_pause_task(t, "job"), TASKER_OK);
    char lo[TASKER_ID_SIZE], hi[TASKER_ID_SIZE], plain[TASKER_ID_SIZE];
    tasker_run_opts low = {.param_json = "\"low\"", .priority = -1};
    tasker_run_opts high = {.param_json = "\"high\"", .priority = 7};
    assert_int_equal(tasker_trigger_opts(t, "job", &low, lo), TASKER_OK);
    assert_int_equal(tasker_trigger(t, "job", plain), TASKER_OK);
    assert_int_equal(tasker_trigger_opts(t, "job", &high, hi), TASKER_OK);
    assert_int_equal(tasker_wait(t, hi, 300), TASKER_ETIMEDOUT); /* triggers queue up */
    tasker_task *tasks;
    size_t n_tasks;
    assert_int_equal(tasker_list_tasks(t, &tasks, &n_tasks), TASKER_OK);
    assert_int_equal(n_tasks, 1);
    assert_true(tasks[0].paused);
    tasker_free_tasks(tasks, n_tasks);
    assert_int_equal(tasker_resume_task(t, "job"), TASKER_OK);
    wait_done(t, lo);
    wait_done(t, hi);
    wait_done(t, plain);
    assert_int_equal(n_order, 3);
    assert_string_equal(order[0], "\"high\"");
    assert_string_equal(order[1], "\"task\""); /* the task's params when none given */
    assert_string_equal(order[2], "\"low\"");
    tasker_task_exec e = get(t, hi);
    assert_string_equal(e.param, "\"high\"");
    assert_int_equal(e.priority, 7);
    tasker_exec_clear(&e);
    assert_int_equal(tasker_pause_task(t, "ghost"), TASKER_ENOTFOUND);
    tasker_close(t);
}

struct racer {
    tasker_t *t;
    int rc;
    char id[TASKER_ID_SIZE];
};

static void *race_trigger(void *arg)
{
    struct racer *r = arg;
    tasker_run_opts o = {.unique_key = "only-one"};
    r->rc = tasker_trigger_opts(r->t, "job", &o, r->id);
    return NULL;
}

static void a_unique_key_admits_exactly_one_of_concurrent_triggers(void **state)
{
    (void)state;
    tasker_t *t = open_with("unique", 1, NULL);
    tasker_register(t, "rec", record_param, NULL);
    assert_int_equal(tasker_add_task(t, "job", "rec", NULL), TASKER_OK);
    assert_int_equal(tasker_pause_task(t, "job"), TASKER_OK); /* the winner stays pending */
    enum { N = 8 };
    struct racer r[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        r[i] = (struct racer){.t = t};
        pthread_create(&th[i], NULL, race_trigger, &r[i]);
    }
    for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
    int winners = 0, w = -1;
    for (int i = 0; i < N; i++)
        if (r[i].rc == TASKER_OK) winners++, w = i;
    assert_int_equal(winners, 1);
    for (int i = 0; i < N; i++) {
        if (i == w) continue;
        assert_int_equal(r[i].rc, TASKER_EEXISTS);
        assert_string_equal(r[i].id, r[w].id); /* the holder's id */
    }
    tasker_close(t);
}

static void filter_pages_through_history_with_a_cursor(void **state)
{
    (void)state;
    fake_clock clock = {T0};
    tasker_t *t = open_with("filter", -1, &clock); /* no workers: runs stay pending */
    assert_int_equal(tasker_add_task(t, "a", "h", NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "b", "h", NULL), TASKER_OK);
    char ids[10][TASKER_ID_SIZE];
    for (int i = 0; i < 10; i++) {
        fake_clock_advance(&clock, 1000);
        assert_int_equal(tasker_trigger(t, i % 2 ? "b" : "a", ids[i]), TASKER_OK);
    }
    assert_int_equal(tasker_cancel(t, ids[8]), TASKER_OK);
    tasker_exec_filter f = {.task_id = "a", .limit = 2};
    tasker_task_exec *v;
    size_t n, seen = 0;
    char *cursor = NULL;
    int expect = 8;
    do {
        f.cursor = cursor;
        char *next = NULL;
        assert_int_equal(tasker_list_execs_filter(t, &f, &v, &n, &next), TASKER_OK);
        for (size_t i = 0; i < n; i++, expect -= 2) assert_string_equal(v[i].exec_id, ids[expect]);
        seen += n;
        tasker_free_execs(v, n);
        free(cursor);
        cursor = next;
    } while (cursor);
    assert_int_equal(seen, 5);
    tasker_exec_filter c = {.status_mask = 1u << TASKER_EXEC_CANCELLED};
    assert_int_equal(tasker_list_execs_filter(t, &c, &v, &n, NULL), TASKER_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].exec_id, ids[8]);
    tasker_free_execs(v, n);
    tasker_exec_filter bad = {.cursor = "garbage"};
    assert_int_equal(tasker_list_execs_filter(t, &bad, &v, &n, NULL), TASKER_EINVAL);
    tasker_close(t);
}

static atomic_int now_running, most_running, finished;

static int one_at_a_time(tasker_ctx *c)
{
    (void)c;
    int k = atomic_fetch_add(&now_running, 1) + 1;
    int m = atomic_load(&most_running);
    while (k > m && !atomic_compare_exchange_weak(&most_running, &m, k)) {
    }
    usleep(5000); /* holds the slot, so that an overlap would be seen */
    atomic_fetch_sub(&now_running, 1);
    atomic_fetch_add(&finished, 1);
    return 0;
}

static bool all_finished(void *arg) { return atomic_load(&finished) >= *(int *)arg; }

static void max_concurrency_holds_across_two_handles(void **state)
{
    (void)state;
    if (!shared_store()) skip(); /* a memory store belongs to one handle */
    char buf[1024];
    const char *dsn = dsn_for("limit", buf, sizeof buf);
    tasker_options o1 = {.workers = 3, .node_id = "n1", .poll_ms = 20};
    tasker_options o2 = {.workers = 3, .node_id = "n2", .poll_ms = 20};
    tasker_t *a = tasker_open_opts(dsn, &o1);
    tasker_t *b = tasker_open_opts(dsn, &o2);
    assert_non_null(a);
    assert_non_null(b);
    tasker_register(a, "one", one_at_a_time, NULL);
    tasker_register(b, "one", one_at_a_time, NULL);
    tasker_task_opts lim = {.max_concurrency = 1};
    assert_int_equal(tasker_add_task_opts(a, "job", "one", NULL, &lim), TASKER_OK);
    assert_int_equal(tasker_start(a), TASKER_OK);
    assert_int_equal(tasker_start(b), TASKER_OK);
    int total = 8;
    for (int i = 0; i < total; i++)
        assert_int_equal(tasker_trigger(i % 2 ? a : b, "job", NULL), TASKER_OK);
    assert_true(test_wait_for(all_finished, &total, 30000));
    assert_int_equal(atomic_load(&most_running), 1);
    tasker_close(a);
    tasker_close(b);
}

static void a_cancel_from_another_handle_arrives_within_a_heartbeat(void **state)
{
    (void)state;
    if (!shared_store()) skip(); /* a memory store belongs to one handle */
    atomic_store(&started, 0);
    char buf[1024];
    const char *dsn = dsn_for("xcancel", buf, sizeof buf);
    tasker_options runner = {.workers = 2, .node_id = "runner", .heartbeat_ms = 100,
                             .poll_ms = 20};
    tasker_options other = {.workers = 1, .node_id = "other", .heartbeat_ms = 100};
    tasker_t *a = tasker_open_opts(dsn, &runner);
    tasker_t *b = tasker_open_opts(dsn, &other);
    assert_non_null(a);
    assert_non_null(b);
    tasker_register(a, "patient", patient, NULL); /* only the runner can run it */
    assert_int_equal(tasker_add_task(b, "job", "patient", NULL), TASKER_OK);
    assert_int_equal(tasker_start(a), TASKER_OK);
    char id[TASKER_ID_SIZE];
    assert_int_equal(tasker_trigger(b, "job", id), TASKER_OK);
    int one = 1;
    assert_true(test_wait_for(started_one, &one, 20000));
    assert_int_equal(tasker_cancel(b, id), TASKER_OK);
    assert_int_equal(tasker_wait(b, id, 5000), TASKER_OK);
    tasker_task_exec e = get(b, id);
    assert_int_equal(e.status, TASKER_EXEC_CANCELLED);
    assert_string_equal(e.node_id, "runner");
    tasker_exec_clear(&e);
    tasker_close(a);
    tasker_close(b);
}

static tasker_t *sched_t;
static bool has_runs(void *arg)
{
    tasker_task_exec *v;
    size_t n = 0;
    if (tasker_list_execs(sched_t, "job", &v, &n) != TASKER_OK) return false;
    tasker_free_execs(v, n);
    return n >= (size_t)*(int *)arg;
}

static void a_paused_schedule_does_not_fire_and_resumes_without_catch_up(void **state)
{
    (void)state;
    /* A MySQL store's handle takes its times on the server's clock (cluster mode), so a
     * fake clock cannot move its schedules: test_mysql_cluster_lifecycle.c checks the
     * same on real time. */
    if (on_mysql()) skip();
    fake_clock clock = {test_utc_us("2027-01-10 10:00:30")};
    tasker_t *t = sched_t = open_with("sched", 2, &clock);
    tasker_register(t, "rec", record_param, NULL);
    assert_int_equal(tasker_add_task(t, "job", "rec", NULL), TASKER_OK);
    char sid[TASKER_ID_SIZE];
    assert_int_equal(tasker_add_task_schedule(t, "job", "* * * * *", sid), TASKER_OK);
    assert_int_equal(tasker_start(t), TASKER_OK);
    assert_int_equal(tasker_pause_schedule(t, sid), TASKER_OK);
    tasker_task_scheme *v;
    size_t n;
    assert_int_equal(tasker_list_schemes(t, &v, &n), TASKER_OK);
    assert_true(v[0].paused);
    tasker_free_schemes(v, n);
    fake_clock_advance(&clock, 5 * 60 * INT64_C(1000000)); /* five fires missed */
    tasker_wake(t);
    int one = 1, two = 2;
    assert_false(test_wait_for(has_runs, &one, 500));
    assert_int_equal(tasker_resume_schedule(t, sid), TASKER_OK);
    tasker_wake(t);
    assert_false(test_wait_for(has_runs, &one, 300)); /* no catch-up */
    fake_clock_advance(&clock, 60 * INT64_C(1000000));
    tasker_wake(t);
    assert_true(test_wait_for(has_runs, &one, 10000)); /* the next minute fires */
    assert_false(test_wait_for(has_runs, &two, 300));
    assert_int_equal(tasker_pause_schedule(t, "no-such"), TASKER_ENOTFOUND);
    tasker_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(retries_follow_the_backoff_and_stop_after_max_attempts),
        cmocka_unit_test(no_retry_makes_a_failure_final),
        cmocka_unit_test(retries_start_on_time_not_at_the_next_rescan),
        cmocka_unit_test(a_retry_applies_its_tasks_max_execs),
        cmocka_unit_test(a_retry_applies_its_tasks_max_exec_age),
        cmocka_unit_test(a_timeout_turns_cancelled_true_and_fails_the_run),
        cmocka_unit_test(a_delayed_run_keeps_its_own_timeout),
        cmocka_unit_test(a_run_keeps_its_own_timeout_on_another_handle_and_after_a_restart),
        cmocka_unit_test(cancel_pending_and_running_runs),
        cmocka_unit_test(pause_holds_runs_and_resume_starts_them_by_priority),
        cmocka_unit_test(a_unique_key_admits_exactly_one_of_concurrent_triggers),
        cmocka_unit_test(filter_pages_through_history_with_a_cursor),
        cmocka_unit_test(max_concurrency_holds_across_two_handles),
        cmocka_unit_test(a_cancel_from_another_handle_arrives_within_a_heartbeat),
        cmocka_unit_test(a_paused_schedule_does_not_fire_and_resumes_without_catch_up),
    };
    if (on_mysql() && tasker_test_mariadb_start() != 0) {
        fprintf(stderr, "MariaDB test server: %s\n", tasker_test_mariadb_error());
        return 1;
    }
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (on_mysql()) tasker_test_mariadb_drop_fresh();
    return failed;
}
