/* The handler's context: bind, event limits, accessors. Handlers run on worker threads,
 * so they record what they saw into a struct the test checks afterwards. */
#include "support/testutil.h"

#include <stdio.h>
#include <string.h>

typedef struct seen {
    int rc;
    char msg[512];
    char s[64];
    int i;
    double f;
    int b;
    char task_id[64], exec_id[64], param[256];
    void *udata;
    tasker_t *handle;
    int64_t scheduled_us;
    bool cancelled;
} seen;

static seen last;
static const char *bind_format;

static int bind_handler(tasker_ctx *c)
{
    const char *s = NULL;
    int i = -1, b = -1;
    double f = -1;
    memset(&last, 0, sizeof last);
    if (strcmp(bind_format, "all") == 0)
        last.rc = tasker_bind(c, "{s:s, s:i, s:F, s:b}", "url", &s, "n", &i, "x", &f, "on", &b);
    else if (strcmp(bind_format, "optional") == 0)
        last.rc = tasker_bind(c, "{s:s, s?i}", "url", &s, "retries", &i);
    else if (strcmp(bind_format, "nested") == 0)
        last.rc = tasker_bind(c, "{s:s, s:{s:i}}", "url", &s, "opts", "n", &i);
    else if (strcmp(bind_format, "second") == 0)
        last.rc = tasker_bind(c, "{s:s, s:i}", "url", &s, "n", &i);
    else if (strcmp(bind_format, "array") == 0)
        last.rc = tasker_bind(c, "{s:[i, s]}", "list", &i, &s);
    last.i = i;
    last.b = b;
    last.f = f;
    snprintf(last.s, sizeof last.s, "%s", s ? s : "(null)");
    snprintf(last.msg, sizeof last.msg, "%s", last.rc ? tasker_last_error() : "");
    snprintf(last.task_id, sizeof last.task_id, "%s", tasker_task_id(c));
    snprintf(last.exec_id, sizeof last.exec_id, "%s", tasker_exec_id(c));
    snprintf(last.param, sizeof last.param, "%s", tasker_param(c));
    last.udata = tasker_udata(c);
    last.handle = tasker_handle(c);
    last.scheduled_us = tasker_scheduled_us(c);
    last.cancelled = tasker_cancelled(c);
    return 0;
}

static tasker_t *handle;
static int the_udata = 42;

