/*
 * proxy_int.h — what the proxy's parts share: the proxy itself (proxy.c:
 * listening, accepting, numbering connections, routing cancels, stopping)
 * and a client connection (conn.c: its thread, its two sockets).
 */
#ifndef PGRACE_PROXY_INT_H
#define PGRACE_PROXY_INT_H

#include "proxy/addr.h"
#include "proxy/faults.h"
#include "proxy/proxy.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct pxc pxc;

#define TICKET_RING 4096

struct proxy {
    pxf_shared sh;
    pxa_addr listen, upstream;
    int nlisten;                /* listening sockets: 1, or one per group */
    int *lfd;                   /* [nlisten] */
    int *port;                  /* [nlisten]: each one's port */
    char search_path[256];      /* added to a StartupMessage that names none, or "" */
    char appname[96];           /* proxy_config.appname, or "" */
    int stop[2];                /* a pipe, readable once the proxy stops */
    char tmpdir[256];           /* the directory the proxy made for its socket, or "" */
    pthread_t acceptor;
    int accepting;
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* CLOCK_MONOTONIC: a connection ended, a ticket was decided */
    pxc *conns;                 /* the live ones */
    int live;
    unsigned long tickets, decided;     /* accept order, and how far numbering has come */
    int ordinals;               /* connections numbered so far */
    unsigned char decided_bits[TICKET_RING / 8];    /* tickets decided out of order */
    char user[256], dbname[256];        /* whom the server's connection string names */
};

/* A client connection. The fields under "published" are the proxy's
 * (written under mu), the rest the connection thread's own. */
struct pxc {
    pxc *next, *prev;
    proxy *p;
    int cfd;
    int wake[2];                /* a pipe: a cancel for a held statement */
    unsigned long ticket;
    int group;                  /* the listening socket it came to (proxy_config.groups), or 0 */
    /* published */
    int ordinal;
    int pid;
    uint8_t key[256];
    size_t keylen;
    int holding;                /* a delay holds its client's statement */
    int interrupt;              /* a CancelRequest asked to cut it short */
};

/* conn.c: the connection's thread (detached); it unlinks and frees c. */
void *pxc_main(void *arg);

/* proxy.c, for the connections */

/* Numbers the connection (session != 0) in accept order, or gives its
 * place up (a CancelRequest, a connection that ended before starting). */
void proxy_ticket_decide(pxc *c, int session);

/* A CancelRequest (pid, key) from a client: cuts short the delay of the
 * connection it names, or passes it on to the server. */
void proxy_cancel(proxy *p, int32_t pid, const uint8_t *key, size_t keylen);

/* Sends the server a CancelRequest for (pid, key). Best effort. */
void proxy_send_cancel(proxy *p, int32_t pid, const uint8_t *key, size_t keylen);

/* The connection ends: unlinks c (the stop waits for every one). */
void proxy_conn_gone(pxc *c);

#endif
