/* Internal: error codes and the thread-local detail message. */
#ifndef TASKER_SRC_ERROR_H
#define TASKER_SRC_ERROR_H

#include <tasker/storage.h>

/* Records the message for the calling thread and returns err. */
#define tasker_fail tasker_set_error

/* Clears the calling thread's message (called at the start of public functions whose
 * success should leave no stale detail). */
void tasker_clear_error(void);

#endif
