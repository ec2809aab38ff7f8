/* The public API of tasker.h on the memory driver: every function, every error path. */
#include "support/testutil.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ok_handler(tasker_ctx *c)
{
    tasker_event(c, TASKER_NORMAL, "hello from %s", tasker_task_id(c));
    return 0;
}

static int setup(void **state)
{
    tasker_t *t = test_open("memory:", 2, NULL);
    assert_non_null(t);
    assert_int_equal(tasker_register(t, "ok", ok_handler, NULL), TASKER_OK);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    tasker_close(*state);
    return 0;
}

static void strerror_names_every_code(void **state)
{
    (void)state;
    assert_string_equal(tasker_strerror(TASKER_OK), "TASKER_OK");
    assert_string_equal(tasker_strerror(TASKER_EINVAL), "TASKER_EINVAL");
    assert_string_equal(tasker_strerror(TASKER_ENOTFOUND), "TASKER_ENOTFOUND");
    assert_string_equal(tasker_strerror(TASKER_EEXISTS), "TASKER_EEXISTS");
    assert_string_equal(tasker_strerror(TASKER_ESTORAGE), "TASKER_ESTORAGE");
    assert_string_equal(tasker_strerror(TASKER_ENOMEM), "TASKER_ENOMEM");
    assert_string_equal(tasker_strerror(TASKER_ESTATE), "TASKER_ESTATE");
    assert_string_equal(tasker_strerror(TASKER_ETIMEDOUT), "TASKER_ETIMEDOUT");
    assert_string_equal(tasker_strerror(-99), "TASKER_EUNKNOWN");
}

static void open_rejects_unknown_dsn_with_message(void **state)
{
    (void)state;
    assert_null(tasker_open("postgres://x"));
    assert_non_null(strstr(tasker_last_error(), "unknown scheme in 'postgres://x'"));
    assert_null(tasker_open(NULL));
    assert_non_null(strstr(tasker_last_error(), "dsn: empty"));
    assert_null(tasker_open(""));
}

static void *read_last_error(void *out)
{
    snprintf(out, 64, "%s", tasker_last_error());
    return NULL;
}

static void last_error_is_per_thread(void **state)
{
    (void)state;
    assert_null(tasker_open("bogus:"));
    assert_true(strlen(tasker_last_error()) > 0);
    pthread_t th;
    char other[64] = "unset";
    pthread_create(&th, NULL, read_last_error, other);
    pthread_join(th, NULL);
    assert_string_equal(other, "");
}

/* ---- tasker_new and custom drivers ---- */

typedef struct wrap_driver {
    tasker_storage base;
    tasker_storage *inner;
    atomic_int calls;
    int *closed;
} wrap_driver;

#define INNER(st) (((wrap_driver *)(st))->inner)
#define COUNT(st) atomic_fetch_add(&((wrap_driver *)(st))->calls, 1)

