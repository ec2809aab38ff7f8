# End-to-end tests of `tasker import` and `tasker export`: a round trip through a JSON
# document and through JSON lines gives the same export; a bad item stores nothing and
# is named; stdin; --help.
# Run: bash tests/test_cli_import.sh BUILD_DIR
. "$(dirname "$0")/support/cli_lib.sh" import "$@"

run 0 "$TASKER" import --help && has out "usage: tasker import" || fail "import --help"
run 0 "$TASKER" export --help && has out "usage: tasker export" || fail "export --help"
ok "--help"

add a '{"cmd":"echo a"}'
add b '{"cmd":"echo b"}'
"$TASKER" task add c --handler shell --param '{"cmd":"echo c"}' --desc "the c" --keep 7 >/dev/null ||
    fail "task add c"
"$TASKER" schedule add a "*/5 * * * *" --misfire skip >/dev/null 2>&1 || fail "schedule a"
"$TASKER" schedule add b "H H * * *" --overlap forbid >/dev/null 2>&1 || fail "schedule b"
"$TASKER" schedule add b "0 9 * * MON" >/dev/null 2>&1 || fail "schedule b 2"
run 0 "$TASKER" export && cp "$TMP/out" "$TMP/doc.json" &&
    has doc.json '"desc": "the c"' && has doc.json '"max_execs": 7' &&
    has doc.json '"misfire": "skip"' && has doc.json '"overlap": "forbid"' || fail "export"
run 0 "$TASKER" export --lines && cp "$TMP/out" "$TMP/doc.jsonl" &&
    [ "$(wc -l <"$TMP/doc.jsonl")" = 6 ] || fail "export --lines: $(cat "$TMP/doc.jsonl")"
ok "export as a document and as lines"

run 0 "$TASKER" --db "sqlite:$TMP/b.db" import "$TMP/doc.json" &&
    has out "imported 3 tasks and 3 schedules" || fail "import document"
run 0 "$TASKER" --db "sqlite:$TMP/b.db" export && cmp -s "$TMP/out" "$TMP/doc.json" ||
    fail "round trip through a document differs: $(diff "$TMP/out" "$TMP/doc.json")"
run 0 "$TASKER" --db "sqlite:$TMP/c.db" import - <"$TMP/doc.jsonl" &&
    has out "imported 3 tasks and 3 schedules" || fail "import lines from stdin"
run 0 "$TASKER" --db "sqlite:$TMP/c.db" export && cmp -s "$TMP/out" "$TMP/doc.json" ||
    fail "round trip through lines differs: $(diff "$TMP/out" "$TMP/doc.json")"
run 0 "$TASKER" --db "sqlite:$TMP/c.db" import "$TMP/doc.json" || fail "import twice"
run 0 "$TASKER" --db "sqlite:$TMP/c.db" export --lines && [ "$(wc -l <"$TMP/out")" = 6 ] ||
    fail "a second import doubled something"
ok "round trips, and a second import changes nothing"

printf '{"tasks":[{"id":"q","handler":"shell"},{"id":"r","handler":"shell"}],"schedules":[{"task":"q","cron":"* * * * *"},{"task":"r","cron":"* * *"}]}\n' >"$TMP/bad.json"
run 2 "$TASKER" --db "sqlite:$TMP/d.db" import "$TMP/bad.json" &&
    has err "schedules[1] (task 'r')" || fail "bad cron not named"
run 0 "$TASKER" --db "sqlite:$TMP/d.db" export --lines && [ ! -s "$TMP/out" ] ||
    fail "a refused import stored something: $(cat "$TMP/out")"
printf '{"id":"q","handler":"shell"}\n{"task":"q","cron":"* * * * *","misfire":"sometimes"}\n' >"$TMP/bad.jsonl"
run 2 "$TASKER" --db "sqlite:$TMP/d.db" import "$TMP/bad.jsonl" && has err "line 2" ||
    fail "bad misfire not named by line"
run 1 "$TASKER" --db "sqlite:$TMP/d.db" import "$TMP/nonesuch.json" && has err "cannot read" ||
    fail "missing file"
ok "a bad item stores nothing and is named"

cli_finish
