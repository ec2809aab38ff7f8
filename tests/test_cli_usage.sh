# End-to-end tests of the `tasker` command without a daemon: usage errors and exit
# codes, precise messages for bad JSON and bad cron, tasks and schedules, listings as
# tables and JSON, `tasker cron`.
# Run: bash tests/test_cli_usage.sh BUILD_DIR
. "$(dirname "$0")/support/cli_lib.sh" usage "$@"
export TZ=UTC
unset NO_COLOR
# aligned FILE WORD1 WORD2: WORD1 on line 1 (a header) starts in the same column as
# WORD2 on line 2 (the first row).
aligned() {
    local a b
    a=$(awk -v w="$2" 'NR==1 {print index($0, w)}' "$TMP/$1")
    b=$(awk -v w="$3" 'NR==2 {print index($0, w)}' "$TMP/$1")
    [ "$a" -gt 0 ] && [ "$a" = "$b" ] || { fail "$1: '$2' (column $a) and '$3' (column $b) are not aligned"; return 1; }
}
json_int() { sed -n "s/.*\"$2\": \(-\?[0-9]*\).*/\1/p" "$TMP/$1" | head -n 1; }
line_is() { # line_is FILE N TEXT: line N of FILE is exactly TEXT
    local got
    got=$(sed -n "$2p" "$TMP/$1")
    [ "$got" = "$3" ] || { fail "$1 line $2 is '$got', expected '$3'"; return 1; }
}

# ---- usage: exit 2 and a hint -------------------------------------------------------
run 2 "$TASKER" && has err "usage: tasker" && ok "no command prints usage, exit 2"
run 2 "$TASKER" frobnicate && has err "no command 'frobnicate'" && has err "tasker --help" &&
    ok "unknown command is a usage error"
run 2 "$TASKER" task add only-id && line_is err 1 "tasker: task add: --handler is required" &&
    ok "task add without --handler is a usage error"
run 2 "$TASKER" task add --handler shell && has err "expected one task ID, got 0" &&
    ok "task add without an id is a usage error"
run 2 "$TASKER" task add x --handler shell --bogus && has err "unknown option '--bogus'" &&
    ok "unknown option is a usage error"
run 2 "$TASKER" task add x --handler && has err "option '--handler' needs a value" &&
    ok "option without its value is a usage error"
run 2 "$TASKER" exec ls --limit many && has err "--limit 'many': expected a number" &&
    ok "bad --limit is a usage error"
run 2 "$TASKER" exec ls --status done && has err "--status 'done'" && ok "bad --status"
run 2 "$TASKER" schedule add job "* * * * *" --misfire sometimes &&
    has err "--misfire 'sometimes': expected once, skip or all" && ok "bad --misfire"
run 2 "$TASKER" cron "* * * * *" -n 0 && has err "-n '0'" && ok "bad -n"
run 2 "$TASKER" trigger && has err "expected one task ID" && ok "trigger needs a task"
run 2 "$TASKER" trigger job --timeout 3 && has err "--timeout needs --wait" &&
    ok "trigger --timeout needs --wait"
run 2 "$TASKER" run extra && has err "unexpected argument 'extra'" && ok "run takes no arguments"

# ---- --help on every subcommand: exit 0, stdout ------------------------------------
for cmd in "run" "task" "task add" "task ls" "task rm" "schedule" "schedule add" \
    "schedule ls" "schedule rm" "trigger" "exec" "exec ls" "exec show" "cron"; do
    # shellcheck disable=SC2086
    run 0 "$TASKER" $cmd --help && has out "usage: tasker ${cmd%% *}" || fail "$cmd --help"
done
ok "--help on every subcommand"
run 0 "$TASKER" help schedule && has out "usage: tasker schedule add" && ok "help COMMAND"
run 0 "$TASKER" --help task && has out "usage: tasker task add" && ok "--help before COMMAND"
run 0 "$TASKER" --version && has out "tasker " && ok "--version"

# ---- bad JSON and bad cron: the precise message, exit 2, nothing stored -------------
run 2 "$TASKER" task add j --handler shell --param '{"cmd": }' &&
    line_is err 1 "tasker: task add: --param: invalid JSON at line 1, column 9: unexpected token near '}'" &&
    ok "bad JSON says where it broke"
run 0 "$TASKER" task ls && lacks out "j " && ok "a task with bad JSON is not stored"
run 0 "$TASKER" task add job --handler shell --param '{"cmd":"echo hi"}' --desc "says hi" &&
    ok "task add"
run 2 "$TASKER" schedule add job "0 25 * * *" &&
    line_is err 1 "tasker: cron: field 'hour' (\"25\"): 25 is out of range 0-23" &&
    ok "bad cron names the field and the range"
run 2 "$TASKER" schedule add job "* * *" &&
    line_is err 1 "tasker: cron: expected 5 or 6 fields, got 3" && ok "bad cron field count"
run 2 "$TASKER" cron "61 * * * *" &&
    line_is err 1 "tasker: cron: field 'minute' (\"61\"): 61 is out of range 0-59" &&
    ok "tasker cron reports a bad expression"
run 0 "$TASKER" schedule ls && line_is out 2 "" && ok "a bad schedule is not stored"

# ---- tasks ---------------------------------------------------------------------------
run 0 "$TASKER" task add job --handler shell --param '{"cmd":"echo again"}' &&
    run 0 "$TASKER" task ls && has out "echo again" && lacks out "echo hi" &&
    ok "task add with an existing id replaces it"
run 0 "$TASKER" task ls && line_is out 1 "TASK  HANDLER  PARAM                 POLICIES  DESC" &&
    aligned out HANDLER shell && aligned out PARAM '{"cmd"' && ok "task ls prints an aligned table"
