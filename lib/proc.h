/*
 * proc.h — starting helper programs (initdb, postgres, a user's command).
 *
 * The child is set up with async-signal-safe calls only (the parent may be
 * multi-threaded): signal mask restored, optional process group, optional
 * identity change (PostgreSQL refuses to run as root), optional parent-death
 * signal, output redirected. Exec failure is reported back through a
 * close-on-exec pipe, so the caller gets a real error instead of a child
 * that exits 127.
 */
#ifndef PGRACE_PROC_H
#define PGRACE_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct proc_opts {
    const char *cwd;          /* chdir here first, or NULL */
    const char *output;       /* append stdout+stderr to this file, or NULL */
    int stdout_fd;            /* without output: this fd as stdout, stdin and stderr
                               * /dev/null (0: all three inherited) */
    bool drop_identity;       /* switch to uid/gid below before exec */
    uid_t uid;
    gid_t gid;
    bool own_group;           /* setpgid(0,0): terminal signals don't reach it */
    int death_signal;         /* sent to the child when the parent dies, or 0 */
} proc_opts;

/* Starts argv[0] (a path) with argv. Returns 0 and the pid, or -1. */
int proc_spawn(char *const argv[], const proc_opts *o, pid_t *pid, char *err, size_t errlen);

/* Waits for pid; returns its exit status (128+signal when killed), or -1.
 * Unbounded: for a command whose lifetime is the caller's purpose (pgrace
 * cluster -- CMD); everything else uses proc_stop. */
int proc_wait(pid_t pid);

/* Stops pid: sends sig, waits up to grace_ns for it to exit, then kills it
 * and its process group (SIGKILL) and waits up to grace_ns more. Returns
 * its exit status, or -1 if it still has not exited (then it is left). */
int proc_stop(pid_t pid, int sig, int64_t grace_ns);

/* Where execv finds cmd: cmd itself when it holds a '/', else the first
 * executable of that name on PATH, into out. Returns 0 or -1. */
int proc_which(const char *cmd, char *out, size_t len);

/* Runs argv (argv[0] a path) as the purpose of the run (pgrace cluster --
 * CMD, pgrace proxy -- CMD): waits for it and returns its exit status
 * (128+signal when killed). While it runs, a signal's teardown stops it
 * first (SIGTERM, then SIGKILL), before what was registered earlier (the
 * server it talks to). -1 with err when it cannot start. */
int proc_run_foreground(char *const argv[], char *err, size_t errlen);

/* Runs argv to completion; 0 when it exited 0, else -1 with a message
 * naming the program and its status. */
int proc_run(char *const argv[], const proc_opts *o, char *err, size_t errlen);

/* Tries each directory of $PATH, in order, with try_dir, which fills out
 * when it accepts one. Returns 1 when one was accepted, 0 when none was,
 * -1 when out of memory. */
int proc_search_path(bool (*try_dir)(const char *dir, char *out, size_t outlen), char *out, size_t outlen);

/* The identity a server program runs under (PostgreSQL and pgbouncer both
 * refuse root): nothing to change when pgrace is not root; as root,
 * $PGRACE_CLUSTER_USER, else "postgres", else "nobody" (o->drop_identity,
 * uid, gid set; the rest of o zeroed). Returns 0, or -1 when root has no
 * such user. */
int proc_server_identity(proc_opts *o, char *err, size_t errlen);

/* Waits until ready(arg) says the server pid, started by the caller,
 * answers, at most timeout_ns, asking at intervals that double from 1ms to
 * 16ms (a server offers no notification to wait on: pg_ctl -w polls too).
 * Returns 0 when ready; 1 when pid exited first (reaped; err: "<what>
 * exited during start-up: " and the last error line of its log); -1 when
 * the time ran out (err names the log). */
int proc_await_ready(pid_t pid, bool (*ready)(void *arg), void *arg, int64_t timeout_ns, const char *what,
                     const char *log, char *err, size_t errlen);

/* The last line of the log file path that reads as an error (FATAL, ERROR,
 * error), one line, into out ("" when none). */
void proc_log_tail(const char *path, char *out, size_t outlen);
/* Runs argv (stdin and stderr /dev/null) and reads its stdout into out,
 * NUL-terminated and cut at outlen - 1 bytes. The program is killed at
 * bound_ns if it has not ended. Returns 0 when it exited 0, else -1 with a
 * message. */
int proc_output(char *const argv[], char *out, size_t outlen, int64_t bound_ns, char *err, size_t errlen);

#endif
