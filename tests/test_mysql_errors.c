/* The MySQL driver's open errors: bad URLs, wrong password, unknown database,
 * unreachable hosts; each must fail with a clear message within the connect timeout. */
#include "support/mariadb.h"

#include <tasker/storage.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Opens url expecting failure; checks the code's message contains want, and returns
 * the seconds it took. */
static double expect_open_fails(const char *url, const char *want)
{
    double t0 = now_s();
    tasker_storage *st = tasker_mysql_storage(url);
    double took_s = now_s() - t0;
    if (st) st->ops->close(st);
    assert_null(st);
    const char *msg = tasker_last_error();
    if (!strstr(msg, want)) fail_msg("error '%s' lacks '%s'", msg, want);
    return took_s;
}

static int setup(void **state)
{
    (void)state;
    if (tasker_test_mariadb_start() != 0) {
        fprintf(stderr, "MariaDB test server: %s\n", tasker_test_mariadb_error());
        return -1;
    }
    if (tasker_test_mariadb_fresh_db("tasker_errors") != 0 ||
        tasker_test_mariadb_sql("CREATE OR REPLACE USER 'tasker_pw'@'%' "
                                "IDENTIFIED BY 'right'") != 0 ||
        tasker_test_mariadb_sql("CREATE OR REPLACE USER 'we@ird:user'@'%' "
                                "IDENTIFIED BY 'p:a/s%s@w?d'") != 0 ||
        tasker_test_mariadb_sql("GRANT ALL ON tasker_errors.* TO 'tasker_pw'@'%'") != 0 ||
        tasker_test_mariadb_sql("GRANT ALL ON tasker_errors.* TO 'we@ird:user'@'%'") != 0) {
        fprintf(stderr, "MariaDB test server: %s\n", tasker_test_mariadb_error());
        return -1;
    }
    return 0;
}

/* Leaves an external server (TASKER_TEST_MYSQL_DSN) as it was. */
static int teardown(void **state)
{
    (void)state;
    tasker_test_mariadb_sql("DROP DATABASE IF EXISTS tasker_errors");
    tasker_test_mariadb_sql("DROP USER IF EXISTS 'tasker_pw'@'%'");
    tasker_test_mariadb_sql("DROP USER IF EXISTS 'we@ird:user'@'%'");
    return 0;
}

static void wrong_password_fails_saying_so(void **state)
{
    (void)state;
    char *dsn = tasker_test_mariadb_dsn_as("tasker_pw", "wrong", "tasker_errors", NULL);
    expect_open_fails(dsn, "wrong user name or password");
    assert_non_null(strstr(tasker_last_error(), "Access denied"));
    free(dsn);
}

static void right_password_opens(void **state)
{
    (void)state;
    char *dsn = tasker_test_mariadb_dsn_as("tasker_pw", "right", "tasker_errors", NULL);
    tasker_storage *st = tasker_mysql_storage(dsn);
    if (!st) fail_msg("open failed: %s", tasker_last_error());
    assert_string_equal(st->ops->name, "mysql");
    st->ops->close(st);
    free(dsn);
}

static void user_and_password_are_percent_decoded(void **state)
{
    (void)state;
    /* The helper percent-encodes '@', ':', '/', '%' and '?' in both. */
    char *dsn = tasker_test_mariadb_dsn_as("we@ird:user", "p:a/s%s@w?d", "tasker_errors", NULL);
    assert_non_null(strstr(dsn, "we%40ird%3Auser:p%3Aa%2Fs%25s%40w%3Fd@"));
    tasker_storage *st = tasker_mysql_storage(dsn);
    if (!st) fail_msg("open failed: %s", tasker_last_error());
    st->ops->close(st);
    free(dsn);
}

static void unknown_database_fails_saying_so(void **state)
{
    (void)state;
    char *dsn = tasker_test_mariadb_dsn("tasker_no_such_db", NULL);
    expect_open_fails(dsn, "Unknown database");
    assert_non_null(strstr(tasker_last_error(), "tasker_no_such_db"));
    free(dsn);
}

static void missing_socket_fails_saying_so(void **state)
{
    (void)state;
    expect_open_fails("mysql://root@localhost/db?socket=/nonexistent/tasker.sock",
                      "cannot connect to root@localhost:/nonexistent/tasker.sock/db");
}

/* A loopback port nobody listens on: bound, then released. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void closed_loopback_port_fails_at_once(void **state)
{
    (void)state;
    char url[200];
    snprintf(url, sizeof url, "mysql://u:p@127.0.0.1:%d/db?connect_timeout=2", closed_port());
    double took_s = expect_open_fails(url, "cannot connect to u@127.0.0.1:");
    assert_non_null(strstr(tasker_last_error(), "is the server running"));
    assert_true(took_s < 2.5);
}

static void unroutable_host_fails_within_connect_timeout(void **state)
{
    (void)state;
    /* 10.255.255.1 is private and unrouted: the SYN goes nowhere (or the network says
     * unreachable at once); either way the open must give up by the 2 s timeout. */
    double took_s = expect_open_fails("mysql://u:p@10.255.255.1:3306/db?connect_timeout=2",
                                      "cannot connect to u@10.255.255.1:3306/db");
    assert_true(took_s < 4.0);
}

static void malformed_urls_are_rejected_as_invalid(void **state)
{
    (void)state;
    static const struct {
        const char *url, *want;
    } cases[] = {
        {"postgres://u@h/db", "expected mysql://"},
        {"mysql://u@h", "no /DATABASE"},
        {"mysql://h/db", "no USER@"},
        {"mysql://u@h:99999/db", "bad port"},
        {"mysql://u@h:12x/db", "bad port"},
        {"mysql://u@/db", "no host"},
        {"mysql://u@h/", "no database name"},
        {"mysql://u%zz@h/db", "bad %-escape"},
        {"mysql://u@h/db?color=blue", "unknown option 'color'"},
        {"mysql://u@h/db?connect_timeout=0", "connect_timeout=0"},
        {"mysql://u@h/db?pool", "no '=value'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tasker_storage *st = tasker_mysql_storage(cases[i].url);
        assert_null(st);
        if (!strstr(tasker_last_error(), cases[i].want))
            fail_msg("%s: error '%s' lacks '%s'", cases[i].url, tasker_last_error(),
                     cases[i].want);
    }
    assert_null(tasker_mysql_storage(NULL));
}

static void mariadb_scheme_opens_the_same_driver(void **state)
{
    (void)state;
    char *dsn = tasker_test_mariadb_dsn("tasker_errors", "connect_timeout=5&pool=4");
    char *maria = malloc(strlen(dsn) + 3);
    sprintf(maria, "mariadb%s", dsn + strlen("mysql"));
    tasker_storage *st = tasker_mysql_storage(maria);
    if (!st) fail_msg("open failed: %s", tasker_last_error());
    assert_string_equal(st->ops->name, "mysql");
    st->ops->close(st);
    free(maria);
    free(dsn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wrong_password_fails_saying_so),
        cmocka_unit_test(right_password_opens),
        cmocka_unit_test(user_and_password_are_percent_decoded),
        cmocka_unit_test(unknown_database_fails_saying_so),
        cmocka_unit_test(missing_socket_fails_saying_so),
        cmocka_unit_test(closed_loopback_port_fails_at_once),
        cmocka_unit_test(unroutable_host_fails_within_connect_timeout),
        cmocka_unit_test(malformed_urls_are_rejected_as_invalid),
        cmocka_unit_test(mariadb_scheme_opens_the_same_driver),
    };
    return cmocka_run_group_tests_name("mysql_errors", tests, setup, teardown);
}
