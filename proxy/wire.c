/*
 * wire.c — framing, reading and building protocol-3 messages (wire.h).
 *
 * The limits are the receivers' own: the server's for what a client sends
 * (postgres.c: 1 GB for Query, Parse, Bind, FunctionCall and CopyData,
 * 10000 bytes for every other message, 64 KB for an authentication
 * token), libpq's for what a server sends (30000 bytes but for the types
 * that may be long). A message past its limit is a protocol error here
 * exactly where it would be one there.
 */
#include "proxy/wire.h"

#include "lib/err.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LARGE_LIMIT ((size_t)0x3fffffff - 1)    /* MaxAllocSize - 1 */
#define SMALL_LIMIT 10000                       /* PQ_SMALL_MESSAGE_LIMIT */
#define AUTH_LIMIT 65535                        /* PG_MAX_AUTH_TOKEN_LENGTH */
#define BACKEND_SHORT_LIMIT 30000               /* libpq: other than the long types */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The largest length (after the type byte) a frontend message of type t
 * may have, 0 for a type the server does not know. */
static size_t frontend_limit(char t)
{
    switch (t) {
    case 'Q': case 'P': case 'B': case 'F': case 'd':
        return LARGE_LIMIT;
    case 'p':
        return AUTH_LIMIT;
    case 'C': case 'D': case 'E': case 'H': case 'S': case 'X': case 'c': case 'f':
        return SMALL_LIMIT;
    default:
        return 0;
    }
}

static size_t backend_limit(char t)
{
    switch (t) {
    case 'T': case 'D': case 'd': case 'V': case 'E': case 'N': case 'A':
        return LARGE_LIMIT;
    case 'R': case 'K': case 'S': case 'Z': case 'C': case 'I': case '1': case '2': case '3':
    case 'n': case 't': case 's': case 'G': case 'H': case 'W': case 'c': case 'v':
        return BACKEND_SHORT_LIMIT;
    default:
        return 0;
    }
}

/* A type byte as text for a message: 'Q', or 0x01. */
static void type_text(char t, char *buf, size_t len)
{
    unsigned char c = (unsigned char)t;
    if (c > 0x20 && c < 0x7f)
        snprintf(buf, len, "'%c'", c);
    else
        snprintf(buf, len, "0x%02x", c);
}

int wire_frame(enum wire_side side, const uint8_t *buf, size_t n, wire_msg *m, char *err, size_t errlen)
{
    if (n < 1)
        return 0;
    char t = (char)buf[0];
    size_t limit = side == WIRE_FRONTEND ? frontend_limit(t) : backend_limit(t);
    char tt[8];
    if (limit == 0) {
        type_text(t, tt, sizeof tt);
        err_set(err, errlen, "invalid %s message type %s", side == WIRE_FRONTEND ? "frontend" : "backend", tt);
        return -1;
    }
    if (n < WIRE_HDR)
        return 0;
    uint32_t len = be32(buf + 1);
    if (len < 4 || len > limit) {
        type_text(t, tt, sizeof tt);
        err_set(err, errlen, "invalid message length %u for a %s message of type %s", len,
                side == WIRE_FRONTEND ? "frontend" : "backend", tt);
        return -1;
    }
    m->type = t;
    m->len = (size_t)len + 1;
    return 1;
}

int wire_needs_whole(enum wire_side side, char type)
{
    if (side == WIRE_FRONTEND)
        return type != 'd' && type != 'p' && type != 'F';
    switch (type) {
    case 'K': case 'Z': case 'C': case 'E': case 'S':
        return 1;
    default:
        return 0;
    }
}

int wire_startup_frame(const uint8_t *buf, size_t n, size_t *len, uint32_t *code, char *err, size_t errlen)
{
    if (n < 8)
        return 0;
    uint32_t l = be32(buf);
    if (l < 8 || l > WIRE_STARTUP_MAX) {
        err_set(err, errlen, "invalid length of startup packet (%u)", l);
        return -1;
    }
    *len = l;
    *code = be32(buf + 4);
    return 1;
}

