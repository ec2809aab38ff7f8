/* The schedule loop under an injected clock: fires on time, keyed by occurrence,
 * misfire and overlap policies, clock jumps. No test sleeps for real minutes: the clock
 * is moved by hand and tasker_wake() makes the loop look at it.
 * The DSN is $TASKER_TEST_DSN_PREFIX + a per-test name, or memory:. */
#include "support/testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S 1000000LL

static fake_clock clock_;
static tasker_t *t;
static atomic_int runs;

static int count_handler(tasker_ctx *c)
{
    atomic_fetch_add(&runs, 1);
    return tasker_event(c, TASKER_NORMAL, "at %lld", (long long)tasker_scheduled_us(c));
}

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;

static int gated_handler(tasker_ctx *c)
{
    atomic_fetch_add(&runs, 1);
    pthread_mutex_lock(&gate_lock);
    while (!gate_open && !tasker_cancelled(c)) pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    return 0;
}

static void open_gate(bool open)
{
    pthread_mutex_lock(&gate_lock);
    gate_open = open;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

static char dsn_buf[512];

static const char *test_dsn(const char *name)
{
    const char *prefix = getenv("TASKER_TEST_DSN_PREFIX"); /* e.g. "sqlite:/tmp/x-" */
    if (!prefix) return "memory:";
    snprintf(dsn_buf, sizeof dsn_buf, "%s%s-%d.db", prefix, name, (int)getpid());
    if (strncmp(dsn_buf, "sqlite:", 7) == 0) unlink(dsn_buf + 7);
    return dsn_buf;
}

static void open_at(const char *when, const char *name)
{
    fake_clock_set(&clock_, test_utc_us(when));
    atomic_store(&runs, 0);
    open_gate(false);
    /* unlimited retention: the clock jumps by days here */
    tasker_options o = {.workers = 4, .max_execs_per_task = -1, .max_exec_age_s = -1,
                        .clock = fake_clock_read, .clock_udata = &clock_};
    t = tasker_open_opts(test_dsn(name), &o);
    if (!t) fail_msg("open: %s", tasker_last_error());
    assert_int_equal(tasker_register(t, "count", count_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_register(t, "gated", gated_handler, NULL), TASKER_OK);
}

static int teardown(void **state)
{
    (void)state;
    open_gate(true);
    tasker_close(t);
    t = NULL;
    return 0;
}

static void move_clock_to(const char *when)
{
    fake_clock_set(&clock_, test_utc_us(when));
    tasker_wake(t);
}

typedef struct {
    const char *task;
    size_t want;
    tasker_exec_status status; /* counted status; -1 = any finished */
} exec_query;

static size_t count_execs(const char *task, int status)
{
    tasker_task_exec *v;
    size_t n, c = 0;
    if (tasker_list_execs(t, task, &v, &n) != TASKER_OK) return 0;
    for (size_t i = 0; i < n; i++)
        if (status < 0 ? v[i].status >= TASKER_EXEC_SUCCESS : (int)v[i].status == status) c++;
    tasker_free_execs(v, n);
    return c;
}

static bool have_execs(void *arg)
{
    exec_query *q = arg;
    return count_execs(q->task, (int)q->status) >= q->want;
}

static void wait_execs(const char *task, int status, size_t want)
{
    exec_query q = {task, want, (tasker_exec_status)status};
    if (!test_wait_for(have_execs, &q, 10000))
        fail_msg("task %s: %zu executions with status %d, wanted %zu", task,
                 count_execs(task, status), status, want);
}

/* Returns the task's executions oldest first (the caller frees them). */
static tasker_task_exec *execs_oldest_first(const char *task, size_t *n)
{
    tasker_task_exec *v;
    assert_int_equal(tasker_list_execs(t, task, &v, n), TASKER_OK);
    for (size_t i = 0; i < *n / 2; i++) {
        tasker_task_exec tmp = v[i];
        v[i] = v[*n - 1 - i];
        v[*n - 1 - i] = tmp;
    }
    return v;
}

static void schedule_fires_at_its_occurrence_with_scheme_and_time(void **state)
{
    (void)state;
    open_at("2026-01-01 00:00:05", "fires");
    char sid[TASKER_ID_SIZE];
    assert_int_equal(tasker_add_task(t, "a", "count", NULL), TASKER_OK);
    assert_int_equal(tasker_add_task_schedule(t, "a", "*/10 * * * * *", sid), TASKER_OK);
    assert_int_equal(tasker_start(t), TASKER_OK);
    move_clock_to("2026-01-01 00:00:09");
    assert_int_equal(count_execs("a", -1), 0);
    move_clock_to("2026-01-01 00:00:10");
    wait_execs("a", TASKER_EXEC_SUCCESS, 1);
    size_t n;
    tasker_task_exec *v = execs_oldest_first("a", &n);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].scheme_id, sid);
    assert_int_equal(v[0].scheduled_us, test_utc_us("2026-01-01 00:00:10"));
    tasker_free_execs(v, n);
    move_clock_to("2026-01-01 00:00:20");
    wait_execs("a", TASKER_EXEC_SUCCESS, 2);
    /* schedules reread (a change) do not fire an occurrence again */
    assert_int_equal(tasker_add_task(t, "b", "count", NULL), TASKER_OK);
    tasker_wake(t);
    assert_int_equal(tasker_drain(t, 10000), TASKER_OK);
    assert_int_equal(count_execs("a", -1), 2);
    tasker_task_scheme *s;
    assert_int_equal(tasker_list_schemes(t, &s, &n), TASKER_OK);
    assert_int_equal(s[0].last_fire_us, test_utc_us("2026-01-01 00:00:20"));
    tasker_free_schemes(s, n);
}

