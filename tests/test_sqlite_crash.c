/* Crash recovery on SQLite, for real: a child process triggers runs as fast as it can
 * (two workers run them, each logging an event) and is killed with SIGKILL at a random
 * moment, 50 times over one file. The child tells the parent each execution id whose
 * tasker_trigger() returned, through a pipe. After each kill the parent checks that
 * the file passes integrity_check, reopens it, and finds every acknowledged execution;
 * none is left running (those the kill cut short are interrupted, with an end time),
 * and those still pending are run by the reopened handle. Odd rounds trigger in batches
 * of BATCH with tasker_trigger_many(), which stores a batch whole or not at all. */
#include "support/sqlite_fixture.h"
#include "support/tmpdir.h"
#include "support/testutil.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 50
#define MAX_ACKS 4096
#define BATCH 8

static int work_handler(tasker_ctx *c)
{
    tasker_event(c, TASKER_NORMAL, "working on %s", tasker_exec_id(c));
    /* A little work, so that runs are caught running by the kill too. */
    struct timespec ts = {0, 200 * 1000};
    nanosleep(&ts, NULL);
    return 0;
}

static tasker_options keep_all(const char *node_id)
{
    return (tasker_options){.workers = 2, .max_execs_per_task = -1, .max_exec_age_s = -1,
                            .node_id = node_id};
}

/* The child: trigger forever (one by one, or in batches), acknowledging each returned
 * id on fd (64-byte records, which a pipe writes whole or not at all). */
static void child_main(const char *dsn, int fd, bool batches)
{
    tasker_options o = keep_all(NULL); /* hostname:pid, which the reopen sees is dead */
    tasker_t *t = tasker_open_opts(dsn, &o);
    if (!t) _exit(2);
    if (tasker_register(t, "work", work_handler, NULL) != TASKER_OK) _exit(3);
    if (tasker_add_task(t, "job", "work", "{}") != TASKER_OK) _exit(4);
    const char *tasks[BATCH];
    for (int i = 0; i < BATCH; i++) tasks[i] = "job";
    for (;;) {
        char ids[BATCH][TASKER_ID_SIZE] = {{0}};
        int n = batches ? BATCH : 1;
        if (n == 1 && tasker_trigger(t, "job", ids[0]) != TASKER_OK) _exit(5);
        if (n > 1 && tasker_trigger_many(t, tasks, (size_t)n, ids) != TASKER_OK) _exit(5);
        for (int i = 0; i < n; i++)
            if (write(fd, ids[i], sizeof ids[i]) != (ssize_t)sizeof ids[i]) _exit(6);
    }
}

/* Forks the child, reads acknowledgements until `kill_after` of them have come (0 =
 * kill at once), kills it, and reads the rest. Returns how many ids are in acks. */
static size_t run_and_kill(const char *dsn, size_t kill_after, bool batches,
                           char (*acks)[TASKER_ID_SIZE])
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child_main(dsn, fds[1], batches);
    }
    close(fds[1]);
    size_t n = 0;
    bool killed = false;
    for (;;) {
        if (!killed && n >= kill_after) {
            kill(pid, SIGKILL);
            killed = true;
        }
        ssize_t got = read(fds[0], acks[n], TASKER_ID_SIZE);
        if (got == 0) break;
        if (got < 0 && errno == EINTR) continue;
        assert_int_equal(got, TASKER_ID_SIZE);
        if (n + 1 < MAX_ACKS) n++;
    }
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
        fprintf(stderr, "child ended by itself: status %d\n", status);
        fail();
    }
    return n;
}

static bool none_unfinished(void *arg)
{
    tasker_task_exec *v;
    size_t n;
    if (tasker_list_execs(arg, "job", &v, &n) != TASKER_OK) return false;
    bool done = true;
    for (size_t i = 0; i < n && done; i++)
        done = v[i].status != TASKER_EXEC_PENDING && v[i].status != TASKER_EXEC_RUNNING;
    tasker_free_execs(v, n);
    return done;
}

typedef struct {
    size_t acked, interrupted, run_after_reopen;
} round_stats;

/* Reopens the file, lets the reopened handle run what was left pending, and checks
 * every acknowledged execution. */
static void check_after_kill(const char *dsn, char (*acks)[TASKER_ID_SIZE], size_t n_acks,
                             round_stats *stats)
{
    tasker_options o = keep_all("crash-parent");
    tasker_t *t = tasker_open_opts(dsn, &o);
    if (!t) fprintf(stderr, "reopen: %s\n", tasker_last_error());
    assert_non_null(t);
    assert_int_equal(tasker_register(t, "work", work_handler, NULL), TASKER_OK);
    tasker_wake(t); /* queues what the child left pending, now that "work" is known */
    if (!test_wait_for(none_unfinished, t, 30000)) {
        tasker_task_exec *v;
        size_t n;
        if (tasker_list_execs(t, "job", &v, &n) == TASKER_OK) {
            for (size_t i = 0; i < n; i++)
                if (v[i].status == TASKER_EXEC_PENDING || v[i].status == TASKER_EXEC_RUNNING)
                    fprintf(stderr, "left %s: %s node %s\n", v[i].exec_id,
                            tasker_exec_status_name(v[i].status),
                            v[i].node_id ? v[i].node_id : "-");
            tasker_free_execs(v, n);
        }
        fail();
    }
    for (size_t i = 0; i < n_acks; i++) {
        tasker_task_exec e;
        int rc = tasker_get_exec(t, acks[i], &e);
        if (rc != TASKER_OK) fprintf(stderr, "acknowledged %s: lost\n", acks[i]);
        assert_int_equal(rc, TASKER_OK);
        assert_true(e.end_us > 0);
        if (e.status == TASKER_EXEC_INTERRUPTED) {
            stats->interrupted++;
            assert_non_null(e.error);
            assert_non_null(strstr(e.error, "interrupted"));
        } else if (e.node_id && strcmp(e.node_id, "crash-parent") == 0) {
            stats->run_after_reopen++; /* was pending at the kill */
            assert_true(e.start_us > 0);
            assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
        }
        tasker_exec_clear(&e);
    }
    stats->acked += n_acks;
    tasker_close(t);
}

static void killed_child_loses_no_acknowledged_trigger(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    char *path = tmpdir_join(dir, "crash.db");
    char dsn[4200];
    snprintf(dsn, sizeof dsn, "sqlite:%s", path);
    unsigned seed = (unsigned)time(NULL);
    srand(seed);
    char(*acks)[TASKER_ID_SIZE] = calloc(MAX_ACKS, TASKER_ID_SIZE);
    round_stats stats = {0};
    for (int round = 0; round < ROUNDS; round++) {
        /* Round 0 kills the child at once, maybe while it creates the file. */
        size_t kill_after = round == 0 ? 0 : (size_t)(rand() % 200);
        size_t n = run_and_kill(dsn, kill_after, round % 2 == 1, acks);
        if (access(path, F_OK) == 0 && !sqlite_fixture_integrity_ok(path)) {
            fprintf(stderr, "round %d (seed %u): integrity_check failed\n", round, seed);
            fail();
        }
        check_after_kill(dsn, acks, n, &stats);
    }
    fprintf(stderr,
            "crash test (seed %u): %zu acknowledged, %zu interrupted, %zu run after a reopen\n",
            seed, stats.acked, stats.interrupted, stats.run_after_reopen);
    assert_true(stats.acked > 0);
    assert_true(sqlite_fixture_integrity_ok(path));
    free(acks);
    free(path);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(killed_child_loses_no_acknowledged_trigger),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
