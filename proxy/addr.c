/* addr.c — the listen address and the server's address (addr.h). */
#include "proxy/addr.h"

#include "lib/err.h"
#include "lib/parse.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* a is the Unix socket dir/.s.PGSQL.port. */
static int unix_addr(const char *dir, int port, pxa_addr *a, char *err, size_t errlen)
{
    struct sockaddr_un *un = (struct sockaddr_un *)&a->sa;
    memset(a, 0, sizeof *a);
    un->sun_family = AF_UNIX;
    int n = snprintf(un->sun_path, sizeof un->sun_path, "%s/.s.PGSQL.%d", dir, port);
    if (n < 0 || (size_t)n >= sizeof un->sun_path) {
        err_set(err, errlen, "socket directory too long for a Unix socket: %s", dir);
        return -1;
    }
    a->len = sizeof *un;
    snprintf(a->host, sizeof a->host, "%s", dir);
    a->port = port;
    a->is_unix = 1;
    return 0;
}

/* host:port resolved (numeric port; passive for a listening address). */
static int inet_addr(const char *host, int port, int passive, pxa_addr *a, char *err, size_t errlen)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = passive ? AI_PASSIVE : 0 }, *res;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int rc = getaddrinfo(host, ps, &hints, &res);
    if (rc != 0) {
        err_set(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    memset(a, 0, sizeof *a);
    memcpy(&a->sa, res->ai_addr, res->ai_addrlen);
    a->len = res->ai_addrlen;
    freeaddrinfo(res);
    snprintf(a->host, sizeof a->host, "%s", host);
    a->port = port;
    return 0;
}

int pxa_listen_parse(const char *text, pxa_addr *a, char *err, size_t errlen)
{
    if (!text || !*text) {
        err_set(err, errlen, "--listen needs DIR or HOST:PORT");
        return -1;
    }
    if (text[0] == '/' || text[0] == '.') {
        struct stat st;
        if (stat(text, &st) < 0 || !S_ISDIR(st.st_mode)) {
            err_set(err, errlen, "--listen %s: not a directory (DIR for a Unix socket, or HOST:PORT)", text);
            return -1;
        }
        return unix_addr(text, PXA_UNIX_PORT, a, err, errlen);
    }
    const char *colon = strrchr(text, ':');
    long port;
    if (!colon || colon == text || parse_long(colon + 1, 0, 65535, &port) < 0) {
        err_set(err, errlen, "--listen %s: expected DIR or HOST:PORT (a port from 0 to 65535)", text);
        return -1;
    }
    char host[256];
    size_t hl = (size_t)(colon - text);
    if (text[0] == '[' && hl >= 2 && text[hl - 1] == ']') {
        text++;
        hl -= 2;
    }
    if (hl >= sizeof host) {
        err_set(err, errlen, "--listen: host name too long");
        return -1;
    }
    memcpy(host, text, hl);
    host[hl] = '\0';
    if (inet_addr(host, (int)port, 1, a, err, errlen) < 0) {
        char why[ERRLEN];
        snprintf(why, sizeof why, "%s", err);
        err_set(err, errlen, "--listen %s: %s", text, why);
        return -1;
    }
    return 0;
}

/* The value of keyword in opts (from PQconninfoParse or PQconndefaults),
 * or NULL when unset or empty. */
static const char *opt(const PQconninfoOption *opts, const char *keyword)
{
    for (const PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, keyword) == 0)
            return o->val && *o->val ? o->val : NULL;
    return NULL;
}

int pxa_upstream(const char *dsn, pxa_addr *a, char *user, size_t ulen, char *dbname, size_t dlen, char *err,
                 size_t errlen)
{
    char *perr = NULL;
    PQconninfoOption *given = PQconninfoParse(dsn ? dsn : "", &perr);
    if (!given) {
        err_set(err, errlen, "--dsn: %s", perr ? perr : "out of memory");
        PQfreemem(perr);
        return -1;
    }
    PQconninfoOption *defaults = PQconndefaults();
    const char *host = opt(given, "hostaddr");
    if (!host)
        host = opt(given, "host");
    if (!host)
        host = opt(defaults, "host");
    const char *port = opt(given, "port");
    if (!port)
        port = opt(defaults, "port");
    const char *u = opt(given, "user");
    if (!u)
        u = opt(defaults, "user");
    const char *d = opt(given, "dbname");
    if (!d)
        d = opt(defaults, "dbname");
    snprintf(user, ulen, "%s", u ? u : "");
    snprintf(dbname, dlen, "%s", d ? d : (u ? u : ""));
    int rc = -1;
    long portn = 5432;
    char first[256];
    /* libpq's default socket directory on Debian. */
    snprintf(first, sizeof first, "%s", host ? host : "/var/run/postgresql");
    first[strcspn(first, ",")] = '\0';      /* a list: the first host */
    if (port) {
        char p1[16];
        snprintf(p1, sizeof p1, "%s", port);
        p1[strcspn(p1, ",")] = '\0';
        if (parse_long(p1, 1, 65535, &portn) < 0) {
            err_set(err, errlen, "--dsn: invalid port \"%s\"", port);
            goto out;
        }
    }
    if (first[0] == '/' || first[0] == '@')
        rc = first[0] == '@' ? (err_set(err, errlen, "--dsn: abstract Unix sockets are not supported"), -1)
                             : unix_addr(first, (int)portn, a, err, errlen);
    else
        rc = inet_addr(first, (int)portn, 0, a, err, errlen);
out:
    PQconninfoFree(given);
    PQconninfoFree(defaults);
    return rc;
}

void pxa_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);     /* a Unix socket says no: fine */
}

int pxa_connect(const pxa_addr *a, int timeout_ms, int stopfd, char *err, size_t errlen)
{
    int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        err_sys(err, errlen, errno, "socket");
        return -1;
    }
    if (!a->is_unix)
        pxa_nodelay(fd);
    if (connect(fd, (const struct sockaddr *)&a->sa, a->len) == 0)
        return fd;
    if (errno != EINPROGRESS && errno != EAGAIN) {
        err_sys(err, errlen, errno, "connect to %s port %d", a->host, a->port);
        close(fd);
        return -1;
    }
    struct pollfd pf[2] = { { fd, POLLOUT, 0 }, { stopfd, POLLIN, 0 } };
    int rc;
    while ((rc = poll(pf, stopfd >= 0 ? 2 : 1, timeout_ms)) < 0 && errno == EINTR) {
    }
    if (rc <= 0 || (pf[1].revents & POLLIN)) {
        err_set(err, errlen, "connect to %s port %d: %s", a->host, a->port, rc == 0 ? "timed out" : "stopped");
        close(fd);
        return -1;
    }
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (soerr) {
        err_sys(err, errlen, soerr, "connect to %s port %d", a->host, a->port);
        close(fd);
        return -1;
    }
    return fd;
}
