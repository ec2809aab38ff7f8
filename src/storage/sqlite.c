/* The SQLite driver (placeholder until the SQLite issue lands). */
#include "core/error.h"

tasker_storage *tasker_sqlite_storage(const char *path)
{
    (void)path;
    tasker_fail(TASKER_ESTORAGE, "sqlite: driver not built yet");
    return NULL;
}
