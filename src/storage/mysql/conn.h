/* The MySQL driver's base part (layer 1): the URL (url.c; my_url_parse is in
 * internal.h), connections and their pool, a lane's own connection, what a failed call
 * means, the failure log, the clocks, the trace, and reads on a pooled connection
 * (conn.c). It calls no other part of the driver. */
#ifndef TASKER_SRC_MYSQL_CONN_H
#define TASKER_SRC_MYSQL_CONN_H

#include "storage/mysql/internal.h"

/* Every thread that calls Connector/C calls this first. */
int my_thread_enter(void);

/* ---- connections and the pool ---- */
/* Takes an idle connection, or opens one while under url.pool_max, or waits for one. */
int my_conn_get(my_store *s, my_conn **out);
/* Gives c back to the pool; closes it when broken or made before the server was lost. */
void my_conn_put(my_store *s, my_conn *c);
/* Closes c with its statements (NULL: nothing). */
void my_conn_free(my_conn *c);
/* Whether a connection made since the server was last lost is at hand. */
bool my_conn_at_hand(my_store *s);
/* The connection for a batch of l (kept from batch to batch, autocommit off), and
 * giving it back after: a connection found lost is closed. */
int my_lane_conn(my_lane *l, my_conn **out);
void my_lane_conn_done(my_lane *l, my_conn *c);
/* Runs one statement with no parameters and no rows (DDL, SET), prepared and freed. */
int my_exec_once(my_store *s, my_conn *c, const char *sql);

/* ---- what a failed call means (my_trx_lost: internal.h) ---- */
/* Sets the thread's error for a failed call on c, marks c broken if the server went
 * away, and returns TASKER_ESTORAGE. what names the operation. */
int my_fail_conn(my_store *s, my_conn *c, const char *what);
int my_fail_stmt(my_store *s, my_conn *c, MYSQL_STMT *st, const char *what);
/* True when err means the connection is gone (the server restarted, network cut). */
bool my_errno_is_lost(unsigned err);
/* True when err ends the transaction, not just the statement, and the batch may simply
 * run again: a deadlock or a Galera certification failure (1213), a lock wait timeout
 * (1205), a Galera member not ready (1047), or the connection lost before COMMIT. */
bool my_errno_retries(unsigned err);
/* Whether c's server is a Galera member with replication on (@@wsrep_on), asked once
 * per connection; false on a server without wsrep (MySQL). TASKER_OK or the failure. */
int my_conn_wsrep(my_store *s, my_conn *c, bool *on);

/* ---- clocks, the failure log, the trace ---- */
int64_t my_now_us(my_store *s);  /* the core's clock when it set one, else the system's */
int64_t my_real_now_us(void);    /* the system clock, whatever the core's clock says */
int64_t my_mono_us(void);        /* the monotonic clock */
/* Writes msg (printf-style) to stderr, at most once per few seconds per store: a store
 * that is away is said, not hammered into the log. */
void my_log_failure(my_store *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* TASKER_MYSQL_TRACE: opens s->trace (DIR/mysql-trace.PID) when the variable is set. */
void my_trace_open(my_store *s);
/* Writes one line to s->trace (when open), prefixed with the monotonic time in us. */
void my_trace(my_store *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- reads ---- */
typedef int (*my_read_fn)(my_store *s, my_conn *c, void *ctx);
/* Runs a read on a pooled connection; retried once if the connection was lost. */
int my_read(my_store *s, my_read_fn fn, void *ctx);

#endif
