# End-to-end tests of --json with text that is not UTF-8: no listing drops a record,
# every bad byte becomes U+FFFD, the output is valid UTF-8 JSON; ids that are not
# UTF-8 are refused. Records with bad bytes in fields the command refuses are written
# straight into the SQLite store, as an older version or another program could have.
# Run: bash tests/test_cli_json.sh BUILD_DIR
. "$(dirname "$0")/support/cli_lib.sh" json "$@"
export TZ=UTC
DB=$TMP/t.db
FFFD=$'\xef\xbf\xbd'
# valid_json FILE: the output is UTF-8 (iconv) and, when python3 is here, JSON.
valid_json() {
    iconv -f UTF-8 -t UTF-8 "$TMP/$1" >/dev/null 2>&1 || { fail "$1 is not valid UTF-8"; return 1; }
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import json, sys; json.load(open(sys.argv[1], encoding="utf-8"))' "$TMP/$1" ||
            { fail "$1 is not JSON: $(head -c 2000 "$TMP/$1")"; return 1; }
    fi
}
# verdict NAME: after a chain of checks joined by &&: ok NAME if all held, else fail.
verdict() { if [ $? = 0 ]; then ok "$1"; else fail "$1"; fi; }
count() { grep -c -- "$2" "$TMP/$1"; }
sql() { sqlite3 "$DB" "$1" || fail "sqlite3: $1"; }

# ---- a run whose output is not UTF-8 ---------------------------------------------------
add binout "{\"cmd\":\"printf '\\\\377\\\\376 x\\\\n'; echo plain\"}"
run 0 "$TASKER" trigger binout --local; verdict "a run printing bytes 0xff 0xfe"
exec_id=$("$TASKER" exec ls binout | awk 'NR == 2 {print $1}')
run 0 "$TASKER" exec show "$exec_id" --json && valid_json out &&
    has out "\"message\": \"$FFFD$FFFD x\"" && has out '"message": "plain"' ;
    verdict "exec show --json keeps the event, one U+FFFD per bad byte"
run 0 "$TASKER" exec events "$exec_id" --json && valid_json out && has out "$FFFD$FFFD x" &&
    [ "$(count out '"event_id"')" = 3 ]; verdict "exec events --json keeps every event"
run 0 "$TASKER" trigger binout --local --json && valid_json out && has out "$FFFD$FFFD x" ;
    verdict "trigger --local --json keeps the event"

# ---- records that hold bad bytes in the store --------------------------------------------
add badparam '{"cmd":"true"}'
add baddesc '{"cmd":"true"}'
add badid '{"cmd":"true"}'
run 0 "$TASKER" task add baddesc2 --handler shell --param '{"cmd":"true"}' --desc $'caf\xe9 \xff' ;
    verdict "a description is stored as given"
# {"cmd":"x<ff>"}: JSON the command would refuse, here in the store.
sql "UPDATE tasks SET param = CAST(X'7b22636d64223a2278ff227d' AS TEXT) WHERE task_id = 'badparam'"
sql "UPDATE tasks SET description = CAST(X'64ff' AS TEXT) WHERE task_id = 'baddesc'"
sql "UPDATE tasks SET task_id = CAST(X'626164ff6964' AS TEXT) WHERE task_id = 'badid'"
run 0 "$TASKER" task ls --json && valid_json out && [ "$(count out '"task_id"')" = 5 ] &&
    has out "\"cmd\": \"x$FFFD\"" && has out "\"desc\": \"d$FFFD\"" &&
    has out "\"task_id\": \"bad${FFFD}id\"" && has out "\"desc\": \"caf$FFFD $FFFD\"" ;
    verdict "task ls --json lists all 5 tasks; a repaired param still nests as JSON"
run 0 "$TASKER" task show badparam --json && valid_json out && has out "\"cmd\": \"x$FFFD\"" ;
    verdict "task show --json"
run 0 "$TASKER" schedule add baddesc "@hourly" && sid=$(cat "$TMP/out")
sql "UPDATE schemes SET task_id = CAST(X'626164ff6964' AS TEXT) WHERE scheme_id = '$sid'"
run 0 "$TASKER" schedule ls --json && valid_json out && [ "$(count out '"scheme_id"')" = 1 ] &&
    has out "\"task_id\": \"bad${FFFD}id\""; verdict "schedule ls --json keeps the schedule"
# A run's error, result and task id with bad bytes.
sql "UPDATE execs SET error = CAST(X'6e6f7420666f756e643a20ff' AS TEXT), result = CAST(X'22ff22' AS TEXT) WHERE exec_id = '$exec_id'"
second=$("$TASKER" exec ls binout | awk 'NR == 2 {print $1}')
sql "UPDATE execs SET task_id = CAST(X'62696eff' AS TEXT) WHERE exec_id = '$second'"
run 0 "$TASKER" exec ls --json --limit 0 && valid_json out && [ "$(count out '"exec_id"')" = 2 ] &&
    has out "\"error\": \"not found: $FFFD\"" && has out "\"result\": \"$FFFD\"" &&
    has out "\"task_id\": \"bin$FFFD\""; verdict "exec ls --json keeps runs with bad error, result, task"
# A 4-byte character cut short, an overlong form, a surrogate: each bad byte counts.
sql "UPDATE tasks SET description = CAST(X'61f09f98' || X'c0af' || X'eda080' || X'f09f9880' AS TEXT) WHERE task_id = 'baddesc'"
run 0 "$TASKER" task ls --json && valid_json out &&
    has out "\"desc\": \"a$FFFD$FFFD$FFFD$FFFD$FFFD$FFFD$FFFD$FFFD"$'\xf0\x9f\x98\x80'"\"" ;
    verdict "cut, overlong and surrogate sequences: one U+FFFD per byte; a valid emoji stays"

# ---- ids that are not UTF-8 are refused ---------------------------------------------------
run 2 "$TASKER" task add $'c\xff' --handler shell --param '{"cmd":"true"}' &&
    has err "task id: invalid UTF-8 at byte 1"; verdict "task add refuses an id that is not UTF-8"
run 2 "$TASKER" task add okid --handler $'sh\xc3' &&
    has err "handler name: invalid UTF-8 at byte 2"; verdict "and a handler name"
run 2 "$TASKER" trigger $'\xfe' && has err "task id: invalid UTF-8 at byte 0" ;
    verdict "trigger refuses one"
run 2 "$TASKER" exec show $'01\xff' && has err "execution id: invalid UTF-8 at byte 2" ;
    verdict "exec show refuses one"
run 0 "$TASKER" task ls && lacks out "okid"; verdict "nothing stored for refused ids"

cli_finish
