/* fstree.c — copying and removing directory trees (see fstree.h). */
#include "lib/fstree.h"

#include "lib/err.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

static const char *run_root(void)
{
    const char *tmp = getenv("TMPDIR");
    if (tmp && *tmp)
        return tmp;
    struct statfs fs;
    if (statfs("/dev/shm", &fs) == 0 && fs.f_type == TMPFS_MAGIC && access("/dev/shm", W_OK | X_OK) == 0)
        return "/dev/shm";
    return "/tmp";
}

int fstree_make_run_dir(const char *prefix, char *dir, size_t len, char *err, size_t errlen)
{
    const char *tmp = run_root();
    /* A socket path must fit in 107 bytes: the root, the name, "/.s.PGSQL.NNNN". */
    if (strlen(tmp) > 80) {
        err_set(err, errlen, "TMPDIR is too long for a Unix socket path: %s", tmp);
        return -1;
    }
    snprintf(dir, len, "%s/%s.XXXXXX", tmp, prefix);
    if (!mkdtemp(dir)) {
        err_sys(err, errlen, errno, "mkdtemp(%s)", dir);
        return -1;
    }
    return 0;
}

typedef struct copy_ctx {
    bool set_owner;
    uid_t uid;
    gid_t gid;
    char *err;
    size_t errlen;
} copy_ctx;

/* Copies n bytes from in to out: in the kernel (copy_file_range) when the
 * two files' file systems allow it, else through a buffer (copy_file_range
 * refuses to cross file systems of different types: a template on disk
 * copied into a tmpfs). Returns 0 or -1 with errno. */
static int copy_bytes(int in, int out, off_t n)
{
    bool kernel = true;
    char buf[65536];
    while (n > 0) {
        ssize_t got;
        if (kernel) {
            got = copy_file_range(in, NULL, out, NULL, (size_t)n, 0);
            if (got < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
                kernel = false;
                continue;
            }
        } else {
            got = read(in, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf);
            for (ssize_t done = 0, w; got > 0 && done < got; done += w)
                if ((w = write(out, buf + done, (size_t)(got - done))) < 0) {
                    if (errno != EINTR)
                        return -1;
                    w = 0;
                }
        }
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            /* 0: the file shrank under us; either way the copy is not the file. */
            if (got == 0)
                errno = EIO;
            return -1;
        }
        n -= got;
    }
    return 0;
}

static int copy_file(const char *src, const char *dst, const struct stat *st, const copy_ctx *x)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        err_sys(x->err, x->errlen, errno, "open(%s)", src);
        return -1;
    }
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st->st_mode & 07777);
    if (out < 0) {
        err_sys(x->err, x->errlen, errno, "create(%s)", dst);
        close(in);
        return -1;
    }
    if (copy_bytes(in, out, st->st_size) < 0) {
        err_sys(x->err, x->errlen, errno, "copy(%s)", src);
        close(in);
        close(out);
        return -1;
    }
    int rc = 0;
    if (x->set_owner && fchown(out, x->uid, x->gid) < 0) {
        err_sys(x->err, x->errlen, errno, "chown(%s)", dst);
        rc = -1;
    }
    close(in);
    if (close(out) < 0 && rc == 0) {
        err_sys(x->err, x->errlen, errno, "close(%s)", dst);
        rc = -1;
    }
    return rc;
}

static int copy_dir(const char *src, const char *dst, const struct stat *st, const copy_ctx *x)
{
    if (mkdir(dst, st->st_mode & 07777) < 0) {
        err_sys(x->err, x->errlen, errno, "mkdir(%s)", dst);
        return -1;
    }
    /* mkdir applies the umask: give the directory its own bits back. */
    if (chmod(dst, st->st_mode & 07777) < 0 || (x->set_owner && chown(dst, x->uid, x->gid) < 0)) {
        err_sys(x->err, x->errlen, errno, "chmod/chown(%s)", dst);
        return -1;
    }
    DIR *d = opendir(src);
    if (!d) {
        err_sys(x->err, x->errlen, errno, "opendir(%s)", src);
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (errno = 0, e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char s[PATH_MAX], t[PATH_MAX];
        if ((size_t)snprintf(s, sizeof s, "%s/%s", src, e->d_name) >= sizeof s ||
            (size_t)snprintf(t, sizeof t, "%s/%s", dst, e->d_name) >= sizeof t) {
            err_set(x->err, x->errlen, "path too long under %s", src);
            rc = -1;
            break;
        }
        struct stat cst;
        if (lstat(s, &cst) < 0) {
            err_sys(x->err, x->errlen, errno, "lstat(%s)", s);
            rc = -1;
        } else if (S_ISDIR(cst.st_mode)) {
            rc = copy_dir(s, t, &cst, x);
        } else if (S_ISREG(cst.st_mode)) {
            rc = copy_file(s, t, &cst, x);
        } else if (S_ISLNK(cst.st_mode)) {
            char target[PATH_MAX];
            ssize_t n = readlink(s, target, sizeof target - 1);
            if (n < 0 || (target[n] = '\0', symlink(target, t) < 0) ||
                (x->set_owner && lchown(t, x->uid, x->gid) < 0)) {
                err_sys(x->err, x->errlen, errno, "symlink(%s)", t);
                rc = -1;
            }
        }
        /* Sockets, fifos, devices: a data directory at rest has none. */
    }
    if (rc == 0 && errno) {
        err_sys(x->err, x->errlen, errno, "readdir(%s)", src);
        rc = -1;
    }
    closedir(d);
    return rc;
}

int fstree_copy(const char *src, const char *dst, bool set_owner, uid_t uid, gid_t gid, char *err, size_t errlen)
{
    copy_ctx x = { .set_owner = set_owner, .uid = uid, .gid = gid, .err = err, .errlen = errlen };
    struct stat st;
    if (lstat(src, &st) < 0 || !S_ISDIR(st.st_mode)) {
        err_sys(err, errlen, errno ? errno : ENOTDIR, "copy source %s", src);
        return -1;
    }
    return copy_dir(src, dst, &st, &x);
}

static int rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (type == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;   /* keep going: remove as much as we can */
}

int fstree_remove(const char *path)
{
    if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) == -1 && errno != ENOENT)
        return -1;
    return access(path, F_OK) == 0 ? -1 : 0;
}
