/* tasker over MySQL, end to end: runs through the core on the private MariaDB server,
 * history that outlives the handle, and a server restart while tasker runs. */
#include "support/mariadb.h"
#include "support/testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_RUNS 4096

/* Which executions the handler ran, and how often. */
static struct {
    pthread_mutex_t lock;
    char ids[MAX_RUNS][TASKER_ID_SIZE];
    int times[MAX_RUNS];
    int n;
} ran = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int count_run(tasker_ctx *c)
{
    pthread_mutex_lock(&ran.lock);
    int i = 0;
    while (i < ran.n && strcmp(ran.ids[i], tasker_exec_id(c)) != 0) i++;
    if (i == ran.n && ran.n < MAX_RUNS) snprintf(ran.ids[ran.n++], TASKER_ID_SIZE, "%s", tasker_exec_id(c));
    if (i < MAX_RUNS) ran.times[i]++;
    pthread_mutex_unlock(&ran.lock);
    tasker_event(c, TASKER_NORMAL, "ran %s", tasker_exec_id(c));
    return 0;
}

static int times_ran(const char *exec_id)
{
    pthread_mutex_lock(&ran.lock);
    int times = 0;
    for (int i = 0; i < ran.n; i++)
        if (strcmp(ran.ids[i], exec_id) == 0) times = ran.times[i];
    pthread_mutex_unlock(&ran.lock);
    return times;
}

static tasker_t *open_db(const char *db, bool fresh)
{
    if (fresh && tasker_test_mariadb_fresh_db(db) != 0)
        fail_msg("fresh database: %s", tasker_test_mariadb_error());
    char *dsn = tasker_test_mariadb_dsn(db, "connect_timeout=2");
    /* Unlimited retention: every run stays, so that none can go missing unseen. */
    tasker_options o = {.workers = 4, .max_execs_per_task = -1};
    tasker_t *t = tasker_open_opts(dsn, &o);
    free(dsn);
    if (!t) fail_msg("open: %s", tasker_last_error());
    assert_int_equal(tasker_register(t, "count", count_run, NULL), TASKER_OK);
    return t;
}

static void runs_finish_and_history_outlives_the_handle(void **state)
{
    (void)state;
    tasker_t *t = open_db("tasker_e2e", true);
    assert_int_equal(tasker_add_task(t, "job", "count", "{\"n\": 1}"), TASKER_OK);
    char ids[20][TASKER_ID_SIZE];
    for (int i = 0; i < 20; i++) assert_int_equal(tasker_trigger(t, "job", ids[i]), TASKER_OK);
    for (int i = 0; i < 20; i++) assert_int_equal(tasker_wait(t, ids[i], 10000), TASKER_OK);
    tasker_close(t);

    t = open_db("tasker_e2e", false);
    tasker_task_exec *v = NULL;
    size_t n = 0;
    assert_int_equal(tasker_list_execs(t, "job", &v, &n), TASKER_OK);
    assert_int_equal(n, 20);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(v[i].status, TASKER_EXEC_SUCCESS);
        assert_int_equal(times_ran(v[i].exec_id), 1);
    }
    /* Newest first; generated ids are time-ordered. */
    assert_string_equal(v[0].exec_id, ids[19]);
    tasker_task_event *ev = NULL;
    size_t nev = 0;
    assert_int_equal(tasker_list_events(t, ids[3], &ev, &nev), TASKER_OK);
    assert_int_equal(nev, 1);
    assert_non_null(strstr(ev[0].message, ids[3]));
    tasker_free_events(ev, nev);
    tasker_free_execs(v, n);
    tasker_close(t);
}

typedef struct {
    tasker_t *t;
    atomic_bool *stop;
    char acked[MAX_RUNS / 4][TASKER_ID_SIZE];
    int n_acked, n_failed;
    char bad[256];
} trigger_loop;

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void *keep_triggering(void *arg)
{
    trigger_loop *l = arg;
    while (!atomic_load(l->stop) && l->n_acked < MAX_RUNS / 4) {
        int rc = tasker_trigger(l->t, "job", l->acked[l->n_acked]);
        if (rc == TASKER_OK) {
            l->n_acked++;
            continue;
        }
        l->n_failed++;
        if (rc != TASKER_ESTORAGE || strncmp(tasker_last_error(), "mysql: ", 7) != 0)
            snprintf(l->bad, sizeof l->bad, "%s: %s", tasker_strerror(rc), tasker_last_error());
        pause_ms(20); /* pacing the retries while the server is down */
    }
    return NULL;
}

static bool server_failed_some(void *arg)
{
    trigger_loop *l = arg;
    return l[0].n_failed + l[1].n_failed > 0;
}

static bool acked_some(void *arg)
{
    trigger_loop *l = arg;
    return l[0].n_acked >= 50 && l[1].n_acked >= 50;
}

