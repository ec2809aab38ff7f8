/* The MySQL driver's early answers: a start and an event are answered before their
 * group commit's COMMIT. These tests make that COMMIT fail (a fault injected in its
 * place, see storage/mysql/internal.h) in a batch that answered starts early, and check that
 * the process never has a run that its worker runs but the store shows pending (to be
 * run again), nor one `running` that no worker runs: a start answered early is
 * replayed before any later write commits, and a start answered with an error (with
 * several committers, which answer nothing early) is not in the store. Also: a thread
 * reads its own early-answered writes. */
#include "storage/mysql/internal.h"
#include "support/mariadb.h"

#include <tasker/storage.h>

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static atomic_int fault_mode; /* the fault for the next batch with an early answer */
static atomic_int faults_fired;

/* Faults a batch with a start in it, but none with an add (the tests' own setup). */
static int inject(const my_write *batch)
{
    bool start = false;
    for (const my_write *w = batch; w; w = w->next) {
        if (w->kind == MW_ADD) return 0;
        start = start || w->kind == MW_START;
    }
    if (!start) return 0;
    int mode = atomic_exchange(&fault_mode, 0);
    if (mode) atomic_fetch_add(&faults_fired, 1);
    return mode;
}

static tasker_storage *open_fresh_with(const char *options)
{
    char *dsn = tasker_test_mariadb_fresh_dsn("tasker_e", options);
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

static tasker_storage *open_fresh(void) { return open_fresh_with(NULL); }

static void add_pending(tasker_storage *st, const char *exec_id)
{
    tasker_task_exec e = {.exec_id = (char *)exec_id, .task_id = "t", .queued_us = 1,
                          .status = TASKER_EXEC_PENDING};
    assert_int_equal(st->ops->add_task_exec(st, &e), TASKER_OK);
}

static tasker_exec_status status_of(tasker_storage *st, const char *exec_id)
{
    tasker_task_exec e = {0};
    assert_int_equal(st->ops->get_task_exec(st, exec_id, &e), TASKER_OK);
    tasker_exec_status s = e.status;
    tasker_exec_clear(&e);
    return s;
}

typedef struct {
    tasker_storage *st;
    pthread_barrier_t *go;
    char exec_id[32];
    int rc;
} starter;

static void *start_at_once(void *arg)
{
    starter *s = arg;
    pthread_barrier_wait(s->go);
    s->rc = s->st->ops->start_task_exec(s->st, s->exec_id, 7, "me");
    return NULL;
}

/* Two threads start two runs at once until a batch that holds a start meets the fault.
 * The flusher leads every batch, so each start is answered early: both were told they
 * started. */
static void race_into_fault(tasker_storage *st, int mode, starter s[2])
{
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    int fired_before = atomic_load(&faults_fired);
    for (int attempt = 0; attempt < 2000; attempt++) {
        atomic_store(&fault_mode, mode);
        pthread_t th[2];
        for (int i = 0; i < 2; i++) {
            s[i] = (starter){.st = st, .go = &go};
            snprintf(s[i].exec_id, sizeof s[i].exec_id, "r%d-%d-%d", mode, attempt, i);
            add_pending(st, s[i].exec_id);
        }
        for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, start_at_once, &s[i]);
        for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
        if (atomic_load(&faults_fired) == fired_before) continue;
        atomic_store(&fault_mode, 0);
        pthread_barrier_destroy(&go);
        assert_int_equal(s[0].rc, TASKER_OK);
        assert_int_equal(s[1].rc, TASKER_OK);
        return;
    }
    atomic_store(&fault_mode, 0);
    pthread_barrier_destroy(&go);
    fail_msg("no batch met the fault in 2000 tries");
}

/* After the fault, any later write of their lane (starts, events, outcomes) commits the
 * early starts first. */
