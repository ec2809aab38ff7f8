/* tasker_bind: params into C variables through a jansson unpack format, with an error
 * that names the field. jansson reports where in the format the mismatch is, not which
 * key; bind_field_at() walks the format and the arguments to that point to find it. */
#include "core/internal.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define BIND_DEPTH 16

/* Skips the pointer arguments of one value token; returns false for an unknown one. */
static bool skip_value_args(const char *fmt, size_t *i, va_list *ap)
{
    switch (fmt[*i]) {
    case 's':
        (void)va_arg(*ap, const char **);
        if (fmt[*i + 1] == '%') {
            (void)va_arg(*ap, size_t *);
            (*i)++;
        }
        return true;
    case 'b': case 'i': (void)va_arg(*ap, int *); return true;
    case 'I': (void)va_arg(*ap, json_int_t *); return true;
    case 'f': case 'F': (void)va_arg(*ap, double *); return true;
    case 'o': case 'O': (void)va_arg(*ap, json_t **); return true;
    case 'n': return true;
    default: return false;
    }
}

/* Writes into path the key path ("a.b", "list[2]") of the format token at pos (0-based).
 * Returns false when the format is not one it understands. */
static bool bind_field_at(const char *fmt, size_t pos, va_list ap_in, char *path, size_t cap)
{
    char keys[BIND_DEPTH][TASKER_ID_SIZE * 2];
    int index[BIND_DEPTH];
    bool is_obj[BIND_DEPTH], want_key[BIND_DEPTH];
    int depth = -1;
    va_list ap;
    va_copy(ap, ap_in);
    bool ok = false;
    for (size_t i = 0; i <= pos && fmt[i]; i++) {
        char ch = fmt[i];
        if (isspace((unsigned char)ch) || ch == ',' || ch == ':' || ch == '?' || ch == '!' ||
            ch == '*')
            continue;
        if (depth >= 0 && is_obj[depth] && want_key[depth]) {
            if (ch == '}') { depth--; goto value_done; }
            if (ch != 's') break;
            snprintf(keys[depth], sizeof keys[depth], "%s", va_arg(ap, const char *));
            want_key[depth] = false;
            continue;
        }
        if (i == pos) { ok = true; break; }
        if (ch == '{' || ch == '[') {
            if (++depth >= BIND_DEPTH) break;
            is_obj[depth] = ch == '{';
            want_key[depth] = is_obj[depth];
            index[depth] = 0;
            continue;
        }
        if (ch == '}' || ch == ']') { depth--; goto value_done; }
        if (!skip_value_args(fmt, &i, &ap)) break;
    value_done:
        if (depth >= 0) {
            if (is_obj[depth]) want_key[depth] = true;
            else index[depth]++;
        }
    }
    va_end(ap);
    if (!ok) return false;
    size_t len = 0;
    path[0] = '\0';
    for (int d = 0; d <= depth && len < cap; d++) {
        if (is_obj[d])
            len += (size_t)snprintf(path + len, cap - len, "%s%s", len ? "." : "", keys[d]);
        else
            len += (size_t)snprintf(path + len, cap - len, "[%d]", index[d]);
    }
    return path[0] != '\0';
}

static int bind_error(const json_error_t *err, const char *fmt, va_list ap)
{
    char field[256];
    char text[JSON_ERROR_TEXT_LENGTH];
    snprintf(text, sizeof text, "%s", err->text);
    text[0] = (char)tolower((unsigned char)text[0]);
    if (strncmp(err->text, "Object item not found: ", 23) == 0)
        return tasker_fail(TASKER_EINVAL, "bind: field '%s': missing", err->text + 23);
    if (err->position > 0 && bind_field_at(fmt, (size_t)err->position - 1, ap, field, sizeof field))
        return tasker_fail(TASKER_EINVAL, "bind: field '%s': %s", field, text);
    return tasker_fail(TASKER_EINVAL, "bind: format \"%s\" at position %d: %s", fmt,
                       err->position, text);
}

int tasker_bind(tasker_ctx *c, const char *fmt, ...)
{
    if (!c) return tasker_fail(TASKER_EINVAL, "bind: context is NULL");
    if (!fmt) return tasker_fail(TASKER_EINVAL, "bind: format is NULL");
    pthread_mutex_lock(&c->lock);
    if (!c->param_json) {
        json_error_t perr;
        c->param_json = json_loads(c->param, JSON_DECODE_ANY, &perr);
    }
    json_t *root = c->param_json;
    pthread_mutex_unlock(&c->lock);
    if (!root) return tasker_fail(TASKER_EINVAL, "bind: params are not valid JSON");

    json_error_t err;
    va_list ap, ap_err;
    va_start(ap, fmt);
    va_copy(ap_err, ap);
    int rc = json_vunpack_ex(root, &err, 0, fmt, ap) == 0 ? TASKER_OK
                                                             : bind_error(&err, fmt, ap_err);
    va_end(ap_err);
    va_end(ap);
    return rc;
}
