#!/bin/bash
# The job lifecycle from the command line (design section 6, docs/lifecycle.md): task
# policies, per-run params and delays, unique keys, cancel, retry, pause and resume,
# and the dead-letter view, against a daemon on a SQLite store.
#   bash tests/test_cli_lifecycle.sh BUILD_DIR
. "$(dirname "$0")/support/cli_lib.sh" lifecycle "$1"
daemon_pid=""
first="" id="" delayed="" held="" long="" again="" parked="" sid=""
cli_cleanup_extra() { [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null; }
field() { "$TASKER" exec show "$1" --json 2>/dev/null | jq -r ".$2"; }
status_is() { [ "$(field "$1" status)" = "$2" ]; }
start_daemon() {
    "$TASKER" run --grace 2 >"$TMP/daemon.out" 2>"$TMP/daemon.err" &
    daemon_pid=$!
    wait_for 20 grep -qs "daemon running" "$TMP/daemon.err" ||
        fail "the daemon did not start: $(cat "$TMP/daemon.err")"
}

# ---- options: checked before any store is touched ---------------------------------
for opt in "--retries -1" "--retries x" "--backoff 0s" "--backoff 5q" "--backoff-max -1s" \
    "--timeout soon" "--concurrency -2" "--priority high"; do
    set -- $opt
    run 2 "$TASKER" task add bad --handler shell --param '{"cmd":"true"}' "$1" "$2" &&
        has err "task add: $1 '$2': expected" || true
done
ok "bad policy values are usage errors naming the option"
run 2 "$TASKER" trigger job --in 10m --at 2026-12-06T10:00 && has err "--in and --at" &&
    ok "--in and --at together are refused"
run 2 "$TASKER" trigger job --at 10m && has err "for a delay use --in" &&
    ok "--at takes a time, not a duration"
run 2 "$TASKER" trigger job --param '{"a":' && has err "--param: invalid JSON at line 1" &&
    ok "trigger --param must be JSON"
run 2 "$TASKER" trigger job --in 1m --local && has err "--local runs now" &&
    ok "--local with a delay is refused"
run 2 "$TASKER" exec ls --status bogus && has err "cancelled" && ok "exec ls --status names cancelled"
run 2 "$TASKER" exec cancel && has err "expected one execution ID" && ok "exec cancel needs an id"
run 2 "$TASKER" schedule pause && has err "expected one schedule ID" &&
    ok "schedule pause needs an id"

# ---- policies are stored and shown ------------------------------------------------
run 0 "$TASKER" task add flaky --handler shell --param '{"cmd":"echo try; exit 3"}' \
    --retries 2 --backoff 200ms --backoff-max 1s --timeout 10m --concurrency 1 --priority 5 &&
    run 0 "$TASKER" task ls --json &&
    policies=$(jq -c '.[] | select(.task_id == "flaky") | [.max_attempts, .backoff_ms,
        .backoff_max_ms, .timeout_ms, .max_concurrency, .priority, .paused]' "$TMP/out") &&
    [ "$policies" = '[3,200,1000,600000,1,5,false]' ] &&
    ok "task add stores --retries 2 as max_attempts 3, and the other policies" ||
    fail "task ls --json: $(cat "$TMP/out")"
run 0 "$TASKER" task ls && has out "3 attempts" && has out "priority 5" &&
    ok "task ls shows the policies"

start_daemon

# ---- retries, attempts and the dead-letter view -----------------------------------
run 0 "$TASKER" trigger flaky && first=$(cat "$TMP/out")
three_attempts() { [ "$("$TASKER" exec ls flaky --status failed --json | jq length)" = 3 ]; }
if wait_for 20 three_attempts; then
    "$TASKER" exec ls flaky --json >"$TMP/runs.json"
    [ "$(jq -c '[.[] | .attempt] | sort' "$TMP/runs.json")" = '[1,2,3]' ] &&
        [ "$(jq -r "[.[] | select(.attempt > 1) | .retry_of] | unique | .[]" "$TMP/runs.json")" = "$first" ] &&
        ok "a failing run is tried 3 times, each retry pointing at the first" ||
        fail "runs: $(cat "$TMP/runs.json")"
    run 0 "$TASKER" exec ls flaky --status failed && has out "3/3" &&
        ok "exec ls --status failed shows the last attempt as 3/3 (dead letters)"
else
    fail "no third attempt of flaky: $("$TASKER" exec ls flaky 2>&1)"
fi

# ---- per-run params and delays ----------------------------------------------------
add echoer '{"cmd":"echo default"}'
run 0 "$TASKER" trigger echoer --param '{"cmd":"echo per-run-param"}' && id=$(cat "$TMP/out")
wait_for 10 status_is "$id" success && run 0 "$TASKER" exec show "$id" &&
    has out "per-run-param" && ok "trigger --param runs with this run's params" ||
    fail "run $id: $(field "$id" status)"
run 0 "$TASKER" trigger echoer --in 2s && delayed=$(cat "$TMP/out")
run 0 "$TASKER" exec ls echoer && has out "pending, in" && ok "exec ls shows a delayed run as 'pending, in …'"
status_is "$delayed" pending && ok "a delayed run waits" || fail "delayed run is $(field "$delayed" status)"
wait_for 10 status_is "$delayed" success &&
    [ "$(field "$delayed" start_us)" -ge "$(field "$delayed" run_at_us)" ] &&
    ok "it runs once its time has come, not before" || fail "delayed: $(field "$delayed" status)"

# ---- unique keys --------------------------------------------------------------------
run 0 "$TASKER" trigger echoer --in 1h --key nightly && held=$(cat "$TMP/out")
run 1 "$TASKER" trigger echoer --key nightly && [ "$(cat "$TMP/out")" = "$held" ] &&
    has err "key 'nightly'" && ok "a second trigger with a held key exits 1 and names the holder"

# ---- cancel and retry ---------------------------------------------------------------
run 0 "$TASKER" exec cancel "${held:0:12}" && has out "cancelled" &&
    status_is "$held" cancelled && ok "exec cancel of a pending run (by prefix)" ||
    fail "after cancel: $(field "$held" status)"
run 1 "$TASKER" exec cancel "$held" && ok "cancelling a finished run fails (exit 1)"
run 0 "$TASKER" exec ls --status cancelled && has out "$held" && ok "exec ls --status cancelled"
add sleeper '{"cmd":"sleep 30"}'
run 0 "$TASKER" trigger sleeper && long=$(cat "$TMP/out")
wait_for 10 status_is "$long" running || fail "sleeper did not start"
run 0 "$TASKER" exec cancel "$long" && wait_for 10 status_is "$long" cancelled &&
    ok "exec cancel of a running run stops it" || fail "sleeper: $(field "$long" status)"
run 0 "$TASKER" exec retry "$id" && again=$(cat "$TMP/out")
wait_for 10 status_is "$again" success && [ "$(field "$again" attempt)" = 1 ] &&
    ok "exec retry runs a finished run again as a new run" || fail "retry: $(field "$again" status)"

# ---- pause and resume ---------------------------------------------------------------
run 0 "$TASKER" task pause echoer && run 0 "$TASKER" task ls && has out "paused" &&
    ok "task pause; task ls shows it"
run 0 "$TASKER" trigger echoer && parked=$(cat "$TMP/out")
run 0 "$TASKER" task show echoer --json && [ "$(jq .paused "$TMP/out")" = true ] || fail "not paused"
status_is "$parked" pending && ok "a trigger of a paused task queues up" ||
    fail "ran while paused: $(field "$parked" status)"
run 0 "$TASKER" task resume echoer && wait_for 10 status_is "$parked" success &&
    ok "task resume lets it run" || fail "after resume: $(field "$parked" status)"
run 0 "$TASKER" schedule add echoer '@every 1h' && sid=$(cat "$TMP/out" | grep -o '[0-9a-f-]\{36\}' | head -1)
run 0 "$TASKER" schedule pause "${sid:0:8}" && run 0 "$TASKER" schedule ls && has out "paused" &&
    ok "schedule pause by prefix; schedule ls shows it"
run 0 "$TASKER" schedule ls --json && [ "$(jq '.[0].paused' "$TMP/out")" = true ] &&
    ok "schedule ls --json carries paused"
run 0 "$TASKER" schedule resume "$sid" && run 0 "$TASKER" schedule ls && lacks out "paused" &&
    ok "schedule resume"

cli_finish
