/* Herds on the private MariaDB server (issue 14):
 *  - the retention of a bulk add of runs of many tasks costs a few statements per chunk
 *    of tasks, not three per task, and prunes what pruning each task alone would;
 *  - bulk definitions go as a few multi-row statements, not one per item;
 *  - three nodes sharing a store share a herd's fires and runs (each node walks the
 *    herd from its own point, its batches cut where another's share begins; 25-40 %
 *    each when measured, the bound 15-55 % leaves room for a loaded machine), with no
 *    deadlock between their batches, and every run runs once, each handler beginning
 *    only once its run is stored running under its node (fires stored started,
 *    storage/mysql/exec.c; a mutant that reports starts without storing them fails). */
#include "support/mariadb.h"
#include "support/testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t real_us(void *udata)
{
    (void)udata;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Reads and deletes run by the server so far (a bulk INSERT's array counts once per
 * row in COM_STMT_EXECUTE, so that one is no measure of round trips). */
static long long reads_and_deletes(void)
{
    long long v = -1;
    assert_int_equal(tasker_test_mariadb_query_int(
                         "SELECT SUM(VARIABLE_VALUE) FROM information_schema.global_status"
                         " WHERE VARIABLE_NAME IN ('COM_SELECT', 'COM_DELETE',"
                         " 'COM_DELETE_MULTI')", &v), 0);
    return v;
}

static long long stmts_executed(void)
{
    long long v = -1;
    assert_int_equal(tasker_test_mariadb_query_int(
                         "SELECT VARIABLE_VALUE FROM information_schema.global_status"
                         " WHERE VARIABLE_NAME = 'COM_STMT_EXECUTE'", &v), 0);
    return v;
}

static tasker_storage *open_store(const char *prefix, char **dsn_out)
{
    char *dsn = tasker_test_mariadb_fresh_dsn(prefix, NULL);
    assert_non_null(dsn);
    tasker_storage *st = tasker_mysql_storage(dsn);
    if (!st) fail_msg("open %s: %s", dsn, tasker_last_error());
    st->env.clock = real_us;
    st->env.max_execs_per_task = -1;
    st->env.max_exec_age_s = -1;
    if (dsn_out) *dsn_out = dsn;
    else free(dsn);
    return st;
}

#define TASKS 600

static char task_ids[TASKS][16];

static size_t execs_of(tasker_storage *st, const char *task_id)
{
    tasker_task_exec *v = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->list_task_execs(st, task_id, 0, &v, &n), TASKER_OK);
    tasker_free_execs(v, n);
    return n;
}

static void add_finished(tasker_storage *st, const char *task_id, const char *exec_id,
                         int64_t queued_us)
{
    tasker_task_exec e = {.exec_id = (char *)exec_id, .task_id = (char *)task_id,
                          .queued_us = queued_us, .start_us = queued_us, .end_us = queued_us,
                          .status = TASKER_EXEC_SUCCESS, .success = true};
    assert_int_equal(st->ops->add_task_exec(st, &e), TASKER_OK);
}

