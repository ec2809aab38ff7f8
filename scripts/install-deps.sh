#!/bin/sh
# Installs the Debian packages that building and testing tasker need, when missing.
# Does nothing when all are present. Needs root (or sudo) only when something is missing.
set -e
PKGS="cmake make gcc pkg-config libjansson-dev libsqlite3-dev libmariadb-dev
mariadb-server libcmocka-dev uuid-dev libmicrohttpd-dev clang libclang-rt-14-dev sqlite3 galera-4 rsync iproute2"
missing=""
for p in $PKGS; do
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
