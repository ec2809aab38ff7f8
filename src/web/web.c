/* Starting and stopping a web server: the listen address (loopback only without a
 * token), the token file, the libmicrohttpd daemon with a thread per connection, and
 * the exec hook that feeds the metrics in the daemon. */
#include "web/internal.h"

#include <tasker/storage.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define WEB_CONNECTION_LIMIT 1024    /* at once; more wait in the listen queue */
#define WEB_CONNECTION_TIMEOUT_S 120 /* an idle connection is closed after this */
#define WEB_MAX_TOKEN_BYTES 4096

/* "127.0.0.1:8080", "[::1]:8080", "localhost:8080" or ":8080" (every address) into
 * *addr. */
static int parse_listen(const char *listen, struct sockaddr_storage *addr, socklen_t *addr_len)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon[1] == '\0')
        return tasker_set_error(TASKER_EINVAL, "web: listen address '%s': expected ADDR:PORT",
                                listen);
    size_t hlen = (size_t)(colon - listen);
    if (hlen >= sizeof host)
        return tasker_set_error(TASKER_EINVAL, "web: listen address '%.40s...' is too long",
                                listen);
    memcpy(host, listen, hlen);
    host[hlen] = '\0';
    if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
        memmove(host, host + 1, hlen - 2);
        host[hlen - 2] = '\0';
    }
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return tasker_set_error(TASKER_EINVAL, "web: listen address '%s': bad port '%s'", listen,
                                colon + 1);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(*host ? host : NULL, colon + 1, &hints, &res);
    if (gai != 0 || !res)
        return tasker_set_error(TASKER_EINVAL, "web: listen address '%s': %s", listen,
                                gai ? gai_strerror(gai) : "no address");
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return TASKER_OK;
}

static bool is_loopback(const struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
    if (a->ss_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)a)->sin6_addr);
    return false;
}

/* The token in file path: its first line, without surrounding blanks. */
static int read_token_file(const char *path, char **out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return tasker_set_error(TASKER_EINVAL, "web: token file '%s': %s", path, strerror(errno));
    char buf[WEB_MAX_TOKEN_BYTES + 2];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    char *s = buf;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        s[--len] = '\0';
    if (len == 0) return tasker_set_error(TASKER_EINVAL, "web: token file '%s' is empty", path);
    if (len > WEB_MAX_TOKEN_BYTES)
        return tasker_set_error(TASKER_EINVAL, "web: token file '%s': over %d bytes", path,
                                WEB_MAX_TOKEN_BYTES);
    if (!(*out = strdup(s))) return tasker_set_error(TASKER_ENOMEM, "web: out of memory");
    return TASKER_OK;
}

static void format_address(web_server *s, const struct sockaddr_storage *a)
{
    char host[INET6_ADDRSTRLEN] = "?";
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = info ? info->port : 0;
    if (a->ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, host, sizeof host);
        snprintf(s->address, sizeof s->address, "%s:%u", host, port);
    } else {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, host, sizeof host);
        snprintf(s->address, sizeof s->address, "[%s]:%u", host, port);
    }
}

static int configure(web_server *s, tasker_t *t, const web_opts *o)
{
    s->t = t;
    s->read_only = o->read_only;
    s->max_body = o->max_body_bytes ? o->max_body_bytes : WEB_DEFAULT_MAX_BODY_BYTES;
    pthread_mutex_init(&s->stop_lock, NULL);
    pthread_cond_init(&s->stop_cond, NULL);
    pthread_mutex_init(&s->snap_lock, NULL);
    pthread_mutex_init(&s->refresh_lock, NULL);
    if (o->token && *o->token) {
        if (!(s->token = strdup(o->token)))
            return tasker_set_error(TASKER_ENOMEM, "web: out of memory");
    } else if (o->token_file) {
        int rc = read_token_file(o->token_file, &s->token);
        if (rc != TASKER_OK) return rc;
    }
    s->token_len = s->token ? strlen(s->token) : 0;
    if (o->wake_dsn && !(s->wake_dsn = strdup(o->wake_dsn)))
        return tasker_set_error(TASKER_ENOMEM, "web: out of memory");
    if (!(s->metrics = metrics_new())) return tasker_set_error(TASKER_ENOMEM, "web: out of memory");
    return TASKER_OK;
}

static int listen_on(web_server *s, const char *listen)
{
    struct sockaddr_storage addr;
    socklen_t addr_len = 0;
    int rc = parse_listen(listen, &addr, &addr_len);
    if (rc != TASKER_OK) return rc;
    if (!s->token && !is_loopback(&addr))
        return tasker_set_error(
            TASKER_EINVAL,
            "web: '%s' is not a loopback address; serving other hosts needs "
            "a token (tasker web --token-file; tasker run --web: $TASKER_WEB_TOKEN_FILE)",
            listen);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ERROR_LOG | (addr.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, web_on_request, s, MHD_OPTION_SOCK_ADDR,
                              (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT,
                              (unsigned)WEB_CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
                              (unsigned)WEB_CONNECTION_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED,
                              web_on_completed, s, MHD_OPTION_END);
    if (!s->mhd)
        return tasker_set_error(TASKER_ESTATE, "web: cannot listen on %s (port in use?)", listen);
    format_address(s, &addr);
    return TASKER_OK;
}

int web_start(tasker_t *t, const web_opts *o, web_server **out)
{
    if (!t || !o || !out) return tasker_set_error(TASKER_EINVAL, "web_start: NULL argument");
    *out = NULL;
    web_server *s = calloc(1, sizeof *s);
    if (!s) return tasker_set_error(TASKER_ENOMEM, "web: out of memory");
    int rc = configure(s, t, o);
    if (rc == TASKER_OK && o->observe_runs && (rc = metrics_tap(t, s->metrics, true)) == TASKER_OK)
        s->observing = true;
    if (rc == TASKER_OK) rc = listen_on(s, o->listen ? o->listen : WEB_DEFAULT_LISTEN);
    if (rc != TASKER_OK) {
        web_stop(s);
        return rc;
    }
    *out = s;
    return TASKER_OK;
}

const char *web_address(const web_server *s)
{
    return s ? s->address : "";
}

void web_stop(web_server *s)
{
    if (!s) return;
    atomic_store(&s->stopping, true);
    pthread_mutex_lock(&s->stop_lock);
    pthread_cond_broadcast(&s->stop_cond);
    pthread_mutex_unlock(&s->stop_lock);
    if (s->mhd) MHD_stop_daemon(s->mhd); /* waits for the connection threads */
    if (s->observing) metrics_tap(s->t, s->metrics, false);
    web_snapshot_drop(s);
    metrics_free(s->metrics);
    free(s->token);
    free(s->wake_dsn);
    pthread_mutex_destroy(&s->stop_lock);
    pthread_cond_destroy(&s->stop_cond);
    pthread_mutex_destroy(&s->snap_lock);
    pthread_mutex_destroy(&s->refresh_lock);
    free(s);
}
