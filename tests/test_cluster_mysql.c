/* Cluster mode through the public API on the private MariaDB server, with several
 * handles ("nodes", each its own node_id) on one database: claims only for registered
 * handlers and an idle node picking up a client's trigger within poll_ms, the lease rule
 * on the server's clock, and a node whose clock is 10 s ahead recording times on the
 * server's clock. */
#include "support/mariadb.h"
#include "support/testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static char *dsn;

static int fresh(void **state)
{
    (void)state;
    if (tasker_test_mariadb_start() != 0) {
        fprintf(stderr, "mariadb: %s\n", tasker_test_mariadb_error());
        return -1;
    }
    dsn = tasker_test_mariadb_fresh_dsn("tcluster", "connect_timeout=2");
    return dsn ? 0 : -1;
}

static int cleanup(void **state)
{
    (void)state;
    free(dsn);
    dsn = NULL;
    return 0;
}

static int64_t real_us(void *udata)
{
    (void)udata;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t ahead_10s_us(void *udata)
{
    return real_us(udata) + 10 * 1000000LL;
}

static tasker_t *node(const char *node_id, int workers, const tasker_options *extra)
{
    tasker_options o = extra ? *extra : (tasker_options){0};
    o.node_id = node_id;
    o.workers = workers;
    tasker_t *t = tasker_open_opts(dsn, &o);
    if (!t) fail_msg("open as %s: %s", node_id, tasker_last_error());
    return t;
}

static int ok_handler(tasker_ctx *c)
{
    (void)c;
    return 0;
}

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

static tasker_node *find(tasker_node *v, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].node_id, id) == 0) return &v[i];
    return NULL;
}

