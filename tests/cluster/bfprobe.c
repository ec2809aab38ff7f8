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
 * instead of START TRANSACTION, as the group commit's connections run; "multi": as
 * "tasker" on 8 rows a try, selected as a claim selects them: the first pending ones in
 * id order, LIMIT 8 FOR UPDATE SKIP LOCKED, then one UPDATE ... WHERE id IN (...)). The second
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
    int tries, k;     /* k rows a try: rows i*k+1 .. i*k+k */
    char *believed;   /* per row: 1 when this thread's COMMIT said it claimed the row */
    int conflicts;    /* tries that failed with a deadlock / certification error */
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

/* Runs a query; appends the first column of each row (ids) to ids (when not NULL).
 * Returns the row count, or -1. */
static int query_ids(MYSQL *db, const char *sql, int *ids, int max)
{
    if (mysql_query(db, sql) != 0) return -1;
    MYSQL_RES *res = mysql_store_result(db);
    if (!res) return -1;
    int n = 0;
    for (MYSQL_ROW row; (row = mysql_fetch_row(res));) {
        if (ids && n < max && row[0]) ids[n] = atoi(row[0]);
        n++;
    }
    mysql_free_result(res);
    return n;
}

static void pause_upto_us(unsigned *seed, int us)
{
    struct timespec ts = {0, (long)(rand_r(seed) % (unsigned)us) * 1000L};
    nanosleep(&ts, NULL);
}

/* One try: 0 when COMMIT succeeded (believed[] set), else the error. */
static unsigned try_claim(prober *p, int i, unsigned *seed)
{
    char sql[600];
    int lo = i * p->k + 1, hi = i * p->k + p->k, ids[64], n = 0;
    if (!p->lane && mysql_query(p->db, "START TRANSACTION") != 0) return mysql_errno(p->db);
    if (p->who == 2) pause_upto_us(seed, 1000); /* 0-1 ms behind */
    if (!p->plain) {
        snprintf(sql, sizeof sql, "SELECT id FROM probe WHERE id BETWEEN %d AND %d AND"
                 " claimed_by IS NULL ORDER BY id LIMIT %d FOR UPDATE SKIP LOCKED", lo, hi, p->k);
        if ((n = query_ids(p->db, sql, ids, 64)) < 0) goto failed;
        if (!n) return mysql_rollback(p->db), 0;
    } else {
        for (n = 0; n < p->k; n++) ids[n] = lo + n;
    }
    int o = snprintf(sql, sizeof sql, "UPDATE probe SET claimed_by = %d, token = %d WHERE"
                     " claimed_by IS NULL AND id IN (", p->who, i);
    for (int j = 0; j < n; j++) o += snprintf(sql + o, sizeof sql - (size_t)o, j ? ",%d" : "%d", ids[j]);
    snprintf(sql + o, sizeof sql - (size_t)o, ")");
    if (mysql_query(p->db, sql) != 0) goto failed;
    int matched = (int)mysql_affected_rows(p->db);
    if (p->who == 2) pause_upto_us(seed, 2000); /* idle before COMMIT: a BF abort may land */
    int mine[64], nmine = 0;
    if (!p->plain) { /* the claim's read-back: what it holds */
        snprintf(sql, sizeof sql, "SELECT id FROM probe WHERE id BETWEEN %d AND %d AND"
                 " claimed_by = %d AND token = %d", lo, hi, p->who, i);
        if ((nmine = query_ids(p->db, sql, mine, 64)) < 0) goto failed;
    } else if (matched == p->k) {
        for (nmine = 0; nmine < p->k; nmine++) mine[nmine] = lo + nmine;
    }
    if (mysql_commit(p->db) != 0) return mysql_errno(p->db);
    for (int j = 0; j < nmine && j < 64; j++) p->believed[mine[j] - 1] = 1;
    return 0;
failed:;
    unsigned err = mysql_errno(p->db);
    mysql_rollback(p->db);
    return err ? err : 1;
}

static void *probe_main(void *arg)
{
    prober *p = arg;
    mysql_thread_init();
    unsigned seed = (unsigned)p->who;
    for (int i = 0; i < p->tries; i++) {
        pthread_barrier_wait(p->go);
        if (try_claim(p, i, &seed) == ER_LOCK_DEADLOCK) p->conflicts++;
    }
    mysql_thread_end();
    return NULL;
}

