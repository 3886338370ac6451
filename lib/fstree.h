/*
 * fstree.h — whole directory trees: where a run's go, copied (the cluster
 * template into a run's directory) and removed (a run's directory at
 * teardown).
 */
#ifndef PGRACE_FSTREE_H
#define PGRACE_FSTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Copies the tree at src to dst (which must not exist): directories,
 * regular files (in the kernel, with copy_file_range) and symlinks, with
 * their permission bits. With set_owner, every copy is chowned to
 * uid:gid (a root process preparing a server's data directory). Returns 0,
 * or -1 with a one-line reason (dst may then hold part of the copy: remove
 * it). */
int fstree_copy(const char *src, const char *dst, bool set_owner, uid_t uid, gid_t gid, char *err, size_t errlen);

/* Makes a run's private directory for a server's files (the embedded
 * cluster's, the pooler's), named prefix.XXXXXX, into dir: under $TMPDIR
 * when set, else /dev/shm when it is a writable tmpfs (a throwaway server's
 * files belong in memory: copying the cluster template there takes a tenth
 * of the time it takes on a disk file system), else /tmp; refused when that
 * leaves too little room for a Unix socket's path inside. Returns 0 or -1
 * with a reason. */
int fstree_make_run_dir(const char *prefix, char *dir, size_t len, char *err, size_t errlen);

/* Removes path and everything under it, not following symlinks. Returns 0
 * or -1 (best effort: it goes on after a failure). A missing path is 0. */
int fstree_remove(const char *path);

#endif
