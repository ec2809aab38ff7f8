/* The MySQL driver's job lifecycle (storage version 4) on the private MariaDB server,
 * beyond the conformance suite: the upgrade of a schema-4 store in place, the retries
 * the driver stores in the transaction of a failure (synchronous, asynchronous in bulk,
 * replayed, and those of the runs an interrupt marks), a run's own timeout kept, a
 * batch of starts mixing due and delayed runs, and schema 7: runs held by their task's
 * pause or limit, the unique keys held in exec_unique (their upgrade from schema 5,
 * retries and cancel, adds that fail, bulk adds, and adds racing from several handles). */
#include "support/mariadb.h"
#include "storage/mysql/internal.h"

#include <tasker/storage.h>

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define T0 INT64_C(1700000000000000)
#define MS INT64_C(1000)

static char db[64];
static int db_count;

static int64_t fixed_clock(void *udata)
{
    (void)udata;
    return T0;
}

static tasker_storage *open_db(bool fresh)
{
    if (fresh) {
        snprintf(db, sizeof db, "tasker_l%ld_%d", (long)getpid(), ++db_count);
        assert_int_equal(tasker_test_mariadb_fresh_db(db), 0);
    }
    char *dsn = tasker_test_mariadb_dsn(db, NULL);
    tasker_storage *st = tasker_mysql_storage(dsn);
    free(dsn);
    if (!st) fail_msg("open %s: %s", db, tasker_last_error());
    st->env.max_execs_per_task = -1;
    st->env.max_exec_age_s = -1;
    st->env.clock = fixed_clock;
    return st;
}

#define OK(call)                                                                          \
    do {                                                                                  \
        int rc_ = (call);                                                                 \
        if (rc_ != TASKER_OK) fail_msg("%s: %s (%s)", #call, tasker_strerror(rc_),       \
                                       tasker_last_error());                              \
    } while (0)

static void add_task(tasker_storage *st, const char *id, int max_attempts, int64_t backoff_ms)
{
    tasker_task t = {.task_id = (char *)id, .handler = "h", .param = "{}",
                     .max_attempts = max_attempts, .backoff_ms = backoff_ms};
    OK(st->ops->add_task(st, &t));
}

static void add_pending(tasker_storage *st, const char *id, const char *task_id)
{
    tasker_task_exec e = {.exec_id = (char *)id, .task_id = (char *)task_id, .queued_us = T0,
                          .status = TASKER_EXEC_PENDING, .attempt = 1, .priority = 3,
                          .param = "{\"x\":1}", .unique_key = "k", .timeout_ms = 250};
    OK(st->ops->add_task_exec(st, &e));
}

static tasker_task_exec get(tasker_storage *st, const char *id)
{
    tasker_task_exec e = {0};
    OK(st->ops->get_task_exec(st, id, &e));
    return e;
}

static bool exists(tasker_storage *st, const char *id)
{
    tasker_task_exec e = {0};
    int rc = st->ops->get_task_exec(st, id, &e);
    tasker_exec_clear(&e);
    return rc == TASKER_OK;
}

static long long count(const char *where)
{
    char sql[512];
    long long v = -1;
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s.%s", db, where);
    if (tasker_test_mariadb_query_int(sql, &v) != 0) fail_msg("%s", tasker_test_mariadb_error());
    return v;
}

static void fail_run(tasker_storage *st, const char *id, int attempt, int64_t end_us)
{
    tasker_task_exec out = {.exec_id = (char *)id, .status = TASKER_EXEC_FAILED,
                            .end_us = end_us, .error = "boom", .node_id = "n",
                            .attempt = attempt};
    OK(st->ops->update_task_exec(st, &out));
}

/* A task as an older schema stores it (this build's add_task writes schema 7's). */
static void add_task_sql(const char *id)
{
    char sql[300];
    snprintf(sql, sizeof sql, "INSERT INTO %s.tasks (task_id, handler, param) VALUES"
             " ('%s', 'h', '{}')", db, id);
    assert_int_equal(tasker_test_mariadb_sql(sql), 0);
}

/* A store of the release before (schema 4, migrations 1-4 only) with tasks, a schedule,
 * executions as that release wrote them and an event: opened by this build, it gains
 * the lifecycle columns with their defaults and keeps every row. */
