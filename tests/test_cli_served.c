/* `tasker trigger` beside a C program that serves the same SQLite store: the command
 * must not claim "no daemon is running" (the program has the handler and runs the
 * trigger), and once the program has closed the store it says so, since then it is
 * known that no process has the handler. Runs the built `tasker` binary. */
#include "support/testutil.h"
#include "support/tmpdir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dir;
static char dsn[600];

static int send_email(tasker_ctx *c)
{
    tasker_event(c, TASKER_NORMAL, "sent");
    return 0;
}

/* Runs `tasker --db DSN args` with stderr into stdout; returns its output (malloc'd). */
static char *run_cli(const char *args)
{
    const char *build = getenv("TASKER_TEST_BUILD_DIR");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s/tasker' --db '%s' %s 2>&1", build ? build : ".", dsn, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *out = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&out, &len);
    char buf[512];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        fwrite(buf, 1, n, m);
    fclose(m);
    assert_int_equal(pclose(p), 0);
    return out;
}

/* The exec id: the last line of the trigger's output. */
static void last_line(const char *out, char id[TASKER_ID_SIZE])
{
    const char *end = out + strlen(out);
    while (end > out && end[-1] == '\n')
        end--;
    const char *start = end;
    while (start > out && start[-1] != '\n')
        start--;
    snprintf(id, TASKER_ID_SIZE, "%.*s", (int)(end - start), start);
}

static void trigger_beside_a_c_program_claims_no_missing_daemon(void **state)
{
    (void)state;
    tasker_options o = {.workers = 2};
    tasker_t *t = tasker_open_opts(dsn, &o);
    assert_non_null(t);
    assert_int_equal(tasker_register(t, "send_email", send_email, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "mail", "send_email", NULL), TASKER_OK);
    assert_int_equal(tasker_start(t), TASKER_OK);

    char *out = run_cli("trigger mail");
    assert_null(strstr(out, "no daemon"));
    assert_null(strstr(out, "no running process"));
    char id[TASKER_ID_SIZE];
    last_line(out, id);
    free(out);
    /* The program picks the run up itself (its rescan): the claim would have been false. */
    assert_int_equal(tasker_wait(t, id, 20000), TASKER_OK);
    tasker_task_exec e;
    assert_int_equal(tasker_get_exec(t, id, &e), TASKER_OK);
    assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
    tasker_exec_clear(&e);

    out = run_cli("status");
    assert_null(strstr(out, "no running process has handler"));
    free(out);
    tasker_close(t);

    /* Nobody has the store open now: that is known, and said. */
    out = run_cli("trigger mail");
    assert_non_null(strstr(out, "no running process"));
    assert_non_null(strstr(out, "has handler 'send_email'"));
    free(out);
}

static int setup(void **state)
{
    (void)state;
    dir = tmpdir_make();
    snprintf(dsn, sizeof dsn, "sqlite:%s/t.db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tmpdir_remove(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(trigger_beside_a_c_program_claims_no_missing_daemon,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
