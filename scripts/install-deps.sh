#!/bin/sh
# Installs the Debian 12 packages a command needs, when missing; does nothing when all
# are present. Needs root (or sudo) only when something is missing.
#   scripts/install-deps.sh [SET...]     SET: build (default), test, cluster
#     build    compile the library, the `tasker` command and the tests (make, make run)
#     test     build + what the test suite runs: a private MariaDB server, clang for the
#              fuzzers and their runtime, sqlite3, chromium for the web tests (make test)
#     cluster  test + Galera for the cluster tests
# One variable per set, one package name per word: add a package to the set that needs it.
set -e
BUILD_PKGS="cmake make gcc pkg-config libjansson-dev libsqlite3-dev libmariadb-dev
libcmocka-dev uuid-dev libmicrohttpd-dev"
TEST_PKGS="mariadb-server clang libclang-rt-14-dev sqlite3 chromium chromium-driver
python3-selenium"
CLUSTER_PKGS="galera-4 rsync iproute2"

PKGS=""
[ $# -eq 0 ] && set -- build
for set in "$@"; do
    case "$set" in
    build) PKGS="$PKGS $BUILD_PKGS" ;;
    test) PKGS="$PKGS $BUILD_PKGS $TEST_PKGS" ;;
    cluster) PKGS="$PKGS $BUILD_PKGS $TEST_PKGS $CLUSTER_PKGS" ;;
    *) echo "install-deps: unknown set '$set' (build, test or cluster)" >&2; exit 2 ;;
    esac
done

missing=""
for p in $PKGS; do
    case " $missing " in *" $p "*) continue ;; esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "install-deps: missing packages:$missing; run as root to install them" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet: update only when an install fails.
if ! $SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null; then
    $SUDO apt-get update -q >/dev/null
    $SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
fi
