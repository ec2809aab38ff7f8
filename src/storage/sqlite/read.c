/* The SQLite driver's reads: a pool of reader connections (opened on demand, at most
 * SQ_MAX_READERS, each with its statements prepared once) and the query ops. In WAL
 * mode a reader sees every transaction committed before its statement began, and
 * never waits for the writer.
 */
#include "storage/sqlite/internal.h"

#include <stdlib.h>
#include <string.h>

static void reader_free(sq_reader *r)
{
    if (!r) return;
    for (int i = 0; i < R_COUNT; i++) sqlite3_finalize(r->stmt[i]);
    sqlite3_close_v2(r->db);
    free(r);
}

static sq_reader *reader_new(sq_store *s)
{
    sq_reader *r = calloc(1, sizeof *r);
    if (!r) {
        tasker_set_error(TASKER_ENOMEM, "sqlite: out of memory");
        return NULL;
    }
    if (sq_open_conn(s, &r->db, true) != TASKER_OK ||
        sq_prepare_all(s, r->db, sq_read_sql, r->stmt, R_COUNT) != TASKER_OK) {
        reader_free(r);
        return NULL;
    }
    return r;
}

sq_reader *sq_reader_get(sq_store *s)
{
    sq_reader *r = NULL;
    pthread_mutex_lock(&s->readers_lock);
    while (!s->free_readers && s->n_readers >= SQ_MAX_READERS)
        pthread_cond_wait(&s->reader_freed, &s->readers_lock);
    if (s->free_readers) {
        r = s->free_readers;
        s->free_readers = r->next;
        pthread_mutex_unlock(&s->readers_lock);
        return r;
    }
    s->n_readers++;
    pthread_mutex_unlock(&s->readers_lock);
    if ((r = reader_new(s))) return r;
    pthread_mutex_lock(&s->readers_lock);
    s->n_readers--;
    pthread_cond_signal(&s->reader_freed);
    pthread_mutex_unlock(&s->readers_lock);
    return NULL;
}

void sq_reader_put(sq_store *s, sq_reader *r)
{
    pthread_mutex_lock(&s->readers_lock);
    r->next = s->free_readers;
    s->free_readers = r;
    pthread_cond_signal(&s->reader_freed);
    pthread_mutex_unlock(&s->readers_lock);
}

void sq_readers_close(sq_store *s)
{
    while (s->free_readers) {
        sq_reader *r = s->free_readers;
        s->free_readers = r->next;
        reader_free(r);
    }
    s->n_readers = 0;
}

/* ---- rows to records ----------------------------------------------------------- */

/* A copy of a text column; NULL stays NULL. Sets *oom when a copy fails. */
static char *col_text(sqlite3_stmt *st, int i, bool *oom)
{
    const unsigned char *v = sqlite3_column_text(st, i);
    if (!v) return NULL;
    char *copy = strdup((const char *)v);
    if (!copy) *oom = true;
    return copy;
}

static bool row_task(sqlite3_stmt *st, void *out)
{
    tasker_task *t = out;
    bool oom = false;
    t->task_id = col_text(st, 0, &oom);
    t->handler = col_text(st, 1, &oom);
    t->desc = col_text(st, 2, &oom);
    t->param = col_text(st, 3, &oom);
    t->max_attempts = sqlite3_column_int(st, 4);
    t->backoff_ms = sqlite3_column_int64(st, 5);
    t->backoff_max_ms = sqlite3_column_int64(st, 6);
    t->timeout_ms = sqlite3_column_int64(st, 7);
    t->max_concurrency = sqlite3_column_int(st, 8);
    t->priority = sqlite3_column_int(st, 9);
    t->max_execs = sqlite3_column_int(st, 10);
    t->max_exec_age_s = sqlite3_column_int64(st, 11);
    t->paused = sqlite3_column_int(st, 12) != 0;
    return !oom;
}

static bool row_scheme(sqlite3_stmt *st, void *out)
{
    tasker_task_scheme *sc = out;
    bool oom = false;
    sc->scheme_id = col_text(st, 0, &oom);
    sc->task_id = col_text(st, 1, &oom);
    sc->cron = col_text(st, 2, &oom);
    sc->misfire = (tasker_misfire)sqlite3_column_int(st, 3);
    sc->overlap = (tasker_overlap)sqlite3_column_int(st, 4);
    sc->created_us = sqlite3_column_int64(st, 5);
    sc->last_fire_us = sqlite3_column_int64(st, 6);
    sc->paused = sqlite3_column_int(st, 7) != 0;
    return !oom;
}

