/* Checking arguments at the API's edge, so that bad input gets one clear message. */
#include "core/internal.h"
#include "core/utf8.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int tasker_check_handle(const tasker_t *t)
{
    return t ? TASKER_OK : tasker_fail(TASKER_EINVAL, "handle is NULL");
}

int tasker_check_id(const char *what, const char *id)
{
    if (!id) return tasker_fail(TASKER_EINVAL, "%s is NULL", what);
    size_t len = strlen(id);
    if (len == 0) return tasker_fail(TASKER_EINVAL, "%s is empty", what);
    if (len >= TASKER_ID_SIZE)
        return tasker_fail(TASKER_EINVAL, "%s '%.20s...' is %zu bytes; the limit is %d", what,
                           id, len, TASKER_ID_SIZE - 1);
    /* Ids travel as JSON strings (--json, the HTTP API), and JSON text is UTF-8: an id
     * that is not would be refused or mangled there. */
    const unsigned char *start = (const unsigned char *)id;
    for (const unsigned char *p = start; *p;) {
        if (*p < 0x20 || *p == 0x7f)
            return tasker_fail(TASKER_EINVAL, "%s contains a control character at byte %zu",
                               what, (size_t)(p - start));
        size_t n = tasker_utf8_len(p, len - (size_t)(p - start));
        if (n == 0)
            return tasker_fail(TASKER_EINVAL, "%s: invalid UTF-8 at byte %zu", what,
                               (size_t)(p - start));
        p += n;
    }
    return TASKER_OK;
}

int tasker_check_json(const tasker_t *t, const char *what, const char *json)
{
    if (!json) return TASKER_OK;
    size_t len = strlen(json);
    if (len > t->opt.max_json_bytes)
        return tasker_fail(TASKER_EINVAL, "%s: %zu bytes is over the limit of %zu bytes", what,
                           len, t->opt.max_json_bytes);
    json_error_t err;
    json_t *v = json_loadb(json, len, JSON_DECODE_ANY, &err);
    if (!v)
        return tasker_fail(TASKER_EINVAL, "%s: invalid JSON at line %d, column %d: %s", what,
                           err.line, err.column, err.text);
    json_decref(v);
    return TASKER_OK;
}

char *tasker_strdup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}
