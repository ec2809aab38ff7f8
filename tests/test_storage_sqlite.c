/* The SQLite driver against the storage conformance suite, on a fresh file per test
 * (all in one temporary directory, removed at the end). */
#include "storage_conformance.h"
#include "support/tmpdir.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
    char *dir;
    int files;
} sqlite_files;

static tasker_storage *open_sqlite(void *udata)
{
    sqlite_files *f = udata;
    char name[32];
    snprintf(name, sizeof name, "conformance-%d.db", f->files++);
    char *path = tmpdir_join(f->dir, name);
    tasker_storage *st = tasker_sqlite_storage(path);
    if (!st) fprintf(stderr, "open %s: %s\n", path, tasker_last_error());
    free(path);
    return st;
}

int main(void)
{
    sqlite_files f = {.dir = tmpdir_make()};
    int failures = tasker_storage_conformance("sqlite", open_sqlite, &f);
    tmpdir_remove(f.dir);
    return failures;
}
