/* The job lifecycle in cluster mode on the private MariaDB server, with several handles
 * ("nodes", each its own node_id) on one database (design sections 5 and 6):
 *  - a run cancelled from one handle while it runs on another is seen there within a
 *    heartbeat, and recorded cancelled;
 *  - max_concurrency holds across handles (judged in the claims' transactions);
 *  - one unique key triggered from two handles at once gives one run, and the losers
 *    TASKER_EEXISTS with its id;
 *  - a delayed run triggered by a handle without workers runs once, on another, not
 *    before its time;
 *  - the run of a node gone silent (its death, as the lease sees it) is interrupted by
 *    another node and retried there, by the task's policy;
 *  - a paused schedule does not fire and resumes without catching up (real time). */
#include "support/mariadb.h"
#include "support/testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char *dsn;

static int fresh(void **state)
{
    (void)state;
    if (tasker_test_mariadb_start() != 0) {
        fprintf(stderr, "mariadb: %s\n", tasker_test_mariadb_error());
        return -1;
    }
    dsn = tasker_test_mariadb_fresh_dsn("tclife", "connect_timeout=2");
    return dsn ? 0 : -1;
}

static int cleanup(void **state)
{
    (void)state;
    free(dsn);
    dsn = NULL;
    return 0;
}

static int64_t real_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
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

static tasker_task_exec get(tasker_t *t, const char *id)
{
    tasker_task_exec e;
    if (tasker_get_exec(t, id, &e) != TASKER_OK) fail_msg("get %s: %s", id, tasker_last_error());
    return e;
}

static atomic_int started, running_now, most_running, finished;

static bool at_least(void *arg) { return atomic_load(&started) >= *(int *)arg; }

/* Runs until tasker_cancelled(): a cancel or a timeout. */
static int patient(tasker_ctx *c)
{
    atomic_fetch_add(&started, 1);
    while (!tasker_cancelled(c)) usleep(1000);
    return 0;
}

static void a_cancel_from_one_node_stops_the_run_on_another_within_a_heartbeat(void **state)
{
    (void)state;
    atomic_store(&started, 0);
    tasker_options beat = {.heartbeat_ms = 200, .poll_ms = 50};
    tasker_t *runner = node("runner", 2, &beat), *other = node("other", -1, &beat);
    assert_int_equal(tasker_register(runner, "patient", patient, NULL), TASKER_OK);
    tasker_task_opts retries = {.max_attempts = 3, .backoff_ms = 10};
    assert_int_equal(tasker_add_task_opts(other, "job", "patient", NULL, &retries), TASKER_OK);
    assert_int_equal(tasker_start(runner), TASKER_OK);
    char id[TASKER_ID_SIZE];
    assert_int_equal(tasker_trigger(other, "job", id), TASKER_OK);
    int one = 1;
    assert_true(test_wait_for(at_least, &one, 20000));
    int64_t asked_us = real_us();
    assert_int_equal(tasker_cancel(other, id), TASKER_OK);
    assert_int_equal(tasker_wait(other, id, 10000), TASKER_OK);
    /* A heartbeat (200 ms) to see it, the outcome's write and the waiter's poll. */
    int64_t took_ms = (real_us() - asked_us) / 1000;
    if (took_ms > 2000) fail_msg("the cancel took %lld ms to arrive", (long long)took_ms);
    tasker_task_exec e = get(other, id);
    assert_int_equal(e.status, TASKER_EXEC_CANCELLED);
    assert_string_equal(e.node_id, "runner");
    tasker_exec_clear(&e);
    /* Cancelled: not retried, though attempts were left. */
    tasker_task_exec *v;
    size_t n;
    assert_int_equal(tasker_list_execs(other, "job", &v, &n), TASKER_OK);
    assert_int_equal(n, 1);
    tasker_free_execs(v, n);
    assert_int_equal(tasker_cancel(other, id), TASKER_ESTATE);
    tasker_close(runner);
    tasker_close(other);
}

