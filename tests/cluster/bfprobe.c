/* A probe of MariaDB Galera, outside tasker: can two members both answer COMMIT with
 * success for transactions that took the same row? (docs/cluster.md, "Running on
 * Galera": the verify-after-commit rule.) Not a ctest test: a tool, run by hand.
 *
 *   tasker-test-bfprobe [TRIES] [MEMBERS] [MODE]   (defaults 2000, 3, tasker)
 *
 * Starts a private Galera cluster (tests/support/galera.c), makes a table of TRIES rows
 * with claimed_by NULL, and runs two threads, each on its own connection to its own
 * member (0 and 1). For each row in turn both threads meet at a barrier, then each
 * runs what a tasker claim runs, in READ COMMITTED:
 *
 *   START TRANSACTION
 *   SELECT id FROM probe WHERE id = <row> AND claimed_by IS NULL FOR UPDATE SKIP LOCKED
 *   UPDATE probe SET claimed_by = <thread>, token = <try> WHERE id = <row> AND claimed_by IS NULL
 *   SELECT claimed_by, token FROM probe WHERE id = <row>      -- the claim's read-back
 *   COMMIT
 *
 * (MODE "plain": the UPDATE and the COMMIT alone; "lane": the same with autocommit off
 * instead of START TRANSACTION, as the group commit's connections run). The second
 * thread starts a random 0-1 ms after the first and idles 0-2 ms before its COMMIT, so
 * that its transaction is sometimes open, holding the row, when the first one's
 * writeset reaches its member and aborts it (a BF abort).
 * and records the UPDATE's matched rows and the COMMIT's answer. Afterwards each row is
 * read on member 2 (or 0) with wsrep_sync_wait = 1, a causal read that sees every
 * writeset the cluster ordered before it. It prints, per outcome:
 *   both      both COMMITs answered success for a row each UPDATE matched (a double)
 *   false_ok  a COMMIT answered success for an UPDATE that matched, but the row names
 *             the other thread: the transaction was in fact aborted
 *   conflict  one COMMIT (or statement) failed with a deadlock / certification error
 * and the rate of false_ok per try. Needs root (the servers run as root) and galera-4. */
#include "support/galera.h"

#include <mysql.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    int who;          /* 1 or 2: the value it writes into claimed_by */
    MYSQL *db;
    int tries;
    int *matched;     /* per try: rows the UPDATE matched (-1: the statement failed) */
    int *committed;   /* per try: 1 COMMIT succeeded, 0 it failed */
    unsigned *err;    /* per try: the error of the failure, if any */
    bool plain;       /* MODE plain or lane: no locking read, no read-back */
    bool lane;        /* MODE lane: autocommit off instead of START TRANSACTION */
    pthread_barrier_t *go;
} prober;

