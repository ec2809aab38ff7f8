# Shared by the multi-node tests (tests/test_cluster_*.sh):
#   . "$(dirname "$0")/cluster/lib.sh" NAME BUILD_DIR
# Sets BUILD, TMP (removed at exit, with every process started here), and helpers to
# start the database (db_start, db_cmd), node processes (node_start, node_stop,
# node_kill), and the checks that read the nodes' start log and the store's dump.
#
# The start log (one per scenario, all nodes append to it): one line per handler start,
#   exec_id node_id start_us scheduled_us task_id
# The dump (tasker-test-client DSN dump): one line per execution,
#   exec_id task_id scheme_id scheduled_us queued_us start_us end_us status node_id error
#
# Long tests skip (exit 77) unless TASKER_TEST_CLUSTER=1 (make test-cluster sets it).
# KEEP_TMP=1 keeps TMP (the logs, dumps and the nodes' output) for a post-mortem.
set -u
cl_name=$1
BUILD=$(cd "${2:?usage: bash test_cluster_$cl_name.sh BUILD_DIR}" && pwd)
if [ "${TASKER_TEST_CLUSTER:-0}" != 1 ]; then
    echo "skipped: multi-node test; run it with make test-cluster (TASKER_TEST_CLUSTER=1)"
    exit 77
fi
NODE=$BUILD/tasker-test-node
CLIENT=$BUILD/tasker-test-client
DBCTL=$BUILD/tasker-test-dbctl
TASKER=$BUILD/tasker
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tasker-cluster-$cl_name.XXXXXX")
# The servers' directories go under the build folder, one per test (tests may run in
# parallel under ctest -j).
export TASKER_TEST_BUILD_DIR=$BUILD/cluster-$cl_name
mkdir -p "$TASKER_TEST_BUILD_DIR"
failures=0
declare -A node_pid node_id

