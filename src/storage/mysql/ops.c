/* The MySQL driver's operations on tasks, schedules and events, and the driver's
 * operations table. Executions are in storage/mysql/exec.c.
 *
 * Writes go through the group commit (storage/mysql/lanes.c, storage/mysql/batch.c):
 * each is a my_write whose function runs inside the batch's transaction. Reads take a
 * pooled connection and run in autocommit; a read whose connection turns out to be lost is retried once on a new
 * connection, since reading twice is harmless. */
#include "core/error.h"
#include "storage/mysql/internal.h"

#include <mysqld_error.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define NCOLS(a) ((int)(sizeof(a) / sizeof((a)[0])))

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

static my_store *store(tasker_storage *st) { return (my_store *)st; }

/* ---- tasks ------------------------------------------------------------------------ */

void my_bind_task(MYSQL_BIND *p, unsigned long len[4], int *paused, const tasker_task *t)
{
    my_bind_str(&p[0], t->task_id, &len[0]);
    my_bind_str(&p[1], t->handler, &len[1]);
    my_bind_str(&p[2], t->param ? t->param : "null", &len[2]);
    my_bind_str(&p[3], t->desc, &len[3]);
    my_bind_int(&p[4], &t->max_attempts);
    my_bind_i64(&p[5], &t->backoff_ms);
    my_bind_i64(&p[6], &t->backoff_max_ms);
    my_bind_i64(&p[7], &t->timeout_ms);
    my_bind_int(&p[8], &t->max_concurrency);
    my_bind_int(&p[9], &t->priority);
    my_bind_int(&p[10], &t->max_execs);
    my_bind_i64(&p[11], &t->max_exec_age_s);
    *paused = t->paused ? 1 : 0;
    my_bind_int(&p[12], paused);
}

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

static int add_task(tasker_storage *st, const tasker_task *task)
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

static int remove_task(tasker_storage *st, const char *task_id)
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
    return my_query(s, c, MS_TASK_GET, p, task_cols, NCOLS(task_cols), sizeof(tasker_task),
                    &r->rows, &r->n);
}

static int get_task(tasker_storage *st, const char *task_id, tasker_task *out)
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
    return my_query(s, c, MS_TASK_LIST, NULL, task_cols, NCOLS(task_cols), sizeof(tasker_task),
                    &r->rows, &r->n);
}

static int list_tasks(tasker_storage *st, tasker_task **out, size_t *n)
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

static int add_task_scheme(tasker_storage *st, const tasker_task_scheme *sc,
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

static int remove_task_scheme(tasker_storage *st, const char *scheme_id)
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
    return my_query(s, c, MS_SCHEME_LIST, NULL, cols, NCOLS(cols), sizeof(tasker_task_scheme),
                    &r->rows, &r->n);
}

static int list_task_schemes(tasker_storage *st, tasker_task_scheme **out, size_t *n)
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

static int set_scheme_fire(tasker_storage *st, const char *scheme_id, int64_t fire_us)
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

static int add_task_event(tasker_storage *st, const tasker_task_event *ev)
{
    if (!ev || !ev->exec_id)
        return tasker_fail(TASKER_EINVAL, "mysql: add_task_event: exec id is required");
    my_write w = {.fn = w_add_event, .kind = MW_EVENT, .arg = ev};
    return my_write_submit(store(st), &w);
}

static int add_task_event_async(tasker_storage *st, const tasker_task_event *ev,
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
    int rc = my_query(s, c, MS_EVENT_LIST, p, cols, NCOLS(cols), sizeof(tasker_task_event),
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

static int list_task_events(tasker_storage *st, const char *exec_id, tasker_task_event **out,
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

const tasker_storage_ops my_ops = {
    /* Version 4: the job lifecycle (storage/mysql/lifecycle.c), and the bulk
     * definitions (storage/mysql/defs.c, storage/mysql/herd.c). */
    .version = 4,
    .name = "mysql",
    .add_task = add_task,
    .remove_task = remove_task,
    .get_task = get_task,
    .list_tasks = list_tasks,
    .add_task_scheme = add_task_scheme,
    .remove_task_scheme = remove_task_scheme,
    .list_task_schemes = list_task_schemes,
    .set_scheme_fire = set_scheme_fire,
    .add_task_exec = my_add_task_exec,
    .start_task_exec = my_start_task_exec,
    .update_task_exec = my_update_task_exec,
    .get_task_exec = my_get_task_exec,
    .list_task_execs = my_list_task_execs,
    .list_pending_execs = my_list_pending_execs,
    .interrupt_dead = my_interrupt_dead,
    .add_task_event = add_task_event,
    .list_task_events = list_task_events,
    .close = my_store_close,
    .add_task_event_async = add_task_event_async,
    .update_task_exec_async = my_update_task_exec_async,
    .add_task_execs = my_add_task_execs,
    .start_task_execs = my_start_task_execs,
    .node_beat = my_node_beat,
    .list_nodes = my_list_nodes,
    .node_gone = my_node_gone,
    .interrupt_expired = my_interrupt_expired,
    .claim_task_execs = my_claim_task_execs,
    .find_active_exec = my_find_active_exec,
    .cancel_task_exec = my_cancel_task_exec,
    .set_task_paused = my_set_task_paused,
    .set_scheme_paused = my_set_scheme_paused,
    .list_task_execs_filter = my_list_task_execs_filter,
    .find_unique_exec = my_find_unique_exec,
    .list_cancel_requests = my_list_cancel_requests,
    .set_scheme_fires = my_set_scheme_fires,
    .add_definitions = my_add_definitions,
    .schemes_version = my_schemes_version,
};
