/* The MySQL driver's start and outcome paths under faults (design section 5, 1 and 2):
 * - a start is answered TASKER_OK only when its row is running with this node, whatever
 *   fault replaced the COMMIT of its claim round (rolled back, deadlock, lost connection,
 *   cut off before or after it landed, cut off and unresolvable);
 * - two handles with different node ids contending on the same 2,000 pending runs start
 *   each exactly once (counted in the handler, compared with the store);
 * - an outcome is fenced: refused (ESTATE, an event on the run) once the run is no
 *   longer running with the writer's node; written twice, it is stored once;
 * - outcomes of runs that finish while the server is down land once it is back.
 * Faults are injected in place of the COMMIT of a round of starts and of a claim of the
 * cluster path (claim.c), which takes the runs other processes left pending (see
 * storage/mysql/internal.h). */
#include "storage/mysql/internal.h"
#include "support/mariadb.h"
#include "support/testutil.h"

#include <tasker/context.h>
#include <tasker/storage.h>
#include <tasker/tasker.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_int fault_mode; /* the fault for the next claim round */
static atomic_int faults_fired;
static atomic_bool resolve_fails;

static atomic_int fault_every; /* when set: a fault for every Nth claim round */
static atomic_int start_batches;

/* The fault for this claim round: a batch of starts (the start path) or a claim of the
 * cluster path (claim.c), which is how a node with workers takes runs left pending. */
static int next_fault(void)
{
    int every = atomic_load(&fault_every);
    if (every) {
        int k = atomic_fetch_add(&start_batches, 1);
        if (k % every) return 0;
        atomic_fetch_add(&faults_fired, 1);
        return MY_FAULT_LOST + (k / every) % 4; /* each of the four faults in turn */
    }
    int mode = atomic_exchange(&fault_mode, 0);
    if (mode) atomic_fetch_add(&faults_fired, 1);
    return mode;
}

static int inject(const my_write *batch)
{
    bool start = false;
    for (const my_write *w = batch; w; w = w->next)
        start = start || w->kind == MW_START;
    return start ? next_fault() : 0;
}

static int resolve_fault(void)
{
    return atomic_load(&resolve_fails) ? 1 : 0;
}

static tasker_storage *open_fresh_with(const char *options)
{
    char *dsn = tasker_test_mariadb_fresh_dsn("tasker_sp", options);
    if (!dsn) fail_msg("%s", tasker_test_mariadb_error());
    tasker_storage *st = tasker_mysql_storage(dsn);
    if (!st) fail_msg("open %s: %s", dsn, tasker_last_error());
    free(dsn);
    st->env.max_execs_per_task = -1;
    st->env.max_exec_age_s = -1;
    tasker_task t = {.task_id = "t", .handler = "h", .param = "{}"};
    assert_int_equal(st->ops->add_task(st, &t), TASKER_OK);
    return st;
}

static tasker_storage *open_fresh(void)
{
    return open_fresh_with("connect_timeout=2");
}

#define RUNS 20

static void add_runs(tasker_storage *st, const char *prefix, char ids[RUNS][32])
{
    tasker_task_exec v[RUNS];
    for (int i = 0; i < RUNS; i++) {
        snprintf(ids[i], 32, "%s-%02d", prefix, i);
        v[i] = (tasker_task_exec){
            .exec_id = ids[i], .task_id = "t", .queued_us = 1, .status = TASKER_EXEC_PENDING};
    }
    assert_int_equal(st->ops->add_task_execs(st, v, RUNS), TASKER_OK);
}

/* The rule: OK only for a row running with this node and start; any other answer for
 * a row that is not (it stays pending, for any node). Returns how many were OK. */
