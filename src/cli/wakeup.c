/* The cross-process wakeup socket (see wakeup.h). The name hashes the canonical DSN:
 * for sqlite the absolute, symlink-free path without the ?options, so `--db
 * sqlite:tasker.db` in the daemon's directory and `--db
 * sqlite:/abs/path/tasker.db?sync=full` elsewhere meet; for mysql the server and
 * database without user, password and options, so spellings of one store meet. */
#include "cli/wakeup.h"

#include <ctype.h>
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

const char *wakeup_sqlite_path(const char *dsn, char *buf, size_t size)
{
    if (strncmp(dsn, "sqlite:", 7) != 0) return NULL;
    const char *path = dsn + 7;
    if (strncmp(path, "//", 2) == 0) path += 2; /* sqlite://path, as dsn.c accepts */
    size_t len = strcspn(path, "?");            /* options do not change the store */
    if (len == 0 || len >= size) return NULL;
    memcpy(buf, path, len);
    buf[len] = '\0';
    return buf;
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

/* mysql://USER:PASS@HOST:PORT/DB?socket=S&... as "mysql://HOST:PORT/DB" (port 3306
 * when absent, host lowercased), or "mysql://socket:S/DB" with a socket option. */
static void canonical_mysql(const char *dsn, char *out, size_t size)
{
    const char *rest = strstr(dsn, "://") + 3;
    const char *slash = strchr(rest, '/');
    const char *end_auth = slash ? slash : rest + strlen(rest);
    const char *at = NULL;
    for (const char *p = rest; p < end_auth; p++)
        if (*p == '@') at = p;
    const char *host = at ? at + 1 : rest;
    size_t host_len = (size_t)(end_auth - host);
    const char *db = slash ? slash + 1 : "";
    size_t db_len = strcspn(db, "?");
    const char *socket = NULL;
    for (const char *q = strchr(db, '?'); q; q = strchr(q + 1, '&'))
        if (strncmp(q + 1, "socket=", 7) == 0) socket = q + 8;
    if (socket) {
        snprintf(out, size, "mysql://socket:%.*s/%.*s", (int)strcspn(socket, "&"), socket,
                 (int)db_len, db);
        return;
    }
    char h[256];
    size_t n = host_len < sizeof h - 1 ? host_len : sizeof h - 1;
    for (size_t i = 0; i < n; i++)
        h[i] = (char)tolower((unsigned char)host[i]);
    h[n] = '\0';
    const char *colon = strrchr(h, ':'), *bracket = strrchr(h, ']'); /* [::1]:3307 */
    bool has_port = colon && (!bracket || bracket < colon);
    snprintf(out, size, "mysql://%s%s/%.*s", h[0] ? h : "localhost", has_port ? "" : ":3306",
             (int)db_len, db);
}

void wakeup_name(const char *dsn, char name[32])
{
    char canonical[2 * PATH_MAX + 16], path[PATH_MAX]; /* cwd + path */
    if (wakeup_sqlite_path(dsn, path, sizeof path))
        canonical_sqlite(path, canonical, sizeof canonical);
    else if (strncmp(dsn, "mysql://", 8) == 0 || strncmp(dsn, "mariadb://", 10) == 0)
        canonical_mysql(dsn, canonical, sizeof canonical);
    else
        snprintf(canonical, sizeof canonical, "%s", dsn);
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

bool wakeup_probe(const char *dsn)
{
    if (!wakeup_supported(dsn)) return false;
    struct sockaddr_un addr;
    socklen_t len = make_addr(dsn, &addr);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    /* connect() on a datagram socket sends nothing: it only finds the peer. */
    bool bound = connect(fd, (struct sockaddr *)&addr, len) == 0;
    close(fd);
    return bound;
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
