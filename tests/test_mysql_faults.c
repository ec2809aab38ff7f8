/* The MySQL driver when the server goes away: crashes and restarts of the private
 * server under load, calls while it is down, and reconnecting afterwards without
 * losing a committed record or storing an occurrence twice. And the cluster claim's
 * faults (storage/mysql/claim.c): a COMMIT cut off, a COMMIT answered success for a
 * transaction another node's claim aborted (Galera), claims that lose every try. */
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define DB "tasker_faults"

static int64_t real_clock(void *udata)
{
    (void)udata;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static tasker_storage *open_store(void)
{
    char *dsn = tasker_test_mariadb_dsn(DB, "connect_timeout=2");
    tasker_storage *st = tasker_mysql_storage(dsn);
    free(dsn);
    if (!st) fail_msg("open: %s", tasker_last_error());
    st->env.max_execs_per_task = -1;
    st->env.max_exec_age_s = -1;
    st->env.clock = real_clock;
    return st;
}

static void restart_server(void)
{
    if (tasker_test_mariadb_start() != 0)
        fail_msg("restarting MariaDB: %s", tasker_test_mariadb_error());
}

/* ---- load through a crash ------------------------------------------------------------ */

#define WRITERS 4

typedef struct {
    tasker_storage *st;
    int thread_no;
    atomic_bool *stop;
    atomic_int *acked;    /* occurrences stored, all writers */
    atomic_int *failed;   /* calls that failed with TASKER_ESTORAGE */
    atomic_int *lost;     /* of which: the connection was lost under the call */
    int done;             /* this writer's occurrences stored */
    int unexpected;       /* results other than OK, EEXISTS after a failure, ESTORAGE */
    char bad_message[256];
} writer;

/* Stores one occurrence: retries a failed call (with a new exec id, as the scheduler
 * would) until it is stored, or the store says an earlier attempt was. */
static void store_occurrence(writer *w, int64_t scheduled_us)
{
    for (int attempt = 0;; attempt++) {
        char id[64];
        snprintf(id, sizeof id, "w%d-%lld-%d", w->thread_no, (long long)scheduled_us, attempt);
        tasker_task_exec e = {.exec_id = id, .task_id = "f", .scheme_id = "s1",
                              .scheduled_us = scheduled_us, .queued_us = real_clock(NULL),
                              .status = TASKER_EXEC_SUCCESS};
        int rc = w->st->ops->add_task_exec(w->st, &e);
        if (rc == TASKER_OK || (rc == TASKER_EEXISTS && attempt > 0)) {
            atomic_fetch_add(w->acked, 1);
            w->done++;
            return;
        }
        if (rc != TASKER_ESTORAGE) {
            w->unexpected++;
            return;
        }
        const char *msg = tasker_last_error();
        if (strncmp(msg, "mysql: ", 7) != 0 ||
            (!strstr(msg, "connection lost") && !strstr(msg, "cannot connect")))
            snprintf(w->bad_message, sizeof w->bad_message, "%s", msg);
        atomic_fetch_add(w->failed, 1);
        if (strstr(msg, "connection lost")) atomic_fetch_add(w->lost, 1);
        pause_ms(20); /* pacing the retries while the server is down */
    }
}

static void *write_occurrences(void *arg)
{
    writer *w = arg;
    for (int64_t k = 0; !atomic_load(w->stop); k++)
        store_occurrence(w, (int64_t)w->thread_no * 1000000000 + k);
    return NULL;
}

static void wait_until(atomic_int *counter, int at_least, int timeout_ms, const char *what)
{
    int64_t deadline_ms = mono_ms() + timeout_ms;
    while (atomic_load(counter) < at_least) {
        if (mono_ms() > deadline_ms)
            fail_msg("timed out waiting for %s (%d of %d)", what, atomic_load(counter),
                     at_least);
        pause_ms(10);
    }
}

static long long count_rows(const char *where)
{
    char sql[300];
    long long n = -1;
    snprintf(sql, sizeof sql, "SELECT %s FROM " DB ".task_execs", where);
    assert_int_equal(tasker_test_mariadb_query_int(sql, &n), 0);
    return n;
}

static void crash_under_load_loses_nothing_and_stores_nothing_twice(void **state)
{
    (void)state;
    tasker_storage *st = open_store();
    atomic_bool stop = false;
    atomic_int acked = 0, failed = 0, lost = 0;
    pthread_t th[WRITERS];
    writer w[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (writer){.st = st, .thread_no = i, .stop = &stop, .acked = &acked,
                        .failed = &failed, .lost = &lost};
        assert_int_equal(pthread_create(&th[i], NULL, write_occurrences, &w[i]), 0);
    }
    wait_until(&acked, 300, 20000, "writes before the crash");
    assert_int_equal(tasker_test_mariadb_kill(), 0);
    wait_until(&failed, 1, 10000, "a call to fail while the server is down");
    int64_t restart_ms = mono_ms();
    restart_server();
    int after = atomic_load(&acked);
    wait_until(&acked, after + 300, 20000, "writes after the restart");
    int64_t recovered_ms = mono_ms() - restart_ms;
    atomic_store(&stop, true);
    int stored = 0;
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].unexpected, 0);
        if (w[i].bad_message[0]) fail_msg("unclear failure: %s", w[i].bad_message);
        stored += w[i].done;
    }
    /* Every acknowledged occurrence survived the crash, and each is stored once. */
    assert_int_equal(count_rows("COUNT(*)"), stored);
    assert_int_equal(count_rows("COUNT(DISTINCT scheme_id, scheduled_us)"), stored);
    fprintf(stderr, "# %d occurrences stored, %d calls failed (%d in flight), writes "
                    "resumed %lld ms after the server started\n",
            stored, atomic_load(&failed), atomic_load(&lost), (long long)recovered_ms);
    st->ops->close(st);
}

