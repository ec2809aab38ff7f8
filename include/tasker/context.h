/* tasker: the handler's context.
 *
 * A handler receives a tasker_ctx for the one execution it runs. The context is valid
 * until the handler returns and belongs to the library. Its functions are safe to call
 * from the handler's thread and from threads the handler starts and joins before it
 * returns.
 *
 * The outcome of a run:
 *  - tasker_failed() wins over everything: once called, the run failed, with the first
 *    failure's message as its error.
 *  - Otherwise a nonzero return is a failure ("handler returned N"), even after
 *    tasker_success(); its result is kept.
 *  - Otherwise the run succeeded, with the last tasker_success() result, or null.
 */
#ifndef TASKER_CONTEXT_H
#define TASKER_CONTEXT_H

#include <tasker/tasker.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define TASKER_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TASKER_PRINTF(f, a)
#endif

/* Records an event of the run (printf-style). With the built-in stores the call only
 * queues the event for the store's next commit and returns; the run's events are
 * committed no later than its outcome. An event the store fails to write (the database
 * gone meanwhile) is lost, while the run's outcome is retried. A message longer than the
 * max_event_bytes option is cut on a UTF-8 character boundary and ends with
 * "... [cut N bytes]", the marker included in the limit (a limit too small for the
 * marker keeps only what fits, without it).
 * A run that logs more than max_events_per_exec (L) events keeps its head and its tail:
 * the first L - K are stored as they come, the last K are held in memory and stored
 * when the handler returns, and between them one warning event says
 * "N events dropped between here and the last K". K is L / 10, at least 1 once L >= 2
 * (100 of the default 1000), so a run's final summary or error line is never lost; a run
 * stores at most L + 1 events. With L = 0 or 1 nothing is held back: events past L are
 * counted and one last event says "N more events dropped: the limit is L per execution".
 * Tail events keep the time they were logged at, and their order. */
int tasker_event(tasker_ctx *c, tasker_level level, const char *fmt, ...) TASKER_PRINTF(3, 4);

/* Sets the run's result: valid JSON text (NULL = null) of at most max_json_bytes;
 * otherwise TASKER_EINVAL and the result is unchanged. A second call replaces it. */
int tasker_success(tasker_ctx *c, const char *result_json);

/* Marks the run failed with a message (printf-style). The first message is the
 * execution's error; each call is also recorded as an error event. */
int tasker_failed(tasker_ctx *c, const char *fmt, ...) TASKER_PRINTF(2, 3);

/* Fills C variables from the params, with a jansson json_unpack format:
 *   tasker_bind(c, "{s:s, s?i}", "url", &url, "retries", &n)
 * On a mismatch returns TASKER_EINVAL with a message naming the field and the expected
 * type ("bind: field 'url': expected string, got integer"). Strings it yields stay
 * valid until the handler returns. */
int tasker_bind(tasker_ctx *c, const char *fmt, ...);

/* The raw JSON params (this run's own when it was triggered with param_json, else the
 * task's; tasker_bind reads the same), the task id, the execution id: valid until the
 * handler returns. */
const char *tasker_param(tasker_ctx *c);
const char *tasker_task_id(tasker_ctx *c);
const char *tasker_exec_id(tasker_ctx *c);
/* The scheduled occurrence this run serves (microseconds, UTC), or 0 when triggered. */
int64_t tasker_scheduled_us(tasker_ctx *c);
/* The udata given to tasker_register() for this handler. */
void *tasker_udata(tasker_ctx *c);
/* True once a long handler should stop soon: after tasker_interrupt() or a shutdown,
 * after tasker_cancel() of this run (from any node: seen here within a heartbeat), or
 * past the run's timeout (judged at each call: nothing stops a C handler that does not
 * ask). The outcome is then recorded interrupted, cancelled, or failed "timed out after
 * N ms" whatever the handler returns. Callable from any thread while the run lasts. */
bool tasker_cancelled(tasker_ctx *c);
/* Makes this run's failure final: no further attempt, whatever the task's
 * max_attempts. Thread-safe within the run. */
void tasker_no_retry(tasker_ctx *c);
/* Which attempt this run is: 1 for the first (a retry stored by the policy is 2, 3...;
 * tasker_retry() starts again at 1). */
int tasker_attempt(tasker_ctx *c);
/* The handle running this execution. */
tasker_t *tasker_handle(tasker_ctx *c);

#ifdef __cplusplus
}
#endif
#endif /* TASKER_CONTEXT_H */