static void runs_go_to_nodes_with_their_handler_and_idle_nodes_poll(void **state)
{
    (void)state;
    tasker_options o = {.poll_ms = 100, .heartbeat_ms = 50};
    tasker_t *a = node("node-a", 2, &o), *b = node("node-b", 2, &o), *client = node("client", -1, NULL);
    assert_int_equal(tasker_register(a, "ha", ok_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_register(b, "hb", ok_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_start(a), TASKER_OK);
    assert_int_equal(tasker_start(b), TASKER_OK);
    assert_int_equal(tasker_add_task(client, "ta", "ha", NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(client, "tb", "hb", NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(client, "tc", "nobody", NULL), TASKER_OK);
    char stuck[TASKER_ID_SIZE];
    assert_int_equal(tasker_trigger(client, "tc", stuck), TASKER_OK);
    for (int i = 0; i < 10; i++) {
        char id[TASKER_ID_SIZE];
        assert_int_equal(tasker_trigger(client, i % 2 ? "tb" : "ta", id), TASKER_OK);
        assert_int_equal(tasker_wait(client, id, 10000), TASKER_OK);
        tasker_task_exec e = get(client, id);
        assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
        assert_string_equal(e.node_id, i % 2 ? "node-b" : "node-a");
        if (e.start_us - e.queued_us > 100000 + 500000)
            fail_msg("run %d started %lld us after its trigger", i,
                     (long long)(e.start_us - e.queued_us));
        tasker_exec_clear(&e);
    }
    tasker_task_exec e = get(client, stuck);
    assert_int_equal(e.status, TASKER_EXEC_PENDING);
    tasker_exec_clear(&e);
    /* The client lists both nodes, with their handlers; it is no node itself. */
    tasker_node *v;
    size_t n;
    assert_int_equal(tasker_list_nodes(client, &v, &n), TASKER_OK);
    assert_int_equal(n, 2);
    assert_true(find(v, n, "node-a")->alive && find(v, n, "node-b")->alive);
    assert_string_equal(find(v, n, "node-a")->handlers, "[\"ha\"]");
    assert_null(find(v, n, "client"));
    tasker_free_nodes(v, n);
    tasker_close(client);
    tasker_close(a);
    tasker_close(b);
}

static void a_silent_nodes_run_is_interrupted_on_the_servers_clock(void **state)
{
    (void)state;
    tasker_options oa = {.heartbeat_ms = 3600 * 1000};          /* silent after open */
    tasker_options ob = {.heartbeat_ms = 50, .lease_ms = 600};  /* judges every 50 ms */
    tasker_t *a = node("node-a", 1, &oa), *b = node("node-b", 1, &ob);
    assert_int_equal(tasker_register(a, "slow", gated_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(a, "t", "slow", NULL), TASKER_OK);
    gate_set(false);
    char id[TASKER_ID_SIZE];
    assert_int_equal(tasker_trigger(a, "t", id), TASKER_OK);
    assert_true(test_wait_for(entered_once, NULL, 10000));
    assert_int_equal(tasker_wait(b, id, 10000), TASKER_OK);
    tasker_task_exec e = get(b, id);
    assert_int_equal(e.status, TASKER_EXEC_INTERRUPTED);
    if (strncmp(e.error, "interrupted: node node-a silent since ", 38) != 0)
        fail_msg("error: %s", e.error);
    /* Within lease + a heartbeat + margin of node-a's last beat (at its open). */
    assert_true(e.end_us - e.start_us < 5 * 1000000LL);
    tasker_exec_clear(&e);
    gate_set(true);
    assert_int_equal(tasker_drain(a, 10000), TASKER_OK);
    tasker_close(a);
    tasker_close(b);
}

static void a_node_10s_ahead_records_times_on_the_servers_clock(void **state)
{
    (void)state;
    tasker_options o = {.heartbeat_ms = 50, .clock = ahead_10s_us};
    tasker_t *t = node("ahead", 1, &o);
    assert_int_equal(tasker_register(t, "h", ok_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "t", "h", NULL), TASKER_OK);
    char id[TASKER_ID_SIZE];
    int64_t before_us = real_us(NULL);
    assert_int_equal(tasker_trigger(t, "t", id), TASKER_OK);
    assert_int_equal(tasker_wait(t, id, 10000), TASKER_OK);
    tasker_task_exec e = get(t, id);
    int64_t off_us = e.queued_us - before_us;
    if (off_us < -2000000 || off_us > 2000000)
        fail_msg("queued_us is %lld us from the real clock, want about 0", (long long)off_us);
    tasker_exec_clear(&e);
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
    if (skew_us < 8 * 1000000LL || skew_us > 12 * 1000000LL)
        fail_msg("clock_skew_us %lld, want about +10 s", (long long)skew_us);
    tasker_close(t);
}

/* add_task_exec prunes only the task it adds to: the age limit for tasks that get no
 * new runs is applied at heartbeats (interrupt_expired), a bounded batch at a time. */
static void history_of_idle_tasks_ages_out_at_heartbeats(void **state)
{
    (void)state;
    tasker_storage *st = tasker_storage_open(dsn);
    assert_non_null(st);
    st->env.max_execs_per_task = -1;
    st->env.max_exec_age_s = -1; /* the adds keep everything; the sweep applies 60 s */
    st->env.clock = real_us;
    tasker_task task = {.task_id = "idle", .handler = "h", .param = "{}"};
    assert_int_equal(st->ops->add_task(st, &task), TASKER_OK);
    int64_t now_us = real_us(NULL);
    tasker_task_exec old = {.exec_id = "old", .task_id = "idle", .queued_us = now_us - 3600 * 1000000LL,
                            .end_us = now_us - 3599 * 1000000LL, .status = TASKER_EXEC_SUCCESS};
    tasker_task_exec recent = {.exec_id = "recent", .task_id = "idle", .queued_us = now_us,
                               .status = TASKER_EXEC_SUCCESS};
    tasker_task_exec old_pending = {.exec_id = "waiting", .task_id = "idle",
                                    .queued_us = now_us - 3600 * 1000000LL,
                                    .status = TASKER_EXEC_PENDING};
    assert_int_equal(st->ops->add_task_exec(st, &recent), TASKER_OK);
    assert_int_equal(st->ops->add_task_exec(st, &old), TASKER_OK);
    assert_int_equal(st->ops->add_task_exec(st, &old_pending), TASKER_OK);
    tasker_task_exec e;
    assert_int_equal(st->ops->get_task_exec(st, "old", &e), TASKER_OK);
    tasker_exec_clear(&e);
    st->env.max_exec_age_s = 60;
    assert_int_equal(st->ops->interrupt_expired(st, 10 * 1000000LL, NULL), TASKER_OK);
    assert_int_equal(st->ops->get_task_exec(st, "old", &e), TASKER_ENOTFOUND);
    assert_int_equal(st->ops->get_task_exec(st, "recent", &e), TASKER_OK);
    tasker_exec_clear(&e);
    assert_int_equal(st->ops->get_task_exec(st, "waiting", &e), TASKER_OK); /* never pruned */
    tasker_exec_clear(&e);
    st->ops->close(st);
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* A run triggered by a process without workers starts on an idle node within poll_ms
 * (default 200 ms): the figure, and a generous bound for a loaded test machine. */
static void pickup_latency_of_a_clients_triggers(void **state)
{
    (void)state;
    tasker_t *worker = node("worker", 2, NULL), *client = node("client", -1, NULL);
    assert_int_equal(tasker_register(worker, "h", ok_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_start(worker), TASKER_OK);
    assert_int_equal(tasker_add_task(client, "t", "h", NULL), TASKER_OK);
    enum { RUNS = 60 };
    int64_t delay_us[RUNS];
    for (int i = 0; i < RUNS; i++) {
        char id[TASKER_ID_SIZE];
        assert_int_equal(tasker_trigger(client, "t", id), TASKER_OK);
        assert_int_equal(tasker_wait(client, id, 10000), TASKER_OK);
        tasker_task_exec e = get(client, id);
        delay_us[i] = e.start_us - e.queued_us;
        tasker_exec_clear(&e);
    }
    qsort(delay_us, RUNS, sizeof delay_us[0], cmp_i64);
    fprintf(stderr, "pickup from a client, poll_ms 200: median %lld ms, p99 %lld ms, max %lld ms\n",
            (long long)delay_us[RUNS / 2] / 1000, (long long)delay_us[RUNS * 99 / 100] / 1000,
            (long long)delay_us[RUNS - 1] / 1000);
    assert_true(delay_us[RUNS / 2] < 250000);
    tasker_close(client);
    tasker_close(worker);
}

/* While the server is down every loop (schedule, heartbeat, poller) backs off: the
 * process spends little CPU; when it is back, everything resumes by itself. */
static void a_server_outage_costs_little_cpu_and_nodes_resume(void **state)
{
    (void)state;
    if (tasker_test_mariadb_external()) skip();
    tasker_options o = {.heartbeat_ms = 100, .poll_ms = 50};
    tasker_t *t = node("node-a", 2, &o);
    assert_int_equal(tasker_register(t, "h", ok_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "t", "h", NULL), TASKER_OK);
    assert_int_equal(tasker_add_task_schedule(t, "t", "* * * * * *", NULL), TASKER_OK);
    assert_int_equal(tasker_start(t), TASKER_OK);
    assert_int_equal(tasker_test_mariadb_stop(), 0);
    double cpu0 = cpu_s();
    struct timespec three_s = {3, 0};
    nanosleep(&three_s, NULL); /* the outage: its length is what is measured */
    double used = cpu_s() - cpu0;
    fprintf(stderr, "CPU while the server was down: %.3f s in 3 s\n", used);
    assert_int_equal(tasker_test_mariadb_start(), 0);
    /* Under the sanitizers; a loop without backoff spends a whole core (3 s). */
    assert_true(used < 0.6);
    char id[TASKER_ID_SIZE];
    int rc = TASKER_ESTORAGE;
    for (int i = 0; i < 100 && rc != TASKER_OK; i++) { /* the first calls may meet the restart */
        rc = tasker_trigger(t, "t", id);
        if (rc != TASKER_OK) nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
    }
    assert_int_equal(rc, TASKER_OK);
    assert_int_equal(tasker_wait(t, id, 20000), TASKER_OK);
    tasker_task_exec e = get(t, id);
    assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
    tasker_exec_clear(&e);
    tasker_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(runs_go_to_nodes_with_their_handler_and_idle_nodes_poll,
                                        fresh, cleanup),
        cmocka_unit_test_setup_teardown(a_silent_nodes_run_is_interrupted_on_the_servers_clock,
                                        fresh, cleanup),
        cmocka_unit_test_setup_teardown(a_node_10s_ahead_records_times_on_the_servers_clock,
                                        fresh, cleanup),
        cmocka_unit_test_setup_teardown(history_of_idle_tasks_ages_out_at_heartbeats, fresh,
                                        cleanup),
        cmocka_unit_test_setup_teardown(pickup_latency_of_a_clients_triggers, fresh, cleanup),
        cmocka_unit_test_setup_teardown(a_server_outage_costs_little_cpu_and_nodes_resume, fresh,
                                        cleanup),
    };
    int failed = cmocka_run_group_tests_name("cluster_mysql", tests, NULL, NULL);
    tasker_test_mariadb_drop_fresh();
    return failed;
}