/* ---- calls while the server is down, and idle connections after a restart ---------- */

static void calls_while_down_fail_clearly_and_work_after_restart(void **state)
{
    (void)state;
    tasker_storage *st = open_store();
    tasker_task t = {.task_id = "down", .handler = "h", .param = "{}"};
    assert_int_equal(st->ops->add_task(st, &t), TASKER_OK);
    assert_int_equal(tasker_test_mariadb_stop(), 0);

    tasker_task got = {0};
    assert_int_equal(st->ops->get_task(st, "down", &got), TASKER_ESTORAGE);
    assert_non_null(strstr(tasker_last_error(), "mysql: cannot connect to root@localhost"));
    assert_int_equal(st->ops->add_task(st, &t), TASKER_ESTORAGE);
    assert_non_null(strstr(tasker_last_error(), "is the server running"));

    restart_server();
    assert_int_equal(st->ops->get_task(st, "down", &got), TASKER_OK);
    assert_string_equal(got.handler, "h");
    tasker_task_clear(&got);
    st->ops->close(st);
}

static void idle_pool_reconnects_by_itself_after_a_restart(void **state)
{
    (void)state;
    tasker_storage *st = open_store();
    tasker_task t = {.task_id = "idle", .handler = "h", .param = "[1]"};
    assert_int_equal(st->ops->add_task(st, &t), TASKER_OK);
    /* The pool now holds connections made before the restart. */
    assert_int_equal(tasker_test_mariadb_stop(), 0);
    restart_server();
    /* Nothing was in flight: neither a read nor a write may fail. */
    tasker_task got = {0};
    if (st->ops->get_task(st, "idle", &got) != TASKER_OK)
        fail_msg("read after restart: %s", tasker_last_error());
    assert_string_equal(got.param, "[1]");
    tasker_task_clear(&got);
    t.param = "[2]";
    if (st->ops->add_task(st, &t) != TASKER_OK)
        fail_msg("write after restart: %s", tasker_last_error());
    assert_int_equal(st->ops->get_task(st, "idle", &got), TASKER_OK);
    assert_string_equal(got.param, "[2]");
    tasker_task_clear(&got);
    st->ops->close(st);
}

