/* Tests' private MariaDB Galera cluster (see galera.h): member directories, ports,
 * bootstrap and joins, readiness by wsrep state, stop, admin SQL and DSNs. */
#include "support/galera.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <mysql.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef TASKER_TEST_BUILD_DIR
#define TASKER_TEST_BUILD_DIR "."
#endif

#define PROVIDER "/usr/lib/galera/libgalera_smm.so"
#define READY_TIMEOUT_MS 180000 /* a joiner's state transfer included */
#define STOP_TIMEOUT_MS 60000

typedef struct {
    pid_t pid; /* 0 when not running */
    int gcomm_port, ist_port, sst_port;
    char dir[600], data[700], tmp[700], sock[700], pidfile[700], log[700];
} member;

static struct {
    int count;
    bool atexit_set;
    member m[TASKER_TEST_GALERA_MAX];
    char error[1024];
} gal;

static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(gal.error, sizeof gal.error, fmt, ap);
    va_end(ap);
    return -1;
}

const char *tasker_test_galera_error(void) { return gal.error; }
bool tasker_test_galera_available(void) { return access(PROVIDER, R_OK) == 0; }

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

/* The member's first [ERROR] log line, else the end of its log. */
static const char *log_tail(const member *mb)
{
    static char text[700];
    char line[700];
    text[0] = '\0';
    FILE *f = fopen(mb->log, "r");
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

/* A loopback TCP port free right now (the kernel's pick). The port is released before
 * the server binds it; another process taking it meanwhile is unlikely on a test box. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

static int set_paths(int i)
{
    member *mb = &gal.m[i];
    const char *build = getenv("TASKER_TEST_BUILD_DIR");
    if (!build || !*build) build = TASKER_TEST_BUILD_DIR;
    char top[512], dir[600];
    snprintf(top, sizeof top, "%s/galera-test", build);
    mkdir(top, 0755);
    snprintf(top, sizeof top, "%s/galera-test/%s", build, program_invocation_short_name);
    mkdir(top, 0755);
    snprintf(dir, sizeof dir, "%s/m%d", top, i);
    /* From the local copy: gcc cannot tell the fields of *mb apart. */
    snprintf(mb->dir, sizeof mb->dir, "%s", dir);
    snprintf(mb->data, sizeof mb->data, "%s/data", dir);
    snprintf(mb->tmp, sizeof mb->tmp, "%s/tmp", dir);
    snprintf(mb->pidfile, sizeof mb->pidfile, "%s/mysqld.pid", dir);
    snprintf(mb->log, sizeof mb->log, "%s/error.log", dir);
    snprintf(mb->sock, sizeof mb->sock, "%s/mysqld.sock", dir);
    if (strlen(mb->sock) >= 100) /* sun_path is 108 bytes */
        snprintf(mb->sock, sizeof mb->sock, "/tmp/tasker-galera-%ld-%d.sock", (long)getpid(), i);
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s' '%s'", dir, mb->data, mb->tmp);
    if (system(cmd) != 0) return fail("cannot make %s", dir);
    /* The rsync daemon that receives a state transfer, started as root, drops to user
     * nobody (rsync's default), which must be able to write the data directory. */
    if (chmod(mb->data, 0777) != 0) return fail("chmod %s: %s", mb->data, strerror(errno));
    mb->gcomm_port = free_port();
    mb->ist_port = free_port();
    mb->sst_port = free_port();
    if (mb->gcomm_port < 0 || mb->ist_port < 0 || mb->sst_port < 0)
        return fail("no free loopback port: %s", strerror(errno));
    return 0;
}