bool sq_row_exec(sqlite3_stmt *st, void *out)
{
    tasker_task_exec *e = out;
    bool oom = false;
    e->exec_id = col_text(st, 0, &oom);
    e->task_id = col_text(st, 1, &oom);
    e->scheme_id = col_text(st, 2, &oom);
    e->scheduled_us = sqlite3_column_int64(st, 3);
    e->queued_us = sqlite3_column_int64(st, 4);
    e->start_us = sqlite3_column_int64(st, 5);
    e->end_us = sqlite3_column_int64(st, 6);
    e->status = (tasker_exec_status)sqlite3_column_int(st, 7);
    e->success = sqlite3_column_int(st, 8) != 0;
    e->result = col_text(st, 9, &oom);
    e->error = col_text(st, 10, &oom);
    e->node_id = col_text(st, 11, &oom);
    e->attempt = sqlite3_column_int(st, 12);
    e->retry_of = col_text(st, 13, &oom);
    e->run_at_us = sqlite3_column_int64(st, 14);
    e->priority = sqlite3_column_int(st, 15);
    e->param = col_text(st, 16, &oom);
    e->unique_key = col_text(st, 17, &oom);
    e->timeout_ms = sqlite3_column_int64(st, 18);
    return !oom;
}

static bool row_event(sqlite3_stmt *st, void *out)
{
    tasker_task_event *ev = out;
    bool oom = false;
    ev->event_id = sqlite3_column_int64(st, 0);
    ev->exec_id = col_text(st, 1, &oom);
    ev->time_us = sqlite3_column_int64(st, 2);
    ev->level = (tasker_level)sqlite3_column_int(st, 3);
    ev->message = col_text(st, 4, &oom);
    return !oom;
}

typedef bool (*row_fn)(sqlite3_stmt *st, void *out);
typedef void (*clear_fn)(void *rec);

static void clear_task(void *p) { tasker_task_clear(p); }
static void clear_scheme(void *p) { tasker_scheme_clear(p); }
static void clear_exec(void *p) { tasker_exec_clear(p); }
static void clear_event(void *p) { tasker_event_clear(p); }

/* Runs a bound statement and collects its rows into a growing array of records of
 * rec_size bytes. On failure frees what it collected. The statement is reset. */
static int collect(sq_store *s, sq_reader *rd, sqlite3_stmt *st, size_t rec_size, row_fn row,
                   clear_fn clear, void **out, size_t *n)
{
    char *v = NULL;
    size_t len = 0, cap = 0;
    int rc = TASKER_OK, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char *nv = realloc(v, ncap * rec_size);
            if (!nv) goto oom;
            v = nv;
            cap = ncap;
        }
        memset(v + len * rec_size, 0, rec_size);
        len++;
        if (!row(st, v + (len - 1) * rec_size)) goto oom;
    }
    if (step != SQLITE_DONE) rc = sq_fail(s, rd->db, "reading");
    goto out;
oom:
    rc = tasker_set_error(TASKER_ENOMEM, "sqlite: out of memory reading rows");
out:
    sqlite3_reset(st);
    if (rc != TASKER_OK) {
        for (size_t i = 0; i < len; i++) clear(v + i * rec_size);
        free(v);
        v = NULL;
        len = 0;
    }
    if (len == 0) {
        free(v);
        v = NULL;
    }
    *out = v;
    *n = len;
    return rc;
}

/* Borrows a reader, binds text (NULL = none) and an optional limit, collects. */
static int query(sq_store *s, int which, const char *text, int limit_param, size_t limit,
                 size_t rec_size, row_fn row, clear_fn clear, void **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sq_read_barrier(s);
    sq_reader *rd = sq_reader_get(s);
    if (!rd) return TASKER_ESTORAGE;
    sqlite3_stmt *st = rd->stmt[which];
    if (text) sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    if (limit_param) sqlite3_bind_int64(st, limit_param, limit ? (sqlite3_int64)limit : -1);
    int rc = collect(s, rd, st, rec_size, row, clear, out, n);
    sqlite3_clear_bindings(st);
    sq_reader_put(s, rd);
    return rc;
}

/* ---- the ops ------------------------------------------------------------------- */