static int setup(MYSQL *db, int rows)
{
    if (mysql_query(db, "CREATE TABLE probe (id INT PRIMARY KEY, claimed_by INT NULL,"
                        " token INT NULL) ENGINE=InnoDB") != 0)
        return -1;
    char sql[100];
    if (mysql_query(db, "START TRANSACTION") != 0) return -1;
    for (int i = 1; i <= rows; i++) {
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
    int k = strcmp(mode, "multi") == 0 ? 8 : 1;
    if (tries < 1 || members < 2 || members > TASKER_TEST_GALERA_MAX ||
        (!plain && k == 1 && strcmp(mode, "tasker") != 0)) {
        fputs("usage: tasker-test-bfprobe [TRIES] [MEMBERS 2..5] [tasker|plain|lane|multi]\n",
              stderr);
        return 2;
    }
    if (!tasker_test_galera_available()) {
        fputs("bfprobe: no galera-4\n", stderr);
        return 77;
    }
    int rows = tries * k;
    mysql_library_init(0, NULL, NULL);
    if (tasker_test_galera_start(members) != 0 ||
        tasker_test_galera_sql(0, "DROP DATABASE IF EXISTS probe") != 0 ||
        tasker_test_galera_sql(0, "CREATE DATABASE probe") != 0) {
        fprintf(stderr, "bfprobe: %s\n", tasker_test_galera_error());
        return 1;
    }
    MYSQL *a = connect_member(0), *b = connect_member(1), *check = connect_member(members - 1);
    if (!a || !b || !check) return 1;
    if (setup(a, rows) != 0) {
        fprintf(stderr, "bfprobe: setup: %s\n", mysql_error(a));
        return 1;
    }
    /* The rows must be on member 1 before its thread starts: a causal read there. */
    if (mysql_query(b, "SET SESSION wsrep_sync_wait = 1") != 0 ||
        query_ids(b, "SELECT COUNT(*) FROM probe", NULL, 0) < 0 ||
        mysql_query(b, "SET SESSION wsrep_sync_wait = 0") != 0) {
        fprintf(stderr, "bfprobe: %s\n", mysql_error(b));
        return 1;
    }
    if (lane && (mysql_autocommit(a, 0) != 0 || mysql_autocommit(b, 0) != 0)) return 1;
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    prober p[2];
    for (int t = 0; t < 2; t++) {
        p[t] = (prober){.who = t + 1, .db = t ? b : a, .tries = tries, .k = k, .go = &go,
                        .plain = plain, .lane = lane, .believed = calloc((size_t)rows, 1)};
        if (!p[t].believed) return 1;
    }
    pthread_t th[2];
    for (int t = 0; t < 2; t++) pthread_create(&th[t], NULL, probe_main, &p[t]);
    for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);

    /* The truth, read causally. */
    if (mysql_query(check, "SET SESSION wsrep_sync_wait = 1") != 0 ||
        mysql_query(check, "SELECT id, IFNULL(claimed_by, 0) FROM probe ORDER BY id") != 0) {
        fprintf(stderr, "bfprobe: reading back: %s\n", mysql_error(check));
        return 1;
    }
    MYSQL_RES *res = mysql_store_result(check);
    int *owner = calloc((size_t)rows + 1, sizeof(int));
    for (MYSQL_ROW row; res && owner && (row = mysql_fetch_row(res));) {
        int id = atoi(row[0]);
        if (id >= 1 && id <= rows) owner[id] = atoi(row[1]);
    }
    mysql_free_result(res);
    if (!owner) return 1;
    int both = 0, false_ok = 0, unclaimed = 0, tries_false = 0;
    for (int i = 0; i < tries; i++) {
        bool any = false;
        for (int r = i * k; r < i * k + k; r++) {
            for (int t = 0; t < 2; t++)
                if (p[t].believed[r] && owner[r + 1] != p[t].who) {
                    false_ok++;
                    any = true;
                    printf("false_ok: row %d: thread %d's COMMIT said claimed, the row names %d\n",
                           r + 1, p[t].who, owner[r + 1]);
                }
            both += p[0].believed[r] && p[1].believed[r];
            unclaimed += owner[r + 1] == 0;
        }
        tries_false += any;
    }
    printf("bfprobe: %s, %d tries of %d row(s) on members 0 and 1 of %d: rows claimed by both=%d"
           " false_ok=%d (in %d tries) conflicts=%d+%d unclaimed=%d\n",
           mode, tries, k, members, both, false_ok, tries_false, p[0].conflicts, p[1].conflicts,
           unclaimed);
    free(owner);
    for (int t = 0; t < 2; t++) free(p[t].believed);
    pthread_barrier_destroy(&go);
    mysql_close(a);
    mysql_close(b);
    mysql_close(check);
    tasker_test_galera_stop();
    return 0;
}