static void a_schema_4_store_upgrades_in_place_keeping_its_data(void **state)
{
    (void)state;
    my_test_schema_target = 4;
    tasker_storage *st = open_db(true);
    my_test_schema_target = 0;
    st->ops->close(st);
    char sql[600];
    add_task_sql("old");
    snprintf(sql, sizeof sql, "INSERT INTO %s.task_schemes (scheme_id, task_id, cron, misfire,"
             " overlap, created_us, last_fire_us) VALUES ('s1', 'old', '* * * * *', 0, 0, %lld,"
             " %lld)", db, (long long)T0, (long long)T0);
    assert_int_equal(tasker_test_mariadb_sql(sql), 0);
    snprintf(sql, sizeof sql, "INSERT INTO %s.task_execs (exec_id, task_id, scheme_id,"
             " scheduled_us, queued_us, start_us, end_us, status, success, result, error,"
             " node_id) VALUES ('p1', 'old', NULL, 0, 10, 0, 0, 0, 0, NULL, NULL, NULL),"
             " ('d1', 'old', 's1', 60, 5, 6, 7, 2, 1, '{\"r\":1}', NULL, 'n')", db);
    assert_int_equal(tasker_test_mariadb_sql(sql), 0);
    snprintf(sql, sizeof sql, "INSERT INTO %s.task_events (exec_id, time_us, level, message)"
             " VALUES ('d1', 6, 1, 'hello')", db);
    assert_int_equal(tasker_test_mariadb_sql(sql), 0);
    assert_int_equal(count("schema_version WHERE version = 5"), 0);

    st = open_db(false);
    assert_int_equal(count("schema_version WHERE version = 5"), 1);
    tasker_task_exec d = get(st, "d1"), p = get(st, "p1");
    assert_int_equal(d.status, TASKER_EXEC_SUCCESS);
    assert_string_equal(d.result, "{\"r\":1}");
    assert_string_equal(d.scheme_id, "s1");
    assert_int_equal(p.attempt, 1); /* the defaults of the new columns */
    assert_null(p.retry_of);
    assert_int_equal(p.run_at_us, 0);
    assert_int_equal(p.priority, 0);
    assert_null(p.param);
    assert_null(p.unique_key);
    assert_int_equal(p.timeout_ms, 0);
    tasker_exec_clear(&d);
    tasker_exec_clear(&p);
    tasker_task_event *ev;
    size_t n;
    OK(st->ops->list_task_events(st, "d1", &ev, &n));
    assert_int_equal(n, 1);
    assert_string_equal(ev[0].message, "hello");
    tasker_free_events(ev, n);
    tasker_task_scheme *v;
    OK(st->ops->list_task_schemes(st, &v, &n));
    assert_int_equal(n, 1);
    assert_false(v[0].paused);
    tasker_free_schemes(v, n);
    /* The old pending run starts; the new columns work. */
    OK(st->ops->start_task_exec(st, "p1", T0, "n"));
    add_pending(st, "k1", "old");
    tasker_task_exec again = {.exec_id = "k2", .task_id = "old", .queued_us = T0,
                              .unique_key = "k"};
    assert_int_equal(st->ops->add_task_exec(st, &again), TASKER_EEXISTS);
    st->ops->close(st);
    /* Opened again: nothing migrates twice. */
    st = open_db(false);
    assert_int_equal(count("schema_version"), 7); /* migrations 1-7 */
    st->ops->close(st);
}

/* A failure with attempts left stores attempt + 1 in its transaction, with the run's
 * params, priority, key and timeout, due after the doubled backoff; the last attempt,
 * tasker_no_retry (a negative attempt) and a success store none; a replay stores one. */
static void a_failure_stores_its_retry_in_the_same_write(void **state)
{
    (void)state;
    tasker_storage *st = open_db(true);
    add_task(st, "t", 3, 1000);
    add_pending(st, "r", "t");
    OK(st->ops->start_task_exec(st, "r", T0, "n"));
    fail_run(st, "r", 1, T0 + 10 * MS);
    tasker_task_exec r2 = get(st, "r.2");
    assert_int_equal(r2.status, TASKER_EXEC_PENDING);
    assert_int_equal(r2.attempt, 2);
    assert_string_equal(r2.retry_of, "r");
    assert_string_equal(r2.param, "{\"x\":1}");
    assert_string_equal(r2.unique_key, "k"); /* the failed run let go of it */
    assert_int_equal(r2.priority, 3);
    assert_int_equal(r2.timeout_ms, 250);
    assert_int_equal(r2.queued_us, T0 + 10 * MS);
    assert_true(r2.run_at_us >= T0 + 10 * MS + 900 * MS);
    assert_true(r2.run_at_us <= T0 + 10 * MS + 1100 * MS);
    tasker_exec_clear(&r2);
    fail_run(st, "r", 1, T0 + 10 * MS); /* replayed: still one retry */
    assert_int_equal(count("task_execs WHERE retry_of = 'r'"), 1);
    /* Not due yet: a start leaves it to claims. */
    assert_int_equal(st->ops->start_task_exec(st, "r.2", T0 + 20 * MS, "n"), TASKER_ESTATE);
    OK(st->ops->start_task_exec(st, "r.2", T0 + 2000 * MS, "n"));
    fail_run(st, "r.2", 2, T0 + 2000 * MS);
    tasker_task_exec r3 = get(st, "r.3");
    assert_int_equal(r3.attempt, 3);
    assert_string_equal(r3.retry_of, "r");
    assert_true(r3.run_at_us >= T0 + 2000 * MS + 1800 * MS); /* doubled */
    assert_true(r3.run_at_us <= T0 + 2000 * MS + 2200 * MS);
    tasker_exec_clear(&r3);
    OK(st->ops->start_task_exec(st, "r.3", T0 + 9000 * MS, "n"));
    fail_run(st, "r.3", 3, T0 + 9000 * MS);
    assert_false(exists(st, "r.4")); /* max_attempts reached */

    add_task(st, "u", 5, 10);
    tasker_task_exec a = {.exec_id = "a", .task_id = "u", .queued_us = T0, .attempt = 1};
    OK(st->ops->add_task_exec(st, &a));
    OK(st->ops->start_task_exec(st, "a", T0, "n"));
    fail_run(st, "a", -1, T0 + MS); /* tasker_no_retry() */
    assert_false(exists(st, "a.2"));
    tasker_task_exec b = {.exec_id = "b", .task_id = "u", .queued_us = T0, .attempt = 1};
    OK(st->ops->add_task_exec(st, &b));
    OK(st->ops->start_task_exec(st, "b", T0, "n"));
    tasker_task_exec ok = {.exec_id = "b", .status = TASKER_EXEC_SUCCESS, .end_us = T0 + MS,
                           .success = true, .node_id = "n", .attempt = 1};
    OK(st->ops->update_task_exec(st, &ok));
    assert_false(exists(st, "b.2"));
    st->ops->close(st);
}

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done, failed;
} waiter;

