/* The lifecycle endpoints of design section 6: cancel and retry a run, pause and
 * resume a task or a schedule. Each is one library call; failures map as everywhere
 * (web_reply_lib_error: ENOTFOUND 404, ESTATE 409, e.g. cancelling a finished run).
 * The routes, the token, read-only and content-type checks are in server.c. After a
 * change the daemon on the same store is woken (as the trigger does), so it acts now
 * rather than at its next rescan. */
#include "web/internal.h"

#include "cli/wakeup.h"

enum MHD_Result web_not_implemented(web_req *r)
{
    return web_reply_error(r, MHD_HTTP_NOT_IMPLEMENTED,
                           "not implemented yet: needs the job lifecycle (issue 12)");
}

/* 200 {"ok": true, <key>: id, "paused": p?} after a successful call, else the error. */
static enum MHD_Result done(web_req *r, int err, const char *what, json_t *extra)
{
    if (err != TASKER_OK) {
        json_decref(extra);
        return web_reply_lib_error(r, err, what);
    }
    if (r->srv->wake_dsn) wakeup_send(r->srv->wake_dsn);
    json_t *o = extra ? extra : json_object();
    json_object_set_new(o, "ok", json_true());
    return web_reply_json(r, MHD_HTTP_OK, o);
}

enum MHD_Result api_exec_cancel(web_req *r)
{
    int err = tasker_cancel(r->srv->t, r->id);
    return done(r, err, "cancel", json_pack("{s:s}", "exec_id", r->id));
}

enum MHD_Result api_exec_retry(web_req *r)
{
    char new_id[TASKER_ID_SIZE];
    int err = tasker_retry(r->srv->t, r->id, new_id);
    if (err != TASKER_OK) return web_reply_lib_error(r, err, "retry");
    if (r->srv->wake_dsn) wakeup_send(r->srv->wake_dsn);
    return web_reply_json(
        r, MHD_HTTP_CREATED,
        json_pack("{s:s, s:s, s:s}", "exec_id", new_id, "retry_of", r->id, "status", "pending"));
}

enum MHD_Result api_task_pause(web_req *r)
{
    return done(r, tasker_pause_task(r->srv->t, r->id), "pause",
                json_pack("{s:s, s:b}", "task_id", r->id, "paused", 1));
}

enum MHD_Result api_task_resume(web_req *r)
{
    return done(r, tasker_resume_task(r->srv->t, r->id), "resume",
                json_pack("{s:s, s:b}", "task_id", r->id, "paused", 0));
}

enum MHD_Result api_schedule_pause(web_req *r)
{
    return done(r, tasker_pause_schedule(r->srv->t, r->id), "pause",
                json_pack("{s:s, s:b}", "scheme_id", r->id, "paused", 1));
}

enum MHD_Result api_schedule_resume(web_req *r)
{
    return done(r, tasker_resume_schedule(r->srv->t, r->id), "resume",
                json_pack("{s:s, s:b}", "scheme_id", r->id, "paused", 0));
}
