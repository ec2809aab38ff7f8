#!/bin/bash
# Every C program in README.md builds: each ```c block that defines main() is cut out and
# compiled with -Wall -Wextra -Werror against the headers of this tree, then linked with
# BUILD_DIR's libtasker.a. Blocks without main are fragments and are skipped; a block that
# includes a header of tests/ ("storage_conformance.h": the driver author's test, with the
# author's own driver) is compiled but not linked.
#   bash tests/test_readme.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
tmp="$build/tmp/readme-test"
rm -rf "$tmp" && mkdir -p "$tmp"

# Split the README's ```c blocks into block-N.c (N counts every ```c block, from 1).
awk -v dir="$tmp" '
    /^```c[ \t]*$/ { n++; inside = 1; file = sprintf("%s/block-%d.c", dir, n); next }
    /^```/ && inside { inside = 0; close(file); next }
    inside { print > file }
' "$src/README.md"

san=""
grep -q "TASKER_SANITIZE:BOOL=ON" "$build/CMakeCache.txt" && san="-fsanitize=address,undefined"
# shellcheck disable=SC2046
libs="$build/libtasker.a $(pkg-config --libs jansson sqlite3 libmariadb) -lpthread -lm"
built=0
for f in "$tmp"/block-*.c; do
    [ -e "$f" ] || break
    grep -Eq '^[a-z].*\bmain[ ]*\(' "$f" || continue
    # shellcheck disable=SC2086
    link="-o ${f%.c} $f $libs"
    grep -q '^#include "' "$f" && link="-c -o ${f%.c}.o $f"
    # shellcheck disable=SC2086
    if ! cc -std=c11 -Wall -Wextra -Werror $san -I"$src/include" -I"$src/tests" $link \
            2>"${f%.c}.log"; then
        echo "README.md: the C program in $(basename "$f" .c) does not build:"
        cat "${f%.c}.log"
        exit 1
    fi
    built=$((built + 1))
done
[ "$built" -ge 1 ] || { echo "README.md: no C block with main() found"; exit 1; }
echo "readme test: $built C program(s) from README.md build"
