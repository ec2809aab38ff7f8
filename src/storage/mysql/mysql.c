/* The MySQL / MariaDB driver: opening and closing the store, Connector/C's thread
 * rules, connections, the connection pool, and turning client errors into messages.
 *
 * Reconnecting: MYSQL_OPT_RECONNECT stays off, since it silently drops session state
 * (prepared statements, an open transaction). Instead a call that finds the server gone
 * fails with TASKER_ESTORAGE, its connection is closed with its statements, and the
 * pool's generation moves on so that every idle connection made before the failure is
 * dropped too; the next call connects afresh and prepares its statements again. */
#include "core/error.h"
#include "storage/mysql/internal.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

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

static void conn_free(my_conn *c)
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
    conn_free(c);
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
                conn_free(c);
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
        conn_free(c);
        return;
    }
    c->next_free = s->free_list;
    s->free_list = c;
    pthread_cond_signal(&s->pool_cond);
    pthread_mutex_unlock(&s->pool_lock);
}

static void store_free(my_store *s)
{
    my_thread_enter();
    my_writer_stop(s); /* it commits what is queued, then what the lanes owe */
    /* Claims of unknown outcome: one try to put their runs back to pending (else they
     * stay running under this node until its lease ends: docs/cluster.md). */
    if (s->nclaims_unknown && my_conn_at_hand(s)) my_claims_settle(s);
    my_claims_free(s);
    if (s->free_list && s->free_list->generation == s->generation)
        my_marks_drop(s, s->free_list, 0);
    while (s->free_list) {
        my_conn *c = s->free_list;
        s->free_list = c->next_free;
        conn_free(c);
    }
    pthread_mutex_destroy(&s->pool_lock);
    pthread_cond_destroy(&s->pool_cond);
    pthread_mutex_destroy(&s->claims_lock);
    if (s->trace) fclose(s->trace);
    my_commit_free(s);
    pthread_mutex_destroy(&s->commit_lock);
    my_url_clear(&s->url);
    free(s);
}

void my_store_close(tasker_storage *st)
{
    if (st) store_free((my_store *)st);
}

static void describe(my_store *s)
{
    if (s->url.socket || (strcmp(s->url.host, "localhost") == 0 && !s->url.port))
        snprintf(s->where, sizeof s->where, "%s@localhost:%s/%s", s->url.user,
                 s->url.socket ? s->url.socket : "(default socket)", s->url.db);
    else
        snprintf(s->where, sizeof s->where, "%s@%s:%u/%s", s->url.user, s->url.host,
                 s->url.port ? s->url.port : 3306, s->url.db);
}

#define MARK_MAX_AGE_US (7 * 86400 * INT64_C(1000000))

/* A random positive 63-bit id for this store's commit mark. */
static int64_t new_store_id(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
        v = (uint64_t)my_real_now_us() * 6364136223846793005ULL ^ (uint64_t)getpid();
    v &= INT64_MAX;
    return v ? (int64_t)v : 1;
}

/* Opens the store: parses the URL, connects once (so that a wrong password or an
 * unreachable host fails here, not at the first operation), migrates the schema. */
tasker_storage *tasker_mysql_storage(const char *url)
{
    my_store *s = calloc(1, sizeof *s);
    my_conn *c = NULL;
    if (!s) {
        tasker_fail(TASKER_ENOMEM, "mysql: out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->pool_lock, NULL);
    pthread_cond_init(&s->pool_cond, NULL);
    pthread_mutex_init(&s->claims_lock, NULL);
    my_commit_init(s);
    s->base.ops = &my_ops;
    if (my_url_parse(url, &s->url) != TASKER_OK) goto fail;
    describe(s);
    my_trace_open(s);
    if (my_conn_get(s, &c) != TASKER_OK) goto fail;
    if (my_migrate(s, c) != TASKER_OK) goto fail;
    s->store_id = new_store_id();
    if (my_marks_drop(s, c, my_real_now_us() - MARK_MAX_AGE_US) != TASKER_OK) goto fail;
    my_conn_put(s, c);
    c = NULL;
    if (my_writer_start(s) != TASKER_OK) goto fail;
    return &s->base;
fail:
    if (c) {
        c->broken = true;
        my_conn_put(s, c);
    }
    store_free(s);
    return NULL;
}
