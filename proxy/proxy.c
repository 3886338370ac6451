/*
 * proxy.c — the proxy's life (proxy.h): it checks its configuration,
 * listens, accepts (a thread per connection, proxy/conn.c), numbers the
 * connections in the order they were accepted, routes CancelRequests, and
 * stops: every connection closed, its thread waited for (bounded), its
 * socket file and directory removed.
 *
 * Numbering: a connection's number is given when its StartupMessage
 * arrives, but in accept order — a connection waits (bounded) until every
 * connection accepted before it has said what it is (a session, or a
 * CancelRequest, which gets no number), so that `conn=2` is the second
 * session the client opened however the threads run.
 */
#include "proxy/proxy_int.h"

#include "proxy/wire.h"
#include "lib/err.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define STOP_GRACE_S 10
#define TICKET_WAIT_S 15
#define CANCEL_TIMEOUT_MS 2000
#define ACCEPT_BACKOFF_MS 100

/* Waits on p->cv until deadline (monotonic); returns 0 when it passed. */
static int wait_until(proxy *p, const struct timespec *deadline)
{
    return pthread_cond_timedwait(&p->cv, &p->mu, deadline) != ETIMEDOUT;
}

static struct timespec deadline_in(int seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += seconds;
    return ts;
}

void proxy_ticket_decide(pxc *c, int session)
{
    proxy *p = c->p;
    pthread_mutex_lock(&p->mu);
    struct timespec end = deadline_in(TICKET_WAIT_S);
    /* Those accepted before it first (a client stuck before its startup
     * packet holds the others only until the wait's bound). */
    while (p->decided != c->ticket && c->ticket - p->decided < TICKET_RING && wait_until(p, &end)) {
    }
    if (session)
        c->ordinal = ++p->ordinals;
    p->decided_bits[(c->ticket % TICKET_RING) / 8] |= (unsigned char)(1u << (c->ticket % 8));
    while (p->decided_bits[(p->decided % TICKET_RING) / 8] & (1u << (p->decided % 8))) {
        p->decided_bits[(p->decided % TICKET_RING) / 8] &= (unsigned char)~(1u << (p->decided % 8));
        p->decided++;
    }
    c->ticket = (unsigned long)-1;  /* decided */
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void proxy_conn_gone(pxc *c)
{
    proxy *p = c->p;
    pthread_mutex_lock(&p->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        p->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    p->live--;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    close(c->wake[0]);
    close(c->wake[1]);
    free(c);
}

void proxy_send_cancel(proxy *p, int32_t pid, const uint8_t *key, size_t keylen)
{
    char err[ERRLEN];
    int fd = pxa_connect(&p->upstream, CANCEL_TIMEOUT_MS, -1, err, sizeof err);
    if (fd < 0)
        return;
    wire_buf b = { 0 };
    wire_put_cancel(&b, pid, key, keylen);
    size_t off = 0;
    while (!b.oom && off < b.len) {
        struct pollfd pf = { fd, POLLOUT, 0 };
        if (poll(&pf, 1, CANCEL_TIMEOUT_MS) <= 0)
            break;
        ssize_t n = send(fd, b.p + off, b.len - off, MSG_NOSIGNAL);
        if (n <= 0 && errno != EAGAIN && errno != EINTR)
            break;
        if (n > 0)
            off += (size_t)n;
    }
    wire_buf_free(&b);
    close(fd);
}

void proxy_cancel(proxy *p, int32_t pid, const uint8_t *key, size_t keylen)
{
    pthread_mutex_lock(&p->mu);
    pxc *c = p->conns;
    while (c && !(c->pid == pid && c->keylen == keylen && memcmp(c->key, key, keylen) == 0))
        c = c->next;
    if (c && c->holding) {
        /* The statement is the proxy's to let go: as a cancelled one. */
        c->interrupt = 1;
        ssize_t w = write(c->wake[1], "c", 1);
        (void)w;
        c = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    /* A key no connection has is ignored, as the server ignores one. */
    if (c)
        proxy_send_cancel(p, pid, key, keylen);
}

/* ---- accepting ------------------------------------------------------------- */

static void *acceptor(void *arg)
{
    proxy *p = arg;
    struct pollfd *pf = calloc((size_t)p->nlisten + 1, sizeof *pf);
    if (!pf)
        return NULL;
    pf[0] = (struct pollfd){ p->stop[0], POLLIN, 0 };
    for (int i = 0; i < p->nlisten; i++)
        pf[i + 1] = (struct pollfd){ p->lfd[i], POLLIN, 0 };
    for (;;) {
        if (poll(pf, (nfds_t)p->nlisten + 1, -1) < 0 && errno != EINTR)
            break;
        if (pf[0].revents)
            break;
        for (int i = 0; i < p->nlisten; i++) {
            if (!(pf[i + 1].revents & POLLIN))
                continue;
            int fd = accept4(p->lfd[i], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                /* Out of descriptors or memory: the connection waits in the
                 * backlog; accepting again at once would only spin. */
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                    poll(pf, 1, ACCEPT_BACKOFF_MS);
                continue;
            }
            if (!p->listen.is_unix)
                pxa_nodelay(fd);
            pxc *c = calloc(1, sizeof *c);
            if (!c || pipe2(c->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
                free(c);
                close(fd);
                continue;
            }
            c->p = p;
            c->cfd = fd;
            c->group = p->sh.ngroups ? i + 1 : 0;
            pthread_mutex_lock(&p->mu);
            c->ticket = p->tickets++;
            c->next = p->conns;
            if (p->conns)
                p->conns->prev = c;
            p->conns = c;
            p->live++;
            pthread_mutex_unlock(&p->mu);
            pthread_t t;
            pthread_attr_t a;
            pthread_attr_init(&a);
            pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
            if (pthread_create(&t, &a, pxc_main, c) != 0) {
                close(fd);
                proxy_ticket_decide(c, 0);
                proxy_conn_gone(c);
            }
            pthread_attr_destroy(&a);
        }
    }
    free(pf);
    return NULL;
}

/* A socket file at path that nobody listens on is a crashed run's: gone. */
static int clear_stale(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return 0;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    snprintf(un.sun_path, sizeof un.sun_path, "%s", path);
    int in_use = fd >= 0 && connect(fd, (struct sockaddr *)&un, sizeof un) == 0;
    if (fd >= 0)
        close(fd);
    if (in_use || !S_ISSOCK(st.st_mode)) {
        err_set(err, errlen, "--listen: %s is in use", path);
        return -1;
    }
    unlink(path);
    return 0;
}

/* Opens listening socket i on a (its port found when a asks for any). */
static int listen_one(proxy *p, int i, const pxa_addr *a, char *err, size_t errlen)
{
    int fd = p->lfd[i] = socket(a->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        err_sys(err, errlen, errno, "socket");
        return -1;
    }
    int one = 1;
    if (!a->is_unix)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)&a->sa, a->len) < 0 || listen(fd, 128) < 0) {
        err_sys(err, errlen, errno, "--listen %s%s%d", a->host, a->is_unix ? " port " : ":", a->port);
        return -1;
    }
    p->port[i] = a->port;
    if (a->is_unix) {
        chmod(((const struct sockaddr_un *)&a->sa)->sun_path, 0777);
    } else if (a->port == 0) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        getsockname(fd, (struct sockaddr *)&ss, &sl);
        p->port[i] = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                    : ((struct sockaddr_in *)&ss)->sin_port);
    }
    return 0;
}