const char *wire_startup_param(const uint8_t *pkt, size_t len, const char *name, int *bad)
{
    *bad = 0;
    wire_reader r = { pkt + 8, pkt + len };
    for (;;) {
        const char *k, *v;
        size_t kl, vl;
        if (wire_get_str(&r, &k, &kl) < 0) {
            *bad = 1;
            return NULL;
        }
        if (kl == 0)
            return NULL;        /* the list's terminator */
        if (wire_get_str(&r, &v, &vl) < 0) {
            *bad = 1;
            return NULL;
        }
        if (strcmp(k, name) == 0)
            return v;
    }
}

/* ---- reading ----------------------------------------------------------- */

wire_reader wire_body(const uint8_t *msg, size_t len)
{
    return (wire_reader){ msg + WIRE_HDR, msg + len };
}

int wire_get_byte(wire_reader *r, char *out)
{
    if (r->end - r->p < 1)
        return -1;
    *out = (char)*r->p++;
    return 0;
}

int wire_get_i16(wire_reader *r, int *out)
{
    if (r->end - r->p < 2)
        return -1;
    *out = (int16_t)((uint16_t)r->p[0] << 8 | r->p[1]);
    r->p += 2;
    return 0;
}

int wire_get_i32(wire_reader *r, int32_t *out)
{
    if (r->end - r->p < 4)
        return -1;
    *out = (int32_t)be32(r->p);
    r->p += 4;
    return 0;
}

int wire_get_str(wire_reader *r, const char **out, size_t *len)
{
    const uint8_t *nul = memchr(r->p, 0, (size_t)(r->end - r->p));
    if (!nul)
        return -1;
    *out = (const char *)r->p;
    if (len)
        *len = (size_t)(nul - r->p);
    r->p = nul + 1;
    return 0;
}

int wire_at_end(const wire_reader *r) { return r->p == r->end; }

int wire_reply_ends(char request, char reply)
{
    switch (request) {
    case 'P': return reply == '1' || reply == 'E';
    case 'B': return reply == '2' || reply == 'E';
    case 'C': return reply == '3' || reply == 'E';
    case 'D': return reply == 'T' || reply == 'n' || reply == 'E';
    case 'E': return reply == 'C' || reply == 'I' || reply == 's' || reply == 'E';
    case 'S': case 'Q': case 'F': return reply == 'Z';
    default: return 0;
    }
}

int wire_gets_reply(char request)
{
    switch (request) {
    case 'P': case 'B': case 'C': case 'D': case 'E': case 'S': case 'Q': case 'F':
        return 1;
    default:
        return 0;
    }
}

/* ---- building ---------------------------------------------------------- */

void wire_buf_free(wire_buf *b)
{
    free(b->p);
    *b = (wire_buf){ 0 };
}

void wire_buf_consume(wire_buf *b, size_t n)
{
    b->off += n;
    if (b->off >= b->len)
        b->off = b->len = 0;
}

uint8_t *wire_buf_reserve(wire_buf *b, size_t n)
{
    if (b->oom)
        return NULL;
    if (b->off > 0 && b->len + n > b->cap) {
        /* Move the pending bytes to the front before growing. */
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 8192;
        while (cap < b->len + n) {
            if (cap > SIZE_MAX / 2) {
                b->oom = 1;
                return NULL;
            }
            cap *= 2;
        }
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return NULL;
        }
        b->p = p;
        b->cap = cap;
    }
    return b->p + b->len;
}

void wire_buf_put(wire_buf *b, const void *p, size_t n)
{
    uint8_t *d = wire_buf_reserve(b, n);
    if (!d)
        return;
    memcpy(d, p, n);
    b->len += n;
}

static void put_i32(wire_buf *b, uint32_t v)
{
    uint32_t be = htonl(v);
    wire_buf_put(b, &be, 4);
}

static void put_i16(wire_buf *b, uint16_t v)
{
    uint16_t be = htons(v);
    wire_buf_put(b, &be, 2);
}