/* Runs argv to completion, its output into the member's log; its exit status or -1. */
static int run_wait(const member *mb, char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int fd = open(mb->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
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

static int init_datadir(const member *mb)
{
    char datadir_opt[720], tmpdir_opt[720];
    snprintf(datadir_opt, sizeof datadir_opt, "--datadir=%s", mb->data);
    snprintf(tmpdir_opt, sizeof tmpdir_opt, "--tmpdir=%s", mb->tmp);
    char *argv[] = {"mariadb-install-db", "--no-defaults", datadir_opt, tmpdir_opt,
                    "--user=root", "--auth-root-authentication-method=normal",
                    "--skip-test-db", "--skip-name-resolve", "--innodb-log-file-size=16M", NULL};
    int rc = run_wait(mb, argv);
    return rc == 0 ? 0 : fail("mariadb-install-db failed (exit %d): %s", rc, log_tail(mb));
}

/* gcomm://127.0.0.1:P0,127.0.0.1:P1,... over every member. */
static void cluster_address(char *buf, size_t size)
{
    size_t o = (size_t)snprintf(buf, size, "--wsrep-cluster-address=gcomm://");
    for (int i = 0; i < gal.count && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s127.0.0.1:%d", i ? "," : "", gal.m[i].gcomm_port);
}

static void exec_member(int i, bool bootstrap)
{
    const member *mb = &gal.m[i];
    char datadir[720], tmpdir[720], sock[720], pid[720], log[720], address[400], provider[300],
        sst_addr[100], node_name[64];
    snprintf(datadir, sizeof datadir, "--datadir=%s", mb->data);
    snprintf(tmpdir, sizeof tmpdir, "--tmpdir=%s", mb->tmp);
    snprintf(sock, sizeof sock, "--socket=%s", mb->sock);
    snprintf(pid, sizeof pid, "--pid-file=%s", mb->pidfile);
    snprintf(log, sizeof log, "--log-error=%s", mb->log);
    cluster_address(address, sizeof address);
    snprintf(provider, sizeof provider,
             "--wsrep-provider-options=base_host=127.0.0.1;base_port=%d;"
             "ist.recv_addr=127.0.0.1:%d;gcache.size=64M",
             mb->gcomm_port, mb->ist_port);
    snprintf(sst_addr, sizeof sst_addr, "--wsrep-sst-receive-address=127.0.0.1:%d", mb->sst_port);
    snprintf(node_name, sizeof node_name, "--wsrep-node-name=m%d", i);
    char *argv[] = {"mariadbd", "--no-defaults", datadir, tmpdir, sock, pid, log,
                    "--user=root", "--skip-networking", "--skip-name-resolve",
                    "--innodb-buffer-pool-size=128M", "--innodb-log-file-size=16M",
                    "--innodb-flush-log-at-trx-commit=1", "--max-connections=500",
                    "--binlog-format=ROW", "--default-storage-engine=InnoDB",
                    "--innodb-autoinc-lock-mode=2", "--wsrep-on=ON",
                    "--wsrep-provider=" PROVIDER, address, provider,
                    "--wsrep-cluster-name=tasker-test", "--wsrep-node-address=127.0.0.1",
                    node_name, "--wsrep-sst-method=rsync", sst_addr,
                    bootstrap ? "--wsrep-new-cluster" : NULL, NULL};
    execvp(argv[0], argv);
    _exit(127);
}

static MYSQL *member_connect(const member *mb)
{
    MYSQL *db = mysql_init(NULL);
    unsigned timeout_s = 10;
    if (!db) return NULL;
    mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout_s);
    if (!mysql_real_connect(db, "localhost", "root", NULL, NULL, 0, mb->sock, 0)) {
        fail("cannot connect to %s: %s", mb->sock, mysql_error(db));
        mysql_close(db);
        return NULL;
    }
    return db;
}

/* True when the member answers and says it is synced with the cluster. */
static bool member_synced(const member *mb)
{
    MYSQL *db = member_connect(mb);
    if (!db) return false;
    bool synced = false;
    MYSQL_RES *res = NULL;
    if (mysql_query(db, "SHOW STATUS LIKE 'wsrep_local_state_comment'") == 0 &&
        (res = mysql_store_result(db))) {
        MYSQL_ROW row = mysql_fetch_row(res);
        synced = row && row[1] && strcmp(row[1], "Synced") == 0;
        mysql_free_result(res);
    }
    mysql_close(db);
    return synced;
}

static int wait_synced(int i)
{
    member *mb = &gal.m[i];
    int64_t deadline_ms = now_ms() + READY_TIMEOUT_MS;
    while (now_ms() < deadline_ms) {
        int status;
        if (waitpid(mb->pid, &status, WNOHANG) == mb->pid) {
            mb->pid = 0;
            return fail("galera member %d exited at startup: %s", i, log_tail(mb));
        }
        if (member_synced(mb)) return 0;
        pause_ms(100);
    }
    return fail("galera member %d not synced within %d ms: %s", i, READY_TIMEOUT_MS, log_tail(mb));
}

static void stop_at_exit(void) { tasker_test_galera_stop(); }

static int spawn_member(int i, bool bootstrap)
{
    member *mb = &gal.m[i];
    fflush(NULL);
    pid_t parent = getpid();
    mb->pid = fork();
    if (mb->pid < 0) return fail("fork: %s", strerror(errno));
    if (mb->pid == 0) {
        /* No server outlives a test process that was killed. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(1);
        int fd = open(mb->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        exec_member(i, bootstrap);
    }
    if (!gal.atexit_set) {
        atexit(stop_at_exit);
        gal.atexit_set = true;
    }
    return wait_synced(i);
}

int tasker_test_galera_start(int members)
{
    if (members < 1 || members > TASKER_TEST_GALERA_MAX)
        return fail("galera: %d members; 1 to %d", members, TASKER_TEST_GALERA_MAX);
    if (!tasker_test_galera_available()) return fail("galera: no %s (install galera-4)", PROVIDER);
    if (gal.count) return gal.count == members ? 0 : fail("galera: already started");
    gal.count = members;
    for (int i = 0; i < members; i++)
        if (set_paths(i) != 0) return -1;
    if (init_datadir(&gal.m[0]) != 0) return -1;
    for (int i = 0; i < members; i++)
        if (spawn_member(i, i == 0) != 0) return -1;
    return 0;
}

int tasker_test_galera_start_member(int m)
{
    if (m < 0 || m >= gal.count) return fail("galera: no member %d", m);
    if (gal.m[m].pid) return 0;
    /* A member killed mid-write rejoins by a full state transfer, whose rsync daemon
     * (running as nobody, see set_paths) replaces and chmods files the server made as
     * root: only their owner may. */
    char cmd[800];
    snprintf(cmd, sizeof cmd, "chown -R nobody '%s'", gal.m[m].data);
    if (system(cmd) != 0) return fail("cannot open up %s for the state transfer", gal.m[m].data);
    return spawn_member(m, false);
}

static int stop_with(int m, int sig)
{
    if (m < 0 || m >= gal.count) return fail("galera: no member %d", m);
    member *mb = &gal.m[m];
    if (!mb->pid) return 0;
    kill(mb->pid, sig);
    int64_t deadline_ms = now_ms() + STOP_TIMEOUT_MS;
    for (;;) {
        int status;
        pid_t got = waitpid(mb->pid, &status, WNOHANG);
        if (got == mb->pid || (got < 0 && errno == ECHILD)) break;
        if (now_ms() > deadline_ms) {
            kill(mb->pid, SIGKILL);
            waitpid(mb->pid, &status, 0);
            break;
        }
        pause_ms(20);
    }
    mb->pid = 0;
    return 0;
}

int tasker_test_galera_stop_member(int m) { return stop_with(m, SIGTERM); }
int tasker_test_galera_kill_member(int m) { return stop_with(m, SIGKILL); }

int tasker_test_galera_stop(void)
{
    for (int i = gal.count - 1; i >= 0; i--) stop_with(i, SIGTERM);
    return 0;
}

int tasker_test_galera_sql(int m, const char *sql)
{
    if (m < 0 || m >= gal.count) return fail("galera: no member %d", m);
    MYSQL *db = member_connect(&gal.m[m]);
    if (!db) return -1;
    int rc = 0;
    if (mysql_query(db, sql) != 0) rc = fail("galera member %d: '%s': %s", m, sql, mysql_error(db));
    mysql_close(db);
    return rc;
}

char *tasker_test_galera_dsn(int m, const char *db)
{
    if (m < 0 || m >= gal.count) {
        fail("galera: no member %d", m);
        return NULL;
    }
    /* The socket path has no character that needs percent-encoding but '/', which
     * the URL parser takes as is in an option value. */
    char buf[1024];
    snprintf(buf, sizeof buf, "mysql://root@localhost/%.200s?socket=%s", db, gal.m[m].sock);
    return strdup(buf);
}
