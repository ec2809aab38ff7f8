/* The `tasker` command: what its files share. Global options, exit codes, the
 * subcommands' entry points and the option-parsing helpers. */
#ifndef TASKER_CLI_H
#define TASKER_CLI_H

#include <tasker/tasker.h>

#include <getopt.h>
#include <stdbool.h>

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
/* Joins argv[from..argc) with single spaces (a cron expression given unquoted).
 * Returns a malloc'd string or NULL when there is nothing to join. */
char *cli_join_args(int argc, char **argv, int from);

/* Opens the store of g->dsn; workers as in tasker_options (-1 = none). Prints the
 * reason and returns NULL on failure. */
tasker_t *cli_open(const cli_global *g, int workers);
/* cli_open with all the options (opt may be NULL). */
tasker_t *cli_open_opts(const cli_global *g, const tasker_options *opt);

/* Subcommands: each gets argv starting at its own name, and returns an exit code. */
int cmd_task(cli_global *g, int argc, char **argv);
int cmd_schedule(cli_global *g, int argc, char **argv);
int cmd_trigger(cli_global *g, int argc, char **argv);
int cmd_exec(cli_global *g, int argc, char **argv);
int cmd_cron(cli_global *g, int argc, char **argv);
int cmd_run(cli_global *g, int argc, char **argv);
int cmd_nodes(cli_global *g, int argc, char **argv);

/* Prints help text to stdout and returns CLI_OK (for --help and `tasker help`). */
int cli_help(const char *text);

#endif
