#!/bin/sh
# Builds the libFuzzer targets with clang and runs fuzz_cron for SECONDS (default 60)
# from the seed corpus in fuzz/corpus/cron/. New inputs go to build-fuzz/corpus/cron/
# (the checked-in seeds are not touched); a crash leaves its input in
# build-fuzz/artifacts/ and makes this script exit nonzero.
#   scripts/fuzz.sh [SECONDS]
set -eu
seconds=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-fuzz"

command -v clang >/dev/null || { echo "fuzz.sh: clang is needed" >&2; exit 2; }
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
      -DTASKER_FUZZ=ON -DTASKER_TESTS=OFF >/dev/null
cmake --build "$build" --target fuzz_cron -j 2 >/dev/null

mkdir -p "$build/corpus/cron" "$build/artifacts"
echo "fuzz.sh: running fuzz_cron for ${seconds}s"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
"$build/fuzz_cron" "$build/corpus/cron" "$root/fuzz/corpus/cron" \
    -dict="$root/fuzz/cron.dict" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=256 -print_final_stats=1 -artifact_prefix="$build/artifacts/" 2>"$build/fuzz_cron.log" || {
    status=$?
    tail -n 60 "$build/fuzz_cron.log" >&2
    echo "fuzz.sh: fuzz_cron failed (exit $status); inputs in $build/artifacts/" >&2
    exit 1
}
grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$build/fuzz_cron.log" || true
echo "fuzz.sh: fuzz_cron ran ${seconds}s with no crash"