static void removed_schedule_stops_firing(void **state)
{
    (void)state;
    open_at("2026-01-01 00:00:05", "removed");
    char sid[TASKER_ID_SIZE];
    assert_int_equal(tasker_add_task(t, "a", "count", NULL), TASKER_OK);
    assert_int_equal(tasker_add_task_schedule(t, "a", "*/10 * * * * *", sid), TASKER_OK);
    assert_int_equal(tasker_start(t), TASKER_OK);
    move_clock_to("2026-01-01 00:00:10");
    wait_execs("a", -1, 1);
    assert_int_equal(tasker_remove_task_schedule(t, sid), TASKER_OK);
    move_clock_to("2026-01-01 00:00:30");
    assert_int_equal(tasker_drain(t, 10000), TASKER_OK);
    /* the loop has processed the wake once drain and a second wake return */
    tasker_wake(t);
    assert_int_equal(tasker_drain(t, 10000), TASKER_OK);
    assert_int_equal(count_execs("a", -1), 1);
}

static void misfire_once_runs_one_catch_up(void **state)
{
    (void)state;
    open_at("2026-01-01 00:00:05", "once");
    assert_int_equal(tasker_add_task(t, "a", "count", NULL), TASKER_OK);
    assert_int_equal(tasker_add_task_schedule(t, "a", "*/10 * * * * *", NULL), TASKER_OK);
    fake_clock_set(&clock_, test_utc_us("2026-01-01 01:00:03")); /* down for an hour */
    assert_int_equal(tasker_start(t), TASKER_OK);
    wait_execs("a", TASKER_EXEC_SUCCESS, 1);
    assert_int_equal(tasker_drain(t, 10000), TASKER_OK);
    size_t n;
    tasker_task_exec *v = execs_oldest_first("a", &n);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].scheduled_us, test_utc_us("2026-01-01 01:00:00"));
    tasker_free_execs(v, n);
}

static void misfire_skip_records_a_skipped_execution(void **state)
{
    (void)state;
    open_at("2026-01-01 00:00:05", "skip");
    assert_int_equal(tasker_add_task(t, "a", "count", NULL), TASKER_OK);
    tasker_schedule_opts o = {.misfire = TASKER_MISFIRE_SKIP};
    assert_int_equal(tasker_add_task_schedule_opts(t, "a", "*/10 * * * * *", &o, NULL), TASKER_OK);
    fake_clock_set(&clock_, test_utc_us("2026-01-01 01:00:03"));
    assert_int_equal(tasker_start(t), TASKER_OK);
    /* 00:00:10 .. 01:00:00 are 360 occurrences; the latest, 3 s ago, is on time */
    wait_execs("a", TASKER_EXEC_SKIPPED, 1);
    wait_execs("a", TASKER_EXEC_SUCCESS, 1);
    size_t n;
    tasker_task_exec *v = execs_oldest_first("a", &n);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        if (v[i].status == TASKER_EXEC_SKIPPED) {
            assert_string_equal(v[i].error,
                                "skipped: missed while down, misfire policy skip (359 fires missed)");
            assert_int_equal(v[i].scheduled_us, test_utc_us("2026-01-01 00:59:50"));
        } else {
            assert_int_equal(v[i].scheduled_us, test_utc_us("2026-01-01 01:00:00"));
        }
    }
    tasker_free_execs(v, n);
    assert_int_equal(atomic_load(&runs), 1);
}