static int check_answers(tasker_storage *st, char ids[RUNS][32], const int *rcs)
{
    int ok = 0;
    for (int i = 0; i < RUNS; i++) {
        tasker_task_exec e = {0};
        assert_int_equal(st->ops->get_task_exec(st, ids[i], &e), TASKER_OK);
        if (rcs[i] == TASKER_OK) {
            assert_int_equal(e.status, TASKER_EXEC_RUNNING);
            assert_string_equal(e.node_id, "me");
            assert_int_equal(e.start_us, 7);
            ok++;
        } else {
            assert_int_equal(rcs[i], TASKER_ESTORAGE);
            assert_int_equal(e.status, TASKER_EXEC_PENDING);
        }
        tasker_exec_clear(&e);
    }
    return ok;
}

/* One claim round of RUNS starts meets the fault; returns how many were answered OK. */
static int claim_into_fault(tasker_storage *st, int mode, const char *prefix)
{
    char ids[RUNS][32];
    const char *ptr[RUNS];
    int rcs[RUNS];
    add_runs(st, prefix, ids);
    for (int i = 0; i < RUNS; i++)
        ptr[i] = ids[i];
    int fired = atomic_load(&faults_fired);
    atomic_store(&fault_mode, mode);
    assert_int_equal(st->ops->start_task_execs(st, ptr, RUNS, 7, "me", rcs), TASKER_OK);
    assert_int_equal(atomic_load(&faults_fired), fired + 1);
    /* A later write of the lane first puts back what must be put back. */
    tasker_task_event ev = {
        .exec_id = ids[0], .time_us = 8, .level = TASKER_NORMAL, .message = "after"};
    assert_int_equal(st->ops->add_task_event(st, &ev), TASKER_OK);
    return check_answers(st, ids, rcs);
}

static void rolled_back_claims_are_retried_and_answered_after_commit(void **state)
{
    (void)state;
    tasker_storage *st = open_fresh();
    my_test_before_commit = inject;
    /* Rolled back for sure: the batch runs again, and its starts are answered then. */
    assert_int_equal(claim_into_fault(st, MY_FAULT_LOST, "lost"), RUNS);
    assert_int_equal(claim_into_fault(st, MY_FAULT_DEADLOCK, "dl"), RUNS);
    my_test_before_commit = NULL;
    st->ops->close(st);
}

static void cut_off_commit_is_resolved_before_answering(void **state)
{
    (void)state;
    tasker_storage *st = open_fresh();
    my_test_before_commit = inject;
    /* The COMMIT landed, unknown to the driver: the rows tell, every start is OK. */
    assert_int_equal(claim_into_fault(st, MY_FAULT_UNKNOWN_COMMITTED, "landed"), RUNS);
    /* It did not: not started, the runs stay pending. */
    assert_int_equal(claim_into_fault(st, MY_FAULT_UNKNOWN, "gone"), 0);
    my_test_before_commit = NULL;
    st->ops->close(st);
}

static void unresolvable_cut_off_claims_are_not_started_and_put_back(void **state)
{
    (void)state;
    tasker_storage *st = open_fresh();
    my_test_before_commit = inject;
    my_test_before_resolve = resolve_fault;
    atomic_store(&resolve_fails, true);
    /* Landed, but the server "stays silent": answered not started; the next batch puts
     * the rows back to pending (check_answers sees them pending). */
    assert_int_equal(claim_into_fault(st, MY_FAULT_UNKNOWN_COMMITTED, "silent"), 0);
    atomic_store(&resolve_fails, false);
    my_test_before_resolve = NULL;
    my_test_before_commit = NULL;
    st->ops->close(st);
}

static void several_committers_answer_claims_after_commit_too(void **state)
{
    (void)state;
    tasker_storage *st = open_fresh_with("connect_timeout=2&committers=2");
    my_test_before_commit = inject;
    assert_int_equal(claim_into_fault(st, MY_FAULT_DEADLOCK, "c2dl"), RUNS);
    assert_int_equal(claim_into_fault(st, MY_FAULT_UNKNOWN_COMMITTED, "c2landed"), RUNS);
    assert_int_equal(claim_into_fault(st, MY_FAULT_UNKNOWN, "c2gone"), 0);
    my_test_before_commit = NULL;
    st->ops->close(st);
}

/* ---- fencing ------------------------------------------------------------------------ */