static void on_done(void *udata, int rc, const char *msg)
{
    waiter *w = udata;
    (void)msg;
    pthread_mutex_lock(&w->lock);
    w->done++;
    w->failed += rc != TASKER_OK;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* Outcomes written asynchronously go to the server in bulk: each failure among them
 * still gets its retry in the same transaction. */
static void failures_written_in_bulk_each_get_their_retry(void **state)
{
    (void)state;
    enum { N = 60 };
    tasker_storage *st = open_db(true);
    add_task(st, "t", 2, 10);
    char ids[N][16];
    const char *pids[N];
    int rcs[N];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "x%02d", i);
        pids[i] = ids[i];
        tasker_task_exec e = {.exec_id = ids[i], .task_id = "t", .queued_us = T0 + i,
                              .attempt = 1};
        OK(st->ops->add_task_exec(st, &e));
    }
    OK(st->ops->start_task_execs(st, pids, N, T0, "n", rcs));
    for (int i = 0; i < N; i++) assert_int_equal(rcs[i], TASKER_OK);
    waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    for (int i = 0; i < N; i++) {
        tasker_task_exec out = {.exec_id = ids[i], .end_us = T0 + MS, .node_id = "n",
                                .attempt = 1, .status = i % 3 ? TASKER_EXEC_FAILED
                                                              : TASKER_EXEC_SUCCESS};
        OK(st->ops->update_task_exec_async(st, &out, on_done, &w));
    }
    pthread_mutex_lock(&w.lock);
    while (w.done < N) pthread_cond_wait(&w.cond, &w.lock);
    pthread_mutex_unlock(&w.lock);
    assert_int_equal(w.failed, 0);
    assert_int_equal(count("task_execs WHERE attempt = 2 AND status = 0"), N - N / 3);
    for (int i = 0; i < N; i++) {
        char retry[24];
        snprintf(retry, sizeof retry, "%s.2", ids[i]);
        assert_int_equal(exists(st, retry), i % 3 != 0);
    }
    st->ops->close(st);
}

static bool all_dead(const char *node_id, void *udata)
{
    (void)node_id, (void)udata;
    return false;
}

