/*
 * conn.c — one client connection's thread: the startup packet (SSL and
 * GSS encryption refused with 'N', a CancelRequest routed), the server's
 * connection, then both directions relayed with poll(2) on non-blocking
 * sockets, each message framed (proxy/wire.c) and offered to the flow
 * (proxy/flow.c), whose verdict this file carries out.
 *
 * Both directions move at once, so neither side can stall the other (a
 * client that writes a long pipeline before it reads). Messages the proxy
 * looks into are read whole; rows and COPY data stream through in pieces.
 * A direction stops taking input while a delay holds it or while what it
 * has queued for the other side passes HIGH_WATER. Every wait ends when
 * the proxy stops (its stop pipe is in every poll).
 */
#include "proxy/proxy_int.h"

#include "proxy/flow.h"
#include "proxy/wire.h"
#include "lib/clock.h"
#include "lib/err.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK 65536
#define HIGH_WATER (1 << 20)
#define STARTUP_TIMEOUT_MS 10000
#define CONNECT_TIMEOUT_MS 10000
#define FLUSH_TIMEOUT_MS 1000

/* One direction's socket and buffers: in holds what was read from fd and
 * not yet handled, out what is to be written to fd. */
typedef struct side {
    int fd;
    wire_buf in, out;
    int eof;                    /* read end seen, or an error */
    size_t stream_left;         /* bytes of a streamed message still to pass */
    int stream_pass;            /* ... forwarded (1) or swallowed (0) */
    size_t need;                /* a whole message's length being read */
    int64_t held_until;         /* a delay holds this direction's input, or 0 */
} side;

typedef struct relay {
    pxc *c;
    flow *f;
    side cli, srv;
    int published;              /* the backend's key is the proxy's to route cancels */
    int ending;                 /* 0, or how the connection ends: CLOSE, ERROR */
} relay;

/* One line on stderr about a connection that ended abnormally. */
static void note(int ordinal, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ordinal > 0)
        fprintf(stderr, "pgrace proxy: connection %d: %s\n", ordinal, msg);
    else
        fprintf(stderr, "pgrace proxy: %s\n", msg);
}

/* What a send or recv that returned n means. */
enum { IO_MOVED, IO_RETRY, IO_BLOCKED, IO_GONE };
static int io_status(ssize_t n)
{
    if (n > 0)
        return IO_MOVED;
    if (n < 0 && errno == EINTR)
        return IO_RETRY;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return IO_BLOCKED;
    return IO_GONE;     /* the end of the stream, or an error */
}

/* Writes as much of s->out as the socket takes now. Returns -1 when the
 * peer is gone. */
static int flush_some(side *s)
{
    while (wire_buf_pending(&s->out)) {
        ssize_t n = send(s->fd, s->out.p + s->out.off, wire_buf_pending(&s->out), MSG_NOSIGNAL);
        switch (io_status(n)) {
        case IO_MOVED: wire_buf_consume(&s->out, (size_t)n); break;
        case IO_BLOCKED: return 0;
        case IO_GONE: return -1;
        }
    }
    return 0;
}

/* Waits until fd is ready for events; 0 when the deadline (clock_now_ns
 * time) passed or the proxy stopped first. */
static int wait_ready(int fd, short events, int stopfd, int64_t deadline)
{
    int64_t left = (deadline - clock_now_ns()) / 1000000;
    if (left <= 0)
        return 0;
    struct pollfd pf[2] = { { fd, events, 0 }, { stopfd, POLLIN, 0 } };
    return poll(pf, 2, (int)left) > 0 && !(pf[1].revents & POLLIN);
}

/* Writes what is queued for s, waiting at most FLUSH_TIMEOUT_MS: before
 * a side closes, it gets what was already its. */
static void flush_all(side *s, int stopfd)
{
    int64_t end = clock_now_ns() + FLUSH_TIMEOUT_MS * 1000000LL;
    while (s->fd >= 0 && wire_buf_pending(&s->out) && flush_some(s) == 0 && wire_buf_pending(&s->out))
        if (!wait_ready(s->fd, POLLOUT, stopfd, end))
            return;
}

