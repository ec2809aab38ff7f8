#!/bin/bash
# `tasker nodes`: a running node (tests/cluster/node.c, on SQLite) is listed live with
# its host, pid and handlers, in the table and in --json; once killed it turns dead
# after the lease; bad usage is exit 2. (The multi-node MySQL test checks the same
# listing with 3 nodes on other hosts.)
. "$(dirname "$0")/support/cli_lib.sh" nodes "$1"
NODE=$(cd "$BUILD" && pwd)/tasker-test-node

"$NODE" --dsn "$TASKER_DSN" --name nodehost --log "$TMP/starts.log" --workers 1 \
    --heartbeat-ms 200 --lease-ms 1000 >"$TMP/node.out" 2>"$TMP/node.err" &
echo $! >"$TMP/node.pid"
wait_for 30 grep -q '^ready ' "$TMP/node.out" || fail "node not ready: $(cat "$TMP/node.err")"
read -r _ id host pid <"$TMP/node.out"

# The node's row: its id, host and pid, live, its two handlers.
run 0 "$TASKER" nodes && {
    has out "NODE"
    has out "HEARTBEAT"
    row=$(grep -F "$id " "$TMP/out")
    [ -n "$row" ] || fail "no row for node $id: $(cat "$TMP/out")"
    case "$row" in *" $host "*" $pid "*live*"mark, sleep"*) ok "table row: $row" ;;
    *) fail "table row for $id lacks host $host, pid $pid, live, 'mark, sleep': $row" ;; esac
}

run 0 "$TASKER" nodes --json && {
    has out "\"node_id\": \"$id\""
    has out "\"host\": \"$host\""
    has out "\"pid\": $pid"
    # The node's object holds state live and its handlers.
    obj=$(grep -A20 "\"node_id\": \"$id\"" "$TMP/out")
    grep -q '"state": "live"' <<<"$obj" && grep -q '"mark"' <<<"$obj" && ok "json: $id live with handler mark" ||
        fail "json object of $id lacks state live or handler mark: $obj"
}

# Killed, it turns dead once its heartbeat is older than the lease.
kill -9 "$pid"
dead() {
    "$TASKER" nodes --lease-ms 1000 --json >"$TMP/out" 2>"$TMP/err" &&
        grep -A20 "\"node_id\": \"$id\"" "$TMP/out" | grep -q '"state": "dead"'
}
wait_for 10 dead && ok "dead after kill -9" || fail "node $id not listed dead 10 s after kill -9: $(cat "$TMP/out")"

run 2 "$TASKER" nodes extra && has err "unexpected argument 'extra'"
run 2 "$TASKER" nodes --lease-ms 0 && has err "--lease-ms '0'"
run 0 "$TASKER" help nodes && has out "usage: tasker nodes"
cli_finish
