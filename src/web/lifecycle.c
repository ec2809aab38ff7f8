/* The endpoints that need the job lifecycle of design section 6 (issue 12): cancel,
 * retry, pause and resume. Until the library has tasker_cancel, tasker_retry,
 * tasker_pause_task and the rest, each answers 501 here, in one marked place per
 * endpoint; the trigger's run options (param, delay_ms, unique_key) have their marked
 * place in api.c. Filling one in: replace its body by the library call, answering
 * web_reply_lib_error on failure (ENOTFOUND 404, ESTATE 409) and 200 {"ok": true}
 * (201 {"exec_id": ...} for retry). The routes, the token, read-only and content-type
 * checks are in place already (server.c). */
#include "web/internal.h"

enum MHD_Result web_not_implemented(web_req *r)
{
    return web_reply_error(r, MHD_HTTP_NOT_IMPLEMENTED,
                           "not implemented yet: needs the job lifecycle (issue 12)");
}

/* ISSUE 12: tasker_cancel(t, r->id) */
enum MHD_Result api_exec_cancel(web_req *r)
{
    return web_not_implemented(r);
}

/* ISSUE 12: tasker_retry(t, r->id, new_exec_id) -> 201 {"exec_id": new_exec_id} */
enum MHD_Result api_exec_retry(web_req *r)
{
    return web_not_implemented(r);
}

/* ISSUE 12: tasker_pause_task(t, r->id) */
enum MHD_Result api_task_pause(web_req *r)
{
    return web_not_implemented(r);
}

/* ISSUE 12: tasker_resume_task(t, r->id) */
enum MHD_Result api_task_resume(web_req *r)
{
    return web_not_implemented(r);
}

/* ISSUE 12: tasker_pause_schedule(t, r->id) */
enum MHD_Result api_schedule_pause(web_req *r)
{
    return web_not_implemented(r);
}

/* ISSUE 12: tasker_resume_schedule(t, r->id) */
enum MHD_Result api_schedule_resume(web_req *r)
{
    return web_not_implemented(r);
}
