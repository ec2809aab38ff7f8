/* The MySQL driver's bulk definitions (storage version 4, issue 14): many tasks and
 * schedules in one write (add_definitions), a herd's fires recorded at once
 * (set_scheme_fires), and the schedules' change counter (schemes_version) that lets
 * the schedule loop reread them only when they changed.
 *
 * add_definitions is one write of the group commit, so one transaction, inside a
 * savepoint of its own: a failure part way undoes every row it wrote, and nothing else
 * of the batch. The rows go as multi-row INSERTs of up to DEFS_ROWS rows (and about
 * DEFS_BYTES bytes of values, below the server's max_allowed_packet), each prepared
 * once for its row count; one round trip per chunk instead of one commit per item took
 * 100,000 schedules from minutes to about a second. Lengths are checked before anything
 * is sent, so that the message names the first bad item; a schedule whose task is in
 * neither the call nor the store is found, after the foreign key refused its chunk, by
 * looking its chunk's tasks up one by one.
 *
 * Fires (my_set_scheme_fires): one UPDATE per FIRES_CHUNK schedules, each moved to its
 * own time by a CASE, only forward (GREATEST), schedules gone meanwhile matching
 * nothing. Recording fires does not bump the schedules' change counter.
 *
 * The change counter is the one row of scheme_version (migration 6), bumped by
 * my_bump_schemes (storage/mysql/rows.c) in the transaction of every change that
 * alters what fires: a task or schedule added, replaced or removed, a pause or resume,
 * a bulk add. Recording a fire does not bump it. */
#include "core/error.h"
#include "storage/mysql/operations.h"
#include "storage/mysql/write.h"

#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFS_ROWS 500           /* rows of one multi-row INSERT */
#define DEFS_BYTES (4u << 20)   /* and about this many bytes of values at most */
#define TASK_NCOLS MY_TASK_NCOLS
#define SCHEME_NCOLS 7
#define FIRES_CHUNK 256 /* schedules of one UPDATE recording fires */
/* The column sizes of schema.c's tables. */
#define ID_MAX 63
#define HANDLER_MAX 1024
#define CRON_MAX 2048

static my_store *store(tasker_storage *st) { return (my_store *)st; }

/* ---- checks before anything is written ------------------------------------------------ */

static int check_len(const char *kind, size_t i, const char *task_id, const char *what,
                     const char *v, size_t max, bool may_be_null)
{
    if (!v) {
        if (may_be_null) return TASKER_OK;
        return tasker_fail(TASKER_EINVAL, "mysql: %s[%zu] (task '%s'): %s is NULL", kind, i,
                           task_id ? task_id : "(null)", what);
    }
    size_t len = strlen(v);
    if (len == 0 && !may_be_null)
        return tasker_fail(TASKER_EINVAL, "mysql: %s[%zu] (task '%s'): %s is empty", kind, i,
                           task_id ? task_id : "(null)", what);
    if (len > max)
        return tasker_fail(TASKER_EINVAL, "mysql: %s[%zu] (task '%.40s'): %s is %zu bytes, "
                           "longer than %zu", kind, i, task_id ? task_id : "(null)", what, len,
                           max);
    return TASKER_OK;
}

static int check_all(const tasker_task *tasks, size_t nt, const tasker_task_scheme *schemes,
                     size_t ns)
{
    int rc;
    for (size_t i = 0; i < nt; i++) {
        const tasker_task *t = &tasks[i];
        if ((rc = check_len("tasks", i, t->task_id, "task id", t->task_id, ID_MAX, false)) ||
            (rc = check_len("tasks", i, t->task_id, "handler", t->handler, HANDLER_MAX, false)))
            return rc;
    }
    for (size_t i = 0; i < ns; i++) {
        const tasker_task_scheme *sc = &schemes[i];
        if ((rc = check_len("schedules", i, sc->task_id, "task id", sc->task_id, ID_MAX,
                            false)) ||
            (rc = check_len("schedules", i, sc->task_id, "schedule id", sc->scheme_id, ID_MAX,
                            false)) ||
            (rc = check_len("schedules", i, sc->task_id, "cron", sc->cron, CRON_MAX, false)))
            return rc;
    }
    return TASKER_OK;
}

/* ---- multi-row INSERTs ------------------------------------------------------------------ */

/* The values of one row, bound from an item (tasks or schedules). */
typedef struct {
    int i32[4];
    int64_t i64[4];
    unsigned long len[4];
} row_vals;

typedef struct {
    const char *head;  /* "INSERT INTO t (cols) VALUES " */
    const char *tuple; /* "(?, ?, ...)" */
    const char *tail;  /* " ON DUPLICATE KEY UPDATE ..." */
    int ncols;
    const char *kind;  /* "tasks", "schedules": for messages */
} insert_shape;

