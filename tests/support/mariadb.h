/* Tests' private MariaDB server: start, stop, restart, and DSNs into it.
 *
 * The first call to tasker_test_mariadb_start() in a process initialises a data
 * directory under $TASKER_TEST_BUILD_DIR (or the build folder CMake compiled in) at
 * mariadb-test/<program name>/, starts mariadbd on a unix socket in that directory with
 * networking off, and waits until it accepts connections. The server is shared by the
 * whole test process and stopped at exit. It runs as root when the tests run as root
 * (--user=root), as CI does.
 *
 * To run the tests against another server instead, set
 *     TASKER_TEST_MYSQL_DSN="mysql://USER:PASS@HOST:PORT/"
 * (a user that may CREATE and DROP databases; the path part is ignored). Tests that
 * need to stop or restart the server then skip, saying so.
 */
#ifndef TASKER_TEST_MARIADB_H
#define TASKER_TEST_MARIADB_H

#include <stdbool.h>

/* Starts the private server (once per process) or checks the external one. Returns 0,
 * or -1 with tasker_test_mariadb_error() saying why. */
int tasker_test_mariadb_start(void);
/* Why the last call failed. */
const char *tasker_test_mariadb_error(void);
/* True when the tests use TASKER_TEST_MYSQL_DSN rather than a private server. */
bool tasker_test_mariadb_external(void);

/* A newly allocated DSN for database db on the server, as the admin user; extra,
 * when not NULL, is appended as URL options ("connect_timeout=2"). Free it. */
char *tasker_test_mariadb_dsn(const char *db, const char *extra);
/* The same for another user and password (NULL = the admin's). */
char *tasker_test_mariadb_dsn_as(const char *user, const char *pass, const char *db,
                                 const char *extra);

/* Runs one statement as the admin user (no data of the caller's in it: tests only). */
int tasker_test_mariadb_sql(const char *sql);
/* Runs a one-value query as the admin user into *value. */
int tasker_test_mariadb_query_int(const char *sql, long long *value);
/* Drops (if present) and creates database db. */
int tasker_test_mariadb_fresh_db(const char *db);
/* A fresh database named PREFIX<pid>_<n> (n counts up per process), and a newly
 * allocated DSN into it with extra options as above; NULL when it cannot (see
 * tasker_test_mariadb_error()). tasker_test_mariadb_drop_fresh() drops every one made so far, so
 * that an external server is left clean. */
char *tasker_test_mariadb_fresh_dsn(const char *prefix, const char *extra);
void tasker_test_mariadb_drop_fresh(void);

/* Stops the private server (SIGTERM, then waits), or kills it at once (SIGKILL: a
 * crash). Start it again with tasker_test_mariadb_start(). -1 for an external server. */
int tasker_test_mariadb_stop(void);
int tasker_test_mariadb_kill(void);

#endif
