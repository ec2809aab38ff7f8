# Shared by the end-to-end tests of the `tasker` command (tests/test_cli_*.sh):
#   . "$(dirname "$0")/support/cli_lib.sh" NAME BUILD_DIR
# sets TASKER (the binary), TMP (a private directory, removed at exit with any process
# whose pid a test wrote to $TMP/*.pid), TASKER_DSN (a store in TMP), and the helpers
# below. A test may define cli_cleanup_extra to kill more at exit; it ends with
# cli_finish.
set -u
cli_name=$1
BUILD=${2:?usage: bash test_cli_$cli_name.sh BUILD_DIR}
TASKER=$(cd "$BUILD" && pwd)/tasker
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tasker-cli-$cli_name.XXXXXX")
export TASKER_DSN="sqlite:$TMP/t.db"
failures=0
cli_cleanup() {
    if declare -F cli_cleanup_extra >/dev/null; then cli_cleanup_extra; fi
    for f in "$TMP"/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cli_cleanup EXIT

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
# run EXPECTED_CODE CMD...: runs the command with out/err captured in $TMP/out, $TMP/err.
run() {
    local want=$1
    shift
    "$@" >"$TMP/out" 2>"$TMP/err"
    local got=$?
    [ "$got" = "$want" ] && return 0
    fail "'$*' exited $got, expected $want; stderr: $(head -c 2000 "$TMP/err")"
    return 1
}
has() { grep -qF -- "$2" "$TMP/$1" || { fail "$1 lacks '$2': $(head -c 3000 "$TMP/$1")"; return 1; }; }
lacks() { ! grep -qF -- "$2" "$TMP/$1" || { fail "$1 has '$2'"; return 1; }; }
# The first value of a field in indented JSON output (one field per line).
json_str() { sed -n "s/^ *\"$2\": \"\\(.*\\)\",\\?$/\\1/p" "$TMP/$1" | head -n 1; }
# wait_for SECONDS CMD...: polls CMD every 50 ms until it succeeds; false on timeout.
wait_for() {
    local deadline=$(($(date +%s%N) + $1 * 1000000000))
    shift
    until "$@"; do
        [ "$(date +%s%N)" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}
# gone PID: the process no longer runs (absent, or a zombie nobody reaped yet).
gone() { [ ! -e "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
# add ID PARAM_JSON: a shell task.
add() { "$TASKER" task add "$1" --handler shell --param "$2" >/dev/null || fail "task add $1"; }
cli_finish() {
    if [ "$failures" -ne 0 ]; then
        echo "$failures failure(s)" >&2
        exit 1
    fi
    echo "all passed"
}
