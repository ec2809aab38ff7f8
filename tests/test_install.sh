#!/bin/bash
# The installed library is usable from outside: headers, libtasker (shared and static),
# tasker.pc, the CMake package and the man page. Installs BUILD_DIR into a temporary
# prefix, then builds a small program against it four ways (pkg-config shared and static,
# CMake tasker::tasker and tasker::tasker_static), with -Werror, and runs each.
#   bash tests/test_install.sh BUILD_DIR      (CI runs it on the release and the ASan build)
set -euo pipefail
build=$(cd "$1" && pwd)
tmp="$build/tmp/install-test"
rm -rf "$tmp" && mkdir -p "$tmp"
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
prefix="$tmp/prefix"

[ -s "$prefix/share/man/man1/tasker.1" ] || { echo "man page not installed"; exit 1; }
[ -x "$prefix/bin/tasker" ] || { echo "tasker command not installed"; exit 1; }

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
# A sanitized build's library needs a sanitized program.
san=""
grep -q "TASKER_SANITIZE:BOOL=ON" "$build/CMakeCache.txt" && san="-fsanitize=address,undefined"
cflags="-std=c11 -Wall -Wextra -Werror $san"

# check NAME PROGRAM yes|no: runs PROGRAM, and checks whether it loads libtasker.so.
check() {
    local out
    out=$(LD_LIBRARY_PATH="$prefix/lib" "$2")
    [ "$out" = 'success "hi"' ] || { echo "$1: the program printed: $out"; exit 1; }
    if ldd "$2" | grep -c "libtasker\.so" >/dev/null; then
        [ "$3" = yes ] || { echo "$1: linked libtasker.so, expected the static library"; exit 1; }
    else
        [ "$3" = no ] || { echo "$1: did not link libtasker.so"; exit 1; }
    fi
    echo "install test: $1: ok"
}

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig:$prefix/lib/x86_64-linux-gnu/pkgconfig"
# shellcheck disable=SC2046
cc $cflags -o "$tmp/app-pc" "$tmp/app.c" $(pkg-config --cflags tasker) \
   $(pkg-config --libs tasker) -Wl,-rpath,"$prefix/lib"
check "pkg-config, shared" "$tmp/app-pc" yes
# Static: libtasker.a by name (-l:), then what pkg-config --static says it needs.
static_libs=$(pkg-config --libs --static tasker | sed 's/-ltasker\b/-l:libtasker.a/')
# shellcheck disable=SC2086
cc $cflags -o "$tmp/app-pc-static" "$tmp/app.c" $(pkg-config --cflags tasker) $static_libs
check "pkg-config, static" "$tmp/app-pc-static" no

for target in tasker tasker_static; do
    dir="$tmp/cm-$target"
    mkdir -p "$dir"
    cat > "$dir/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.25)
project(app C)
find_package(tasker REQUIRED)
add_executable(app-cmake $tmp/app.c)
target_compile_options(app-cmake PRIVATE $cflags)
target_link_options(app-cmake PRIVATE $san)
target_link_libraries(app-cmake tasker::$target)
CM
    cmake -S "$dir" -B "$dir/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
    cmake --build "$dir/build" >/dev/null
    if [ $target = tasker ]; then shared=yes; else shared=no; fi
    check "CMake, tasker::$target" "$dir/build/app-cmake" $shared
done
