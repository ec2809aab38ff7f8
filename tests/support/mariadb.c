/* Tests' private MariaDB server (see mariadb.h): data directory, mariadbd process,
 * readiness, stop and restart, admin SQL, and DSNs pointing into it.
 *
 * Layout under BUILD/mariadb-test/<program>/: data/ (the data directory, created
 * afresh by mariadb-install-db at the first start in a process), mysqld.sock,
 * mysqld.pid, error.log. Networking is off: only the unix socket listens, so tests
 * running in parallel (one server per test program) never fight over a port. */
#include "support/mariadb.h"

#include "storage/mysql/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <mysql.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef TASKER_TEST_BUILD_DIR
#define TASKER_TEST_BUILD_DIR "."
#endif

#define READY_TIMEOUT_MS 60000
#define STOP_TIMEOUT_MS 60000

static struct {
    bool initialised; /* data directory made in this process */
    bool external;
    pid_t pid;        /* the running mariadbd, 0 when none */
    bool atexit_set;
    char dir[512], data[600], tmp[600], sock[600], pidfile[600], log[600];
    my_url ext;       /* TASKER_TEST_MYSQL_DSN, parsed */
    char error[1024];
} srv;

static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(srv.error, sizeof srv.error, fmt, ap);
    va_end(ap);
    return -1;
}

const char *tasker_test_mariadb_error(void) { return srv.error; }
bool tasker_test_mariadb_external(void) { return srv.external; }

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The server's first [ERROR] line, else the end of its log, for failure messages. */
static const char *log_tail(void)
{
    static char text[700];
    char line[700];
    text[0] = '\0';
    FILE *f = fopen(srv.log, "r");
    if (!f) return "(no error log)";
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "[ERROR]")) {
            snprintf(text, sizeof text, "%s", line);
            fclose(f);
            return text;
        }
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size > 600 ? size - 600 : 0, SEEK_SET);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* Runs argv to completion, output into the log; returns its exit status or -1. */
static int run_wait(char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int fd = open(srv.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static MYSQL *admin_connect(void)
{
    MYSQL *db = mysql_init(NULL);
    unsigned timeout_s = 10;
    if (!db) return NULL;
    mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout_s);
    bool ok = srv.external
                  ? mysql_real_connect(db, srv.ext.host, srv.ext.user, srv.ext.pass, NULL,
                                       srv.ext.port, srv.ext.socket, 0) != NULL
                  : mysql_real_connect(db, "localhost", "root", NULL, NULL, 0, srv.sock, 0) != NULL;
    if (!ok) {
        fail("cannot connect as admin: %s", mysql_error(db));
        mysql_close(db);
        return NULL;
    }
    return db;
}

static int set_paths(void)
{
    const char *build = getenv("TASKER_TEST_BUILD_DIR");
    if (!build || !*build) build = TASKER_TEST_BUILD_DIR;
    snprintf(srv.dir, sizeof srv.dir, "%s/mariadb-test/%s", build,
             program_invocation_short_name);
    snprintf(srv.data, sizeof srv.data, "%s/data", srv.dir);
    snprintf(srv.tmp, sizeof srv.tmp, "%s/tmp", srv.dir);
    snprintf(srv.pidfile, sizeof srv.pidfile, "%s/mysqld.pid", srv.dir);
    snprintf(srv.log, sizeof srv.log, "%s/error.log", srv.dir);
    snprintf(srv.sock, sizeof srv.sock, "%s/mysqld.sock", srv.dir);
    /* A unix socket path must fit in sun_path (108 bytes). */
    if (strlen(srv.sock) >= 100)
        snprintf(srv.sock, sizeof srv.sock, "/tmp/tasker-mariadb-%ld.sock", (long)getpid());
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "%s/mariadb-test", build);
    mkdir(cmd, 0755);
    if (mkdir(srv.dir, 0755) != 0 && errno != EEXIST)
        return fail("cannot create %s: %s", srv.dir, strerror(errno));
    /* A private tmpdir: servers sharing /tmp have been seen to trip on each other's
     * temporary tables while bootstrapping. */
    if (mkdir(srv.tmp, 0755) != 0 && errno != EEXIST)
        return fail("cannot create %s: %s", srv.tmp, strerror(errno));
    return 0;
}

/* A server left running by an earlier, crashed run of this program holds the data
 * directory: stop it, by the pid it recorded, if it is one of ours. */
static void stop_leftover(void)
{
    FILE *f = fopen(srv.pidfile, "r");
    long pid = 0;
    if (!f) return;
    if (fscanf(f, "%ld", &pid) != 1) pid = 0;
    fclose(f);
    if (pid <= 1) return;
    char path[64], cmdline[1024] = {0};
    snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
    FILE *c = fopen(path, "r");
    if (!c) return;
    size_t n = fread(cmdline, 1, sizeof cmdline - 1, c);
    fclose(c);
    for (size_t i = 0; i < n; i++)
        if (!cmdline[i]) cmdline[i] = ' ';
    if (!strstr(cmdline, srv.data)) return;
    kill((pid_t)pid, SIGKILL);
    for (int i = 0; i < 100 && kill((pid_t)pid, 0) == 0; i++) pause_ms(50);
}

