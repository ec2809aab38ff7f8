#!/bin/bash
# The shell handler's processes die with the process that runs them: after a SIGKILL of
# the daemon (or of `trigger --local`), nothing of the command's process group survives.
# And a NUL byte in the output does not cut the line: it becomes U+FFFD.
#   bash tests/test_cli_shell_guard.sh BUILD_DIR
. "$(dirname "$0")/support/cli_lib.sh" shell_guard "$1"

runner_pid=""
cli_cleanup_extra() { [ -n "$runner_pid" ] && kill -9 "$runner_pid" 2>/dev/null; }

# The pids of the live (not zombie) processes of group $1.
group_members() {
    local stat
    for stat in /proc/[0-9]*/stat; do
        # fields after "(comm)": state, ppid, pgrp
        read -r -a f < <(sed 's/^.*) //' "$stat" 2>/dev/null) || continue
        [ "${f[2]:-}" = "$1" ] && [ "${f[0]}" != Z ] && echo "${stat//[^0-9]/}"
    done
}
group_has() { [ "$(group_members "$1" | wc -l)" -ge "$2" ]; }
group_empty() { [ -z "$(group_members "$1")" ]; }

# A command with a child in the background and one in the foreground: the shell's own
# pgid goes to a file, then both sleep.
sleeper_param() {
    printf '{"cmd":"cut -d\\" \\" -f5 /proc/$$/stat > %s; sleep 300 & sleep 300"}' "$1"
}

# check_dies NAME PGID_FILE: the group in PGID_FILE had the shell and two sleeps running,
# the runner is killed with SIGKILL, and within 5 s no process of the group is left.
check_dies() {
    local name=$1 file=$2 pgid
    wait_for 20 test -s "$file" || { fail "$name: the command did not start"; return; }
    pgid=$(cat "$file")
    wait_for 10 group_has "$pgid" 3 || { fail "$name: group $pgid lacks its processes"; return; }
    kill -9 "$runner_pid"
    { wait "$runner_pid"; } 2>/dev/null
    runner_pid=""
    if wait_for 5 group_empty "$pgid"; then
        ok "$name: SIGKILL of the runner kills the command's whole process group"
    else
        fail "$name: group $pgid still runs after its runner died: $(group_members "$pgid" | tr '\n' ' ')"
        group_members "$pgid" | xargs -r kill -9
    fi
}

# ---- the daemon ------------------------------------------------------------------------
add sleeper "$(sleeper_param "$TMP/daemon.pgid")"
"$TASKER" run --grace 1 >"$TMP/daemon.out" 2>"$TMP/daemon.err" &
runner_pid=$!
run 0 "$TASKER" trigger sleeper
check_dies "daemon" "$TMP/daemon.pgid"

# ---- trigger --local -------------------------------------------------------------------
add local-sleeper "$(sleeper_param "$TMP/local.pgid")"
"$TASKER" trigger local-sleeper --local >"$TMP/local.out" 2>&1 &
runner_pid=$!
check_dies "trigger --local" "$TMP/local.pgid"

# ---- a normal end still reports the command's own exit -----------------------------------
add exit7 '{"cmd":"exit 7"}'
run 1 "$TASKER" trigger exit7 --local && has out "command exited with code 7" &&
    ok "the command's exit code comes through the guard"
add selfkill '{"cmd":"kill -KILL $$"}'
run 1 "$TASKER" trigger selfkill --local && has out "command killed by signal 9 (SIGKILL)" &&
    ok "the command's death by a signal comes through the guard"

# ---- a timeout's SIGTERM reaches the command, which gets its grace to clean up ----------
add graceful '{"cmd":"trap \"echo got term; sleep 0.2; echo cleaned up; exit 5\" TERM; echo waiting; sleep 30 & wait","timeout":1}'
run 1 "$TASKER" trigger graceful --local && has out "got term" && has out "cleaned up" &&
    has out "command timed out after 1s" &&
    ok "on a timeout the command's TERM trap runs to its end before the SIGKILL"

# ---- NUL bytes in the output ------------------------------------------------------------
add nul '{"cmd":"printf \"before\\000after\\n\"; printf \"x\\000\\000y\" >&2"}'
run 0 "$TASKER" trigger nul --local && has out "$(printf 'before\xef\xbf\xbdafter')" &&
    has out "$(printf 'x\xef\xbf\xbd\xef\xbf\xbdy')" &&
    ok "a NUL byte in the output becomes U+FFFD and the rest of the line is kept"

cli_finish
