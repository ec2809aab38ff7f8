/* The SQLite driver: opening a store (options, file creation, pragmas, migration),
 * closing it, the ops table, and error formatting. Writes go through the group commit
 * of storage/sqlite/commit.c, reads through the reader pool of storage/sqlite/read.c.
 *
 * Path and options: "PATH[?sync=normal|full&busy_timeout_ms=N]" (docs/storage.md).
 */
#include "storage/sqlite/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t sq_now_us(sq_store *s)
{
    if (s->base.env.clock) return tasker_storage_now_us(&s->base);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void sq_format_error(sq_store *s, sqlite3 *db, char *buf, size_t size, const char *what)
{
    const char *detail = db ? sqlite3_errmsg(db) : "out of memory";
    int code = db ? sqlite3_extended_errcode(db) : SQLITE_NOMEM;
    if (code == SQLITE_NOTADB) {
        snprintf(buf, size, "sqlite: %s: the file is not a SQLite database (%s)", s->path,
                 what);
        return;
    }
    /* For I/O, the system's reason (ENOSPC, EFBIG, EACCES) is what a person can act on. */
    int primary = code & 0xff, sys_errno = db ? sqlite3_system_errno(db) : 0;
    bool io = primary == SQLITE_IOERR || primary == SQLITE_FULL ||
              primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY;
    if (io && sys_errno)
        snprintf(buf, size, "sqlite: %s: %s: %s (%s)", s->path, what, detail,
                 strerror(sys_errno));
    else if (strcmp(detail, sqlite3_errstr(code)) != 0)
        snprintf(buf, size, "sqlite: %s: %s: %s (%s)", s->path, what, detail,
                 sqlite3_errstr(code));
    else
        snprintf(buf, size, "sqlite: %s: %s: %s", s->path, what, detail);
}

int sq_fail(sq_store *s, sqlite3 *db, const char *what)
{
    char msg[SQ_MSG_SIZE];
    sq_format_error(s, db, msg, sizeof msg, what);
    return tasker_set_error(TASKER_ESTORAGE, "%s", msg);
}

int sq_prepare_all(sq_store *s, sqlite3 *db, const char *const *sql, sqlite3_stmt **stmts,
                   int n)
{
    for (int i = 0; i < n; i++) {
        if (sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &stmts[i], NULL) !=
            SQLITE_OK)
            return sq_fail(s, db, "preparing a statement");
    }
    return TASKER_OK;
}

/* ---- options ------------------------------------------------------------------- */

static int parse_option(sq_store *s, const char *key, size_t key_len, const char *val)
{
    if (key_len == 4 && strncmp(key, "sync", 4) == 0) {
        if (strcmp(val, "normal") == 0) s->sync_full = 0;
        else if (strcmp(val, "full") == 0) s->sync_full = 1;
        else
            return tasker_set_error(TASKER_EINVAL,
                                    "sqlite: option sync: '%s' is not normal or full", val);
        return TASKER_OK;
    }
    if (key_len == 15 && strncmp(key, "busy_timeout_ms", 15) == 0) {
        char *end;
        errno = 0;
        long ms = strtol(val, &end, 10);
        if (errno || end == val || *end || ms < 0 || ms > 3600000)
            return tasker_set_error(TASKER_EINVAL,
                                    "sqlite: option busy_timeout_ms: '%s' is not a number "
                                    "of milliseconds 0-3600000", val);
        s->busy_timeout_ms = (int)ms;
        return TASKER_OK;
    }
    return tasker_set_error(TASKER_EINVAL,
                            "sqlite: unknown option '%.*s'; known: sync, busy_timeout_ms",
                            (int)key_len, key);
}

/* Splits "PATH?k=v&k=v" into s->path and the options. */
static int parse_dsn(sq_store *s, const char *dsn)
{
    const char *q = strchr(dsn, '?');
    size_t path_len = q ? (size_t)(q - dsn) : strlen(dsn);
    if (path_len == 0)
        return tasker_set_error(TASKER_EINVAL, "sqlite: empty path; expected sqlite:PATH");
    if (!(s->path = strndup(dsn, path_len)))
        return tasker_set_error(TASKER_ENOMEM, "sqlite: out of memory");
    char val[64];
    for (const char *p = q ? q + 1 : NULL; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (!eq)
            return tasker_set_error(TASKER_EINVAL, "sqlite: option '%.*s' has no value",
                                    (int)len, p);
        size_t val_len = len - (size_t)(eq + 1 - p);
        if (val_len >= sizeof val)
            return tasker_set_error(TASKER_EINVAL, "sqlite: option '%.*s': value too long",
                                    (int)len, p);
        memcpy(val, eq + 1, val_len);
        val[val_len] = '\0';
        int rc = parse_option(s, p, (size_t)(eq - p), val);
        if (rc != TASKER_OK) return rc;
        p = amp ? amp + 1 : NULL;
    }
    return TASKER_OK;
}

