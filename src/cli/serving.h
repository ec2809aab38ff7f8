/* Who serves a store: whether some running process will run the pending runs of a
 * handler, answered only as far as it is known. `tasker trigger` says "no running
 * process has handler ..." and `tasker status` calls pending runs out only when the
 * answer is SERVING_NO; a C program serving the store, a DSN spelt differently or a
 * store on another host make it SERVING_UNKNOWN, and then nothing is claimed. */
#ifndef TASKER_CLI_SERVING_H
#define TASKER_CLI_SERVING_H

#include <tasker/tasker.h>

#include <stdbool.h>
#include <stddef.h>

typedef enum { SERVING_UNKNOWN, SERVING_YES, SERVING_NO } serving_answer;

/* What is known of the processes sharing t's store (dsn): read once, asked per
 * handler. */
typedef struct serving {
    tasker_node *nodes;
    size_t nnodes;
    bool nodes_ok;       /* tasker_list_nodes answered */
    bool others_listed;  /* it listed a live node other than this process */
    bool daemon_listens; /* a `tasker run` on this host listens for dsn */
    int store_holders;   /* sqlite: other processes with the file open; -1 unknown */
} serving;

/* Gathers what is known; never fails (what cannot be read stays unknown). Free with
 * serving_free(). */
void serving_read(serving *s, tasker_t *t, const char *dsn);
void serving_free(serving *s);

/* Whether a running process has handler: YES when it is 'shell' and a daemon listens,
 * NO when no other process has the SQLite file open at all, YES when a live node
 * lists it, NO when the nodes listing shows other live nodes and none has it; else
 * UNKNOWN. (A SQLite file on a network file system shared by hosts would defeat the
 * file-lock test; tasker does not support that.) */
serving_answer serving_handler(const serving *s, const char *handler);

/* Other processes holding a POSIX lock on the sqlite file of dsn (SQLite keeps a
 * shared lock on it while a connection is open in WAL mode), from /proc/locks: a count,
 * or -1 when dsn is not sqlite or it cannot be told. */
int serving_sqlite_holders(const char *dsn);

#endif
