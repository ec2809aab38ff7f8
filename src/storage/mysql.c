/* The MySQL / MariaDB driver (placeholder until the MySQL issue lands). */
#include "core/error.h"

tasker_storage *tasker_mysql_storage(const char *url)
{
    (void)url;
    tasker_fail(TASKER_ESTORAGE, "mysql: driver not built yet");
    return NULL;
}