/* ---- the cluster claim's faults (storage/mysql/claim.c) ----------------------------- */

static atomic_int claim_fault_next; /* the fault for the next claim's COMMIT, then 0 */
static atomic_bool claim_fault_always; /* the same fault at every COMMIT */
static atomic_bool put_back_fails;

static int claim_fault_hook(void)
{
    if (atomic_load(&claim_fault_always)) return atomic_load(&claim_fault_next);
    return atomic_exchange(&claim_fault_next, 0);
}

static int put_back_hook(void)
{
    return atomic_load(&put_back_fails) ? 1 : 0;
}

/* Adds task `task` (handler `handler`) and one pending run of it, due now. */
static void add_pending(tasker_storage *st, const char *task, const char *handler,
                        const char *exec_id)
{
    tasker_task t = {.task_id = (char *)task, .handler = (char *)handler, .param = "{}"};
    assert_int_equal(st->ops->add_task(st, &t), TASKER_OK);
    int64_t now_us = real_clock(NULL);
    tasker_task_exec e = {.exec_id = (char *)exec_id, .task_id = (char *)task,
                          .queued_us = now_us, .run_at_us = now_us,
                          .status = TASKER_EXEC_PENDING};
    assert_int_equal(st->ops->add_task_exec(st, &e), TASKER_OK);
}

/* Claims for node with handler; returns the rc, *n the runs handed out (their ids must
 * be exec_id when any). */
static int claim_as(tasker_storage *st, const char *node, const char *handler,
                    const char *exec_id, size_t *n)
{
    const char *handlers[] = {handler};
    tasker_task_exec *v = NULL;
    int rc = st->ops->claim_task_execs(st, node, handlers, 1, 8, real_clock(NULL) + 1000,
                                       &v, n);
    for (size_t i = 0; i < *n; i++) assert_string_equal(v[i].exec_id, exec_id);
    tasker_free_execs(v, *n);
    return rc;
}

/* The status of one run, read on the server. */
static long long row_status(const char *exec_id)
{
    char sql[200];
    long long v = -1;
    snprintf(sql, sizeof sql, "SELECT status FROM " DB ".task_execs WHERE exec_id = '%s'",
             exec_id);
    assert_int_equal(tasker_test_mariadb_query_int(sql, &v), 0);
    return v;
}

static long long row_on_node(const char *exec_id, const char *node)
{
    char sql[300];
    long long v = -1;
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM " DB ".task_execs WHERE exec_id = '%s' AND node_id = '%s'",
             exec_id, node);
    assert_int_equal(tasker_test_mariadb_query_int(sql, &v), 0);
    return v;
}