static MYSQL *connect_member(int m)
{
    char *dsn = tasker_test_galera_dsn(m, "probe");
    const char *sock = dsn ? strstr(dsn, "socket=") : NULL;
    MYSQL *db = mysql_init(NULL);
    if (!sock || !db ||
        !mysql_real_connect(db, NULL, "root", NULL, "probe", 0, sock + 7, CLIENT_FOUND_ROWS)) {
        fprintf(stderr, "bfprobe: cannot connect to member %d: %s\n", m,
                db ? mysql_error(db) : "out of memory");
        free(dsn);
        return NULL;
    }
    free(dsn);
    if (mysql_query(db, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED") != 0) {
        fprintf(stderr, "bfprobe: member %d: %s\n", m, mysql_error(db));
        mysql_close(db);
        return NULL;
    }
    return db;
}

/* Runs a query and reads its rows away: their count, or -1. */
static int query_rows(MYSQL *db, const char *sql)
{
    if (mysql_query(db, sql) != 0) return -1;
    MYSQL_RES *res = mysql_store_result(db);
    if (!res) return -1;
    int n = (int)mysql_num_rows(res);
    mysql_free_result(res);
    return n;
}

static void *probe_main(void *arg)
{
    prober *p = arg;
    mysql_thread_init();
    char sql[200];
    unsigned seed = (unsigned)p->who;
    for (int i = 0; i < p->tries; i++) {
        pthread_barrier_wait(p->go);
        p->matched[i] = -1;
        p->committed[i] = 0;
        p->err[i] = 0;
        if (!p->lane && mysql_query(p->db, "START TRANSACTION") != 0) {
            p->err[i] = mysql_errno(p->db);
            continue;
        }
        if (p->who == 2) { /* 0-1 ms behind */
            struct timespec ts = {0, (long)(rand_r(&seed) % 1000) * 1000L};
            nanosleep(&ts, NULL);
        }
        if (!p->plain) {
            snprintf(sql, sizeof sql, "SELECT id FROM probe WHERE id = %d AND claimed_by IS NULL"
                     " FOR UPDATE SKIP LOCKED", i + 1);
            if (query_rows(p->db, sql) < 0) {
                p->err[i] = mysql_errno(p->db);
                mysql_rollback(p->db);
                continue;
            }
        }
        snprintf(sql, sizeof sql,
                 "UPDATE probe SET claimed_by = %d, token = %d WHERE id = %d"
                 " AND claimed_by IS NULL", p->who, i, i + 1);
        if (mysql_query(p->db, sql) != 0) {
            p->err[i] = mysql_errno(p->db);
            mysql_rollback(p->db);
            continue;
        }
        p->matched[i] = (int)mysql_affected_rows(p->db);
        if (p->who == 2) { /* and idle 0-2 ms before COMMIT: a BF abort may land here */
            struct timespec ts = {0, (long)(rand_r(&seed) % 2000) * 1000L};
            nanosleep(&ts, NULL);
        }
        snprintf(sql, sizeof sql, "SELECT claimed_by, token FROM probe WHERE id = %d", i + 1);
        if (!p->plain && query_rows(p->db, sql) < 0) {
            p->err[i] = mysql_errno(p->db);
            mysql_rollback(p->db);
            continue;
        }
        if (mysql_commit(p->db) == 0) p->committed[i] = 1;
        else p->err[i] = mysql_errno(p->db);
    }
    mysql_thread_end();
    return NULL;
}

static int setup(MYSQL *db, int tries)
{
    if (mysql_query(db, "CREATE TABLE probe (id INT PRIMARY KEY, claimed_by INT NULL,"
                        " token INT NULL) ENGINE=InnoDB") != 0)
        return -1;
    char sql[100];
    if (mysql_query(db, "START TRANSACTION") != 0) return -1;
    for (int i = 1; i <= tries; i++) {
        snprintf(sql, sizeof sql, "INSERT INTO probe (id) VALUES (%d)", i);
        if (mysql_query(db, sql) != 0) return -1;
    }
    return mysql_commit(db) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    int tries = argc > 1 ? atoi(argv[1]) : 2000, members = argc > 2 ? atoi(argv[2]) : 3;
    const char *mode = argc > 3 ? argv[3] : "tasker";
    bool lane = strcmp(mode, "lane") == 0, plain = lane || strcmp(mode, "plain") == 0;
    if (tries < 1 || members < 2 || members > TASKER_TEST_GALERA_MAX ||
        (!plain && strcmp(mode, "tasker") != 0)) {
        fputs("usage: tasker-test-bfprobe [TRIES] [MEMBERS 2..5] [tasker|plain|lane]\n", stderr);
        return 2;
    }
    if (!tasker_test_galera_available()) {
        fputs("bfprobe: no galera-4\n", stderr);
        return 77;
    }
    mysql_library_init(0, NULL, NULL);
    if (tasker_test_galera_start(members) != 0 ||
        tasker_test_galera_sql(0, "DROP DATABASE IF EXISTS probe") != 0 ||
        tasker_test_galera_sql(0, "CREATE DATABASE probe") != 0) {
        fprintf(stderr, "bfprobe: %s\n", tasker_test_galera_error());
        return 1;
    }
    MYSQL *a = connect_member(0), *b = connect_member(1), *check = connect_member(members - 1);
    if (!a || !b || !check) return 1;
    if (setup(a, tries) != 0) {
        fprintf(stderr, "bfprobe: setup: %s\n", mysql_error(a));
        return 1;
    }
    /* The rows must be on member 1 before its thread starts: a causal read there. */
    if (mysql_query(b, "SET SESSION wsrep_sync_wait = 1") != 0 ||
        mysql_query(b, "SELECT COUNT(*) FROM probe") != 0) {
        fprintf(stderr, "bfprobe: %s\n", mysql_error(b));
        return 1;
    }
    mysql_free_result(mysql_store_result(b));
    mysql_query(b, "SET SESSION wsrep_sync_wait = 0");

    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    prober p[2];
    for (int k = 0; k < 2; k++) {
        p[k] = (prober){.who = k + 1, .db = k ? b : a, .tries = tries, .go = &go, .plain = plain, .lane = lane,
                        .matched = calloc((size_t)tries, sizeof(int)),
                        .committed = calloc((size_t)tries, sizeof(int)),
                        .err = calloc((size_t)tries, sizeof(unsigned))};
        if (!p[k].matched || !p[k].committed || !p[k].err) return 1;
    }
    if (lane && (mysql_autocommit(a, 0) != 0 || mysql_autocommit(b, 0) != 0)) return 1;
    pthread_t th[2];
    for (int k = 0; k < 2; k++) pthread_create(&th[k], NULL, probe_main, &p[k]);
    for (int k = 0; k < 2; k++) pthread_join(th[k], NULL);

    /* The truth, read causally. */
    if (mysql_query(check, "SET SESSION wsrep_sync_wait = 1") != 0 ||
        mysql_query(check, "SELECT id, IFNULL(claimed_by, 0) FROM probe ORDER BY id") != 0) {
        fprintf(stderr, "bfprobe: reading back: %s\n", mysql_error(check));
        return 1;
    }
    MYSQL_RES *res = mysql_store_result(check);
    int *owner = calloc((size_t)tries + 1, sizeof(int));
    for (MYSQL_ROW row; res && (row = mysql_fetch_row(res));) {
        int id = atoi(row[0]);
        if (id >= 1 && id <= tries) owner[id] = atoi(row[1]);
    }
    mysql_free_result(res);
    int both = 0, false_ok = 0, conflict = 0, unclaimed = 0;
    for (int i = 0; i < tries; i++) {
        bool ok[2];
        for (int k = 0; k < 2; k++) {
            ok[k] = p[k].matched[i] == 1 && p[k].committed[i];
            if (ok[k] && owner[i + 1] != p[k].who) {
                false_ok++;
                printf("false_ok: row %d: thread %d's COMMIT succeeded, the row names %d\n",
                       i + 1, p[k].who, owner[i + 1]);
            }
            if (p[k].err[i] == ER_LOCK_DEADLOCK) conflict++;
        }
        both += ok[0] && ok[1];
        unclaimed += owner[i + 1] == 0;
    }
    printf("bfprobe: %s, %d tries on members 0 and 1 of %d: both=%d false_ok=%d"
           " conflict=%d unclaimed=%d\n", mode, tries, members, both,
           false_ok, conflict, unclaimed);
    if (false_ok) printf("bfprobe: a false success 1 in %d tries\n", tries / false_ok);
    free(owner);
    for (int k = 0; k < 2; k++) {
        free(p[k].matched);
        free(p[k].committed);
        free(p[k].err);
    }
    pthread_barrier_destroy(&go);
    mysql_close(a);
    mysql_close(b);
    mysql_close(check);
    tasker_test_galera_stop();
    return 0;
}
