/* The HTTP side of the web server: listening (loopback only without a token), the fixed
 * route table (nothing is ever looked up by a path the client chose, so there is no
 * path to traverse), the checks every request passes before an endpoint sees it (host,
 * token, read-only, content type, body size), and the replies, which all carry a
 * content type and X-Content-Type-Options: nosniff. libmicrohttpd runs a thread per
 * connection, so a slow client or a live tail holds only its own thread. */
#include "web/internal.h"

#include "cli/wakeup.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

static enum MHD_Result page(web_req *r);
static enum MHD_Result healthz(web_req *r);

/* Suffix routes come before the prefix route they extend: "/api/v1/tasks/x/trigger" is
 * the trigger of x, not the task "x/trigger". */
static const web_route routes[] = {
    {"GET", "/", NULL, page},
    {"GET", "/app.css", NULL, page},
    {"GET", "/app.js", NULL, page},
    {"GET", "/favicon.svg", NULL, page},
    {"GET", "/favicon.ico", NULL, page}, /* browsers ask for it; the same picture */
    {"GET", "/healthz", NULL, healthz},
    {"GET", "/metrics", NULL, api_metrics},
    {"GET", WEB_API_PREFIX "tasks", NULL, api_tasks},
    {"GET", WEB_API_PREFIX "schedules", NULL, api_schedules},
    {"GET", WEB_API_PREFIX "execs", NULL, api_execs},
    {"GET", WEB_API_PREFIX "nodes", NULL, api_nodes},
    {"GET", WEB_API_PREFIX "overview", NULL, api_overview},
    {"POST", WEB_API_PREFIX "tasks/", "/trigger", api_trigger},
    {"POST", WEB_API_PREFIX "tasks/", "/pause", api_task_pause},
    {"POST", WEB_API_PREFIX "tasks/", "/resume", api_task_resume},
    {"GET", WEB_API_PREFIX "tasks/", "", api_task},
    {"POST", WEB_API_PREFIX "schedules/", "/pause", api_schedule_pause},
    {"POST", WEB_API_PREFIX "schedules/", "/resume", api_schedule_resume},
    {"GET", WEB_API_PREFIX "execs/", "/events", api_events},
    {"POST", WEB_API_PREFIX "execs/", "/cancel", api_exec_cancel},
    {"POST", WEB_API_PREFIX "execs/", "/retry", api_exec_retry},
    {"GET", WEB_API_PREFIX "execs/", "", api_exec},
};

int64_t web_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- replies ------------------------------------------------------------------------ */

void web_secure_headers(struct MHD_Response *resp, const char *content_type)
{
    MHD_add_response_header(resp, "Content-Type", content_type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    /* The page loads its script and style from this server only, and inline code is
     * never run: an event message that slipped into markup could not execute. */
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'none'; script-src 'self'; style-src 'self'; "
                            "img-src 'self' data:; connect-src 'self'; "
                            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
}

enum MHD_Result web_reply(web_req *r, unsigned status, const char *content_type, const char *body,
                          size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    web_secure_headers(resp, content_type);
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"tasker\"");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED && r->route)
        MHD_add_response_header(resp, "Allow",
                                strcmp(r->route->method, "GET") == 0 ? "GET, HEAD" : "POST");
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result web_reply_json(web_req *r, unsigned status, json_t *v)
{
    if (!v) return web_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    char *text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    json_decref(v);
    if (!text) return web_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    enum MHD_Result ret = web_reply(r, status, "application/json", text, strlen(text));
    free(text);
    return ret;
}

enum MHD_Result web_reply_error(web_req *r, unsigned status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *v = json_pack("{s:s}", "error", msg);
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    static const char fallback[] = "{\"error\": \"out of memory\"}";
    enum MHD_Result ret = web_reply(r, status, "application/json", text ? text : fallback,
                                    text ? strlen(text) : sizeof fallback - 1);
    free(text);
    return ret;
}

enum MHD_Result web_reply_lib_error(web_req *r, int err, const char *what)
{
    unsigned status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    if (err == TASKER_ENOTFOUND) status = MHD_HTTP_NOT_FOUND;
    if (err == TASKER_EINVAL) status = MHD_HTTP_BAD_REQUEST;
    if (err == TASKER_EEXISTS || err == TASKER_ESTATE) status = MHD_HTTP_CONFLICT;
    const char *detail = tasker_last_error();
    return web_reply_error(r, status, "%s: %s", what, *detail ? detail : tasker_strerror(err));
}

