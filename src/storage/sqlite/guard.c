/* The SQLite driver's guards on the file itself: a foreign database is refused before
 * anything is written to it, and a file deleted or replaced under an open store stops
 * its writes instead of acknowledging them into a file nobody can open again.
 *
 * Identity: SQLite keeps the file open, so its inode stays alive and no other file can
 * take its (st_dev, st_ino) while the store is open. stat() of the path giving another
 * pair, or ENOENT, therefore means the path no longer names our file: it was deleted
 * (an unlinked file takes writes silently, and they vanish with the last close) or
 * replaced (a restore, a copy over it). One stat per write batch, before its COMMIT.
 */
#include "storage/sqlite/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int sq_file_identity_record(sq_store *s)
{
    struct stat sb;
    if (stat(s->path, &sb) != 0)
        return tasker_set_error(TASKER_ESTORAGE, "sqlite: %s: cannot stat the database file: %s",
                                s->path, strerror(errno));
    s->file_dev = sb.st_dev;
    s->file_ino = sb.st_ino;
    return TASKER_OK;
}

int sq_file_identity_check(sq_store *s, char *msg, size_t size)
{
    struct stat sb;
    if (stat(s->path, &sb) == 0 && sb.st_dev == s->file_dev && sb.st_ino == s->file_ino)
        return TASKER_OK;
    snprintf(msg, size,
             "sqlite: %s: the database file was deleted or replaced while open; reopen the "
             "store", s->path);
    return TASKER_ESTORAGE;
}

/* Runs one query returning one integer; SQLITE_OK and *out set, or SQLite's code. */
static int query_int(sqlite3 *db, const char *sql, int *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/* The tables every tasker file has from schema version 1 on. */
static const char *const our_tables[] = {"tasks", "schemes", "execs", "events"};

int sq_check_ours(sq_store *s, sqlite3 *db)
{
    int version = 0, tables = 0, ours = 0;
    if (query_int(db, "PRAGMA user_version", &version) != SQLITE_OK)
        return sq_fail(s, db, "reading the schema version");
    if (query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'", &tables) !=
        SQLITE_OK)
        return sq_fail(s, db, "reading the schema");
    if (version == 0 && tables == 0) return TASKER_OK; /* new, empty: ours to create */
    if (version > SQ_SCHEMA_VERSION) return sq_check_version(s, version, SQ_SCHEMA_VERSION);
    if (version > 0) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                                   " AND name IN (?1, ?2, ?3, ?4)", -1, &st, NULL) != SQLITE_OK)
            return sq_fail(s, db, "reading the schema");
        for (int i = 0; i < 4; i++) sqlite3_bind_text(st, i + 1, our_tables[i], -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) ours = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        if (ours == 4) return TASKER_OK; /* the version itself is checked by sq_migrate */
    }
    return tasker_set_error(TASKER_ESTORAGE,
                            "sqlite: %s: the file is a SQLite database of another application "
                            "(user_version %d, %d tables, not tasker's); it was left untouched",
                            s->path, version, tables);
}