static const insert_shape task_shape = {
    "INSERT INTO tasks (task_id, handler, param, descr, max_attempts, backoff_ms,"
    " backoff_max_ms, timeout_ms, max_concurrency, priority, max_execs, max_exec_age_s,"
    " paused) VALUES ",
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    /* As MS_TASK_UPSERT: a re-add replaces the definition and keeps the paused state. */
    " ON DUPLICATE KEY UPDATE handler = VALUES(handler), param = VALUES(param),"
    " descr = VALUES(descr), max_attempts = VALUES(max_attempts),"
    " backoff_ms = VALUES(backoff_ms), backoff_max_ms = VALUES(backoff_max_ms),"
    " timeout_ms = VALUES(timeout_ms), max_concurrency = VALUES(max_concurrency),"
    " priority = VALUES(priority), max_execs = VALUES(max_execs),"
    " max_exec_age_s = VALUES(max_exec_age_s)",
    TASK_NCOLS, "tasks"};

static const insert_shape scheme_shape = {
    "INSERT INTO task_schemes (scheme_id, task_id, cron, misfire, overlap, created_us,"
    " last_fire_us) VALUES ",
    "(?, ?, ?, ?, ?, ?, ?)",
    /* As MS_SCHEME_UPSERT: the same task and cron keeps its id, takes the policies. */
    " ON DUPLICATE KEY UPDATE misfire = VALUES(misfire), overlap = VALUES(overlap)",
    SCHEME_NCOLS, "schedules"};

static void bind_scheme(MYSQL_BIND *p, row_vals *v, const tasker_task_scheme *sc,
                        int64_t now_us)
{
    my_bind_str(&p[0], sc->scheme_id, &v->len[0]);
    my_bind_str(&p[1], sc->task_id, &v->len[1]);
    my_bind_str(&p[2], sc->cron, &v->len[2]);
    v->i32[0] = (int)sc->misfire;
    v->i32[1] = (int)sc->overlap;
    v->i64[0] = sc->created_us ? sc->created_us : now_us;
    my_bind_int(&p[3], &v->i32[0]);
    my_bind_int(&p[4], &v->i32[1]);
    my_bind_i64(&p[5], &v->i64[0]);
    my_bind_i64(&p[6], &sc->last_fire_us);
}

static size_t task_bytes(const tasker_task *t)
{
    return strlen(t->task_id) + strlen(t->handler) + (t->param ? strlen(t->param) : 4) +
           (t->desc ? strlen(t->desc) : 0) + 64;
}

static size_t scheme_bytes(const tasker_task_scheme *sc)
{
    return strlen(sc->scheme_id) + strlen(sc->task_id) + strlen(sc->cron) + 32;
}

/* A statement prepared for k rows of a shape, kept while chunks of k rows follow. */
typedef struct {
    MYSQL_STMT *st;
    size_t k;
    MYSQL_BIND *p;
    row_vals *v;
} chunk_stmt;

static void chunk_stmt_free(chunk_stmt *cs)
{
    if (cs->st) mysql_stmt_close(cs->st);
    free(cs->p);
    free(cs->v);
    *cs = (chunk_stmt){0};
}

static int chunk_prepare(my_store *s, my_conn *c, const insert_shape *sh, size_t k,
                         chunk_stmt *cs)
{
    if (cs->st && cs->k == k) return TASKER_OK;
    chunk_stmt_free(cs);
    size_t tl = strlen(sh->tuple), cap = strlen(sh->head) + k * (tl + 1) + strlen(sh->tail) + 1;
    char *sql = malloc(cap);
    cs->p = calloc(k * (size_t)sh->ncols, sizeof *cs->p);
    cs->v = calloc(k, sizeof *cs->v);
    if (!sql || !cs->p || !cs->v) {
        free(sql);
        chunk_stmt_free(cs);
        return tasker_fail(TASKER_ENOMEM, "mysql: out of memory for %zu %s", k, sh->kind);
    }
    char *at = sql + sprintf(sql, "%s", sh->head);
    for (size_t i = 0; i < k; i++) {
        if (i) *at++ = ',';
        memcpy(at, sh->tuple, tl);
        at += tl;
    }
    strcpy(at, sh->tail);
    cs->st = mysql_stmt_init(c->db);
    if (!cs->st) {
        free(sql);
        chunk_stmt_free(cs);
        return tasker_fail(TASKER_ENOMEM, "mysql: out of memory for a statement");
    }
    int rc = TASKER_OK;
    if (mysql_stmt_prepare(cs->st, sql, strlen(sql)) != 0) {
        char what[64];
        snprintf(what, sizeof what, "preparing an insert of %zu %s", k, sh->kind);
        rc = my_fail_stmt(s, c, cs->st, what);
    }
    free(sql);
    if (rc != TASKER_OK) chunk_stmt_free(cs);
    else cs->k = k;
    return rc;
}

