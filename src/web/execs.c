/* GET /api/v1/execs?task=&status=&since=&until=&limit=&cursor=: the history, newest
 * first, filtered and paged. Order is (queued_us, exec_id) descending; the cursor is
 * the position of a page's last run, base64url("queued_us:exec_id"), so a page stays
 * right when new runs arrive meanwhile.
 *
 * Cost: a page goes through the store's filtered query (tasker_list_execs_filter,
 * design section 6), bounded by the page's limit; its opaque cursor travels inside
 * ours as base64url("lib:" cursor). With a library whose filter refuses
 * (TASKER_ESTATE), or a cursor of the older form, the page is cut from the task's
 * retained runs (with task=) or every retained run (without), read whole and sorted:
 * time and memory linear in the retained history, not in the page. */
#include "web/internal.h"

#include "cli/output.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXECS_DEFAULT_LIMIT 50
#define EXECS_MAX_LIMIT 500
#define NSTATUS_MAX 16
/* The longest cursor text before base64: the store's opaque ones are short. */
#define CURSOR_RAW_MAX 256

typedef struct page_query {
    const char *task;
    unsigned status_mask; /* 0 = every status */
    int64_t since_us, until_us;
    long limit;
    bool has_cursor;
    int64_t cursor_us;
    char cursor_id[TASKER_ID_SIZE];
    char lib_cursor[CURSOR_RAW_MAX]; /* the store's cursor; "" = none */
} page_query;

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void b64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v =
            (unsigned)in[i] << 16 | (i + 1 < n ? in[i + 1] : 0) << 8 | (i + 2 < n ? in[i + 2] : 0);
        out[o++] = b64url[v >> 18 & 63];
        out[o++] = b64url[v >> 12 & 63];
        if (i + 1 < n) out[o++] = b64url[v >> 6 & 63];
        if (i + 2 < n) out[o++] = b64url[v & 63];
    }
    out[o] = '\0';
}

/* Decodes base64url (no padding) into out (at most cap - 1 bytes, NUL-terminated). */
static bool b64_decode(const char *in, char *out, size_t cap)
{
    size_t o = 0, len = strlen(in);
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        const char *p = strchr(b64url, in[i]);
        if (!p || !in[i]) return false;
        acc = acc << 6 | (unsigned)(p - b64url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= cap) return false;
            out[o++] = (char)(acc >> bits & 0xff);
        }
    }
    out[o] = '\0';
    return strlen(out) == o; /* no NUL inside */
}

static json_t *cursor_json(const tasker_task_exec *e)
{
    char raw[TASKER_ID_SIZE + 32], enc[(TASKER_ID_SIZE + 32) * 4 / 3 + 4];
    int n = snprintf(raw, sizeof raw, "%lld:%s", (long long)e->queued_us, e->exec_id);
    if (n < 0 || (size_t)n >= sizeof raw) return json_null();
    b64_encode((const unsigned char *)raw, (size_t)n, enc);
    return json_string(enc);
}

/* The store's next_cursor as ours. */
static json_t *lib_cursor_json(const char *lib)
{
    char raw[CURSOR_RAW_MAX + 8], enc[(CURSOR_RAW_MAX + 8) * 4 / 3 + 4];
    int n = snprintf(raw, sizeof raw, "lib:%s", lib);
    if (n < 0 || (size_t)n >= sizeof raw - 4) return json_null();
    b64_encode((const unsigned char *)raw, (size_t)n, enc);
    return json_string(enc);
}

static bool parse_cursor(const char *s, page_query *q)
{
    char raw[CURSOR_RAW_MAX + 8];
    if (!b64_decode(s, raw, sizeof raw)) return false;
    if (strncmp(raw, "lib:", 4) == 0) {
        if (!raw[4] || strlen(raw + 4) >= sizeof q->lib_cursor) return false;
        snprintf(q->lib_cursor, sizeof q->lib_cursor, "%s", raw + 4);
        return true;
    }
    char *colon = strchr(raw, ':'), *end = NULL;
    if (!colon) return false;
    *colon = '\0';
    long long us = strtoll(raw, &end, 10);
    if (end == raw || *end || strlen(colon + 1) >= TASKER_ID_SIZE || !colon[1]) return false;
    q->cursor_us = us;
    snprintf(q->cursor_id, sizeof q->cursor_id, "%s", colon + 1);
    q->has_cursor = true;
    return true;
}

static bool parse_i64(const char *s, int64_t *out)
{
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || v < 0) return false;
    *out = v;
    return true;
}

static bool parse_statuses(const char *list, unsigned *mask)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *name = strtok_r(buf, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        int found = -1;
        for (int s = 0; s < NSTATUS_MAX && found < 0; s++)
            if (strcmp(tasker_exec_status_name((tasker_exec_status)s), name) == 0 &&
                strcmp(name, "unknown") != 0)
                found = s;
        if (found < 0) return false;
        *mask |= 1u << found;
    }
    return *mask != 0;
}