static void close_side(side *s)
{
    if (s->fd >= 0) {
        shutdown(s->fd, SHUT_RDWR);
        close(s->fd);
        s->fd = -1;
    }
}

/* Reads what the socket has. Returns -1 on end of stream or error. */
static int fill(side *s)
{
    for (;;) {
        uint8_t *p = wire_buf_reserve(&s->in, READ_CHUNK);
        if (!p)
            return -1;
        ssize_t n = recv(s->fd, p, READ_CHUNK, 0);
        switch (io_status(n)) {
        case IO_MOVED:
            s->in.len += (size_t)n;
            if ((size_t)n < READ_CHUNK)
                return 0;
            break;
        case IO_BLOCKED: return 0;
        case IO_GONE: return -1;
        }
    }
}

/* ---- startup ------------------------------------------------------------- */

/* Reads exactly one startup packet from the client into s->in (blocking in
 * poll, bounded). Returns its length and code, 0 when the client closed
 * or timed out, -1 on a malformed packet (err). */
static int read_startup(relay *r, size_t *len, uint32_t *code, char *err, size_t errlen)
{
    side *s = &r->cli;
    int64_t end = clock_now_ns() + STARTUP_TIMEOUT_MS * 1000000LL;
    for (;;) {
        size_t have = wire_buf_pending(&s->in);
        if (have >= 1 && s->in.p[s->in.off] == 0x16) {
            err_set(err, errlen, "the client began a TLS handshake: the proxy speaks in clear only "
                                 "(sslmode=disable or prefer, no direct SSL negotiation)");
            return -1;
        }
        int rc = wire_startup_frame(s->in.p + s->in.off, have, len, code, err, errlen);
        if (rc < 0)
            return -1;
        if (rc > 0 && have >= *len)
            return 1;
        if (!wait_ready(s->fd, POLLIN, r->c->p->stop[0], end))
            return 0;
        if (fill(s) < 0 && wire_buf_pending(&s->in) == have)
            return 0;
    }
}

/* Writes buf to the client at once (a startup answer), bounded. */
static void answer(relay *r, const void *buf, size_t n)
{
    wire_buf_put(&r->cli.out, buf, n);
    flush_all(&r->cli, r->c->p->stop[0]);
}

/* The startup: SSLRequest and GSSENCRequest answered 'N', a
 * CancelRequest routed. Returns 1 when a StartupMessage (protocol 3) is in
 * r->cli.in (*len bytes), 0 when the connection is over. */
static int startup(relay *r, size_t *len)
{
    char err[ERRLEN];
    uint32_t code;
    for (int probes = 0;; probes++) {
        int rc = read_startup(r, len, &code, err, sizeof err);
        if (rc <= 0) {
            if (rc < 0) {
                note(0, "a client's startup: %s", err);
                wire_buf pkt = { 0 };
                wire_put_error(&pkt, "FATAL", "08P01", err);
                answer(r, pkt.p, pkt.len);
                wire_buf_free(&pkt);
            }
            return 0;
        }
        const uint8_t *pkt = r->cli.in.p + r->cli.in.off;
        if ((code == WIRE_CODE_SSL || code == WIRE_CODE_GSSENC) && *len == 8 && probes < 2) {
            wire_buf_consume(&r->cli.in, *len);
            answer(r, "N", 1);
            continue;
        }
        if (code == WIRE_CODE_CANCEL && *len >= 16) {
            int32_t pid = (int32_t)((uint32_t)pkt[8] << 24 | (uint32_t)pkt[9] << 16 | (uint32_t)pkt[10] << 8 | pkt[11]);
            proxy_cancel(r->c->p, pid, pkt + 12, *len - 12);
            return 0;
        }
        if (code >> 16 != WIRE_PROTO_MAJOR3) {
            snprintf(err, sizeof err, "unsupported frontend protocol %u.%u: the proxy speaks 3.0", code >> 16,
                     code & 0xffff);
            wire_buf out = { 0 };
            wire_put_error(&out, "FATAL", "0A000", err);
            answer(r, out.p, out.len);
            wire_buf_free(&out);
            return 0;
        }
        return 1;
    }
}

