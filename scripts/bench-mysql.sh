#!/bin/bash
# Runs tasker-bench against a private MariaDB server (its own data directory under
# build/, a unix socket, innodb_flush_log_at_trx_commit=1), then stops it.
#   scripts/bench-mysql.sh [tasker-bench options]  (none: the two standard runs)
#   scripts/bench-mysql.sh --herd-set               (schedules at scale: define 10k and
#                                                    100k, herd of 10k, open to first fire)
# TASKER_BENCH names another tasker-bench binary (say, the build before a change), and
# BENCH_DIR another server directory, so that two builds can be measured side by side.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="${BENCH_DIR:-$root/build/bench-mariadb}"
bin="${TASKER_BENCH:-$root/build/tasker-bench}"
rm -rf "$dir" && mkdir -p "$dir/data" "$dir/tmp"
mariadb-install-db --no-defaults --datadir="$dir/data" --user=root --auth-root-authentication-method=normal >"$dir/install.log" 2>&1
mariadbd --no-defaults --datadir="$dir/data" --socket="$dir/sock" --skip-networking \
    --user=root --tmpdir="$dir/tmp" --innodb-flush-log-at-trx-commit=1 \
    --log-error="$dir/error.log" --pid-file="$dir/pid" 2>>"$dir/error.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
    mariadb --no-defaults --socket="$dir/sock" -uroot -e "SELECT 1" >/dev/null 2>&1 && break
    sleep 0.2
done
bench() { # a fresh database for each run
    mariadb --no-defaults --socket="$dir/sock" -uroot \
        -e "DROP DATABASE IF EXISTS bench; CREATE DATABASE bench"
    "$bin" "mysql://root@localhost/bench?socket=$dir/sock" --no-cron "$@"
}
if [ "${1:-}" = "--herd-set" ]; then # issue 14's figures on MariaDB
    bench --runs 1000 --samples 0 --lateness-s 0 --herd 10000
    bench --runs 1000 --samples 0 --lateness-s 0 --herd 100000 --herd-open-only
elif [ $# -gt 0 ]; then
    bench "$@"
else # runs triggered one by one by 32 threads, then by 4 threads in batches of 100
    bench --runs 30000 --lateness-s 0 --samples 500 --triggerers 32
    bench --runs 30000 --lateness-s 0 --samples 0 --triggerers 4 --batch 100
fi
