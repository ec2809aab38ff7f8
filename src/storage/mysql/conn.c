/* The MySQL driver's connections (the base part, with url.c): Connector/C's thread
 * rules, opening connections and their pool, a lane's own connection, what a failed
 * call means (lost, retried, the transaction gone) and the messages that say so, the
 * clocks, the trace, and reads on a pooled connection. It calls no other part.
 *
 * Reconnecting: MYSQL_OPT_RECONNECT stays off, since it silently drops session state
 * (prepared statements, an open transaction). Instead a call that finds the server gone
 * fails with TASKER_ESTORAGE, its connection is closed with its statements, and the
 * pool's generation moves on so that every idle connection made before the failure is
 * dropped too; the next call connects afresh and prepares its statements again. */
#include "core/error.h"
#include "storage/mysql/conn.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_EVERY_US 5000000 /* my_log_failure: at most one line per store this often */

/* ---- Connector/C's thread rules --------------------------------------------------- */

static pthread_once_t library_once = PTHREAD_ONCE_INIT;
static pthread_key_t thread_key;
static int library_rc;

/* Runs at the exit of each thread that used Connector/C. */
static void thread_exit(void *unused)
{
    (void)unused;
    mysql_thread_end();
}

static void library_init(void)
{
    /* mysql_library_init is not thread-safe: it runs once, here. */
    if (mysql_library_init(0, NULL, NULL) != 0 ||
        pthread_key_create(&thread_key, thread_exit) != 0)
        library_rc = -1;
}

/* Every thread that calls Connector/C calls this first: the library once per process,
 * mysql_thread_init once per thread, mysql_thread_end from the key's destructor. */
int my_thread_enter(void)
{
    pthread_once(&library_once, library_init);
    if (library_rc != 0)
        return tasker_fail(TASKER_ESTORAGE, "mysql: Connector/C failed to initialise");
    if (pthread_getspecific(thread_key) == NULL) {
        if (mysql_thread_init() != 0)
            return tasker_fail(TASKER_ESTORAGE, "mysql: mysql_thread_init failed");
        pthread_setspecific(thread_key, (void *)1);
    }
    return TASKER_OK;
}

/* ---- what a failed call means ------------------------------------------------------ */

bool my_errno_is_lost(unsigned err)
{
    switch (err) {
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_SERVER_LOST_EXTENDED:
    case CR_COMMANDS_OUT_OF_SYNC:
    case ER_CONNECTION_KILLED:
    case ER_SERVER_SHUTDOWN:
    case ER_NORMAL_SHUTDOWN:
    case ER_SHUTDOWN_COMPLETE:
        return true;
    default:
        return false;
    }
}

bool my_errno_retries(unsigned err)
{
    return err == ER_LOCK_DEADLOCK || err == ER_LOCK_WAIT_TIMEOUT || err == ER_UNKNOWN_COM_ERROR;
}

bool my_trx_lost(const my_conn *c)
{
    switch (c->last_errno) {
    case 0:                         /* no server error: the driver's own verdict */
    case ER_DUP_ENTRY:              /* the statement is undone alone (InnoDB) */
    case ER_DUP_ENTRY_WITH_KEY_NAME:
    case ER_NO_REFERENCED_ROW_2:
    case ER_ROW_IS_REFERENCED_2:
    case ER_DATA_TOO_LONG:
    case ER_BAD_NULL_ERROR:
    case ER_TRUNCATED_WRONG_VALUE_FOR_FIELD:
    case ER_WARN_DATA_OUT_OF_RANGE:
        return c->broken;
    default:
        return true;
    }
}

static int lost(my_store *s, my_conn *c)
{
    c->broken = true;
    pthread_mutex_lock(&s->pool_lock);
    if (c->generation == s->generation) s->generation++;
    pthread_mutex_unlock(&s->pool_lock);
    return TASKER_ESTORAGE;
}