static void misfire_skip_long_ago_runs_nothing(void **state)
{
    (void)state;
    open_at("2026-01-01 00:00:05", "skip2");
    assert_int_equal(tasker_add_task(t, "a", "count", NULL), TASKER_OK);
    tasker_schedule_opts o = {.misfire = TASKER_MISFIRE_SKIP};
    assert_int_equal(tasker_add_task_schedule_opts(t, "a", "0 * * * *", &o, NULL), TASKER_OK);
    fake_clock_set(&clock_, test_utc_us("2026-01-01 03:30:00")); /* 3 hourly fires missed */
    assert_int_equal(tasker_start(t), TASKER_OK);
    wait_execs("a", TASKER_EXEC_SKIPPED, 1);
    assert_int_equal(tasker_drain(t, 10000), TASKER_OK);
    size_t n;
    tasker_task_exec *v = execs_oldest_first("a", &n);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].error, "skipped: missed while down, misfire policy skip (3 fires missed)");
    assert_int_equal(v[0].scheduled_us, test_utc_us("2026-01-01 03:00:00"));
    tasker_free_execs(v, n);
    assert_int_equal(atomic_load(&runs), 0);
}

static void misfire_all_replays_each_missed_fire(void **state)
{
    (void)state;
    open_at("2026-01-01 00:00:00", "all");
    assert_int_equal(tasker_add_task(t, "a", "count", NULL), TASKER_OK);
    tasker_schedule_opts o = {.misfire = TASKER_MISFIRE_ALL};
    assert_int_equal(tasker_add_task_schedule_opts(t, "a", "*/5 * * * *", &o, NULL), TASKER_OK);
    fake_clock_set(&clock_, test_utc_us("2026-01-01 01:02:00")); /* 12 fires missed */
    assert_int_equal(tasker_start(t), TASKER_OK);
    wait_execs("a", TASKER_EXEC_SUCCESS, 12);
    assert_int_equal(tasker_drain(t, 10000), TASKER_OK);
    size_t n;
    tasker_task_exec *v = execs_oldest_first("a", &n);
    assert_int_equal(n, 12);
    int64_t want = test_utc_us("2026-01-01 00:05:00");
    int64_t seen[12];
    for (size_t i = 0; i < n; i++) seen[i] = v[i].scheduled_us;
    for (size_t i = 0; i < n; i++) { /* each occurrence once (run order may vary) */
        bool found = false;
        for (size_t k = 0; k < n; k++) found |= seen[k] == want + (int64_t)i * 300 * S;
        assert_true(found);
    }
    tasker_free_execs(v, n);
}

static void misfire_all_is_bounded(void **state)
{
    (void)state;
    open_at("2026-01-01 00:00:00", "allmax");
    assert_int_equal(tasker_add_task(t, "a", "count", NULL), TASKER_OK);
    tasker_schedule_opts o = {.misfire = TASKER_MISFIRE_ALL};
    assert_int_equal(tasker_add_task_schedule_opts(t, "a", "* * * * *", &o, NULL), TASKER_OK);
    fake_clock_set(&clock_, test_utc_us("2026-01-01 03:00:30")); /* 180 fires missed */
    assert_int_equal(tasker_start(t), TASKER_OK);
    wait_execs("a", TASKER_EXEC_SKIPPED, 1);
    wait_execs("a", TASKER_EXEC_SUCCESS, TASKER_MISFIRE_ALL_MAX);
    assert_int_equal(tasker_drain(t, 10000), TASKER_OK);
    assert_int_equal(atomic_load(&runs), TASKER_MISFIRE_ALL_MAX);
    size_t n;
    tasker_task_exec *v = execs_oldest_first("a", &n);
    bool found = false;
    for (size_t i = 0; i < n; i++)
        if (v[i].status == TASKER_EXEC_SKIPPED) {
            assert_string_equal(v[i].error, "skipped: missed while down, misfire policy all "
                                            "replays at most 100 (80 more fires missed)");
            found = true;
        }
    assert_true(found);
    tasker_free_execs(v, n);
}

