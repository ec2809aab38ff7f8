/* Crash tests of the job lifecycle on SQLite (design section 6), with SIGKILL:
 *  - a failure and its retry are one write: a child whose handler fails (max_attempts
 *    3) is killed from the exec hook, right after the failure was stored. The reopened
 *    store holds both the failed attempt 1 and the pending attempt 2 (retry_of the
 *    first, not before its backoff), and attempt 2 then runs exactly once;
 *  - a delayed run (run_at about 2 s ahead) survives a kill -9 of the process that
 *    queued it, and after the reopen runs exactly once, not before its time. */
#include "support/sqlite_fixture.h"
#include "support/testutil.h"
#include "support/tmpdir.h"

#include <tasker/context.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_MS 1500
#define DELAY_MS 2000

/* What the handler of the reopened handle saw. */
typedef struct {
    atomic_int runs;
    _Atomic int64_t first_start_us; /* the real clock at its first run */
} run_log;

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int fail_handler(tasker_ctx *c)
{
    tasker_event(c, TASKER_ERROR, "failing on purpose, attempt %d", tasker_attempt(c));
    return 1;
}

static int counting_handler(tasker_ctx *c)
{
    run_log *log = tasker_udata(c);
    int64_t zero = 0;
    atomic_compare_exchange_strong(&log->first_start_us, &zero, wall_us());
    atomic_fetch_add(&log->runs, 1);
    return 0;
}

/* The child's hook: dies the moment a failure is stored, as a crash would. */
static void kill_on_failure(tasker_t *t, const tasker_task_exec *e, void *udata)
{
    (void)t, (void)udata;
    if (e->status == TASKER_EXEC_FAILED) raise(SIGKILL);
}

/* The child's way out when a call fails: says which and why, for the parent's log. */
static void child_die(int code, const char *what)
{
    fprintf(stderr, "child: %s: %s\n", what, tasker_last_error());
    _exit(code);
}

static tasker_options opts(const char *node_id, int workers)
{
    return (tasker_options){
        .workers = workers, .max_execs_per_task = -1, .max_exec_age_s = -1, .node_id = node_id};
}

static void expect_killed(pid_t pid)
{
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
        fprintf(stderr, "child ended by itself: status %d\n", status);
        fail();
    }
}

static void child_fail_once(const char *dsn)
{
    tasker_options o = opts(NULL, 1);
    tasker_t *t = tasker_open_opts(dsn, &o);
    if (!t) child_die(2, "open");
    tasker_task_opts to = {.max_attempts = 3, .backoff_ms = BACKOFF_MS};
    if (tasker_register(t, "work", fail_handler, NULL) != TASKER_OK ||
        tasker_add_task_opts(t, "job", "work", "{}", &to) != TASKER_OK)
        child_die(3, "add the task");
    tasker_set_exec_hook(t, kill_on_failure, NULL);
    if (tasker_trigger(t, "job", NULL) != TASKER_OK) child_die(4, "trigger");
    for (;;)
        pause(); /* the hook kills us; a test timeout catches a hang */
}

/* Finds the attempt-th run among v (NULL when none). */
static const tasker_task_exec *attempt_of(const tasker_task_exec *v, size_t n, int attempt)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].attempt == attempt) return &v[i];
    return NULL;
}

static void kill_between_failure_and_retry_loses_neither(void **state)
{
    tmpfile_fixture *f = *state;
    char dsn[4200];
    snprintf(dsn, sizeof dsn, "sqlite:%s", f->path);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) child_fail_once(dsn);
    expect_killed(pid);
    assert_true(sqlite_fixture_integrity_ok(f->path));

    tasker_options o = opts("crash-parent", 1);
    tasker_t *t = tasker_open_opts(dsn, &o);
    assert_non_null(t);
    tasker_task_exec *v = NULL;
    size_t n = 0;
    assert_int_equal(tasker_list_execs(t, "job", &v, &n), TASKER_OK);
    assert_int_equal(n, 2);
    const tasker_task_exec *first = attempt_of(v, n, 1), *retry = attempt_of(v, n, 2);
    assert_non_null(first);
    assert_non_null(retry);
    assert_int_equal(first->status, TASKER_EXEC_FAILED);
    assert_int_equal(retry->status, TASKER_EXEC_PENDING);
    assert_non_null(retry->retry_of);
    assert_string_equal(retry->retry_of, first->exec_id);
    assert_true(retry->run_at_us > first->end_us); /* after a backoff, with jitter */
    char retry_id[TASKER_ID_SIZE];
    snprintf(retry_id, sizeof retry_id, "%s", retry->exec_id);
    int64_t run_at_us = retry->run_at_us;
    tasker_free_execs(v, n);

    /* The reopened node runs the retry, which now succeeds: once, not before its time. */
    run_log log = {0};
    assert_int_equal(tasker_register(t, "work", counting_handler, &log), TASKER_OK);
    assert_int_equal(tasker_start(t), TASKER_OK);
    assert_int_equal(tasker_wait(t, retry_id, 30000), TASKER_OK);
    tasker_task_exec e;
    assert_int_equal(tasker_get_exec(t, retry_id, &e), TASKER_OK);
    assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
    assert_int_equal(e.attempt, 2);
    assert_true(e.start_us >= run_at_us);
    tasker_exec_clear(&e);
    assert_int_equal(atomic_load(&log.runs), 1);
    assert_int_equal(tasker_list_execs(t, "job", &v, &n), TASKER_OK);
    assert_int_equal(n, 2); /* no third attempt after a success */
    tasker_free_execs(v, n);
    tasker_close(t);
}

