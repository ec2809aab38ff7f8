/* The web server's map: what its files share. server.c owns the HTTP side (listening,
 * routing, the security checks, replies); api.c the JSON endpoints; execs.c the
 * filtered, paged history; tail.c a run's events and their live tail; metrics.c the
 * counters and /metrics; snapshot.c the short-lived copy of the history that the
 * overview and /metrics share; lifecycle.c the endpoints waiting for issue 12. */
#ifndef TASKER_WEB_INTERNAL_H
#define TASKER_WEB_INTERNAL_H

#include "web/web.h"

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define WEB_API_PREFIX "/api/v1/"
#define WEB_PATH_ID_SIZE (TASKER_ID_SIZE * 4) /* longer ids are 404, not cut */
#define WEB_SNAPSHOT_TTL_US                                                                        \
    2000000                  /* /metrics and the overview share one scan (at least) this long */
#define WEB_TAIL_POLL_MS 200 /* a live tail looks at the store this often */
#define WEB_TAIL_KEEPALIVE_MS 15000 /* and says something at least this often */

typedef struct web_metrics web_metrics;

/* A copy of every execution in the store, newest first, shared while fresh. */
typedef struct web_snapshot {
    int refs; /* guarded by web_server.snap_lock */
    int64_t taken_us;
    int64_t scan_us; /* how long the scan took */
    tasker_task_exec *v;
    size_t n;
} web_snapshot;

struct web_server {
    tasker_t *t;
    struct MHD_Daemon *mhd;
    char *token; /* NULL: no token, loopback only */
    size_t token_len;
    bool read_only;
    char *wake_dsn;
    size_t max_body;
    char address[96];
    atomic_bool stopping;
    pthread_mutex_t stop_lock; /* guards nothing but stop_cond's waits */
    pthread_cond_t stop_cond;  /* broadcast at stop: live tails wake and end */
    web_metrics *metrics;
    bool observing;               /* the exec hook feeds metrics; else scans do */
    pthread_mutex_t snap_lock;    /* guards snap and each snapshot's refs */
    pthread_mutex_t refresh_lock; /* one scan of the store at a time */
    web_snapshot *snap;
};

/* One request, alive from its first callback to its completion. */
typedef struct web_req {
    web_server *srv;
    struct MHD_Connection *conn;
    const char *method;
    const struct web_route *route;
    char id[WEB_PATH_ID_SIZE]; /* the {id} of the path, decoded by MHD */
    char *body;
    size_t body_len;
    bool body_too_large;
    bool checked; /* the header checks passed */
} web_req;

typedef enum MHD_Result (*web_route_fn)(web_req *r);

typedef struct web_route {
    const char *method; /* "GET" (also answers HEAD) or "POST" */
    const char *prefix; /* the path, or its part before {id} */
    const char *suffix; /* NULL: a fixed path; "" or "/x": {id} then this */
    web_route_fn fn;
} web_route;

/* libmicrohttpd's callbacks (server.c): a request, and its end. */
enum MHD_Result web_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_size, void **con_cls);
void web_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe);

/* ---- replies (server.c); each queues the response and returns MHD's verdict ------ */
enum MHD_Result web_reply(web_req *r, unsigned status, const char *content_type, const char *body,
                          size_t len);
/* Takes the reference to v. */
enum MHD_Result web_reply_json(web_req *r, unsigned status, json_t *v);
/* {"error": "<fmt>"} */
enum MHD_Result web_reply_error(web_req *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The error of a failed library call: 404 for TASKER_ENOTFOUND, 400 for TASKER_EINVAL,
 * 409 for TASKER_EEXISTS and TASKER_ESTATE, else 500; the message says what and why. */
enum MHD_Result web_reply_lib_error(web_req *r, int err, const char *what);
/* Adds the headers every response carries (nosniff, no framing, no caching). */
void web_secure_headers(struct MHD_Response *resp, const char *content_type);
/* A query argument, or NULL. */
const char *web_arg(web_req *r, const char *name);

/* ---- endpoints --------------------------------------------------------------------- */
enum MHD_Result api_tasks(web_req *r);
enum MHD_Result api_task(web_req *r);
enum MHD_Result api_schedules(web_req *r);
enum MHD_Result api_nodes(web_req *r);
enum MHD_Result api_overview(web_req *r);
enum MHD_Result api_trigger(web_req *r);
enum MHD_Result api_exec(web_req *r);
enum MHD_Result api_execs(web_req *r);       /* execs.c */
enum MHD_Result api_events(web_req *r);      /* tail.c */
enum MHD_Result api_metrics(web_req *r);     /* metrics.c */
enum MHD_Result api_exec_cancel(web_req *r); /* lifecycle.c */
enum MHD_Result api_exec_retry(web_req *r);
enum MHD_Result api_task_pause(web_req *r);
enum MHD_Result api_task_resume(web_req *r);
enum MHD_Result api_schedule_pause(web_req *r);
enum MHD_Result api_schedule_resume(web_req *r);
/* The 501 answer of an endpoint that needs the job lifecycle (issue 12). */
enum MHD_Result web_not_implemented(web_req *r);

/* The schedule's next fire after now (0 = never): @every counts from its creation. */
int64_t web_next_fire_us(const tasker_task_scheme *s, int64_t now_us);
/* A node's state for the dashboard and tasker_nodes{state}: "live" or "dead". */
const char *web_node_state(const tasker_node *n);
int64_t web_now_us(void);

/* ---- the shared scan (snapshot.c) -------------------------------------------------- */
/* A snapshot at most WEB_SNAPSHOT_TTL_US old, or NULL with the library's error in
 * *err. Release it with web_snapshot_release. */
web_snapshot *web_snapshot_get(web_server *s, int *err);
void web_snapshot_release(web_server *s, web_snapshot *snap);
void web_snapshot_drop(web_server *s); /* at stop */

/* ---- metrics (metrics.c) ------------------------------------------------------------ */
web_metrics *metrics_new(void);
void metrics_free(web_metrics *m);
/* Counts one finished execution (from the exec hook). Thread-safe. */
void metrics_observe(web_metrics *m, const tasker_task_exec *e);
/* Counts the finished executions of v[0..n) that an earlier scan did not count. */
void metrics_observe_scan(web_metrics *m, const tasker_task_exec *v, size_t n);
/* Installs (observe = true) the process's exec hook tap feeding m, chained before the
 * hook already set; or detaches m from it. TASKER_ESTATE when another server of this
 * process observes already. */
int metrics_tap(tasker_t *t, web_metrics *m, bool observe);

/* ---- the page (assets.c, generated) ------------------------------------------------- */
typedef struct web_asset {
    const char *path, *content_type;
    const unsigned char *data;
    size_t len;
} web_asset;
const web_asset *web_find_asset(const char *path);

#endif
