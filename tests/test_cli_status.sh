# `tasker status`: schedules with next fire and last run, failing tasks first, pending
# runs whose handler nobody has called out; and `tasker trigger` says "no daemon is
# running" only when that is known (not with a DSN spelt with options while a daemon
# runs).
# Run: bash tests/test_cli_status.sh BUILD_DIR
. "$(dirname "$0")/support/cli_lib.sh" status "$@"
daemon_pid=""
cli_cleanup_extra() { [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null; }

add backup '{"cmd":"echo disk full >&2; exit 2"}'
add tidy '{"cmd":"echo tidy"}'
add adhoc '{"cmd":"true"}'
"$TASKER" task add mail --handler send_email >/dev/null || fail "task add mail"
"$TASKER" schedule add tidy '*/5 * * * *' >/dev/null 2>&1 || fail "schedule tidy"
"$TASKER" schedule add backup '0 3 * * *' >/dev/null 2>&1 || fail "schedule backup"
"$TASKER" trigger backup --local >/dev/null 2>&1
"$TASKER" trigger tidy --local >/dev/null 2>&1

# ---- without a daemon: a trigger says so, and status calls the pending runs out -------
run 0 "$TASKER" trigger mail && has err "no running process on $TASKER_DSN has handler 'send_email'" &&
    ok "a trigger of a handler nobody has says so"
run 0 "$TASKER" trigger adhoc && has err "no daemon is running" &&
    ok "a trigger with no process on the store says no daemon is running"

run 0 "$TASKER" status
head -n 1 "$TMP/out" | grep -q "^NEXT *LEFT *LAST *PASSED *STATUS *TOOK *TASK *SCHEDULE$" &&
    ok "status has the columns of list-timers" || fail "header: $(head -n 1 "$TMP/out")"
sed -n 2p "$TMP/out" | grep -q "failed .*backup *0 3 \* \* \*$" &&
    ok "the failing task comes first" || fail "status: $(cat "$TMP/out")"
grep "tidy" "$TMP/out" | grep -q "in [0-9]*[sm] .* ago *success .*\*/5 \* \* \* \*$" &&
    ok "a schedule shows its next fire ('in 3m'), last run, status" || fail "status: $(cat "$TMP/out")"
has out "task backup is failing: its last run failed: command exited with code 2" &&
    ok "the failing task is named under the table with its error"
has out "1 pending run of task mail: no running process has handler 'send_email'" &&
    ok "status calls out pending runs whose handler nobody has"
grep -q "never ran .*adhoc" "$TMP/out" && ok "a task without a schedule is listed too"
lacks out $'\033[' && ok "no colour when stdout is not a terminal"

run 0 "$TASKER" status --json
grep -q '"failing": true' "$TMP/out" && grep -q '"served": "no"' "$TMP/out" &&
    grep -q '"next_fire_us": [1-9]' "$TMP/out" && ok "status --json" ||
    fail "status --json: $(cat "$TMP/out")"

# ---- with a daemon: a DSN spelt with options wakes it; nothing false is said ----------
"$TASKER" run --workers 2 >"$TMP/daemon.out" 2>"$TMP/daemon.err" &
daemon_pid=$!
wait_for 20 grep -qs "daemon running" "$TMP/daemon.err" || fail "no daemon: $(cat "$TMP/daemon.err")"
run 0 "$TASKER" --db "$TASKER_DSN?sync=full" trigger tidy --wait --timeout 10 &&
    lacks err "no daemon" && ok "a DSN with options reaches the daemon of the same file"
run 0 "$TASKER" status && lacks out "pending run of task adhoc" &&
    ok "with the daemon running, shell runs are not called out"

kill -TERM "$daemon_pid"
wait_for 30 gone "$daemon_pid" || fail "the daemon did not stop"
daemon_pid=""
cli_finish