static void claim_cut_off_at_commit_is_put_back_before_any_later_claim(void **state)
{
    (void)state;
    tasker_storage *st = open_store(), *other = open_store();
    add_pending(st, "cut", "h-cut", "cut-1");
    my_test_before_claim_commit = claim_fault_hook;
    my_test_before_resolve = put_back_hook;
    atomic_store(&put_back_fails, true);
    /* The connection is lost at the claim's COMMIT, which did land: the claim is neither
     * won nor lost. Its put-back fails (the server "stays away"), so the claim fails. */
    atomic_store(&claim_fault_next, MY_FAULT_UNKNOWN_COMMITTED);
    size_t n = 99, handed = 0;
    assert_int_equal(claim_as(st, "node-a", "h-cut", "cut-1", &n), TASKER_ESTORAGE);
    assert_non_null(strstr(tasker_last_error(), "not put back yet"));
    handed += n;
    assert_int_equal(row_status("cut-1"), TASKER_EXEC_RUNNING); /* as the claim left it */
    /* Nobody runs it meanwhile: another node finds it running, and this store claims
     * nothing until the put-back succeeds. */
    assert_int_equal(claim_as(other, "node-b", "h-cut", "cut-1", &n), TASKER_OK);
    handed += n;
    assert_int_equal(claim_as(st, "node-a", "h-cut", "cut-1", &n), TASKER_ESTORAGE);
    handed += n;
    assert_int_equal(handed, 0);
    /* The server answers again: the run goes back to pending first, then is claimed. */
    atomic_store(&put_back_fails, false);
    assert_int_equal(claim_as(st, "node-a", "h-cut", "cut-1", &n), TASKER_OK);
    handed += n;
    assert_int_equal(row_on_node("cut-1", "node-a"), 1);
    assert_int_equal(claim_as(st, "node-a", "h-cut", "cut-1", &n), TASKER_OK);
    handed += n;
    assert_int_equal(claim_as(other, "node-b", "h-cut", "cut-1", &n), TASKER_OK);
    handed += n;
    assert_int_equal(handed, 1); /* handed out, so run, exactly once */
    /* The same cut-off COMMIT, put back within the call: claimed again there. */
    add_pending(st, "cut2", "h-cut2", "cut2-1");
    atomic_store(&claim_fault_next, MY_FAULT_UNKNOWN_COMMITTED);
    assert_int_equal(claim_as(st, "node-a", "h-cut2", "cut2-1", &n), TASKER_OK);
    assert_int_equal(n, 1);
    assert_int_equal(claim_as(other, "node-b", "h-cut2", "cut2-1", &n), TASKER_OK);
    assert_int_equal(n, 0);
    my_test_before_claim_commit = NULL;
    my_test_before_resolve = NULL;
    other->ops->close(other);
    st->ops->close(st);
}

static void claim_answered_success_for_a_run_another_node_took_is_not_started(void **state)
{
    (void)state;
    tasker_storage *st = open_store();
    my_test_before_claim_commit = claim_fault_hook;
    /* COMMIT says success, but a replicated claim of node "bf-winner" aborted this one
     * (Galera): the read after COMMIT finds the row on the other node; not handed out. */
    my_test_verify_claims = true;
    add_pending(st, "bf", "h-bf", "bf-1");
    atomic_store(&claim_fault_next, MY_FAULT_FALSE_SUCCESS);
    size_t n = 99;
    assert_int_equal(claim_as(st, "node-a", "h-bf", "bf-1", &n), TASKER_OK);
    assert_int_equal(n, 0);
    assert_int_equal(row_on_node("bf-1", "bf-winner"), 1);
    /* Without that read (a server that is not a Galera member) the same answer would
     * start the run on a second node: the rule is what keeps it from running twice. */
    my_test_verify_claims = false;
    add_pending(st, "bf2", "h-bf2", "bf2-1");
    atomic_store(&claim_fault_next, MY_FAULT_FALSE_SUCCESS);
    assert_int_equal(claim_as(st, "node-a", "h-bf2", "bf2-1", &n), TASKER_OK);
    assert_int_equal(n, 1);
    /* With the read, a claim that did stick is handed out as usual. */
    my_test_verify_claims = true;
    add_pending(st, "bf3", "h-bf3", "bf3-1");
    assert_int_equal(claim_as(st, "node-a", "h-bf3", "bf3-1", &n), TASKER_OK);
    assert_int_equal(n, 1);
    assert_int_equal(row_on_node("bf3-1", "node-a"), 1);
    my_test_verify_claims = false;
    my_test_before_claim_commit = NULL;
    st->ops->close(st);
}

static void claim_losing_every_try_to_conflicts_claims_nothing_and_is_no_error(void **state)
{
    (void)state;
    tasker_storage *st = open_store();
    add_pending(st, "dl", "h-dl", "dl-1");
    my_test_before_claim_commit = claim_fault_hook;
    atomic_store(&claim_fault_always, true);
    atomic_store(&claim_fault_next, MY_FAULT_DEADLOCK);
    size_t n = 99;
    assert_int_equal(claim_as(st, "node-a", "h-dl", "dl-1", &n), TASKER_OK);
    assert_int_equal(n, 0);
    assert_int_equal(row_status("dl-1"), TASKER_EXEC_PENDING); /* every try rolled back */
    atomic_store(&claim_fault_always, false);
    atomic_store(&claim_fault_next, 0);
    assert_int_equal(claim_as(st, "node-a", "h-dl", "dl-1", &n), TASKER_OK);
    assert_int_equal(n, 1);
    my_test_before_claim_commit = NULL;
    st->ops->close(st);
}