static void overlap_forbid_skips_while_previous_runs(void **state)
{
    (void)state;
    open_at("2026-01-01 00:00:05", "forbid");
    assert_int_equal(tasker_add_task(t, "a", "gated", NULL), TASKER_OK);
    tasker_schedule_opts o = {.overlap = TASKER_OVERLAP_FORBID};
    assert_int_equal(tasker_add_task_schedule_opts(t, "a", "*/10 * * * * *", &o, NULL), TASKER_OK);
    assert_int_equal(tasker_start(t), TASKER_OK);
    move_clock_to("2026-01-01 00:00:10");
    wait_execs("a", TASKER_EXEC_RUNNING, 1);
    move_clock_to("2026-01-01 00:00:20");
    wait_execs("a", TASKER_EXEC_SKIPPED, 1);
    size_t n;
    tasker_task_exec *v = execs_oldest_first("a", &n);
    assert_int_equal(n, 2);
    char want[128];
    snprintf(want, sizeof want, "skipped: previous run %s still running", v[0].exec_id);
    assert_string_equal(v[1].error, want);
    assert_int_equal(v[1].scheduled_us, test_utc_us("2026-01-01 00:00:20"));
    tasker_free_execs(v, n);
    open_gate(true);
    wait_execs("a", TASKER_EXEC_SUCCESS, 1);
    assert_int_equal(tasker_drain(t, 10000), TASKER_OK);
    move_clock_to("2026-01-01 00:00:30"); /* free again: runs */
    wait_execs("a", TASKER_EXEC_SUCCESS, 2);
}

static void overlap_allow_runs_concurrently(void **state)
{
    (void)state;
    open_at("2026-01-01 00:00:05", "allow");
    assert_int_equal(tasker_add_task(t, "a", "gated", NULL), TASKER_OK);
    assert_int_equal(tasker_add_task_schedule(t, "a", "*/10 * * * * *", NULL), TASKER_OK);
    assert_int_equal(tasker_start(t), TASKER_OK);
    move_clock_to("2026-01-01 00:00:10");
    wait_execs("a", TASKER_EXEC_RUNNING, 1);
    move_clock_to("2026-01-01 00:00:20");
    wait_execs("a", TASKER_EXEC_RUNNING, 2);
    open_gate(true);
    wait_execs("a", TASKER_EXEC_SUCCESS, 2);
}

static void clock_jump_forward_gives_one_run_not_a_burst(void **state)
{
    (void)state;
    open_at("2026-01-01 00:00:05", "jump");
    assert_int_equal(tasker_add_task(t, "a", "count", NULL), TASKER_OK);
    assert_int_equal(tasker_add_task_schedule(t, "a", "* * * * *", NULL), TASKER_OK);
    assert_int_equal(tasker_start(t), TASKER_OK);
    move_clock_to("2026-01-01 00:01:00");
    wait_execs("a", TASKER_EXEC_SUCCESS, 1);
    move_clock_to("2026-01-02 00:00:30"); /* a day forward */
    wait_execs("a", TASKER_EXEC_SUCCESS, 2);
    assert_int_equal(tasker_drain(t, 10000), TASKER_OK);
    tasker_wake(t);
    assert_int_equal(tasker_drain(t, 10000), TASKER_OK);
    assert_int_equal(count_execs("a", -1), 2);
    size_t n;
    tasker_task_exec *v = execs_oldest_first("a", &n);
    assert_int_equal(v[1].scheduled_us, test_utc_us("2026-01-02 00:00:00"));
    tasker_free_execs(v, n);
    move_clock_to("2026-01-02 00:01:00"); /* and then on schedule again */
    wait_execs("a", TASKER_EXEC_SUCCESS, 3);
}