/* The schedule of the chunk [from, from + k) whose task does not exist, after the
 * foreign key refused the chunk: its index, or from + k when none is found. */
static size_t first_without_task(my_store *s, my_conn *c, const tasker_task_scheme *v,
                                 size_t from, size_t k)
{
    for (size_t i = from; i < from + k; i++) {
        MYSQL_BIND p[1];
        unsigned long len;
        MYSQL_STMT *st;
        int64_t one = 0;
        my_bind_str(&p[0], v[i].task_id, &len);
        if (my_cl_prepare(s, c, "SELECT 1 FROM tasks WHERE task_id = ?", p, &st,
                          "looking for a schedule's task") != TASKER_OK)
            return from + k;
        my_cl_col col = {.i64 = &one};
        int f = my_cl_fetch(s, c, st, &col, 1);
        mysql_stmt_close(st);
        if (f < 0) return from + k;
        if (f == 0) return i;
    }
    return from + k;
}

/* Inserts items [0, n) of one shape in chunks. */
static int insert_all(my_store *s, my_conn *c, const insert_shape *sh, const void *items,
                      size_t n)
{
    const tasker_task *tasks = items;
    const tasker_task_scheme *schemes = items;
    bool is_task = sh == &task_shape;
    int64_t now_us = my_now_us(s);
    chunk_stmt cs = {0};
    int rc = TASKER_OK;
    for (size_t from = 0; from < n && rc == TASKER_OK;) {
        size_t k = 0, bytes = 0;
        while (from + k < n && k < DEFS_ROWS && (k == 0 || bytes < DEFS_BYTES)) {
            bytes += is_task ? task_bytes(&tasks[from + k]) : scheme_bytes(&schemes[from + k]);
            k++;
        }
        if ((rc = chunk_prepare(s, c, sh, k, &cs)) != TASKER_OK) break;
        for (size_t i = 0; i < k; i++) {
            MYSQL_BIND *p = cs.p + i * (size_t)sh->ncols;
            if (is_task) my_bind_task(p, cs.v[i].len, &cs.v[i].i32[0], &tasks[from + i]);
            else bind_scheme(p, &cs.v[i], &schemes[from + i], now_us);
        }
        if (mysql_stmt_bind_param(cs.st, cs.p) != 0 || mysql_stmt_execute(cs.st) != 0) {
            char what[64];
            snprintf(what, sizeof what, "adding %zu %s", k, sh->kind);
            rc = my_fail_stmt(s, c, cs.st, what);
            if (!is_task && c->last_errno == ER_NO_REFERENCED_ROW_2) {
                size_t bad = first_without_task(s, c, schemes, from, k);
                if (bad < from + k)
                    rc = tasker_fail(TASKER_ENOTFOUND, "mysql: schedules[%zu]: no task '%s' "
                                     "for the schedule", bad, schemes[bad].task_id);
            }
            break;
        }
        from += k;
    }
    chunk_stmt_free(&cs);
    return rc;
}

typedef struct {
    const tasker_task *tasks;
    size_t nt;
    const tasker_task_scheme *schemes;
    size_t ns;
} defs_arg;

/* Tasks first, so that a schedule may name a task of the same call; all inside a
 * savepoint, so that a failure leaves nothing of this write in the batch. */
static int w_define(my_store *s, my_conn *c, my_write *w)
{
    const defs_arg *a = w->arg;
    int rc = my_exec_once(s, c, "SAVEPOINT tasker_defs");
    if (rc != TASKER_OK) return rc;
    if (a->nt) rc = insert_all(s, c, &task_shape, a->tasks, a->nt);
    if (rc == TASKER_OK && a->ns) rc = insert_all(s, c, &scheme_shape, a->schemes, a->ns);
    if (rc == TASKER_OK) rc = my_bump_schemes(s, c);
    if (rc == TASKER_OK) return my_exec_once(s, c, "RELEASE SAVEPOINT tasker_defs");
    if (my_trx_lost(c)) return rc;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", tasker_last_error());
    c->last_errno = 0;
    if (my_exec_once(s, c, "ROLLBACK TO SAVEPOINT tasker_defs") != TASKER_OK)
        return TASKER_ESTORAGE;
    return tasker_fail(rc, "%s", msg);
}

int my_add_definitions(tasker_storage *st, const tasker_task *tasks, size_t nt,
                       const tasker_task_scheme *schemes, size_t ns)
{
    if (nt + ns == 0) return TASKER_OK;
    if ((nt && !tasks) || (ns && !schemes))
        return tasker_fail(TASKER_EINVAL, "mysql: add_definitions: NULL array");
    int rc = check_all(tasks, nt, schemes, ns);
    if (rc != TASKER_OK) return rc;
    defs_arg a = {tasks, nt, schemes, ns};
    my_write w = {.fn = w_define, .arg = &a};
    return my_write_submit(store(st), &w);
}

