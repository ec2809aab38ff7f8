#!/bin/bash
# Every public header compiles on its own (C11 and C++), twice included (its guard).
#   bash tests/test_headers.sh BUILD_DIR
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
tmp="$1/tmp/headers"
mkdir -p "$tmp"
for h in "$src"/include/tasker/*.h; do
    name=$(basename "$h")
    printf '#include <tasker/%s>\n#include <tasker/%s>\nint main(void) { return 0; }\n' \
        "$name" "$name" > "$tmp/$name.c"
    cc -std=c11 -Wall -Wextra -Werror -pedantic -I "$src/include" -c "$tmp/$name.c" -o "$tmp/$name.o"
    if command -v g++ >/dev/null; then
        g++ -Wall -Wextra -Werror -I "$src/include" -x c++ -c "$tmp/$name.c" -o "$tmp/$name.cc.o"
    fi
    echo "ok $name"
done
