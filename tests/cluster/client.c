/* The multi-node tests' client: sets up tasks and schedules, triggers runs, waits for
 * them and dumps the store, through a handle without workers (the public API only; it
 * never runs anything itself). Every handle here keeps all history (no retention), so
 * the dump holds every execution of the test.
 *
 *   tasker-test-client DSN setup N [all]   tasks s000.. (handler mark), each with the
 *                                          every-second schedule "* * * * * *" (misfire
 *                                          policy all when asked); tasks burst (mark),
 *                                          work (sleep 20 ms) and long (sleep 60 s)
 *   tasker-test-client DSN trigger TASK N  N runs, in bulk (tasker_trigger_many)
 *   tasker-test-client DSN bursts TASK N EVERY_MS COUNT
 *                                          COUNT bulk triggers of N runs, EVERY_MS apart;
 *                                          prints "acked N failed M" (runs)
 *   tasker-test-client DSN latency TASK N GAP_MS
 *                                          N single triggers GAP_MS apart; prints
 *                                          "exec_id before_us" (the real clock just
 *                                          before each tasker_trigger call)
 *   tasker-test-client DSN wait TASK STATUS OP N TIMEOUT_MS
 *                                          polls until the count of TASK's executions
 *                                          (TASK "-": all) in STATUS ("any", or a name;
 *                                          "open" = pending or running) is OP (ge, eq)
 *                                          N; prints the count; exit 1 on time-out
 *   tasker-test-client DSN dump            one line per execution: exec_id task_id
 *                                          scheme_id scheduled_us queued_us start_us
 *                                          end_us status node_id error ("-" for NULL;
 *                                          the error, last, may hold spaces)
 */
#include <tasker/tasker.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BULK_MAX 1000

static int64_t real_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void pause_ms(int64_t ms)
{
    if (ms <= 0) return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int fail(const char *what, int err)
{
    fprintf(stderr, "client: %s: %s: %s\n", what, tasker_strerror(err), tasker_last_error());
    return 1;
}

static int setup(tasker_t *t, int n, bool misfire_all)
{
    int err;
    tasker_schedule_opts so = {.misfire = misfire_all ? TASKER_MISFIRE_ALL : TASKER_MISFIRE_ONCE};
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "s%03d", i);
        if ((err = tasker_add_task(t, id, "mark", NULL)) != TASKER_OK) return fail(id, err);
        if ((err = tasker_add_task_schedule_opts(t, id, "* * * * * *", &so, NULL)) != TASKER_OK)
            return fail(id, err);
    }
    if ((err = tasker_add_task(t, "burst", "mark", NULL)) != TASKER_OK) return fail("burst", err);
    if ((err = tasker_add_task(t, "work", "sleep", "{\"ms\": 20}")) != TASKER_OK)
        return fail("work", err);
    if ((err = tasker_add_task(t, "long", "sleep", "{\"ms\": 60000}")) != TASKER_OK)
        return fail("long", err);
    return 0;
}

static int trigger_bulk(tasker_t *t, const char *task, int n)
{
    static const char *ids[BULK_MAX];
    for (int done = 0; done < n;) {
        int k = n - done < BULK_MAX ? n - done : BULK_MAX;
        for (int i = 0; i < k; i++) ids[i] = task;
        int err = tasker_trigger_many(t, ids, (size_t)k, NULL);
        if (err != TASKER_OK) return fail("trigger_many", err);
        done += k;
    }
    return 0;
}

/* A burst that fails (the database is down) is not retried: a retry could run twice
 * what a lost answer had in fact stored. Prints "acked N failed M" (runs). */
static int bursts(tasker_t *t, const char *task, int n, int every_ms, int count)
{
    int64_t next_us = real_now_us();
    long acked = 0, failed = 0;
    for (int i = 0; i < count; i++) {
        pause_ms((next_us - real_now_us()) / 1000);
        if (trigger_bulk(t, task, n) == 0) acked += n;
        else failed += n;
        next_us += (int64_t)every_ms * 1000;
    }
    printf("acked %ld failed %ld\n", acked, failed);
    return 0;
}

static int latency(tasker_t *t, const char *task, int n, int gap_ms)
{
    for (int i = 0; i < n; i++) {
        char id[TASKER_ID_SIZE];
        int64_t before_us = real_now_us();
        int err = tasker_trigger(t, task, id);
        if (err != TASKER_OK) return fail("trigger", err);
        printf("%s %" PRId64 "\n", id, before_us);
        pause_ms(gap_ms);
    }
    return 0;
}

