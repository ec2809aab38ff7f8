/* The MySQL driver's operations on tasks, schedules and events. Executions are in
 * storage/mysql/exec.c; the operations table is storage/mysql/mysql.c's.
 *
 * Writes go through the group commit (storage/mysql/lanes.c, storage/mysql/batch.c):
 * each is a my_write whose function runs inside the batch's transaction. Reads take a
 * pooled connection and run in autocommit; a read whose connection turns out to be lost is retried once on a new
 * connection, since reading twice is harmless. */
#include "core/error.h"
#include "storage/mysql/operations.h"
#include "storage/mysql/write.h"

#include <mysqld_error.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static my_store *store(tasker_storage *st) { return (my_store *)st; }

/* ---- tasks ------------------------------------------------------------------------ */

static int w_add_task(my_store *s, my_conn *c, my_write *w)
{
    const tasker_task *t = w->arg;
    MYSQL_BIND p[MY_TASK_NCOLS];
    unsigned long len[4];
    int paused;
    my_bind_task(p, len, &paused, t);
    uint64_t n = 0;
    int rc = my_run(s, c, MS_TASK_UPSERT, p, &n);
    /* 2: an existing task changed (1: new, or the same again, which fires nothing new). */
    if (rc == TASKER_OK && n == 2) rc = my_bump_schemes(s, c);
    return rc == TASKER_OK ? my_task_held_sync(s, c, t->task_id) : rc; /* a new limit */
}

int my_add_task(tasker_storage *st, const tasker_task *task)
{
    if (!task || !task->task_id || !task->handler)
        return tasker_fail(TASKER_EINVAL, "mysql: add_task: task id and handler are required");
    my_write w = {.fn = w_add_task, .arg = task};
    return my_write_submit(store(st), &w);
}

static int w_remove_task(my_store *s, my_conn *c, my_write *w)
{
    MYSQL_BIND p[1];
    unsigned long len;
    uint64_t n = 0;
    my_bind_str(&p[0], w->arg, &len);
    int rc = my_run(s, c, MS_TASK_DELETE, p, &n); /* schedules go by the cascade */
    if (rc == TASKER_OK && n == 0)
        return tasker_fail(TASKER_ENOTFOUND, "mysql: no task '%s'", (const char *)w->arg);
    if (rc == TASKER_OK) rc = my_bump_schemes(s, c);
    return rc;
}

int my_remove_task(tasker_storage *st, const char *task_id)
{
    if (!task_id) return tasker_fail(TASKER_EINVAL, "mysql: remove_task: task id is NULL");
    my_write w = {.fn = w_remove_task, .arg = task_id};
    return my_write_submit(store(st), &w);
}

static const my_col task_cols[] = {
    {MC_STR, offsetof(tasker_task, task_id)},
    {MC_STR, offsetof(tasker_task, handler)},
    {MC_STR, offsetof(tasker_task, desc)},
    {MC_STR, offsetof(tasker_task, param)},
    {MC_INT, offsetof(tasker_task, max_attempts)},
    {MC_I64, offsetof(tasker_task, backoff_ms)},
    {MC_I64, offsetof(tasker_task, backoff_max_ms)},
    {MC_I64, offsetof(tasker_task, timeout_ms)},
    {MC_INT, offsetof(tasker_task, max_concurrency)},
    {MC_INT, offsetof(tasker_task, priority)},
    {MC_INT, offsetof(tasker_task, max_execs)},
    {MC_I64, offsetof(tasker_task, max_exec_age_s)},
    {MC_BOOL, offsetof(tasker_task, paused)},
};

typedef struct {
    const char *key;
    void *rows;
    size_t n;
} read_ctx;

static int r_get_task(my_store *s, my_conn *c, void *ctx)
{
    read_ctx *r = ctx;
    MYSQL_BIND p[1];
    unsigned long len;
    my_bind_str(&p[0], r->key, &len);
    return my_query(s, c, MS_TASK_GET, p, task_cols, MY_NCOLS(task_cols), sizeof(tasker_task),
                    &r->rows, &r->n);
}

int my_get_task(tasker_storage *st, const char *task_id, tasker_task *out)
{
    if (!task_id || !out) return tasker_fail(TASKER_EINVAL, "mysql: get_task: NULL argument");
    read_ctx r = {.key = task_id};
    int rc = my_read(store(st), r_get_task, &r);
    if (rc != TASKER_OK) return rc;
    if (r.n == 0) return tasker_fail(TASKER_ENOTFOUND, "mysql: no task '%s'", task_id);
    *out = *(tasker_task *)r.rows;
    free(r.rows);
    return TASKER_OK;
}

static int r_list_tasks(my_store *s, my_conn *c, void *ctx)
{
    read_ctx *r = ctx;
    return my_query(s, c, MS_TASK_LIST, NULL, task_cols, MY_NCOLS(task_cols), sizeof(tasker_task),
                    &r->rows, &r->n);
}