/* ---- recording fires ------------------------------------------------------------------- */

typedef struct {
    const char *id;
    int64_t us;
} fire_pair;

static int by_id_latest_first(const void *a, const void *b)
{
    const fire_pair *x = a, *y = b;
    int d = strcmp(x->id, y->id);
    if (d) return d;
    return x->us > y->us ? -1 : x->us < y->us;
}

static int fires_chunk(my_store *s, my_conn *c, const fire_pair *v, size_t n)
{
    char *sql = malloc(200 + 20 * n);
    MYSQL_BIND *p = calloc(3 * n, sizeof *p);
    unsigned long *len = calloc(2 * n, sizeof *len);
    int rc = TASKER_OK;
    if (!sql || !p || !len) {
        rc = tasker_fail(TASKER_ENOMEM, "mysql: out of memory recording %zu fires", n);
        goto out;
    }
    size_t at = (size_t)sprintf(sql, "UPDATE task_schemes SET last_fire_us ="
                                     " GREATEST(last_fire_us, CASE scheme_id");
    for (size_t i = 0; i < n; i++) at += (size_t)sprintf(sql + at, " WHEN ? THEN ?");
    at += (size_t)sprintf(sql + at, " ELSE last_fire_us END) WHERE scheme_id IN (");
    my_sql_marks(sql, &at, n);
    strcpy(sql + at, ")");
    for (size_t i = 0; i < n; i++) {
        my_bind_str(&p[2 * i], v[i].id, &len[2 * i]);
        my_bind_i64(&p[2 * i + 1], &v[i].us);
        my_bind_str(&p[2 * n + i], v[i].id, &len[2 * i + 1]);
    }
    rc = my_cl_run(s, c, sql, p, NULL, "recording fires");
out:
    free(sql);
    free(p);
    free(len);
    return rc;
}

typedef struct {
    fire_pair *v;
    size_t n;
} fires_arg;

static int w_set_fires(my_store *s, my_conn *c, my_write *w)
{
    const fires_arg *a = w->arg;
    int rc = TASKER_OK;
    for (size_t at = 0; at < a->n && rc == TASKER_OK; at += FIRES_CHUNK)
        rc = fires_chunk(s, c, a->v + at, a->n - at < FIRES_CHUNK ? a->n - at : FIRES_CHUNK);
    return rc;
}

int my_set_scheme_fires(tasker_storage *st, const char *const *ids, const int64_t *fire_us,
                        size_t n)
{
    if (n == 0) return TASKER_OK;
    if (!ids || !fire_us) return tasker_fail(TASKER_EINVAL, "mysql: set_scheme_fires: NULL");
    fire_pair *v = malloc(n * sizeof *v);
    if (!v) return tasker_fail(TASKER_ENOMEM, "mysql: out of memory recording %zu fires", n);
    for (size_t i = 0; i < n; i++) {
        if (!ids[i]) {
            free(v);
            return tasker_fail(TASKER_EINVAL, "mysql: set_scheme_fires: ids[%zu] is NULL", i);
        }
        v[i] = (fire_pair){ids[i], fire_us[i]};
    }
    /* One CASE arm per schedule: of an id given twice, the latest time. */
    qsort(v, n, sizeof *v, by_id_latest_first);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!m || strcmp(v[m - 1].id, v[i].id) != 0) v[m++] = v[i];
    fires_arg a = {v, m};
    my_write w = {.fn = w_set_fires, .arg = &a};
    int rc = my_write_submit(store(st), &w);
    free(v);
    return rc;
}

/* ---- the change counter ----------------------------------------------------------------- */

static int r_version(my_store *s, my_conn *c, void *ctx)
{
    MYSQL_STMT *st;
    int64_t v = 0;
    int rc = my_cl_prepare(s, c, "SELECT v FROM scheme_version", NULL, &st,
                           "reading the schedules' change counter");
    if (rc != TASKER_OK) return rc;
    my_cl_col col = {.i64 = &v};
    int f = my_cl_fetch(s, c, st, &col, 1);
    mysql_stmt_close(st);
    if (f < 0) return f;
    if (f == 0)
        return tasker_fail(TASKER_ESTORAGE, "mysql: %s: the schedules' change counter is "
                           "missing", s->where);
    *(uint64_t *)ctx = (uint64_t)v;
    return TASKER_OK;
}

int my_schemes_version(tasker_storage *st, uint64_t *out)
{
    if (!out) return tasker_fail(TASKER_EINVAL, "mysql: schemes_version: NULL argument");
    return my_read(store(st), r_version, out);
}