static int limited(tasker_ctx *c)
{
    (void)c;
    int k = atomic_fetch_add(&running_now, 1) + 1;
    int m = atomic_load(&most_running);
    while (k > m && !atomic_compare_exchange_weak(&most_running, &m, k)) {
    }
    usleep(20000); /* holds its slot, so that an overlap would be seen */
    atomic_fetch_sub(&running_now, 1);
    atomic_fetch_add(&finished, 1);
    return 0;
}

static bool all_finished(void *arg) { return atomic_load(&finished) >= *(int *)arg; }

static void max_concurrency_holds_across_three_nodes(void **state)
{
    (void)state;
    atomic_store(&running_now, 0);
    atomic_store(&most_running, 0);
    atomic_store(&finished, 0);
    tasker_options fast = {.poll_ms = 10, .heartbeat_ms = 200};
    tasker_t *nodes[3] = {node("n1", 3, &fast), node("n2", 3, &fast), node("n3", 3, &fast)};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tasker_register(nodes[i], "lim", limited, NULL), TASKER_OK);
        assert_int_equal(tasker_start(nodes[i]), TASKER_OK);
    }
    tasker_task_opts lim = {.max_concurrency = 2};
    assert_int_equal(tasker_add_task_opts(nodes[0], "job", "lim", NULL, &lim), TASKER_OK);
    int total = 24;
    for (int i = 0; i < total; i++)
        assert_int_equal(tasker_trigger(nodes[i % 3], "job", NULL), TASKER_OK);
    assert_true(test_wait_for(all_finished, &total, 60000));
    assert_true(atomic_load(&most_running) <= 2);
    assert_true(atomic_load(&most_running) >= 1);
    for (int i = 0; i < 3; i++) tasker_close(nodes[i]);
}

struct racer {
    tasker_t *t;
    pthread_barrier_t *go;
    int rc;
    char id[TASKER_ID_SIZE];
};

static void *race(void *arg)
{
    struct racer *r = arg;
    tasker_run_opts o = {.unique_key = "once", .delay_ms = 60 * 1000};
    pthread_barrier_wait(r->go);
    r->rc = tasker_trigger_opts(r->t, "job", &o, r->id);
    return NULL;
}

static void one_unique_key_from_two_nodes_at_once_makes_one_run(void **state)
{
    (void)state;
    tasker_t *a = node("ua", -1, NULL), *b = node("ub", -1, NULL);
    assert_int_equal(tasker_add_task(a, "job", "h", NULL), TASKER_OK);
    for (int round = 0; round < 5; round++) {
        enum { N = 6 };
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, N);
        struct racer r[N];
        pthread_t th[N];
        for (int i = 0; i < N; i++) {
            r[i] = (struct racer){.t = i % 2 ? a : b, .go = &go};
            pthread_create(&th[i], NULL, race, &r[i]);
        }
        for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
        pthread_barrier_destroy(&go);
        int winner = -1;
        for (int i = 0; i < N; i++) {
            if (r[i].rc != TASKER_OK) continue;
            if (winner >= 0) fail_msg("round %d: two runs hold the key", round);
            winner = i;
        }
        assert_true(winner >= 0);
        for (int i = 0; i < N; i++) {
            if (i == winner) continue;
            assert_int_equal(r[i].rc, TASKER_EEXISTS);
            assert_string_equal(r[i].id, r[winner].id);
        }
        /* Cancelled, the key is free again for the next round. */
        assert_int_equal(tasker_cancel(b, r[winner].id), TASKER_OK);
    }
    tasker_task_exec *v;
    size_t n;
    assert_int_equal(tasker_list_execs(a, "job", &v, &n), TASKER_OK);
    assert_int_equal(n, 5);
    tasker_free_execs(v, n);
    tasker_close(a);
    tasker_close(b);
}

static _Atomic int64_t ran_at_us;