static int setup(void **state)
{
    (void)state;
    handle = test_open("memory:", 1, NULL);
    assert_int_equal(tasker_register(handle, "bind", bind_handler, &the_udata), TASKER_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tasker_close(handle);
    return 0;
}

static void run_bind(const char *format, const char *params)
{
    bind_format = format;
    assert_int_equal(tasker_add_task(handle, "b", "bind", params), TASKER_OK);
    tasker_task_exec e;
    test_run_task(handle, "b", &e);
    tasker_exec_clear(&e);
}

static void bind_fills_every_type(void **state)
{
    (void)state;
    run_bind("all", "{\"url\": \"http://x\", \"n\": 5, \"x\": 2.5, \"on\": true}");
    assert_int_equal(last.rc, TASKER_OK);
    assert_string_equal(last.s, "http://x");
    assert_int_equal(last.i, 5);
    assert_true(last.f == 2.5);
    assert_int_equal(last.b, 1);
}

static void bind_optional_field_may_be_missing(void **state)
{
    (void)state;
    run_bind("optional", "{\"url\": \"u\"}");
    assert_int_equal(last.rc, TASKER_OK);
    assert_int_equal(last.i, -1);
}

static void bind_type_mismatch_names_field_and_type(void **state)
{
    (void)state;
    run_bind("optional", "{\"url\": 5}");
    assert_int_equal(last.rc, TASKER_EINVAL);
    assert_string_equal(last.msg, "bind: field 'url': expected string, got integer");
    run_bind("second", "{\"url\": \"u\", \"n\": \"five\"}");
    assert_string_equal(last.msg, "bind: field 'n': expected integer, got string");
    run_bind("optional", "{\"url\": \"u\", \"retries\": [1]}");
    assert_string_equal(last.msg, "bind: field 'retries': expected integer, got array");
}

static void bind_missing_field_is_named(void **state)
{
    (void)state;
    run_bind("second", "{\"url\": \"u\"}");
    assert_int_equal(last.rc, TASKER_EINVAL);
    assert_string_equal(last.msg, "bind: field 'n': missing");
}

static void bind_nested_field_path_is_named(void **state)
{
    (void)state;
    run_bind("nested", "{\"url\": \"u\", \"opts\": {\"n\": \"x\"}}");
    assert_string_equal(last.msg, "bind: field 'opts.n': expected integer, got string");
    run_bind("nested", "{\"url\": \"u\", \"opts\": {\"n\": 3}}");
    assert_int_equal(last.rc, TASKER_OK);
    assert_int_equal(last.i, 3);
    run_bind("array", "{\"list\": [1, 2]}");
    assert_string_equal(last.msg, "bind: field 'list[1]': expected string, got integer");
}

static void bind_on_non_object_params_says_so(void **state)
{
    (void)state;
    run_bind("optional", "[1, 2]");
    assert_int_equal(last.rc, TASKER_EINVAL);
    assert_non_null(strstr(last.msg, "expected object, got array"));
    run_bind("optional", NULL);
    assert_int_equal(last.rc, TASKER_EINVAL);
    assert_non_null(strstr(last.msg, "expected object, got null"));
}

static void accessors_describe_the_run(void **state)
{
    (void)state;
    run_bind("optional", "{\"url\": \"u\"}");
    assert_string_equal(last.task_id, "b");
    assert_int_equal(strlen(last.exec_id), 36);
    assert_string_equal(last.param, "{\"url\": \"u\"}");
    assert_ptr_equal(last.udata, &the_udata);
    assert_ptr_equal(last.handle, handle);
    assert_int_equal(last.scheduled_us, 0);
    assert_false(last.cancelled);
    assert_null(tasker_param(NULL));
    assert_null(tasker_task_id(NULL));
    assert_null(tasker_exec_id(NULL));
    assert_null(tasker_udata(NULL));
    assert_false(tasker_cancelled(NULL));
    assert_int_equal(tasker_event(NULL, TASKER_NORMAL, "x"), TASKER_EINVAL);
    assert_int_equal(tasker_success(NULL, "1"), TASKER_EINVAL);
    assert_int_equal(tasker_failed(NULL, "x"), TASKER_EINVAL);
    assert_int_equal(tasker_bind(NULL, "{}"), TASKER_EINVAL);
}

/* ---- events ---- */

static int event_count;
static int event_size;

static int chatty_handler(tasker_ctx *c)
{
    static char big[20000];
    memset(big, 'x', sizeof big - 1);
    big[event_size] = '\0';
    for (int i = 0; i < event_count; i++) tasker_event(c, (tasker_level)(i % 4), "%d %s", i, big);
    if (tasker_event(c, (tasker_level)9, "bad level") != TASKER_EINVAL) return 1;
    return 0;
}

static tasker_t *open_limited(int max_events, size_t max_bytes)
{
    tasker_options o = {.workers = 1, .max_events_per_exec = max_events,
                        .max_event_bytes = max_bytes};
    tasker_t *t = tasker_open_opts("memory:", &o);
    assert_non_null(t);
    assert_int_equal(tasker_register(t, "chatty", chatty_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "c", "chatty", NULL), TASKER_OK);
    return t;
}

static void events_are_kept_in_order_with_levels(void **state)
{
    (void)state;
    event_count = 10;
    event_size = 0;
    tasker_t *t = open_limited(0, 0);
    tasker_task_exec e;
    test_run_task(t, "c", &e);
    assert_int_equal(e.status, TASKER_EXEC_SUCCESS);
    tasker_task_event *ev;
    size_t n;
    assert_int_equal(tasker_list_events(t, e.exec_id, &ev, &n), TASKER_OK);
    assert_int_equal(n, 10);
    for (size_t i = 0; i < n; i++) {
        char want[32];
        snprintf(want, sizeof want, "%zu ", i);
        assert_string_equal(ev[i].message, want);
        assert_int_equal(ev[i].level, (int)(i % 4));
        if (i) assert_true(ev[i].event_id > ev[i - 1].event_id);
        if (i) assert_true(ev[i].time_us >= ev[i - 1].time_us);
    }
    tasker_free_events(ev, n);
    tasker_exec_clear(&e);
    tasker_close(t);
}

static void events_over_the_cap_keep_head_and_tail_with_a_count_between(void **state)
{
    (void)state;
    event_count = 1200;
    event_size = 0;
    tasker_t *t = open_limited(0, 0); /* default cap: 1000 */
    tasker_task_exec e;
    test_run_task(t, "c", &e);
    tasker_task_event *ev;
    size_t n;
    assert_int_equal(tasker_list_events(t, e.exec_id, &ev, &n), TASKER_OK);
    /* the first 900 as they came, a note, the last 100 (K = limit / 10) */
    assert_int_equal(n, 1001);
    assert_string_equal(ev[899].message, "899 ");
    assert_string_equal(ev[900].message, "200 events dropped between here and the last 100");
    assert_int_equal(ev[900].level, TASKER_WARNING);
    assert_string_equal(ev[901].message, "1100 ");
    assert_string_equal(ev[1000].message, "1199 ");
    for (size_t i = 1; i < n; i++) {
        assert_true(ev[i].event_id > ev[i - 1].event_id);
        assert_true(ev[i].time_us >= ev[i - 1].time_us);
    }
    assert_int_equal(ev[1000].level, 1199 % 4);
    tasker_free_events(ev, n);
    tasker_exec_clear(&e);
    tasker_close(t);

    t = open_limited(3, 0); /* the cap is an option */
    test_run_task(t, "c", &e);
    assert_int_equal(tasker_list_events(t, e.exec_id, &ev, &n), TASKER_OK);
    assert_int_equal(n, 4); /* K = 1: the last line survives even a tiny limit */
    assert_string_equal(ev[1].message, "1 ");
    assert_string_equal(ev[2].message, "1197 events dropped between here and the last 1");
    assert_string_equal(ev[3].message, "1199 ");
    tasker_free_events(ev, n);
    tasker_exec_clear(&e);
    tasker_close(t);

    t = open_limited(1, 0); /* K = 0: the head and a count */
    test_run_task(t, "c", &e);
    assert_int_equal(tasker_list_events(t, e.exec_id, &ev, &n), TASKER_OK);
    assert_int_equal(n, 2);
    assert_string_equal(ev[0].message, "0 ");
    assert_string_equal(ev[1].message, "1199 more events dropped: the limit is 1 per execution");
    tasker_free_events(ev, n);
    tasker_exec_clear(&e);
    tasker_close(t);
}

static int noisy_then_failed_handler(tasker_ctx *c)
{
    for (int i = 0; i < event_count; i++) tasker_event(c, TASKER_NORMAL, "line %d", i);
    return tasker_failed(c, "summary: %d lines, then it broke", event_count);
}

static void a_failed_run_keeps_its_last_lines_and_error(void **state)
{
    (void)state;
    tasker_options o = {.workers = 1, .max_events_per_exec = 50};
    tasker_t *t = tasker_open_opts("memory:", &o);
    assert_non_null(t);
    assert_int_equal(tasker_register(t, "noisy", noisy_then_failed_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "n", "noisy", NULL), TASKER_OK);
    tasker_task_exec e;
    tasker_task_event *ev;
    size_t n;

    event_count = 49; /* 50 events in all: the limit, nothing dropped, no note */
    test_run_task(t, "n", &e);
    assert_int_equal(tasker_list_events(t, e.exec_id, &ev, &n), TASKER_OK);
    assert_int_equal(n, 50);
    assert_string_equal(ev[44].message, "line 44");
    assert_string_equal(ev[45].message, "line 45");
    assert_string_equal(ev[49].message, "summary: 49 lines, then it broke");
    tasker_free_events(ev, n);
    tasker_exec_clear(&e);

    event_count = 5000; /* K = 5: 45 first lines, the note, 4 last lines and the error */
    test_run_task(t, "n", &e);
    assert_int_equal(e.status, TASKER_EXEC_FAILED);
    assert_string_equal(e.error, "summary: 5000 lines, then it broke");
    assert_int_equal(tasker_list_events(t, e.exec_id, &ev, &n), TASKER_OK);
    assert_int_equal(n, 51);
    assert_string_equal(ev[44].message, "line 44");
    assert_string_equal(ev[45].message, "4951 events dropped between here and the last 5");
    assert_string_equal(ev[46].message, "line 4996");
    assert_string_equal(ev[49].message, "line 4999");
    assert_string_equal(ev[50].message, "summary: 5000 lines, then it broke");
    assert_int_equal(ev[50].level, TASKER_ERROR);
    tasker_free_events(ev, n);
    tasker_exec_clear(&e);
    tasker_close(t);
}

static void long_event_is_cut_with_a_marker(void **state)
{
    (void)state;
    event_count = 1;
    event_size = 10000;
    tasker_t *t = open_limited(0, 0); /* default: 4096 bytes */
    tasker_task_exec e;
    test_run_task(t, "c", &e);
    tasker_task_event *ev;
    size_t n;
    assert_int_equal(tasker_list_events(t, e.exec_id, &ev, &n), TASKER_OK);
    assert_int_equal(n, 1);
    /* "0 " + 10000 x = 10002 bytes; 4075 kept and the marker, within 4096 */
    assert_int_equal(strncmp(ev[0].message, "0 xxx", 5), 0);
    assert_true(strlen(ev[0].message) <= 4096);
    assert_string_equal(ev[0].message + 4075, "... [cut 5927 bytes]");
    tasker_free_events(ev, n);
    tasker_exec_clear(&e);
    tasker_close(t);

    t = open_limited(0, 40);
    test_run_task(t, "c", &e);
    assert_int_equal(tasker_list_events(t, e.exec_id, &ev, &n), TASKER_OK);
    /* room is made for the longest marker ("[cut 10002 bytes]"), so 39 bytes here */
    assert_string_equal(ev[0].message, "0 xxxxxxxxxxxxxxxxx... [cut 9983 bytes]");
    tasker_free_events(ev, n);
    tasker_exec_clear(&e);
    tasker_close(t);

    t = open_limited(0, 10); /* too small for the marker: what fits, no marker */
    test_run_task(t, "c", &e);
    assert_int_equal(tasker_list_events(t, e.exec_id, &ev, &n), TASKER_OK);
    assert_string_equal(ev[0].message, "0 xxxxxxxx");
    tasker_free_events(ev, n);
    tasker_exec_clear(&e);
    tasker_close(t);
}

static int utf8_handler(tasker_ctx *c)
{
    /* ab + 20 x e-acute: 42 bytes */
    char msg[64] = "ab";
    for (int i = 0; i < 20; i++) strcat(msg, "\xc3\xa9");
    return tasker_event(c, TASKER_NORMAL, "%s", msg);
}

static void cut_keeps_utf8_characters_whole(void **state)
{
    (void)state;
    /* 21 = 3 + the 18-byte marker: byte 3 is inside an e-acute, so 2 are kept */
    tasker_options o = {.workers = 1, .max_event_bytes = 21};
    tasker_t *t = tasker_open_opts("memory:", &o);
    assert_int_equal(tasker_register(t, "u", utf8_handler, NULL), TASKER_OK);
    assert_int_equal(tasker_add_task(t, "u", "u", NULL), TASKER_OK);
    tasker_task_exec e;
    test_run_task(t, "u", &e);
    tasker_task_event *ev;
    size_t n;
    assert_int_equal(tasker_list_events(t, e.exec_id, &ev, &n), TASKER_OK);
    assert_string_equal(ev[0].message, "ab... [cut 40 bytes]");
    tasker_free_events(ev, n);
    tasker_exec_clear(&e);
    tasker_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(bind_fills_every_type, setup, teardown),
        cmocka_unit_test_setup_teardown(bind_optional_field_may_be_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(bind_type_mismatch_names_field_and_type, setup, teardown),
        cmocka_unit_test_setup_teardown(bind_missing_field_is_named, setup, teardown),
        cmocka_unit_test_setup_teardown(bind_nested_field_path_is_named, setup, teardown),
        cmocka_unit_test_setup_teardown(bind_on_non_object_params_says_so, setup, teardown),
        cmocka_unit_test_setup_teardown(accessors_describe_the_run, setup, teardown),
        cmocka_unit_test(events_are_kept_in_order_with_levels),
        cmocka_unit_test(events_over_the_cap_keep_head_and_tail_with_a_count_between),
        cmocka_unit_test(a_failed_run_keeps_its_last_lines_and_error),
        cmocka_unit_test(long_event_is_cut_with_a_marker),
        cmocka_unit_test(cut_keeps_utf8_characters_whole),
    };
    return cmocka_run_group_tests_name("context", tests, NULL, NULL);
}