int my_fail_conn(my_store *s, my_conn *c, const char *what)
{
    unsigned err = mysql_errno(c->db);
    c->last_errno = err;
    if (my_errno_is_lost(err)) {
        tasker_fail(TASKER_ESTORAGE,
                    "mysql: %s on %s: connection lost (%u: %s); it reconnects on the next call",
                    what, s->where, err, mysql_error(c->db));
        return lost(s, c);
    }
    return tasker_fail(TASKER_ESTORAGE, "mysql: %s on %s: %u: %s", what, s->where, err,
                       mysql_error(c->db));
}

int my_fail_stmt(my_store *s, my_conn *c, MYSQL_STMT *st, const char *what)
{
    unsigned err = mysql_stmt_errno(st);
    /* A fetch that failed mid-result (a Galera member aborting the transaction under
     * it) can leave its error on the connection only: read as "0", a conflict looked
     * like an unknown failure, and a claim was given up instead of tried again. */
    if (err == 0 && mysql_errno(c->db) != 0) return my_fail_conn(s, c, what);
    c->last_errno = err;
    if (my_errno_is_lost(err)) {
        tasker_fail(TASKER_ESTORAGE,
                    "mysql: %s on %s: connection lost (%u: %s); it reconnects on the next call",
                    what, s->where, err, mysql_stmt_error(st));
        return lost(s, c);
    }
    return tasker_fail(TASKER_ESTORAGE, "mysql: %s on %s: %u: %s", what, s->where, err,
                       mysql_stmt_error(st));
}

/* ---- connections and the pool ------------------------------------------------------ */

void my_conn_free(my_conn *c)
{
    if (!c) return;
    for (int i = 0; i < MS_COUNT; i++)
        if (c->stmt[i]) mysql_stmt_close(c->stmt[i]);
    if (c->db) mysql_close(c->db);
    free(c);
}

/* A connect failure, said in words a user can act on. */
static int connect_error(my_store *s, MYSQL *db)
{
    unsigned err = mysql_errno(db);
    const char *hint = "";
    if (err == ER_ACCESS_DENIED_ERROR) hint = " (wrong user name or password)";
    else if (err == ER_BAD_DB_ERROR) hint = " (unknown database: create it first)";
    else if (err == CR_CONN_HOST_ERROR || err == CR_CONNECTION_ERROR ||
             err == CR_SERVER_LOST || err == CR_UNKNOWN_HOST)
        hint = " (is the server running and reachable?)";
    return tasker_fail(TASKER_ESTORAGE, "mysql: cannot connect to %s: %u: %s%s", s->where, err,
                       mysql_error(db), hint);
}

static int set_options(my_store *s, MYSQL *db)
{
    unsigned ct = (unsigned)s->url.connect_timeout_s, rt = (unsigned)s->url.read_timeout_s,
             wt = (unsigned)s->url.write_timeout_s;
    my_bool off = 0;
    if (mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &ct) || mysql_options(db, MYSQL_OPT_READ_TIMEOUT, &rt) ||
        mysql_options(db, MYSQL_OPT_WRITE_TIMEOUT, &wt) || mysql_options(db, MYSQL_OPT_RECONNECT, &off) ||
        mysql_options(db, MYSQL_SET_CHARSET_NAME, "utf8mb4"))
        return tasker_fail(TASKER_ESTORAGE, "mysql: cannot set connection options for %s",
                           s->where);
    return TASKER_OK;
}

