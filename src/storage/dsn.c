/* Opening a storage driver by DSN: "memory:", "sqlite:PATH", "mysql://...". */
#include "core/error.h"

#include <string.h>

tasker_storage *tasker_storage_open(const char *dsn)
{
    if (!dsn || !*dsn) {
        tasker_fail(TASKER_EINVAL, "dsn: empty; expected memory:, sqlite:PATH or mysql://...");
        return NULL;
    }
    if (strcmp(dsn, "memory:") == 0 || strcmp(dsn, "memory") == 0)
        return tasker_memory_storage();
    if (strncmp(dsn, "sqlite:", 7) == 0) {
        const char *path = dsn + 7;
        /* sqlite:///abs/path and sqlite://rel are accepted as URL-shaped spellings. */
        if (strncmp(path, "//", 2) == 0) path += 2;
        return tasker_sqlite_storage(path);
    }
    if (strncmp(dsn, "mysql://", 8) == 0 || strncmp(dsn, "mariadb://", 10) == 0)
        return tasker_mysql_storage(dsn);
    tasker_fail(TASKER_EINVAL,
                "dsn: unknown scheme in '%s'; expected memory:, sqlite:PATH or mysql://...",
                dsn);
    return NULL;
}