static void check_after_fault(tasker_storage *st, starter s[2])
{
    tasker_task_event ev = {.exec_id = s[0].exec_id, .time_us = 8, .level = TASKER_NORMAL,
                            .message = "after"};
    assert_int_equal(st->ops->add_task_event(st, &ev), TASKER_OK);
    for (int i = 0; i < 2; i++) {
        tasker_task_exec e = {0};
        assert_int_equal(st->ops->get_task_exec(st, s[i].exec_id, &e), TASKER_OK);
        assert_int_equal(e.status, TASKER_EXEC_RUNNING);
        assert_string_equal(e.node_id, "me");
        assert_int_equal(e.start_us, 7);
        tasker_exec_clear(&e);
    }
}

static void early_start_survives_a_rolled_back_batch(void **state)
{
    (void)state;
    tasker_storage *st = open_fresh();
    starter s[2];
    race_into_fault(st, MY_FAULT_LOST, s);
    check_after_fault(st, s);
    st->ops->close(st);
}

static void early_start_survives_a_cut_off_commit_that_did_not_land(void **state)
{
    (void)state;
    tasker_storage *st = open_fresh();
    starter s[2];
    race_into_fault(st, MY_FAULT_UNKNOWN, s);
    check_after_fault(st, s);
    st->ops->close(st);
}

/* The batch did commit though the driver could not know: the early starts stand (and
 * are not replayed). */
static void cut_off_commit_that_landed_keeps_early_starts(void **state)
{
    (void)state;
    tasker_storage *st = open_fresh();
    starter s[2];
    race_into_fault(st, MY_FAULT_UNKNOWN_COMMITTED, s);
    check_after_fault(st, s);
    st->ops->close(st);
}

/* With several committers nothing is answered early: a start whose COMMIT was cut off
 * is answered with an error, and if that COMMIT did land, the start is undone before
 * the next batch of its slot commits (its worker never runs it). */
static void cut_off_commit_that_landed_undoes_a_failed_start(void **state)
{
    (void)state;
    tasker_storage *st = open_fresh_with("committers=2");
    add_pending(st, "x");
    atomic_store(&fault_mode, MY_FAULT_UNKNOWN_COMMITTED);
    assert_int_equal(st->ops->start_task_exec(st, "x", 7, "me"), TASKER_ESTORAGE);
    assert_int_equal(atomic_load(&fault_mode), 0);
    add_pending(st, "after");
    assert_int_equal(status_of(st, "x"), TASKER_EXEC_PENDING);
    assert_int_equal(st->ops->start_task_exec(st, "x", 8, "me"), TASKER_OK);
    st->ops->close(st);
}

/* An outcome queued right after the fault commits after the replayed start: the run
 * ends finished, with its start time. */
static void outcome_after_a_failed_batch_follows_the_replayed_start(void **state)
{
    (void)state;
    tasker_storage *st = open_fresh();
    starter s[2];
    race_into_fault(st, MY_FAULT_LOST, s);
    tasker_task_exec out = {.exec_id = s[0].exec_id, .status = TASKER_EXEC_SUCCESS,
                            .success = true, .end_us = 9};
    assert_int_equal(st->ops->update_task_exec(st, &out), TASKER_OK);
    tasker_task_exec e = {0};
    assert_int_equal(st->ops->get_task_exec(st, s[0].exec_id, &e), TASKER_OK);
    assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
    assert_int_equal(e.start_us, 7);
    tasker_exec_clear(&e);
    st->ops->close(st);
}

/* Starts that meet in one batch go as one bulk compare-and-set; each still gets its
 * own result: OK for a pending run, ESTATE for one already running, ENOTFOUND for none;
 * and the run holds its real node id (not the claim token the bulk start wrote). */
