/* The cross-process wakeup socket (see wakeup.h). The name hashes the canonical DSN:
 * for sqlite the absolute, symlink-free path, so `--db sqlite:tasker.db` in the
 * daemon's directory and `--db sqlite:/abs/path/tasker.db` elsewhere meet. */
#include "cli/wakeup.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

bool wakeup_supported(const char *dsn)
{
    return strcmp(dsn, "memory:") != 0 && strcmp(dsn, "memory") != 0;
}

/* The absolute form of a sqlite path; the path itself when it cannot be resolved
 * (then both sides still agree if they spelt it the same). */
static void canonical_sqlite(const char *path, char *out, size_t size)
{
    char resolved[PATH_MAX], cwd[PATH_MAX];
    if (realpath(path, resolved))
        snprintf(out, size, "sqlite:%s", resolved);
    else if (path[0] != '/' && getcwd(cwd, sizeof cwd))
        snprintf(out, size, "sqlite:%s/%s", cwd, path);
    else
        snprintf(out, size, "sqlite:%s", path);
}

static uint64_t fnv1a64(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

void wakeup_name(const char *dsn, char name[32])
{
    char canonical[PATH_MAX + 16];
    if (strncmp(dsn, "sqlite:", 7) == 0) {
        const char *path = dsn + 7;
        if (strncmp(path, "//", 2) == 0) path += 2; /* sqlite://path, as dsn.c accepts */
        canonical_sqlite(path, canonical, sizeof canonical);
    } else {
        snprintf(canonical, sizeof canonical, "%s", dsn);
    }
    snprintf(name, 32, "tasker-%016llx", (unsigned long long)fnv1a64(canonical));
}

static socklen_t make_addr(const char *dsn, struct sockaddr_un *addr)
{
    char name[32];
    wakeup_name(dsn, name);
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    /* Abstract namespace: a leading NUL, no file to create or clean up. */
    size_t len = strlen(name);
    memcpy(addr->sun_path + 1, name, len);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
}

int wakeup_listen(const char *dsn)
{
    struct sockaddr_un addr;
    socklen_t len = make_addr(dsn, &addr);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    if (bind(fd, (struct sockaddr *)&addr, len) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int wakeup_drain(int fd)
{
    char buf[64];
    int n = 0;
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) >= 0)
        n++;
    return n;
}

bool wakeup_send(const char *dsn)
{
    if (!wakeup_supported(dsn)) return false;
    struct sockaddr_un addr;
    socklen_t len = make_addr(dsn, &addr);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    ssize_t sent = sendto(fd, "wake", 4, MSG_DONTWAIT, (struct sockaddr *)&addr, len);
    /* A full queue means the daemon has wakeups it has not read yet: as good as sent. */
    bool ok = sent == 4 || (sent < 0 && errno == EAGAIN);
    close(fd);
    return ok;
}
