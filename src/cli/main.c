/* The `tasker` command's entry: global options before the subcommand, then dispatch
 * by name, in the style of git. */
#include "cli/cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char main_help[] =
    "usage: tasker [--db DSN] [--json] COMMAND [ARGS]\n"
    "\n"
    "A persistent task scheduler: cron with history, logs and a trigger button.\n"
    "\n"
    "Commands:\n"
    "  run                       run the daemon: fire schedules, run triggered tasks\n"
    "  status                    schedules, next fires, last runs; what is failing\n"
    "  task add|ls|show|rm       define tasks (a handler and its JSON params)\n"
    "  schedule add|ls|rm        attach cron schedules to tasks\n"
    "  trigger TASK [--wait]     run a task now (in the daemon, or --local)\n"
    "  exec ls|show|events       the history: executions and their events\n"
    "  cron EXPR [-n N]          the next fire times of a cron expression\n"
    "  web [--listen ADDR:PORT]  the dashboard, HTTP API and metrics (docs/web.md)\n"
    "  nodes                     the nodes sharing the store (cluster mode)\n"
    "  import FILE|-             add tasks and schedules from JSON, all or nothing\n"
    "  export [--lines]          print every task and schedule as JSON (for import)\n"
    "  help [COMMAND]            this text, or a command's\n"
    "\n"
    "Global options (before or after the command):\n"
    "  --db DSN     the store: sqlite:PATH, memory: or mysql://USER:PASS@HOST:PORT/DB\n"
    "               (default: $TASKER_DSN, else sqlite:tasker.db)\n"
    "  --json       print listings as JSON\n"
    "  --help       help for the command\n"
    "  --version    print the version\n"
    "\n"
    "Exit status: 0 ok, 1 failure (or the run failed), 2 bad usage.\n"
    "See tasker(1).\n";

typedef int (*cmd_fn)(cli_global *g, int argc, char **argv);

static const struct {
    const char *name;
    cmd_fn fn;
} commands[] = {
    {"run", cmd_run},   {"task", cmd_task}, {"schedule", cmd_schedule}, {"trigger", cmd_trigger},
    {"exec", cmd_exec}, {"cron", cmd_cron}, {"status", cmd_status},   {"web", cmd_web},
    {"nodes", cmd_nodes},
    {"import", cmd_import}, {"export", cmd_export},
};

static cmd_fn find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(commands[i].name, name) == 0) return commands[i].fn;
    return NULL;
}

/* `tasker help CMD` is `tasker CMD --help`. */
static int help_command(cli_global *g, int argc, char **argv)
{
    if (argc < 2) return cli_help(main_help);
    cmd_fn fn = find_command(argv[1]);
    if (!fn) return cli_usage_error(NULL, "help: no command '%s'", argv[1]);
    g->help = true;
    return fn(g, argc - 1, argv + 1);
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        CLI_GLOBAL_OPTIONS, {"version", no_argument, NULL, 'V'}, {0}};
    cli_global g = {0};
    const char *env_dsn = getenv("TASKER_DSN");
    g.dsn = env_dsn && *env_dsn ? env_dsn : "sqlite:tasker.db";

    /* A closed reader (tasker exec ls | head) must end us quietly, not kill us with
     * SIGPIPE halfway through a write that matters to nobody. */
    signal(SIGPIPE, SIG_IGN);

    int c;
    opterr = 0;
    /* "+": stop at the command name; its own options are its business. */
    while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
        if (cli_global_option(&g, c, optarg)) continue;
        if (c == 'V') {
            printf("tasker %s\n", TASKER_VERSION);
            return CLI_OK;
        }
        return cli_usage_error(NULL, "unknown option '%s'", argv[optind - 1]);
    }
    if (optind >= argc) {
        if (g.help) return cli_help(main_help);
        fputs(main_help, stderr);
        return CLI_USAGE;
    }
    const char *name = argv[optind];
    if (strcmp(name, "help") == 0) return help_command(&g, argc - optind, argv + optind);
    cmd_fn fn = find_command(name);
    if (!fn) return cli_usage_error(NULL, "no command '%s'", name);
    /* With --help before the name, g.help is set and the command only prints help. */
    return fn(&g, argc - optind, argv + optind);
}
