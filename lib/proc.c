/* proc.c — spawning helper programs and removing trees (see proc.h). */
#include "lib/proc.h"

#include "lib/cleanup.h"
#include "lib/clock.h"
#include "lib/err.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* In the child: report errno through the pipe and leave. */
static void child_fail(int fd, int e)
{
    ssize_t unused = write(fd, &e, sizeof e);
    (void)unused;
    _exit(127);
}

int proc_spawn(char *const argv[], const proc_opts *o, pid_t *pidp, char *err, size_t errlen)
{
    static const proc_opts none;
    if (!o)
        o = &none;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) == -1) {
        err_sys(err, errlen, errno, "pipe");
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == -1) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        err_sys(err, errlen, e, "fork");
        return -1;
    }
    if (pid == 0) {
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        signal(SIGPIPE, SIG_DFL);
        if (o->own_group && setpgid(0, 0) == -1)
            child_fail(fds[1], errno);
        if (o->output) {
            int fd = open(o->output, O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (fd == -1 || dup2(fd, 1) == -1 || dup2(fd, 2) == -1)
                child_fail(fds[1], errno);
            close(fd);
            int nul = open("/dev/null", O_RDONLY);
            if (nul >= 0) {
                dup2(nul, 0);
                close(nul);
            }
        } else if (o->stdout_fd > 0) {
            int nul = open("/dev/null", O_RDWR);
            if (nul == -1 || dup2(o->stdout_fd, 1) == -1 || dup2(nul, 0) == -1 || dup2(nul, 2) == -1)
                child_fail(fds[1], errno);
            close(nul);
        }
        if (o->drop_identity) {
            if (setgroups(0, NULL) == -1 || setgid(o->gid) == -1 || setuid(o->uid) == -1)
                child_fail(fds[1], errno);
        }
        if (o->cwd && chdir(o->cwd) == -1)
            child_fail(fds[1], errno);
        /* After the identity change: a credential change clears it. */
        if (o->death_signal) {
            if (prctl(PR_SET_PDEATHSIG, o->death_signal) == -1)
                child_fail(fds[1], errno);
            if (getppid() != parent)        /* the parent already died */
                _exit(1);
        }
        execv(argv[0], argv);
        child_fail(fds[1], errno);
    }
    close(fds[1]);
    int child_errno;
    ssize_t n;
    do
        n = read(fds[0], &child_errno, sizeof child_errno);
    while (n == -1 && errno == EINTR);
    close(fds[0]);
    if (n == (ssize_t)sizeof child_errno) {
        waitpid(pid, NULL, 0);
        err_sys(err, errlen, child_errno, "cannot start %s", argv[0]);
        return -1;
    }
    *pidp = pid;
    return 0;
}

int proc_wait(pid_t pid)
{
    int status;
    pid_t r;
    do
        r = waitpid(pid, &status, 0);
    while (r == -1 && errno == EINTR);
    if (r == -1)
        return -1;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

int proc_run(char *const argv[], const proc_opts *o, char *err, size_t errlen)
{
    pid_t pid;
    if (proc_spawn(argv, o, &pid, err, errlen) == -1)
        return -1;
    int st = proc_wait(pid);
    if (st != 0) {
        err_set(err, errlen, "%s exited with status %d", argv[0], st);
        return -1;
    }
    return 0;
}

/* Waits up to ns for pid to exit (a pidfd polled: no sleeping loop).
 * Returns its status, or -2 when it is still running, -1 on error. */
static int wait_bounded(pid_t pid, int64_t ns)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int ms = (int)(ns / 1000000), rc;
        do
            rc = poll(&p, 1, ms);
        while (rc == -1 && errno == EINTR);
        close(fd);
        if (rc == 0)
            return -2;
    }
    /* Exited (or no pidfd: a kernel before 5.3, where we wait). */
    return proc_wait(pid);
}

int proc_stop(pid_t pid, int sig, int64_t grace_ns)
{
    kill(pid, sig);
    int st = wait_bounded(pid, grace_ns);
    if (st != -2)
        return st;
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    st = wait_bounded(pid, grace_ns);
    return st == -2 ? -1 : st;
}

int proc_which(const char *cmd, char *out, size_t len)
{
    if (strchr(cmd, '/')) {
        snprintf(out, len, "%s", cmd);
        return access(out, X_OK);
    }
    const char *path = getenv("PATH");
    char *copy = strdup(path ? path : "/usr/bin:/bin"), *save = NULL;
    if (!copy)
        return -1;
    for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, len, "%s/%s", d, cmd);
        if (access(out, X_OK) == 0) {
            free(copy);
            return 0;
        }
    }
    free(copy);
    return -1;
}

static _Atomic pid_t foreground;