static int w_add_task(tasker_storage *st, const tasker_task *x) { COUNT(st); return INNER(st)->ops->add_task(INNER(st), x); }
static int w_remove_task(tasker_storage *st, const char *id) { COUNT(st); return INNER(st)->ops->remove_task(INNER(st), id); }
static int w_get_task(tasker_storage *st, const char *id, tasker_task *o) { COUNT(st); return INNER(st)->ops->get_task(INNER(st), id, o); }
static int w_list_tasks(tasker_storage *st, tasker_task **o, size_t *n) { COUNT(st); return INNER(st)->ops->list_tasks(INNER(st), o, n); }
static int w_add_scheme(tasker_storage *st, const tasker_task_scheme *s, char id[TASKER_ID_SIZE]) { COUNT(st); return INNER(st)->ops->add_task_scheme(INNER(st), s, id); }
static int w_remove_scheme(tasker_storage *st, const char *id) { COUNT(st); return INNER(st)->ops->remove_task_scheme(INNER(st), id); }
static int w_list_schemes(tasker_storage *st, tasker_task_scheme **o, size_t *n) { COUNT(st); return INNER(st)->ops->list_task_schemes(INNER(st), o, n); }
static int w_set_fire(tasker_storage *st, const char *id, int64_t f) { COUNT(st); return INNER(st)->ops->set_scheme_fire(INNER(st), id, f); }
static int w_add_exec(tasker_storage *st, const tasker_task_exec *e) { COUNT(st); return INNER(st)->ops->add_task_exec(INNER(st), e); }
static int w_start_exec(tasker_storage *st, const char *id, int64_t s, const char *node) { COUNT(st); return INNER(st)->ops->start_task_exec(INNER(st), id, s, node); }
static int w_update_exec(tasker_storage *st, const tasker_task_exec *e) { COUNT(st); return INNER(st)->ops->update_task_exec(INNER(st), e); }
static int w_get_exec(tasker_storage *st, const char *id, tasker_task_exec *o) { COUNT(st); return INNER(st)->ops->get_task_exec(INNER(st), id, o); }
static int w_list_execs(tasker_storage *st, const char *id, size_t l, tasker_task_exec **o, size_t *n) { COUNT(st); return INNER(st)->ops->list_task_execs(INNER(st), id, l, o, n); }
static int w_list_pending(tasker_storage *st, size_t l, tasker_task_exec **o, size_t *n) { COUNT(st); return INNER(st)->ops->list_pending_execs(INNER(st), l, o, n); }
static int w_interrupt(tasker_storage *st, tasker_node_alive_fn a, void *u, size_t *n) { COUNT(st); return INNER(st)->ops->interrupt_dead(INNER(st), a, u, n); }
static int w_add_event(tasker_storage *st, const tasker_task_event *e) { COUNT(st); return INNER(st)->ops->add_task_event(INNER(st), e); }
static int w_list_events(tasker_storage *st, const char *id, tasker_task_event **o, size_t *n) { COUNT(st); return INNER(st)->ops->list_task_events(INNER(st), id, o, n); }
static void w_close(tasker_storage *st)
{
    wrap_driver *w = (wrap_driver *)st;
    (*w->closed)++;
    w->inner->ops->close(w->inner);
    free(w);
}

static const tasker_storage_ops wrap_ops = {
    .version = TASKER_STORAGE_VERSION, .name = "wrap",
    .add_task = w_add_task, .remove_task = w_remove_task, .get_task = w_get_task,
    .list_tasks = w_list_tasks, .add_task_scheme = w_add_scheme,
    .remove_task_scheme = w_remove_scheme, .list_task_schemes = w_list_schemes,
    .set_scheme_fire = w_set_fire, .add_task_exec = w_add_exec,
    .start_task_exec = w_start_exec, .update_task_exec = w_update_exec,
    .get_task_exec = w_get_exec, .list_task_execs = w_list_execs,
    .list_pending_execs = w_list_pending, .interrupt_dead = w_interrupt,
    .add_task_event = w_add_event, .list_task_events = w_list_events, .close = w_close,
};

static wrap_driver *new_wrap(int *closed)
{
    wrap_driver *w = calloc(1, sizeof *w);
    w->base.ops = &wrap_ops;
    w->inner = tasker_memory_storage();
    w->closed = closed;
    assert_non_null(w->inner);
    return w;
}

static void custom_driver_runs_everything_through_its_ops(void **state)
{
    (void)state;
    int closed = 0;
    wrap_driver *w = new_wrap(&closed);
    tasker_t *t = tasker_new(&w->base, NULL);
    assert_non_null(t);
    assert_int_equal(tasker_register(t, "ok", ok_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "a", "ok", "{}"), TASKER_OK);
    tasker_task_exec e;
    test_run_task(t, "a", &e);
    assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
    tasker_exec_clear(&e);
    assert_true(atomic_load(&w->calls) >= 5);
    tasker_close(t);
    assert_int_equal(closed, 1);
}