/* ---- relaying -------------------------------------------------------------- */

/* Publishes the backend's key once the server sent it (cancel routing,
 * proxy_backend_pid). */
static void publish(relay *r)
{
    const uint8_t *key;
    size_t keylen;
    int pid = flow_backend(r->f, &key, &keylen);
    if (!pid)
        return;
    pthread_mutex_lock(&r->c->p->mu);
    r->c->pid = pid;
    memcpy(r->c->key, key, keylen);
    r->c->keylen = keylen;
    pthread_mutex_unlock(&r->c->p->mu);
    r->published = 1;
}

static void set_holding(relay *r, int on)
{
    pthread_mutex_lock(&r->c->p->mu);
    r->c->holding = on;
    if (!on)
        r->c->interrupt = 0;
    pthread_mutex_unlock(&r->c->p->mu);
}

/* Offers from's pending input to the flow, message by message, and queues
 * what passes on to's out. Returns 0, or -1 when the connection ends (how
 * in r->ending). */
static int pump(relay *r, side *from, side *to, enum wire_side who)
{
    char err[ERRLEN];
    while (!from->held_until && wire_buf_pending(&to->out) < HIGH_WATER) {
        uint8_t *p = from->in.p + from->in.off;
        size_t have = wire_buf_pending(&from->in);
        if (from->stream_left) {
            size_t n = have < from->stream_left ? have : from->stream_left;
            if (n == 0)
                return 0;
            if (from->stream_pass)
                wire_buf_put(&to->out, p, n);
            wire_buf_consume(&from->in, n);
            from->stream_left -= n;
            continue;
        }
        wire_msg m;
        int rc = wire_frame(who, p, have, &m, err, sizeof err);
        if (rc < 0) {
            note(flow_conn(r->f)->ordinal, "%s", err);
            if (who == WIRE_FRONTEND)
                wire_put_error(&r->cli.out, "FATAL", "08P01", err);
            r->ending = FLOW_ERROR;
            return -1;
        }
        if (rc == 0)
            return 0;
        int whole = wire_needs_whole(who, m.type);
        if (whole && have < m.len) {
            from->need = m.len;
            return 0;
        }
        from->need = 0;
        size_t len = whole ? m.len : WIRE_HDR;
        enum flow_verdict v = who == WIRE_FRONTEND ? flow_client(r->f, p, len, &to->out, &r->cli.out)
                                                   : flow_server(r->f, p, len);
        if (who == WIRE_BACKEND && !r->published)
            publish(r);
        if (who == WIRE_BACKEND && m.type == 'Z')
            pxf_ready(&r->c->p->sh, flow_conn(r->f));
        switch (v) {
        case FLOW_PASS:
            if (whole) {
                wire_buf_put(&to->out, p, m.len);
                wire_buf_consume(&from->in, m.len);
            } else {
                from->stream_left = m.len;
                from->stream_pass = 1;
            }
            break;
        case FLOW_DONE:
            if (whole)
                wire_buf_consume(&from->in, m.len);
            else {
                from->stream_left = m.len;
                from->stream_pass = 0;
            }
            break;
        case FLOW_HOLD:
            from->held_until = flow_hold_until(r->f);
            if (who == WIRE_FRONTEND)
                set_holding(r, 1);
            return 0;
        case FLOW_CUT:
            /* The client's side closes after what it already had. */
            if (whole)
                wire_buf_consume(&from->in, m.len);
            else {
                from->stream_left = m.len;
                from->stream_pass = 0;
            }
            flush_all(&r->cli, r->c->p->stop[0]);
            close_side(&r->cli);
            wire_buf_free(&r->cli.out);
            break;
        case FLOW_CLOSE:
            r->ending = FLOW_CLOSE;
            return -1;
        case FLOW_ERROR:
            note(flow_conn(r->f)->ordinal, "%s", flow_error(r->f));
            r->ending = FLOW_ERROR;
            return -1;
        }
        if (to->out.oom || r->cli.out.oom) {
            note(flow_conn(r->f)->ordinal, "out of memory");
            r->ending = FLOW_ERROR;
            return -1;
        }
    }
    return 0;
}