static bool status_matches(tasker_exec_status s, const char *want)
{
    if (strcmp(want, "any") == 0) return true;
    if (strcmp(want, "open") == 0) return s == TASKER_EXEC_PENDING || s == TASKER_EXEC_RUNNING;
    return strcmp(tasker_exec_status_name(s), want) == 0;
}

static int count_execs(tasker_t *t, const char *task, const char *status, long *count)
{
    tasker_task_exec *v = NULL;
    size_t n = 0;
    int err = tasker_list_execs(t, strcmp(task, "-") == 0 ? NULL : task, &v, &n);
    if (err != TASKER_OK) return err;
    *count = 0;
    for (size_t i = 0; i < n; i++) *count += status_matches(v[i].status, status);
    tasker_free_execs(v, n);
    return TASKER_OK;
}

/* Store errors while polling are tolerated (the database may be restarting). */
static int wait_count(tasker_t *t, const char *task, const char *status, const char *op,
                      long want, int timeout_ms)
{
    int64_t deadline_us = real_now_us() + (int64_t)timeout_ms * 1000;
    long count = -1;
    for (;;) {
        if (count_execs(t, task, status, &count) == TASKER_OK &&
            (strcmp(op, "eq") == 0 ? count == want : count >= want))
            break;
        if (real_now_us() > deadline_us) {
            printf("%ld\n", count);
            fprintf(stderr, "client: wait: %s %s is %ld after %d ms, want %s %ld\n", task,
                    status, count, timeout_ms, op, want);
            return 1;
        }
        pause_ms(50);
    }
    printf("%ld\n", count);
    return 0;
}

static int dump(tasker_t *t)
{
    tasker_task_exec *v = NULL;
    size_t n = 0;
    int err = tasker_list_execs(t, NULL, &v, &n);
    if (err != TASKER_OK) return fail("list_execs", err);
    for (size_t i = 0; i < n; i++) {
        const tasker_task_exec *e = &v[i];
        printf("%s %s %s %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %s %s %s\n", e->exec_id,
               e->task_id, e->scheme_id ? e->scheme_id : "-", e->scheduled_us, e->queued_us,
               e->start_us, e->end_us, tasker_exec_status_name(e->status),
               e->node_id ? e->node_id : "-", e->error ? e->error : "-");
    }
    tasker_free_execs(v, n);
    return 0;
}

static int usage(void)
{
    fputs("usage: tasker-test-client DSN setup N [all] | trigger TASK N |\n"
          "       bursts TASK N EVERY_MS COUNT | latency TASK N GAP_MS |\n"
          "       wait TASK STATUS ge|eq N TIMEOUT_MS | dump\n",
          stderr);
    return 2;
}

static int run(tasker_t *t, int argc, char **argv)
{
    const char *cmd = argv[2];
    if (strcmp(cmd, "setup") == 0 && (argc == 4 || argc == 5))
        return setup(t, atoi(argv[3]), argc == 5 && strcmp(argv[4], "all") == 0);
    if (strcmp(cmd, "trigger") == 0 && argc == 5) return trigger_bulk(t, argv[3], atoi(argv[4]));
    if (strcmp(cmd, "bursts") == 0 && argc == 7)
        return bursts(t, argv[3], atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
    if (strcmp(cmd, "latency") == 0 && argc == 6)
        return latency(t, argv[3], atoi(argv[4]), atoi(argv[5]));
    if (strcmp(cmd, "wait") == 0 && argc == 8)
        return wait_count(t, argv[3], argv[4], argv[5], atol(argv[6]), atoi(argv[7]));
    if (strcmp(cmd, "dump") == 0 && argc == 3) return dump(t);
    return usage();
}

int main(int argc, char **argv)
{
    if (argc < 3) return usage();
    tasker_options opt = {.workers = -1, .max_execs_per_task = -1, .max_exec_age_s = -1};
    tasker_t *t = tasker_open_opts(argv[1], &opt);
    if (!t) {
        fprintf(stderr, "client: open %s: %s\n", argv[1], tasker_last_error());
        return 1;
    }
    int rc = run(t, argc, argv);
    fflush(stdout);
    tasker_close(t);
    return rc;
}