static void put_str(wire_buf *b, const char *s) { wire_buf_put(b, s, strlen(s) + 1); }

static void put_head(wire_buf *b, char type, size_t body)
{
    wire_buf_put(b, &type, 1);
    put_i32(b, (uint32_t)(body + 4));
}

void wire_put_query(wire_buf *b, const char *sql, size_t len)
{
    put_head(b, 'Q', len + 1);
    wire_buf_put(b, sql, len);
    wire_buf_put(b, "", 1);
}

void wire_put_parse(wire_buf *b, const char *name, const char *sql)
{
    put_head(b, 'P', strlen(name) + 1 + strlen(sql) + 1 + 2);
    put_str(b, name);
    put_str(b, sql);
    put_i16(b, 0);
}

void wire_put_bind(wire_buf *b, const char *portal, const char *stmt)
{
    /* No parameter formats, no parameters, no result formats (text). */
    put_head(b, 'B', strlen(portal) + 1 + strlen(stmt) + 1 + 6);
    put_str(b, portal);
    put_str(b, stmt);
    put_i16(b, 0);
    put_i16(b, 0);
    put_i16(b, 0);
}

void wire_put_execute(wire_buf *b, const char *portal)
{
    put_head(b, 'E', strlen(portal) + 1 + 4);
    put_str(b, portal);
    put_i32(b, 0);
}

void wire_put_close(wire_buf *b, char kind, const char *name)
{
    put_head(b, 'C', 1 + strlen(name) + 1);
    wire_buf_put(b, &kind, 1);
    put_str(b, name);
}

void wire_put_sync(wire_buf *b) { put_head(b, 'S', 0); }

void wire_put_error(wire_buf *b, const char *severity, const char *sqlstate, const char *message)
{
    /* Four fields, each a code byte and a string, then the terminator. */
    size_t body = 4 + 2 * (strlen(severity) + 1) + strlen(sqlstate) + 1 + strlen(message) + 1 + 1;
    put_head(b, 'E', body);
    wire_buf_put(b, "S", 1);
    put_str(b, severity);
    wire_buf_put(b, "V", 1);
    put_str(b, severity);
    wire_buf_put(b, "C", 1);
    put_str(b, sqlstate);
    wire_buf_put(b, "M", 1);
    put_str(b, message);
    wire_buf_put(b, "", 1);
}

void wire_put_cancel(wire_buf *b, int32_t pid, const uint8_t *key, size_t keylen)
{
    put_i32(b, (uint32_t)(12 + keylen));
    put_i32(b, WIRE_CODE_CANCEL);
    put_i32(b, (uint32_t)pid);
    wire_buf_put(b, key, keylen);
}

void wire_put_startup_with(wire_buf *b, const uint8_t *pkt, size_t len, const char *const *names,
                           const char *const *values, int n)
{
    /* Made apart (b may compact as it grows), then its length set. */
    wire_buf m = { 0 };
    put_i32(&m, 0);
    wire_buf_put(&m, pkt + 4, 4);       /* the protocol code */
    wire_reader r = { pkt + 8, pkt + len };
    for (;;) {
        const char *k, *v;
        size_t kl, vl;
        if (wire_get_str(&r, &k, &kl) < 0 || kl == 0 || wire_get_str(&r, &v, &vl) < 0)
            break;
        bool given = false;
        for (int i = 0; i < n && !given; i++)
            given = strcmp(k, names[i]) == 0;
        if (!given) {
            put_str(&m, k);
            put_str(&m, v);
        }
    }
    for (int i = 0; i < n; i++) {
        put_str(&m, names[i]);
        put_str(&m, values[i]);
    }
    wire_buf_put(&m, "", 1);
    if (m.oom) {
        b->oom = 1;
    } else {
        uint32_t be = htonl((uint32_t)m.len);
        memcpy(m.p, &be, 4);
        wire_buf_put(b, m.p, m.len);
    }
    wire_buf_free(&m);
}
