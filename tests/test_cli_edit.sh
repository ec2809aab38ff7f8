# End-to-end tests of the commands that find and change things: exec ls --since and
# --until, task show, exec ids by unique prefix (exec show, exec events, --follow),
# schedule rm by prefix or TASK CRON, schedule add --replace, the checks of task add,
# --param @FILE and -, and `cron` and `schedule add` agreeing on expressions that
# never fire.
# Run: bash tests/test_cli_edit.sh BUILD_DIR
. "$(dirname "$0")/support/cli_lib.sh" edit "$@"
export TZ=UTC
unset NO_COLOR
DB=$TMP/t.db
daemon_pid=""
follower_pid=""
cli_cleanup_extra() {
    [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null
    [ -n "$follower_pid" ] && kill -9 "$follower_pid" 2>/dev/null
}
# verdict NAME: after a chain of checks joined by &&: ok NAME if all held, else fail.
verdict() { if [ $? = 0 ]; then ok "$1"; else fail "$1"; fi; }
count() { grep -c -- "$2" "$TMP/$1"; }
sql() { sqlite3 "$DB" "$1" || fail "sqlite3: $1"; }
lines() { [ "$(wc -l <"$TMP/$1")" = "$2" ] || { fail "$1 has $(wc -l <"$TMP/$1") lines, expected $2: $(cat "$TMP/$1")"; return 1; }; }

for cmd in "task show" "exec events"; do
    # shellcheck disable=SC2086
    run 0 "$TASKER" $cmd --help && has out "usage: tasker ${cmd%% *}" && has out "$cmd" || fail "$cmd --help"
done
ok "--help on the new subcommands"

# ---- task add checks what it can --------------------------------------------------------
run 0 "$TASKER" task add mine --handler send_email --param '{"to":"ops"}' &&
    has err "warning: task add: handler 'send_email' is not one this command knows (shell)"
verdict "an unknown handler is stored with a warning naming the known handlers"
run 1 "$TASKER" task add s --handler shell && has err "shell handler needs an object"
verdict "shell without params is refused (exit 1)"
run 1 "$TASKER" task add s --handler shell --param '{"timeout": 5}' &&
    has err "shell: field 'cmd': missing"
verdict "shell params without cmd are refused, naming cmd"
run 1 "$TASKER" task add s --handler shell --param '{"cmd": ["ls"]}' &&
    has err "field 'cmd': expected a string (the command line), got an array"
verdict "cmd that is not a string is refused"
run 1 "$TASKER" task add s --handler shell --param '{"cmd": "ls", "timeout": "10s"}' &&
    has err "field 'timeout': expected a number of seconds, 0 or more, got a string"
verdict "timeout that is not a number is refused"
run 1 "$TASKER" task add s --handler shell --param '{"cmd": "ls", "timeout": -1}' &&
    has err "field 'timeout': expected a number of seconds, 0 or more, got -1"
verdict "a negative timeout is refused"
run 1 "$TASKER" task add s --handler shell --param '{"cmd": "ls", "env": {"A": {}}}' &&
    has err "field 'env.A'"
verdict "an env value that is an object is refused"
run 0 "$TASKER" task ls --json && lacks out '"task_id": "s"'
verdict "refused tasks are not stored"
run 0 "$TASKER" task add s --handler shell --param '{"cmd": "ls", "timout": 5}' &&
    has err "warning: task add: shell: field 'timout' is not one the shell handler reads"
verdict "an unknown shell field is stored with a warning"
run 0 "$TASKER" task add s --handler shell \
    --param '{"cmd": "ls", "timeout": 2.5, "env": {"A": 1, "B": null}, "cwd": "/"}' &&
    [ ! -s "$TMP/err" ]
verdict "good shell params: no warning"

# ---- --param @FILE and --param - ----------------------------------------------------------
# 900 KiB of params: far past what one argument may hold (128 KiB), under the 1 MiB limit.
{ printf '{"cmd": "echo big", "data": "'; head -c 921600 /dev/zero | tr '\0' a; printf '"}\n'; } >"$TMP/big.json"
run 0 "$TASKER" task add big --handler shell --param "@$TMP/big.json" && has err "field 'data'"
verdict "--param @FILE reads 900 KiB of params"
run 0 "$TASKER" task show big --json --runs 0 && [ "$(wc -c <"$TMP/out")" -gt 921600 ]
verdict "the 900 KiB params are stored whole"
run 0 "$TASKER" trigger big --local && has out "big"
verdict "a run with 900 KiB of params"
"$TASKER" task add big2 --handler shell --param - <"$TMP/big.json" >"$TMP/out" 2>"$TMP/err"
[ $? = 0 ] && "$TASKER" task ls --json | grep -q '"task_id": "big2"'
verdict "--param - reads the params from stdin"
{ printf '{"cmd": "echo big", "data": "'; head -c 1100000 /dev/zero | tr '\0' a; printf '"}'; } >"$TMP/huge.json"
run 2 "$TASKER" task add huge --handler shell --param "@$TMP/huge.json" &&
    has err "is over the limit of 1048576 bytes"
verdict "params over 1 MiB are refused (exit 2), naming the limit"
printf '{"cmd": "x"}\0' >"$TMP/nul.json"
run 2 "$TASKER" task add nul --handler shell --param "@$TMP/nul.json" && has err "NUL byte"
verdict "a file with a NUL byte is refused"
run 1 "$TASKER" task add nofile --handler shell --param "@$TMP/none.json" &&
    has err "none.json: No such file or directory"
verdict "a missing file is reported"
printf '{"cmd": }' >"$TMP/bad.json"
run 2 "$TASKER" task add badjson --handler shell --param "@$TMP/bad.json" &&
    has err "invalid JSON at line 1, column 9"
verdict "bad JSON in a file says where"

# ---- cron and schedule add agree on expressions that never fire --------------------------
add job '{"cmd": "echo job ran"}'
run 1 "$TASKER" cron "0 0 30 2 *" && cp "$TMP/err" "$TMP/cron.err" &&
    run 1 "$TASKER" schedule add job "0 0 30 2 *" && cmp -s "$TMP/err" "$TMP/cron.err" &&
    has err "tasker: cron: '0 0 30 2 *' never fires: no date matches it"
verdict "cron and schedule add refuse a never-firing expression with one message (exit 1)"
run 0 "$TASKER" schedule ls && lines out 1
verdict "nothing stored for it"

# ---- schedule rm by id prefix or TASK CRON; schedule add --replace ---------------------
run 0 "$TASKER" schedule add job "@hourly" --overlap forbid && s1=$(cat "$TMP/out")
run 0 "$TASKER" schedule add job "0 3 * * *" && s2=$(cat "$TMP/out")
common=""
for i in $(seq 1 36); do [ "${s1:0:$i}" = "${s2:0:$i}" ] && common=${s1:0:$i}; done
run 1 "$TASKER" schedule rm "$common" && has err "'$common' matches 2 schedules" &&
    has err "$s1  job  @hourly" && has err "$s2  job  0 3 * * *"
verdict "an ambiguous schedule prefix is refused, listing the matches"
run 1 "$TASKER" schedule add job "@daily" --replace && has err "task 'job' has 2 schedules" &&
    has err "$s1  @hourly"
verdict "--replace with several schedules is refused, listing them"
run 0 "$TASKER" schedule ls && lines out 3
verdict "nothing changed by refused commands"
run 0 "$TASKER" schedule rm job 0 3 '*' '*' '*' && has err "schedule $s2 ('0 3 * * *') removed"
verdict "schedule rm TASK CRON (unquoted)"
run 1 "$TASKER" schedule rm job "0 4 * * *" &&
    has err "task 'job' has no schedule '0 4 * * *'; its schedules:" && has err "$s1  @hourly"
verdict "schedule rm TASK CRON that does not match lists the task's schedules"
run 0 "$TASKER" schedule add job "*/5 * * * *" --replace && s3=$(cat "$TMP/out") &&
    has err "schedule $s1 ('@hourly') removed: replaced" && run 0 "$TASKER" schedule ls &&
    lines out 2 && has out "*/5 * * * *" && lacks out "@hourly" && has out "forbid"
verdict "--replace changes the only schedule and keeps its policies"
run 0 "$TASKER" schedule add job "*/5 * * * *" --replace --overlap allow &&
    [ "$(cat "$TMP/out")" = "$s3" ] && run 0 "$TASKER" schedule ls && has out "allow"
verdict "--replace with the same expression keeps the schedule, updating the policy given"
run 0 "$TASKER" schedule add mine "@daily" --replace && run 0 "$TASKER" schedule ls && lines out 3
verdict "--replace on a task without schedules adds one"
run 0 "$TASKER" schedule rm "${s3:0:30}" && has err "schedule $s3 ('*/5 * * * *', task job) removed" &&
    run 0 "$TASKER" schedule ls && lines out 2 && lacks out "$s3"
verdict "schedule rm by a unique prefix says what it removed"
run 1 "$TASKER" schedule rm nosuch && has err "schedule rm: no schedule 'nosuch'"
verdict "schedule rm of nothing fails"

# ---- runs: exec ls --since/--until, prefixes, exec events -------------------------------
for i in 1 2 3; do run 0 "$TASKER" trigger job --local; done
"$TASKER" exec ls job --json | sed -n 's/^ *"exec_id": "\(.*\)",$/\1/p' >"$TMP/ids"
new=$(sed -n 1p "$TMP/ids") mid=$(sed -n 2p "$TMP/ids") old=$(sed -n 3p "$TMP/ids")
now_s=$(date +%s)
# Move two runs back in time, 50 and 20 minutes ago: within the default retention (1 h).
sql "UPDATE execs SET queued_us = ($now_s - 50 * 60) * 1000000 WHERE exec_id = '$old'"
sql "UPDATE execs SET queued_us = ($now_s - 20 * 60) * 1000000 WHERE exec_id = '$mid'"
run 0 "$TASKER" exec ls job --since 30m && has out "$new" && has out "$mid" && lacks out "$old"
verdict "exec ls --since 30m"
run 0 "$TASKER" exec ls job --until 30m && lacks out "$new" && lacks out "$mid" && has out "$old"
verdict "exec ls --until 30m"
run 0 "$TASKER" exec ls job --since 40m --until 10m && has out "$mid" && lines out 2
verdict "exec ls --since 40m --until 10m"
run 0 "$TASKER" exec ls job --since 0h25m --json && [ "$(count out '"exec_id"')" = 2 ]
verdict "exec ls --since 0h25m --json"
run 0 "$TASKER" exec ls job --since 1h --json && [ "$(count out '"exec_id"')" = 3 ]
verdict "exec ls --since 1h --json"
since=$(date -d "@$((now_s - 55 * 60))" '+%Y-%m-%d %H:%M')
until=$(date -d "@$((now_s - 45 * 60))" '+%Y-%m-%dT%H:%M')
run 0 "$TASKER" exec ls --since "$since" --until "$until" && has out "$old" && lines out 2
verdict "exec ls --since '$since' --until $until (absolute times)"
run 0 env TZ=Asia/Tokyo "$TASKER" exec ls --since "${since}Z" --until "${until}:00Z" &&
    has out "$old" && lines out 2
verdict "a final Z means UTC, whatever the local zone"
run 0 "$TASKER" exec ls --since "$(date -d "@$((now_s + 86400))" +%Y-%m-%d)" && lines out 1
verdict "a date alone is its midnight"
for bad in 10x 1h30 -5m "2026-02-30" "2026-12-06 25:00" "yesterday" ""; do
    run 2 "$TASKER" exec ls --since "$bad" && has err "--since '$bad': expected a duration ago" ||
        fail "--since '$bad' accepted"
done
ok "bad --since values are usage errors"
for good in 30s 10m 2h 7d 2w 1h30m 90 0s; do
    run 0 "$TASKER" exec ls --until "$good" || fail "--until '$good' refused"
done
ok "durations: 30s 10m 2h 7d 2w 1h30m 90 0s"
run 2 "$TASKER" exec ls --since 10m --until 1h && has err "--since is not before --until"
verdict "--since after --until is a usage error"

common=""
for i in $(seq 1 36); do
    [ "${new:0:$i}" = "${mid:0:$i}" ] && [ "${new:0:$i}" = "${old:0:$i}" ] && common=${new:0:$i}
done
run 1 "$TASKER" exec show "$common" && has err "exec show: '$common' matches" &&
    has err "$new  job  success" && has err "$old  job  success"
verdict "an ambiguous exec prefix is refused, listing the runs"
run 0 "$TASKER" exec show "${old:0:30}" && has out "$old" && has out "job ran"
verdict "exec show by a unique prefix"
run 0 "$TASKER" exec events "${old:0:30}" && has out "normal   job ran" && lacks out "status"
verdict "exec events by a unique prefix prints the events alone"
run 1 "$TASKER" exec events "$common" && has err "exec events: '$common' matches"
verdict "exec events: an ambiguous prefix"
run 1 "$TASKER" exec show nosuch && has err "exec show: no execution 'nosuch'"
verdict "exec show of no run"
run 0 "$TASKER" exec events "${old:0:30}" --follow && has out "job ran" && has out "success"
verdict "exec events --follow of a finished run ends at once (exit 0)"

# A pending run (no daemon yet), followed by prefix until a daemon runs it.
run 0 "$TASKER" trigger job && pending=$(cat "$TMP/out")
run 1 "$TASKER" exec events "${pending:0:32}" --follow --timeout 0 && has err "still pending"
verdict "exec events --follow --timeout gives up on a pending run (exit 1)"
"$TASKER" exec events "${pending:0:32}" --follow >"$TMP/follow.out" 2>"$TMP/follow.err" &
follower_pid=$!
"$TASKER" run >"$TMP/daemon.out" 2>"$TMP/daemon.err" &
daemon_pid=$!
if wait_for 30 gone "$follower_pid"; then
    wait "$follower_pid"
    code=$?
    follower_pid=""
    [ "$code" = 0 ] && grep -q "job ran" "$TMP/follow.out" && grep -q "$pending" "$TMP/follow.out"
    verdict "exec events --follow by prefix follows a run the daemon takes, to its end"
else
    fail "exec events --follow did not end: $(cat "$TMP/follow.out" "$TMP/follow.err")"
fi
kill -TERM "$daemon_pid" && wait "$daemon_pid"
daemon_pid=""

# ---- task show ----------------------------------------------------------------------------
run 0 "$TASKER" schedule add job "@daily"
run 0 "$TASKER" task show job && has out "handler  shell" && has out '"cmd": "echo job ran"' &&
    has out "schedules (1)" && has out "@daily" && has out " 00:00:00 UTC" &&
    has out "last runs (4 of 4 kept)" && has out "$pending" && has out "$mid"
verdict "task show: the record, its schedules with the next fire, its last runs"
run 0 "$TASKER" task show job --runs 1 && has out "last runs (1 of 4 kept)" && has out "$pending" &&
    lacks out "$mid"
verdict "task show --runs 1"
run 0 "$TASKER" task show job --json --runs 2 && [ "$(count out '"exec_id"')" = 2 ] &&
    [ "$(count out '"cron"')" = 1 ] && has out '"next_fire_us"' && has out '"cmd": "echo job ran"'
verdict "task show --json"
run 0 "$TASKER" task show mine && has out "schedules (1)" && has out "last runs (0 of 0 kept)"
verdict "task show of a task without runs"
run 1 "$TASKER" task show nosuch && has err "task show: no task 'nosuch'"
verdict "task show of no task fails (exit 1)"

cli_finish
