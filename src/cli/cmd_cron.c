/* `tasker cron EXPR [-n N]`: the next fire times of an expression, to check it
 * before scheduling it. Needs no store. */
#include "cli/cli.h"
#include "cli/output.h"

#include <tasker/cron.h>

#include <stdlib.h>
#include <string.h>

static const char cron_help[] =
    "usage: tasker cron EXPR [-n N] [--key TASK] [--json]\n"
    "\n"
    "Prints the next N (default 5) fire times of a cron expression, in local time and\n"
    "in UTC. A bad expression is reported with the field at fault (exit status 2);\n"
    "one that never fires (0 0 30 2 *) is refused as `schedule add` refuses it\n"
    "(exit status 1).\n"
    "\n"
    "EXPR: 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds\n"
    "first; names (JAN, MON), ranges, steps, lists, L, W, #, H; @yearly, @monthly,\n"
    "@weekly, @daily, @hourly, @every DURATION; an optional CRON_TZ=Area/City prefix.\n"
    "\n"
    "Options:\n"
    "  -n, --count N   how many fire times (1-1000)\n"
    "  --key TASK      the task id that H fields hash (as a schedule of TASK would)\n"
    "  --json          print JSON\n";

static int print_fires(const cli_global *g, const char *expr_text, const int64_t *fires_us, long n)
{
    if (g->json) {
        json_t *arr = json_array();
        for (long i = 0; arr && i < n; i++) {
            char iso[FMT_TIME_SIZE], local[FMT_TIME_SIZE];
            fmt_iso_utc(fires_us[i], iso);
            fmt_local_time_zone(fires_us[i], local);
            json_append(&arr, json_pack("{s:I, s:s, s:s}", "time_us", (json_int_t)fires_us[i],
                                        "utc", iso, "local", local));
        }
        return out_json(arr ? json_pack("{s:o, s:o}", "cron", json_text(expr_text), "next", arr)
                            : NULL);
    }
    static const char *const headers[] = {"#", "LOCAL", "UTC"};
    out_table *tb = table_new(3, headers);
    if (!tb) return CLI_FAIL;
    for (long i = 0; i < n; i++) {
        char num[24], local[FMT_TIME_SIZE], utc[FMT_TIME_SIZE];
        snprintf(num, sizeof num, "%ld", i + 1);
        fmt_local_time_zone(fires_us[i], local);
        fmt_utc_time(fires_us[i], utc);
        const char *cells[] = {num, local, utc};
        table_add_row(tb, cells, NULL);
    }
    table_print(tb, stdout);
    table_free(tb);
    return CLI_OK;
}

int cli_parse_cron(const char *text, const char *key, tasker_cron **out)
{
    *out = NULL;
    tasker_cron *expr = NULL;
    int err = tasker_cron_parse_key(text, key, &expr);
    if (err != TASKER_OK && !key && strstr(tasker_last_error(), "H needs a key")) {
        cli_errorf("cron: '%s': H fields hash the task id: give it with --key TASK", text);
        return CLI_USAGE;
    }
    if (err != TASKER_OK) return cli_lib_error(err, "cron");
    /* @every counts from its anchor; a new schedule's is now. */
    int64_t after_us = now_us(), next_us;
    tasker_cron_set_anchor(expr, after_us);
    err = tasker_cron_next(expr, after_us, &next_us);
    if (err != TASKER_OK) {
        tasker_cron_free(expr);
        if (err != TASKER_ENOTFOUND) return cli_lib_error(err, "cron");
        cli_errorf("cron: '%s' never fires: no date matches it", text);
        return CLI_FAIL;
    }
    *out = expr;
    return CLI_OK;
}

static int list_fires(const cli_global *g, const char *text, const char *key, long count)
{
    tasker_cron *expr = NULL;
    int rc = cli_parse_cron(text, key, &expr);
    if (rc != CLI_OK) return rc;
    int err;
    int64_t *fires_us = calloc((size_t)count, sizeof *fires_us);
    rc = CLI_FAIL;
    if (!fires_us) goto out;
    /* @every counts from its anchor; for a check, count from now as a new schedule
     * would. */
    int64_t after_us = now_us();
    tasker_cron_set_anchor(expr, after_us);
    long n = 0;
    for (; n < count; n++) {
        err = tasker_cron_next(expr, after_us, &fires_us[n]);
        if (err == TASKER_ENOTFOUND) break;
        if (err != TASKER_OK) {
            rc = cli_lib_error(err, "cron");
            goto out;
        }
        after_us = fires_us[n];
    }
    rc = print_fires(g, text, fires_us, n);
out:
    free(fires_us);
    tasker_cron_free(expr);
    return rc;
}

int cmd_cron(cli_global *g, int argc, char **argv)
{
    static const struct option options[] = {
        {"count", required_argument, NULL, 'n'}, {"key", required_argument, NULL, 'k'},
        CLI_GLOBAL_OPTIONS, {0}};
    long count = 5;
    const char *key = NULL;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":hn:k:", options, NULL)) != -1) {
        if (cli_global_option(g, c, optarg)) continue;
        if (c == 'n') {
            if (!cli_parse_int(optarg, 1, 1000, &count))
                return cli_usage_error("cron", "cron: -n '%s': expected a number from 1 to 1000",
                                       optarg);
            continue;
        }
        if (c == 'k') {
            key = optarg;
            continue;
        }
        return cli_bad_option("cron", c, argv);
    }
    if (g->help) return cli_help(cron_help);
    if (optind >= argc) return cli_usage_error("cron", "cron: expected an expression");
    char *text = cli_join_args(argc, argv, optind);
    if (!text) return CLI_FAIL;
    int rc = list_fires(g, text, key, count);
    free(text);
    return rc;
}