static bool has_event_with(tasker_storage *st, const char *exec_id, const char *text)
{
    tasker_task_event *ev = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->list_task_events(st, exec_id, &ev, &n), TASKER_OK);
    bool found = false;
    for (size_t i = 0; i < n; i++)
        found = found || strstr(ev[i].message, text);
    tasker_free_events(ev, n);
    return found;
}

static void outcome_from_another_node_is_refused_and_recorded(void **state)
{
    (void)state;
    tasker_storage *st = open_fresh();
    char ids[RUNS][32];
    add_runs(st, "fence", ids);
    assert_int_equal(st->ops->start_task_exec(st, ids[0], 7, "node-a"), TASKER_OK);
    tasker_task_exec out = {.exec_id = ids[0],
                            .status = TASKER_EXEC_SUCCESS,
                            .success = true,
                            .end_us = 9,
                            .node_id = "node-b"};
    assert_int_equal(st->ops->update_task_exec(st, &out), TASKER_ESTATE);
    assert_non_null(strstr(tasker_last_error(), "late outcome from node node-b refused"));
    tasker_task_exec got = {0};
    assert_int_equal(st->ops->get_task_exec(st, ids[0], &got), TASKER_OK);
    assert_int_equal(got.status, TASKER_EXEC_RUNNING); /* nothing overwritten */
    assert_string_equal(got.node_id, "node-a");
    tasker_exec_clear(&got);
    assert_true(has_event_with(st, ids[0], "late outcome from node node-b refused"));
    /* A pending run takes no outcome either. */
    out.exec_id = ids[1];
    assert_int_equal(st->ops->update_task_exec(st, &out), TASKER_ESTATE);
    st->ops->close(st);
}

static bool alive_none(const char *node_id, void *udata)
{
    (void)node_id, (void)udata;
    return false;
}

static void outcome_after_interruption_is_refused_and_replay_is_idempotent(void **state)
{
    (void)state;
    tasker_storage *st = open_fresh();
    char ids[RUNS][32];
    add_runs(st, "late", ids);
    assert_int_equal(st->ops->start_task_exec(st, ids[0], 7, "node-a"), TASKER_OK);
    assert_int_equal(st->ops->start_task_exec(st, ids[1], 7, "node-a"), TASKER_OK);

    /* An outcome written twice (a replay after a cut-off COMMIT that had landed). */
    tasker_task_exec done = {.exec_id = ids[1],
                             .status = TASKER_EXEC_SUCCESS,
                             .success = true,
                             .end_us = 9,
                             .node_id = "node-a"};
    assert_int_equal(st->ops->update_task_exec(st, &done), TASKER_OK);
    assert_int_equal(st->ops->update_task_exec(st, &done), TASKER_OK);
    assert_false(has_event_with(st, ids[1], "refused"));

    /* node-a is found dead; its run is marked interrupted; its late outcome is refused. */
    size_t marked = 0;
    assert_int_equal(st->ops->interrupt_dead(st, alive_none, NULL, &marked), TASKER_OK);
    assert_int_equal(marked, 1);
    tasker_task_exec late = {.exec_id = ids[0],
                             .status = TASKER_EXEC_SUCCESS,
                             .success = true,
                             .end_us = 10,
                             .node_id = "node-a"};
    assert_int_equal(st->ops->update_task_exec(st, &late), TASKER_ESTATE);
    tasker_task_exec got = {0};
    assert_int_equal(st->ops->get_task_exec(st, ids[0], &got), TASKER_OK);
    assert_int_equal(got.status, TASKER_EXEC_INTERRUPTED);
    assert_false(got.success);
    tasker_exec_clear(&got);
    assert_true(has_event_with(st, ids[0],
                               "late outcome from node node-a refused: the run "
                               "is interrupted; outcome was success"));
    st->ops->close(st);
}

/* ---- two nodes on the same runs ----------------------------------------------------- */

#define CONTENDED 2000