cl_cleanup() {
    for n in "${!node_pid[@]}"; do kill -9 "${node_pid[$n]}" 2>/dev/null; done
    if [ -n "${DB_PID:-}" ]; then
        [ -n "${DB[1]:-}" ] && echo quit >&"${DB[1]}"
        wait "$DB_PID" 2>/dev/null
    fi
    [ "${KEEP_TMP:-0}" = 1 ] && echo "kept $TMP" || rm -rf "$TMP"
}
trap cl_cleanup EXIT

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
now_s() { date +%s; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# wait_for SECONDS CMD...: polls CMD every 100 ms until it succeeds; false on timeout.
wait_for() {
    local deadline=$(($(date +%s%N) + $1 * 1000000000))
    shift
    until "$@"; do
        [ "$(date +%s%N)" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}
cl_finish() {
    if [ "$failures" -ne 0 ]; then
        echo "$failures failure(s)" >&2
        exit 1
    fi
    echo "all passed"
}

# ---- the database ------------------------------------------------------------------

# db_start [--galera N]: the private server (or cluster) as a coprocess; fails the
# test at once when it does not come up.
db_start() {
    coproc DB { "$DBCTL" "$@" 2>"$TMP/dbctl.err"; }
    local reply=""
    read -r -t 300 reply <&"${DB[0]}"
    if [ "${reply%% *}" != ok ]; then
        echo "FAIL: database did not start: $reply $(head -c 2000 "$TMP/dbctl.err")" >&2
        exit 1
    fi
}
# db_cmd COMMAND [ARG]: one dbctl command; its answer (after "ok ") in $DB_REPLY.
db_cmd() {
    echo "$*" >&"${DB[1]}"
    local reply=""
    read -r -t 300 reply <&"${DB[0]}"
    DB_REPLY=${reply#ok }
    [ "${reply%% *}" = ok ] || { fail "database: $*: $reply"; return 1; }
}

# ---- nodes -------------------------------------------------------------------------

# node_launch NAME DSN LOG [node options...]: starts a node in the background. As root
# each node has its own UTS namespace with host name NAME. node_ready NAME waits for its
# ready line and records its node id; node_start does both.
node_launch() {
    local name=$1 dsn=$2 log=$3
    shift 3
    "$NODE" --dsn "$dsn" --name "$name" --log "$log" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    node_pid[$name]=$!
}
node_ready() {
    if ! wait_for 60 grep -q '^ready ' "$TMP/$1.out"; then
        fail "node $1 not ready: $(head -c 2000 "$TMP/$1.err")"
        return 1
    fi
    node_id[$1]=$(awk '/^ready /{print $2; exit}' "$TMP/$1.out")
}
node_start() {
    node_launch "$@" && node_ready "$1"
}
gone() { [ ! -e "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
# node_stop NAME: SIGTERM (graceful shutdown), waits up to 30 s for the exit.
node_stop() {
    local pid=${node_pid[$1]}
    kill -TERM "$pid" 2>/dev/null
    if ! wait_for 30 gone "$pid"; then
        fail "node $1 did not stop within 30 s of SIGTERM"
        kill -9 "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    local rc=$?
    [ "$rc" = 0 ] || fail "node $1 exited $rc: $(tail -c 1500 "$TMP/$1.err")"
    unset "node_pid[$1]"
}
# node_kill NAME: SIGKILL, a crash.
node_kill() {
    kill -9 "${node_pid[$1]}" 2>/dev/null
    wait "${node_pid[$1]}" 2>/dev/null
    unset "node_pid[$1]"
}
nodes_stop_all() { for n in "${!node_pid[@]}"; do node_stop "$n"; done; }

# ---- checks ------------------------------------------------------------------------

# check_once LOG: no execution started twice (the store cannot hide this: every
# handler start is a line).
check_once() {
    local twice
    twice=$(awk '{print $1}' "$1" | sort | uniq -d | wc -l)
    if [ "$twice" -eq 0 ]; then
        ok "$2: $(wc -l <"$1") starts, none twice"
    else
        fail "$2: $twice executions started twice, e.g.: $(awk '{print $1}' "$1" | sort | uniq -d | head -3 | while read -r id; do grep "^$id " "$1"; done | tr '\n' ';')"
    fi
}
# check_no_running DUMP WHAT: nothing left running (the nodes have stopped).
check_no_running() {
    local n
    n=$(awk '$8 == "running"' "$1" | wc -l)
    [ "$n" -eq 0 ] && ok "$2: none left running" || fail "$2: $n executions stuck running: $(awk '$8 == "running" {print $1, $2, $9}' "$1" | head -3 | tr '\n' ';')"
}
# check_all_success DUMP TASK N WHAT: TASK has N executions, all succeeded.
check_all_success() {
    local total good
    total=$(awk -v t="$2" '$2 == t' "$1" | wc -l)
    good=$(awk -v t="$2" '$2 == t && $8 == "success"' "$1" | wc -l)
    [ "$total" -eq "$3" ] && [ "$good" -eq "$3" ] && ok "$4: $3 runs of $2, all success" ||
        fail "$4: $2 has $total executions ($good success), expected $3 all success; statuses: $(awk -v t="$2" '$2 == t {print $8}' "$1" | sort | uniq -c | tr '\n' ' ')$(not_success "$1" "$2")"
}
# not_success DUMP TASK: up to 3 of TASK's executions that did not succeed, with errors.
not_success() {
    awk -v t="$2" '$2 == t && $8 != "success" {$3 = $4 = $5 = $6 = $7 = ""; print}' "$1" | head -3 | tr -s ' ' | tr '\n' ';' | sed 's/^/; e.g. /'
}
# check_occurrences LOG FROM_S TO_S NTASKS WHAT: each every-second schedule s000..
# started exactly once for each second in [FROM_S, TO_S].
check_occurrences() {
    local out
    out=$(awk -v from="$2" -v to="$3" -v ntasks="$4" '
        $5 ~ /^s[0-9]+$/ { s = $4 / 1000000; if (s >= from && s <= to) seen[$5 " " s]++ }
        END {
            for (i = 0; i < ntasks; i++)
                for (s = from; s <= to; s++) {
                    k = sprintf("s%03d %d", i, s)
                    if (!(k in seen)) missed++
                    else if (seen[k] > 1) twice++
                }
            printf "%d %d %d", missed, twice, ntasks * (to - from + 1)
        }' "$1")
    set -- $out "$5"
    [ "$1" -eq 0 ] && [ "$2" -eq 0 ] && ok "$4: $3 occurrences, each started once" ||
        fail "$4: of $3 occurrences, $1 missed and $2 started more than once"
}
# wait_occurrences LOG SECOND NTASKS: waits (up to 30 s) until the schedules s000.. have
# all started their occurrence of SECOND, so that stopping the nodes after it cuts no
# occurrence of the checked window short. On a time-out the check reports the misses.
second_started() {
    [ "$(awk -v us="${2}000000" '$4 == us && $5 ~ /^s[0-9]+$/' "$1" | wc -l)" -ge "$3" ]
}
wait_occurrences() {
    wait_for 30 second_started "$@" || echo "note: the occurrences of second $2 not all started within 30 s"
}
# check_split LOG LOW_PCT HIGH_PCT WHAT NODE_ID...: each node started between LOW and
# HIGH percent of the runs in LOG.
check_split() {
    local log=$1 low=$2 high=$3 what=$4
    shift 4
    local total line="" n pct bad=0
    total=$(wc -l <"$log")
    for id in "$@"; do
        n=$(awk -v id="$id" '$2 == id' "$log" | wc -l)
        pct=$((total ? n * 100 / total : 0))
        line="$line $id=$pct%"
        { [ "$pct" -ge "$low" ] && [ "$pct" -le "$high" ]; } || bad=1
    done
    [ "$bad" = 0 ] && ok "$what: work split$line" ||
        fail "$what: work split$line (each should run $low-$high %)"
}
# split_by_window LOG WINDOW_S NODE_ID...: one line per WINDOW_S seconds of LOG, the starts
# of each node in it, scheduled and triggered apart: a share that is off overall shows
# here whether one node was away for a while or got less all along.
split_by_window() {
    local log=$1 win=$2
    shift 2
    awk -v win="$win" -v ids="$*" '
        BEGIN { n = split(ids, id, " ") }
        { w = int($3 / (win * 1000000)); if (NR == 1 || w < lo) lo = w; if (NR == 1 || w > hi) hi = w
          c[w, $2, ($4 > 0 ? "s" : "t")]++ }
        END { for (w = lo; NR && w <= hi; w++) {
                  line = sprintf("  +%3ds scheduled", (w - lo) * win)
                  for (j = 1; j <= n; j++) line = line sprintf(" %4d", c[w, id[j], "s"] + 0)
                  line = line "  triggered"
                  for (j = 1; j <= n; j++) line = line sprintf(" %4d", c[w, id[j], "t"] + 0)
                  print line } }' "$log"
}
# lateness_stats LOG: "min p50 p99 max" of start_us - scheduled_us in ms over the
# scheduled starts (the handler's real clock against the occurrence).
lateness_stats() {
    awk '$4 > 0 {print ($3 - $4) / 1000}' "$1" | sort -n | awk '
        { v[NR] = $1 }
        END { if (!NR) { print "0 0 0 0"; exit }
              printf "%d %d %d %d", v[1], v[int(NR * 0.5) + (NR * 0.5 > int(NR * 0.5))],
                     v[int(NR * 0.99) + (NR * 0.99 > int(NR * 0.99))], v[NR] }'
}
