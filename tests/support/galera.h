/* Tests' private MariaDB Galera cluster: N members on this machine, started and stopped
 * by the test process.
 *
 * tasker_test_galera_start(n) makes BUILD/galera-test/<program name>/m<i>/ for each
 * member (data/, tmp/, mysqld.sock, mysqld.pid, error.log), initialises member 0's data
 * directory with mariadb-install-db, bootstraps it as a new cluster
 * (--wsrep-new-cluster), then starts the others one after the other; each joins over
 * gcomm on a loopback port and receives the data by state transfer (rsync). SQL goes
 * over each member's unix socket (no SQL port is opened); the group communication,
 * incremental and full state transfer ports are free loopback ports picked at start.
 * A member counts as up when it answers and reports wsrep_local_state_comment
 * "Synced". Needs Debian's galera-4 (the wsrep provider /usr/lib/galera/libgalera_smm.so)
 * and rsync. The servers run as root when the tests do (--user=root), and die with the
 * test process (PR_SET_PDEATHSIG) if it is killed; tasker_test_galera_stop() stops
 * them in order, and runs at exit.
 */
#ifndef TASKER_TEST_GALERA_H
#define TASKER_TEST_GALERA_H

#include <stdbool.h>

#define TASKER_TEST_GALERA_MAX 5

/* Starts a cluster of members (1..TASKER_TEST_GALERA_MAX) servers and waits until all
 * are synced. Returns 0, or -1 with tasker_test_galera_error() saying why (the
 * member's first [ERROR] log line). */
int tasker_test_galera_start(int members);
/* Why the last call failed. */
const char *tasker_test_galera_error(void);
/* True when the wsrep provider library is installed (else tests skip). */
bool tasker_test_galera_available(void);

/* A newly allocated DSN for database db on member m, as the admin user. Free it. */
char *tasker_test_galera_dsn(int m, const char *db);
/* Runs one statement on member m as the admin user (tests only). */
int tasker_test_galera_sql(int m, const char *sql);

/* Stops member m (SIGTERM, then waits), or kills it (SIGKILL); start it again with
 * tasker_test_galera_start_member(), which rejoins the cluster and waits until synced. */
int tasker_test_galera_stop_member(int m);
int tasker_test_galera_kill_member(int m);
int tasker_test_galera_start_member(int m);

/* Stops every member, the last started first. */
int tasker_test_galera_stop(void);

#endif
