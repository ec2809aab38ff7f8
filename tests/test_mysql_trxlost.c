/* The MySQL driver's verdict on a failed statement inside a batch (my_trx_lost): only
 * errors known to undo the statement alone let the batch go on; any other error, above
 * all Galera's own (a member that lost the primary component, a transaction aborted by
 * a replicated one), fails the whole batch. Going on after such an error committed the
 * batch's later writes in a new transaction and answered its starts as claimed although
 * their claim had been rolled back: two nodes then ran the same run (issue #11, the
 * Galera multi-node test). Needs no server. */
#include "storage/mysql/internal.h"
#include "support/testutil.h"

#include <errmsg.h>
#include <mysqld_error.h>

static bool lost_after(unsigned err, bool broken)
{
    my_conn c = {.last_errno = err, .broken = broken};
    return my_trx_lost(&c);
}

static void statement_level_errors_let_the_batch_go_on(void **state)
{
    (void)state;
    assert_false(lost_after(0, false)); /* the driver's own verdict: no such run, ... */
    assert_false(lost_after(ER_DUP_ENTRY, false));
    assert_false(lost_after(ER_NO_REFERENCED_ROW_2, false));
    assert_false(lost_after(ER_DATA_TOO_LONG, false));
}

static void transaction_ending_errors_fail_the_batch(void **state)
{
    (void)state;
    assert_true(lost_after(ER_LOCK_DEADLOCK, false));      /* also Galera's certification */
    assert_true(lost_after(ER_LOCK_WAIT_TIMEOUT, false));
    assert_true(lost_after(ER_UNKNOWN_COM_ERROR, false));  /* 1047: member not ready */
    assert_true(lost_after(ER_ERROR_DURING_COMMIT, false)); /* 1180: no primary component */
    assert_true(lost_after(ER_QUERY_INTERRUPTED, false));  /* 1317: aborted under it */
    assert_true(lost_after(CR_SERVER_LOST, false));
    assert_true(lost_after(0, true)); /* the connection is gone, whatever the code */
    assert_true(lost_after(ER_DUP_ENTRY, true));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(statement_level_errors_let_the_batch_go_on),
        cmocka_unit_test(transaction_ending_errors_fail_the_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
