/* The shell tests' database: starts the private MariaDB server (tests/support/mariadb.c)
 * or a Galera cluster (tests/support/galera.c), then takes commands on stdin, one a
 * line, and answers each with one line on stdout: "ok ..." or "error WHY". Run it as a
 * bash coprocess; when its stdin closes (the test ended, or died) it stops the servers.
 *
 *   tasker-test-dbctl [--galera N]     answers "ok" once the server(s) are up
 *
 * Commands (M: a Galera member, default 0; ignored for the single server):
 *   db NAME       drops and creates database NAME; "ok DSN..." with one DSN per member
 *   stop [M]      stops the server (SIGTERM, waits)      kill [M]   SIGKILL
 *   start [M]     starts it again on the same data (a Galera member rejoins)
 *   quit          stops everything and exits
 */
#include "support/galera.h"
#include "support/mariadb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int galera_members; /* 0: the single private server */

static const char *last_error(void)
{
    return galera_members ? tasker_test_galera_error() : tasker_test_mariadb_error();
}

static int reply(int rc, const char *what)
{
    if (rc == 0) printf("ok%s%s\n", what ? " " : "", what ? what : "");
    else printf("error %s\n", last_error());
    fflush(stdout);
    return rc;
}

static int make_db(const char *name)
{
    char sql[300], dsns[4096] = "";
    if (galera_members) {
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS `%s`", name);
        if (tasker_test_galera_sql(0, sql) != 0) return reply(-1, NULL);
        snprintf(sql, sizeof sql, "CREATE DATABASE `%s` CHARACTER SET utf8mb4", name);
        if (tasker_test_galera_sql(0, sql) != 0) return reply(-1, NULL);
        for (int m = 0; m < galera_members; m++) {
            char *dsn = tasker_test_galera_dsn(m, name);
            if (!dsn) return reply(-1, NULL);
            size_t o = strlen(dsns);
            snprintf(dsns + o, sizeof dsns - o, "%s%s", m ? " " : "", dsn);
            free(dsn);
        }
        return reply(0, dsns);
    }
    if (tasker_test_mariadb_fresh_db(name) != 0) return reply(-1, NULL);
    char *dsn = tasker_test_mariadb_dsn(name, NULL);
    int rc = reply(dsn ? 0 : -1, dsn);
    free(dsn);
    return rc;
}

static int server_command(const char *cmd, int m)
{
    if (galera_members) {
        if (strcmp(cmd, "stop") == 0) return reply(tasker_test_galera_stop_member(m), NULL);
        if (strcmp(cmd, "kill") == 0) return reply(tasker_test_galera_kill_member(m), NULL);
        return reply(tasker_test_galera_start_member(m), NULL);
    }
    if (strcmp(cmd, "stop") == 0) return reply(tasker_test_mariadb_stop(), NULL);
    if (strcmp(cmd, "kill") == 0) return reply(tasker_test_mariadb_kill(), NULL);
    return reply(tasker_test_mariadb_start(), NULL);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--galera") == 0) galera_members = atoi(argv[2]);
    else if (argc != 1) {
        fputs("usage: tasker-test-dbctl [--galera N]\n", stderr);
        return 2;
    }
    int rc = galera_members ? tasker_test_galera_start(galera_members) : tasker_test_mariadb_start();
    if (reply(rc, NULL) != 0) return 1;
    char line[512];
    while (fgets(line, sizeof line, stdin)) {
        char cmd[32] = "", arg[256] = "";
        if (sscanf(line, "%31s %255s", cmd, arg) < 1) continue;
        if (strcmp(cmd, "quit") == 0) break;
        if (strcmp(cmd, "db") == 0 && arg[0]) make_db(arg);
        else if (!strcmp(cmd, "stop") || !strcmp(cmd, "kill") || !strcmp(cmd, "start"))
            server_command(cmd, atoi(arg));
        else {
            printf("error unknown command '%s'\n", cmd);
            fflush(stdout);
        }
    }
    if (galera_members) tasker_test_galera_stop();
    else tasker_test_mariadb_stop();
    return reply(0, NULL) == 0 ? 0 : 1;
}