/* interrupt_dead and the lease rule store the retries of the runs they mark. */
static void interrupted_runs_get_their_retries(void **state)
{
    (void)state;
    tasker_storage *st = open_db(true);
    add_task(st, "t", 2, 10);
    add_task(st, "once", 0, 0);
    tasker_task_exec a = {.exec_id = "a", .task_id = "t", .queued_us = T0, .attempt = 1};
    tasker_task_exec b = {.exec_id = "b", .task_id = "once", .queued_us = T0, .attempt = 1};
    OK(st->ops->add_task_exec(st, &a));
    OK(st->ops->add_task_exec(st, &b));
    OK(st->ops->start_task_exec(st, "a", T0, "gone"));
    OK(st->ops->start_task_exec(st, "b", T0, "gone"));
    size_t n = 0;
    OK(st->ops->interrupt_dead(st, all_dead, NULL, &n));
    assert_int_equal(n, 2);
    tasker_task_exec r = get(st, "a.2");
    assert_int_equal(r.attempt, 2);
    assert_string_equal(r.retry_of, "a");
    tasker_exec_clear(&r);
    assert_false(exists(st, "b.2")); /* one attempt only */

    /* The lease rule: node "silent" stopped (its row says so), its run is marked. */
    tasker_node self = {.node_id = "silent", .host = "h", .pid = 1, .handlers = "[]"};
    OK(st->ops->node_beat(st, &self, NULL));
    OK(st->ops->start_task_exec(st, "a.2", T0 + 100 * MS, "silent"));
    OK(st->ops->node_gone(st, "silent"));
    OK(st->ops->interrupt_expired(st, 1000 * 1000, &n));
    assert_int_equal(n, 1);
    tasker_task_exec e = get(st, "a.2");
    assert_int_equal(e.status, TASKER_EXEC_INTERRUPTED);
    tasker_exec_clear(&e);
    assert_false(exists(st, "a.3")); /* max_attempts 2 */
    add_task(st, "t", 3, 10);        /* one attempt more */
    tasker_task_exec c = {.exec_id = "c", .task_id = "t", .queued_us = T0, .attempt = 1};
    OK(st->ops->add_task_exec(st, &c));
    OK(st->ops->node_beat(st, &self, NULL));
    OK(st->ops->start_task_exec(st, "c", T0 + 20 * MS, "silent"));
    OK(st->ops->node_gone(st, "silent"));
    OK(st->ops->interrupt_expired(st, 1000 * 1000, &n));
    assert_int_equal(n, 1);
    r = get(st, "c.2");
    assert_int_equal(r.status, TASKER_EXEC_PENDING);
    assert_string_equal(r.retry_of, "c");
    tasker_exec_clear(&r);
    st->ops->close(st);
}

/* One batch of starts (the bulk claim round, then the careful one) with due, delayed,
 * paused and limited runs: each gets its own answer and only the due ones start. */
static void a_batch_of_starts_takes_only_the_runs_that_may_start(void **state)
{
    (void)state;
    tasker_storage *st = open_db(true);
    add_task(st, "t", 0, 0);
    add_task(st, "p", 0, 0);
    OK(st->ops->set_task_paused(st, "p", true));
    tasker_task lim = {.task_id = "l", .handler = "h", .param = "{}", .max_concurrency = 1};
    OK(st->ops->add_task(st, &lim));
    const char *ids[] = {"d1", "d2", "late", "paused", "limited", "d3"};
    const char *tasks[] = {"t", "t", "t", "p", "l", "t"};
    for (int i = 0; i < 6; i++) {
        tasker_task_exec e = {.exec_id = (char *)ids[i], .task_id = (char *)tasks[i],
                              .queued_us = T0, .attempt = 1,
                              .run_at_us = strcmp(ids[i], "late") ? 0 : T0 + 60000 * MS};
        OK(st->ops->add_task_exec(st, &e));
    }
    int rcs[6];
    OK(st->ops->start_task_execs(st, ids, 6, T0 + MS, "n", rcs));
    int want[] = {TASKER_OK, TASKER_OK, TASKER_ESTATE, TASKER_ESTATE, TASKER_ESTATE, TASKER_OK};
    for (int i = 0; i < 6; i++) {
        if (rcs[i] != want[i]) fail_msg("%s: %s", ids[i], tasker_strerror(rcs[i]));
        tasker_task_exec e = get(st, ids[i]);
        assert_int_equal(e.status, want[i] == TASKER_OK ? TASKER_EXEC_RUNNING
                                                        : TASKER_EXEC_PENDING);
        tasker_exec_clear(&e);
    }
    st->ops->close(st);
}

/* A run says itself whether a start may take it (held, schema 7): pausing or limiting
 * its task after it was queued holds it, resuming or lifting the limit frees it, and
 * the runs of a held task added in bulk or retried are held as well. */