static int listen_on(proxy *p, char *err, size_t errlen)
{
    pxa_addr *a = &p->listen;
    if (a->is_unix && clear_stale(((struct sockaddr_un *)&a->sa)->sun_path, err, errlen) < 0)
        return -1;
    for (int i = 0; i < p->nlisten; i++)
        if (listen_one(p, i, a, err, errlen) < 0)
            return -1;
    a->port = p->port[0];
    return 0;
}

/* The server answers (or refuses for a reason of its own: it is there). */
static int check_server(const char *dsn, char *err, size_t errlen)
{
    switch (PQping(dsn ? dsn : "")) {
    case PQPING_OK:
    case PQPING_REJECT:
        return 0;
    case PQPING_NO_ATTEMPT:
        err_set(err, errlen, "--dsn: not a usable connection string");
        return -1;
    default:
        err_set(err, errlen, "the server does not answer at %s", dsn && *dsn ? dsn : "the default address");
        return -1;
    }
}

/* Releases what proxy_start made (p itself too). */
static void release(proxy *p)
{
    for (int i = 0; p->lfd && i < p->nlisten; i++)
        if (p->lfd[i] >= 0)
            close(p->lfd[i]);
    free(p->lfd);
    free(p->port);
    if (p->listen.is_unix && p->listen.len)
        unlink(((struct sockaddr_un *)&p->listen.sa)->sun_path);
    if (p->tmpdir[0])
        rmdir(p->tmpdir);
    if (p->stop[0] >= 0) {
        close(p->stop[0]);
        close(p->stop[1]);
    }
    pxf_free(&p->sh);
    pthread_rwlock_destroy(&p->sh.lock);
    pthread_mutex_destroy(&p->sh.group_mu);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int proxy_start(proxy **out, const proxy_config *cfg, char *err, size_t errlen)
{
    proxy *p = calloc(1, sizeof *p);
    int n = cfg->groups > 0 ? cfg->groups : 1;
    if (!p || !(p->lfd = malloc((size_t)n * sizeof *p->lfd)) || !(p->port = calloc((size_t)n, sizeof *p->port))
        || (cfg->groups > 0 && !(p->sh.group_counters = calloc((size_t)n, sizeof *p->sh.group_counters)))) {
        if (p) {
            free(p->lfd);
            free(p->port);
        }
        free(p);
        err_set(err, errlen, "out of memory");
        return -1;
    }
    p->nlisten = n;
    for (int i = 0; i < n; i++)
        p->lfd[i] = -1;
    p->sh.ngroups = cfg->groups > 0 ? cfg->groups : 0;
    p->stop[0] = p->stop[1] = -1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_rwlock_init(&p->sh.lock, NULL);
    pthread_mutex_init(&p->sh.group_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (cfg->search_path && snprintf(p->search_path, sizeof p->search_path, "%s", cfg->search_path)
                                >= (int)sizeof p->search_path) {
        err_set(err, errlen, "search_path too long: %s", cfg->search_path);
        goto fail;
    }
    if (cfg->appname && snprintf(p->appname, sizeof p->appname, "%s", cfg->appname) >= (int)sizeof p->appname) {
        err_set(err, errlen, "application_name too long: %s", cfg->appname);
        goto fail;
    }
    if (pxf_set_rules(&p->sh, cfg->rules, err, errlen) < 0)
        goto fail;
    if (cfg->log && *cfg->log) {
        int fd = open(cfg->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            err_sys(err, errlen, errno, "--log %s", cfg->log);
            goto fail;
        }
        close(fd);
        snprintf(p->sh.log, sizeof p->sh.log, "%s", cfg->log);
    }
    if (pxa_upstream(cfg->upstream, &p->upstream, p->user, sizeof p->user, p->dbname, sizeof p->dbname, err,
                     errlen) < 0
        || check_server(cfg->upstream, err, errlen) < 0)
        goto fail;
    if (cfg->groups > 0) {
        /* A TCP address per group, each on a free port of its own. */
        char host[300];
        snprintf(host, sizeof host, "%s", cfg->listen ? cfg->listen : "127.0.0.1:0");
        char *colon = strrchr(host, ':');
        if (pxa_listen_parse(host, &p->listen, err, errlen) < 0)
            goto fail;
        if (p->listen.is_unix || !colon || strcmp(colon, ":0") != 0) {
            err_set(err, errlen, "a proxy with groups listens on HOST:0 (a free port per group), not %s", host);
            goto fail;
        }
    } else if (cfg->listen) {
        if (pxa_listen_parse(cfg->listen, &p->listen, err, errlen) < 0)
            goto fail;
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(p->tmpdir, sizeof p->tmpdir, "%s/pgrace-proxy-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(p->tmpdir)) {
            err_sys(err, errlen, errno, "mkdtemp %s", p->tmpdir);
            p->tmpdir[0] = '\0';
            goto fail;
        }
        chmod(p->tmpdir, 0755);
        if (pxa_listen_parse(p->tmpdir, &p->listen, err, errlen) < 0)
            goto fail;
    }
    if (pipe2(p->stop, O_CLOEXEC) < 0) {
        err_sys(err, errlen, errno, "pipe");
        goto fail;
    }
    if (listen_on(p, err, errlen) < 0)
        goto fail;
    if (pthread_create(&p->acceptor, NULL, acceptor, p) != 0) {
        err_set(err, errlen, "cannot start the proxy's thread");
        goto fail;
    }
    p->accepting = 1;
    *out = p;
    return 0;
fail:
    release(p);
    return -1;
}

const char *proxy_host(const proxy *p) { return p->listen.host; }
int proxy_port(const proxy *p) { return p->listen.port; }
int proxy_group_port(const proxy *p, int g) { return g >= 1 && g <= p->nlisten ? p->port[g - 1] : 0; }
const char *proxy_user(const proxy *p) { return p->user; }
const char *proxy_dbname(const proxy *p) { return p->dbname; }
unsigned long proxy_fired(const proxy *p) { return atomic_load(&p->sh.fired); }

int proxy_set_rules(proxy *p, const char *rules, char *err, size_t errlen)
{
    return pxf_set_rules(&p->sh, rules, err, errlen);
}

void proxy_restart_counts(proxy *p) { pxf_restart_groups(&p->sh); }

void proxy_set_observer(proxy *p, proxy_observe_fn fn, void *arg)
{
    atomic_store(&p->sh.observe_arg, arg);
    atomic_store(&p->sh.observe, fn);
}

void proxy_set_gate(proxy *p, proxy_gate_fn fn, void *arg)
{
    atomic_store(&p->sh.gate_arg, arg);
    atomic_store(&p->sh.gate, fn);
}

int proxy_backend_pid(proxy *p, int conn)
{
    pthread_mutex_lock(&p->mu);
    int pid = 0;
    for (pxc *c = p->conns; c; c = c->next)
        if (c->ordinal == conn)
            pid = c->pid;
    pthread_mutex_unlock(&p->mu);
    return pid;
}

int proxy_group_pids(proxy *p, int g, int *pids, int max)
{
    int n = 0;
    pthread_mutex_lock(&p->mu);
    for (pxc *c = p->conns; c && n < max; c = c->next)
        if (c->group == g && c->pid)
            pids[n++] = c->pid;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void proxy_stop(proxy *p)
{
    if (!p)
        return;
    ssize_t w = write(p->stop[1], "s", 1);
    (void)w;
    if (p->accepting)
        pthread_join(p->acceptor, NULL);
    pthread_mutex_lock(&p->mu);
    struct timespec end = deadline_in(STOP_GRACE_S);
    while (p->live > 0 && wait_until(p, &end)) {
    }
    int left = p->live;
    pthread_mutex_unlock(&p->mu);
    if (left > 0) {
        /* A thread still runs (a gate that never returned): p stays, so
         * that it can finish; the socket file and directory go. */
        fprintf(stderr, "pgrace proxy: %d connection(s) did not end within %ds\n", left, STOP_GRACE_S);
        for (int i = 0; i < p->nlisten; i++) {
            close(p->lfd[i]);
            p->lfd[i] = -1;
        }
        if (p->listen.is_unix)
            unlink(((struct sockaddr_un *)&p->listen.sa)->sun_path);
        if (p->tmpdir[0])
            rmdir(p->tmpdir);
        return;
    }
    release(p);
}