static void bulk_add_prunes_per_chunk_of_tasks_as_each_task_alone_would(void **state)
{
    (void)state;
    tasker_storage *st = open_store("therd", NULL);
    tasker_task *tasks = calloc(TASKS, sizeof *tasks);
    assert_non_null(tasks);
    for (int i = 0; i < TASKS; i++) {
        snprintf(task_ids[i], sizeof task_ids[i], "h%03d", i);
        tasks[i] = (tasker_task){.task_id = task_ids[i], .handler = "h", .param = "{}"};
    }
    tasks[20].max_execs = -1;      /* its own: unlimited, whatever the handle says */
    tasks[21].max_exec_age_s = 60; /* its own: a minute */
    long long before = stmts_executed();
    assert_int_equal(st->ops->add_definitions(st, tasks, TASKS, NULL, 0), TASKER_OK);
    long long define_stmts = stmts_executed() - before;
    if (define_stmts > 10) fail_msg("%lld statements to add %d tasks", define_stmts, TASKS);
    /* History, kept while retention is unlimited. */
    int64_t now = real_us(NULL), minute = 60 * INT64_C(1000000);
    char id[32];
    for (int i = 0; i < 10; i++) { /* two recent finished runs: one too many once a third comes */
        snprintf(id, sizeof id, "recent-a-%d", i);
        add_finished(st, task_ids[i], id, now - 3 * minute);
        snprintf(id, sizeof id, "recent-b-%d", i);
        add_finished(st, task_ids[i], id, now - 2 * minute);
    }
    for (int i = 10; i < 20; i++) { /* one run past the age limit */
        snprintf(id, sizeof id, "aged-%d", i);
        add_finished(st, task_ids[i], id, now - 120 * minute);
    }
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "kept-%d", i);
        add_finished(st, task_ids[20], id, now - (10 + i) * minute);
    }
    add_finished(st, task_ids[21], "two-minutes-old", now - 2 * minute);
    /* Keep 2, an hour; then one pending run for each task, in one call. */
    st->env.max_execs_per_task = 2;
    st->env.max_exec_age_s = 3600;
    tasker_task_exec *runs = calloc(TASKS, sizeof *runs);
    char (*run_ids)[24] = calloc(TASKS, sizeof *run_ids);
    assert_non_null(runs);
    assert_non_null(run_ids);
    for (int i = 0; i < TASKS; i++) {
        snprintf(run_ids[i], sizeof run_ids[i], "run-%03d", i);
        runs[i] = (tasker_task_exec){.exec_id = run_ids[i], .task_id = task_ids[i],
                                     .queued_us = now, .status = TASKER_EXEC_PENDING};
    }
    before = reads_and_deletes();
    assert_int_equal(st->ops->add_task_execs(st, runs, TASKS), TASKER_OK);
    long long add_stmts = reads_and_deletes() - before;
    /* Each task alone took two reads and a delete (1,800 here); per chunk it is a
     * handful, plus three for each of the ten tasks above their count (and the one
     * reading of this count). */
    fprintf(stderr, "%lld reads and deletes to add %d runs\n", add_stmts, TASKS);
    if (add_stmts > 80) fail_msg("%lld reads and deletes to add %d runs", add_stmts, TASKS);
    tasker_task_exec e;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(execs_of(st, task_ids[i]), 2);
        snprintf(id, sizeof id, "recent-a-%d", i);
        assert_int_equal(st->ops->get_task_exec(st, id, &e), TASKER_ENOTFOUND);
    }
    for (int i = 10; i < 20; i++) assert_int_equal(execs_of(st, task_ids[i]), 1);
    assert_int_equal(execs_of(st, task_ids[20]), 6);
    assert_int_equal(execs_of(st, task_ids[21]), 1);
    assert_int_equal(st->ops->get_task_exec(st, "two-minutes-old", &e), TASKER_ENOTFOUND);
    assert_int_equal(execs_of(st, task_ids[599]), 1);
    free(runs);
    free(run_ids);
    free(tasks);
    st->ops->close(st);
}

/* ---- three nodes, one herd -------------------------------------------------------------- */

#define HERD 1500
#define NODES 3

static atomic_int ran[NODES];
static atomic_int early; /* handlers that began before their run was stored theirs */

/* Each run is checked as it begins: stored running under this very node (a run stored
 * started by its fire, or claimed), as design section 5 has it for every start. */
static int count_run(tasker_ctx *c)
{
    int node = (int)(intptr_t)tasker_udata(c);
    char want[16];
    snprintf(want, sizeof want, "node-%d", node);
    tasker_task_exec e = {0};
    if (tasker_get_exec(tasker_handle(c), tasker_exec_id(c), &e) != TASKER_OK ||
        e.status != TASKER_EXEC_RUNNING || !e.node_id || strcmp(e.node_id, want) != 0 ||
        e.start_us == 0)
        atomic_fetch_add(&early, 1);
    tasker_exec_clear(&e);
    atomic_fetch_add(&ran[node], 1);
    return 0;
}

