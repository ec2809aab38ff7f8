/* tasker_trigger_many and the pool's claims of several runs at once: every run once,
 * all or nothing on bad input, and a long run never holds back runs claimed with it.
 * Runs on memory:, on SQLite files named by $TASKER_TEST_DSN_PREFIX, or, with
 * TASKER_TEST_BATCH_MYSQL=1, on fresh databases of the private MariaDB server. */
#include "support/mariadb.h"
#include "support/testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool on_mysql(void)
{
    const char *v = getenv("TASKER_TEST_BATCH_MYSQL");
    return v && strcmp(v, "1") == 0;
}

static const char *dsn_for(const char *name, char *buf, size_t size)
{
    if (on_mysql()) {
        char *dsn = tasker_test_mariadb_fresh_dsn("tasker_b", "connect_timeout=2");
        if (!dsn) fail_msg("%s", tasker_test_mariadb_error());
        snprintf(buf, size, "%s", dsn);
        free(dsn);
        return buf;
    }
    const char *prefix = getenv("TASKER_TEST_DSN_PREFIX");
    if (!prefix) return "memory:";
    snprintf(buf, size, "%s%s.db", prefix, name);
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) { /* start from an empty file */
        char path[1100];
        snprintf(path, sizeof path, "%s%s", buf + strlen("sqlite:"), suffix[i]);
        unlink(path);
    }
    return buf;
}

static tasker_t *open_named(const char *name, int workers)
{
    char buf[1024];
    tasker_options o = {.workers = workers, .max_execs_per_task = -1, .max_exec_age_s = -1};
    tasker_t *t = tasker_open_opts(dsn_for(name, buf, sizeof buf), &o);
    if (!t) fail_msg("open: %s", tasker_last_error());
    return t;
}

static atomic_int calls;

static int count_handler(tasker_ctx *c)
{
    atomic_fetch_add(&calls, 1);
    tasker_event(c, TASKER_NORMAL, "ran %s", tasker_exec_id(c));
    return 0;
}

#define THREADS 4
#define BATCH 250
#define BATCHES 10

typedef struct {
    tasker_t *t;
    int index, failures;
    char (*ids)[TASKER_ID_SIZE];
} producer;

