/* Test support for the SQLite driver's tests: opening a driver on a file with the
 * environment the core would give it, checking a file's integrity, adding records. */
#ifndef TASKER_TEST_SQLITE_FIXTURE_H
#define TASKER_TEST_SQLITE_FIXTURE_H

#include <tasker/storage.h>


/* tasker_sqlite_storage(path[?options]) with env set as tasker_new() would: default
 * retention and the real clock. options may be NULL. NULL on failure. */
tasker_storage *sqlite_fixture_open(const char *path, const char *options);
/* The real-time clock, in microseconds. */
int64_t sqlite_fixture_now_us(void);
/* Runs PRAGMA integrity_check on the file with a separate connection; 1 when "ok". */
int sqlite_fixture_integrity_ok(const char *path);
/* Runs one SQL statement returning an integer (the first column of the first row) on a
 * separate connection; -1 on error. */
long long sqlite_fixture_query_int(const char *path, const char *sql);
/* Adds task_id (handler "h", param {}) and returns the driver's code. */
int sqlite_fixture_add_task(tasker_storage *st, const char *task_id);
/* Adds a pending, triggered execution; returns the driver's code. */
int sqlite_fixture_add_exec(tasker_storage *st, const char *exec_id, const char *task_id,
                            int64_t queued_us);

#endif