static void pausing_or_limiting_a_task_holds_its_queued_runs(void **state)
{
    (void)state;
    tasker_storage *st = open_db(true);
    add_task(st, "t", 2, 10);
    const char *ids[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++) {
        tasker_task_exec e = {.exec_id = (char *)ids[i], .task_id = "t", .queued_us = T0,
                              .attempt = 1};
        OK(st->ops->add_task_exec(st, &e));
    }
    OK(st->ops->start_task_exec(st, "a", T0, "n"));
    OK(st->ops->set_task_paused(st, "t", true));
    assert_int_equal(count("task_execs WHERE held = 1"), 3); /* the pending ones */
    assert_int_equal(st->ops->start_task_exec(st, "b", T0, "n"), TASKER_ESTATE);
    int rcs[2];
    OK(st->ops->start_task_execs(st, (const char *[]){"b", "c"}, 2, T0, "n", rcs));
    assert_int_equal(rcs[0], TASKER_ESTATE);
    assert_int_equal(rcs[1], TASKER_ESTATE);
    /* Added while paused, in bulk: held. A failure's retry: held. */
    tasker_task_exec v[2] = {{.exec_id = "e", .task_id = "t", .queued_us = T0, .attempt = 1},
                             {.exec_id = "f", .task_id = "t", .queued_us = T0, .attempt = 1}};
    OK(st->ops->add_task_execs(st, v, 2));
    fail_run(st, "a", 1, T0 + MS);
    assert_int_equal(count("task_execs WHERE held = 1 AND status = 0"), 6);
    OK(st->ops->set_task_paused(st, "t", false));
    assert_int_equal(count("task_execs WHERE held = 1"), 0);
    OK(st->ops->start_task_exec(st, "b", T0, "n"));
    /* A limit set by re-adding the task holds the pending runs; lifting it frees them. */
    tasker_task lim = {.task_id = "t", .handler = "h", .param = "{}", .max_attempts = 2,
                       .backoff_ms = 10, .max_concurrency = 3};
    OK(st->ops->add_task(st, &lim));
    assert_int_equal(st->ops->start_task_exec(st, "c", T0, "n"), TASKER_ESTATE);
    tasker_task_exec g = {.exec_id = "g", .task_id = "t", .queued_us = T0, .attempt = 1};
    OK(st->ops->add_task_exec(st, &g));
    assert_int_equal(st->ops->start_task_exec(st, "g", T0, "n"), TASKER_ESTATE);
    lim.max_concurrency = 0;
    OK(st->ops->add_task(st, &lim));
    OK(st->ops->start_task_execs(st, (const char *[]){"c", "g"}, 2, T0, "n", rcs));
    assert_int_equal(rcs[0], TASKER_OK);
    assert_int_equal(rcs[1], TASKER_OK);
    st->ops->close(st);
}

/* ---- unique keys (schema 7: the keys held, in exec_unique) ---------------------------- */

static void add_keyed(tasker_storage *st, const char *id, const char *task_id, const char *key,
                      int want)
{
    tasker_task_exec e = {.exec_id = (char *)id, .task_id = (char *)task_id, .queued_us = T0,
                          .status = TASKER_EXEC_PENDING, .attempt = 1,
                          .unique_key = (char *)key};
    int rc = st->ops->add_task_exec(st, &e);
    if (rc != want)
        fail_msg("add %s with key %s: %s, not %s (%s)", id, key, tasker_strerror(rc),
                 tasker_strerror(want), tasker_last_error());
}

static void holder_is(tasker_storage *st, const char *task_id, const char *key,
                      const char *want)
{
    char holder[TASKER_ID_SIZE] = "";
    int rc = st->ops->find_unique_exec(st, task_id, key, holder);
    if (!want) {
        if (rc != TASKER_ENOTFOUND) fail_msg("key %s: held by %s", key, holder);
        return;
    }
    OK(rc);
    assert_string_equal(holder, want);
}

static void finish(tasker_storage *st, const char *id, tasker_exec_status status)
{
    tasker_task_exec out = {.exec_id = (char *)id, .status = status, .end_us = T0 + MS,
                            .success = status == TASKER_EXEC_SUCCESS, .attempt = 1};
    OK(st->ops->update_task_exec(st, &out));
}

/* A store of schema 5 (the key a run holds in the generated column unique_held, its
 * unique index exec_unique_key) with a held key and a key its finished run let go of:
 * opened by this build it is at 7, the held key moved over and still refused to a
 * second run, the free one free, the generated column gone. */