static bool herd_ran(void *arg)
{
    (void)arg;
    int n = 0;
    for (int i = 0; i < NODES; i++) n += atomic_load(&ran[i]);
    return n >= HERD;
}

static void three_nodes_share_a_herd_and_run_each_occurrence_once(void **state)
{
    (void)state;
    char *dsn = tasker_test_mariadb_fresh_dsn("therd3", "connect_timeout=5");
    assert_non_null(dsn);
    tasker_t *t[NODES];
    for (int i = 0; i < NODES; i++) {
        char node_id[16];
        snprintf(node_id, sizeof node_id, "node-%d", i);
        tasker_options o = {.node_id = node_id, .workers = 2};
        t[i] = tasker_open_opts(dsn, &o);
        if (!t[i]) fail_msg("open as %s: %s", node_id, tasker_last_error());
        assert_int_equal(tasker_register(t[i], "count", count_run, (void *)(intptr_t)i),
                         TASKER_OK);
    }
    /* At a second 6 s from now: the herd comes once all three hold the schedules. */
    char cron[32];
    snprintf(cron, sizeof cron, "%d * * * * *", (int)((real_us(NULL) / 1000000 + 6) % 60));
    tasker_task_def *tv = calloc(HERD, sizeof *tv);
    tasker_schedule_def *sv = calloc(HERD, sizeof *sv);
    char (*ids)[16] = calloc(HERD, sizeof *ids);
    assert_non_null(tv);
    assert_non_null(sv);
    assert_non_null(ids);
    for (int i = 0; i < HERD; i++) {
        snprintf(ids[i], sizeof ids[i], "herd-%04d", i);
        tv[i] = (tasker_task_def){.task_id = ids[i], .handler = "count"};
        sv[i] = (tasker_schedule_def){.task_id = ids[i], .cron = cron};
    }
    assert_int_equal(tasker_define(t[0], tv, HERD, sv, HERD), TASKER_OK);
    for (int i = 0; i < NODES; i++) assert_int_equal(tasker_start(t[i]), TASKER_OK);
    assert_true(test_wait_for(herd_ran, NULL, 60000));
    for (int i = 0; i < NODES; i++) tasker_stop(t[i]);
    for (int i = NODES - 1; i >= 0; i--) tasker_close(t[i]);
    /* Each run ran once: as many handler calls as runs recorded finished. */
    char db[64], sql[300];
    snprintf(db, sizeof db, "%s", strrchr(dsn, '/') + 1);
    db[strcspn(db, "?")] = '\0';
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s.task_execs WHERE status = %d", db,
             (int)TASKER_EXEC_SUCCESS);
    long long done = -1, total = 0;
    assert_int_equal(tasker_test_mariadb_query_int(sql, &done), 0);
    int share[NODES];
    for (int i = 0; i < NODES; i++) total += share[i] = atomic_load(&ran[i]);
    assert_int_equal(done, total);
    assert_int_equal(atomic_load(&early), 0);
    fprintf(stderr, "herd of %d on 3 nodes: runs %d / %d / %d\n", HERD, share[0], share[1],
            share[2]);
    for (int i = 0; i < NODES; i++)
        if (share[i] * 100 < total * 15 || share[i] * 100 > total * 55)
            fail_msg("node %d ran %d of %lld runs: not shared", i, share[i], total);
    free(tv);
    free(sv);
    free(ids);
    free(dsn);
}

static int setup(void **state)
{
    (void)state;
    if (tasker_test_mariadb_start() != 0) {
        fprintf(stderr, "mariadb: %s\n", tasker_test_mariadb_error());
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tasker_test_mariadb_drop_fresh();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bulk_add_prunes_per_chunk_of_tasks_as_each_task_alone_would),
        cmocka_unit_test(three_nodes_share_a_herd_and_run_each_occurrence_once),
    };
    return cmocka_run_group_tests_name("mysql_herd", tests, setup, teardown);
}
