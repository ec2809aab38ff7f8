# End-to-end tests of the `shell` handler through `tasker trigger --local` (the run
# happens in the command itself): output lines as events, exit codes and signals,
# timeouts that kill the whole process group, env and cwd, interrupting with Ctrl-C,
# and reading it all back with `exec ls` and `exec show`.
# Run: bash tests/test_cli_shell.sh BUILD_DIR
. "$(dirname "$0")/support/cli_lib.sh" shell "$@"

# ---- output lines become events, in order, stdout normal and stderr warning ----------
add lines '{"cmd":"echo first; echo careful >&2; printf \"no newline\""}'
run 0 "$TASKER" trigger lines --local && has out "normal   first" && has out "warning  careful" &&
    has out "normal   no newline" && has out "success" && has out '{"exit_code":0}' &&
    ok "stdout lines are normal events, stderr lines warnings; exit 0 is success"
exec_id=$(sed -n 's/.*exec \([^ ]*\) .*/\1/p' "$TMP/out" | tail -n 1)
run 0 "$TASKER" exec show "$exec_id" && has out "status     success" &&
    has out 'result     {"exit_code":0}' && has out "events" && has out "by         trigger" &&
    ok "exec show prints the record"
grep -E "normal|warning" "$TMP/out" | awk '{print $3}' | tr '\n' ' ' >"$TMP/order"
[ "$(cat "$TMP/order")" = "first careful no " ] && ok "exec show lists the events in order" ||
    fail "events out of order: $(cat "$TMP/order")"
run 0 "$TASKER" exec show "${exec_id:0:20}" && has out "$exec_id" && ok "exec show takes an id prefix"
"$TASKER" trigger lines --local >/dev/null
run 1 "$TASKER" exec show "${exec_id:0:1}" && has err "matches 2 executions; give more of the id" &&
    ok "exec show refuses an ambiguous prefix"
run 0 "$TASKER" exec show "$exec_id" --json && [ "$(json_str out status)" = success ] &&
    has out '"message": "careful"' && has out '"level": "warning"' &&
    has out '"exit_code": 0' && ok "exec show --json has the record, result and events"

# ---- failures: exit code, signal, bad params, unknown handler --------------------------
add exit3 '{"cmd":"echo about to fail >&2; exit 3"}'
run 1 "$TASKER" trigger exit3 --local && has out "failed" && has out "command exited with code 3" &&
    ok "a nonzero exit fails the run with its code (trigger exits 1)"
add killed '{"cmd":"kill -TERM $$"}'
run 1 "$TASKER" trigger killed --local && has out "command killed by signal 15 (SIGTERM)" &&
    ok "death by a signal is a failure naming the signal"
# task add refuses such params now (test_cli_edit.sh); a C program may still store them.
add badparam '{"cmd": "true"}'
sqlite3 "$TMP/t.db" "UPDATE tasks SET param = '{\"cmd\": 5}' WHERE task_id = 'badparam'" ||
    fail "sqlite3 could not store bad params"
run 1 "$TASKER" trigger badparam --local && has out "shell: params:" && has out "cmd" &&
    ok "params of the wrong type fail the run with the field"
"$TASKER" task add other --handler nosuch >/dev/null
run 1 "$TASKER" trigger other --local && has err "handler 'nosuch', which this command does not have" &&
    ok "a task of a handler the command does not have is refused (not left pending)"

# ---- env, cwd, and the run's ids in the environment ------------------------------------
mkdir -p "$TMP/work dir"
add envcwd "{\"cmd\":\"echo \$GREETING from \$(pwd); echo task=\$TASKER_TASK_ID; echo home=\${HOME-unset}\",\"env\":{\"GREETING\":\"hello\",\"HOME\":null},\"cwd\":\"$TMP/work dir\"}"
run 0 "$TASKER" trigger envcwd --local && has out "hello from $TMP/work dir" &&
    has out "task=envcwd" && has out "home=unset" && ok "env and cwd params; null unsets a variable"
add badcwd '{"cmd":"true","cwd":"/no/such/dir"}'
run 1 "$TASKER" trigger badcwd --local && has out "cannot start /bin/sh in '/no/such/dir'" &&
    ok "a missing cwd fails the run saying so"

# ---- a timeout kills the whole process group -------------------------------------------
add slow "{\"cmd\":\"echo started; sleep 30 & echo \$! > $TMP/timeout-child.pid; wait; echo never\",\"timeout\":1}"
start_ns=$(date +%s%N)
run 1 "$TASKER" trigger slow --local && has out "normal   started" &&
    has out "command timed out after 1s; killed its process group" && lacks out "never" &&
    ok "a timeout fails the run saying so"
took_ms=$((($(date +%s%N) - start_ns) / 1000000))
[ "$took_ms" -lt 5000 ] && ok "the timed-out run ended after ${took_ms} ms" ||
    fail "the timed-out run took ${took_ms} ms"
wait_for 5 gone "$(cat "$TMP/timeout-child.pid")" && ok "the command's children were killed too" ||
    fail "the timed-out command's child $(cat "$TMP/timeout-child.pid") still runs"

# ---- Ctrl-C interrupts a local run; the group is killed, the run is interrupted ---------
add longrun "{\"cmd\":\"sleep 30 & echo \$! > $TMP/int-child.pid; echo waiting; wait\"}"
"$TASKER" trigger longrun --local >"$TMP/int.out" 2>"$TMP/int.err" &
pid=$!
wait_for 20 grep -qs waiting "$TMP/int.out" || fail "the long run did not start"
kill -INT "$pid"
wait "$pid"
code=$?
[ "$code" = 1 ] && grep -q interrupted "$TMP/int.out" && ok "Ctrl-C interrupts a local run (exit 1)" ||
    fail "after Ctrl-C: exit $code, output: $(cat "$TMP/int.out" "$TMP/int.err")"
wait_for 5 gone "$(cat "$TMP/int-child.pid")" && ok "the interrupted command's children were killed" ||
    fail "the interrupted command's child still runs"

# ---- exec ls: newest first, filters, limit, JSON ---------------------------------------
run 0 "$TASKER" exec ls && has out "EXEC" && has out "longrun" && has out "interrupted" &&
    [ "$(awk 'NR==2 {print $2}' "$TMP/out")" = longrun ] && ok "exec ls lists runs newest first"
run 0 "$TASKER" exec ls --status failed && has out "exit3" && lacks out "success" &&
    lacks out "interrupted" && ok "exec ls --status filters"
run 0 "$TASKER" exec ls --status success,interrupted --limit 1 && [ "$(wc -l <"$TMP/out")" = 2 ] &&
    has out longrun && ok "exec ls --limit and a list of statuses"
run 0 "$TASKER" exec ls lines && [ "$(wc -l <"$TMP/out")" = 2 ] && has out "lines" &&
    ok "exec ls TASK lists that task's runs"
run 0 "$TASKER" exec ls exit3 --json && [ "$(json_str out status)" = failed ] &&
    [ "$(json_str out error)" = "command exited with code 3" ] && ok "exec ls --json"
run 1 "$TASKER" trigger exit3 --local --json && has out '"status": "failed"' &&
    has out '"events": [' && has out '"message": "about to fail"' &&
    ok "trigger --local --json prints the finished run with its events"

cli_finish
