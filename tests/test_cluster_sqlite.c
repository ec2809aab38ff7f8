/* Cluster mode through the public API, with several handles ("nodes", each its own
 * node_id) on one SQLite file: the nodes list, claims only for registered handlers, an
 * idle node picking up a run triggered elsewhere within poll_ms, the lease rule and
 * fencing with an injected clock, overlap forbid across nodes, and the clock offset
 * measured at each heartbeat. (Multi-process, MariaDB, Galera and kill -9 tests are
 * tests/test_cluster_*.sh and friends.) */
#include "support/testutil.h"
#include "support/tmpdir.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char dsn[600];
static char *dir;
static fake_clock clock_;

static int fresh(void **state)
{
    (void)state;
    dir = tmpdir_make();
    snprintf(dsn, sizeof dsn, "sqlite:%s/tasker.db", dir);
    return 0;
}

static int cleanup(void **state)
{
    (void)state;
    tmpdir_remove(dir);
    dir = NULL;
    return 0;
}

static int64_t real_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A handle named node_id; opts may adjust the defaults. */
static tasker_t *node(const char *node_id, int workers, const tasker_options *extra)
{
    tasker_options o = extra ? *extra : (tasker_options){0};
    o.node_id = node_id;
    o.workers = workers;
    tasker_t *t = tasker_open_opts(dsn, &o);
    if (!t) fail_msg("open %s as %s: %s", dsn, node_id, tasker_last_error());
    return t;
}

static int ok_handler(tasker_ctx *c)
{
    (void)c;
    return 0;
}

/* A handler that blocks until the gate opens. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static atomic_int gate_entered;

static int gated_handler(tasker_ctx *c)
{
    (void)c;
    atomic_fetch_add(&gate_entered, 1);
    pthread_mutex_lock(&gate_lock);
    while (!gate_open) pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    return 0;
}

static void gate_set(bool open)
{
    pthread_mutex_lock(&gate_lock);
    gate_open = open;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    if (!open) atomic_store(&gate_entered, 0);
}

static bool entered_once(void *arg)
{
    (void)arg;
    return atomic_load(&gate_entered) >= 1;
}

static tasker_task_exec get(tasker_t *t, const char *id)
{
    tasker_task_exec e;
    assert_int_equal(tasker_get_exec(t, id, &e), TASKER_OK);
    return e;
}

/* ---- nodes ------------------------------------------------------------------------- */

static tasker_node *find(tasker_node *v, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].node_id, id) == 0) return &v[i];
    return NULL;
}