static void *produce(void *arg)
{
    producer *p = arg;
    const char *tasks[BATCH];
    for (int i = 0; i < BATCH; i++) tasks[i] = i % 3 ? "a" : "b"; /* repeated and mixed */
    for (int b = 0; b < BATCHES; b++) {
        char(*ids)[TASKER_ID_SIZE] = p->ids + (p->index * BATCHES + b) * BATCH;
        if (tasker_trigger_many(p->t, tasks, BATCH, ids) != TASKER_OK) p->failures++;
    }
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void trigger_many_runs_every_run_exactly_once(void **state)
{
    (void)state;
    atomic_store(&calls, 0);
    tasker_t *t = open_named("every-run", 4);
    assert_int_equal(tasker_register(t, "count", count_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "a", "count", "{}"), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "b", "count", "{\"b\": 1}"), TASKER_OK);
    enum { TOTAL = THREADS * BATCHES * BATCH };
    char(*ids)[TASKER_ID_SIZE] = calloc(TOTAL, TASKER_ID_SIZE);
    pthread_t th[THREADS];
    producer p[THREADS];
    for (int i = 0; i < THREADS; i++) {
        p[i] = (producer){.t = t, .index = i, .ids = ids};
        assert_int_equal(pthread_create(&th[i], NULL, produce, &p[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(p[i].failures, 0);
    }
    assert_int_equal(tasker_drain(t, 60000), TASKER_OK);
    /* drain returns once every outcome is stored, not merely once handlers returned */
    assert_int_equal(atomic_load(&calls), TOTAL);
    tasker_task_exec *v;
    size_t n;
    assert_int_equal(tasker_list_execs(t, NULL, &v, &n), TASKER_OK);
    assert_int_equal(n, TOTAL);
    qsort(ids, TOTAL, TASKER_ID_SIZE, cmp_id);
    for (int i = 1; i < TOTAL; i++) assert_true(strcmp(ids[i - 1], ids[i]) < 0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(v[i].status, TASKER_EXEC_SUCCESS);
        assert_non_null(bsearch(v[i].exec_id, ids, TOTAL, TASKER_ID_SIZE, cmp_id));
    }
    tasker_free_execs(v, n);
    tasker_task_event *ev;
    assert_int_equal(tasker_list_events(t, ids[TOTAL / 2], &ev, &n), TASKER_OK);
    assert_int_equal(n, 1);
    assert_non_null(strstr(ev[0].message, ids[TOTAL / 2]));
    tasker_free_events(ev, n);
    free(ids);
    tasker_close(t);
}

static void trigger_many_is_all_or_nothing(void **state)
{
    (void)state;
    tasker_t *t = open_named("all-or-nothing", 2);
    assert_int_equal(tasker_register(t, "count", count_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "a", "count", "{}"), TASKER_OK);
    const char *tasks[3] = {"a", "ghost", "a"};
    char ids[3][TASKER_ID_SIZE];
    assert_int_equal(tasker_trigger_many(t, tasks, 3, ids), TASKER_ENOTFOUND);
    assert_non_null(strstr(tasker_last_error(), "ghost"));
    tasks[1] = "";
    assert_int_equal(tasker_trigger_many(t, tasks, 3, ids), TASKER_EINVAL);
    assert_int_equal(tasker_trigger_many(t, tasks, TASKER_TRIGGER_MANY_MAX + 1, ids),
                     TASKER_EINVAL);
    assert_int_equal(tasker_trigger_many(t, NULL, 2, ids), TASKER_EINVAL);
    assert_int_equal(tasker_trigger_many(t, tasks, 0, NULL), TASKER_OK);
    tasker_task_exec *v;
    size_t n;
    assert_int_equal(tasker_list_execs(t, NULL, &v, &n), TASKER_OK);
    assert_int_equal(n, 0); /* nothing half-written */
    tasks[1] = "a";
    assert_int_equal(tasker_trigger_many(t, tasks, 3, ids), TASKER_OK);
    for (int i = 0; i < 3; i++) assert_int_equal(tasker_wait(t, ids[i], 10000), TASKER_OK);
    tasker_close(t);
}

/* ---- a long run and the runs claimed with it -------------------------------------- */

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open, slow_started;

static int slow_handler(tasker_ctx *c)
{
    (void)c;
    pthread_mutex_lock(&gate_lock);
    slow_started = true;
    pthread_cond_broadcast(&gate_cond);
    while (!gate_open) pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    return 0;
}

static bool slow_is_running(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&gate_lock);
    bool started = slow_started;
    pthread_mutex_unlock(&gate_lock);
    return started;
}

static void a_long_run_does_not_hold_back_runs_claimed_with_it(void **state)
{
    (void)state;
    tasker_t *t = open_named("long-run", 2);
    assert_int_equal(tasker_register(t, "count", count_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_register(t, "slow", slow_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "fast", "count", "{}"), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "slow", "slow", "{}"), TASKER_OK);
    /* Short runs first, so that workers claim several at a time. */
    const char *warm[16];
    for (int i = 0; i < 16; i++) warm[i] = "fast";
    assert_int_equal(tasker_trigger_many(t, warm, 16, NULL), TASKER_OK);
    assert_int_equal(tasker_drain(t, 10000), TASKER_OK);
    const char *tasks[6] = {"slow", "fast", "fast", "fast", "fast", "fast"};
    char ids[6][TASKER_ID_SIZE];
    assert_int_equal(tasker_trigger_many(t, tasks, 6, ids), TASKER_OK);
    assert_true(test_wait_for(slow_is_running, NULL, 10000));
    for (int i = 1; i < 6; i++) assert_int_equal(tasker_wait(t, ids[i], 10000), TASKER_OK);
    tasker_task_exec e;
    assert_int_equal(tasker_get_exec(t, ids[0], &e), TASKER_OK);
    assert_int_equal(e.status, TASKER_EXEC_RUNNING); /* still held at the gate */
    tasker_exec_clear(&e);
    pthread_mutex_lock(&gate_lock);
    gate_open = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    assert_int_equal(tasker_wait(t, ids[0], 10000), TASKER_OK);
    tasker_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(trigger_many_runs_every_run_exactly_once),
        cmocka_unit_test(trigger_many_is_all_or_nothing),
        cmocka_unit_test(a_long_run_does_not_hold_back_runs_claimed_with_it),
    };
    if (on_mysql() && tasker_test_mariadb_start() != 0) {
        fprintf(stderr, "MariaDB test server: %s\n", tasker_test_mariadb_error());
        return 1;
    }
    int failed = cmocka_run_group_tests_name("batch", tests, NULL, NULL);
    if (on_mysql()) tasker_test_mariadb_drop_fresh();
    return failed;
}