static void tasker_new_closes_driver_it_refuses(void **state)
{
    (void)state;
    int closed = 0;
    static tasker_storage_ops broken;
    broken = wrap_ops;
    broken.list_pending_execs = NULL; /* incomplete table */
    wrap_driver *w = new_wrap(&closed);
    w->base.ops = &broken;
    assert_null(tasker_new(&w->base, NULL));
    assert_int_equal(closed, 1);
    assert_non_null(strstr(tasker_last_error(), "misses operations"));

    static tasker_storage_ops future;
    future = wrap_ops;
    future.version = TASKER_STORAGE_VERSION + 1;
    w = new_wrap(&closed);
    w->base.ops = &future;
    assert_null(tasker_new(&w->base, NULL));
    assert_int_equal(closed, 2);
    assert_null(tasker_new(NULL, NULL));
    tasker_close(NULL); /* a no-op */
}

static void default_opens_tasker_dsn(void **state)
{
    (void)state;
    setenv("TASKER_DSN", "memory:", 1);
    tasker_t *t = tasker_default();
    assert_non_null(t);
    tasker_close(t);
    setenv("TASKER_DSN", "nope:", 1);
    assert_null(tasker_default());
    unsetenv("TASKER_DSN");
}

/* ---- handlers, tasks ---- */

static void register_checks_arguments(void **state)
{
    tasker_t *t = *state;
    assert_int_equal(tasker_register(NULL, "x", ok_handler, NULL), TASKER_EINVAL);
    assert_int_equal(tasker_register(t, NULL, ok_handler, NULL), TASKER_EINVAL);
    assert_int_equal(tasker_register(t, "", ok_handler, NULL), TASKER_EINVAL);
    assert_int_equal(tasker_register(t, "x", NULL, NULL), TASKER_EINVAL);
    assert_string_equal(tasker_last_error(), "handler 'x': function is NULL");
    assert_int_equal(tasker_register(t, "x", ok_handler, NULL), TASKER_OK);
}

static int udata_handler(tasker_ctx *c)
{
    return tasker_success(c, (const char *)tasker_udata(c));
}

static void register_again_replaces_function_and_udata(void **state)
{
    tasker_t *t = *state;
    assert_int_equal(tasker_register(t, "u", udata_handler, "1"), TASKER_OK);
    assert_int_equal(tasker_register(t, "u", udata_handler, "2"), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "ut", "u", NULL), TASKER_OK);
    tasker_task_exec e;
    test_run_task(t, "ut", &e);
    assert_string_equal(e.result, "2");
    tasker_exec_clear(&e);
}

static void add_task_validates_ids_and_json(void **state)
{
    tasker_t *t = *state;
    char id63[64], id64[65];
    memset(id63, 'a', 63);
    id63[63] = '\0';
    memset(id64, 'b', 64);
    id64[64] = '\0';
    assert_int_equal(tasker_add_task(NULL, "a", "ok", NULL), TASKER_EINVAL);
    assert_string_equal(tasker_last_error(), "handle is NULL");
    assert_int_equal(tasker_add_task(t, NULL, "ok", NULL), TASKER_EINVAL);
    assert_string_equal(tasker_last_error(), "task id is NULL");
    assert_int_equal(tasker_add_task(t, "", "ok", NULL), TASKER_EINVAL);
    assert_string_equal(tasker_last_error(), "task id is empty");
    assert_int_equal(tasker_add_task(t, id63, "ok", NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, id64, "ok", NULL), TASKER_EINVAL);
    assert_non_null(strstr(tasker_last_error(), "is 64 bytes; the limit is 63"));
    assert_int_equal(tasker_add_task(t, "a\nb", "ok", NULL), TASKER_EINVAL);
    assert_non_null(strstr(tasker_last_error(), "control character at byte 1"));
    assert_int_equal(tasker_add_task(t, "a", NULL, NULL), TASKER_EINVAL);
    assert_string_equal(tasker_last_error(), "handler name is NULL");
    assert_int_equal(tasker_add_task(t, "a", "ok", "{\"x\": }"), TASKER_EINVAL);
    assert_non_null(strstr(tasker_last_error(), "param: invalid JSON at line 1, column"));
    assert_int_equal(tasker_add_task(t, "a", "ok", ""), TASKER_EINVAL);
    /* nothing half-written */
    tasker_task *v;
    size_t n;
    assert_int_equal(tasker_list_tasks(t, &v, &n), TASKER_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].task_id, id63);
    assert_string_equal(v[0].param, "null");
    assert_null(v[0].desc);
    tasker_free_tasks(v, n);
}

