# End-to-end tests of `tasker run`, the daemon, driven by other `tasker` commands on the
# same SQLite store: trigger --wait is picked up at once through the wakeup socket,
# schedules fire, the daemon logs each finished run with its events (skipped fires too)
# and leaves runs of handlers it lacks pending and says at start what history the store holds, trigger --local
# runs only its own execution, a timeout kills the command, and SIGTERM stops gracefully
# (grace period, then interrupted runs and killed commands).
# Run: bash tests/test_cli_daemon.sh BUILD_DIR
. "$(dirname "$0")/support/cli_lib.sh" daemon "$@"
daemon_pid=""
cli_cleanup_extra() { [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null; }
json_int() { sed -n "s/^ *\"$2\": \\(-\\?[0-9]*\\),\\?$/\\1/p" "$TMP/$1" | head -n 1; }
status_of() { "$TASKER" exec show "$1" --json 2>/dev/null | sed -n 's/^  "status": "\(.*\)",$/\1/p'; }
status_is() { [ "$(status_of "$1")" = "$2" ]; }

# start_daemon GRACE [OPTION...]
start_daemon() {
    "$TASKER" run --grace "$@" >"$TMP/daemon.out" 2>"$TMP/daemon.err" &
    daemon_pid=$!
    wait_for 20 grep -qs "daemon running" "$TMP/daemon.err" ||
        fail "the daemon did not start: $(cat "$TMP/daemon.err")"
}
# stop_daemon: SIGTERM, and wait for it; sets $daemon_code.
stop_daemon() {
    kill -TERM "$daemon_pid"
    wait "$daemon_pid"
    daemon_code=$?
    daemon_pid=""
}

add hello '{"cmd":"echo hello from the daemon; echo pid=$$"}'
add broken '{"cmd":"echo going down >&2; exit 7"}'

# ---- without a daemon, a trigger stays pending and says so ----------------------------
run 0 "$TASKER" trigger hello && early=$(cat "$TMP/out") && has err "no daemon is running" &&
    status_is "$early" pending && ok "without a daemon a trigger is stored pending, with a note"

# ---- trigger --local runs its own execution only, not the one left pending ------------
run 0 "$TASKER" trigger hello --local && has out "hello from the daemon" && has out "success" &&
    status_is "$early" pending && ok "trigger --local runs only its own run; the pending one waits" ||
    fail "after trigger --local the pending run is $(status_of "$early")"

start_daemon 3
grep -q "tasker: 2 earlier runs in $TASKER_DSN (1 success, 1 pending); last: hello success at " \
    "$TMP/daemon.err" && ok "the daemon says at start which runs the store holds" ||
    fail "daemon start: $(cat "$TMP/daemon.err")"
wait_for 10 status_is "$early" success && ok "the daemon runs what was pending when it started" ||
    fail "the pending run is $(status_of "$early")"

# ---- trigger --wait: picked up at once, events followed, exit status -------------------
run 0 "$TASKER" trigger hello --wait && has out "normal   hello from the daemon" &&
    has out "success" && ok "trigger --wait follows the run in the daemon and exits 0"
daemon_run_pid=$(sed -n 's/.*normal   pid=\([0-9]*\).*/\1/p' "$TMP/out")
[ -n "$daemon_run_pid" ] && ! grep -q "no daemon" "$TMP/err" && ok "the daemon answered the wakeup"
run 1 "$TASKER" trigger broken --wait && has out "warning  going down" &&
    has out "command exited with code 7" && ok "trigger --wait exits 1 when the run fails"

# The pickup delay as the store saw it: from queued to started. The wakeup socket
# makes it milliseconds; the fallback rescan alone would make it up to a second.
worst_ms=0
for i in 1 2 3 4 5; do
    "$TASKER" trigger hello --wait >/dev/null 2>&1
    id=$("$TASKER" exec ls hello --limit 1 --json | sed -n 's/^ *"exec_id": "\(.*\)",$/\1/p')
    "$TASKER" exec show "$id" --json >"$TMP/rec"
    delay_ms=$((($(json_int rec start_us) - $(json_int rec queued_us)) / 1000))
    [ "$delay_ms" -gt "$worst_ms" ] && worst_ms=$delay_ms
done
[ "$worst_ms" -lt 400 ] && ok "the daemon picks up a trigger within ${worst_ms} ms (worst of 5)" ||
    fail "a trigger waited ${worst_ms} ms before it started"

run 0 "$TASKER" trigger hello && id=$(cat "$TMP/out") &&
    wait_for 10 status_is "$id" success && ok "trigger without --wait prints the id; the run happens"
run 0 "$TASKER" exec show "$id" && has out "hello from the daemon" && has out "node" &&
    ok "exec show prints the daemon's run and its output"
wait_for 10 grep -qs "$id" "$TMP/daemon.out" && grep "$id" "$TMP/daemon.out" | grep -q success &&
    ok "the daemon logs each finished run" || fail "daemon log: $(cat "$TMP/daemon.out")"
grep -A 3 "$id" "$TMP/daemon.out" | grep -qxF "<6>    [normal] hello from the daemon" &&
    ok "the daemon log shows a run's events under its line" || fail "daemon log: $(cat "$TMP/daemon.out")"
grep -A 3 "exec $id" "$TMP/daemon.out" | grep -q "^<7>    \[debug\] started /bin/sh -c" ||
    fail "the log lacks the debug event of the run"

# ---- a run of a handler the daemon lacks stays pending (cluster mode: it is for a node
# that has the handler), while the daemon runs the others ---------------------------------
"$TASKER" task add nohandler --handler nosuch >/dev/null || fail "task add nohandler"
run 0 "$TASKER" trigger nohandler && id=$(cat "$TMP/out")
run 0 "$TASKER" trigger hello --wait &&
    status_is "$id" pending && ! grep -qs "exec $id" "$TMP/daemon.out" &&
    ok "the daemon leaves a run of a handler it lacks pending" ||
    fail "the nohandler run is $(status_of "$id"); daemon log: $(cat "$TMP/daemon.out")"

# ---- a timeout in the daemon -----------------------------------------------------------
add slow "{\"cmd\":\"sleep 30 & echo \$! > $TMP/slow-child.pid; wait\",\"timeout\":1}"
run 1 "$TASKER" trigger slow --wait --timeout 20 &&
    has out "command timed out after 1s; killed its process group" && ok "a task that times out fails"
wait_for 5 gone "$(cat "$TMP/slow-child.pid")" && ok "its process group was killed" ||
    fail "the timed-out command's child still runs"

# ---- schedules fire ----------------------------------------------------------------------
add ticking '{"cmd":"echo tick"}'
run 0 "$TASKER" schedule add ticking "* * * * * *" && sid=$(cat "$TMP/out")
scheduled_run() { "$TASKER" exec ls ticking --status success --json | grep -q "\"scheme_id\": \"$sid\""; }
wait_for 10 scheduled_run && ok "a schedule fires in the daemon" || fail "no scheduled run of ticking"
id=$("$TASKER" exec ls ticking --limit 1 --json | sed -n 's/^ *"exec_id": "\(.*\)",$/\1/p')
run 0 "$TASKER" exec show "$id" && has out "by         schedule $sid" && ok "exec show says which schedule"
run 0 "$TASKER" schedule rm "$sid"

# ---- a fire skipped by --overlap forbid is logged as skipped ---------------------------
add sleeper '{"cmd":"sleep 3"}'
run 0 "$TASKER" schedule add sleeper "* * * * * *" --overlap forbid && sid=$(cat "$TMP/out")
logged_skipped() { grep -s "sleeper " "$TMP/daemon.out" | grep -q "skipped .*still running"; }
wait_for 10 logged_skipped && ok "the daemon logs a fire skipped while the previous run runs" ||
    fail "no skipped fire in the daemon log: $(cat "$TMP/daemon.out")"
run 0 "$TASKER" schedule rm "$sid"
none_running() { ! "$TASKER" exec ls sleeper --status running,pending --json | grep -q exec_id; }
wait_for 10 none_running || fail "sleeper still runs"

# ---- SIGTERM: a run that finishes within the grace period succeeds ----------------------
add brief '{"cmd":"echo begun; sleep 2; echo done"}' # running long enough to be seen on a loaded host
run 0 "$TASKER" trigger brief && id=$(cat "$TMP/out")
wait_for 10 status_is "$id" running || fail "brief did not start"
stop_daemon
[ "$daemon_code" = 0 ] && ok "the daemon exits 0 on SIGTERM" || fail "the daemon exited $daemon_code"
status_is "$id" success && ok "a run that ends within the grace period is not interrupted" ||
    fail "brief is $(status_of "$id")"

# ---- SIGTERM: past the grace period the run is interrupted and its group killed ---------
start_daemon 1 --json
grep -q "tasker: [0-9]* earlier runs in $TASKER_DSN (.*success.*failed.*skipped.*); last: " \
    "$TMP/daemon.err" && ok "a second daemon start shows the earlier runs are still there" ||
    fail "second daemon start: $(cat "$TMP/daemon.err")"
add stubborn "{\"cmd\":\"trap '' TERM; sleep 30 & echo \$! > $TMP/stubborn-child.pid; echo holding; wait\"}"
run 0 "$TASKER" trigger stubborn && id=$(cat "$TMP/out")
wait_for 10 status_is "$id" running || fail "stubborn did not start"
start_ns=$(date +%s%N)
stop_daemon
took_ms=$((($(date +%s%N) - start_ns) / 1000000))
[ "$daemon_code" = 0 ] && [ "$took_ms" -lt 6000 ] &&
    ok "the daemon stops after the grace period (${took_ms} ms, grace 1 s)" ||
    fail "the daemon exited $daemon_code after ${took_ms} ms"
status_is "$id" interrupted && ok "the run past the grace period is recorded interrupted" ||
    fail "stubborn is $(status_of "$id")"
wait_for 5 gone "$(cat "$TMP/stubborn-child.pid")" && ok "the interrupted command's group was killed" ||
    fail "the interrupted command's child still runs"
grep -q "interrupting 1 run" "$TMP/daemon.err" && ok "the daemon said it interrupted the run" ||
    fail "daemon stderr: $(cat "$TMP/daemon.err")"
grep "\"exec_id\":\"$id\"" "$TMP/daemon.out" | grep "\"status\":\"interrupted\"" |
    grep -q '"events":\[.*"level":"normal","message":"holding"' &&
    ok "run --json logs the interrupted run as one JSON line with its events" ||
    fail "daemon --json log: $(cat "$TMP/daemon.out")"

# ---- a daemon killed mid-run: the follower stops waiting; the next daemon interrupts it --
start_daemon 1 --quiet-events
run 0 "$TASKER" trigger hello --wait && id=$(grep -o 'exec [0-9a-f-]*' "$TMP/out" | head -n 1 | cut -c6-)
wait_for 10 grep -qs "exec $id" "$TMP/daemon.out" && ! grep -q '^<[0-9]>    \[' "$TMP/daemon.out" &&
    ok "--quiet-events logs the run line without its events" ||
    fail "daemon log with --quiet-events: $(cat "$TMP/daemon.out")"
add orphaned "{\"cmd\":\"echo \$\$ > $TMP/orphan.pid; echo holding; sleep 30\"}"
"$TASKER" trigger orphaned --wait >"$TMP/follow.out" 2>"$TMP/follow.err" &
follower=$!
wait_for 10 grep -qs holding "$TMP/follow.out" || fail "orphaned did not start"
kill -9 "$daemon_pid"
{ wait "$daemon_pid"; } 2>/dev/null
daemon_pid=""
wait_for 10 gone "$follower" || fail "the follower still waits for a run whose daemon died"
wait "$follower"
code=$?
[ "$code" = 1 ] && grep -q "is gone" "$TMP/follow.err" &&
    ok "trigger --wait gives up (exit 1) when the daemon running the run dies" ||
    fail "follower: exit $code, $(cat "$TMP/follow.err")"
id=$("$TASKER" exec ls orphaned --limit 1 --json | sed -n 's/^ *"exec_id": "\(.*\)",$/\1/p')
start_daemon 1
status_is "$id" interrupted && ok "the next daemon records the dead daemon's run as interrupted" ||
    fail "orphaned is $(status_of "$id")"
stop_daemon

cli_finish