/* On a signal, the command goes before the server it talks to. */
static void stop_foreground(void *arg)
{
    (void)arg;
    pid_t pid = atomic_exchange(&foreground, 0);
    if (pid > 0)
        proc_stop(pid, SIGTERM, 10LL * 1000000000);
}

int proc_run_foreground(char *const argv[], char *err, size_t errlen)
{
    pid_t pid;
    int h = cleanup_push(stop_foreground, NULL);
    if (proc_spawn(argv, NULL, &pid, err, errlen) < 0) {
        cleanup_pop(h, false);
        return -1;
    }
    atomic_store(&foreground, pid);
    int status = proc_wait(pid);
    atomic_store(&foreground, 0);
    cleanup_pop(h, false);
    return status;
}

int proc_search_path(bool (*try_dir)(const char *dir, char *out, size_t outlen), char *out, size_t outlen)
{
    const char *path = getenv("PATH");
    char *copy = strdup(path ? path : ""), *save = NULL;
    if (!copy)
        return -1;
    bool found = false;
    for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save))
        found = try_dir(d, out, outlen);
    free(copy);
    return found;
}

int proc_server_identity(proc_opts *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    if (geteuid() != 0)
        return 0;
    const char *names[] = { getenv("PGRACE_CLUSTER_USER"), "postgres", "nobody" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!names[i] || !*names[i])
            continue;
        struct passwd pw, *res = NULL;
        char buf[4096];
        if (getpwnam_r(names[i], &pw, buf, sizeof buf, &res) == 0 && res && pw.pw_uid != 0) {
            o->drop_identity = true;
            o->uid = pw.pw_uid;
            o->gid = pw.pw_gid;
            return 0;
        }
    }
    err_set(err, errlen, "running as root and no unprivileged user (postgres, nobody) to run the server as");
    return -1;
}

int proc_await_ready(pid_t pid, bool (*ready)(void *arg), void *arg, int64_t timeout_ns, const char *what,
                     const char *log, char *err, size_t errlen)
{
    int64_t deadline = clock_now_ns() + timeout_ns;
    int64_t pause = 1000000;
    for (;;) {
        if (ready(arg))
            return 0;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            char tail[512];
            proc_log_tail(log, tail, sizeof tail);
            err_set(err, errlen, "%s exited during start-up%s%s", what, tail[0] ? ": " : "", tail);
            return 1;
        }
        if (clock_now_ns() > deadline) {
            err_set(err, errlen, "%s not ready after %llds (log: %s)", what, (long long)(timeout_ns / 1000000000),
                    log);
            return -1;
        }
        clock_sleep_ns(pause);
        if (pause < 16 * 1000000)
            pause *= 2;
    }
}

void proc_log_tail(const char *path, char *out, size_t outlen)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512], last[512] = "";
    while (fgets(line, sizeof line, f))
        if (strstr(line, "FATAL") || strstr(line, "ERROR") || strstr(line, "error"))
            snprintf(last, sizeof last, "%s", line);
    fclose(f);
    snprintf(out, outlen, "%s", err_one_line(last));
}

int proc_output(char *const argv[], char *out, size_t outlen, int64_t bound_ns, char *err, size_t errlen)
{
    int fds[2];
    if (outlen == 0) {
        err_set(err, errlen, "proc_output: no room for %s's output", argv[0]);
        return -1;
    }
    if (pipe2(fds, O_CLOEXEC) == -1) {
        err_sys(err, errlen, errno, "pipe");
        return -1;
    }
    proc_opts o = { .stdout_fd = fds[1] };
    pid_t pid;
    int rc = proc_spawn(argv, &o, &pid, err, errlen);
    close(fds[1]);
    if (rc < 0) {
        close(fds[0]);
        return -1;
    }
    int64_t deadline = clock_now_ns() + bound_ns;
    size_t used = 0;
    for (;;) {
        int64_t left = deadline - clock_now_ns();
        struct pollfd p = { .fd = fds[0], .events = POLLIN };
        int n = left > 0 ? poll(&p, 1, (int)(left / 1000000) + 1) : 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        char buf[512];
        ssize_t k = read(fds[0], buf, sizeof buf);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        size_t keep = used + (size_t)k < outlen ? (size_t)k : outlen - 1 - used;
        memcpy(out + used, buf, keep);
        used += keep;
    }
    close(fds[0]);
    out[used] = '\0';
    int64_t left = deadline - clock_now_ns();
    int st = wait_bounded(pid, left > 0 ? left : 0);
    if (st == -2)
        st = proc_stop(pid, SIGKILL, 1000000000);
    if (st < 0)
        err_set(err, errlen, "%s did not end within its bound", argv[0]);
    else if (st > 0)
        err_set(err, errlen, "%s exited with status %d", argv[0], st);
    return st == 0 ? 0 : -1;
}