static void restart_under_triggers_loses_nothing_and_runs_nothing_twice(void **state)
{
    (void)state;
    tasker_t *t = open_db("tasker_e2e_restart", true);
    assert_int_equal(tasker_add_task(t, "job", "count", "{}"), TASKER_OK);
    atomic_bool stop = false;
    trigger_loop l[2] = {{.t = t, .stop = &stop}, {.t = t, .stop = &stop}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, keep_triggering, &l[i]);
    char probe[TASKER_ID_SIZE];
    tasker_task_exec before = {0};
    test_run_task(t, "job", &before); /* runs go on before the restart */
    assert_int_equal(before.status, TASKER_EXEC_SUCCESS);
    tasker_exec_clear(&before);
    assert_true(test_wait_for(acked_some, l, 10000));
    assert_int_equal(tasker_test_mariadb_stop(), 0);
    assert_true(test_wait_for(server_failed_some, l, 10000));
    assert_int_equal(tasker_test_mariadb_start(), 0);
    /* The scheduler goes on within seconds: a new run completes. */
    assert_int_equal(tasker_trigger(t, "job", probe), TASKER_OK);
    assert_int_equal(tasker_wait(t, probe, 5000), TASKER_OK);
    atomic_store(&stop, true);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        if (l[i].bad[0]) fail_msg("unclear trigger failure: %s", l[i].bad);
    }
    tasker_wake(t); /* runs whose start was cut off are pending again: pick them up */
    int finished = 0, total = 0;
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < l[i].n_acked; k++, total++) {
            tasker_task_exec e = {0};
            /* Every acknowledged trigger is in the store... */
            assert_int_equal(tasker_get_exec(t, l[i].acked[k], &e), TASKER_OK);
            /* ...and no run happened twice. */
            assert_true(times_ran(l[i].acked[k]) <= 1);
            if (tasker_wait(t, l[i].acked[k], 2000) == TASKER_OK) finished++;
            else fprintf(stderr, "# unfinished %s: %s, ran %d times\n", e.exec_id,
                         tasker_exec_status_name(e.status), times_ran(e.exec_id));
            tasker_exec_clear(&e);
        }
    }
    fprintf(stderr, "# %d triggers acknowledged, %d finished, %d failed while down\n", total,
            finished, l[0].n_failed + l[1].n_failed);
    /* Even a start whose COMMIT was cut off is resolved: none is left orphaned. */
    assert_int_equal(finished, total);
    tasker_close(t);
}

static int finished_runs(tasker_t *t, const char *task_id)
{
    tasker_task_exec *v = NULL;
    size_t n = 0;
    int done = 0;
    if (tasker_list_execs(t, task_id, &v, &n) != TASKER_OK) return -1;
    for (size_t i = 0; i < n; i++) {
        done += v[i].status == TASKER_EXEC_SUCCESS;
        if (times_ran(v[i].exec_id) > 1) done = -1000000; /* a run ran twice */
    }
    tasker_free_execs(v, n);
    return done;
}

/* Polls the store (a condition, not a sleep) until task_id has at least want runs. */
static bool wait_runs(tasker_t *t, const char *task_id, int want, int timeout_ms)
{
    for (int waited_ms = 0; waited_ms < timeout_ms; waited_ms += 20) {
        if (finished_runs(t, task_id) >= want) return true;
        pause_ms(20);
    }
    return false;
}

static void schedule_goes_on_within_seconds_after_a_restart(void **state)
{
    (void)state;
    tasker_t *t = open_db("tasker_e2e_sched", true);
    assert_int_equal(tasker_add_task(t, "tick", "count", "{}"), TASKER_OK);
    char scheme_id[TASKER_ID_SIZE];
    assert_int_equal(tasker_add_task_schedule(t, "tick", "@every 200ms", scheme_id), TASKER_OK);
    assert_int_equal(tasker_start(t), TASKER_OK);
    assert_true(wait_runs(t, "tick", 3, 10000));
    assert_int_equal(tasker_test_mariadb_stop(), 0);
    assert_int_equal(tasker_test_mariadb_start(), 0);
    int before = finished_runs(t, "tick");
    assert_true(before >= 3);
    /* Five more fires within five seconds of the server's return, none run twice. */
    if (!wait_runs(t, "tick", before + 5, 5000))
        fail_msg("%d runs after the restart, want %d", finished_runs(t, "tick"), before + 5);
    tasker_stop(t);
    tasker_close(t);
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
    tasker_test_mariadb_sql("DROP DATABASE IF EXISTS tasker_e2e");
    tasker_test_mariadb_sql("DROP DATABASE IF EXISTS tasker_e2e_restart");
    tasker_test_mariadb_sql("DROP DATABASE IF EXISTS tasker_e2e_sched");
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(runs_finish_and_history_outlives_the_handle),
        cmocka_unit_test(restart_under_triggers_loses_nothing_and_runs_nothing_twice),
        cmocka_unit_test(schedule_goes_on_within_seconds_after_a_restart),
    };
    size_t count = sizeof tests / sizeof tests[0];
    if (tasker_test_mariadb_start() == 0 && tasker_test_mariadb_external()) {
        printf("# SKIP the restart tests: TASKER_TEST_MYSQL_DSN names a server that is not "
               "ours to restart\n");
        count = 1;
    }
    return _cmocka_run_group_tests("mysql_tasker", tests, count, setup, teardown);
}