static int note_time(tasker_ctx *c)
{
    (void)c;
    int64_t zero = 0;
    atomic_compare_exchange_strong(&ran_at_us, &zero, real_us());
    atomic_fetch_add(&finished, 1);
    return 0;
}

static void a_delayed_run_from_a_client_runs_once_on_a_worker_node(void **state)
{
    (void)state;
    atomic_store(&ran_at_us, 0);
    atomic_store(&finished, 0);
    tasker_options fast = {.poll_ms = 50};
    tasker_t *worker = node("worker", 2, &fast), *client = node("client", -1, NULL);
    assert_int_equal(tasker_register(worker, "note", note_time, NULL), TASKER_OK);
    assert_int_equal(tasker_start(worker), TASKER_OK);
    assert_int_equal(tasker_add_task(client, "job", "note", NULL), TASKER_OK);
    char id[TASKER_ID_SIZE];
    int64_t asked_us = real_us();
    tasker_run_opts later = {.delay_ms = 1500, .param_json = "{\"n\":1}"};
    assert_int_equal(tasker_trigger_opts(client, "job", &later, id), TASKER_OK);
    assert_int_equal(tasker_wait(client, id, 500), TASKER_ETIMEDOUT); /* not yet */
    assert_int_equal(tasker_wait(client, id, 15000), TASKER_OK);
    assert_true(atomic_load(&ran_at_us) - asked_us >= 1500 * 1000 - 50 * 1000);
    tasker_task_exec e = get(client, id);
    assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
    assert_string_equal(e.node_id, "worker");
    assert_string_equal(e.param, "{\"n\":1}");
    tasker_exec_clear(&e);
    int one = 1, two = 2;
    assert_true(all_finished(&one));
    assert_false(test_wait_for(all_finished, &two, 500)); /* once */
    tasker_close(worker);
    tasker_close(client);
}

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;

/* Node a's handler: holds its run until the gate opens (a node that hangs). */
static int gated(tasker_ctx *c)
{
    (void)c;
    atomic_fetch_add(&started, 1);
    pthread_mutex_lock(&gate_lock);
    while (!gate_open) pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    return 0;
}

static int succeed(tasker_ctx *c)
{
    (void)c;
    return 0;
}

