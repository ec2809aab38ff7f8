/* Following a running shell command: each output line becomes an event as it arrives
 * (poll on both pipes), a timeout or an interrupt stops the whole process group
 * (SIGTERM, then SIGKILL after a grace), and the leader is reaped at the end.
 *
 * The group is always signalled before the leader is reaped: while the leader is a
 * zombie its pid (the group id) cannot be reused, so kill(-pid) cannot hit a stranger.
 * A pidfd in the poll set makes the leader's exit wake us at once; the tick only
 * bounds how late a timeout or an interrupt is noticed. */
#include "cli/shell.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096 /* a longer line is recorded in pieces of this size */
#define TICK_MS 100         /* how often a running command's deadline and cancel flag are checked */
#define TERM_GRACE_MS 1000  /* SIGTERM to SIGKILL */
#define LINGER_MS 1000      /* output left open by background processes after the leader exited */

typedef struct stream {
    int fd; /* -1 once at end of file */
    tasker_level level;
    size_t len;
    char buf[LINE_MAX_BYTES + 1];
} stream;

typedef struct watch {
    tasker_ctx *c;
    pid_t pid;
    stream out, err;
    int64_t deadline_ms; /* the timeout; 0 = none */
    int64_t kill_at_ms;  /* SIGKILL the group then; 0 = not stopping */
    int64_t give_up_ms;  /* stop reading output then; 0 = not yet set */
    int pidfd;           /* readable once the leader exits; -1 if the kernel has none */
    bool exited, killed;
} watch;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What a NUL byte of the output becomes: U+FFFD, the replacement character. An event is
 * a C string, so a NUL would end the line there and lose the rest of it. */
#define NUL_REPLACEMENT "\xef\xbf\xbd"

/* Records line (len bytes) with each NUL replaced; false when out of memory. */
static bool emit_with_nuls(tasker_ctx *c, tasker_level level, const char *line, size_t len,
                           size_t nuls)
{
    size_t rlen = sizeof NUL_REPLACEMENT - 1;
    char *copy = malloc(len + nuls * (rlen - 1) + 1), *o = copy;
    if (!copy) return false;
    for (size_t i = 0; i < len; i++) {
        if (line[i]) {
            *o++ = line[i];
            continue;
        }
        memcpy(o, NUL_REPLACEMENT, rlen);
        o += rlen;
    }
    *o = '\0';
    tasker_event(c, level, "%s", copy);
    free(copy);
    return true;
}

static void emit_line(tasker_ctx *c, tasker_level level, char *line, size_t len)
{
    if (len > 0 && line[len - 1] == '\r') len--; /* CRLF output */
    size_t nuls = 0;
    for (size_t i = 0; i < len; i++) nuls += line[i] == '\0';
    if (nuls && emit_with_nuls(c, level, line, len, nuls)) return;
    char saved = line[len]; /* the buffer has a spare byte */
    line[len] = '\0';
    tasker_event(c, level, "%s", line);
    line[len] = saved;
}

/* Reads what is available; records each complete line. At end of file records the
 * unfinished last line and closes the stream. */
static void pump(tasker_ctx *c, stream *s)
{
    ssize_t got = read(s->fd, s->buf + s->len, LINE_MAX_BYTES - s->len);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (got <= 0) {
        if (s->len) emit_line(c, s->level, s->buf, s->len);
        s->len = 0;
        close(s->fd);
        s->fd = -1;
        return;
    }
    s->len += (size_t)got;
    size_t start = 0;
    for (size_t i = 0; i < s->len; i++) {
        if (s->buf[i] != '\n') continue;
        emit_line(c, s->level, s->buf + start, i - start);
        start = i + 1;
    }
    memmove(s->buf, s->buf + start, s->len - start);
    s->len -= start;
    if (s->len == LINE_MAX_BYTES) {
        emit_line(c, s->level, s->buf, s->len);
        s->len = 0;
    }
}

static bool leader_exited(pid_t pid)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    /* WNOWAIT: look without reaping, so the group id stays reserved (see top). */
    if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0) return errno == ECHILD;
    return info.si_pid == pid;
}