#define MIXED 12
static void starts_in_one_batch_each_get_their_own_result(void **state)
{
    (void)state;
    tasker_storage *st = open_fresh();
    for (int round = 0; round < 20; round++) {
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, MIXED);
        starter s[MIXED];
        pthread_t th[MIXED];
        for (int i = 0; i < MIXED; i++) {
            s[i] = (starter){.st = st, .go = &go};
            snprintf(s[i].exec_id, sizeof s[i].exec_id, "m%d-%d", round, i);
            if (i % 3 != 2) add_pending(st, s[i].exec_id);
            if (i % 3 == 1) assert_int_equal(st->ops->start_task_exec(st, s[i].exec_id, 1, "x"),
                                             TASKER_OK);
        }
        for (int i = 0; i < MIXED; i++) pthread_create(&th[i], NULL, start_at_once, &s[i]);
        for (int i = 0; i < MIXED; i++) pthread_join(th[i], NULL);
        pthread_barrier_destroy(&go);
        /* Starts answered early are visible to other threads once committed: a write
         * of this thread to their lane, answered after its commit, follows theirs. */
        tasker_task_event ev = {.exec_id = s[0].exec_id, .time_us = 8,
                                .level = TASKER_NORMAL, .message = "sync"};
        assert_int_equal(st->ops->add_task_event(st, &ev), TASKER_OK);
        for (int i = 0; i < MIXED; i++) {
            static const int want[] = {TASKER_OK, TASKER_ESTATE, TASKER_ENOTFOUND};
            assert_int_equal(s[i].rc, want[i % 3]);
            if (i % 3 == 2) continue;
            tasker_task_exec e = {0};
            assert_int_equal(st->ops->get_task_exec(st, s[i].exec_id, &e), TASKER_OK);
            assert_int_equal(e.status, TASKER_EXEC_RUNNING);
            assert_int_equal(e.start_us, i % 3 == 0 ? 7 : 1);
            assert_string_equal(e.node_id, i % 3 == 0 ? "me" : "x");
            tasker_exec_clear(&e);
        }
    }
    st->ops->close(st);
}

typedef struct {
    tasker_storage *st;
    int round;
    int mismatches;
} reader;

/* Each thread starts its run, logs an event, and reads both back at once. */
static void *start_log_read(void *arg)
{
    reader *r = arg;
    for (int i = 0; i < 40; i++) {
        char id[40];
        snprintf(id, sizeof id, "rd-%d-%d", r->round, i);
        add_pending(r->st, id);
        if (r->st->ops->start_task_exec(r->st, id, 3, "me") != TASKER_OK) r->mismatches++;
        tasker_task_event ev = {.exec_id = id, .time_us = 4, .level = TASKER_NORMAL,
                                .message = "hi"};
        if (r->st->ops->add_task_event(r->st, &ev) != TASKER_OK) r->mismatches++;
        tasker_task_event *evs = NULL;
        size_t n = 0;
        if (r->st->ops->list_task_events(r->st, id, &evs, &n) != TASKER_OK || n != 1)
            r->mismatches++;
        tasker_free_events(evs, n);
        tasker_task_exec e = {0};
        if (r->st->ops->get_task_exec(r->st, id, &e) != TASKER_OK ||
            e.status != TASKER_EXEC_RUNNING)
            r->mismatches++;
        tasker_exec_clear(&e);
    }
    return NULL;
}

static void a_thread_reads_its_own_early_answered_writes(void **state)
{
    (void)state;
    tasker_storage *st = open_fresh();
    pthread_t th[4];
    reader r[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (reader){.st = st, .round = i};
        pthread_create(&th[i], NULL, start_log_read, &r[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].mismatches, 0);
    }
    st->ops->close(st);
}

static int setup(void **state)
{
    (void)state;
    if (tasker_test_mariadb_start() != 0) {
        fprintf(stderr, "MariaDB test server: %s\n", tasker_test_mariadb_error());
        return -1;
    }
    my_test_before_commit = inject;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    my_test_before_commit = NULL;
    tasker_test_mariadb_drop_fresh();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(early_start_survives_a_rolled_back_batch),
        cmocka_unit_test(early_start_survives_a_cut_off_commit_that_did_not_land),
        cmocka_unit_test(cut_off_commit_that_landed_keeps_early_starts),
        cmocka_unit_test(cut_off_commit_that_landed_undoes_a_failed_start),
        cmocka_unit_test(outcome_after_a_failed_batch_follows_the_replayed_start),
        cmocka_unit_test(a_thread_reads_its_own_early_answered_writes),
        cmocka_unit_test(starts_in_one_batch_each_get_their_own_result),
    };
    return cmocka_run_group_tests_name("mysql_early", tests, setup, teardown);
}
