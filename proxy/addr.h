/*
 * addr.h — where the proxy listens and where its server is: the --listen
 * address (a directory for a Unix socket, or HOST:PORT) and the server's
 * address read from a libpq connection string, as libpq itself would
 * read it (the PG* environment and libpq's defaults fill what it omits).
 */
#ifndef PGRACE_PXADDR_H
#define PGRACE_PXADDR_H

#include <stddef.h>
#include <sys/socket.h>

#define PXA_UNIX_PORT 5432      /* a Unix socket's name: DIR/.s.PGSQL.5432 */

typedef struct pxa_addr {
    struct sockaddr_storage sa;
    socklen_t len;
    char host[256];             /* PGHOST's value: the directory, or the host */
    int port;
    int is_unix;
} pxa_addr;

/* Reads --listen's value: DIR (an absolute or ./relative path to an
 * existing directory) or HOST:PORT ([IPv6]:PORT; PORT 0 for any free
 * one). Returns 0 or -1 with a one-line reason. */
int pxa_listen_parse(const char *text, pxa_addr *a, char *err, size_t errlen);

/* The server the connection string dsn names: its first host (a socket
 * directory, a name or an address) and port, resolved. user and dbname get
 * the user and database libpq would connect as (for PGUSER and
 * PGDATABASE). Returns 0 or -1 with a one-line reason. */
int pxa_upstream(const char *dsn, pxa_addr *a, char *user, size_t ulen, char *dbname, size_t dlen, char *err,
                 size_t errlen);

/* Small messages go out at once (TCP_NODELAY), as libpq and the server
 * send theirs: a proxy that held them for Nagle's algorithm would add a
 * round trip's delay to a pipeline. */
void pxa_nodelay(int fd);

/* Opens a stream socket to a, waiting at most timeout_ms or until stopfd
 * (when >= 0) is readable. Returns the socket (non-blocking), or -1 with
 * a reason. */
int pxa_connect(const pxa_addr *a, int timeout_ms, int stopfd, char *err, size_t errlen);

#endif
