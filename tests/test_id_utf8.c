/* Ids and handler names must be valid UTF-8 (they travel as JSON strings): every
 * malformed form is refused with TASKER_EINVAL and the byte where it breaks; every
 * well-formed one, up to 4-byte sequences, is accepted. */
#include "support/testutil.h"

#include <stdio.h>
#include <string.h>

static int setup(void **state)
{
    tasker_t *t = test_open("memory:", 1, NULL);
    assert_non_null(t);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    tasker_close(*state);
    return 0;
}

static void well_formed_utf8_ids_are_accepted(void **state)
{
    tasker_t *t = *state;
    static const char *const ids[] = {
        "plain",
        "caf\xc3\xa9",           /* é, 2 bytes */
        "\xe2\x82\xac-euro",     /* €, 3 bytes */
        "\xed\x9f\xbf",          /* U+D7FF, the last before the surrogates */
        "\xf0\x9f\x98\x80-grin", /* U+1F600, 4 bytes */
        "\xf4\x8f\xbf\xbf",      /* U+10FFFF, the last code point */
        "\xef\xbf\xbd",          /* U+FFFD itself */
    };
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
        assert_int_equal(tasker_add_task(t, ids[i], "h", NULL), TASKER_OK);
        char exec_id[TASKER_ID_SIZE];
        assert_int_equal(tasker_trigger(t, ids[i], exec_id), TASKER_OK);
    }
    tasker_task *v;
    size_t n;
    assert_int_equal(tasker_list_tasks(t, &v, &n), TASKER_OK);
    assert_int_equal(n, sizeof ids / sizeof *ids);
    tasker_free_tasks(v, n);
}

static void malformed_utf8_task_ids_are_refused_with_the_byte(void **state)
{
    tasker_t *t = *state;
    static const struct {
        const char *id;
        const char *why;
    } bad[] = {
        {"ab\xff", "task id: invalid UTF-8 at byte 2"},           /* never in UTF-8 */
        {"\xfe\xff", "task id: invalid UTF-8 at byte 0"},         /* a UTF-16 BOM */
        {"a\x80", "task id: invalid UTF-8 at byte 1"},            /* lone continuation */
        {"ab\xc3", "task id: invalid UTF-8 at byte 2"},           /* cut at the end */
        {"\xc3(", "task id: invalid UTF-8 at byte 0"},            /* bad continuation */
        {"x\xc0\xaf", "task id: invalid UTF-8 at byte 1"},        /* overlong '/' */
        {"\xe0\x80\xaf", "task id: invalid UTF-8 at byte 0"},     /* overlong, 3 bytes */
        {"\xf0\x80\x80\xaf", "task id: invalid UTF-8 at byte 0"}, /* overlong, 4 bytes */
        {"s\xed\xa0\x80", "task id: invalid UTF-8 at byte 1"},    /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", "task id: invalid UTF-8 at byte 0"}, /* above U+10FFFF */
        {"\xf5\x80\x80\x80", "task id: invalid UTF-8 at byte 0"}, /* lead byte 0xf5 */
        {"\xe2\x82", "task id: invalid UTF-8 at byte 0"},         /* 3-byte form cut */
        {"ok\xf0\x9f\x98", "task id: invalid UTF-8 at byte 2"},   /* 4-byte form cut */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(tasker_add_task(t, bad[i].id, "h", NULL), TASKER_EINVAL);
        assert_string_equal(tasker_last_error(), bad[i].why);
    }
    tasker_task *v;
    size_t n;
    assert_int_equal(tasker_list_tasks(t, &v, &n), TASKER_OK);
    assert_int_equal(n, 0); /* nothing stored */
    tasker_free_tasks(v, n);
}

static void every_id_argument_is_checked(void **state)
{
    tasker_t *t = *state;
    char id[TASKER_ID_SIZE];
    assert_int_equal(tasker_add_task(t, "ok", "h\xff", NULL), TASKER_EINVAL);
    assert_string_equal(tasker_last_error(), "handler name: invalid UTF-8 at byte 1");
    assert_int_equal(tasker_trigger(t, "t\xff", id), TASKER_EINVAL);
    assert_string_equal(tasker_last_error(), "task id: invalid UTF-8 at byte 1");
    assert_int_equal(tasker_remove_task_schedule(t, "\x80"), TASKER_EINVAL);
    assert_string_equal(tasker_last_error(), "schedule id: invalid UTF-8 at byte 0");
    tasker_task_exec e;
    assert_int_equal(tasker_get_exec(t, "01\xc3", &e), TASKER_EINVAL);
    assert_string_equal(tasker_last_error(), "execution id: invalid UTF-8 at byte 2");
}

static void control_characters_are_still_reported_first(void **state)
{
    tasker_t *t = *state;
    assert_int_equal(tasker_add_task(t, "a\tb\xff", "h", NULL), TASKER_EINVAL);
    assert_non_null(strstr(tasker_last_error(), "control character at byte 1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(well_formed_utf8_ids_are_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_utf8_task_ids_are_refused_with_the_byte, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(every_id_argument_is_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(control_characters_are_still_reported_first, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