run 0 "$TASKER" task ls --json && has out '"task_id": "job"' && has out '"cmd": "echo again"' &&
    ok "task ls --json nests the params as JSON"
run 1 "$TASKER" task rm nosuch && has err "nosuch" && ok "task rm of a missing task fails (exit 1)"
run 1 "$TASKER" trigger nosuch && has err "nosuch" && ok "trigger of a missing task fails (exit 1)"

# ---- schedules -----------------------------------------------------------------------
run 0 "$TASKER" schedule add job "*/10 * * * * *" --overlap forbid && id=$(cat "$TMP/out") &&
    [ -n "$id" ] && has err "next fire" && ok "schedule add prints the schedule id"
run 0 "$TASKER" schedule add job "@every 1h" --json && has out '"cron": "@every 1h"' &&
    has out '"next_fire_us": ' && ok "schedule add --json prints the schedule"
run 0 "$TASKER" schedule add job '*/10' '*' '*' '*' '*' '*' --overlap forbid && [ "$(cat "$TMP/out")" = "$id" ] &&
    ok "an unquoted expression is joined; the same schedule twice is one"
run 1 "$TASKER" schedule add ghost "@hourly" && has err "ghost" &&
    ok "a schedule for a missing task fails (exit 1)"
before_s=$(date +%s)
run 0 "$TASKER" schedule ls && has out "$id" && aligned out TASK job && aligned out CRON "*/10" &&
    aligned out OVERLAP forbid && aligned out MISFIRE once && ok "schedule ls prints an aligned table"
after_s=$(date +%s)
next_local=$(awk 'NR==2 {print substr($0, index($0, "*/10 * * * * *") + 16, 19)}' "$TMP/out")
next_s=$(date -d "$next_local" +%s 2>/dev/null || echo 0)
if [ "$next_s" -gt "$before_s" ] && [ "$next_s" -le $((after_s + 10)) ] && [ $((next_s % 10)) = 0 ]; then
    ok "schedule ls shows the next fire time ($next_local)"
else
    fail "schedule ls: next fire '$next_local' is not the next multiple of 10 s after $before_s"
fi
run 0 "$TASKER" schedule ls --json && has out "\"scheme_id\": \"$id\"" &&
    has out '"overlap": "forbid"' && next_us=$(json_int out next_fire_us) &&
    [ $((next_us % 10000000)) = 0 ] && [ $((next_us / 1000000)) -gt "$before_s" ] &&
    ok "schedule ls --json has the next fire time"
run 0 "$TASKER" schedule rm "$id" && run 0 "$TASKER" schedule ls && lacks out "$id" &&
    ok "schedule rm"
run 1 "$TASKER" schedule rm "$id" && ok "schedule rm of a missing schedule fails (exit 1)"
run 0 "$TASKER" schedule add job "@hourly" && run 0 "$TASKER" task rm job &&
    run 0 "$TASKER" schedule ls && line_is out 2 "" && ok "task rm removes its schedules"

# ---- executions without any: empty listings -----------------------------------------
run 0 "$TASKER" exec ls && line_is out 1 "EXEC  TASK  STATUS  ATTEMPT  QUEUED  DURATION  RESULT / ERROR" &&
    ok "exec ls on an empty store prints the header"
run 0 "$TASKER" exec ls --json && [ "$(tr -d ' \n' <"$TMP/out")" = "[]" ] && ok "exec ls --json"
run 1 "$TASKER" exec show 0000 && has err "0000" && ok "exec show of a missing exec fails"

# ---- tasker cron -----------------------------------------------------------------------
run 0 "$TASKER" cron "0 12 * * MON" -n 3 && line_is out 1 "#  LOCAL                        UTC" &&
    [ "$(wc -l <"$TMP/out")" = 4 ] && has out "Mon " && has out "12:00:00 UTC" &&
    ok "tasker cron lists the next fire times in local time and UTC"
run 0 env TZ=Europe/Paris "$TASKER" cron "0 12 1 7 *" -n 1 && has out "-07-01 12:00:00 CEST" &&
    has out "-07-01 10:00:00 UTC" && ok "tasker cron converts local time to UTC"
run 0 "$TASKER" cron "@every 90s" -n 2 --json && has out '"cron": "@every 90s"' &&
    has out '"utc": ' && ok "tasker cron --json"
run 1 "$TASKER" cron "0 0 30 2 *" && has err "never fires" && ok "an expression that never fires"

# ---- colour only on a terminal --------------------------------------------------------
run 0 "$TASKER" exec ls && ! grep -q $'\033' "$TMP/out" && ok "no colour codes when stdout is not a terminal"
if command -v script >/dev/null 2>&1; then
    # script(1) gives the command a terminal.
    script -qec "'$TASKER' exec ls" /dev/null >"$TMP/tty" 2>&1
    grep -q $'\033\[1mEXEC' "$TMP/tty" && ok "colour on a terminal" || fail "no colour on a terminal: $(cat -v "$TMP/tty")"
    NO_COLOR=1 script -qec "'$TASKER' exec ls" /dev/null >"$TMP/tty" 2>&1
    ! grep -q $'\033' "$TMP/tty" && grep -q EXEC "$TMP/tty" && ok "NO_COLOR turns colour off on a terminal" ||
        fail "NO_COLOR ignored: $(cat -v "$TMP/tty")"
fi

# ---- the store cannot be opened: exit 1 ------------------------------------------------
run 1 "$TASKER" --db "sqlite:$TMP/no/such/dir/t.db" task ls && has err "tasker: " &&
    ok "an unopenable store fails (exit 1)"
run 1 "$TASKER" --db "nosql://x" task ls && has err "unknown scheme" && ok "a bad DSN fails (exit 1)"

cli_finish