static void stop_group(watch *w, int64_t now)
{
    kill(-w->pid, SIGTERM);
    w->kill_at_ms = now + TERM_GRACE_MS;
}

static void kill_group(watch *w, int64_t now)
{
    kill(-w->pid, SIGKILL);
    w->killed = true;
    w->give_up_ms = now + TERM_GRACE_MS;
}

/* One step of the state machine; returns false when the watch is over. */
static bool step(watch *w, shell_result *res, int64_t now)
{
    bool open = w->out.fd >= 0 || w->err.fd >= 0;
    if (!w->exited) w->exited = leader_exited(w->pid);
    if (res->end == SHELL_END_EXIT && !w->kill_at_ms && !w->exited) {
        if (w->deadline_ms && now >= w->deadline_ms)
            res->end = SHELL_END_TIMEOUT;
        else if (tasker_cancelled(w->c))
            res->end = SHELL_END_CANCEL;
        if (res->end != SHELL_END_EXIT) stop_group(w, now);
    }
    if (w->kill_at_ms && !w->killed && (now >= w->kill_at_ms || w->exited)) kill_group(w, now);
    if (w->exited && !open) return false;
    if (w->exited && !w->killed) {
        /* Background processes of the command hold its output open: give them a
         * moment, then stop them, or the run would never end. */
        if (!w->give_up_ms)
            w->give_up_ms = now + LINGER_MS;
        else if (now >= w->give_up_ms) {
            kill_group(w, now);
            res->killed_leftovers = true;
        }
    }
    /* Processes that left the group may still hold the pipes: stop reading. */
    if (w->killed && w->exited && now >= w->give_up_ms) return false;
    return true;
}

static int next_wait_ms(const watch *w, int64_t now)
{
    int64_t wait_ms = TICK_MS;
    const int64_t at[] = {w->deadline_ms, w->kill_at_ms, w->give_up_ms};
    for (size_t i = 0; i < sizeof at / sizeof *at; i++)
        if (at[i] && at[i] - now < wait_ms) wait_ms = at[i] - now;
    return wait_ms < 0 ? 0 : (int)wait_ms;
}

void shell_watch(tasker_ctx *c, pid_t pid, int out_fd, int err_fd, int64_t timeout_ms,
                 shell_result *res)
{
    watch w = {.c = c, .pid = pid};
    w.out.fd = out_fd;
    w.out.level = TASKER_NORMAL;
    w.err.fd = err_fd;
    w.err.level = TASKER_WARNING;
    memset(res, 0, sizeof *res);
    if (timeout_ms > 0) w.deadline_ms = mono_ms() + timeout_ms;

    w.pidfd = pidfd_open(pid, 0);
    for (;;) {
        int64_t now = mono_ms();
        if (!step(&w, res, now)) break;
        struct pollfd fds[3];
        stream *by_fd[3] = {NULL, NULL, NULL};
        nfds_t n = 0;
        stream *streams[] = {&w.out, &w.err};
        for (int i = 0; i < 2; i++) {
            if (streams[i]->fd < 0) continue;
            fds[n] = (struct pollfd){.fd = streams[i]->fd, .events = POLLIN};
            by_fd[n++] = streams[i];
        }
        /* Only until the exit is seen: an exited pidfd stays readable. */
        if (w.pidfd >= 0 && !w.exited) fds[n++] = (struct pollfd){.fd = w.pidfd, .events = POLLIN};
        if (poll(fds, n, next_wait_ms(&w, now)) <= 0) continue;
        for (nfds_t i = 0; i < n; i++)
            if (fds[i].revents && by_fd[i]) pump(c, by_fd[i]);
    }
    if (w.pidfd >= 0) close(w.pidfd);
    /* Whatever the output's state, the leader has exited: reap it. */
    while (waitpid(pid, &res->status, 0) < 0 && errno == EINTR) {
    }
    if (w.out.fd >= 0) close(w.out.fd);
    if (w.err.fd >= 0) close(w.err.fd);
}