static void add_task_twice_replaces_params(void **state)
{
    tasker_t *t = *state;
    assert_int_equal(tasker_add_task_desc(t, "a", "ok", "{\"v\":1}", "first"), TASKER_OK);
    assert_int_equal(tasker_add_task_desc(t, "a", "other", "[2]", "second"), TASKER_OK);
    tasker_task *v;
    size_t n;
    assert_int_equal(tasker_list_tasks(t, &v, &n), TASKER_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].handler, "other");
    assert_string_equal(v[0].param, "[2]");
    assert_string_equal(v[0].desc, "second");
    tasker_free_tasks(v, n);
}

static void params_over_the_limit_are_refused(void **state)
{
    (void)state;
    tasker_options o = {.workers = 1, .max_json_bytes = 16};
    tasker_t *t = tasker_open_opts("memory:", &o);
    assert_int_equal(tasker_add_task(t, "a", "ok", "\"0123456789abcdef\""), TASKER_EINVAL);
    assert_string_equal(tasker_last_error(), "param: 18 bytes is over the limit of 16 bytes");
    assert_int_equal(tasker_add_task(t, "a", "ok", "\"0123456789ab\""), TASKER_OK);
    tasker_close(t);
}

static void remove_task_takes_its_schedules(void **state)
{
    tasker_t *t = *state;
    assert_int_equal(tasker_remove_task(t, "nope"), TASKER_ENOTFOUND);
    assert_int_equal(tasker_remove_task(t, ""), TASKER_EINVAL);
    assert_int_equal(tasker_add_task(t, "a", "ok", NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "b", "ok", NULL), TASKER_OK);
    assert_int_equal(tasker_add_task_schedule(t, "a", "0 * * * *", NULL), TASKER_OK);
    assert_int_equal(tasker_add_task_schedule(t, "b", "0 * * * *", NULL), TASKER_OK);
    assert_int_equal(tasker_remove_task(t, "a"), TASKER_OK);
    tasker_task_scheme *s;
    size_t n;
    assert_int_equal(tasker_list_schemes(t, &s, &n), TASKER_OK);
    assert_int_equal(n, 1);
    assert_string_equal(s[0].task_id, "b");
    tasker_free_schemes(s, n);
    assert_int_equal(tasker_trigger(t, "a", NULL), TASKER_ENOTFOUND);
    assert_string_equal(tasker_last_error(), "trigger: task 'a' not found");
}

/* ---- schedules ---- */

static void same_task_and_cron_give_one_schedule(void **state)
{
    tasker_t *t = *state;
    char id1[TASKER_ID_SIZE], id2[TASKER_ID_SIZE], id3[TASKER_ID_SIZE];
    assert_int_equal(tasker_add_task(t, "a", "ok", NULL), TASKER_OK);
    assert_int_equal(tasker_add_task_schedule(t, "a", "*/5 * * * *", id1), TASKER_OK);
    tasker_schedule_opts o = {.misfire = TASKER_MISFIRE_SKIP, .overlap = TASKER_OVERLAP_FORBID};
    assert_int_equal(tasker_add_task_schedule_opts(t, "a", "*/5 * * * *", &o, id2), TASKER_OK);
    assert_string_equal(id1, id2);
    assert_int_equal(tasker_add_task_schedule(t, "a", "0 0 * * *", id3), TASKER_OK);
    assert_string_not_equal(id1, id3);
    assert_int_equal(tasker_add_task_schedule(t, "a", "0 0 * * *", NULL), TASKER_OK);
    tasker_task_scheme *s;
    size_t n;
    assert_int_equal(tasker_list_schemes(t, &s, &n), TASKER_OK);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s[i].scheme_id, id1) == 0) {
            assert_string_equal(s[i].cron, "*/5 * * * *");
            assert_int_equal(s[i].misfire, TASKER_MISFIRE_SKIP);
            assert_int_equal(s[i].overlap, TASKER_OVERLAP_FORBID);
        }
        assert_true(s[i].created_us > 0);
    }
    tasker_free_schemes(s, n);
}