/* ---- connections --------------------------------------------------------------- */

/* Creates a missing database file with mode 0600 before SQLite sees it: SQLite would
 * create it with 0644, and task params may hold secrets. Its -wal and -shm files take
 * the database file's mode. The process umask is left alone (other threads use it). */
static int create_file(sq_store *s)
{
    int fd = open(s->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        return TASKER_OK;
    }
    if (errno == EEXIST) return TASKER_OK;
    return tasker_set_error(TASKER_ESTORAGE, "sqlite: %s: cannot create the database file: %s",
                            s->path, strerror(errno));
}

static int conn_pragmas(sq_store *s, sqlite3 *db, bool reader)
{
    /* A checkpoint runs inside the COMMIT that crosses wal_autocheckpoint pages, and
     * stalls that batch for its fsyncs: fewer, larger ones keep the batches flowing
     * (the WAL then grows to about 4 MB before it is copied back and reused). */
    char sql[200];
    snprintf(sql, sizeof sql,
             "PRAGMA foreign_keys = ON; PRAGMA synchronous = %s; PRAGMA query_only = %d;"
             " PRAGMA temp_store = MEMORY;"
             " PRAGMA wal_autocheckpoint = %d;",
             s->sync_full ? "FULL" : "NORMAL", reader ? 1 : 0, SQ_WAL_AUTOCHECKPOINT_PAGES);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return sq_fail(s, db, "setting pragmas");
    return TASKER_OK;
}

int sq_open_conn(sq_store *s, sqlite3 **out, bool reader)
{
    sqlite3 *db = NULL;
    int rc = TASKER_ESTORAGE;
    /* Each connection is used by one thread at a time (the leader, or the reader's
     * borrower), so SQLite's per-connection mutex is not needed. */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    if (sqlite3_open_v2(s->path, &db, flags, NULL) != SQLITE_OK) {
        rc = sq_fail(s, db, "cannot open the database");
        goto out;
    }
    if (sqlite3_db_readonly(db, "main") == 1) {
        rc = tasker_set_error(TASKER_ESTORAGE,
                              "sqlite: %s: the database file is read-only; tasker needs to "
                              "write to it (check its permissions and its directory's)",
                              s->path);
        goto out;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, s->busy_timeout_ms);
    if ((rc = conn_pragmas(s, db, reader)) != TASKER_OK) goto out;
    *out = db;
    return TASKER_OK;
out:
    sqlite3_close_v2(db);
    return rc;
}

/* Switches the file to WAL (readers never wait for the writer). A file that is not a
 * database has failed before this, on the first statement that read its header, and
 * nothing was written to it (test_sqlite_bad_input.c checks its bytes). */
