/* The quick start: the C form of the original specification's example.
 *
 * Opens the default store (sqlite:tasker.db, or $TASKER_DSN), registers two handlers,
 * declares two tasks, triggers task1 and waits for it, schedules task1 every 10 seconds,
 * and runs until Ctrl-C; then prints the history. Run it twice: the second start shows
 * the first one's runs, still in the store. */
#include <tasker/context.h>
#include <tasker/tasker.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static tasker_t *app;

static void on_sigint(int sig)
{
    (void)sig;
    tasker_stop(app); /* async-signal-safe */
}

/* handler1 reads its params into C variables and reports progress as events. */
static int handler1(tasker_ctx *c)
{
    const char *greeting = NULL;
    int repeat = 1;
    if (tasker_bind(c, "{s:s, s?i}", "greeting", &greeting, "repeat", &repeat) != TASKER_OK)
        return tasker_failed(c, "%s", tasker_last_error());
    for (int i = 0; i < repeat; i++)
        tasker_event(c, TASKER_NORMAL, "%s (%d/%d)", greeting, i + 1, repeat);
    printf("  handler1 ran %s: %s x%d\n", tasker_exec_id(c), greeting, repeat);
    fflush(stdout);
    return tasker_success(c, "{\"greeted\": true}");
}

/* handler2 always fails, to show how a failure is recorded. */
static int handler2(tasker_ctx *c)
{
    tasker_event(c, TASKER_WARNING, "about to fail on purpose");
    return tasker_failed(c, "disk %s is full", "/dev/demo");
}

static void print_exec(tasker_t *t, const tasker_task_exec *e)
{
    char when[32] = "-";
    time_t s = (time_t)(e->start_us / 1000000);
    struct tm tm;
    if (e->start_us) strftime(when, sizeof when, "%H:%M:%S", localtime_r(&s, &tm));
    printf("%-5s %s %-8s %-9s %6.1f ms  %s\n", e->task_id, e->exec_id, when,
           tasker_exec_status_name(e->status),
           e->end_us ? (e->end_us - e->start_us) / 1000.0 : 0.0,
           e->error ? e->error : (e->result ? e->result : ""));
    tasker_task_event *ev;
    size_t n;
    if (tasker_list_events(t, e->exec_id, &ev, &n) != TASKER_OK) return;
    for (size_t i = 0; i < n; i++)
        printf("        [%s] %s\n", tasker_level_name(ev[i].level), ev[i].message);
    tasker_free_events(ev, n);
}

static void print_history(tasker_t *t, const char *task_id, size_t max)
{
    tasker_task_exec *v;
    size_t n;
    if (tasker_list_execs(t, task_id, &v, &n) != TASKER_OK) return;
    printf("%s: %zu executions in the store%s\n", task_id, n, n > max ? ", newest:" : ":");
    for (size_t i = 0; i < n && i < max; i++) print_exec(t, &v[i]);
    tasker_free_execs(v, n);
}

#define CHECK(call)                                                                      \
    do {                                                                                 \
        if ((call) != TASKER_OK) {                                                       \
            fprintf(stderr, "quickstart: %s: %s\n", #call, tasker_last_error());         \
            tasker_close(app);                                                           \
            return 1;                                                                    \
        }                                                                                \
    } while (0)

int main(void)
{
    app = tasker_default();
    if (!app) {
        fprintf(stderr, "quickstart: %s\n", tasker_last_error());
        return 1;
    }
    print_history(app, "task1", 3);

    CHECK(tasker_register(app, "handler1", handler1, NULL));
    CHECK(tasker_register(app, "handler2", handler2, NULL));
    /* Declared at every start: adding an existing task replaces it. */
    CHECK(tasker_add_task_desc(app, "task1", "handler1",
                               "{\"greeting\": \"hello\", \"repeat\": 2}", "greets twice"));
    CHECK(tasker_add_task(app, "task2", "handler2", "{\"path\": \"/tmp\"}"));

    char exec_id[TASKER_ID_SIZE];
    CHECK(tasker_trigger(app, "task1", exec_id)); /* returns once stored as pending */
    CHECK(tasker_wait(app, exec_id, 5000));
    /* Several runs at once: stored in one commit, all or nothing. */
    const char *batch[2] = {"task2", "task1"};
    char ids[2][TASKER_ID_SIZE];
    CHECK(tasker_trigger_many(app, batch, 2, ids));
    CHECK(tasker_wait(app, ids[1], 5000));
    char exec2[TASKER_ID_SIZE];
    memcpy(exec2, ids[0], sizeof exec2);
    CHECK(tasker_wait(app, exec2, 5000));
    printf("\ntriggered runs:\n");
    tasker_task_exec e;
    CHECK(tasker_get_exec(app, exec_id, &e));
    print_exec(app, &e);
    tasker_exec_clear(&e);
    CHECK(tasker_get_exec(app, exec2, &e));
    print_exec(app, &e);
    tasker_exec_clear(&e);

    char scheme_id[TASKER_ID_SIZE];
    CHECK(tasker_add_task_schedule(app, "task1", "*/10 * * * * *", scheme_id));
    printf("\ntask1 runs every 10 seconds (schedule %s); Ctrl-C to stop\n", scheme_id);
    fflush(stdout);

    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    CHECK(tasker_run(app));

    printf("\nstopped.\n");
    print_history(app, "task1", 5);
    print_history(app, "task2", 5);
    tasker_close(app);
    return 0;
}