int sq_get_task(tasker_storage *st, const char *task_id, tasker_task *out)
{
    if (!task_id || !out) return tasker_set_error(TASKER_EINVAL, "sqlite: get_task: NULL");
    tasker_task *v;
    size_t n;
    int rc = query((sq_store *)st, R_GET_TASK, task_id, 0, 0, sizeof *v, row_task,
                   clear_task, (void **)&v, &n);
    if (rc != TASKER_OK) return rc;
    if (n == 0) return tasker_set_error(TASKER_ENOTFOUND, "task '%s' not found", task_id);
    *out = v[0];
    free(v);
    return TASKER_OK;
}

int sq_list_tasks(tasker_storage *st, tasker_task **out, size_t *n)
{
    return query((sq_store *)st, R_LIST_TASKS, NULL, 0, 0, sizeof **out, row_task,
                 clear_task, (void **)out, n);
}

int sq_list_task_schemes(tasker_storage *st, tasker_task_scheme **out, size_t *n)
{
    return query((sq_store *)st, R_LIST_SCHEMES, NULL, 0, 0, sizeof **out, row_scheme,
                 clear_scheme, (void **)out, n);
}

int sq_get_task_exec(tasker_storage *st, const char *exec_id, tasker_task_exec *out)
{
    if (!exec_id || !out)
        return tasker_set_error(TASKER_EINVAL, "sqlite: get_task_exec: NULL");
    tasker_task_exec *v;
    size_t n;
    int rc = query((sq_store *)st, R_GET_EXEC, exec_id, 0, 0, sizeof *v, sq_row_exec,
                   clear_exec, (void **)&v, &n);
    if (rc != TASKER_OK) return rc;
    if (n == 0)
        return tasker_set_error(TASKER_ENOTFOUND, "execution '%s' not found", exec_id);
    *out = v[0];
    free(v);
    return TASKER_OK;
}

int sq_list_task_execs(tasker_storage *st, const char *task_id, size_t limit,
                       tasker_task_exec **out, size_t *n)
{
    if (task_id)
        return query((sq_store *)st, R_LIST_EXECS_TASK, task_id, 2, limit, sizeof **out,
                     sq_row_exec, clear_exec, (void **)out, n);
    return query((sq_store *)st, R_LIST_EXECS_ALL, NULL, 1, limit, sizeof **out, sq_row_exec,
                 clear_exec, (void **)out, n);
}

int sq_list_pending_execs(tasker_storage *st, size_t limit, tasker_task_exec **out,
                          size_t *n)
{
    return query((sq_store *)st, R_LIST_PENDING, NULL, 1, limit, sizeof **out, sq_row_exec,
                 clear_exec, (void **)out, n);
}

static int exec_exists(sq_store *s, const char *exec_id, bool *found)
{
    sq_reader *rd = sq_reader_get(s);
    if (!rd) return TASKER_ESTORAGE;
    sqlite3_stmt *st = rd->stmt[R_EXEC_EXISTS];
    sqlite3_bind_text(st, 1, exec_id, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    int rc = step == SQLITE_ROW || step == SQLITE_DONE ? TASKER_OK : sq_fail(s, rd->db, "reading");
    *found = step == SQLITE_ROW;
    sqlite3_reset(st);
    sq_reader_put(s, rd);
    return rc;
}

int sq_list_task_events(tasker_storage *st, const char *exec_id, tasker_task_event **out,
                        size_t *n)
{
    if (!exec_id || !out || !n)
        return tasker_set_error(TASKER_EINVAL, "sqlite: list_task_events: NULL");
    int rc = query((sq_store *)st, R_LIST_EVENTS, exec_id, 0, 0, sizeof **out, row_event,
                   clear_event, (void **)out, n);
    if (rc != TASKER_OK || *n > 0) return rc;
    /* No events: an execution without any, or none at all. */
    bool found;
    if ((rc = exec_exists((sq_store *)st, exec_id, &found)) != TASKER_OK) return rc;
    if (!found)
        return tasker_set_error(TASKER_ENOTFOUND, "execution '%s' not found", exec_id);
    return TASKER_OK;
}

static bool row_node(sqlite3_stmt *st, void *out)
{
    bool oom = false;
    *(char **)out = col_text(st, 0, &oom);
    return !oom;
}

static void clear_node(void *p)
{
    free(*(char **)p);
}

int sq_running_nodes(sq_store *s, char ***out, size_t *n)
{
    return query(s, R_RUNNING_NODES, NULL, 0, 0, sizeof **out, row_node, clear_node,
                 (void **)out, n);
}
