/* Option values shared by several subcommands: --param JSON|@FILE|- (task add,
 * trigger) and durations with milliseconds (task add --backoff, trigger --run-timeout). */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reading more than this for --param @FILE stops: the store's limit is far below. */
#define PARAM_READ_MAX ((size_t)16 << 20)

/* Reads all of f into a NUL-terminated buffer (*out, malloc'd). False, with errno
 * set (EFBIG past PARAM_READ_MAX, EINVAL for a NUL byte), when it cannot. */
static bool read_all(FILE *f, char **out)
{
    size_t cap = 64 * 1024, len = 0;
    char *buf = malloc(cap);
    if (!buf) return false;
    for (;;) {
        if (len + 1 >= cap) {
            char *bigger = cap >= PARAM_READ_MAX ? NULL : realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                errno = cap >= PARAM_READ_MAX ? EFBIG : ENOMEM;
                return false;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - 1 - len, f);
        len += got;
        if (got == 0) break;
    }
    if (ferror(f) || memchr(buf, '\0', len)) {
        int saved = ferror(f) ? errno : EINVAL;
        free(buf);
        errno = saved;
        return false;
    }
    buf[len] = '\0';
    *out = buf;
    return true;
}

/* --param: the text itself, @FILE or - (stdin). Fills *out (malloc'd); prints why and
 * returns an exit code when it cannot be read, else -1. */
int cli_read_param(const char *cmd, const char *arg, char **out)
{
    *out = NULL;
    if (strcmp(arg, "-") != 0 && arg[0] != '@') {
        *out = strdup(arg);
        return *out ? -1 : CLI_FAIL;
    }
    const char *path = arg[0] == '@' ? arg + 1 : NULL;
    FILE *f = path ? fopen(path, "rb") : stdin;
    if (!f) {
        cli_errorf("%s: --param %s: %s", cmd, arg, strerror(errno));
        return CLI_FAIL;
    }
    bool ok = read_all(f, out);
    int saved = errno;
    if (path) fclose(f);
    if (ok) return -1;
    if (saved == EFBIG)
        cli_errorf("%s: --param %s: more than %zu MiB; the limit of params is %d bytes", cmd, arg,
                   PARAM_READ_MAX >> 20, TASKER_DEFAULT_MAX_JSON_BYTES);
    else if (saved == EINVAL)
        cli_errorf("%s: --param %s: holds a NUL byte; JSON text cannot", cmd, arg);
    else
        cli_errorf("%s: --param %s: %s", cmd, arg, strerror(saved));
    return saved == EINVAL || saved == EFBIG ? CLI_USAGE : CLI_FAIL;
}

bool cli_parse_duration_ms(const char *s, int64_t *out_ms)
{
    if (!s || !*s) return false;
    size_t len = strlen(s);
    /* "500ms": a whole number of milliseconds, alone. */
    if (len > 2 && strcmp(s + len - 2, "ms") == 0) {
        char *end;
        errno = 0;
        if (s[0] < '0' || s[0] > '9') return false;
        long long v = strtoll(s, &end, 10);
        if (errno || end != s + len - 2) return false;
        *out_ms = v;
        return true;
    }
    int64_t sec;
    if (!cli_parse_duration_s(s, &sec) || sec > INT64_MAX / 1000) return false;
    *out_ms = sec * 1000;
    return true;
}