/* Reads the query; false with a 400 queued when an argument is wrong. */
static bool parse_query(web_req *r, page_query *q, enum MHD_Result *ret)
{
    const char *v;
    q->limit = EXECS_DEFAULT_LIMIT;
    q->task = web_arg(r, "task");
    if (q->task && !*q->task) q->task = NULL;
    const char *bad = NULL;
    if ((v = web_arg(r, "status")) && *v && !parse_statuses(v, &q->status_mask)) bad = "status";
    if ((v = web_arg(r, "since")) && *v && !parse_i64(v, &q->since_us)) bad = "since";
    if ((v = web_arg(r, "until")) && *v && !parse_i64(v, &q->until_us)) bad = "until";
    if ((v = web_arg(r, "cursor")) && *v && !parse_cursor(v, q)) bad = "cursor";
    if ((v = web_arg(r, "limit")) && *v) {
        int64_t n = 0;
        if (!parse_i64(v, &n) || n < 1 || n > EXECS_MAX_LIMIT) bad = "limit";
        q->limit = (long)n;
    }
    if (!bad) return true;
    *ret = web_reply_error(r, MHD_HTTP_BAD_REQUEST,
                           "query: bad %s '%.100s' (status: names like failed,running; since and "
                           "until: microseconds since the epoch; limit: 1 to %d; cursor: a "
                           "next_cursor from an earlier page)",
                           bad, web_arg(r, bad), EXECS_MAX_LIMIT);
    return false;
}

static int newest_first(const void *pa, const void *pb)
{
    const tasker_task_exec *a = pa, *b = pb;
    if (a->queued_us != b->queued_us) return a->queued_us < b->queued_us ? 1 : -1;
    return -strcmp(a->exec_id, b->exec_id);
}

static bool matches(const page_query *q, const tasker_task_exec *e)
{
    if (q->status_mask && !(q->status_mask & 1u << (unsigned)e->status)) return false;
    if (q->since_us && e->queued_us < q->since_us) return false;
    if (q->until_us && e->queued_us >= q->until_us) return false;
    if (q->has_cursor) {
        if (e->queued_us > q->cursor_us) return false;
        if (e->queued_us == q->cursor_us && strcmp(e->exec_id, q->cursor_id) >= 0) return false;
    }
    return true;
}

/* One page through the store's filter: TASKER_ESTATE when the library has none (or
 * the cursor is of the older form), for list_page to do it the slow way. */
static int list_page_filtered(tasker_t *t, const page_query *q, json_t **out)
{
    if (q->has_cursor) return TASKER_ESTATE;
    tasker_exec_filter f = {.task_id = q->task,
                            .status_mask = q->status_mask,
                            .since_us = q->since_us,
                            .until_us = q->until_us,
                            .limit = (size_t)q->limit,
                            .cursor = *q->lib_cursor ? q->lib_cursor : NULL};
    tasker_task_exec *v = NULL;
    size_t n = 0;
    char *next = NULL;
    int err = tasker_list_execs_filter(t, &f, &v, &n, &next);
    if (err == TASKER_ENOTFOUND) err = TASKER_OK, n = 0;
    if (err != TASKER_OK) return err;
    json_t *page = json_array();
    for (size_t i = 0; page && i < n; i++)
        json_array_append_new(page, json_exec(&v[i]));
    tasker_free_execs(v, n);
    *out = json_pack("{s:o, s:o}", "execs", page ? page : json_array(), "next_cursor",
                     next ? lib_cursor_json(next) : json_null());
    free(next);
    return TASKER_OK;
}

/* One page as {"execs": [...], "next_cursor": ...}. */
static int list_page(tasker_t *t, const page_query *q, json_t **out)
{
    int ferr = list_page_filtered(t, q, out);
    if (ferr != TASKER_ESTATE) return ferr;
    if (*q->lib_cursor) return TASKER_ESTATE; /* the store's cursor, but no filter now */
    tasker_task_exec *v = NULL;
    size_t n = 0;
    int err = tasker_list_execs(t, q->task, &v, &n);
    if (err == TASKER_ENOTFOUND) err = TASKER_OK, n = 0;
    if (err != TASKER_OK) return err;
    if (n) qsort(v, n, sizeof *v, newest_first);
    json_t *page = json_array(), *next = json_null();
    const tasker_task_exec *last = NULL;
    for (size_t i = 0; page && i < n; i++) {
        if (!matches(q, &v[i])) continue;
        if ((long)json_array_size(page) == q->limit) {
            json_decref(next);
            next = cursor_json(last); /* there is more after this page */
            break;
        }
        json_array_append_new(page, json_exec(&v[i]));
        last = &v[i];
    }
    tasker_free_execs(v, n);
    *out = json_pack("{s:o, s:o}", "execs", page ? page : json_array(), "next_cursor", next);
    return TASKER_OK;
}

enum MHD_Result api_execs(web_req *r)
{
    page_query q = {0};
    enum MHD_Result ret = MHD_NO;
    if (!parse_query(r, &q, &ret)) return ret;
    json_t *o = NULL;
    int err = list_page(r->srv->t, &q, &o);
    if (err == TASKER_ESTATE && *q.lib_cursor)
        return web_reply_error(r, MHD_HTTP_BAD_REQUEST,
                               "query: cursor: the store's filtered query is not available now; "
                               "start again without a cursor");
    if (err != TASKER_OK) return web_reply_lib_error(r, err, "execs");
    return web_reply_json(r, MHD_HTTP_OK, o);
}
