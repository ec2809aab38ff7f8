/* The SQLite driver given bad ground: a path that cannot be created, a file that is not
 * a database, a read-only file, a full disk. Each gives TASKER_ESTORAGE with a message
 * naming the path, and no file is corrupted. */
#include "support/sqlite_fixture.h"
#include "support/tmpdir.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

typedef tmpfile_fixture fixture;

static void assert_storage_error_naming(const char *path, const char *words)
{
    const char *msg = tasker_last_error();
    if (!strstr(msg, path) || !strstr(msg, words))
        fprintf(stderr, "message: %s\n", msg);
    assert_non_null(strstr(msg, path));
    assert_non_null(strstr(msg, words));
}

static void path_in_missing_directory_cannot_be_created(void **state)
{
    fixture *f = *state;
    char *path = tmpdir_join(f->dir, "no/such/dir/x.db");
    assert_null(sqlite_fixture_open(path, NULL));
    assert_storage_error_naming(path, "cannot create");
    free(path);
    /* A path under a regular file. */
    char *file = tmpdir_join(f->dir, "plain");
    fclose(fopen(file, "w"));
    path = tmpdir_join(file, "x.db");
    assert_null(sqlite_fixture_open(path, NULL));
    assert_storage_error_naming(path, "Not a directory");
    free(path);
    free(file);
}

static void file_that_is_not_a_database_is_refused_untouched(void **state)
{
    fixture *f = *state;
    char junk[8192];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (char)(i * 7 + 3);
    FILE *fp = fopen(f->path, "wb");
    fwrite(junk, 1, sizeof junk, fp);
    fclose(fp);
    assert_null(sqlite_fixture_open(f->path, NULL));
    assert_storage_error_naming(f->path, "not a SQLite database");
    char back[sizeof junk + 1];
    fp = fopen(f->path, "rb");
    assert_int_equal(fread(back, 1, sizeof back, fp), sizeof junk);
    fclose(fp);
    assert_memory_equal(back, junk, sizeof junk);
}

static void make_database(const char *path)
{
    tasker_storage *st = sqlite_fixture_open(path, NULL);
    assert_non_null(st);
    assert_int_equal(sqlite_fixture_add_task(st, "t"), TASKER_OK);
    assert_int_equal(sqlite_fixture_add_exec(st, "before", "t", sqlite_fixture_now_us()),
                     TASKER_OK);
    st->ops->close(st);
}

/* Runs fn in a child process and returns its exit status (0 = its asserts held). */
static int in_child(void (*fn)(const char *path), const char *path)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        fn(path);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#define CHILD_CHECK(cond, code)                                                          \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "child: %s failed: %s\n", #cond, tasker_last_error());       \
            _exit(code);                                                                 \
        }                                                                                \
    } while (0)

static void open_read_only(const char *path)
{
    /* root writes through any mode; an unprivileged user does not. */
    if (geteuid() == 0) {
        CHILD_CHECK(setgid(65534) == 0 && setuid(65534) == 0, 10);
    }
    tasker_storage *st = sqlite_fixture_open(path, NULL);
    CHILD_CHECK(st == NULL, 11);
    CHILD_CHECK(strstr(tasker_last_error(), path) != NULL, 12);
    CHILD_CHECK(strstr(tasker_last_error(), "read-only") != NULL, 13);
}

static void read_only_file_is_refused_with_a_clear_error(void **state)
{
    fixture *f = *state;
    make_database(f->path);
    assert_int_equal(chmod(f->dir, 0755), 0);
    assert_int_equal(chmod(f->path, 0444), 0);
    assert_int_equal(in_child(open_read_only, f->path), 0);
    assert_int_equal(chmod(f->path, 0600), 0);
    assert_true(sqlite_fixture_integrity_ok(f->path));
    assert_int_equal(
        sqlite_fixture_query_int(f->path, "SELECT count(*) FROM execs WHERE exec_id='before'"),
        1);
}

/* Fills the store until the file size limit stops a write. */
static void write_until_full(const char *path)
{
    tasker_storage *st = sqlite_fixture_open(path, NULL);
    CHILD_CHECK(st != NULL, 20);
    st->env.max_execs_per_task = -1;
    signal(SIGXFSZ, SIG_IGN); /* a write past the limit then fails with EFBIG */
    struct rlimit lim = {.rlim_cur = 256 * 1024, .rlim_max = RLIM_INFINITY};
    CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0, 21);
    static char result[20000];
    memset(result, 'x', sizeof result - 3);
    result[0] = '"';
    result[sizeof result - 2] = '"';
    int rc = TASKER_OK;
    for (int i = 0; i < 1000 && rc == TASKER_OK; i++) {
        char id[32];
        snprintf(id, sizeof id, "fill-%d", i);
        tasker_task_exec e = {.exec_id = id, .task_id = "t", .queued_us = sqlite_fixture_now_us(),
                              .status = TASKER_EXEC_SUCCESS, .result = result};
        rc = st->ops->add_task_exec(st, &e);
    }
    CHILD_CHECK(rc == TASKER_ESTORAGE, 22);
    CHILD_CHECK(strstr(tasker_last_error(), path) != NULL, 23);
    /* Still refuses cleanly, and reads still work. */
    tasker_task_exec e = {.exec_id = "late", .task_id = "t", .status = TASKER_EXEC_SUCCESS,
                          .result = result};
    CHILD_CHECK(st->ops->add_task_exec(st, &e) == TASKER_ESTORAGE, 24);
    tasker_task_exec got;
    CHILD_CHECK(st->ops->get_task_exec(st, "before", &got) == TASKER_OK, 25);
    tasker_exec_clear(&got);
    st->ops->close(st);
}

static void full_disk_fails_writes_and_keeps_the_file_whole(void **state)
{
    fixture *f = *state;
    make_database(f->path);
    assert_int_equal(in_child(write_until_full, f->path), 0);
    assert_true(sqlite_fixture_integrity_ok(f->path));
    assert_int_equal(
        sqlite_fixture_query_int(f->path, "SELECT count(*) FROM execs WHERE exec_id='before'"),
        1);
    assert_true(sqlite_fixture_query_int(f->path, "SELECT count(*) FROM execs") > 1);
    /* With room again, the store takes writes. */
    tasker_storage *st = sqlite_fixture_open(f->path, NULL);
    assert_non_null(st);
    assert_int_equal(sqlite_fixture_add_exec(st, "after", "t", sqlite_fixture_now_us()),
                     TASKER_OK);
    st->ops->close(st);
    assert_true(sqlite_fixture_integrity_ok(f->path));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(path_in_missing_directory_cannot_be_created, tmpfile_setup,
                                        tmpfile_teardown),
        cmocka_unit_test_setup_teardown(file_that_is_not_a_database_is_refused_untouched,
                                        tmpfile_setup, tmpfile_teardown),
        cmocka_unit_test_setup_teardown(read_only_file_is_refused_with_a_clear_error, tmpfile_setup,
                                        tmpfile_teardown),
        cmocka_unit_test_setup_teardown(full_disk_fails_writes_and_keeps_the_file_whole,
                                        tmpfile_setup, tmpfile_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
