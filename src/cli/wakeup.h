/* The cross-process wakeup: `tasker trigger` stores a pending run, then tells the
 * daemon on the same store to look now, with one datagram to an abstract unix socket
 * whose name is derived from the store's canonical DSN. The daemon answers any datagram
 * with tasker_wake(). The socket carries no data worth trusting: a stray datagram only
 * costs a rescan of pending runs. */
#ifndef TASKER_CLI_WAKEUP_H
#define TASKER_CLI_WAKEUP_H

#include <stdbool.h>
#include <stddef.h>

/* False for stores no other process can see (memory:). */
bool wakeup_supported(const char *dsn);

/* Binds the daemon's socket for dsn; returns a non-blocking fd, or -1 with errno set
 * (EADDRINUSE: another daemon listens for this store). */
int wakeup_listen(const char *dsn);

/* Reads and discards every queued datagram; returns how many there were. */
int wakeup_drain(int fd);

/* True when a daemon listens for dsn (without waking it). */
bool wakeup_probe(const char *dsn);

/* The file path of a sqlite DSN, without its ?options, into buf; NULL when dsn is not
 * sqlite (or the path does not fit). */
const char *wakeup_sqlite_path(const char *dsn, char *buf, size_t size);

/* Sends one datagram to the daemon of dsn. False when no daemon listens. */
bool wakeup_send(const char *dsn);

/* The socket name for dsn (for messages and tests): "tasker-<16 hex digits>". */
void wakeup_name(const char *dsn, char name[32]);

#endif