static void clock_set_back_neither_repeats_nor_stalls(void **state)
{
    (void)state;
    open_at("2026-01-01 00:00:05", "back");
    assert_int_equal(tasker_add_task(t, "a", "count", NULL), TASKER_OK);
    assert_int_equal(tasker_add_task_schedule(t, "a", "*/10 * * * * *", NULL), TASKER_OK);
    assert_int_equal(tasker_start(t), TASKER_OK);
    move_clock_to("2026-01-01 00:00:20");
    wait_execs("a", TASKER_EXEC_SUCCESS, 1);
    move_clock_to("2026-01-01 00:00:01"); /* set back */
    move_clock_to("2026-01-01 00:00:10"); /* an occurrence that ran already: not again */
    assert_int_equal(tasker_drain(t, 10000), TASKER_OK);
    tasker_wake(t);
    assert_int_equal(tasker_drain(t, 10000), TASKER_OK);
    assert_int_equal(count_execs("a", -1), 1);
    move_clock_to("2026-01-01 00:00:30"); /* the next new occurrence fires */
    wait_execs("a", TASKER_EXEC_SUCCESS, 2);
}

static void every_counts_from_schedule_creation(void **state)
{
    (void)state;
    open_at("2026-01-01 00:00:07", "every");
    assert_int_equal(tasker_add_task(t, "a", "count", NULL), TASKER_OK);
    assert_int_equal(tasker_add_task_schedule(t, "a", "@every 90s", NULL), TASKER_OK);
    assert_int_equal(tasker_start(t), TASKER_OK);
    move_clock_to("2026-01-01 00:01:37");
    wait_execs("a", TASKER_EXEC_SUCCESS, 1);
    size_t n;
    tasker_task_exec *v = execs_oldest_first("a", &n);
    assert_int_equal(v[0].scheduled_us, test_utc_us("2026-01-01 00:01:37"));
    tasker_free_execs(v, n);
}

/* ---- a store that refuses writes for a while --------------------------------------- */

static tasker_storage_ops down_ops;
static const tasker_storage_ops *up_ops;
static atomic_bool store_down;
static atomic_int refused; /* occurrences the store refused */

static int down_add(tasker_storage *st, const tasker_task_exec *e)
{
    if (atomic_load(&store_down)) {
        atomic_fetch_add(&refused, 1);
        return TASKER_ESTORAGE;
    }
    return up_ops->add_task_exec(st, e);
}

static int down_add_many(tasker_storage *st, const tasker_task_exec *v, size_t n)
{
    if (atomic_load(&store_down)) return TASKER_ESTORAGE;
    return up_ops->add_task_execs(st, v, n);
}

static int down_add_started(tasker_storage *st, const tasker_task_exec *v, size_t n,
                            int64_t start_us, const char *node_id, const char *const *handlers,
                            size_t nh, size_t max_start, bool *started)
{
    if (atomic_load(&store_down)) return TASKER_ESTORAGE; /* then one by one: refused */
    return up_ops->add_started_execs(st, v, n, start_us, node_id, handlers, nh, max_start,
                                     started);
}

static int down_fire(tasker_storage *st, const char *scheme_id, int64_t fire_us)
{
    return atomic_load(&store_down) ? TASKER_ESTORAGE : up_ops->set_scheme_fire(st, scheme_id, fire_us);
}

static int down_list(tasker_storage *st, tasker_task_scheme **out, size_t *n)
{
    return atomic_load(&store_down) ? TASKER_ESTORAGE : up_ops->list_task_schemes(st, out, n);
}

/* The schedules do not change in this test: a counter that says so, as MySQL's does
 * (recording fires does not move it), so that only the lost fires can make the loop
 * reread the schedules. */
static int same_version(tasker_storage *st, uint64_t *version)
{
    (void)st;
    *version = 7;
    return TASKER_OK;
}

static bool refused_at_least(void *arg)
{
    return atomic_load(&refused) >= *(int *)arg;
}

/* Occurrences the store could not take (it was away, or a Galera member without
 * quorum refused writes) are not lost: once it is back, the loop rereads the schedules,
 * whose last recorded fire is before them, and handles them by the misfire policy (all:
 * each one runs). Before, they were forgotten. */
