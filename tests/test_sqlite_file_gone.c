/* A SQLite store whose file is deleted or replaced while it is open stops acknowledging
 * writes: a trigger then fails with TASKER_ESTORAGE and a message saying what happened,
 * instead of succeeding into a file nobody will ever read again. */
#include "support/tmpdir.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <tasker/tasker.h>

typedef tmpfile_fixture fixture;

static tasker_t *open_store(const char *path)
{
    char dsn[600];
    snprintf(dsn, sizeof dsn, "sqlite:%s", path);
    tasker_options o = {.workers = -1}; /* triggers stay pending: only writes matter */
    tasker_t *t = tasker_open_opts(dsn, &o);
    assert_non_null(t);
    assert_int_equal(tasker_add_task(t, "job", "h", NULL), TASKER_OK);
    char id[TASKER_ID_SIZE];
    assert_int_equal(tasker_trigger(t, "job", id), TASKER_OK);
    return t;
}

static void assert_refused_as_gone(tasker_t *t, const char *path)
{
    char id[TASKER_ID_SIZE];
    assert_int_equal(tasker_trigger(t, "job", id), TASKER_ESTORAGE);
    const char *msg = tasker_last_error();
    if (!strstr(msg, "deleted or replaced")) fprintf(stderr, "message: %s\n", msg);
    assert_non_null(strstr(msg, path));
    assert_non_null(strstr(msg, "the database file was deleted or replaced while open; "
                                "reopen the store"));
    /* Every write, not only triggers; and it stays so. */
    assert_int_equal(tasker_add_task(t, "other", "h", NULL), TASKER_ESTORAGE);
    assert_int_equal(tasker_trigger(t, "job", id), TASKER_ESTORAGE);
}

static void deleted_file_fails_triggers(void **state)
{
    fixture *f = *state;
    tasker_t *t = open_store(f->path);
    assert_int_equal(unlink(f->path), 0);
    assert_refused_as_gone(t, f->path);
    tasker_close(t);
}

static void replaced_file_fails_triggers(void **state)
{
    fixture *f = *state;
    tasker_t *t = open_store(f->path);
    /* Another tasker file put in its place, as a restore from a backup would. */
    char *other = tmpdir_join(f->dir, "other.db");
    tasker_t *o = open_store(other);
    tasker_close(o);
    assert_int_equal(rename(other, f->path), 0);
    assert_refused_as_gone(t, f->path);
    tasker_close(t);

    /* The file in place now is a good store of its own: a new handle writes to it. */
    t = open_store(f->path);
    tasker_close(t);
    free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(deleted_file_fails_triggers, tmpfile_setup,
                                        tmpfile_teardown),
        cmocka_unit_test_setup_teardown(replaced_file_fails_triggers, tmpfile_setup,
                                        tmpfile_teardown),
    };
    return cmocka_run_group_tests_name("sqlite_file_gone", tests, NULL, NULL);
}
