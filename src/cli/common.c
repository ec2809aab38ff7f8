/* What every subcommand uses: global options, error reporting with the documented
 * exit codes, small argument parsers, and opening the store. */
#include "cli/cli.h"
#include "cli/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool cli_global_option(cli_global *g, int c, const char *arg)
{
    switch (c) {
    case CLI_OPT_DB: g->dsn = arg; return true;
    case CLI_OPT_JSON: g->json = true; return true;
    case 'h': g->help = true; return true;
    default: return false;
    }
}

void cli_errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* The daemon's errors carry journald's level prefix (log.h); others print none. */
    fprintf(stderr, "%stasker: ", log_prefix(stderr, LOG_PRIO_ERR));
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("tasker: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fprintf(stderr, "Try 'tasker %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
    return CLI_USAGE;
}

int cli_lib_error(int err, const char *what)
{
    /* The library's messages say where already ("trigger: task 'x' not found"). */
    const char *detail = tasker_last_error();
    if (detail && *detail)
        cli_errorf("%s", detail);
    else
        cli_errorf("%s: %s", what, tasker_strerror(err));
    return err == TASKER_EINVAL ? CLI_USAGE : CLI_FAIL;
}

int cli_bad_option(const char *cmd, int c, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "?";
    if (c == ':') return cli_usage_error(cmd, "%s: option '%s' needs a value", cmd, arg);
    return cli_usage_error(cmd, "%s: unknown option '%s'", cmd, arg);
}

const char *cli_take_subcommand(int *argc, char **argv)
{
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--db") == 0) {
            i++; /* its value */
            continue;
        }
        if (a[0] == '-' && a[1] != '\0') continue;
        memmove(&argv[i], &argv[i + 1], (size_t)(*argc - i) * sizeof *argv);
        (*argc)--;
        return a;
    }
    return NULL;
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return true;
    return false;
}

bool cli_parse_int(const char *s, long min, long max, long *out)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max) return false;
    *out = v;
    return true;
}

bool cli_parse_duration_s(const char *s, int64_t *out_s)
{
    if (!s || !*s) return false;
    int64_t total_s = 0;
    for (const char *first = s; *s;) {
        if (*s < '0' || *s > '9') return false; /* no sign, no space */
        char *end;
        errno = 0;
        long long n = strtoll(s, &end, 10);
        int64_t unit_s;
        switch (*end) {
        case '\0': /* a bare number: seconds, as sleep(1) reads it */
        case 's': unit_s = 1; break;
        case 'm': unit_s = 60; break;
        case 'h': unit_s = 3600; break;
        case 'd': unit_s = 86400; break;
        case 'w': unit_s = 7 * 86400; break;
        default: return false;
        }
        /* A bare number only alone: "1h30" is more likely a typo than 1h30s. */
        if (*end == '\0' && s != first) return false;
        if (errno || n > (INT64_MAX - total_s) / unit_s) return false;
        total_s += (int64_t)n * unit_s;
        s = *end ? end + 1 : end;
    }
    *out_s = total_s;
    return true;
}

char *cli_join_args(int argc, char **argv, int from)
{
    if (from >= argc) return NULL;
    size_t len = 0;
    for (int i = from; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *s = malloc(len);
    if (!s) return NULL;
    s[0] = '\0';
    for (int i = from; i < argc; i++) {
        if (i > from) strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

tasker_t *cli_open_opts(const cli_global *g, const tasker_options *opt)
{
    tasker_t *t = tasker_open_opts(g->dsn, opt);
    if (!t) cli_lib_error(TASKER_ESTORAGE, g->dsn);
    return t;
}

tasker_t *cli_open(const cli_global *g, int workers)
{
    tasker_options opt = {0};
    opt.workers = workers;
    return cli_open_opts(g, &opt);
}

int cli_help(const char *text)
{
    fputs(text, stdout);
    return CLI_OK;
}