/* Whether from's socket should be read now. */
static int wants_input(const side *from, const side *to)
{
    if (from->fd < 0 || from->eof || wire_buf_pending(&to->out) >= HIGH_WATER)
        return 0;
    size_t have = wire_buf_pending(&from->in);
    return have < HIGH_WATER || have < from->need;
}

/* A cancel for a held statement arrived: the flow lets it go as a
 * cancelled one. */
static void take_interrupt(relay *r)
{
    char buf[64];
    while (read(r->c->wake[0], buf, sizeof buf) > 0) {
    }
    pthread_mutex_lock(&r->c->p->mu);
    int asked = r->c->interrupt;
    pthread_mutex_unlock(&r->c->p->mu);
    if (asked && r->cli.held_until && flow_interrupt(r->f))
        r->cli.held_until = clock_now_ns();
}

/* Relays until one side ends or the proxy stops. */
static void relay_loop(relay *r)
{
    proxy *p = r->c->p;
    for (;;) {
        int64_t now = clock_now_ns();
        for (side *s = &r->cli; s; s = s == &r->cli ? &r->srv : NULL)
            if (s->held_until && s->held_until <= now) {
                s->held_until = 0;
                if (s == &r->cli)
                    set_holding(r, 0);
            }
        if ((r->cli.fd >= 0 && pump(r, &r->cli, &r->srv, WIRE_FRONTEND) < 0)
            || pump(r, &r->srv, &r->cli, WIRE_BACKEND) < 0)
            return;
        if (r->cli.fd >= 0 && flush_some(&r->cli) < 0)
            r->cli.eof = 1;
        if (flush_some(&r->srv) < 0)
            return;
        if (r->srv.eof)
            return;             /* the server is gone: the client gets what it sent */
        if (r->cli.fd < 0 ? 0 : r->cli.eof) {
            if (wire_buf_pending(&r->cli.in) && !r->cli.held_until)
                note(flow_conn(r->f)->ordinal, "the client closed the connection in the middle of a message");
            flush_all(&r->srv, p->stop[0]);
            return;             /* the server rolls back what it left open */
        }
        struct pollfd pf[4];
        int n = 0;
        pf[n++] = (struct pollfd){ p->stop[0], POLLIN, 0 };
        pf[n++] = (struct pollfd){ r->c->wake[0], POLLIN, 0 };
        int ci = -1, si;
        if (r->cli.fd >= 0) {
            ci = n;
            pf[n++] = (struct pollfd){ r->cli.fd,
                                       (short)((wants_input(&r->cli, &r->srv) ? POLLIN : 0)
                                               | (wire_buf_pending(&r->cli.out) ? POLLOUT : 0)), 0 };
        }
        si = n;
        pf[n++] = (struct pollfd){ r->srv.fd,
                                   (short)((wants_input(&r->srv, &r->cli) ? POLLIN : 0)
                                           | (wire_buf_pending(&r->srv.out) ? POLLOUT : 0)), 0 };
        int64_t wake = 0;
        for (side *s = &r->cli; s; s = s == &r->cli ? &r->srv : NULL)
            if (s->held_until && (!wake || s->held_until < wake))
                wake = s->held_until;
        int timeout = -1;       /* the stop pipe ends every wait */
        if (wake) {
            int64_t ms = (wake - clock_now_ns() + 999999) / 1000000;
            timeout = ms < 0 ? 0 : ms > 3600000 ? 3600000 : (int)ms;
        }
        int rc = poll(pf, (nfds_t)n, timeout);
        if (rc < 0 && errno != EINTR)
            return;
        if (pf[0].revents)
            return;
        if (pf[1].revents)
            take_interrupt(r);
        if (ci >= 0 && (pf[ci].revents & (POLLIN | POLLHUP | POLLERR)) && fill(&r->cli) < 0)
            r->cli.eof = 1;
        if ((pf[si].revents & (POLLIN | POLLHUP | POLLERR)) && fill(&r->srv) < 0)
            r->srv.eof = 1;
    }
}

