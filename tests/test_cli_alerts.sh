# Failure alerts: `task add --on-failure` and `run --on-failure` run a command when a
# run fails for good, with the run in its environment; a success alerts nobody; a
# failing alert command is logged; a slow one does not hold the workers back; runs
# interrupted at stop alert too.
# Run: bash tests/test_cli_alerts.sh BUILD_DIR
. "$(dirname "$0")/support/cli_lib.sh" alerts "$@"
daemon_pid=""
cli_cleanup_extra() { [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null; }
A="$TMP/alerts"
mkdir -p "$A"

# The task's alert: writes the variables it got into $A/task.EXEC_ID.*
task_alert='printf %s "$TASKER_TASK_ID" >'"$A"'/task.$TASKER_EXEC_ID.task;
printf %s "$TASKER_STATUS" >'"$A"'/task.$TASKER_EXEC_ID.status;
printf %s "$TASKER_ERROR" >'"$A"'/task.$TASKER_EXEC_ID.error;
printf %s "$TASKER_OUTPUT_TAIL" >'"$A"'/task.$TASKER_EXEC_ID.tail'
run 0 "$TASKER" task add noisy --handler shell --on-failure "$task_alert" \
    --param '{"cmd":"echo careful >&2; seq -f \"line %02g\" 25; exit 3"}' && ok "task add takes --on-failure"
"$TASKER" task ls --json | grep -q '"on_failure"' && ok "the command is stored in the params" ||
    fail "task ls: $("$TASKER" task ls --json)"
run 1 "$TASKER" task add bad --handler shell --param '[1]' --on-failure "true" &&
    has err "needs an object" && ok "--on-failure needs params that are an object"
add fine '{"cmd":"echo fine"}'
run 0 "$TASKER" task add slowalert --handler shell --param '{"cmd":"exit 1"}' \
    --on-failure "sleep 3; touch $A/slow.done"
run 0 "$TASKER" task add mailfail --handler shell --param '{"cmd":"exit 1"}' \
    --on-failure 'echo "mail: cannot send to root"; exit 5'

"$TASKER" run --workers 1 --grace 0 \
    --on-failure "printf %s \"\$TASKER_STATUS\" >$A/daemon.\$TASKER_EXEC_ID" \
    >"$TMP/daemon.out" 2>"$TMP/daemon.err" &
daemon_pid=$!
wait_for 20 grep -qs "daemon running" "$TMP/daemon.err" || fail "no daemon: $(cat "$TMP/daemon.err")"

# ---- a failed run: the task's command and the daemon's, with the run's variables -----
run 1 "$TASKER" trigger noisy --wait
id=$("$TASKER" exec ls noisy --limit 1 --json | sed -n 's/^ *"exec_id": "\(.*\)",$/\1/p')
wait_for 10 test -e "$A/task.$id.tail" && ok "the task's on-failure command ran" ||
    fail "no alert for $id: $(cat "$TMP/daemon.err")"
[ "$(cat "$A/task.$id.task")" = noisy ] && [ "$(cat "$A/task.$id.status")" = failed ] &&
    grep -q "command exited with code 3" "$A/task.$id.error" &&
    ok "TASKER_TASK_ID, TASKER_STATUS and TASKER_ERROR say what failed" ||
    fail "task=$(cat "$A/task.$id.task") status=$(cat "$A/task.$id.status") error=$(cat "$A/task.$id.error")"
tail_lines=$(wc -l <"$A/task.$id.tail")
grep -qx "line 25" "$A/task.$id.tail" && ! grep -qx "line 01" "$A/task.$id.tail" &&
    [ "$tail_lines" -ge 18 ] && [ "$tail_lines" -le 20 ] &&
    ok "TASKER_OUTPUT_TAIL holds the last 20 lines of the output" ||
    fail "tail ($tail_lines lines): $(cat "$A/task.$id.tail")"
wait_for 10 test -e "$A/daemon.$id" && [ "$(cat "$A/daemon.$id")" = failed ] &&
    ok "the daemon-wide --on-failure runs too" || fail "no daemon-wide alert for $id"

# ---- a success alerts nobody (alerts run in order: the next failure's comes after) ---
run 0 "$TASKER" trigger fine --wait
ok_id=$("$TASKER" exec ls fine --limit 1 --json | sed -n 's/^ *"exec_id": "\(.*\)",$/\1/p')
run 1 "$TASKER" trigger mailfail --wait
mid=$("$TASKER" exec ls mailfail --limit 1 --json | sed -n 's/^ *"exec_id": "\(.*\)",$/\1/p')
wait_for 10 test -e "$A/daemon.$mid" || fail "no daemon-wide alert for $mid"
[ ! -e "$A/daemon.$ok_id" ] && ok "a successful run sends no alert" || fail "a success alerted"

# ---- an alert command that fails is logged as an error, with its output --------------
wait_for 10 grep -qs "exec $mid (task mailfail) exited with code 5; its last output: mail: cannot send to root" \
    "$TMP/daemon.err" && ok "a failing alert command is logged with its exit code and output" ||
    fail "daemon.err: $(cat "$TMP/daemon.err")"
grep "exec $mid (task mailfail) exited" "$TMP/daemon.err" | grep -q '^<3>' &&
    ok "at journald's error priority" || fail "no <3> prefix"

# ---- a slow alert does not hold the (single) worker ------------------------------------
run 1 "$TASKER" trigger slowalert --wait
run 0 "$TASKER" trigger fine --wait
[ ! -e "$A/slow.done" ] && ok "a run starts and ends while the previous run's alert still runs" ||
    fail "the worker waited for the alert command"
wait_for 10 test -e "$A/slow.done" && ok "the slow alert finished on its own" || fail "slow alert lost"

# ---- a run interrupted by the stop alerts as interrupted -------------------------------
add hang '{"cmd":"sleep 30"}'
"$TASKER" trigger hang >/dev/null 2>&1
hid=$("$TASKER" exec ls hang --limit 1 --json | sed -n 's/^ *"exec_id": "\(.*\)",$/\1/p')
hang_running() { "$TASKER" exec ls hang --status running --json | grep -q '"exec_id"'; }
wait_for 20 hang_running || fail "the hanging run did not start"
kill -TERM "$daemon_pid"
wait_for 30 gone "$daemon_pid" || fail "the daemon did not stop"
daemon_pid=""
[ -e "$A/daemon.$hid" ] && [ "$(cat "$A/daemon.$hid")" = interrupted ] &&
    ok "a run interrupted at stop alerts before the daemon exits" ||
    fail "no alert for the interrupted run: $(cat "$TMP/daemon.err")"

# ---- journald: every line of a daemon whose output is not a terminal has a level -----
bad=$(cat "$TMP/daemon.out" "$TMP/daemon.err" | grep -cv '^<[3467]>')
[ "$bad" -eq 0 ] && grep -q '^<6>tasker: daemon running' "$TMP/daemon.err" &&
    grep -q '^<3>.* failed ' "$TMP/daemon.out" && grep -q '^<4>    \[warning\] careful' "$TMP/daemon.out" &&
    ok "every daemon line has journald's level prefix when not on a terminal" ||
    fail "$bad lines lack a prefix: $(cat "$TMP/daemon.out" "$TMP/daemon.err" | grep -v '^<[3467]>')"
# On a terminal (script(1) gives one): today's look, no prefixes.
if command -v script >/dev/null; then
    script -qfec "$TASKER run --workers 1" "$TMP/tty.log" >/dev/null 2>&1 &
    script_pid=$!
    echo "$script_pid" >"$TMP/script.pid"
    wait_for 20 grep -qs "daemon running" "$TMP/tty.log" || fail "no daemon on a tty"
    tty_daemon=$(sed -n 's/.*daemon running on .* (pid \([0-9]*\)).*/\1/p' "$TMP/tty.log")
    [ -n "$tty_daemon" ] && kill -TERM "$tty_daemon"
    wait_for 20 gone "$script_pid" || fail "the tty daemon did not stop"
    grep -q "^tasker: daemon running" "$TMP/tty.log" && ! grep -q "<6>" "$TMP/tty.log" &&
        ok "on a terminal the daemon prints no level prefixes" || fail "tty: $(cat "$TMP/tty.log")"
fi

cli_finish