static int init_datadir(void)
{
    char rm[1400], datadir_opt[700], tmpdir_opt[700];
    stop_leftover();
    snprintf(rm, sizeof rm, "rm -rf '%s' '%s'", srv.data, srv.log);
    if (system(rm) != 0) return fail("cannot clear %s", srv.data);
    snprintf(datadir_opt, sizeof datadir_opt, "--datadir=%s", srv.data);
    snprintf(tmpdir_opt, sizeof tmpdir_opt, "--tmpdir=%s", srv.tmp);
    char *argv[] = {"mariadb-install-db", "--no-defaults", datadir_opt, tmpdir_opt, "--user=root",
                    "--auth-root-authentication-method=normal", "--skip-test-db",
                    "--skip-name-resolve", "--innodb-log-file-size=16M", NULL};
    int rc = run_wait(argv);
    if (rc != 0)
        return fail("mariadb-install-db failed (exit %d; is mariadb-server installed?): %s",
                    rc, log_tail());
    srv.initialised = true;
    return 0;
}

static void spawn_server(void)
{
    char datadir_opt[700], sock_opt[700], pid_opt[700], log_opt[700], tmpdir_opt[700];
    snprintf(datadir_opt, sizeof datadir_opt, "--datadir=%s", srv.data);
    snprintf(tmpdir_opt, sizeof tmpdir_opt, "--tmpdir=%s", srv.tmp);
    snprintf(sock_opt, sizeof sock_opt, "--socket=%s", srv.sock);
    snprintf(pid_opt, sizeof pid_opt, "--pid-file=%s", srv.pidfile);
    snprintf(log_opt, sizeof log_opt, "--log-error=%s", srv.log);
    /* innodb_flush_log_at_trx_commit=1: every commit is flushed, as in production. */
    char *argv[] = {"mariadbd", "--no-defaults", datadir_opt, tmpdir_opt, sock_opt, pid_opt, log_opt,
                    "--user=root", "--skip-networking", "--skip-name-resolve",
                    "--innodb-buffer-pool-size=128M", "--innodb-log-file-size=16M",
                    "--innodb-flush-log-at-trx-commit=1", "--max-connections=500",
                    "--skip-log-bin", NULL};
    execvp(argv[0], argv);
    _exit(127);
}

static int wait_ready(void)
{
    int64_t deadline_ms = now_ms() + READY_TIMEOUT_MS;
    while (now_ms() < deadline_ms) {
        int status;
        if (waitpid(srv.pid, &status, WNOHANG) == srv.pid) {
            srv.pid = 0;
            return fail("mariadbd exited at startup: %s", log_tail());
        }
        MYSQL *db = admin_connect();
        if (db) {
            mysql_close(db);
            return 0;
        }
        pause_ms(50);
    }
    return fail("mariadbd not ready within %d ms: %s", READY_TIMEOUT_MS, log_tail());
}

static void stop_at_exit(void) { tasker_test_mariadb_stop(); }

static int start_external(const char *dsn)
{
    char with_db[1024];
    /* The URL parser wants a database; the admin connection does not use it. */
    const char *auth = strstr(dsn, "://");
    const char *slash = auth ? strchr(auth + 3, '/') : NULL;
    if (slash && (slash[1] == '\0' || slash[1] == '?'))
        snprintf(with_db, sizeof with_db, "%.*smysql%s", (int)(slash + 1 - dsn), dsn, slash + 1);
    else
        snprintf(with_db, sizeof with_db, "%s", dsn);
    if (!srv.ext.host && my_url_parse(with_db, &srv.ext) != 0)
        return fail("TASKER_TEST_MYSQL_DSN '%s': %s", dsn, tasker_last_error());
    srv.external = true;
    MYSQL *db = admin_connect();
    if (!db) return -1;
    mysql_close(db);
    return 0;
}