void *pxc_main(void *arg)
{
    pxc *c = arg;
    proxy *p = c->p;
    relay r = { .c = c, .cli = { .fd = c->cfd }, .srv = { .fd = -1 } };
    size_t len;
    char err[ERRLEN];
    if (!startup(&r, &len)) {
        proxy_ticket_decide(c, 0);
        goto out;
    }
    const uint8_t *pkt = r.cli.in.p + r.cli.in.off;
    int bad;
    const char *repl = wire_startup_param(pkt, len, "replication", &bad);
    if (bad)
        repl = NULL;            /* the server will refuse the packet itself */
    proxy_ticket_decide(c, 1);
    pthread_mutex_lock(&p->mu);
    int ordinal = c->ordinal;
    pthread_mutex_unlock(&p->mu);
    /* A replication connection speaks another protocol on top: it passes. */
    int opaque = repl && strcmp(repl, "false") != 0 && strcmp(repl, "off") != 0 && strcmp(repl, "no") != 0
                 && strcmp(repl, "0") != 0;
    r.f = flow_new(&p->sh, ordinal, opaque);
    if (!r.f) {
        note(ordinal, "out of memory");
        goto out;
    }
    flow_conn(r.f)->group = c->group;
    r.srv.fd = pxa_connect(&p->upstream, CONNECT_TIMEOUT_MS, p->stop[0], err, sizeof err);
    if (r.srv.fd < 0) {
        char msg[ERRLEN + 64];
        snprintf(msg, sizeof msg, "pgrace proxy: cannot reach the server: %s", err);
        wire_buf out = { 0 };
        wire_put_error(&out, "FATAL", "08006", msg);
        answer(&r, out.p, out.len);
        wire_buf_free(&out);
        note(ordinal, "cannot reach the server: %s", err);
        goto out;
    }
    /* The startup packet goes as it came (the password exchange too), with
     * the proxy's search_path when it names none, and its group's
     * application_name. */
    int bad_sp;
    const char *own_sp = wire_startup_param(pkt, len, "search_path", &bad_sp);
    const char *names[2], *values[2];
    int n = 0;
    if (p->search_path[0] && !own_sp) {
        names[n] = "search_path";
        values[n++] = p->search_path;
    }
    pxf_conn *fc = flow_conn(r.f);
    if (p->appname[0] && c->group) {
        snprintf(fc->app, sizeof fc->app, "%s/w%d", p->appname, c->group);
        names[n] = "application_name";
        values[n++] = fc->app;
    }
    if (n && !opaque && !bad && !bad_sp)
        wire_put_startup_with(&r.srv.out, pkt, len, names, values, n);
    else
        wire_buf_put(&r.srv.out, pkt, len);
    if (opaque || bad || bad_sp)
        fc->app[0] = '\0';             /* not what its backend is named */
    wire_buf_consume(&r.cli.in, len);
    relay_loop(&r);
    if (r.cli.fd >= 0)
        flush_all(&r.cli, p->stop[0]);
    if (r.srv.fd >= 0 && r.published && flow_server_sleeping(r.f)) {
        /* A pg_sleep of the proxy's own may hold the backend: cut it. */
        const uint8_t *key;
        size_t keylen;
        int pid = flow_backend(r.f, &key, &keylen);
        proxy_send_cancel(p, pid, key, keylen);
    }
out:
    close_side(&r.cli);
    close_side(&r.srv);
    wire_buf_free(&r.cli.in);
    wire_buf_free(&r.cli.out);
    wire_buf_free(&r.srv.in);
    wire_buf_free(&r.srv.out);
    flow_free(r.f);
    proxy_conn_gone(c);
    return NULL;
}
