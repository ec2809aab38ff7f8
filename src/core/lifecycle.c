/* The job lifecycle API of design section 6 (tasker.h, context.h).
 * INTERIM: declared so that the command and the web API can be written against it; each
 * call refuses with TASKER_ESTATE until the lifecycle lands in the core and the drivers. */
#include "core/internal.h"

#include <stdlib.h>

#define NOT_YET(what) tasker_fail(TASKER_ESTATE, "%s: not implemented yet (job lifecycle)", what)

int tasker_trigger_opts(tasker_t *t, const char *task_id, const tasker_run_opts *o,
                        char exec_id[TASKER_ID_SIZE])
{
    if (!o) return tasker_trigger(t, task_id, exec_id);
    return NOT_YET("trigger_opts");
}

int tasker_cancel(tasker_t *t, const char *exec_id) { return NOT_YET("cancel"); }
int tasker_retry(tasker_t *t, const char *exec_id, char new_exec_id[TASKER_ID_SIZE])
{
    return NOT_YET("retry");
}
int tasker_pause_task(tasker_t *t, const char *task_id) { return NOT_YET("pause_task"); }
int tasker_resume_task(tasker_t *t, const char *task_id) { return NOT_YET("resume_task"); }
int tasker_pause_schedule(tasker_t *t, const char *scheme_id) { return NOT_YET("pause_schedule"); }
int tasker_resume_schedule(tasker_t *t, const char *scheme_id)
{
    return NOT_YET("resume_schedule");
}
int tasker_list_execs_filter(tasker_t *t, const tasker_exec_filter *f, tasker_task_exec **out,
                             size_t *n, char **next_cursor)
{
    return NOT_YET("list_execs_filter");
}
void tasker_no_retry(tasker_ctx *c) { (void)c; }
int tasker_attempt(tasker_ctx *c) { return c ? 1 : 0; }