static void a_schema_5_store_moves_its_held_keys_over(void **state)
{
    (void)state;
    my_test_schema_target = 5;
    tasker_storage *st = open_db(true);
    my_test_schema_target = 0;
    st->ops->close(st);
    char sql[600];
    add_task_sql("t");
    add_task_sql("p");
    snprintf(sql, sizeof sql, "UPDATE %s.tasks SET paused = 1 WHERE task_id = 'p'", db);
    assert_int_equal(tasker_test_mariadb_sql(sql), 0);
    snprintf(sql, sizeof sql, "INSERT INTO %s.task_execs (exec_id, task_id, queued_us, status)"
             " VALUES ('pp', 'p', 1, 0), ('tp', 't', 1, 0)", db);
    assert_int_equal(tasker_test_mariadb_sql(sql), 0);
    snprintf(sql, sizeof sql, "INSERT INTO %s.task_execs (exec_id, task_id, queued_us, status,"
             " end_us, unique_key) VALUES ('held', 't', 1, 0, 0, 'K'),"
             " ('run', 't', 2, 1, 0, 'R'), ('done', 't', 3, 2, 5, 'F')", db);
    assert_int_equal(tasker_test_mariadb_sql(sql), 0);
    assert_int_equal(count("task_execs WHERE unique_held IS NOT NULL"), 2);
    snprintf(sql, sizeof sql, "INSERT INTO %s.task_execs (exec_id, task_id, queued_us, status,"
             " unique_key) VALUES ('dup', 't', 4, 0, 'K')", db);
    assert_int_not_equal(tasker_test_mariadb_sql(sql), 0); /* schema 5 refuses it too */

    st = open_db(false);
    assert_int_equal(count("schema_version WHERE version = 7"), 1);
    assert_int_equal(count("exec_unique"), 2);
    long long cols = -1;
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM information_schema.columns WHERE"
             " table_schema = '%s' AND table_name = 'task_execs' AND column_name IN"
             " ('unique_held', 'unique_key')", db);
    assert_int_equal(tasker_test_mariadb_query_int(sql, &cols), 0);
    assert_int_equal(cols, 1); /* the run's key stays in its record */
    holder_is(st, "t", "K", "held");
    holder_is(st, "t", "R", "run");
    holder_is(st, "t", "F", NULL);
    add_keyed(st, "k2", "t", "K", TASKER_EEXISTS);
    add_keyed(st, "r2", "t", "R", TASKER_EEXISTS);
    add_keyed(st, "f2", "t", "F", TASKER_OK);
    assert_false(exists(st, "k2"));
    tasker_task_exec k = get(st, "held");
    assert_string_equal(k.unique_key, "K");
    tasker_exec_clear(&k);
    finish(st, "held", TASKER_EXEC_SUCCESS); /* pending, ended as is (no node) */
    add_keyed(st, "k3", "t", "K", TASKER_OK);
    holder_is(st, "t", "K", "k3");
    /* The pending run of the paused task is held: a start leaves it to claims. */
    assert_int_equal(st->ops->start_task_exec(st, "pp", T0, "n"), TASKER_ESTATE);
    OK(st->ops->start_task_exec(st, "tp", T0, "n"));
    OK(st->ops->set_task_paused(st, "p", false));
    OK(st->ops->start_task_exec(st, "pp", T0, "n"));
    st->ops->close(st);
    st = open_db(false); /* nothing migrates twice */
    assert_int_equal(count("schema_version"), 7);
    st->ops->close(st);
}

/* Migration 7 cut off half way (DDL cannot be rolled back: a crash after some of its
 * steps) runs again at the next open and ends as a whole one does. */
static void a_migration_cut_off_half_way_completes_at_the_next_open(void **state)
{
    (void)state;
    my_test_schema_target = 6;
    tasker_storage *st = open_db(true);
    my_test_schema_target = 0;
    st->ops->close(st);
    char sql[600];
    add_task_sql("t");
    snprintf(sql, sizeof sql, "INSERT INTO %s.task_execs (exec_id, task_id, queued_us, status,"
             " end_us, unique_key) VALUES ('held', 't', 1, 0, 0, 'K'), ('done', 't', 3, 2, 5, 'F')",
             db);
    assert_int_equal(tasker_test_mariadb_sql(sql), 0);
    /* Its first four steps, as a cut-off run would have left them. */
    snprintf(sql, sizeof sql, "CREATE TABLE %s.exec_unique (task_id VARBINARY(63) NOT NULL,"
             " unique_key VARBINARY(255) NOT NULL, exec_id VARBINARY(63) NOT NULL,"
             " PRIMARY KEY (task_id, unique_key), KEY exec_unique_holder (exec_id))", db);
    assert_int_equal(tasker_test_mariadb_sql(sql), 0);
    snprintf(sql, sizeof sql, "INSERT INTO %s.exec_unique VALUES ('t', 'K', 'held')", db);
    assert_int_equal(tasker_test_mariadb_sql(sql), 0);
    snprintf(sql, sizeof sql, "ALTER TABLE %s.task_execs DROP KEY exec_unique_key", db);
    assert_int_equal(tasker_test_mariadb_sql(sql), 0);
    snprintf(sql, sizeof sql, "ALTER TABLE %s.task_execs DROP COLUMN unique_held", db);
    assert_int_equal(tasker_test_mariadb_sql(sql), 0);
    assert_int_equal(count("schema_version WHERE version = 7"), 0);

    st = open_db(false);
    assert_int_equal(count("schema_version WHERE version = 7"), 1);
    assert_int_equal(count("exec_unique"), 1);
    assert_int_equal(count("task_execs WHERE held = 0"), 2); /* the column is there */
    holder_is(st, "t", "K", "held");
    holder_is(st, "t", "F", NULL);
    add_keyed(st, "k2", "t", "K", TASKER_EEXISTS);
    add_keyed(st, "f2", "t", "F", TASKER_OK);
    st->ops->close(st);
}

/* What ends a run frees its key (an outcome, a cancel); a retry takes it over from its
 * failed attempt; an add refused or failing leaves no key held; a bulk add takes each
 * run's key, all or nothing. */