typedef struct {
    pthread_mutex_t lock;
    char (*ids)[TASKER_ID_SIZE];
    int *starts; /* per run, by index in ids (sorted) */
    atomic_int total;
    atomic_int running; /* for the outage test */
    atomic_int returned;
    atomic_bool gate_open;
    bool slow; /* count_start takes 1 ms, so that a crash meets runs in flight */
} tally;

static tally tl;

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static int count_start(tasker_ctx *c)
{
    const char *id = tasker_exec_id(c);
    char(*hit)[TASKER_ID_SIZE] = bsearch(id, tl.ids, CONTENDED, TASKER_ID_SIZE, cmp_id);
    if (!hit) return 1;
    pthread_mutex_lock(&tl.lock);
    tl.starts[hit - tl.ids]++;
    pthread_mutex_unlock(&tl.lock);
    atomic_fetch_add(&tl.total, 1);
    if (tl.slow) { /* work, not synchronisation */
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static tasker_t *open_node(const char *dsn, const char *node_id, int workers)
{
    tasker_options o = {
        .workers = workers, .node_id = node_id, .max_execs_per_task = -1, .max_exec_age_s = -1};
    tasker_t *t = tasker_open_opts(dsn, &o);
    if (!t) fail_msg("open %s as %s: %s", dsn, node_id, tasker_last_error());
    return t;
}

static long long count_where(const char *db, const char *cond)
{
    char sql[300];
    long long v = -1;
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s.task_execs WHERE %s", db, cond);
    if (tasker_test_mariadb_query_int(sql, &v) != 0) fail_msg("%s", tasker_test_mariadb_error());
    return v;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until no run of db is pending or running, rescanning both nodes meanwhile (a
 * start answered not started leaves its run pending for a later pickup). */
static void wait_all_finished(const char *db, tasker_t *a, tasker_t *b, int timeout_ms)
{
    int64_t until_ms = mono_ms() + timeout_ms;
    while (count_where(db, "status IN (0, 1)") > 0) {
        if (mono_ms() > until_ms) fail_msg("runs still pending or running after %d ms", timeout_ms);
        tasker_drain(a, 200);
        if (b) tasker_drain(b, 200);
        tasker_wake(a);
        if (b) tasker_wake(b);
    }
}

typedef struct {
    tasker_t *t;
    pthread_barrier_t *go;
} waker;

/* Both nodes list the same 2,000 pending runs at once and claim them. */
static void *wake_at_once(void *arg)
{
    waker *w = arg;
    pthread_barrier_wait(w->go);
    tasker_wake(w->t);
    return NULL;
}

static bool started_some(void *arg)
{
    return atomic_load(&tl.total) >= *(int *)arg;
}

/* Two nodes on the same CONTENDED pending runs, started at once. With crash, the
 * server is killed (SIGKILL) once some hundreds ran, and started again; else a fault
 * replaces the COMMIT of every 7th claim round. Each run must start exactly once. */
static void contend(const char *db, bool crash)
{
    assert_int_equal(tasker_test_mariadb_fresh_db(db), 0);
    char *dsn = tasker_test_mariadb_dsn(db, "connect_timeout=2");
    tasker_t *producer = open_node(dsn, "producer", -1);
    assert_int_equal(tasker_add_task(producer, "c", "count", "{}"), TASKER_OK);
    tl.ids = calloc(CONTENDED, TASKER_ID_SIZE);
    tl.starts = calloc(CONTENDED, sizeof *tl.starts);
    atomic_store(&tl.total, 0);
    tl.slow = crash;
    pthread_mutex_init(&tl.lock, NULL);
    const char *names[100];
    for (int i = 0; i < 100; i++)
        names[i] = "c";
    for (int k = 0; k < CONTENDED / 100; k++)
        assert_int_equal(tasker_trigger_many(producer, names, 100, tl.ids + k * 100), TASKER_OK);
    qsort(tl.ids, CONTENDED, TASKER_ID_SIZE, cmp_id);
    assert_int_equal(count_where(db, "status = 0"), CONTENDED);

    atomic_store(&fault_every, crash ? 0 : 7);
    int fired = atomic_load(&faults_fired);
    my_test_before_commit = inject;
    my_test_before_claim_commit = next_fault;
    tasker_t *n1 = open_node(dsn, "host-1:node", 4), *n2 = open_node(dsn, "host-2:node", 4);
    assert_int_equal(tasker_register(n1, "count", count_start, NULL), TASKER_OK);
    assert_int_equal(tasker_register(n2, "count", count_start, NULL), TASKER_OK);
    pthread_t th[2];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    waker wk[2] = {{n1, &go}, {n2, &go}};
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, wake_at_once, &wk[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
    if (crash) {
        int some = 300;
        assert_true(test_wait_for(started_some, &some, 60000));
        assert_int_equal(tasker_test_mariadb_kill(), 0);
        if (tasker_test_mariadb_start() != 0) fail_msg("restart: %s", tasker_test_mariadb_error());
    }
    wait_all_finished(db, n1, n2, 180000);
    my_test_before_commit = NULL;
    my_test_before_claim_commit = NULL;
    atomic_store(&fault_every, 0);
    if (!crash) assert_true(atomic_load(&faults_fired) > fired);

    for (int i = 0; i < CONTENDED; i++)
        if (tl.starts[i] != 1) fail_msg("run %s started %d times", tl.ids[i], tl.starts[i]);
    assert_int_equal(atomic_load(&tl.total), CONTENDED);
    assert_int_equal(count_where(db, "status = 2"), CONTENDED);
    long long on1 = count_where(db, "node_id = 'host-1:node'");
    long long on2 = count_where(db, "node_id = 'host-2:node'");
    assert_int_equal(on1 + on2, CONTENDED);
    fprintf(stderr, "# node 1 ran %lld, node 2 ran %lld; %d faults injected%s\n", on1, on2,
            atomic_load(&faults_fired) - fired, crash ? ", the server killed once" : "");
    tasker_close(n1);
    tasker_close(n2);
    tasker_close(producer);
    free(tl.ids);
    free(tl.starts);
    tl.ids = NULL;
    tl.starts = NULL;
    pthread_mutex_destroy(&tl.lock);
    free(dsn);
}

static void two_nodes_contending_start_each_run_exactly_once(void **state)
{
    (void)state;
    contend("tasker_sp_contend", false);
}

static void two_nodes_through_a_server_crash_start_each_run_exactly_once(void **state)
{
    (void)state;
    if (tasker_test_mariadb_external()) skip();
    contend("tasker_sp_crash", true);
}

/* ---- starts that keep failing ------------------------------------------------------- */

static int always_deadlock(const my_write *batch)
{
    for (const my_write *w = batch; w; w = w->next)
        if (w->kind == MW_START) return MY_FAULT_DEADLOCK;
    return 0;
}

static int always_deadlock_claim(void)
{
    return MY_FAULT_DEADLOCK;
}

static atomic_int plain_runs;

static int plain(tasker_ctx *c)
{
    (void)c;
    atomic_fetch_add(&plain_runs, 1);
    return 0;
}

static void failing_starts_leave_runs_pending_and_free_the_workers(void **state)
{
    (void)state;
    static const char db[] = "tasker_sp_nostart";
    assert_int_equal(tasker_test_mariadb_fresh_db(db), 0);
    char *dsn = tasker_test_mariadb_dsn(db, "connect_timeout=2");
    tasker_t *t = open_node(dsn, "nostart-node", 2);
    assert_int_equal(tasker_register(t, "p", plain, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "p", "p", "{}"), TASKER_OK);
    atomic_store(&plain_runs, 0);
    /* Every claim round rolls back, on the start path (5 times) and the cluster's. */
    my_test_before_commit = always_deadlock;
    my_test_before_claim_commit = always_deadlock_claim;
    char id[TASKER_ID_SIZE];
    for (int i = 0; i < 10; i++)
        assert_int_equal(tasker_trigger(t, "p", id), TASKER_OK);
    /* Not started, not retried by the workers: they drop the runs and are free. */
    assert_int_equal(tasker_drain(t, 30000), TASKER_OK);
    assert_int_equal(atomic_load(&plain_runs), 0);
    assert_int_equal(count_where(db, "status = 0"), 10);
    my_test_before_commit = NULL;
    my_test_before_claim_commit = NULL;
    wait_all_finished(db, t, NULL, 30000); /* the next pickup runs them, once each */
    assert_int_equal(atomic_load(&plain_runs), 10);
    assert_int_equal(count_where(db, "status = 2"), 10);
    tasker_close(t);
    free(dsn);
}

/* ---- outcomes while the server is down ---------------------------------------------- */

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER; /* guards gate_open's change */
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;

static int gated(tasker_ctx *c)
{
    (void)c;
    atomic_fetch_add(&tl.running, 1);
    pthread_mutex_lock(&gate_lock);
    while (!atomic_load(&tl.gate_open))
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    atomic_fetch_add(&tl.returned, 1);
    return 0;
}

static void open_gate(void)
{
    pthread_mutex_lock(&gate_lock);
    atomic_store(&tl.gate_open, true);
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

static bool all_running(void *arg)
{
    return atomic_load(&tl.running) == *(int *)arg;
}
static bool all_returned(void *arg)
{
    return atomic_load(&tl.returned) == *(int *)arg;
}

#define GATED 8

static void outcomes_during_an_outage_land_when_the_server_is_back(void **state)
{
    (void)state;
    if (tasker_test_mariadb_external()) skip();
    static const char db[] = "tasker_sp_outage";
    assert_int_equal(tasker_test_mariadb_fresh_db(db), 0);
    char *dsn = tasker_test_mariadb_dsn(db, "connect_timeout=2");
    tasker_t *t = open_node(dsn, "outage-node", GATED);
    assert_int_equal(tasker_register(t, "g", gated, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "g", "g", "{}"), TASKER_OK);
    atomic_store(&tl.running, 0);
    atomic_store(&tl.returned, 0);
    atomic_store(&tl.gate_open, false);
    char ids[GATED][TASKER_ID_SIZE];
    for (int i = 0; i < GATED; i++)
        assert_int_equal(tasker_trigger(t, "g", ids[i]), TASKER_OK);
    int want = GATED;
    assert_true(test_wait_for(all_running, &want, 30000));

    assert_int_equal(tasker_test_mariadb_stop(), 0);
    open_gate(); /* the handlers return while the server is down */
    assert_true(test_wait_for(all_returned, &want, 30000));
    if (tasker_test_mariadb_start() != 0) fail_msg("restart: %s", tasker_test_mariadb_error());

    for (int i = 0; i < GATED; i++) {
        assert_int_equal(tasker_wait(t, ids[i], 60000), TASKER_OK);
        tasker_task_exec e = {0};
        assert_int_equal(tasker_get_exec(t, ids[i], &e), TASKER_OK);
        assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
        tasker_exec_clear(&e);
    }
    assert_int_equal(count_where(db, "status = 1"), 0);
    tasker_close(t);
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
        cmocka_unit_test(rolled_back_claims_are_retried_and_answered_after_commit),
        cmocka_unit_test(cut_off_commit_is_resolved_before_answering),
        cmocka_unit_test(unresolvable_cut_off_claims_are_not_started_and_put_back),
        cmocka_unit_test(several_committers_answer_claims_after_commit_too),
        cmocka_unit_test(outcome_from_another_node_is_refused_and_recorded),
        cmocka_unit_test(outcome_after_interruption_is_refused_and_replay_is_idempotent),
        cmocka_unit_test(two_nodes_contending_start_each_run_exactly_once),
        cmocka_unit_test(two_nodes_through_a_server_crash_start_each_run_exactly_once),
        cmocka_unit_test(failing_starts_leave_runs_pending_and_free_the_workers),
        cmocka_unit_test(outcomes_during_an_outage_land_when_the_server_is_back),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
