/* The alert thread (see alert.h): a queue filled by the exec hook, and the commands it
 * started, whose output it reads and whose ends it reaps and logs. One thread with
 * poll() over a wake-up pipe and the commands' output pipes: the hook only queues and
 * writes a byte, so a slow store read or a hanging command never holds a worker. */
#include "cli/alert.h"
#include "cli/alert_cmd.h"
#include "cli/log.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OUTPUT_KEEP 512 /* of a command's output, the end kept for the log */

typedef struct alert_item {
    alert_run run;
    struct alert_item *next;
} alert_item;

typedef struct alert_child {
    pid_t pid;
    int fd;                  /* output pipe; -1 once at its end */
    bool exited;             /* reaped; status holds how */
    bool timed_out, stopped; /* killed: past its deadline, or when the daemon stopped */
    int status;
    int64_t deadline_ms;
    char *what; /* "the on-failure command of task X for exec Y" */
    char out[OUTPUT_KEEP];
    size_t out_len;
} alert_child;

struct alerter {
    tasker_t *t;
    char *daemon_cmd;
    pthread_t thread;
    int wake[2];
    pthread_mutex_t lock; /* guards head, tail, stopping, stop_deadline_ms */
    alert_item *head, *tail;
    bool stopping;
    int64_t stop_deadline_ms;
    /* the thread's own */
    alert_child children[ALERT_MAX_RUNNING];
    int nchildren;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void run_clear(alert_run *r)
{
    free(r->exec_id);
    free(r->task_id);
    free(r->error);
    free(r->tail);
}

static void start_command(alerter *a, const char *cmd, const char *whose, char **envp,
                          const alert_run *r)
{
    alert_child *c = &a->children[a->nchildren];
    memset(c, 0, sizeof *c);
    if (asprintf(&c->what, "the on-failure command of %s for exec %s (task %s)", whose, r->exec_id,
                 r->task_id) < 0)
        c->what = NULL;
    int err = envp ? alert_spawn(cmd, envp, &c->pid, &c->fd) : ENOMEM;
    if (err) {
        log_msg(LOG_PRIO_ERR, "%s cannot start: %s", c->what ? c->what : "an alert", strerror(err));
        free(c->what);
        return;
    }
    c->deadline_ms = mono_ms() + ALERT_TIMEOUT_S * 1000;
    a->nchildren++;
}

/* Starts the commands of one failed run: the task's, then the daemon's. */
static void start_item(alerter *a, alert_item *it)
{
    char *task_cmd = alert_task_command(a->t, it->run.task_id);
    if (task_cmd || a->daemon_cmd) {
        it->run.tail = alert_output_tail(a->t, it->run.exec_id);
        char **envp = alert_env(&it->run);
        if (task_cmd) start_command(a, task_cmd, "the task", envp, &it->run);
        if (a->daemon_cmd) start_command(a, a->daemon_cmd, "the daemon", envp, &it->run);
        alert_free_env(envp);
    }
    free(task_cmd);
    run_clear(&it->run);
    free(it);
}

/* Keeps the last OUTPUT_KEEP bytes the command wrote. */
static void read_output(alert_child *c)
{
    char buf[4096];
    for (;;) {
        ssize_t n = read(c->fd, buf, sizeof buf);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        if (n <= 0) {
            close(c->fd);
            c->fd = -1;
            return;
        }
        size_t k = (size_t)n;
        if (k >= OUTPUT_KEEP) {
            memcpy(c->out, buf + k - OUTPUT_KEEP, OUTPUT_KEEP);
            c->out_len = OUTPUT_KEEP;
        } else {
            size_t keep = c->out_len + k > OUTPUT_KEEP ? OUTPUT_KEEP - k : c->out_len;
            memmove(c->out, c->out + c->out_len - keep, keep);
            memcpy(c->out + keep, buf, k);
            c->out_len = keep + k;
        }
    }
}

/* The last non-empty line of what the command wrote, into line. */
static void last_line(const alert_child *c, char *line, size_t size)
{
    size_t end = c->out_len;
    while (end > 0 && (c->out[end - 1] == '\n' || c->out[end - 1] == '\r'))
        end--;
    size_t start = end;
    while (start > 0 && c->out[start - 1] != '\n')
        start--;
    size_t len = end - start < size - 1 ? end - start : size - 1;
    memcpy(line, c->out + start, len);
    line[len] = '\0';
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)line[i] < 0x20) line[i] = ' ';
}

static void report_end(const alert_child *c)
{
    char line[300], how[64];
    last_line(c, line, sizeof line);
    if (c->stopped)
        snprintf(how, sizeof how, "was killed: the daemon stopped");
    else if (c->timed_out)
        snprintf(how, sizeof how, "timed out after %ds; killed", ALERT_TIMEOUT_S);
    else if (WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0) {
        log_msg(LOG_PRIO_INFO, "ran %s", c->what);
        return;
    } else if (WIFEXITED(c->status))
        snprintf(how, sizeof how, "exited with code %d", WEXITSTATUS(c->status));
    else
        snprintf(how, sizeof how, "was killed by signal %d", WTERMSIG(c->status));
    log_msg(LOG_PRIO_ERR, "%s %s%s%s", c->what, how, *line ? "; its last output: " : "", line);
}

/* Reaps ended commands (after reading the rest of their output), kills those past
 * their deadline (or all, when kill_all), and drops finished ones from the table. */