static void gate_set(bool open)
{
    pthread_mutex_lock(&gate_lock);
    gate_open = open;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

static void a_dead_nodes_run_is_interrupted_and_retried_on_another(void **state)
{
    (void)state;
    atomic_store(&started, 0);
    gate_set(false);
    tasker_options silent = {.heartbeat_ms = 3600 * 1000}; /* no beat after its open */
    tasker_options judge = {.heartbeat_ms = 50, .lease_ms = 600, .poll_ms = 50};
    tasker_t *a = node("dying", 1, &silent);
    assert_int_equal(tasker_register(a, "work", gated, NULL), TASKER_OK);
    tasker_task_opts retries = {.max_attempts = 2, .backoff_ms = 100};
    assert_int_equal(tasker_add_task_opts(a, "job", "work", "{\"k\":2}", &retries), TASKER_OK);
    char id[TASKER_ID_SIZE], retry[TASKER_ID_SIZE + 8];
    assert_int_equal(tasker_trigger(a, "job", id), TASKER_OK);
    int one = 1;
    assert_true(test_wait_for(at_least, &one, 10000));
    /* Its only worker is held: node a takes nothing more. Node b judges the lease. */
    tasker_t *b = node("survivor", 1, &judge);
    assert_int_equal(tasker_register(b, "work", succeed, NULL), TASKER_OK);
    assert_int_equal(tasker_start(b), TASKER_OK);
    assert_int_equal(tasker_wait(b, id, 15000), TASKER_OK);
    tasker_task_exec e = get(b, id);
    assert_int_equal(e.status, TASKER_EXEC_INTERRUPTED);
    assert_int_equal(e.attempt, 1);
    int64_t end_us = e.end_us;
    tasker_exec_clear(&e);
    snprintf(retry, sizeof retry, "%s.2", id);
    assert_int_equal(tasker_wait(b, retry, 15000), TASKER_OK);
    e = get(b, retry);
    assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
    assert_int_equal(e.attempt, 2);
    assert_string_equal(e.retry_of, id);
    assert_string_equal(e.node_id, "survivor");
    assert_true(e.run_at_us >= end_us + 90 * 1000); /* the backoff, from the interrupt */
    tasker_exec_clear(&e);
    gate_set(true); /* node a's late outcome is refused by the fence: no third run */
    assert_int_equal(tasker_drain(a, 10000), TASKER_OK);
    tasker_task_exec *v;
    size_t n;
    assert_int_equal(tasker_list_execs(b, "job", &v, &n), TASKER_OK);
    assert_int_equal(n, 2);
    tasker_free_execs(v, n);
    tasker_close(a);
    tasker_close(b);
}

static tasker_t *sched_t;

static size_t runs_of_job(void)
{
    tasker_task_exec *v;
    size_t n = 0;
    if (tasker_list_execs(sched_t, "tick", &v, &n) != TASKER_OK) return 0;
    tasker_free_execs(v, n);
    return n;
}

static bool has_runs(void *arg) { return runs_of_job() >= *(size_t *)arg; }

/* On real time (the handle takes the server's clock): a paused schedule does not fire,
 * and resumed it fires on from then, without the fires missed meanwhile. */
static void a_paused_schedule_holds_its_fires_and_resumes_without_catch_up(void **state)
{
    (void)state;
    atomic_store(&finished, 0);
    tasker_options fast = {.poll_ms = 50, .heartbeat_ms = 200};
    tasker_t *t = sched_t = node("sched", 2, &fast);
    assert_int_equal(tasker_register(t, "note", note_time, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "tick", "note", NULL), TASKER_OK);
    char sid[TASKER_ID_SIZE];
    assert_int_equal(tasker_add_task_schedule(t, "tick", "@every 200ms", sid), TASKER_OK);
    assert_int_equal(tasker_pause_schedule(t, sid), TASKER_OK);
    assert_int_equal(tasker_start(t), TASKER_OK);
    size_t one = 1;
    assert_false(test_wait_for(has_runs, &one, 1500)); /* 7 fires missed */
    assert_int_equal(tasker_resume_schedule(t, sid), TASKER_OK);
    assert_true(test_wait_for(has_runs, &one, 10000));
    /* No catch-up: the missed fires never run; it goes on at its pace (about 5/s). */
    size_t soon = runs_of_job();
    if (soon > 3) fail_msg("%zu runs right after the resume: caught up", soon);
    size_t more = soon + 2;
    assert_true(test_wait_for(has_runs, &more, 10000));
    tasker_task_scheme *v;
    size_t n;
    assert_int_equal(tasker_list_schemes(t, &v, &n), TASKER_OK);
    assert_false(v[0].paused);
    tasker_free_schemes(v, n);
    tasker_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            a_cancel_from_one_node_stops_the_run_on_another_within_a_heartbeat, fresh, cleanup),
        cmocka_unit_test_setup_teardown(max_concurrency_holds_across_three_nodes, fresh,
                                        cleanup),
        cmocka_unit_test_setup_teardown(one_unique_key_from_two_nodes_at_once_makes_one_run,
                                        fresh, cleanup),
        cmocka_unit_test_setup_teardown(a_delayed_run_from_a_client_runs_once_on_a_worker_node,
                                        fresh, cleanup),
        cmocka_unit_test_setup_teardown(a_dead_nodes_run_is_interrupted_and_retried_on_another,
                                        fresh, cleanup),
        cmocka_unit_test_setup_teardown(
            a_paused_schedule_holds_its_fires_and_resumes_without_catch_up, fresh, cleanup),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    tasker_test_mariadb_drop_fresh();
    return failed;
}