static void occurrences_refused_by_the_store_run_when_it_is_back(void **state)
{
    (void)state;
    fake_clock_set(&clock_, test_utc_us("2026-01-01 00:00:00"));
    atomic_store(&runs, 0);
    atomic_store(&store_down, false);
    atomic_store(&refused, 0);
    tasker_storage *st = tasker_storage_open(test_dsn("down"));
    assert_non_null(st);
    up_ops = st->ops;
    down_ops = *st->ops;
    down_ops.add_task_exec = down_add;
    if (up_ops->add_task_execs) down_ops.add_task_execs = down_add_many;
    if (up_ops->add_started_execs) down_ops.add_started_execs = down_add_started;
    down_ops.set_scheme_fire = down_fire;
    down_ops.set_scheme_fires = NULL; /* one by one, through down_fire */
    down_ops.list_task_schemes = down_list;
    if (up_ops->version >= 4) down_ops.schemes_version = same_version;
    st->ops = &down_ops;
    tasker_options o = {.workers = 2, .max_execs_per_task = -1, .max_exec_age_s = -1,
                        .clock = fake_clock_read, .clock_udata = &clock_};
    t = tasker_new(st, &o);
    assert_non_null(t);
    assert_int_equal(tasker_register(t, "count", count_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "a", "count", NULL), TASKER_OK);
    tasker_schedule_opts so = {.misfire = TASKER_MISFIRE_ALL};
    assert_int_equal(tasker_add_task_schedule_opts(t, "a", "* * * * * *", &so, NULL), TASKER_OK);
    assert_int_equal(tasker_start(t), TASKER_OK);
    move_clock_to("2026-01-01 00:00:01");
    wait_execs("a", TASKER_EXEC_SUCCESS, 1);
    /* From here the clock moves without tasker_wake(), which would make the loop reread
     * the schedules anyway: the loop finds the time at its next look (within a second). */
    atomic_store(&store_down, true);
    int want = 1;
    fake_clock_set(&clock_, test_utc_us("2026-01-01 00:00:02"));
    assert_true(test_wait_for(refused_at_least, &want, 10000));
    want = atomic_load(&refused) + 1;
    fake_clock_set(&clock_, test_utc_us("2026-01-01 00:00:03"));
    assert_true(test_wait_for(refused_at_least, &want, 10000));
    atomic_store(&store_down, false);
    fake_clock_set(&clock_, test_utc_us("2026-01-01 00:00:04"));
    wait_execs("a", TASKER_EXEC_SUCCESS, 4);
    assert_int_equal(tasker_drain(t, 10000), TASKER_OK);
    size_t n;
    tasker_task_exec *v = execs_oldest_first("a", &n);
    assert_int_equal(n, 4); /* 00:00:01 to 00:00:04, each once */
    for (int64_t sec = 1; sec <= 4; sec++) {
        bool found = false;
        for (size_t i = 0; i < n; i++)
            found |= v[i].scheduled_us == test_utc_us("2026-01-01 00:00:00") + sec * S;
        if (!found) fail_msg("the occurrence of 00:00:0%lld did not run", (long long)sec);
    }
    tasker_free_execs(v, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(schedule_fires_at_its_occurrence_with_scheme_and_time, teardown),
        cmocka_unit_test_teardown(removed_schedule_stops_firing, teardown),
        cmocka_unit_test_teardown(misfire_once_runs_one_catch_up, teardown),
        cmocka_unit_test_teardown(misfire_skip_records_a_skipped_execution, teardown),
        cmocka_unit_test_teardown(misfire_skip_long_ago_runs_nothing, teardown),
        cmocka_unit_test_teardown(misfire_all_replays_each_missed_fire, teardown),
        cmocka_unit_test_teardown(misfire_all_is_bounded, teardown),
        cmocka_unit_test_teardown(overlap_forbid_skips_while_previous_runs, teardown),
        cmocka_unit_test_teardown(overlap_allow_runs_concurrently, teardown),
        cmocka_unit_test_teardown(clock_jump_forward_gives_one_run_not_a_burst, teardown),
        cmocka_unit_test_teardown(clock_set_back_neither_repeats_nor_stalls, teardown),
        cmocka_unit_test_teardown(every_counts_from_schedule_creation, teardown),
        cmocka_unit_test_teardown(occurrences_refused_by_the_store_run_when_it_is_back,
                                  teardown),
    };
    return cmocka_run_group_tests_name("schedule", tests, NULL, NULL);
}
