#!/bin/bash
# The installed library is usable from outside: headers, libtasker, tasker.pc and the
# CMake package. Installs the test build into a temporary prefix, then builds a small
# program against it with pkg-config and with CMake, and runs both.
#   bash tests/test_install.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
tmp="$build/tmp/install-test"
rm -rf "$tmp" && mkdir -p "$tmp"
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null

cat > "$tmp/app.c" <<'C'
#include <tasker/context.h>
#include <stdio.h>
static int hello(tasker_ctx *c) { return tasker_success(c, "\"hi\""); }
int main(void)
{
    tasker_t *t = tasker_open("memory:");
    char id[TASKER_ID_SIZE];
    tasker_task_exec e;
    if (!t || tasker_register(t, "hello", hello, NULL) || tasker_add_task(t, "a", "hello", NULL) ||
        tasker_trigger(t, "a", id) || tasker_wait(t, id, 5000) || tasker_get_exec(t, id, &e)) {
        fprintf(stderr, "app: %s\n", tasker_last_error());
        return 1;
    }
    printf("%s %s\n", tasker_exec_status_name(e.status), e.result);
    tasker_exec_clear(&e);
    tasker_close(t);
    return 0;
}
C
# The test build is sanitized; so must the program be that links it.
san=""
grep -q "TASKER_SANITIZE:BOOL=ON" "$build/CMakeCache.txt" && san="-fsanitize=address,undefined"
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig:$tmp/prefix/lib/x86_64-linux-gnu/pkgconfig"
cc $san -o "$tmp/app-pc" "$tmp/app.c" $(pkg-config --cflags tasker) \
   $(pkg-config --libs --static tasker) -Wl,-rpath,"$tmp/prefix/lib"
out=$(LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/app-pc")
[ "$out" = 'success "hi"' ] || { echo "pkg-config build printed: $out"; exit 1; }

mkdir -p "$tmp/cm"
cat > "$tmp/cm/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.25)
project(app C)
find_package(tasker REQUIRED)
add_executable(app-cmake $tmp/app.c)
target_compile_options(app-cmake PRIVATE $san)
target_link_options(app-cmake PRIVATE $san)
target_link_libraries(app-cmake tasker::tasker)
CM
cmake -S "$tmp/cm" -B "$tmp/cm/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cm/build" >/dev/null
out=$("$tmp/cm/build/app-cmake")
[ "$out" = 'success "hi"' ] || { echo "CMake build printed: $out"; exit 1; }
echo "install test: pkg-config and CMake builds ran: $out"