static int set_wal(sq_store *s, sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int rc = TASKER_OK;
    /* The page size of a new file (an existing one keeps its own): see SQ_PAGE_SIZE. */
    sqlite3_exec(db, "PRAGMA page_size = " SQ_PAGE_SIZE, NULL, NULL, NULL);
    /* Changing the journal mode can answer SQLITE_BUSY without calling the busy handler
     * (two processes opening a new file at once), so it waits here, up to the busy
     * timeout, in 5 ms steps. */
    int step_rc = SQLITE_BUSY;
    for (int waited_ms = 0; step_rc == SQLITE_BUSY && waited_ms <= s->busy_timeout_ms;
         waited_ms += 5) {
        sqlite3_finalize(st);
        st = NULL;
        int prc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
        step_rc = prc == SQLITE_OK ? sqlite3_step(st) : prc;
        if ((step_rc & 0xff) == SQLITE_BUSY) {
            step_rc = SQLITE_BUSY;
            struct timespec ts = {0, 5000000L};
            nanosleep(&ts, NULL);
        }
    }
    if (step_rc != SQLITE_ROW) {
        rc = sq_fail(s, db, "switching to WAL mode");
    } else if (strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
        rc = tasker_set_error(TASKER_ESTORAGE, "sqlite: %s: cannot use WAL mode (got '%s')",
                              s->path, (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return rc;
}

static void sq_close(tasker_storage *st)
{
    sq_store *s = (sq_store *)st;
    if (!s) return;
    sq_writer_stop(s);
    sq_readers_close(s);
    for (int i = 0; i < W_COUNT; i++) sqlite3_finalize(s->wstmt[i]);
    sqlite3_close_v2(s->wdb);
    pthread_mutex_destroy(&s->gen_lock);
    pthread_mutex_destroy(&s->readers_lock);
    pthread_cond_destroy(&s->reader_freed);
    pthread_cond_destroy(&s->gen_cond);
    free(s->path);
    free(s);
}

static const tasker_storage_ops sqlite_ops = {
    .version = TASKER_STORAGE_VERSION,
    .name = "sqlite",
    .add_task = sq_add_task,
    .remove_task = sq_remove_task,
    .get_task = sq_get_task,
    .list_tasks = sq_list_tasks,
    .add_task_scheme = sq_add_task_scheme,
    .remove_task_scheme = sq_remove_task_scheme,
    .list_task_schemes = sq_list_task_schemes,
    .set_scheme_fire = sq_set_scheme_fire,
    .add_task_exec = sq_add_task_exec,
    .start_task_exec = sq_start_task_exec,
    .update_task_exec = sq_update_task_exec,
    .get_task_exec = sq_get_task_exec,
    .list_task_execs = sq_list_task_execs,
    .list_pending_execs = sq_list_pending_execs,
    .interrupt_dead = sq_interrupt_dead,
    .add_task_event = sq_add_task_event,
    .list_task_events = sq_list_task_events,
    .close = sq_close,
    .add_task_event_async = sq_add_task_event_async,
    .update_task_exec_async = sq_update_task_exec_async,
    .add_task_execs = sq_add_task_execs,
    .start_task_execs = sq_start_task_execs,
    .node_beat = sq_node_beat,
    .list_nodes = sq_list_nodes,
    .node_gone = sq_node_gone,
    .interrupt_expired = sq_interrupt_expired,
    .claim_task_execs = sq_claim_task_execs,
    .find_active_exec = sq_find_active_exec,
    .cancel_task_exec = sq_cancel_task_exec,
    .set_task_paused = sq_set_task_paused,
    .set_scheme_paused = sq_set_scheme_paused,
    .list_task_execs_filter = sq_list_task_execs_filter,
    .find_unique_exec = sq_find_unique_exec,
    .list_cancel_requests = sq_list_cancel_requests,
    /* version 4: bulk definitions */
    .set_scheme_fires = sq_set_scheme_fires,
    .add_definitions = sq_add_definitions,
    .schemes_version = sq_schemes_version,
    /* version 4: firing a herd */
    .add_started_execs = sq_add_started_execs,
};

static sq_store *store_new(void)
{
    sq_store *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->base.ops = &sqlite_ops;
    s->base.env.max_execs_per_task = TASKER_DEFAULT_MAX_EXECS;
    s->base.env.max_exec_age_s = TASKER_DEFAULT_MAX_EXEC_AGE_S;
    s->busy_timeout_ms = SQ_DEFAULT_BUSY_TIMEOUT_MS;
    pthread_mutex_init(&s->gen_lock, NULL);
    pthread_mutex_init(&s->readers_lock, NULL);
    pthread_cond_init(&s->reader_freed, NULL);
    pthread_cond_init(&s->gen_cond, NULL);
    static _Atomic uint64_t next_store_id = 1;
    s->store_id = atomic_fetch_add(&next_store_id, 1);
    return s;
}

/* Opens the store at schema version target_version (tests build older files). */
tasker_storage *sq_open_version(const char *path_and_options, int target_version)
{
    sq_store *s = NULL;
    if (!path_and_options) {
        tasker_set_error(TASKER_EINVAL, "sqlite: path is NULL");
        return NULL;
    }
    if (!(s = store_new())) {
        tasker_set_error(TASKER_ENOMEM, "sqlite: out of memory");
        return NULL;
    }
    if (parse_dsn(s, path_and_options) != TASKER_OK) goto fail;
    if (create_file(s) != TASKER_OK) goto fail;
    if (sq_open_conn(s, &s->wdb, false) != TASKER_OK) goto fail;
    if (sq_file_identity_record(s) != TASKER_OK) goto fail;
    if (sq_check_ours(s, s->wdb) != TASKER_OK) goto fail; /* before WAL, which persists */
    if (set_wal(s, s->wdb) != TASKER_OK) goto fail;
    if (sq_migrate(s, s->wdb, target_version) != TASKER_OK) goto fail;
    if (target_version == SQ_SCHEMA_VERSION &&
        (sq_prepare_all(s, s->wdb, sq_write_sql, s->wstmt, W_COUNT) != TASKER_OK ||
         sq_writer_start(s) != TASKER_OK))
        goto fail;
    return &s->base;
fail:
    sq_close(&s->base);
    return NULL;
}

static void sq_global_init(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

tasker_storage *tasker_sqlite_storage(const char *path_and_options)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sq_global_init);
    return sq_open_version(path_and_options, SQ_SCHEMA_VERSION);
}
