#!/bin/sh
# The demo `make run` starts: the tasker daemon on ./tasker.db with two shell tasks,
# one that succeeds and one that fails, each scheduled every 10 seconds. The daemon
# says how many earlier runs ./tasker.db holds, then prints each run as it ends with the
# run's output (its events) under it; Ctrl-C stops it. Everything stays in ./tasker.db,
# so `tasker exec ls` and `tasker exec show EXEC` read the history afterwards, and a
# second `make run` carries on from it.
#
# Usage: sh scripts/demo.sh [PATH_TO_TASKER]   (default: ./build/tasker)
set -e
TASKER=${1:-${TASKER:-./build/tasker}}
export TASKER_DSN="sqlite:./tasker.db"

if [ ! -x "$TASKER" ]; then
    echo "demo: $TASKER not found; build first (make)" >&2
    exit 1
fi

# Adding a task or schedule again keeps one of each, so the demo can be rerun.
"$TASKER" task add demo-ok --handler shell --desc "succeeds: prints the date and the load" \
    --param '{"cmd": "echo \"hello from tasker at $(date +%T)\"; cat /proc/loadavg 2>/dev/null || uptime", "timeout": 5}'
"$TASKER" task add demo-fail --handler shell --desc "fails on purpose: exit code 3" \
    --param '{"cmd": "echo \"looking for /nonexistent\"; ls /nonexistent; exit 3", "timeout": 5}'
"$TASKER" schedule add demo-ok "*/10 * * * * *" >/dev/null 2>&1
"$TASKER" schedule add demo-fail "*/10 * * * * *" >/dev/null 2>&1

cat <<EOF
tasker demo: two shell tasks on ./tasker.db, each run every 10 seconds. Each run is
printed as it ends, with its output under it.

  $TASKER task ls                 the tasks
  $TASKER schedule ls             their schedules and next fire times
  $TASKER exec ls                 the runs so far
  $TASKER exec show EXEC          one run with its output (any unique prefix of its id)
  $TASKER trigger demo-ok --wait  run one now, in this daemon, and follow it

(in another terminal, from this directory). Ctrl-C stops the daemon.

EOF
exec "$TASKER" run --grace 5
