/* Error codes and the per-thread detail message (as libgit2's git_error_last). */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

#define ERROR_MSG_SIZE 1024

static _Thread_local char last_error[ERROR_MSG_SIZE];

const char *tasker_strerror(int err)
{
    switch (err) {
    case TASKER_OK: return "TASKER_OK";
    case TASKER_EINVAL: return "TASKER_EINVAL";
    case TASKER_ENOTFOUND: return "TASKER_ENOTFOUND";
    case TASKER_EEXISTS: return "TASKER_EEXISTS";
    case TASKER_ESTORAGE: return "TASKER_ESTORAGE";
    case TASKER_ENOMEM: return "TASKER_ENOMEM";
    case TASKER_ESTATE: return "TASKER_ESTATE";
    case TASKER_ETIMEDOUT: return "TASKER_ETIMEDOUT";
    default: return "TASKER_EUNKNOWN";
    }
}

const char *tasker_last_error(void)
{
    return last_error;
}

void tasker_clear_error(void)
{
    last_error[0] = '\0';
}

int tasker_set_error(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return err;
}