/* On a Galera member, claims after a conflict take a random slice of the first 4x
 * max due runs instead of the head, so that nodes claiming at once stop picking the
 * same rows. Each run is still handed out exactly once, in the claim's order within
 * its slice, and a slice never reaches past the window. */
static void claims_after_a_conflict_spread_over_the_queue(void **state)
{
    (void)state;
    enum { RUNS = 48, MAX = 4 };
    tasker_storage *st = open_store();
    tasker_task t = {.task_id = "spread", .handler = "h-spread", .param = "{}"};
    assert_int_equal(st->ops->add_task(st, &t), TASKER_OK);
    int64_t now_us = real_clock(NULL);
    char ids[RUNS][16];
    for (int i = 0; i < RUNS; i++) { /* claim order: queued_us, then exec_id */
        snprintf(ids[i], sizeof ids[i], "spread-%02d", i);
        tasker_task_exec e = {.exec_id = ids[i], .task_id = "spread", .queued_us = now_us + i,
                              .run_at_us = now_us, .status = TASKER_EXEC_PENDING};
        assert_int_equal(st->ops->add_task_exec(st, &e), TASKER_OK);
    }
    my_test_verify_claims = true; /* as on a Galera member */
    my_test_before_claim_commit = claim_fault_hook;
    atomic_store(&claim_fault_next, MY_FAULT_DEADLOCK); /* the first try conflicts */
    int handed[RUNS] = {0};
    int not_head = 0, claims = 0;
    const char *handlers[] = {"h-spread"};
    for (int round = 0; round < RUNS; round++) {
        tasker_task_exec *v = NULL;
        size_t n = 0;
        assert_int_equal(st->ops->claim_task_execs(st, "node-a", handlers, 1, MAX,
                                                   real_clock(NULL) + 1000, &v, &n),
                         TASKER_OK);
        if (!n) break;
        claims++;
        int head = -1, first = -1;
        for (int i = 0; i < RUNS && head < 0; i++)
            if (!handed[i]) head = i;
        for (size_t k = 0; k < n; k++) {
            int i = atoi(v[k].exec_id + strlen("spread-"));
            if (!k) first = i;
            else assert_true(i > atoi(v[k - 1].exec_id + strlen("spread-")));
            handed[i]++;
        }
        /* Within the window of 4 x max still pending from the head. */
        int pending_before = 0;
        for (int i = head; i < first; i++) pending_before += handed[i] == 0;
        assert_true(pending_before <= 3 * MAX);
        not_head += first != head;
        tasker_free_execs(v, n);
        if (claims == 6) atomic_store(&claim_fault_next, MY_FAULT_DEADLOCK); /* keep it recent */
    }
    for (int i = 0; i < RUNS; i++) assert_int_equal(handed[i], 1);
    /* Random slices: all taken at the head would be a chance of (1/4)^6 or less. */
    assert_true(not_head > 0);
    my_test_verify_claims = false;
    my_test_before_claim_commit = NULL;
    st->ops->close(st);
}

/* ---- fires stored started (add_started_execs, storage/mysql/exec.c) -------------------- */

static void add_task_h(tasker_storage *st, const char *task, const char *handler, bool paused)
{
    tasker_task t = {.task_id = (char *)task, .handler = (char *)handler, .param = "{}",
                     .paused = paused};
    assert_int_equal(st->ops->add_task(st, &t), TASKER_OK);
}