static void schedule_errors_are_specific(void **state)
{
    tasker_t *t = *state;
    assert_int_equal(tasker_add_task_schedule(t, "ghost", "* * * * *", NULL), TASKER_ENOTFOUND);
    assert_int_equal(tasker_add_task(t, "a", "ok", NULL), TASKER_OK);
    assert_int_equal(tasker_add_task_schedule(t, "a", NULL, NULL), TASKER_EINVAL);
    assert_string_equal(tasker_last_error(), "cron: expression is NULL");
    assert_int_equal(tasker_add_task_schedule(t, "a", "", NULL), TASKER_EINVAL);
    tasker_schedule_opts bad = {.misfire = 9};
    assert_int_equal(tasker_add_task_schedule_opts(t, "a", "* * * * *", &bad, NULL), TASKER_EINVAL);
    assert_int_equal(tasker_remove_task_schedule(t, "nope"), TASKER_ENOTFOUND);
    assert_int_equal(tasker_remove_task_schedule(t, NULL), TASKER_EINVAL);
    char id[TASKER_ID_SIZE];
    assert_int_equal(tasker_add_task_schedule(t, "a", "* * * * *", id), TASKER_OK);
    assert_int_equal(tasker_remove_task_schedule(t, id), TASKER_OK);
    assert_int_equal(tasker_remove_task_schedule(t, id), TASKER_ENOTFOUND);
    tasker_task_scheme *s;
    size_t n;
    assert_int_equal(tasker_list_schemes(t, &s, &n), TASKER_OK);
    assert_int_equal(n, 0);
    tasker_free_schemes(s, n);
}

/* ---- trigger, wait, queries ---- */

static void trigger_records_pending_then_success_with_events(void **state)
{
    tasker_t *t = *state;
    char id[TASKER_ID_SIZE];
    assert_int_equal(tasker_add_task(t, "a", "ok", "{\"n\":1}"), TASKER_OK);
    assert_int_equal(tasker_trigger(t, "a", id), TASKER_OK);
    assert_int_equal(strlen(id), 36);
    assert_int_equal(id[14], '7'); /* UUIDv7 layout */
    assert_int_equal(tasker_wait(t, id, 10000), TASKER_OK);
    tasker_task_exec e;
    assert_int_equal(tasker_get_exec(t, id, &e), TASKER_OK);
    assert_string_equal(e.exec_id, id);
    assert_string_equal(e.task_id, "a");
    assert_null(e.scheme_id);
    assert_int_equal(e.scheduled_us, 0);
    assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
    assert_true(e.success);
    assert_null(e.result);
    assert_null(e.error);
    assert_true(e.queued_us > 0 && e.start_us >= e.queued_us && e.end_us >= e.start_us);
    assert_non_null(e.node_id);
    tasker_exec_clear(&e);
    tasker_task_event *ev;
    size_t n;
    assert_int_equal(tasker_list_events(t, id, &ev, &n), TASKER_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ev[0].message, "hello from a");
    assert_int_equal(ev[0].level, TASKER_NORMAL);
    assert_string_equal(ev[0].exec_id, id);
    tasker_free_events(ev, n);
}