static void a_key_is_held_until_its_run_ends_retries_included(void **state)
{
    (void)state;
    tasker_storage *st = open_db(true);
    add_task(st, "t", 3, 10);
    add_task(st, "u", 0, 0);
    add_keyed(st, "a", "t", "K", TASKER_OK);
    add_keyed(st, "b", "t", "K", TASKER_EEXISTS);
    add_keyed(st, "b", "u", "K", TASKER_OK); /* another task's key */
    tasker_task_exec b = get(st, "b");
    assert_string_equal(b.task_id, "u");
    tasker_exec_clear(&b);
    OK(st->ops->start_task_exec(st, "a", T0, "n"));
    fail_run(st, "a", 1, T0 + MS); /* its retry a.2 holds K now */
    holder_is(st, "t", "K", "a.2");
    add_keyed(st, "c", "t", "K", TASKER_EEXISTS);
    fail_run(st, "a", 1, T0 + MS); /* replayed: a.2 still holds it */
    holder_is(st, "t", "K", "a.2");
    tasker_exec_status was;
    OK(st->ops->cancel_task_exec(st, "a.2", T0 + 2 * MS, &was));
    holder_is(st, "t", "K", NULL);
    add_keyed(st, "c", "t", "K", TASKER_OK);
    holder_is(st, "t", "K", "c");
    add_keyed(st, "c", "t", "K", TASKER_EEXISTS); /* the same add again: its id exists */
    holder_is(st, "t", "K", "c");                 /* and it keeps its key */

    /* An add that fails after taking its key lets go of it. */
    add_keyed(st, "c", "t", "L", TASKER_EEXISTS); /* the id exists */
    holder_is(st, "t", "L", NULL);
    add_keyed(st, "x", "nosuch", "L", TASKER_ENOTFOUND);
    assert_int_equal(count("exec_unique WHERE unique_key = 'L'"), 0);
    add_keyed(st, "y", "t", "L", TASKER_OK);

    /* The bulk add: a key twice in one call fails it whole; distinct keys all hold. */
    tasker_task_exec v[3] = {
        {.exec_id = "v1", .task_id = "t", .queued_us = T0, .attempt = 1, .unique_key = "M"},
        {.exec_id = "v2", .task_id = "t", .queued_us = T0, .attempt = 1},
        {.exec_id = "v3", .task_id = "t", .queued_us = T0, .attempt = 1, .unique_key = "M"}};
    assert_int_equal(st->ops->add_task_execs(st, v, 3), TASKER_EEXISTS);
    assert_false(exists(st, "v1"));
    assert_false(exists(st, "v2"));
    holder_is(st, "t", "M", NULL);
    v[2].unique_key = "N";
    OK(st->ops->add_task_execs(st, v, 3));
    holder_is(st, "t", "M", "v1");
    holder_is(st, "t", "N", "v3");
    add_keyed(st, "w", "t", "N", TASKER_EEXISTS);
    finish(st, "v3", TASKER_EXEC_SUCCESS);
    add_keyed(st, "w", "t", "N", TASKER_OK);
    st->ops->close(st);
}

enum { RACERS = 6 };

typedef struct {
    pthread_barrier_t *go;
    tasker_storage *st;
    char id[16];
    int rc;
} racer;

static void *race_add(void *arg)
{
    racer *r = arg;
    tasker_task_exec e = {.exec_id = r->id, .task_id = "t", .queued_us = T0,
                          .status = TASKER_EXEC_PENDING, .attempt = 1, .unique_key = "race"};
    pthread_barrier_wait(r->go);
    r->rc = r->st->ops->add_task_exec(r->st, &e);
    return NULL;
}

/* Adds with one key from several handles at once (the store, not the caller, decides):
 * exactly one holds it, while it is free and again once its holder has finished (the
 * key's row then taken over). */
static int race_once(tasker_storage **stores, char prefix, const char **winner)
{
    static char won[16];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, RACERS);
    racer r[RACERS];
    pthread_t th[RACERS];
    for (int i = 0; i < RACERS; i++) {
        r[i] = (racer){.go = &go, .st = stores[i]};
        snprintf(r[i].id, sizeof r[i].id, "%c%d", prefix, i);
        assert_int_equal(pthread_create(&th[i], NULL, race_add, &r[i]), 0);
    }
    int ok = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(th[i], NULL);
        if (r[i].rc == TASKER_OK) {
            ok++;
            snprintf(won, sizeof won, "%s", r[i].id);
        } else if (r[i].rc != TASKER_EEXISTS) {
            fail_msg("%s: %s", r[i].id, tasker_strerror(r[i].rc));
        }
    }
    pthread_barrier_destroy(&go);
    *winner = won;
    return ok;
}

