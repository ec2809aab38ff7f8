/* The web dashboard, the HTTP API and the Prometheus metrics of design section 7, on
 * libmicrohttpd. `tasker web` serves a store on its own; `tasker run --web` serves the
 * daemon's handle. One server per call of web_start; it answers from its own threads
 * (one per connection) until web_stop. docs/web.md is the reference. */
#ifndef TASKER_WEB_WEB_H
#define TASKER_WEB_WEB_H

#include <tasker/tasker.h>

#include <stdbool.h>
#include <stddef.h>

#define WEB_DEFAULT_LISTEN "127.0.0.1:8080"
#define WEB_DEFAULT_MAX_BODY_BYTES (64 * 1024) /* a POST body over this is 413 */

typedef struct web_opts {
    const char *listen;     /* "ADDR:PORT" or "[V6ADDR]:PORT"; NULL = 127.0.0.1:8080 */
    const char *token;      /* NULL or "" = none: then only loopback addresses are served */
    const char *token_file; /* read the token from this file (used when token is NULL) */
    bool read_only;         /* every POST is 403 */
    /* true in the daemon: count the runs of this process as they finish, through the
     * exec hook (chained before any hook already set). Call web_start before
     * tasker_start then. false: the counters come from scanning the store. */
    bool observe_runs;
    /* Not NULL: after a trigger, wake the daemon serving this DSN (`tasker web`, whose
     * handle runs nothing itself). */
    const char *wake_dsn;
    size_t max_body_bytes; /* 0 = WEB_DEFAULT_MAX_BODY_BYTES */
} web_opts;

typedef struct web_server web_server;

/* Starts serving t as o says. On success *out is the server and TASKER_OK is returned;
 * else a TASKER_E* code with tasker_last_error() saying why (a bad or non-loopback
 * address without a token: TASKER_EINVAL; the port taken: TASKER_ESTATE). t must
 * outlive the server: call web_stop before tasker_close. */
int web_start(tasker_t *t, const web_opts *o, web_server **out);

/* The address the server listens on, "127.0.0.1:8080" (the port chosen by the system
 * when the listen address said port 0). Owned by the server. */
const char *web_address(const web_server *s);

/* Stops the server: ends live tails, waits for the requests in progress, frees it.
 * NULL is a no-op. The exec hook (observe_runs) stays installed but idle until
 * tasker_close, so runs finishing meanwhile are safe. */
void web_stop(web_server *s);

#endif