static void nodes_list_live_nodes_and_a_stopped_one(void **state)
{
    (void)state;
    tasker_t *a = node("node-a", 1, NULL), *b = node("node-b", 1, NULL);
    assert_int_equal(tasker_register(a, "ha", ok_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_register(b, "hb", ok_handler, NULL), TASKER_OK);
    tasker_node *v;
    size_t n;
    assert_int_equal(tasker_list_nodes(a, &v, &n), TASKER_OK);
    assert_int_equal(n, 2);
    tasker_node *na = find(v, n, "node-a"), *nb = find(v, n, "node-b");
    assert_non_null(na);
    assert_non_null(nb);
    assert_true(na->alive && nb->alive);
    assert_int_equal(na->pid, (int64_t)getpid());
    assert_true(na->heartbeat_us > 0 && na->started_us > 0);
    assert_int_equal(na->stopped_us, 0);
    assert_int_equal(na->clock_skew_us, 0); /* one host, one clock */
    tasker_free_nodes(v, n);

    tasker_close(b);
    assert_int_equal(tasker_list_nodes(a, &v, &n), TASKER_OK);
    nb = find(v, n, "node-b");
    assert_non_null(nb);
    assert_false(nb->alive);
    assert_true(nb->stopped_us > 0);
    tasker_free_nodes(v, n);
    tasker_close(a);
}

/* ---- claims ------------------------------------------------------------------------ */

static void a_run_triggered_without_workers_runs_on_an_idle_node_within_poll_ms(void **state)
{
    (void)state;
    tasker_options o = {.poll_ms = 100};
    tasker_t *worker = node("worker", 2, &o), *client = node("client", -1, NULL);
    assert_int_equal(tasker_register(worker, "h", ok_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_start(worker), TASKER_OK);
    assert_int_equal(tasker_add_task(client, "t", "h", NULL), TASKER_OK);
    for (int i = 0; i < 5; i++) {
        char id[TASKER_ID_SIZE];
        assert_int_equal(tasker_trigger(client, "t", id), TASKER_OK);
        assert_int_equal(tasker_wait(client, id, 10000), TASKER_OK);
        tasker_task_exec e = get(client, id);
        assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
        assert_string_equal(e.node_id, "worker");
        /* The poll period plus a margin for a loaded machine (sanitizers, 2 cores). */
        if (e.start_us - e.queued_us > 100000 + 400000)
            fail_msg("run %d started %lld us after its trigger", i,
                     (long long)(e.start_us - e.queued_us));
        tasker_exec_clear(&e);
    }
    tasker_close(client);
    tasker_close(worker);
}

static size_t pending_of(tasker_t *t, const char *task_id)
{
    tasker_task_exec *v;
    size_t n, c = 0;
    assert_int_equal(tasker_list_execs(t, task_id, &v, &n), TASKER_OK);
    for (size_t i = 0; i < n; i++) c += v[i].status == TASKER_EXEC_PENDING;
    tasker_free_execs(v, n);
    return c;
}

static void each_node_runs_only_the_handlers_it_has(void **state)
{
    (void)state;
    tasker_options o = {.poll_ms = 50};
    tasker_t *a = node("node-a", 2, &o), *b = node("node-b", 2, &o);
    assert_int_equal(tasker_register(a, "ha", ok_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_register(b, "hb", ok_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_start(a), TASKER_OK);
    assert_int_equal(tasker_start(b), TASKER_OK);
    assert_int_equal(tasker_add_task(a, "ta", "ha", NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(a, "tb", "hb", NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(a, "tc", "nobody", NULL), TASKER_OK);
    char ids[12][TASKER_ID_SIZE];
    /* Triggered on node-a, which has "ha" only: the tb runs go to node-b. */
    for (int i = 0; i < 12; i++)
        assert_int_equal(tasker_trigger(a, i % 2 ? "tb" : "ta", ids[i]), TASKER_OK);
    char stuck[TASKER_ID_SIZE];
    assert_int_equal(tasker_trigger(a, "tc", stuck), TASKER_OK);
    for (int i = 0; i < 12; i++) {
        assert_int_equal(tasker_wait(a, ids[i], 10000), TASKER_OK);
        tasker_task_exec e = get(a, ids[i]);
        assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
        assert_string_equal(e.node_id, i % 2 ? "node-b" : "node-a");
        tasker_exec_clear(&e);
    }
    /* Nobody has "nobody": its run stays pending through several polls. */
    assert_int_equal(tasker_wait(a, stuck, 400), TASKER_ETIMEDOUT);
    assert_int_equal(pending_of(a, "tc"), 1);
    /* Until a node registers the handler. */
    assert_int_equal(tasker_register(b, "nobody", ok_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_wait(a, stuck, 10000), TASKER_OK);
    tasker_task_exec e = get(a, stuck);
    assert_string_equal(e.node_id, "node-b");
    tasker_exec_clear(&e);
    tasker_close(a);
    tasker_close(b);
}

static int short_handler(tasker_ctx *c)
{
    (void)c;
    struct timespec ts = {0, 25 * 1000000L}; /* the backlog lasts several polls */
    nanosleep(&ts, NULL);
    return 0;
}

/* Three equal nodes share a backlog: each runs between 20 % and 50 % of it, whether
 * the runs come from a client or from one of the nodes itself (whose own queue must
 * not hoard what the others have room for). */
static void work_spreads_over_three_equal_nodes(void **state)
{
    (void)state;
    enum { RUNS = 90 };
    tasker_options o = {.poll_ms = 50};
    const char *names[3] = {"node-1", "node-2", "node-3"};
    tasker_t *n[3];
    for (int i = 0; i < 3; i++) {
        n[i] = node(names[i], 2, &o);
        assert_int_equal(tasker_register(n[i], "short", short_handler, NULL), TASKER_OK);
        assert_int_equal(tasker_start(n[i]), TASKER_OK);
    }
    tasker_t *client = node("client", -1, NULL);
    assert_int_equal(tasker_add_task(client, "t", "short", NULL), TASKER_OK);
    for (int round = 0; round < 2; round++) {
        tasker_t *from = round == 0 ? client : n[0];
        const char *ids[RUNS];
        for (int i = 0; i < RUNS; i++) ids[i] = "t";
        static char exec_ids[RUNS][TASKER_ID_SIZE];
        assert_int_equal(tasker_trigger_many(from, ids, RUNS, exec_ids), TASKER_OK);
        int by_node[3] = {0};
        for (int i = 0; i < RUNS; i++) {
            assert_int_equal(tasker_wait(client, exec_ids[i], 20000), TASKER_OK);
            tasker_task_exec e = get(client, exec_ids[i]);
            assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
            for (int k = 0; k < 3; k++) by_node[k] += strcmp(e.node_id, names[k]) == 0;
            tasker_exec_clear(&e);
        }
        fprintf(stderr, "%s: %d / %d / %d runs\n", round == 0 ? "from a client" : "from node-1",
                by_node[0], by_node[1], by_node[2]);
        for (int k = 0; k < 3; k++)
            if (by_node[k] < RUNS / 5 || by_node[k] > RUNS / 2)
                fail_msg("%s ran %d of %d runs", names[k], by_node[k], RUNS);
    }
    tasker_close(client);
    for (int i = 0; i < 3; i++) tasker_close(n[i]);
}

/* A node whose one worker holds a long run still polls with the other. */
static void a_busy_worker_leaves_polling_to_an_idle_one(void **state)
{
    (void)state;
    tasker_options o = {.poll_ms = 50};
    tasker_t *n = node("node", 2, &o), *client = node("client", -1, NULL);
    assert_int_equal(tasker_register(n, "slow", gated_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_register(n, "h", ok_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_start(n), TASKER_OK);
    assert_int_equal(tasker_add_task(n, "long", "slow", NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(n, "quick", "h", NULL), TASKER_OK);
    gate_set(false);
    for (int i = 0; i < 3; i++) { /* whichever worker polled, one now holds the long run */
        char held[TASKER_ID_SIZE], id[TASKER_ID_SIZE];
        assert_int_equal(tasker_trigger(i % 2 ? client : n, "long", held), TASKER_OK);
        assert_true(test_wait_for(entered_once, NULL, 10000));
        assert_int_equal(tasker_trigger(client, "quick", id), TASKER_OK);
        assert_int_equal(tasker_wait(client, id, 5000), TASKER_OK);
        gate_set(true);
        assert_int_equal(tasker_wait(client, held, 5000), TASKER_OK);
        gate_set(false);
    }
    tasker_close(client);
    tasker_close(n);
}

/* ---- leases and fencing ------------------------------------------------------------- */

static bool has_event(tasker_t *t, const char *id, const char *text)
{
    tasker_task_event *v;
    size_t n;
    bool found = false;
    if (tasker_list_events(t, id, &v, &n) != TASKER_OK) return false;
    for (size_t i = 0; i < n; i++) found = found || strstr(v[i].message, text);
    tasker_free_events(v, n);
    return found;
}

static void a_silent_nodes_run_is_interrupted_and_its_late_outcome_refused(void **state)
{
    (void)state;
    fake_clock_set(&clock_, test_utc_us("2026-03-01 10:00:00"));
    /* node-a beats at open only (its next beat is an hour away): to the others it falls
     * silent. node-b beats every 20 ms and applies the lease rule. */
    tasker_options oa = {.heartbeat_ms = 3600 * 1000, .lease_ms = 1000,
                         .clock = fake_clock_read, .clock_udata = &clock_};
    tasker_options ob = {.heartbeat_ms = 20, .lease_ms = 1000, .clock = fake_clock_read,
                         .clock_udata = &clock_};
    tasker_t *a = node("node-a", 1, &oa), *b = node("node-b", 1, &ob);
    assert_int_equal(tasker_register(a, "slow", gated_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(a, "t", "slow", NULL), TASKER_OK);
    gate_set(false);
    char id[TASKER_ID_SIZE];
    assert_int_equal(tasker_trigger(a, "t", id), TASKER_OK);
    assert_true(test_wait_for(entered_once, NULL, 10000));
    /* Within the lease: node-b leaves it alone. */
    assert_int_equal(tasker_wait(b, id, 200), TASKER_ETIMEDOUT);

    fake_clock_advance(&clock_, 5 * 1000000LL); /* node-a is now silent for 5 s */
    assert_int_equal(tasker_wait(b, id, 10000), TASKER_OK);
    tasker_task_exec e = get(b, id);
    assert_int_equal(e.status, TASKER_EXEC_INTERRUPTED);
    assert_string_equal(e.error, "interrupted: node node-a silent since 2026-03-01T10:00:00.000Z");
    int64_t decided_end_us = e.end_us;
    tasker_exec_clear(&e);

    /* node-a's handler returns: its outcome comes too late and is refused. */
    gate_set(true);
    assert_int_equal(tasker_drain(a, 10000), TASKER_OK);
    e = get(b, id);
    assert_int_equal(e.status, TASKER_EXEC_INTERRUPTED);
    assert_int_equal(e.end_us, decided_end_us);
    tasker_exec_clear(&e);
    assert_true(has_event(b, id, "late outcome from node node-a refused: the run is "
                                 "interrupted; outcome was success"));
    tasker_close(a);
    tasker_close(b);
}

/* ---- overlap ------------------------------------------------------------------------ */

typedef struct {
    tasker_t *t;
    size_t want;
} count_arg;

static bool have_execs(void *p)
{
    count_arg *a = p;
    tasker_task_exec *v;
    size_t n;
    if (tasker_list_execs(a->t, "t", &v, &n) != TASKER_OK) return false;
    tasker_free_execs(v, n);
    return n >= a->want;
}

static void overlap_forbid_holds_across_nodes(void **state)
{
    (void)state;
    fake_clock_set(&clock_, test_utc_us("2026-03-01 10:00:00"));
    tasker_options o = {.clock = fake_clock_read, .clock_udata = &clock_};
    tasker_t *a = node("node-a", 1, &o), *b = node("node-b", 1, &o);
    assert_int_equal(tasker_register(a, "slow", gated_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_register(b, "slow", gated_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(a, "t", "slow", NULL), TASKER_OK);
    tasker_schedule_opts so = {.overlap = TASKER_OVERLAP_FORBID};
    assert_int_equal(tasker_add_task_schedule_opts(a, "t", "* * * * * *", &so, NULL), TASKER_OK);
    gate_set(false);
    assert_int_equal(tasker_start(a), TASKER_OK);
    assert_int_equal(tasker_start(b), TASKER_OK);
    /* Every second for five seconds: the first fire runs (on either node) and holds;
     * every later occurrence is skipped, by whichever node handles it. */
    for (int s = 1; s <= 5; s++) {
        char when[32];
        snprintf(when, sizeof when, "2026-03-01 10:00:%02d", s);
        fake_clock_set(&clock_, test_utc_us(when));
        tasker_wake(a);
        tasker_wake(b);
        count_arg want = {a, (size_t)s};
        assert_true(test_wait_for(have_execs, &want, 10000));
    }
    tasker_task_exec *v;
    size_t n, running = 0, skipped = 0;
    assert_int_equal(tasker_list_execs(a, "t", &v, &n), TASKER_OK);
    for (size_t i = 0; i < n; i++) {
        if (v[i].status == TASKER_EXEC_SKIPPED) {
            skipped++;
            assert_non_null(strstr(v[i].error, "skipped: previous run "));
        } else {
            running++;
        }
    }
    tasker_free_execs(v, n);
    assert_int_equal(running, 1);
    assert_int_equal(skipped, 4);
    gate_set(true);
    tasker_close(a);
    tasker_close(b);
}

/* ---- one clock ---------------------------------------------------------------------- */

/* A store whose clock is 10 s behind ours: SQLite with a heartbeat that says so. The
 * store's clock is this host's real one minus 10 s, not the driver's notion of now
 * (which follows the node's corrected clock, and would drift 10 s further each beat). */
static tasker_storage_ops skewed_ops;
static int (*real_beat)(tasker_storage *, const tasker_node *, int64_t *);

static int skewed_beat(tasker_storage *st, const tasker_node *self, int64_t *store_now_us)
{
    int rc = real_beat(st, self, store_now_us);
    if (rc == TASKER_OK && store_now_us) *store_now_us = real_us() - 10 * 1000000LL;
    return rc;
}

static void times_are_taken_on_the_stores_clock(void **state)
{
    (void)state;
    tasker_storage *st = tasker_storage_open(dsn);
    assert_non_null(st);
    skewed_ops = *st->ops;
    real_beat = skewed_ops.node_beat;
    skewed_ops.node_beat = skewed_beat;
    st->ops = &skewed_ops;
    tasker_options o = {.node_id = "ahead", .workers = 1, .heartbeat_ms = 20};
    tasker_t *t = tasker_new(st, &o);
    assert_non_null(t);
    assert_int_equal(tasker_register(t, "h", ok_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "t", "h", NULL), TASKER_OK);
    char id[TASKER_ID_SIZE];
    int64_t before_us = real_us();
    assert_int_equal(tasker_trigger(t, "t", id), TASKER_OK);
    assert_int_equal(tasker_wait(t, id, 10000), TASKER_OK);
    tasker_task_exec e = get(t, id);
    /* Recorded on the store's clock: 10 s behind this host's. */
    int64_t lag_us = before_us - e.queued_us;
    if (lag_us < 9 * 1000000LL || lag_us > 11 * 1000000LL)
        fail_msg("queued_us is %lld us behind the local clock, want about 10 s", (long long)lag_us);
    assert_true(e.start_us >= e.queued_us && e.end_us >= e.start_us);
    tasker_exec_clear(&e);
    /* The node reports its skew (from its second heartbeat on). */
    tasker_node *v = NULL;
    size_t n = 0;
    int64_t skew_us = 0;
    for (int i = 0; i < 500 && skew_us == 0; i++) {
        tasker_free_nodes(v, n);
        assert_int_equal(tasker_list_nodes(t, &v, &n), TASKER_OK);
        tasker_node *me = find(v, n, "ahead");
        skew_us = me ? me->clock_skew_us : 0;
        struct timespec ts = {0, 10 * 1000000L};
        if (skew_us == 0) nanosleep(&ts, NULL);
    }
    tasker_free_nodes(v, n);
    if (skew_us < 9 * 1000000LL || skew_us > 11 * 1000000LL)
        fail_msg("clock_skew_us %lld, want about +10 s", (long long)skew_us);
    tasker_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(nodes_list_live_nodes_and_a_stopped_one, fresh, cleanup),
        cmocka_unit_test_setup_teardown(
            a_run_triggered_without_workers_runs_on_an_idle_node_within_poll_ms, fresh, cleanup),
        cmocka_unit_test_setup_teardown(each_node_runs_only_the_handlers_it_has, fresh, cleanup),
        cmocka_unit_test_setup_teardown(work_spreads_over_three_equal_nodes, fresh, cleanup),
        cmocka_unit_test_setup_teardown(a_busy_worker_leaves_polling_to_an_idle_one, fresh,
                                        cleanup),
        cmocka_unit_test_setup_teardown(
            a_silent_nodes_run_is_interrupted_and_its_late_outcome_refused, fresh, cleanup),
        cmocka_unit_test_setup_teardown(overlap_forbid_holds_across_nodes, fresh, cleanup),
        cmocka_unit_test_setup_teardown(times_are_taken_on_the_stores_clock, fresh, cleanup),
    };
    return cmocka_run_group_tests_name("cluster_sqlite", tests, NULL, NULL);
}