static void child_delay_then_die(const char *dsn, int fd)
{
    tasker_options o = opts(NULL, 1);
    tasker_t *t = tasker_open_opts(dsn, &o);
    if (!t) child_die(2, "open");
    static run_log unused;
    char id[TASKER_ID_SIZE];
    tasker_run_opts ro = {.delay_ms = DELAY_MS};
    if (tasker_register(t, "work", counting_handler, &unused) != TASKER_OK ||
        tasker_add_task(t, "later", "work", "{}") != TASKER_OK ||
        tasker_trigger_opts(t, "later", &ro, id) != TASKER_OK)
        child_die(3, "a delayed trigger");
    if (write(fd, id, sizeof id) != (ssize_t)sizeof id) _exit(4);
    raise(SIGKILL);
    _exit(5);
}

static void delayed_run_survives_kill_and_runs_once(void **state)
{
    tmpfile_fixture *f = *state;
    char dsn[4200];
    snprintf(dsn, sizeof dsn, "sqlite:%s", f->path);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    int64_t before_us = wall_us();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child_delay_then_die(dsn, fds[1]);
    }
    close(fds[1]);
    char id[TASKER_ID_SIZE] = "";
    ssize_t got = read(fds[0], id, sizeof id);
    close(fds[0]);
    expect_killed(pid);
    assert_int_equal(got, (ssize_t)sizeof id);

    tasker_options o = opts("crash-parent", 2);
    tasker_t *t = tasker_open_opts(dsn, &o);
    assert_non_null(t);
    tasker_task_exec e;
    assert_int_equal(tasker_get_exec(t, id, &e), TASKER_OK);
    assert_int_equal(e.status, TASKER_EXEC_PENDING);
    assert_true(e.run_at_us >= before_us + DELAY_MS * 1000);
    int64_t run_at_us = e.run_at_us;
    tasker_exec_clear(&e);

    run_log log = {0};
    assert_int_equal(tasker_register(t, "work", counting_handler, &log), TASKER_OK);
    assert_int_equal(tasker_start(t), TASKER_OK);
    assert_int_equal(tasker_wait(t, id, 30000), TASKER_OK);
    assert_int_equal(tasker_get_exec(t, id, &e), TASKER_OK);
    assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
    assert_true(e.start_us >= run_at_us);
    tasker_exec_clear(&e);
    assert_int_equal(atomic_load(&log.runs), 1);
    assert_true(atomic_load(&log.first_start_us) >= run_at_us);
    tasker_close(t);

    /* A second restart finds it done: it does not run again. */
    t = tasker_open_opts(dsn, &o);
    assert_non_null(t);
    run_log again = {0};
    assert_int_equal(tasker_register(t, "work", counting_handler, &again), TASKER_OK);
    tasker_wake(t);
    tasker_task_exec *v = NULL;
    size_t n = 0;
    assert_int_equal(tasker_list_execs(t, "later", &v, &n), TASKER_OK);
    assert_int_equal(n, 1);
    tasker_free_execs(v, n);
    tasker_close(t);
    assert_int_equal(atomic_load(&again.runs), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(kill_between_failure_and_retry_loses_neither, tmpfile_setup,
                                        tmpfile_teardown),
        cmocka_unit_test_setup_teardown(delayed_run_survives_kill_and_runs_once, tmpfile_setup,
                                        tmpfile_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
