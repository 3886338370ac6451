/* template.c — cached initdb'ed data directories (see template.h). */
#include "lib/template.h"

#include "lib/err.h"
#include "lib/fstree.h"
#include "lib/hash.h"
#include "lib/rng.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MARKER "PGRACE_TEMPLATE"        /* written last: its presence means complete */
#define FORMAT "1"                      /* bump when the layout changes */

/* Adds a program's identity to the key: an upgrade changes size or time. */
static uint64_t key_program(uint64_t h, const char *bindir, const char *name)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", bindir, name);
    struct stat st;
    if (stat(p, &st) == 0) {
        int64_t v[] = { (int64_t)st.st_size, (int64_t)st.st_mtim.tv_sec, (int64_t)st.st_mtim.tv_nsec,
                        (int64_t)st.st_ino };
        h = hash_fnv1a(h, v, sizeof v);
    }
    return hash_fnv1a(h, p, strlen(p) + 1);
}

/* mkdir -p with mode 0700 for what it creates. Returns 0 or -1. */
static int make_dirs(const char *dir)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST)
            return -1;
        *s = '/';
    }
    return mkdir(p, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

static bool cache_dir(char *out, size_t len)
{
    const char *env = getenv("PGRACE_CACHE_DIR");
    if (env && strcmp(env, "off") == 0)
        return false;
    if (env && *env) {
        snprintf(out, len, "%s", env);
    } else {
        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        if (xdg && *xdg)
            snprintf(out, len, "%s/pgrace", xdg);
        else if (home && *home)
            snprintf(out, len, "%s/.cache/pgrace", home);
        else
            return false;
    }
    return make_dirs(out) == 0 && access(out, W_OK | X_OK) == 0;
}

int template_locate(const char *bindir, const char *initdb_options, char *path, size_t len)
{
    char dir[PATH_MAX - 64];
    if (!cache_dir(dir, sizeof dir))
        return 0;
    uint64_t h = hash_fnv1a(HASH_FNV1A_INIT, FORMAT, sizeof FORMAT);
    h = key_program(h, bindir, "initdb");
    h = key_program(h, bindir, "postgres");
    h = hash_fnv1a(h, initdb_options, strlen(initdb_options) + 1);
    snprintf(path, len, "%s/template-%016" PRIx64, dir, h);
    return 1;
}

bool template_ready(const char *path)
{
    char p[PATH_MAX];
    const char *needed[] = { MARKER, "data/PG_VERSION", "data/global/pg_control", "data/base" };
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", path, needed[i]);
        if (access(p, R_OK) != 0)
            return false;
    }
    return true;
}

/* A sibling of path no other process will pick: path.<what>.<pid>.<random>. */
static void private_name(const char *path, const char *what, char *out, size_t len)
{
    snprintf(out, len, "%s.%s.%d.%08" PRIx64, path, what, (int)getpid(), rng_fresh_seed() & 0xffffffffu);
}

int template_publish(const char *datadir, const char *path, char *err, size_t errlen)
{
    char tmp[PATH_MAX], data[PATH_MAX + 8], marker[PATH_MAX + 32];
    private_name(path, "new", tmp, sizeof tmp);
    if (mkdir(tmp, 0700) < 0) {
        err_sys(err, errlen, errno, "mkdir(%s)", tmp);
        return -1;
    }
    snprintf(data, sizeof data, "%s/data", tmp);
    snprintf(marker, sizeof marker, "%s/" MARKER, tmp);
    if (fstree_copy(datadir, data, false, 0, 0, err, errlen) < 0)
        goto fail;
    FILE *m = fopen(marker, "w");
    bool written = m && fputs("pgrace template, format " FORMAT "\n", m) >= 0;
    if (m && fclose(m) != 0)
        written = false;
    if (!written) {
        err_sys(err, errlen, errno, "writing %s", marker);
        goto fail;
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        fstree_remove(tmp);
        /* Someone published first: theirs is as good as ours. */
        if (e == EEXIST || e == ENOTEMPTY)
            return 0;
        err_sys(err, errlen, e, "rename(%s)", path);
        return -1;
    }
    return 0;
fail:
    fstree_remove(tmp);
    return -1;
}

void template_discard(const char *path)
{
    char trash[PATH_MAX];
    private_name(path, "broken", trash, sizeof trash);
    if (rename(path, trash) == 0)
        fstree_remove(trash);
}
