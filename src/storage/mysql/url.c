/* The MySQL driver's URL: mysql://USER:PASS@HOST:PORT/DB?option=value&...
 *
 * USER and PASS are percent-decoded. HOST "localhost" with no port means the default
 * unix socket (as with the mysql client); ?socket=PATH names another. Options:
 * connect_timeout, read_timeout, write_timeout (seconds), pool (connections, at most)
 * and committers (group-commit transactions at once).
 * mariadb:// is accepted as the same thing. */
#include "core/error.h"
#include "storage/mysql/internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

void my_url_clear(my_url *u)
{
    free(u->user);
    free(u->pass);
    free(u->host);
    free(u->db);
    free(u->socket);
    memset(u, 0, sizeof *u);
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    ch = tolower(ch);
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    return -1;
}

/* Copies [p, p+len) percent-decoded into a new string; NULL on a bad escape or
 * no memory (the caller reports which). */
static char *decode(const char *p, size_t len, int *rc)
{
    char *out = malloc(len + 1);
    size_t o = 0;
    if (!out) {
        *rc = TASKER_ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        if (p[i] != '%') {
            out[o++] = p[i];
            continue;
        }
        int hi = i + 2 < len ? hexval((unsigned char)p[i + 1]) : -1;
        int lo = i + 2 < len ? hexval((unsigned char)p[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            free(out);
            *rc = TASKER_EINVAL;
            return NULL;
        }
        out[o++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[o] = '\0';
    return out;
}

static int parse_int_opt(const char *name, const char *val, int min, int max, int *out)
{
    char *end;
    long v = strtol(val, &end, 10);
    if (!*val || *end || v < min || v > max)
        return tasker_fail(TASKER_EINVAL, "mysql url: option %s=%s: expected %d to %d", name,
                           val, min, max);
    *out = (int)v;
    return TASKER_OK;
}

static int set_option(my_url *u, const char *name, const char *val)
{
    if (strcmp(name, "socket") == 0) {
        free(u->socket);
        u->socket = strdup(val);
        return u->socket ? TASKER_OK : tasker_fail(TASKER_ENOMEM, "mysql url: out of memory");
    }
    if (strcmp(name, "connect_timeout") == 0)
        return parse_int_opt(name, val, 1, 3600, &u->connect_timeout_s);
    if (strcmp(name, "read_timeout") == 0)
        return parse_int_opt(name, val, 1, 86400, &u->read_timeout_s);
    if (strcmp(name, "write_timeout") == 0)
        return parse_int_opt(name, val, 1, 86400, &u->write_timeout_s);
    if (strcmp(name, "pool") == 0) return parse_int_opt(name, val, 1, 1024, &u->pool_max);
    if (strcmp(name, "committers") == 0)
        return parse_int_opt(name, val, 1, MY_COMMITTERS_MAX, &u->committers);
    return tasker_fail(TASKER_EINVAL,
                       "mysql url: unknown option '%s' (known: socket, connect_timeout, "
                       "read_timeout, write_timeout, pool, committers)",
                       name);
}

static int parse_options(my_url *u, const char *q)
{
    int rc = TASKER_OK;
    char *copy = strdup(q), *save = NULL;
    if (!copy) return tasker_fail(TASKER_ENOMEM, "mysql url: out of memory");
    for (char *pair = strtok_r(copy, "&", &save); pair && rc == TASKER_OK;
         pair = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(pair, '=');
        if (!eq) {
            rc = tasker_fail(TASKER_EINVAL, "mysql url: option '%s' has no '=value'", pair);
            break;
        }
        *eq = '\0';
        int drc = TASKER_OK;
        char *val = decode(eq + 1, strlen(eq + 1), &drc);
        if (!val) {
            rc = tasker_fail(drc, "mysql url: option '%s': bad %%-escape", pair);
            break;
        }
        rc = set_option(u, pair, val);
        free(val);
    }
    free(copy);
    return rc;
}

/* user[:pass]@ part, if any; advances *p past it. */
static int parse_userinfo(my_url *u, const char **p, const char *auth_end)
{
    const char *at = memchr(*p, '@', (size_t)(auth_end - *p));
    int rc = TASKER_OK;
    if (!at) return tasker_fail(TASKER_EINVAL, "mysql url: no USER@ before the host");
    const char *colon = memchr(*p, ':', (size_t)(at - *p));
    const char *user_end = colon ? colon : at;
    u->user = decode(*p, (size_t)(user_end - *p), &rc);
    if (!u->user) return tasker_fail(rc, "mysql url: bad %%-escape in the user name");
    if (colon) {
        u->pass = decode(colon + 1, (size_t)(at - colon - 1), &rc);
        if (!u->pass) return tasker_fail(rc, "mysql url: bad %%-escape in the password");
    }
    *p = at + 1;
    return TASKER_OK;
}

static int parse_hostport(my_url *u, const char *p, const char *end)
{
    const char *colon = NULL;
    if (*p == '[') { /* [::1]:3306 */
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (!close) return tasker_fail(TASKER_EINVAL, "mysql url: unclosed '[' in the host");
        u->host = strndup(p + 1, (size_t)(close - p - 1));
        if (close + 1 < end && close[1] == ':') colon = close + 1;
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        u->host = strndup(p, (size_t)((colon ? colon : end) - p));
    }
    if (!u->host) return tasker_fail(TASKER_ENOMEM, "mysql url: out of memory");
    if (!*u->host) return tasker_fail(TASKER_EINVAL, "mysql url: no host");
    if (colon) {
        char buf[16];
        size_t len = (size_t)(end - colon - 1);
        char *num_end;
        if (len == 0 || len >= sizeof buf)
            return tasker_fail(TASKER_EINVAL, "mysql url: bad port");
        memcpy(buf, colon + 1, len);
        buf[len] = '\0';
        long port = strtol(buf, &num_end, 10);
        if (*num_end || port < 1 || port > 65535)
            return tasker_fail(TASKER_EINVAL, "mysql url: bad port '%s'", buf);
        u->port = (unsigned)port;
    }
    return TASKER_OK;
}

static int parse_url(const char *url, my_url *u)
{
    const char *p;
    if (strncmp(url, "mysql://", 8) == 0) p = url + 8;
    else if (strncmp(url, "mariadb://", 10) == 0) p = url + 10;
    else return tasker_fail(TASKER_EINVAL, "mysql url: expected mysql://USER:PASS@HOST:PORT/DB");
    const char *slash = strchr(p, '/');
    if (!slash) return tasker_fail(TASKER_EINVAL, "mysql url: no /DATABASE after the host");
    int rc = parse_userinfo(u, &p, slash);
    if (rc != TASKER_OK) return rc;
    if ((rc = parse_hostport(u, p, slash)) != TASKER_OK) return rc;
    const char *q = strchr(slash + 1, '?');
    size_t db_len = q ? (size_t)(q - slash - 1) : strlen(slash + 1);
    u->db = decode(slash + 1, db_len, &rc);
    if (!u->db) return tasker_fail(rc, "mysql url: bad %%-escape in the database name");
    if (!*u->db) return tasker_fail(TASKER_EINVAL, "mysql url: no database name after '/'");
    if (q && q[1]) return parse_options(u, q + 1);
    return TASKER_OK;
}

int my_url_parse(const char *url, my_url *u)
{
    memset(u, 0, sizeof *u);
    u->connect_timeout_s = MY_CONNECT_TIMEOUT_S_DEFAULT;
    u->read_timeout_s = MY_IO_TIMEOUT_S_DEFAULT;
    u->write_timeout_s = MY_IO_TIMEOUT_S_DEFAULT;
    u->pool_max = MY_POOL_MAX_DEFAULT;
    u->committers = MY_COMMITTERS_DEFAULT;
    if (!url) return tasker_fail(TASKER_EINVAL, "mysql url: NULL");
    int rc = parse_url(url, u);
    if (rc != TASKER_OK) my_url_clear(u);
    return rc;
}