static tasker_task_exec fire(const char *id, const char *task, int64_t at_us, int64_t now_us)
{
    return (tasker_task_exec){.exec_id = (char *)id, .task_id = (char *)task,
                              .queued_us = now_us, .run_at_us = at_us, .attempt = 1,
                              .status = TASKER_EXEC_PENDING};
}

static long long rows_of(const char *exec_id)
{
    char sql[200];
    long long v = -1;
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM " DB ".task_execs WHERE exec_id = '%s'",
             exec_id);
    assert_int_equal(tasker_test_mariadb_query_int(sql, &v), 0);
    return v;
}

/* A batch with a run of a listed handler (started), one of another handler and one not
 * yet due (stored pending), then at most max_start started. */
static void fires_are_started_as_a_start_would_start_them(void **state)
{
    (void)state;
    tasker_storage *st = open_store();
    add_task_h(st, "f-ok", "h-f", false);
    add_task_h(st, "f-other", "h-x", false);
    const char *handlers[] = {"h-f"};
    int64_t now_us = real_clock(NULL);
    tasker_task_exec v[] = {fire("fs-1", "f-ok", 0, now_us), fire("fs-2", "f-other", 0, now_us),
                            fire("fs-3", "f-ok", now_us + 60 * 1000000LL, now_us),
                            fire("fs-4", "f-ok", now_us, now_us)};
    bool started[4];
    assert_int_equal(st->ops->add_started_execs(st, v, 4, now_us, "node-a", handlers, 1, 8,
                                                started),
                     TASKER_OK);
    assert_true(started[0] && !started[1] && !started[2] && started[3]);
    assert_int_equal(row_on_node("fs-1", "node-a"), 1);
    assert_int_equal(row_status("fs-1"), TASKER_EXEC_RUNNING);
    assert_int_equal(row_status("fs-2"), TASKER_EXEC_PENDING);
    assert_int_equal(row_status("fs-3"), TASKER_EXEC_PENDING);
    /* At most max_start of them; no handler list: any handler. */
    tasker_task_exec w[] = {fire("fm-1", "f-ok", 0, now_us), fire("fm-2", "f-other", 0, now_us),
                            fire("fm-3", "f-ok", 0, now_us)};
    bool ws[3];
    assert_int_equal(st->ops->add_started_execs(st, w, 3, now_us, "node-a", NULL, 0, 2, ws),
                     TASKER_OK);
    assert_true(ws[0] && ws[1] && !ws[2]);
    assert_int_equal(row_status("fm-3"), TASKER_EXEC_PENDING);
    /* A paused task in the batch: stored, nothing started (as add_task_execs stores it). */
    add_task_h(st, "f-paused", "h-f", true);
    tasker_task_exec x[] = {fire("fp-1", "f-ok", 0, now_us), fire("fp-2", "f-paused", 0, now_us)};
    bool xs[2] = {true, true};
    assert_int_equal(st->ops->add_started_execs(st, x, 2, now_us, "node-a", handlers, 1, 8, xs),
                     TASKER_OK);
    assert_true(!xs[0] && !xs[1]);
    assert_int_equal(row_status("fp-1"), TASKER_EXEC_PENDING);
    assert_int_equal(row_status("fp-2"), TASKER_EXEC_PENDING);
    /* A missing task: the whole batch refused, nothing stored. */
    tasker_task_exec y[] = {fire("fn-1", "f-ok", 0, now_us), fire("fn-2", "no-such", 0, now_us)};
    bool ys[2];
    assert_int_not_equal(st->ops->add_started_execs(st, y, 2, now_us, "node-a", handlers, 1, 8,
                                                    ys),
                         TASKER_OK);
    assert_int_equal(rows_of("fn-1"), 0);
    st->ops->close(st);
}

/* The COMMIT's faults: rolled back, nothing stored nor started; landed with its answer
 * lost, found out and answered as it was; landed and not found out (the server stays
 * away), the call fails and the run, running under node-a with nobody running it, is put
 * back before the next claim and then claimed exactly once. On a Galera member the
 * started rows are read back after the COMMIT. */
