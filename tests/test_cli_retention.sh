#!/bin/bash
# `tasker task add --keep N --keep-for DURATION`: a task's own retention, stored with the
# task and applied to its runs; bad values are usage errors naming the option.
#   bash tests/test_cli_retention.sh BUILD_DIR
. "$(dirname "$0")/support/cli_lib.sh" retention "$1"
db="$TMP/t.db"
policy() { sqlite3 "$db" "SELECT max_execs || ' ' || max_exec_age_s FROM tasks WHERE task_id = '$1'"; }

run 0 "$TASKER" task add few --handler shell --param '{"cmd":"echo run"}' --keep 2 --keep-for 7d &&
    [ "$(policy few)" = "2 604800" ] && ok "task add --keep 2 --keep-for 7d stores the task's limits" ||
    fail "stored: $(policy few)"
for i in 1 2 3 4; do "$TASKER" trigger few --local >/dev/null || fail "trigger few ($i)"; done
run 0 "$TASKER" exec ls few && [ "$(($(wc -l <"$TMP/out") - 1))" = 2 ] &&
    ok "the task keeps its newest 2 runs" || fail "exec ls few: $(cat "$TMP/out")"

run 0 "$TASKER" task add few --handler shell --param '{"cmd":"echo run"}' --keep all --keep-for 1d12h &&
    [ "$(policy few)" = "-1 129600" ] && ok "--keep all and a compound duration" ||
    fail "stored: $(policy few)"
run 0 "$TASKER" task add few --handler shell --param '{"cmd":"echo run"}' --keep-for forever &&
    [ "$(policy few)" = "0 -1" ] && ok "a re-add without --keep goes back to the store's count" ||
    fail "stored: $(policy few)"
run 0 "$TASKER" task add few --handler shell --param '{"cmd":"echo run"}' --keep-for 90 &&
    [ "$(policy few)" = "0 90" ] && ok "a bare number is seconds" || fail "stored: $(policy few)"

for bad in 0 -3 x 2.5; do
    run 2 "$TASKER" task add bad --handler shell --keep "$bad" &&
        has err "--keep: '$bad' is not a number of runs" || true
done
ok "bad --keep values are usage errors"
for bad in 7x d 0s "" 99999999999999999999s; do
    run 2 "$TASKER" task add bad --handler shell --keep-for "$bad" &&
        has err "--keep-for: '$bad' is not a duration" || true
done
ok "bad --keep-for values are usage errors"
run 0 "$TASKER" task ls && lacks out "bad" && ok "nothing stored by a refused add"

cli_finish