static void check_children(alerter *a, bool kill_all)
{
    int64_t now = mono_ms();
    for (int i = 0; i < a->nchildren;) {
        alert_child *c = &a->children[i];
        if (!c->exited && (kill_all || now >= c->deadline_ms)) {
            kill(-c->pid, SIGKILL);
            c->timed_out = true;
            c->stopped = kill_all;
        }
        if (!c->exited && waitpid(c->pid, &c->status, c->timed_out ? 0 : WNOHANG) == c->pid)
            c->exited = true;
        if (c->exited && c->fd >= 0) read_output(c);
        /* Output still open after the command exited: something it started holds it;
         * do not wait for that. */
        if (c->exited && c->fd >= 0) {
            close(c->fd);
            c->fd = -1;
        }
        if (!c->exited) {
            i++;
            continue;
        }
        report_end(c);
        free(c->what);
        a->children[i] = a->children[--a->nchildren];
    }
}

/* Takes queued runs while there is room for their (up to two) commands. */
static void start_queued(alerter *a)
{
    pthread_mutex_lock(&a->lock);
    while (a->head && a->nchildren <= ALERT_MAX_RUNNING - 2) {
        alert_item *it = a->head;
        a->head = it->next;
        if (!a->head) a->tail = NULL;
        pthread_mutex_unlock(&a->lock);
        start_item(a, it);
        pthread_mutex_lock(&a->lock);
    }
    pthread_mutex_unlock(&a->lock);
}

/* Waits for output, an ended command or a wake-up; at most 100 ms while commands run
 * (their end is seen by waitpid, not by poll). */
static void wait_events(alerter *a, bool stopping)
{
    struct pollfd fds[ALERT_MAX_RUNNING + 1] = {{.fd = a->wake[0], .events = POLLIN}};
    nfds_t n = 1;
    for (int i = 0; i < a->nchildren; i++)
        if (a->children[i].fd >= 0)
            fds[n++] = (struct pollfd){.fd = a->children[i].fd, .events = POLLIN};
    int timeout = a->nchildren > 0 || stopping ? 100 : -1;
    if (poll(fds, n, timeout) > 0 && fds[0].revents) {
        char buf[64];
        while (read(a->wake[0], buf, sizeof buf) > 0) {
        }
    }
    for (int i = 0; i < a->nchildren; i++)
        if (a->children[i].fd >= 0) read_output(&a->children[i]);
}

static void *alert_main(void *arg)
{
    alerter *a = arg;
    pthread_setname_np(pthread_self(), "tasker-alert");
    for (;;) {
        start_queued(a);
        pthread_mutex_lock(&a->lock);
        bool stopping = a->stopping, idle = !a->head && a->nchildren == 0;
        bool late = stopping && mono_ms() >= a->stop_deadline_ms;
        pthread_mutex_unlock(&a->lock);
        if (stopping && (idle || late)) break;
        wait_events(a, stopping);
        check_children(a, false);
    }
    check_children(a, true); /* past the stop deadline: reported as killed */
    for (alert_item *it = a->head, *next; it; it = next) {
        next = it->next;
        log_msg(LOG_PRIO_ERR, "no alert sent for exec %s (task %s, %s): the daemon stopped first",
                it->run.exec_id, it->run.task_id, tasker_exec_status_name(it->run.status));
        run_clear(&it->run);
        free(it);
    }
    a->head = a->tail = NULL;
    return NULL;
}

alerter *alerter_start(tasker_t *t, const char *daemon_cmd)
{
    alerter *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->t = t;
    a->wake[0] = a->wake[1] = -1;
    pthread_mutex_init(&a->lock, NULL);
    if ((daemon_cmd && !(a->daemon_cmd = strdup(daemon_cmd))) ||
        pipe2(a->wake, O_CLOEXEC | O_NONBLOCK) != 0 ||
        pthread_create(&a->thread, NULL, alert_main, a) != 0) {
        log_msg(LOG_PRIO_ERR, "on-failure: cannot start the alert thread: %s", strerror(errno));
        if (a->wake[0] >= 0) close(a->wake[0]);
        if (a->wake[1] >= 0) close(a->wake[1]);
        pthread_mutex_destroy(&a->lock);
        free(a->daemon_cmd);
        free(a);
        return NULL;
    }
    return a;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

void alerter_exec_done(alerter *a, const tasker_task_exec *e)
{
    if (!a || !alert_due(e)) return;
    alert_item *it = calloc(1, sizeof *it);
    if (!it || !(it->run.exec_id = strdup(e->exec_id)) || !(it->run.task_id = strdup(e->task_id)) ||
        (e->error && !(it->run.error = dup_or_null(e->error)))) {
        log_msg(LOG_PRIO_ERR, "no alert sent for exec %s (task %s): out of memory", e->exec_id,
                e->task_id);
        if (it) run_clear(&it->run);
        free(it);
        return;
    }
    it->run.status = e->status;
    pthread_mutex_lock(&a->lock);
    if (a->tail)
        a->tail->next = it;
    else
        a->head = it;
    a->tail = it;
    pthread_mutex_unlock(&a->lock);
    ssize_t ignored = write(a->wake[1], "a", 1); /* a full pipe is a pending wake-up */
    (void)ignored;
}

void alerter_stop(alerter *a, int wait_ms)
{
    if (!a) return;
    pthread_mutex_lock(&a->lock);
    a->stopping = true;
    a->stop_deadline_ms = mono_ms() + wait_ms;
    pthread_mutex_unlock(&a->lock);
    ssize_t ignored = write(a->wake[1], "s", 1);
    (void)ignored;
    pthread_join(a->thread, NULL);
    close(a->wake[0]);
    close(a->wake[1]);
    pthread_mutex_destroy(&a->lock);
    free(a->daemon_cmd);
    free(a);
}