static void concurrent_adds_with_one_key_admit_exactly_one(void **state)
{
    (void)state;
    tasker_storage *stores[RACERS];
    stores[0] = open_db(true);
    add_task(stores[0], "t", 0, 0);
    for (int i = 1; i < RACERS; i++) stores[i] = open_db(false);
    for (int round = 0; round < 4; round++) {
        const char *winner = NULL;
        assert_int_equal(race_once(stores, (char)('a' + round), &winner), 1);
        holder_is(stores[0], "t", "race", winner);
        assert_int_equal(count("task_execs WHERE status = 0"), 1);
        /* ended (cancelled or finished): the next round takes the row over */
        if (round % 2) {
            finish(stores[0], winner, TASKER_EXEC_SUCCESS);
        } else {
            OK(stores[0]->ops->cancel_task_exec(stores[0], winner, T0, NULL));
        }
    }
    assert_int_equal(count("exec_unique"), 1);
    for (int i = 0; i < RACERS; i++) stores[i]->ops->close(stores[i]);
}

/* The heartbeat's sweep deletes the keys of runs since pruned, and only those: the key
 * a pending run holds and the one a finished run still stored names stay. It reads a
 * bounded batch a heartbeat (500 rows) and goes on from where it stopped. */
static void keys_of_pruned_runs_are_swept_at_the_heartbeat(void **state)
{
    (void)state;
    tasker_storage *st = open_db(true);
    add_task(st, "t", 0, 0);
    add_keyed(st, "a", "t", "A", TASKER_OK); /* pending: holds A */
    add_keyed(st, "b", "t", "B", TASKER_OK);
    finish(st, "b", TASKER_EXEC_SUCCESS); /* finished and stored: B is free, row kept */
    add_keyed(st, "c", "t", "C", TASKER_OK);
    finish(st, "c", TASKER_EXEC_SUCCESS);
    char sql[1200];
    snprintf(sql, sizeof sql, "DELETE FROM %s.task_execs WHERE exec_id = 'c'", db);
    assert_int_equal(tasker_test_mariadb_sql(sql), 0); /* pruned, as retention would */
    /* 1,200 more keys of runs long gone (a store of an older build, say). */
#define DIGITS "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3" \
               " UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL"  \
               " SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"
    snprintf(sql, sizeof sql, "INSERT INTO %s.exec_unique (task_id, unique_key, exec_id)"
             " SELECT 't', CONCAT('k', n), CONCAT('gone', n) FROM (SELECT"
             " a.d * 1000 + b.d * 100 + c.d * 10 + e.d AS n FROM " DIGITS " a, " DIGITS
             " b, " DIGITS " c, " DIGITS " e) nums WHERE n < 1200", db);
#undef DIGITS
    assert_int_equal(tasker_test_mariadb_sql(sql), 0);
    assert_int_equal(count("exec_unique"), 1203);
    OK(st->ops->interrupt_expired(st, 10000 * MS, NULL));
    long long left = count("exec_unique");
    assert_true(left < 1203 && left > 2); /* one bounded batch */
    for (int beat = 0; beat < 3; beat++) OK(st->ops->interrupt_expired(st, 10000 * MS, NULL));
    assert_int_equal(count("exec_unique"), 2);
    holder_is(st, "t", "A", "a");
    add_keyed(st, "a2", "t", "A", TASKER_EEXISTS); /* still held */
    add_keyed(st, "c2", "t", "C", TASKER_OK);     /* free, and taken anew */
    holder_is(st, "t", "C", "c2");
    st->ops->close(st);
}

static int setup(void **state)
{
    (void)state;
    if (tasker_test_mariadb_start() != 0) {
        fprintf(stderr, "MariaDB test server: %s\n", tasker_test_mariadb_error());
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char sql[100];
    for (int i = 1; i <= db_count; i++) {
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS tasker_l%ld_%d", (long)getpid(), i);
        tasker_test_mariadb_sql(sql);
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_schema_4_store_upgrades_in_place_keeping_its_data),
        cmocka_unit_test(a_failure_stores_its_retry_in_the_same_write),
        cmocka_unit_test(failures_written_in_bulk_each_get_their_retry),
        cmocka_unit_test(interrupted_runs_get_their_retries),
        cmocka_unit_test(a_batch_of_starts_takes_only_the_runs_that_may_start),
        cmocka_unit_test(pausing_or_limiting_a_task_holds_its_queued_runs),
        cmocka_unit_test(a_schema_5_store_moves_its_held_keys_over),
        cmocka_unit_test(a_migration_cut_off_half_way_completes_at_the_next_open),
        cmocka_unit_test(a_key_is_held_until_its_run_ends_retries_included),
        cmocka_unit_test(concurrent_adds_with_one_key_admit_exactly_one),
        cmocka_unit_test(keys_of_pruned_runs_are_swept_at_the_heartbeat),
    };
    return cmocka_run_group_tests_name("mysql_lifecycle", tests, setup, teardown);
}