static void list_execs_is_newest_first_and_ids_sort_by_time(void **state)
{
    tasker_t *t = *state;
    char ids[5][TASKER_ID_SIZE];
    assert_int_equal(tasker_add_task(t, "a", "ok", NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "b", "ok", NULL), TASKER_OK);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(tasker_trigger(t, "a", ids[i]), TASKER_OK);
        if (i) assert_true(strcmp(ids[i - 1], ids[i]) < 0);
        assert_int_equal(tasker_wait(t, ids[i], 10000), TASKER_OK);
    }
    tasker_task_exec e;
    test_run_task(t, "b", &e);
    tasker_exec_clear(&e);
    tasker_task_exec *v;
    size_t n;
    assert_int_equal(tasker_list_execs(t, "a", &v, &n), TASKER_OK);
    assert_int_equal(n, 5);
    for (int i = 0; i < 5; i++) assert_string_equal(v[i].exec_id, ids[4 - i]);
    tasker_free_execs(v, n);
    assert_int_equal(tasker_list_execs(t, NULL, &v, &n), TASKER_OK);
    assert_int_equal(n, 6);
    assert_string_equal(v[0].task_id, "b");
    tasker_free_execs(v, n);
    assert_int_equal(tasker_list_execs(t, "zzz", &v, &n), TASKER_OK);
    assert_int_equal(n, 0);
    tasker_free_execs(v, n);
}

static void queries_check_arguments(void **state)
{
    tasker_t *t = *state;
    tasker_task *tv;
    tasker_task_exec e;
    size_t n;
    assert_int_equal(tasker_list_tasks(NULL, &tv, &n), TASKER_EINVAL);
    assert_int_equal(tasker_list_tasks(t, NULL, &n), TASKER_EINVAL);
    assert_int_equal(tasker_list_tasks(t, &tv, NULL), TASKER_EINVAL);
    assert_int_equal(tasker_get_exec(t, "nope", &e), TASKER_ENOTFOUND);
    assert_int_equal(tasker_get_exec(t, "nope", NULL), TASKER_EINVAL);
    assert_int_equal(tasker_get_exec(t, NULL, &e), TASKER_EINVAL);
    tasker_task_event *ev;
    assert_int_equal(tasker_list_events(t, NULL, &ev, &n), TASKER_EINVAL);
    tasker_task_scheme *sv;
    assert_int_equal(tasker_list_schemes(t, NULL, &n), TASKER_EINVAL);
    assert_int_equal(tasker_list_schemes(NULL, &sv, &n), TASKER_EINVAL);
    tasker_task_exec *xv;
    assert_int_equal(tasker_list_execs(t, "", &xv, &n), TASKER_EINVAL);
    assert_int_equal(tasker_trigger(t, NULL, NULL), TASKER_EINVAL);
    assert_int_equal(tasker_trigger(NULL, "a", NULL), TASKER_EINVAL);
    assert_int_equal(tasker_trigger(t, "missing", NULL), TASKER_ENOTFOUND);
    tasker_free_tasks(NULL, 0);
    tasker_free_schemes(NULL, 0);
    tasker_free_execs(NULL, 0);
    tasker_free_events(NULL, 0);
    tasker_exec_clear(NULL);
}

static void unknown_handler_gives_failed_execution(void **state)
{
    tasker_t *t = *state;
    assert_int_equal(tasker_add_task(t, "a", "nobody", NULL), TASKER_OK);
    tasker_task_exec e;
    test_run_task(t, "a", &e);
    assert_int_equal(e.status, TASKER_EXEC_FAILED);
    assert_false(e.success);
    assert_string_equal(e.error, "unknown handler 'nobody'");
    assert_true(e.end_us > 0);
    tasker_exec_clear(&e);
}

/* A handler that blocks until the test opens the gate (or the run is cancelled). */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static atomic_int gate_entered;

static int gated_handler(tasker_ctx *c)
{
    atomic_fetch_add(&gate_entered, 1);
    pthread_mutex_lock(&gate_lock);
    while (!gate_open && !tasker_cancelled(c)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 5000000;
        if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&gate_cond, &gate_lock, &ts);
    }
    pthread_mutex_unlock(&gate_lock);
    return 0;
}