const char *web_arg(web_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* ---- the fixed endpoints of this file ---------------------------------------------- */

static enum MHD_Result page(web_req *r)
{
    const char *path = r->route->prefix;
    const web_asset *a = web_find_asset(strcmp(path, "/favicon.ico") == 0 ? "/favicon.svg" : path);
    if (!a) return web_reply_error(r, MHD_HTTP_NOT_FOUND, "no such page");
    return web_reply(r, MHD_HTTP_OK, a->content_type, (const char *)a->data, a->len);
}

static enum MHD_Result healthz(web_req *r)
{
    tasker_task *v = NULL;
    size_t n = 0;
    int err = tasker_list_tasks(r->srv->t, &v, &n);
    tasker_free_tasks(v, n);
    if (err != TASKER_OK)
        return web_reply(r, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8",
                         "store unavailable\n", 18);
    return web_reply(r, MHD_HTTP_OK, "text/plain; charset=utf-8", "ok\n", 3);
}

/* ---- routing and the checks -------------------------------------------------------- */

static bool ends_with(const char *s, size_t len, const char *suffix)
{
    size_t k = strlen(suffix);
    return len >= k && memcmp(s + len - k, suffix, k) == 0;
}

/* The route for url into r (its {id} into r->id); *method_ok false when the path is
 * known but not for this method. NULL when no route has this path. */
static const web_route *find_route(web_req *r, const char *url, const char *method, bool *method_ok)
{
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    size_t len = strlen(url);
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        const web_route *rt = &routes[i];
        size_t plen = strlen(rt->prefix);
        if (!rt->suffix) {
            if (strcmp(url, rt->prefix) != 0) continue;
        } else {
            size_t slen = strlen(rt->suffix);
            if (len <= plen + slen || strncmp(url, rt->prefix, plen) != 0 ||
                !ends_with(url, len, rt->suffix))
                continue;
            size_t idlen = len - plen - slen;
            if (idlen >= sizeof r->id) continue;
            memcpy(r->id, url + plen, idlen);
            r->id[idlen] = '\0';
        }
        *method_ok = strcmp(rt->method, "GET") == 0 ? get : strcmp(method, rt->method) == 0;
        return rt;
    }
    return NULL;
}

/* True when a and b are equal, in a time that does not depend on where they differ. */
static bool token_equal(const char *given, size_t given_len, const char *want, size_t want_len)
{
    volatile unsigned char diff = given_len != want_len;
    for (size_t i = 0; i < want_len; i++)
        diff |= (unsigned char)((i < given_len ? given[i] : 0) ^ want[i]);
    return diff == 0;
}

static bool authorized(web_req *r)
{
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return false;
    h += 7;
    while (*h == ' ')
        h++;
    return token_equal(h, strlen(h), r->srv->token, r->srv->token_len);
}

/* Without a token the server answers loopback clients only; a Host that is not a
 * loopback name is a page on another site reaching us through DNS rebinding. */
static bool host_allowed(web_req *r)
{
    if (r->srv->token) return true;
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Host");
    if (!h) return true;
    char name[256];
    size_t n = strcspn(h, h[0] == '[' ? "]" : ":");
    if (h[0] == '[') n++;
    if (n >= sizeof name) return false;
    memcpy(name, h, n);
    name[n] = '\0';
    if (strcasecmp(name, "localhost") == 0 || strcmp(name, "[::1]") == 0) return true;
    struct in_addr a4;
    return inet_pton(AF_INET, name, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

static bool json_content_type(web_req *r)
{
    const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
    if (!ct || strncasecmp(ct, "application/json", 16) != 0) return false;
    return ct[16] == '\0' || ct[16] == ';' || ct[16] == ' ';
}

/* The checks made once the headers are in; an answer was queued when it returns
 * false (*ret says how that went). */
static bool check_request(web_req *r, const char *url, const char *method, enum MHD_Result *ret)
{
    bool method_ok = false;
    r->route = find_route(r, url, method, &method_ok);
    bool api = strncmp(url, "/api/", 5) == 0 || strcmp(url, "/metrics") == 0;
    if (!host_allowed(r))
        *ret = web_reply_error(r, MHD_HTTP_FORBIDDEN,
                               "host not served: without a token this "
                               "server answers loopback names only");
    else if (!r->route)
        *ret = web_reply_error(r, MHD_HTTP_NOT_FOUND, "no such path: %.200s", url);
    else if (!method_ok)
        *ret = web_reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "%s %.200s: use %s", method, url,
                               r->route->method);
    else if (r->srv->token && (api || strcmp(method, "POST") == 0) && !authorized(r))
        *ret = web_reply_error(r, MHD_HTTP_UNAUTHORIZED,
                               "missing or wrong token: send 'Authorization: Bearer TOKEN'");
    else if (strcmp(method, "POST") == 0 && r->srv->read_only)
        *ret = web_reply_error(r, MHD_HTTP_FORBIDDEN, "this server is read-only");
    else if (strcmp(method, "POST") == 0 && !json_content_type(r))
        *ret = web_reply_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                               "POST needs 'Content-Type: application/json'");
    else
        return true;
    return false;
}

static bool body_length_ok(web_req *r)
{
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
    if (!cl) return true;
    char *end = NULL;
    unsigned long long n = strtoull(cl, &end, 10);
    return end != cl && n <= r->srv->max_body;
}

enum MHD_Result web_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_size, void **con_cls)
{
    web_req *r = *con_cls;
    if (!r) {
        if (!(r = calloc(1, sizeof *r))) return MHD_NO;
        r->srv = cls;
        r->conn = conn;
        r->method = method;
        *con_cls = r;
        enum MHD_Result ret = MHD_YES;
        if (!check_request(r, url, method, &ret)) return ret;
        if (!body_length_ok(r))
            return web_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE,
                                   "request body over the limit of %zu bytes", r->srv->max_body);
        r->checked = true;
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (r->body_too_large || r->body_len + n > r->srv->max_body) {
            r->body_too_large = true;
            return MHD_YES;
        }
        char *grown = realloc(r->body, r->body_len + n + 1);
        if (!grown) return MHD_NO;
        memcpy(grown + r->body_len, upload_data, n);
        r->body = grown;
        r->body_len += n;
        r->body[r->body_len] = '\0';
        return MHD_YES;
    }
    if (r->body_too_large)
        return web_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE,
                               "request body over the limit of %zu bytes", r->srv->max_body);
    return r->route->fn(r);
}

void web_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    web_req *r = *con_cls;
    if (!r) return;
    free(r->body);
    free(r);
    *con_cls = NULL;
}
