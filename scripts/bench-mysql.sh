#!/bin/bash
# Runs tasker-bench against a private MariaDB server (its own data directory under
# build/, a unix socket, innodb_flush_log_at_trx_commit=1), then stops it.
#   scripts/bench-mysql.sh [tasker-bench options]  (none: the two standard runs)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/build/bench-mariadb"
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
    "$root/build/tasker-bench" "mysql://root@localhost/bench?socket=$dir/sock" --no-cron "$@"
}
if [ $# -gt 0 ]; then
    bench "$@"
else # runs triggered one by one by 32 threads, then by 4 threads in batches of 100
    bench --runs 30000 --lateness-s 0 --samples 500 --triggerers 32
    bench --runs 30000 --lateness-s 0 --samples 0 --triggerers 4 --batch 100
fi