int my_list_tasks(tasker_storage *st, tasker_task **out, size_t *n)
{
    if (!out || !n) return tasker_fail(TASKER_EINVAL, "mysql: list_tasks: NULL argument");
    read_ctx r = {0};
    int rc = my_read(store(st), r_list_tasks, &r);
    if (rc != TASKER_OK) return rc;
    *out = r.rows;
    *n = r.n;
    return TASKER_OK;
}

/* ---- schedules -------------------------------------------------------------------- */

static int scheme_id_of(my_store *s, my_conn *c, const tasker_task_scheme *sc, char *id_out)
{
    MYSQL_BIND p[2];
    unsigned long len[2];
    char **ids = NULL;
    size_t n = 0;
    static const my_col id_col[] = {{MC_STR, 0}};
    my_bind_str(&p[0], sc->task_id, &len[0]);
    my_bind_str(&p[1], sc->cron, &len[1]);
    int rc = my_query(s, c, MS_SCHEME_ID, p, id_col, 1, sizeof(char *), (void **)&ids, &n);
    if (rc != TASKER_OK) return rc;
    if (n == 1) snprintf(id_out, TASKER_ID_SIZE, "%s", ids[0]);
    else rc = tasker_fail(TASKER_ESTORAGE, "mysql: schedule of '%s' vanished", sc->task_id);
    for (size_t i = 0; i < n; i++) free(ids[i]);
    free(ids);
    return rc;
}

static int w_add_scheme(my_store *s, my_conn *c, my_write *w)
{
    const tasker_task_scheme *sc = w->arg;
    MYSQL_BIND p[7];
    unsigned long len[3];
    int misfire = (int)sc->misfire, overlap = (int)sc->overlap;
    int64_t created_us = sc->created_us ? sc->created_us : my_now_us(s);
    my_bind_str(&p[0], sc->scheme_id, &len[0]);
    my_bind_str(&p[1], sc->task_id, &len[1]);
    my_bind_str(&p[2], sc->cron, &len[2]);
    my_bind_int(&p[3], &misfire);
    my_bind_int(&p[4], &overlap);
    my_bind_i64(&p[5], &created_us);
    my_bind_i64(&p[6], &sc->last_fire_us);
    int rc = my_run(s, c, MS_SCHEME_UPSERT, p, NULL);
    if (rc != TASKER_OK && c->last_errno == ER_NO_REFERENCED_ROW_2)
        return tasker_fail(TASKER_ENOTFOUND, "mysql: no task '%s' for the schedule",
                           sc->task_id);
    if (rc != TASKER_OK) return rc;
    if ((rc = my_bump_schemes(s, c)) != TASKER_OK) return rc;
    return scheme_id_of(s, c, sc, w->out);
}

int my_add_task_scheme(tasker_storage *st, const tasker_task_scheme *sc,
                       char id_out[TASKER_ID_SIZE])
{
    char id[TASKER_ID_SIZE];
    if (!sc || !sc->scheme_id || !sc->task_id || !sc->cron)
        return tasker_fail(TASKER_EINVAL,
                           "mysql: add_task_scheme: scheme id, task id and cron are required");
    my_write w = {.fn = w_add_scheme, .arg = sc, .out = id};
    int rc = my_write_submit(store(st), &w);
    if (rc == TASKER_OK && id_out) memcpy(id_out, id, TASKER_ID_SIZE);
    return rc;
}

static int w_remove_scheme(my_store *s, my_conn *c, my_write *w)
{
    MYSQL_BIND p[1];
    unsigned long len;
    uint64_t n = 0;
    my_bind_str(&p[0], w->arg, &len);
    int rc = my_run(s, c, MS_SCHEME_DELETE, p, &n);
    if (rc == TASKER_OK && n == 0)
        return tasker_fail(TASKER_ENOTFOUND, "mysql: no schedule '%s'", (const char *)w->arg);
    if (rc == TASKER_OK) rc = my_bump_schemes(s, c);
    return rc;
}

int my_remove_task_scheme(tasker_storage *st, const char *scheme_id)
{
    if (!scheme_id)
        return tasker_fail(TASKER_EINVAL, "mysql: remove_task_scheme: scheme id is NULL");
    my_write w = {.fn = w_remove_scheme, .arg = scheme_id};
    return my_write_submit(store(st), &w);
}

static int r_list_schemes(my_store *s, my_conn *c, void *ctx)
{
    static const my_col cols[] = {
        {MC_STR, offsetof(tasker_task_scheme, scheme_id)},
        {MC_STR, offsetof(tasker_task_scheme, task_id)},
        {MC_STR, offsetof(tasker_task_scheme, cron)},
        {MC_INT, offsetof(tasker_task_scheme, misfire)},
        {MC_INT, offsetof(tasker_task_scheme, overlap)},
        {MC_I64, offsetof(tasker_task_scheme, created_us)},
        {MC_I64, offsetof(tasker_task_scheme, last_fire_us)},
        {MC_BOOL, offsetof(tasker_task_scheme, paused)},
    };
    read_ctx *r = ctx;
    return my_query(s, c, MS_SCHEME_LIST, NULL, cols, MY_NCOLS(cols), sizeof(tasker_task_scheme),
                    &r->rows, &r->n);
}