static void fires_are_started_only_once_committed(void **state)
{
    (void)state;
    tasker_storage *st = open_store();
    add_task_h(st, "g-ok", "h-g", false);
    const char *handlers[] = {"h-g"};
    int64_t now_us = real_clock(NULL);
    my_test_before_fire_commit = claim_fault_hook;

    tasker_task_exec x[] = {fire("gx-1", "g-ok", 0, now_us)};
    bool xs[1] = {true};
    atomic_store(&claim_fault_next, MY_FAULT_LOST);
    assert_int_equal(st->ops->add_started_execs(st, x, 1, now_us, "node-a", handlers, 1, 8, xs),
                     TASKER_ESTORAGE);
    assert_false(xs[0]);
    assert_int_equal(rows_of("gx-1"), 0);

    tasker_task_exec d[] = {fire("gd-1", "g-ok", 0, now_us)};
    bool ds[1] = {true};
    atomic_store(&claim_fault_next, MY_FAULT_DEADLOCK);
    assert_int_equal(st->ops->add_started_execs(st, d, 1, now_us, "node-a", handlers, 1, 8, ds),
                     TASKER_ESTORAGE);
    assert_false(ds[0]);
    assert_int_equal(rows_of("gd-1"), 0);

    tasker_task_exec y[] = {fire("gy-1", "g-ok", 0, now_us)};
    bool ys[1] = {false};
    atomic_store(&claim_fault_next, MY_FAULT_UNKNOWN_COMMITTED);
    assert_int_equal(st->ops->add_started_execs(st, y, 1, now_us, "node-a", handlers, 1, 8, ys),
                     TASKER_OK);
    assert_true(ys[0]);
    assert_int_equal(row_on_node("gy-1", "node-a"), 1);

    tasker_task_exec u[] = {fire("gu-1", "g-ok", 0, now_us)};
    bool us[1] = {true};
    add_task_h(st, "g-unk", "h-unk", false);
    u[0].task_id = "g-unk";
    const char *hs[] = {"h-unk"};
    my_test_before_resolve = put_back_hook;
    atomic_store(&put_back_fails, true);
    atomic_store(&claim_fault_next, MY_FAULT_UNKNOWN_COMMITTED);
    assert_int_equal(st->ops->add_started_execs(st, u, 1, now_us, "node-a", hs, 1, 8, us),
                     TASKER_ESTORAGE);
    assert_false(us[0]);
    assert_int_equal(row_on_node("gu-1", "node-a"), 1); /* it landed, running */
    atomic_store(&put_back_fails, false);
    my_test_before_fire_commit = NULL;
    tasker_storage *other = open_store();
    size_t n = 99, handed = 0;
    assert_int_equal(claim_as(other, "node-b", "h-unk", "gu-1", &n), TASKER_OK);
    assert_int_equal(n, 0); /* still running under node-a: not node-b's */
    tasker_task_exec *got = NULL;
    assert_int_equal(st->ops->claim_task_execs(st, "node-a", hs, 1, 8, real_clock(NULL) + 1000,
                                               &got, &n),
                     TASKER_OK);
    for (size_t i = 0; i < n; i++) handed += strcmp(got[i].exec_id, "gu-1") == 0;
    tasker_free_execs(got, n);
    assert_int_equal(claim_as(other, "node-b", "h-unk", "gu-1", &n), TASKER_OK);
    handed += n;
    assert_int_equal(handed, 1);
    my_test_before_resolve = NULL;
    other->ops->close(other);

    my_test_verify_claims = true;
    tasker_task_exec z[] = {fire("gz-1", "g-ok", 0, now_us)};
    bool zs[1];
    assert_int_equal(st->ops->add_started_execs(st, z, 1, now_us, "node-a", handlers, 1, 8, zs),
                     TASKER_OK);
    assert_true(zs[0]);
    my_test_verify_claims = false;
    st->ops->close(st);
}

/* A start batch that fails for good (every COMMIT a certification failure) while
 * another node claims its run: answered "not pending" (ESTATE), so that the worker does
 * not back off as from a store that is away. */
