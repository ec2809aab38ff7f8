/* The memory driver: the storage conformance suite, plus what only this driver does. */
#include "storage_conformance.h"

static tasker_storage *open_memory(void *udata)
{
    return tasker_memory_storage();
}

int main(void)
{
    return tasker_storage_conformance("memory", open_memory, NULL);
}
