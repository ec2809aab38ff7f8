/* Test support for the SQLite driver's tests (see sqlite_fixture.h). */
#include "sqlite_fixture.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int64_t real_clock(void *udata)
{
    (void)udata;
    return sqlite_fixture_now_us();
}

int64_t sqlite_fixture_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

tasker_storage *sqlite_fixture_open(const char *path, const char *options)
{
    char dsn[4096];
    snprintf(dsn, sizeof dsn, "%s%s%s", path, options ? "?" : "", options ? options : "");
    tasker_storage *st = tasker_sqlite_storage(dsn);
    if (!st) return NULL;
    st->env.max_execs_per_task = TASKER_DEFAULT_MAX_EXECS;
    st->env.max_exec_age_s = TASKER_DEFAULT_MAX_EXEC_AGE_S;
    st->env.clock = real_clock;
    st->env.clock_udata = NULL;
    return st;
}

long long sqlite_fixture_query_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    long long v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) goto out;
    sqlite3_busy_timeout(db, 10000);
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) goto out;
    if (sqlite3_step(stmt) == SQLITE_ROW) v = sqlite3_column_int64(stmt, 0);
out:
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return v;
}

int sqlite_fixture_integrity_ok(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    int ok = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) goto out;
    sqlite3_busy_timeout(db, 10000);
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, NULL) != SQLITE_OK)
        goto out;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        ok = strcmp((const char *)sqlite3_column_text(stmt, 0), "ok") == 0;
    if (!ok) fprintf(stderr, "integrity_check(%s): %s\n", path, sqlite3_errmsg(db));
out:
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return ok;
}

int sqlite_fixture_add_task(tasker_storage *st, const char *task_id)
{
    tasker_task t = {.task_id = (char *)task_id, .handler = "h", .param = "{}"};
    return st->ops->add_task(st, &t);
}

int sqlite_fixture_add_exec(tasker_storage *st, const char *exec_id, const char *task_id,
                            int64_t queued_us)
{
    tasker_task_exec e = {.exec_id = (char *)exec_id, .task_id = (char *)task_id,
                          .queued_us = queued_us, .status = TASKER_EXEC_PENDING};
    return st->ops->add_task_exec(st, &e);
}
