/* Many threads triggering at once: every execution recorded exactly once, its events in
 * order, every wait returns. Runs against the DSN in $TASKER_TEST_DSN (default memory:). */
#include "support/testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS 4
#define RUNS_TOTAL 10000
#define EVENTS_PER_RUN 3

static atomic_int handler_calls;

static int counting_handler(tasker_ctx *c)
{
    atomic_fetch_add(&handler_calls, 1);
    for (int i = 0; i < EVENTS_PER_RUN; i++) tasker_event(c, TASKER_NORMAL, "step %d", i);
    return tasker_success(c, "{\"ok\": true}");
}

typedef struct {
    tasker_t *t;
    int index;
    char (*ids)[TASKER_ID_SIZE];
    int trigger_failures, wait_failures;
} worker_args;

static void *trigger_and_wait(void *arg)
{
    worker_args *a = arg;
    int per = RUNS_TOTAL / THREADS;
    char task[16];
    snprintf(task, sizeof task, "t%d", a->index);
    for (int i = 0; i < per; i++)
        if (tasker_trigger(a->t, task, a->ids[a->index * per + i]) != TASKER_OK)
            a->trigger_failures++;
    for (int i = 0; i < per; i++)
        if (tasker_wait(a->t, a->ids[a->index * per + i], 60000) != TASKER_OK) a->wait_failures++;
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void four_threads_trigger_ten_thousand_runs_each_recorded_once(void **state)
{
    (void)state;
    const char *dsn = getenv("TASKER_TEST_DSN");
    if (dsn && strncmp(dsn, "sqlite:", 7) == 0) { /* start from an empty file */
        char path[1024];
        const char *suffix[] = {"", "-wal", "-shm"};
        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof path, "%s%s", dsn + 7, suffix[i]);
            unlink(path);
        }
    }
    tasker_options o = {.workers = 4, .max_execs_per_task = -1, .max_exec_age_s = -1};
    tasker_t *t = tasker_open_opts(dsn ? dsn : "memory:", &o);
    assert_non_null(t);
    assert_int_equal(tasker_register(t, "count", counting_handler, NULL), TASKER_OK);
    for (int i = 0; i < THREADS; i++) {
        char task[16];
        snprintf(task, sizeof task, "t%d", i);
        assert_int_equal(tasker_add_task(t, task, "count", "{}"), TASKER_OK);
    }
    char(*ids)[TASKER_ID_SIZE] = calloc(RUNS_TOTAL, TASKER_ID_SIZE);
    pthread_t th[THREADS];
    worker_args args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_args){.t = t, .index = i, .ids = ids};
        pthread_create(&th[i], NULL, trigger_and_wait, &args[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].trigger_failures, 0);
        assert_int_equal(args[i].wait_failures, 0);
    }
    assert_int_equal(atomic_load(&handler_calls), RUNS_TOTAL);

    /* ids are unique */
    qsort(ids, RUNS_TOTAL, TASKER_ID_SIZE, cmp_id);
    for (int i = 1; i < RUNS_TOTAL; i++) assert_true(strcmp(ids[i - 1], ids[i]) < 0);

    /* every execution stored once, succeeded, with its events in order */
    tasker_task_exec *v;
    size_t n;
    assert_int_equal(tasker_list_execs(t, NULL, &v, &n), TASKER_OK);
    assert_int_equal(n, RUNS_TOTAL);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(v[i].status, TASKER_EXEC_SUCCESS);
        assert_non_null(bsearch(v[i].exec_id, ids, RUNS_TOTAL, TASKER_ID_SIZE, cmp_id));
        tasker_task_event *ev;
        size_t m;
        assert_int_equal(tasker_list_events(t, v[i].exec_id, &ev, &m), TASKER_OK);
        assert_int_equal(m, EVENTS_PER_RUN);
        for (size_t k = 0; k < m; k++) {
            char want[16];
            snprintf(want, sizeof want, "step %d", (int)k);
            assert_string_equal(ev[k].message, want);
        }
        tasker_free_events(ev, m);
    }
    tasker_free_execs(v, n);
    free(ids);
    tasker_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(four_threads_trigger_ten_thousand_runs_each_recorded_once),
    };
    return cmocka_run_group_tests_name("concurrency", tests, NULL, NULL);
}
