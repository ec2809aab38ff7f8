/* Several processes on one SQLite file: daemons running executions while a short-lived
 * command opens, reads, writes and closes. Under this load no write may fail ("database
 * is locked" must not reach a caller), and the file must hold every write. */
#include "support/sqlite_fixture.h"
#include "support/tmpdir.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define DAEMONS 3
#define RUNS_PER_DAEMON 300
#define COMMAND_ROUNDS 40

#define CHILD_CHECK(cond)                                                                \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "child %d: %s failed: %s\n", (int)getpid(), #cond,           \
                    tasker_last_error());                                                \
            _exit(1);                                                                    \
        }                                                                                \
    } while (0)

/* Blocks until the parent closes the pipe, so that all children start together. */
static void wait_for_start(int fd)
{
    char c;
    while (read(fd, &c, 1) > 0) {}
    close(fd);
}

/* What a daemon does per run: add, start, one event, finish; and list as it goes. */
static void daemon_main(const char *path, int which)
{
    tasker_storage *st = sqlite_fixture_open(path, NULL);
    CHILD_CHECK(st != NULL);
    st->env.max_execs_per_task = -1;
    for (int i = 0; i < RUNS_PER_DAEMON; i++) {
        char id[32];
        snprintf(id, sizeof id, "d%d-%04d", which, i);
        CHILD_CHECK(sqlite_fixture_add_exec(st, id, "t", sqlite_fixture_now_us()) == TASKER_OK);
        CHILD_CHECK(st->ops->start_task_exec(st, id, sqlite_fixture_now_us(), "n") ==
                    TASKER_OK);
        tasker_task_event ev = {.exec_id = id, .time_us = 1, .message = "tick"};
        CHILD_CHECK(st->ops->add_task_event(st, &ev) == TASKER_OK);
        tasker_task_exec done = {.exec_id = id, .status = TASKER_EXEC_SUCCESS,
                                 .end_us = sqlite_fixture_now_us(), .success = true};
        CHILD_CHECK(st->ops->update_task_exec(st, &done) == TASKER_OK);
        if (i % 10 == 0) {
            tasker_task_exec *v;
            size_t n;
            CHILD_CHECK(st->ops->list_task_execs(st, "t", 5, &v, &n) == TASKER_OK);
            tasker_free_execs(v, n);
        }
    }
    st->ops->close(st);
}

/* What the `tasker` command does: open, read, write a little, close. */
static void command_main(const char *path)
{
    for (int i = 0; i < COMMAND_ROUNDS; i++) {
        tasker_storage *st = sqlite_fixture_open(path, NULL);
        CHILD_CHECK(st != NULL);
        char id[32];
        snprintf(id, sizeof id, "cmd-%d", i);
        CHILD_CHECK(sqlite_fixture_add_task(st, id) == TASKER_OK);
        tasker_task *tasks;
        size_t n;
        CHILD_CHECK(st->ops->list_tasks(st, &tasks, &n) == TASKER_OK);
        CHILD_CHECK(n >= 2);
        tasker_free_tasks(tasks, n);
        tasker_task_exec *v;
        CHILD_CHECK(st->ops->list_task_execs(st, NULL, 20, &v, &n) == TASKER_OK);
        tasker_free_execs(v, n);
        st->ops->close(st);
    }
}

static void daemons_and_a_command_share_one_file_without_errors(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    char *path = tmpdir_join(dir, "shared.db");
    tasker_storage *st = sqlite_fixture_open(path, NULL);
    assert_non_null(st);
    assert_int_equal(sqlite_fixture_add_task(st, "t"), TASKER_OK);
    st->ops->close(st);

    int gate[2];
    assert_int_equal(pipe(gate), 0);
    pid_t pids[DAEMONS + 1];
    fflush(NULL);
    for (int i = 0; i <= DAEMONS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(gate[1]);
            wait_for_start(gate[0]);
            if (i < DAEMONS) daemon_main(path, i);
            else command_main(path);
            _exit(0);
        }
    }
    close(gate[0]);
    close(gate[1]);
    for (int i = 0; i <= DAEMONS; i++) {
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_true(sqlite_fixture_integrity_ok(path));
    assert_int_equal(sqlite_fixture_query_int(path, "SELECT count(*) FROM execs WHERE status = 2"),
                     DAEMONS * RUNS_PER_DAEMON);
    assert_int_equal(sqlite_fixture_query_int(path, "SELECT count(*) FROM events"),
                     DAEMONS * RUNS_PER_DAEMON);
    assert_int_equal(sqlite_fixture_query_int(path, "SELECT count(*) FROM tasks"),
                     1 + COMMAND_ROUNDS);
    free(path);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(daemons_and_a_command_share_one_file_without_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