int my_list_task_schemes(tasker_storage *st, tasker_task_scheme **out, size_t *n)
{
    if (!out || !n) return tasker_fail(TASKER_EINVAL, "mysql: list_task_schemes: NULL argument");
    read_ctx r = {0};
    int rc = my_read(store(st), r_list_schemes, &r);
    if (rc != TASKER_OK) return rc;
    *out = r.rows;
    *n = r.n;
    return TASKER_OK;
}

typedef struct {
    const char *scheme_id;
    int64_t fire_us;
} fire_arg;

static int w_scheme_fire(my_store *s, my_conn *c, my_write *w)
{
    const fire_arg *a = w->arg;
    MYSQL_BIND p[2];
    unsigned long len;
    uint64_t n = 0;
    my_bind_i64(&p[0], &a->fire_us);
    my_bind_str(&p[1], a->scheme_id, &len);
    int rc = my_run(s, c, MS_SCHEME_FIRE, p, &n);
    if (rc == TASKER_OK && n == 0)
        return tasker_fail(TASKER_ENOTFOUND, "mysql: no schedule '%s'", a->scheme_id);
    return rc;
}

int my_set_scheme_fire(tasker_storage *st, const char *scheme_id, int64_t fire_us)
{
    if (!scheme_id) return tasker_fail(TASKER_EINVAL, "mysql: set_scheme_fire: scheme id is NULL");
    fire_arg a = {scheme_id, fire_us};
    my_write w = {.fn = w_scheme_fire, .arg = &a};
    return my_write_submit(store(st), &w);
}

/* ---- events ----------------------------------------------------------------------- */

static int w_add_event(my_store *s, my_conn *c, my_write *w)
{
    const tasker_task_event *ev = w->arg;
    MYSQL_BIND p[4];
    unsigned long len[2];
    int level = (int)ev->level;
    my_bind_str(&p[0], ev->exec_id, &len[0]);
    my_bind_i64(&p[1], &ev->time_us);
    my_bind_int(&p[2], &level);
    my_bind_str(&p[3], ev->message ? ev->message : "", &len[1]);
    int rc = my_run(s, c, MS_EVENT_INSERT, p, NULL);
    if (rc != TASKER_OK && c->last_errno == ER_NO_REFERENCED_ROW_2)
        return tasker_fail(TASKER_ENOTFOUND, "mysql: no execution '%s' for the event",
                           ev->exec_id);
    return rc;
}

int my_add_task_event(tasker_storage *st, const tasker_task_event *ev)
{
    if (!ev || !ev->exec_id)
        return tasker_fail(TASKER_EINVAL, "mysql: add_task_event: exec id is required");
    my_write w = {.fn = w_add_event, .kind = MW_EVENT, .arg = ev};
    return my_write_submit(store(st), &w);
}

int my_add_task_event_async(tasker_storage *st, const tasker_task_event *ev,
                            tasker_storage_done_fn done, void *udata)
{
    if (!ev || !ev->exec_id)
        return tasker_fail(TASKER_EINVAL, "mysql: add_task_event: exec id is required");
    my_write w = {.fn = w_add_event, .kind = MW_EVENT, .arg = ev};
    my_write *copy = my_async_copy(&w, done, udata);
    if (!copy) return TASKER_ENOMEM;
    my_write_submit_async(store(st), copy);
    return TASKER_OK;
}

static int r_list_events(my_store *s, my_conn *c, void *ctx)
{
    static const my_col cols[] = {
        {MC_I64, offsetof(tasker_task_event, event_id)},
        {MC_STR, offsetof(tasker_task_event, exec_id)},
        {MC_I64, offsetof(tasker_task_event, time_us)},
        {MC_INT, offsetof(tasker_task_event, level)},
        {MC_STR, offsetof(tasker_task_event, message)},
    };
    read_ctx *r = ctx;
    MYSQL_BIND p[1];
    unsigned long len;
    my_bind_str(&p[0], r->key, &len);
    int rc = my_query(s, c, MS_EVENT_LIST, p, cols, MY_NCOLS(cols), sizeof(tasker_task_event),
                      &r->rows, &r->n);
    if (rc != TASKER_OK || r->n > 0) return rc;
    /* No events: an execution without any, or no such execution? */
    static const my_col status_col[] = {{MC_INT, 0}};
    int *status = NULL;
    size_t n = 0;
    my_bind_str(&p[0], r->key, &len);
    rc = my_query(s, c, MS_EXEC_STATUS, p, status_col, 1, sizeof(int), (void **)&status, &n);
    free(status);
    if (rc == TASKER_OK && n == 0)
        rc = tasker_fail(TASKER_ENOTFOUND, "mysql: no execution '%s'", r->key);
    return rc;
}

int my_list_task_events(tasker_storage *st, const char *exec_id, tasker_task_event **out,
                        size_t *n)
{
    if (!exec_id || !out || !n)
        return tasker_fail(TASKER_EINVAL, "mysql: list_task_events: NULL argument");
    read_ctx r = {.key = exec_id};
    int rc = my_read(store(st), r_list_events, &r);
    if (rc != TASKER_OK) return rc;
    *out = r.rows;
    *n = r.n;
    return TASKER_OK;
}