static int conn_open(my_store *s, my_conn **out)
{
    int rc = my_thread_enter();
    if (rc != TASKER_OK) return rc;
    my_conn *c = calloc(1, sizeof *c);
    if (!c || !(c->db = mysql_init(NULL))) {
        free(c);
        return tasker_fail(TASKER_ENOMEM, "mysql: out of memory for a connection");
    }
    c->bulk = -1;
    c->wsrep = -1;
    if ((rc = set_options(s, c->db)) != TASKER_OK) goto fail;
    /* CLIENT_FOUND_ROWS: an UPDATE reports the rows it matched, so "not found" differs
     * from "already so". */
    if (!mysql_real_connect(c->db, s->url.host, s->url.user, s->url.pass, s->url.db,
                            s->url.port, s->url.socket, CLIENT_FOUND_ROWS)) {
        rc = connect_error(s, c->db);
        goto fail;
    }
    /* Strict: a value that does not fit is an error, never silently cut. Read committed:
     * the group commit's transactions take no gap locks that could block the next. */
    rc = my_exec_once(s, c, "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,"
                            "NO_ENGINE_SUBSTITUTION'");
    if (rc == TASKER_OK)
        rc = my_exec_once(s, c, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
    if (rc != TASKER_OK) goto fail;
    *out = c;
    return TASKER_OK;
fail:
    my_conn_free(c);
    return rc;
}

/* Takes an idle connection, or opens one while under the cap, or waits for one. */
int my_conn_get(my_store *s, my_conn **out)
{
    int rc = my_thread_enter();
    if (rc != TASKER_OK) return rc;
    pthread_mutex_lock(&s->pool_lock);
    for (;;) {
        my_conn *c = s->free_list;
        if (c) {
            s->free_list = c->next_free;
            if (c->generation != s->generation) { /* made before the server was lost */
                s->conn_count--;
                pthread_mutex_unlock(&s->pool_lock);
                my_conn_free(c);
                pthread_mutex_lock(&s->pool_lock);
                continue;
            }
            pthread_mutex_unlock(&s->pool_lock);
            *out = c;
            return TASKER_OK;
        }
        if (s->conn_count < s->url.pool_max) break;
        pthread_cond_wait(&s->pool_cond, &s->pool_lock);
    }
    s->conn_count++;
    uint64_t generation = s->generation;
    pthread_mutex_unlock(&s->pool_lock);
    my_conn *c = NULL;
    if ((rc = conn_open(s, &c)) != TASKER_OK) {
        pthread_mutex_lock(&s->pool_lock);
        s->conn_count--;
        pthread_cond_signal(&s->pool_cond);
        pthread_mutex_unlock(&s->pool_lock);
        return rc;
    }
    c->generation = generation;
    *out = c;
    return TASKER_OK;
}

void my_conn_put(my_store *s, my_conn *c)
{
    if (!c) return;
    pthread_mutex_lock(&s->pool_lock);
    if (c->broken || c->generation != s->generation) {
        s->conn_count--;
        pthread_cond_signal(&s->pool_cond);
        pthread_mutex_unlock(&s->pool_lock);
        my_conn_free(c);
        return;
    }
    c->next_free = s->free_list;
    s->free_list = c;
    pthread_cond_signal(&s->pool_cond);
    pthread_mutex_unlock(&s->pool_lock);
}

/* ---- a lane's connection (storage/mysql/lanes.c) ------------------------------------ */

/* The lane's connection: kept from batch to batch with autocommit off, so that each
 * transaction begins with its first statement (no BEGIN round trip). A new one after
 * the server was lost. */
int my_lane_conn(my_lane *l, my_conn **out)
{
    my_store *s = l->s;
    my_conn *c = l->conn;
    if (c) {
        pthread_mutex_lock(&s->pool_lock);
        bool stale = c->generation != s->generation;
        pthread_mutex_unlock(&s->pool_lock);
        if (!stale && !c->broken) {
            *out = c;
            return TASKER_OK;
        }
        l->conn = NULL;
        c->broken = true;
        my_conn_put(s, c); /* closes it */
    }
    int rc = my_conn_get(s, &c);
    if (rc != TASKER_OK) return rc;
    if (mysql_autocommit(c->db, 0) != 0) {
        rc = my_fail_conn(s, c, "turning autocommit off");
        c->broken = true;
        my_conn_put(s, c);
        return rc;
    }
    c->held = true;
    l->conn = c;
    *out = c;
    return TASKER_OK;
}

/* After a batch: a connection found lost is closed. */
void my_lane_conn_done(my_lane *l, my_conn *c)
{
    if (!c->held) {
        my_conn_put(l->s, c);
        return;
    }
    if (!c->broken) return;
    l->conn = NULL;
    my_conn_put(l->s, c);
}

bool my_conn_at_hand(my_store *s)
{
    bool at_hand = false;
    pthread_mutex_lock(&s->pool_lock);
    if (s->free_list && s->free_list->generation == s->generation) at_hand = true;
    for (int i = 0; i <= MY_COMMITTERS_MAX && !at_hand; i++) {
        my_conn *c = s->lane[i].conn;
        at_hand = c && !c->broken && c->generation == s->generation;
    }
    pthread_mutex_unlock(&s->pool_lock);
    return at_hand;
}

/* ---- clocks, the failure log, the trace --------------------------------------------- */

int64_t my_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t my_now_us(my_store *s)
{
    if (s->base.env.clock) return tasker_storage_now_us(&s->base);
    return my_real_now_us();
}

int64_t my_real_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void my_log_failure(my_store *s, const char *fmt, ...)
{
    int64_t now_us = my_mono_us();
    int64_t last_us = __atomic_load_n(&s->last_log_us, __ATOMIC_RELAXED);
    if (last_us && now_us - last_us < LOG_EVERY_US) return;
    if (!__atomic_compare_exchange_n(&s->last_log_us, &last_us, now_us, false, __ATOMIC_RELAXED,
                                     __ATOMIC_RELAXED))
        return; /* another thread logs now */
    char line[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "tasker: %s\n", line);
}

void my_trace_open(my_store *s)
{
    const char *dir = getenv("TASKER_MYSQL_TRACE");
    if (!dir || !*dir) return;
    char path[4096];
    snprintf(path, sizeof path, "%s/mysql-trace.%ld", dir, (long)getpid());
    if (!(s->trace = fopen(path, "a")))
        fprintf(stderr, "tasker: TASKER_MYSQL_TRACE: cannot open %s\n", path);
}

void my_trace(my_store *s, const char *fmt, ...)
{
    if (!s->trace) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(s->trace, "%lld %s\n", (long long)my_mono_us(), line); /* one call: one line */
    fflush(s->trace);
}

/* ---- Galera ------------------------------------------------------------------------ */

/* Test seams that both the group commit (resolve.c) and the cluster claim (claim.c)
 * read (internal.h). */
bool my_test_verify_claims;
int (*my_test_before_resolve)(void);

int my_conn_wsrep(my_store *s, my_conn *c, bool *on)
{
    if (c->wsrep < 0) {
        if (mysql_query(c->db, "SELECT @@wsrep_on") != 0) {
            if (mysql_errno(c->db) != ER_UNKNOWN_SYSTEM_VARIABLE)
                return my_fail_conn(s, c, "asking whether the server is a Galera member");
            c->wsrep = 0; /* MySQL, or a MariaDB built without wsrep */
        } else {
            MYSQL_RES *res = mysql_store_result(c->db);
            MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
            c->wsrep = row && row[0] && atoi(row[0]) == 1;
            mysql_free_result(res);
        }
    }
    *on = c->wsrep == 1 || my_test_verify_claims;
    return TASKER_OK;
}

/* ---- reads ------------------------------------------------------------------------- */

int my_read(my_store *s, my_read_fn fn, void *ctx)
{
    int rc = TASKER_ESTORAGE;
    for (int attempt = 0; attempt < 2; attempt++) {
        my_conn *c = NULL;
        if ((rc = my_conn_get(s, &c)) != TASKER_OK) return rc;
        rc = fn(s, c, ctx);
        bool lost = c->broken;
        my_conn_put(s, c);
        if (rc == TASKER_OK || !lost) return rc;
    }
    return rc;
}

/* ---- a statement run once ----------------------------------------------------------- */

int my_exec_once(my_store *s, my_conn *c, const char *sql)
{
    int rc = TASKER_OK;
    MYSQL_STMT *st = mysql_stmt_init(c->db);
    if (!st) return tasker_fail(TASKER_ENOMEM, "mysql: out of memory for a statement");
    if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0 || mysql_stmt_execute(st) != 0)
        rc = my_fail_stmt(s, c, st, "setting up the connection or schema");
    mysql_stmt_close(st);
    return rc;
}
