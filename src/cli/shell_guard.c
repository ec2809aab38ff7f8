/* Starting a shell command so that it dies with the daemon.
 *
 * The daemon forks a guard; the guard makes itself the leader of a new process group,
 * asks the kernel for a signal when the daemon dies (PR_SET_PDEATHSIG), and forks
 * /bin/sh -c CMD into the same group. It then only waits: when the command exits it
 * exits the same way (same code, or the same signal), so the daemon sees the command's
 * end as the group leader's; when the daemon dies first, it SIGKILLs the whole group,
 * itself included. A parent-death signal set on the command alone would not do: it
 * reaches one process, not the commands that one starts (a pipeline, a script's
 * children), which stay in the group and are what the guard kills.
 *
 * The race: a daemon that dies between the fork and prctl() sends no signal, so the
 * guard checks after prctl() that its parent is still the daemon (getppid()).
 * Between fork and exec only async-signal-safe calls are made (the daemon has threads).
 * The guard ignores SIGTERM, SIGINT, SIGHUP and SIGQUIT: a timeout's SIGTERM to the
 * group is for the command, whose grace before the SIGKILL must not end because the
 * group's leader went first. A process that leaves the group (setsid, setpgid) escapes,
 * as it escapes a timeout.
 */
#include "cli/shell.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define GUARD_SIGNAL SIGUSR1 /* what the kernel sends the guard when the daemon dies */

static pid_t daemon_pid; /* in the guard: its parent, set before the handler is installed */

static void on_daemon_death(int sig)
{
    (void)sig;
    /* Someone else's SIGUSR1 to the group is ignored while the daemon lives. */
    if (getppid() != daemon_pid) kill(0, SIGKILL);
}

/* Signals whose handling the command gets back to the default; the daemon's handlers
 * (a fork copies them) must not run in the guard or the command either. */
static const int reset_signals[] = {SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP,
                                    SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM};

static void reset_dispositions(void)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (size_t i = 0; i < sizeof reset_signals / sizeof *reset_signals; i++)
        sigaction(reset_signals[i], &dfl, NULL);
}

/* Closes every descriptor above stderr: the guard never execs, so O_CLOEXEC does not
 * apply to it, and the pipes of runs started by other workers must not stay open here. */
static void close_inherited(void)
{
    if (close_range(3, ~0U, 0) == 0) return;
    struct rlimit rl;
    int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur : 65536;
    for (int fd = 3; fd < max; fd++) close(fd);
}

/* The guard's failure before the command started: errno to the daemon, then exit. */
static _Noreturn void guard_fail(int report_fd, int err)
{
    ssize_t w = write(report_fd, &err, sizeof err);
    (void)w;
    _exit(127);
}

static _Noreturn void run_command(const char *cmd, char **envp)
{
    reset_dispositions();
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
    execve("/bin/sh", argv, envp);
    _exit(127);
}

static _Noreturn void guard_main(pid_t parent, const char *cmd, const char *cwd, char **envp,
                                 int out_w, int err_w, int report_fd)
{
    daemon_pid = parent;
    setpgid(0, 0); /* first: kill(0, ...) below must never reach the daemon's group */
    reset_dispositions();
    /* A stop (timeout, interrupt: SIGTERM to the group, SIGKILL after a grace) is for
     * the command: the guard stays until the command has exited, so the grace holds.
     * The command gets the defaults back (run_command). */
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    const int ignored[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};
    for (size_t i = 0; i < sizeof ignored / sizeof *ignored; i++)
        sigaction(ignored[i], &ign, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_daemon_death;
    sigaction(GUARD_SIGNAL, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (prctl(PR_SET_PDEATHSIG, GUARD_SIGNAL) != 0) guard_fail(report_fd, errno);
    if (getppid() != daemon_pid) kill(0, SIGKILL); /* died before prctl() */
    prctl(PR_SET_DUMPABLE, 0); /* re-raising the command's SIGSEGV must not dump a core */

    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(out_w, STDOUT_FILENO) < 0 ||
        dup2(err_w, STDERR_FILENO) < 0)
        guard_fail(report_fd, errno);
    if (cwd && chdir(cwd) != 0) guard_fail(report_fd, errno);
    /* vfork: the guard is a copy of the daemon, whose page tables a second fork would
     * copy again; the child only makes system calls until its execve. */
    pid_t child = vfork();
    if (child < 0) guard_fail(report_fd, errno);
    if (child == 0) run_command(cmd, envp); /* stays in the guard's group */
    close(report_fd);
    close_inherited();

    int status;
    while (waitpid(child, &status, 0) < 0)
        if (errno != EINTR) _exit(127);
    if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
    int sig = WTERMSIG(status);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
    kill(getpid(), sig);
    _exit(128 + sig);
}

int shell_spawn_guarded(const char *cmd, const char *cwd, char **envp, int out_w, int err_w,
                        pid_t *pid)
{
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return errno;
    pid_t parent = getpid();
    pid_t g = fork();
    if (g < 0) {
        int err = errno;
        close(report[0]);
        close(report[1]);
        return err;
    }
    if (g == 0) {
        close(report[0]);
        guard_main(parent, cmd, cwd, envp, out_w, err_w, report[1]);
    }
    close(report[1]);
    setpgid(g, g); /* also here: the group exists before anyone signals it */
    int err = 0;
    ssize_t got;
    while ((got = read(report[0], &err, sizeof err)) < 0 && errno == EINTR) {
    }
    close(report[0]);
    if (got == (ssize_t)sizeof err) { /* the guard failed before the command started */
        while (waitpid(g, NULL, 0) < 0 && errno == EINTR) {
        }
        return err ? err : EIO;
    }
    *pid = g;
    return 0;
}
