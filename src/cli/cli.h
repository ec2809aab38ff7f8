/* The `tasker` command: what its files share. Global options, exit codes, the
 * subcommands' entry points and the option-parsing helpers. */
#ifndef TASKER_CLI_H
#define TASKER_CLI_H

#include <tasker/cron.h>
#include <tasker/tasker.h>

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

/* Exit codes (documented in docs/tasker.1). */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Options every subcommand accepts, before or after its name. */
typedef struct cli_global {
    const char *dsn; /* --db, else $TASKER_DSN, else "sqlite:tasker.db" */
    bool json;       /* --json: listings as JSON */
    bool help;       /* --help seen */
} cli_global;

/* getopt_long entries for the global options; append them to each table. */
#define CLI_OPT_DB 0x100
#define CLI_OPT_JSON 0x101
/* clang-format off */
#define CLI_GLOBAL_OPTIONS                                                                         \
    {"db", required_argument, NULL, CLI_OPT_DB},                                                   \
    {"json", no_argument, NULL, CLI_OPT_JSON},                                                     \
    {"help", no_argument, NULL, 'h'}
/* clang-format on */

/* Handles a global option seen by getopt_long; false when c is not one. */
bool cli_global_option(cli_global *g, int c, const char *arg);

/* Prints "tasker: <fmt>" to stderr, with a hint to run --help, and returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "tasker: <what>: <tasker_last_error()>" and returns the exit code for err:
 * CLI_USAGE for TASKER_EINVAL (the command line was wrong), else CLI_FAIL. */
int cli_lib_error(int err, const char *what);
/* Prints "tasker: <fmt>" to stderr. */
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reports an option getopt_long refused (c is '?' or ':') as a usage error. */
int cli_bad_option(const char *cmd, int c, char **argv);
/* For commands with subcommands (`task add`): finds the subcommand's name among
 * argv[1..argc), stepping over global options, and removes it from argv so the
 * subcommand parses the rest. NULL when there is none. */
const char *cli_take_subcommand(int *argc, char **argv);

/* True when argv[1..argc) holds --help or -h (for a command given no subcommand). */
bool cli_wants_help(int argc, char **argv);

/* Parses a non-negative integer option value; false if it is not one. */
bool cli_parse_int(const char *s, long min, long max, long *out);
/* Parses a duration: a number and a unit, s m h d or w ("30s", "10m", "2h", "7d"),
 * several summed ("1h30m"), or a bare number of seconds. False for anything else
 * (a sign, a space, an unknown unit, overflow). */
bool cli_parse_duration_s(const char *s, int64_t *out_s);
/* Parses a point in time (when.c): a duration ago as cli_parse_duration_s reads it
 * ("10m": now_us minus 10 minutes), or a local time "YYYY-MM-DD", "YYYY-MM-DDTHH:MM",
 * "YYYY-MM-DD HH:MM", each with an optional ":SS", and UTC when it ends in "Z". False
 * for anything else, and for dates that do not exist (2026-02-30). */
bool cli_parse_when_us(const char *s, int64_t now_us, int64_t *out_us);
/* cli_parse_duration_s, in milliseconds, that also takes "NNNms" ("500ms"). */
bool cli_parse_duration_ms(const char *s, int64_t *out_ms);
/* --param ARG (param.c): the JSON text itself, @FILE to read FILE, or - for stdin.
 * Fills *out (malloc'd; the caller frees it) and returns -1; or, after printing why
 * (naming cmd), returns the exit code. The text is not checked as JSON here. */
int cli_read_param(const char *cmd, const char *arg, char **out);
/* Joins argv[from..argc) with single spaces (a cron expression given unquoted).
 * Returns a malloc'd string or NULL when there is nothing to join. */
char *cli_join_args(int argc, char **argv, int from);

/* Opens the store of g->dsn; workers as in tasker_options (-1 = none). Prints the
 * reason and returns NULL on failure. */
tasker_t *cli_open(const cli_global *g, int workers);
/* cli_open with all the options (opt may be NULL). */
tasker_t *cli_open_opts(const cli_global *g, const tasker_options *opt);

/* Parses a cron expression for cron and schedule add (cmd_cron.c), which must agree:
 * CLI_OK with *out set (free it with tasker_cron_free), or, after printing why, 2 for
 * a bad expression and 1 for one that never fires ("0 0 30 2 *"). */
int cli_parse_cron(const char *text, const char *key, tasker_cron **out);

/* A schedule's next fire after now (cmd_schedule.c); @every counts from the
 * schedule's creation. 0 when the expression never fires again (or no longer parses). */
int64_t cli_next_fire_us(const tasker_task_scheme *s);

/* Ids by unique prefix (prefix.c). Each fills *out with the record whose id is id, or
 * else the only one whose id starts with it (clear it with tasker_exec_clear /
 * tasker_scheme_clear), and returns CLI_OK; otherwise it prints why, naming cmd (no
 * such record; an ambiguous prefix, listing the records it matches) and returns the
 * exit code. */
int cli_find_exec(tasker_t *t, const char *cmd, const char *id, tasker_task_exec *out);
int cli_find_scheme(tasker_t *t, const char *cmd, const char *id, tasker_task_scheme *out);

/* Subcommands: each gets argv starting at its own name, and returns an exit code. */
int cmd_task(cli_global *g, int argc, char **argv);
int cmd_schedule(cli_global *g, int argc, char **argv);
int cmd_trigger(cli_global *g, int argc, char **argv);
int cmd_exec(cli_global *g, int argc, char **argv);
int cmd_cron(cli_global *g, int argc, char **argv);
int cmd_run(cli_global *g, int argc, char **argv);
int cmd_status(cli_global *g, int argc, char **argv);
int cmd_web(cli_global *g, int argc, char **argv); /* cmd_web.c, serves src/web */
int cmd_nodes(cli_global *g, int argc, char **argv);

/* Lifecycle subcommands (cmd_lifecycle.c), argv as the subcommand sees it; help is the
 * text --help prints. cli_pause_cmd: kind "task" or "schedule" (an id prefix for a
 * schedule), pause or resume. */
int cli_pause_cmd(cli_global *g, int argc, char **argv, const char *kind, bool pause,
                  const char *help);
int cli_exec_cancel_cmd(cli_global *g, int argc, char **argv, const char *help);
int cli_exec_retry_cmd(cli_global *g, int argc, char **argv, const char *help);
int cmd_import(cli_global *g, int argc, char **argv); /* cmd_import.c, with cmd_export */
int cmd_export(cli_global *g, int argc, char **argv);

/* Prints help text to stdout and returns CLI_OK (for --help and `tasker help`). */
int cli_help(const char *text);

#endif