static void set_gate(bool open)
{
    pthread_mutex_lock(&gate_lock);
    gate_open = open;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

static bool entered_one(void *arg) { (void)arg; return atomic_load(&gate_entered) >= 1; }

static void wait_times_out_then_succeeds(void **state)
{
    tasker_t *t = *state;
    set_gate(false);
    atomic_store(&gate_entered, 0);
    assert_int_equal(tasker_register(t, "gated", gated_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "g", "gated", NULL), TASKER_OK);
    char id[TASKER_ID_SIZE];
    assert_int_equal(tasker_trigger(t, "g", id), TASKER_OK);
    assert_true(test_wait_for(entered_one, NULL, 10000));
    assert_int_equal(tasker_running_count(t), 1);
    assert_int_equal(tasker_wait(t, id, 20), TASKER_ETIMEDOUT);
    assert_non_null(strstr(tasker_last_error(), "still unfinished after 20 ms"));
    tasker_task_exec e;
    assert_int_equal(tasker_get_exec(t, id, &e), TASKER_OK);
    assert_int_equal(e.status, TASKER_EXEC_RUNNING);
    tasker_exec_clear(&e);
    assert_int_equal(tasker_drain(t, 10), TASKER_ETIMEDOUT);
    set_gate(true);
    assert_int_equal(tasker_wait(t, id, -1), TASKER_OK);
    assert_int_equal(tasker_drain(t, 10000), TASKER_OK);
    assert_int_equal(tasker_running_count(t), 0);
    assert_int_equal(tasker_wait(t, "no-such-exec", 10), TASKER_ENOTFOUND);
    assert_int_equal(tasker_wait(t, NULL, 10), TASKER_EINVAL);
}

static void shutdown_interrupts_handlers_after_grace(void **state)
{
    tasker_t *t = *state;
    set_gate(false);
    atomic_store(&gate_entered, 0);
    assert_int_equal(tasker_register(t, "gated", gated_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "g", "gated", NULL), TASKER_OK);
    char id[TASKER_ID_SIZE], queued[3][TASKER_ID_SIZE];
    assert_int_equal(tasker_trigger(t, "g", id), TASKER_OK);
    assert_true(test_wait_for(entered_one, NULL, 10000));
    /* both workers busy, then more queued behind them */
    assert_int_equal(tasker_trigger(t, "g", queued[0]), TASKER_OK);
    for (int i = 1; i < 3; i++) assert_int_equal(tasker_trigger(t, "g", queued[i]), TASKER_OK);
    assert_int_equal(tasker_shutdown(t, 30), TASKER_ETIMEDOUT);
    tasker_task_exec e;
    assert_int_equal(tasker_get_exec(t, id, &e), TASKER_OK);
    assert_int_equal(e.status, TASKER_EXEC_INTERRUPTED);
    assert_string_equal(e.error, "interrupted: the scheduler shut down");
    tasker_exec_clear(&e);
    /* the last queued one never started: it stays pending for the next open */
    assert_int_equal(tasker_get_exec(t, queued[2], &e), TASKER_OK);
    assert_int_equal(e.status, TASKER_EXEC_PENDING);
    tasker_exec_clear(&e);
}

static void no_workers_leaves_triggers_pending(void **state)
{
    (void)state;
    tasker_t *t = test_open("memory:", -1, NULL);
    assert_int_equal(tasker_register(t, "ok", ok_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "a", "ok", NULL), TASKER_OK);
    char id[TASKER_ID_SIZE];
    assert_int_equal(tasker_trigger(t, "a", id), TASKER_OK);
    assert_int_equal(tasker_drain(t, 0), TASKER_OK);
    tasker_task_exec e;
    assert_int_equal(tasker_get_exec(t, id, &e), TASKER_OK);
    assert_int_equal(e.status, TASKER_EXEC_PENDING);
    assert_int_equal(e.start_us, 0);
    tasker_exec_clear(&e);
    assert_int_equal(tasker_wait(t, id, 10), TASKER_ETIMEDOUT);
    tasker_close(t);
}

/* ---- start, run, stop ---- */

static void *run_thread(void *arg)
{
    static int rc;
    rc = tasker_run(arg);
    return &rc;
}

static void run_returns_after_stop(void **state)
{
    tasker_t *t = *state;
    pthread_t th;
    pthread_create(&th, NULL, run_thread, t);
    /* run may not have started yet: stop must still end it (stop before run wins too) */
    tasker_stop(t);
    void *ret;
    pthread_join(th, &ret);
    assert_int_equal(*(int *)ret, TASKER_OK);
    /* and the handle still works */
    assert_int_equal(tasker_add_task(t, "a", "ok", NULL), TASKER_OK);
    tasker_task_exec e;
    test_run_task(t, "a", &e);
    assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
    tasker_exec_clear(&e);
}

static tasker_t *signal_target;
static void on_sigusr1(int sig)
{
    (void)sig;
    tasker_stop(signal_target);
}

static void stop_works_from_a_signal_handler(void **state)
{
    tasker_t *t = *state;
    signal_target = t;
    signal(SIGUSR1, on_sigusr1);
    assert_int_equal(tasker_start(t), TASKER_OK);
    assert_int_equal(tasker_start(t), TASKER_ESTATE);
    assert_string_equal(tasker_last_error(), "start: the schedule loop runs already");
    pthread_t th;
    pthread_create(&th, NULL, run_thread, t);
    raise(SIGUSR1);
    void *ret;
    pthread_join(th, &ret);
    assert_int_equal(*(int *)ret, TASKER_OK);
    signal(SIGUSR1, SIG_DFL);
    tasker_stop(NULL); /* a no-op */
    tasker_wake(NULL);
}

static void names_of_enums(void **state)
{
    (void)state;
    assert_string_equal(tasker_exec_status_name(TASKER_EXEC_PENDING), "pending");
    assert_string_equal(tasker_exec_status_name(TASKER_EXEC_SKIPPED), "skipped");
    assert_string_equal(tasker_exec_status_name(42), "unknown");
    assert_string_equal(tasker_level_name(TASKER_WARNING), "warning");
    assert_string_equal(tasker_misfire_name(TASKER_MISFIRE_ALL), "all");
    assert_string_equal(tasker_overlap_name(TASKER_OVERLAP_FORBID), "forbid");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strerror_names_every_code),
        cmocka_unit_test(open_rejects_unknown_dsn_with_message),
        cmocka_unit_test(last_error_is_per_thread),
        cmocka_unit_test(custom_driver_runs_everything_through_its_ops),
        cmocka_unit_test(tasker_new_closes_driver_it_refuses),
        cmocka_unit_test(default_opens_tasker_dsn),
        cmocka_unit_test_setup_teardown(register_checks_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(register_again_replaces_function_and_udata, setup, teardown),
        cmocka_unit_test_setup_teardown(add_task_validates_ids_and_json, setup, teardown),
        cmocka_unit_test_setup_teardown(add_task_twice_replaces_params, setup, teardown),
        cmocka_unit_test(params_over_the_limit_are_refused),
        cmocka_unit_test_setup_teardown(remove_task_takes_its_schedules, setup, teardown),
        cmocka_unit_test_setup_teardown(same_task_and_cron_give_one_schedule, setup, teardown),
        cmocka_unit_test_setup_teardown(schedule_errors_are_specific, setup, teardown),
        cmocka_unit_test_setup_teardown(trigger_records_pending_then_success_with_events, setup, teardown),
        cmocka_unit_test_setup_teardown(list_execs_is_newest_first_and_ids_sort_by_time, setup, teardown),
        cmocka_unit_test_setup_teardown(queries_check_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_handler_gives_failed_execution, setup, teardown),
        cmocka_unit_test_setup_teardown(wait_times_out_then_succeeds, setup, teardown),
        cmocka_unit_test_setup_teardown(shutdown_interrupts_handlers_after_grace, setup, teardown),
        cmocka_unit_test(no_workers_leaves_triggers_pending),
        cmocka_unit_test_setup_teardown(run_returns_after_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_works_from_a_signal_handler, setup, teardown),
        cmocka_unit_test(names_of_enums),
    };
    return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