static atomic_int start_commits;

static void *take_run_for_node_b(void *arg)
{
    char sql[300];
    snprintf(sql, sizeof sql, "UPDATE " DB ".task_execs SET status = 1, node_id = 'node-b',"
             " start_us = 3 WHERE exec_id = '%s'", (const char *)arg);
    /* Waits for the batch's lock, then takes the row once the injected fault rolled
     * the batch back. */
    if (tasker_test_mariadb_sql(sql) != 0) fprintf(stderr, "# taking the run failed\n");
    return NULL;
}

static pthread_t taker;

static int deadlock_every_start_batch(const my_write *batch)
{
    bool start = false;
    for (const my_write *w = batch; w; w = w->next)
        start = start || w->kind == MW_START;
    if (!start) return 0;
    if (atomic_fetch_add(&start_commits, 1) == 0)
        pthread_create(&taker, NULL, take_run_for_node_b, "lost-1");
    return MY_FAULT_DEADLOCK;
}

static void start_that_loses_every_try_to_another_claim_is_not_pending(void **state)
{
    (void)state;
    tasker_storage *st = open_store();
    add_pending(st, "lost", "h-lost", "lost-1");
    my_test_before_commit = deadlock_every_start_batch;
    int rc = st->ops->start_task_exec(st, "lost-1", 5, "node-a");
    my_test_before_commit = NULL;
    pthread_join(taker, NULL);
    assert_true(atomic_load(&start_commits) > 1); /* tried again, failed every time */
    assert_int_equal(row_on_node("lost-1", "node-b"), 1);
    if (rc != TASKER_ESTATE)
        fail_msg("start answered %d (%s), not ESTATE", rc, tasker_last_error());
    st->ops->close(st);
}

static int setup(void **state)
{
    (void)state;
    if (tasker_test_mariadb_start() != 0) {
        fprintf(stderr, "MariaDB test server: %s\n", tasker_test_mariadb_error());
        return -1;
    }
    if (tasker_test_mariadb_fresh_db(DB) != 0) {
        fprintf(stderr, "MariaDB test server: %s\n", tasker_test_mariadb_error());
        return -1;
    }
    tasker_storage *st = open_store();
    tasker_task t = {.task_id = "f", .handler = "h", .param = "{}"};
    tasker_task_scheme s = {.scheme_id = "s1", .task_id = "f", .cron = "* * * * *"};
    int rc = st->ops->add_task(st, &t);
    if (rc == TASKER_OK) rc = st->ops->add_task_scheme(st, &s, NULL);
    st->ops->close(st);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    tasker_test_mariadb_sql("DROP DATABASE IF EXISTS " DB);
    return 0;
}

int main(void)
{
    if (tasker_test_mariadb_start() == 0 && tasker_test_mariadb_external()) {
        /* Said, not silent: these tests stop and start the server. */
        printf("# SKIP test_mysql_faults: TASKER_TEST_MYSQL_DSN names a server that is not "
               "ours to restart\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crash_under_load_loses_nothing_and_stores_nothing_twice),
        cmocka_unit_test(calls_while_down_fail_clearly_and_work_after_restart),
        cmocka_unit_test(idle_pool_reconnects_by_itself_after_a_restart),
        cmocka_unit_test(claim_cut_off_at_commit_is_put_back_before_any_later_claim),
        cmocka_unit_test(claim_answered_success_for_a_run_another_node_took_is_not_started),
        cmocka_unit_test(claim_losing_every_try_to_conflicts_claims_nothing_and_is_no_error),
        cmocka_unit_test(claims_after_a_conflict_spread_over_the_queue),
        cmocka_unit_test(fires_are_started_as_a_start_would_start_them),
        cmocka_unit_test(fires_are_started_only_once_committed),
        cmocka_unit_test(start_that_loses_every_try_to_another_claim_is_not_pending),
    };
    return cmocka_run_group_tests_name("mysql_faults", tests, setup, teardown);
}
