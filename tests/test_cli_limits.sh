# The retention limits from the command: `tasker run --keep N --keep-for D --max-events
# N` (and TASKER_KEEP, TASKER_KEEP_FOR, TASKER_MAX_EVENTS, which `tasker trigger` reads
# too), their parsing, and the daemon telling the limits in force.
# Run: bash tests/test_cli_limits.sh BUILD_DIR
. "$(dirname "$0")/support/cli_lib.sh" limits "$@"
daemon_pid=""
cli_cleanup_extra() { [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null; }
count_runs() { "$TASKER" exec ls "$1" --limit 0 --json | grep -c '"exec_id"'; }

# ---- parsing ---------------------------------------------------------------------------
for bad in "--keep 0" "--keep many" "--keep-for 0" "--keep-for 5x" "--keep-for 1h30" \
    "--keep-for m" "--max-events -3" "--keep-for 99999999999999999999d"; do
    run 2 "$TASKER" run $bad && has err "run: ${bad%% *} '" || fail "'run $bad' was accepted"
done
ok "bad limits are refused with the option named (exit 2)"
TASKER_KEEP_FOR=soon run 2 "$TASKER" trigger x && has err "TASKER_KEEP_FOR='soon'" &&
    ok "a bad TASKER_KEEP_FOR is named"

# ---- the daemon says which limits hold -------------------------------------------------
"$TASKER" run --keep 250 --keep-for 1h30m --max-events unlimited >"$TMP/d.out" 2>"$TMP/d.err" &
daemon_pid=$!
wait_for 20 grep -qs "daemon running" "$TMP/d.err" || fail "no daemon: $(cat "$TMP/d.err")"
grep -q "keeps the last 250 runs per task, none older than 1h30m, unlimited events per run" \
    "$TMP/d.err" && ok "the daemon states its limits at start" || fail "$(cat "$TMP/d.err")"
kill -TERM "$daemon_pid"
wait_for 20 gone "$daemon_pid" || fail "the daemon did not stop"
daemon_pid=""
"$TASKER" run >"$TMP/d0.out" 2>"$TMP/d0.err" &
daemon_pid=$!
wait_for 20 grep -qs "daemon running" "$TMP/d0.err" || fail "no daemon: $(cat "$TMP/d0.err")"
grep -q "keeps the last 100 runs per task, none older than 1h, 1000 events per run" \
    "$TMP/d0.err" && ok "the defaults: 100 runs per task, 1 hour, 1000 events per run" ||
    fail "$(cat "$TMP/d0.err")"
kill -TERM "$daemon_pid"
wait_for 20 gone "$daemon_pid" || fail "the daemon did not stop"
daemon_pid=""

# ---- --max-events: the daemon keeps that many events of a run ---------------------------
add chatty '{"cmd":"seq 1 40"}'
"$TASKER" run --max-events 10 >"$TMP/d2.out" 2>"$TMP/d2.err" &
daemon_pid=$!
wait_for 20 grep -qs "daemon running" "$TMP/d2.err" || fail "no daemon: $(cat "$TMP/d2.err")"
run 0 "$TASKER" trigger chatty --wait --timeout 20
id=$("$TASKER" exec ls chatty --limit 1 --json | sed -n 's/^ *"exec_id": "\(.*\)",$/\1/p')
events=$("$TASKER" exec show "$id" --json | grep -c '"event_id"')
[ "$events" -ge 5 ] && [ "$events" -le 12 ] && ok "--max-events 10 keeps about 10 events ($events)" ||
    fail "--max-events 10 kept $events events"
kill -TERM "$daemon_pid"
wait_for 20 gone "$daemon_pid" || fail "the daemon did not stop"
daemon_pid=""

# ---- TASKER_KEEP: the runs a trigger adds are pruned to that many --------------------------
add quick '{"cmd":"true"}'
for i in 1 2 3 4 5; do TASKER_KEEP=3 "$TASKER" trigger quick --local >/dev/null 2>&1; done
[ "$(count_runs quick)" -eq 3 ] && ok "TASKER_KEEP=3 keeps the newest 3 runs" ||
    fail "TASKER_KEEP=3 left $(count_runs quick) runs"

# ---- TASKER_KEEP_FOR: older runs go when a run is added ---------------------------------
add aged '{"cmd":"true"}'
"$TASKER" trigger aged --local >/dev/null 2>&1
first=$("$TASKER" exec ls aged --limit 1 --json | sed -n 's/^ *"exec_id": "\(.*\)",$/\1/p')
first_gone() {
    TASKER_KEEP_FOR=1s "$TASKER" trigger aged --local >/dev/null 2>&1
    ! "$TASKER" exec ls aged --limit 0 --json | grep -q "$first"
}
wait_for 15 first_gone && ok "TASKER_KEEP_FOR=1s: a run older than a second goes at the next add" ||
    fail "the first run is still there"

cli_finish