int tasker_test_mariadb_start(void)
{
    const char *ext = getenv("TASKER_TEST_MYSQL_DSN");
    if (ext && *ext) return start_external(ext);
    if (srv.pid) return 0;
    if (!srv.dir[0] && set_paths() != 0) return -1;
    if (!srv.initialised && init_datadir() != 0) return -1;
    fflush(NULL);
    srv.pid = fork();
    if (srv.pid < 0) return fail("fork: %s", strerror(errno));
    if (srv.pid == 0) {
        int fd = open(srv.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        spawn_server();
    }
    if (!srv.atexit_set) {
        atexit(stop_at_exit);
        srv.atexit_set = true;
    }
    return wait_ready();
}

static int stop_with(int sig)
{
    if (srv.external) return fail("an external server (TASKER_TEST_MYSQL_DSN) is not ours to stop");
    if (!srv.pid) return 0;
    kill(srv.pid, sig);
    int64_t deadline_ms = now_ms() + STOP_TIMEOUT_MS;
    for (;;) {
        int status;
        pid_t got = waitpid(srv.pid, &status, WNOHANG);
        if (got == srv.pid || (got < 0 && errno == ECHILD)) break;
        if (now_ms() > deadline_ms) {
            kill(srv.pid, SIGKILL);
            waitpid(srv.pid, &status, 0);
            break;
        }
        pause_ms(20);
    }
    srv.pid = 0;
    return 0;
}

int tasker_test_mariadb_stop(void) { return stop_with(SIGTERM); }
int tasker_test_mariadb_kill(void) { return stop_with(SIGKILL); }

int tasker_test_mariadb_sql(const char *sql)
{
    MYSQL *db = admin_connect();
    if (!db) return -1;
    int rc = 0;
    if (mysql_query(db, sql) != 0) rc = fail("admin SQL '%s': %s", sql, mysql_error(db));
    mysql_close(db);
    return rc;
}

int tasker_test_mariadb_query_int(const char *sql, long long *value)
{
    MYSQL *db = admin_connect();
    if (!db) return -1;
    int rc = -1;
    MYSQL_RES *res = NULL;
    if (mysql_query(db, sql) != 0 || !(res = mysql_store_result(db))) {
        fail("admin SQL '%s': %s", sql, mysql_error(db));
    } else {
        MYSQL_ROW row = mysql_fetch_row(res);
        if (row && row[0]) {
            *value = strtoll(row[0], NULL, 10);
            rc = 0;
        } else {
            fail("admin SQL '%s': no value", sql);
        }
    }
    if (res) mysql_free_result(res);
    mysql_close(db);
    return rc;
}

int tasker_test_mariadb_fresh_db(const char *db)
{
    char sql[300];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS `%s`", db);
    if (tasker_test_mariadb_sql(sql) != 0) return -1;
    snprintf(sql, sizeof sql, "CREATE DATABASE `%s` CHARACTER SET utf8mb4", db);
    return tasker_test_mariadb_sql(sql);
}

static struct {
    char prefix[32];
    int count;
} fresh_made[16]; /* per prefix: how many databases tasker_test_mariadb_fresh_dsn made */

char *tasker_test_mariadb_fresh_dsn(const char *prefix, const char *extra)
{
    int slot = 0;
    while (slot < 16 && fresh_made[slot].prefix[0] && strcmp(fresh_made[slot].prefix, prefix))
        slot++;
    if (slot == 16) {
        fail("tasker_test_mariadb_fresh_dsn: more than 16 prefixes");
        return NULL;
    }
    snprintf(fresh_made[slot].prefix, sizeof fresh_made[slot].prefix, "%s", prefix);
    char db[64];
    snprintf(db, sizeof db, "%s%ld_%d", prefix, (long)getpid(), ++fresh_made[slot].count);
    if (tasker_test_mariadb_fresh_db(db) != 0) return NULL;
    return tasker_test_mariadb_dsn(db, extra);
}

void tasker_test_mariadb_drop_fresh(void)
{
    char sql[128];
    for (int slot = 0; slot < 16 && fresh_made[slot].prefix[0]; slot++) {
        for (int i = 1; i <= fresh_made[slot].count; i++) {
            /* %.31s: the prefix field holds at most 31 bytes; without the bound gcc -O2
             * assumes the read may run over the whole table (-Wformat-truncation). */
            snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS `%.31s%ld_%d`",
                     fresh_made[slot].prefix, (long)getpid(), i);
            tasker_test_mariadb_sql(sql);
        }
        fresh_made[slot].count = 0;
    }
}

/* Appends s percent-encoded (everything but unreserved characters) to buf. */
static void append_enc(char *buf, size_t size, const char *s)
{
    size_t o = strlen(buf);
    for (; *s && o + 4 < size; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            strchr("-._~", ch))
            buf[o++] = (char)ch;
        else o += (size_t)snprintf(buf + o, size - o, "%%%02X", ch);
    }
    buf[o] = '\0';
}

char *tasker_test_mariadb_dsn_as(const char *user, const char *pass, const char *db,
                                 const char *extra)
{
    char buf[2048] = "mysql://";
    size_t o;
    append_enc(buf, sizeof buf, user ? user : srv.external ? srv.ext.user : "root");
    const char *pw = user ? pass : srv.external ? srv.ext.pass : NULL;
    if (pw) {
        strcat(buf, ":");
        append_enc(buf, sizeof buf, pw);
    }
    o = strlen(buf);
    char port[16] = "";
    if (srv.external && srv.ext.port) snprintf(port, sizeof port, ":%u", srv.ext.port);
    o += (size_t)snprintf(buf + o, sizeof buf - o, "@%s%s/%s",
                          srv.external ? srv.ext.host : "localhost", port, db);
    char sep = '?';
    const char *sock = srv.external ? srv.ext.socket : srv.sock;
    if (sock) {
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%csocket=", sep);
        append_enc(buf, sizeof buf, sock);
        o = strlen(buf);
        sep = '&';
    }
    if (extra && *extra) snprintf(buf + o, sizeof buf - o, "%c%s", sep, extra);
    return strdup(buf);
}

char *tasker_test_mariadb_dsn(const char *db, const char *extra)
{
    return tasker_test_mariadb_dsn_as(NULL, NULL, db, extra);
}
