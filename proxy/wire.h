/*
 * wire.h — PostgreSQL's frontend/backend protocol, version 3: where a
 * message's layout is known (after pgbouncer's proto.c and pktbuf.c).
 *
 * Framing (a type byte and a length, or the startup packet's length and
 * code), the message kinds each side may send with the largest length each
 * may have (the server's and libpq's own limits), reading the fields of the
 * messages the proxy looks into, and building the ones it sends itself.
 * Nothing here knows sockets, rules or connections: proxy/flow.c decides,
 * proxy/conn.c moves the bytes.
 */
#ifndef PGRACE_WIRE_H
#define PGRACE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_HDR 5                          /* a type byte and an int32 length */
#define WIRE_STARTUP_MAX 10000              /* the server's MAX_STARTUP_PACKET_LENGTH */
#define WIRE_PROTO_MAJOR3 3
#define WIRE_CODE_CANCEL 80877102           /* 1234.5678 */
#define WIRE_CODE_SSL 80877103              /* 1234.5679 */
#define WIRE_CODE_GSSENC 80877104           /* 1234.5680 */

/* Who sent a message. */
enum wire_side { WIRE_FRONTEND = 0, WIRE_BACKEND = 1 };

/* A framed message: its type and its whole length (header included). */
typedef struct wire_msg {
    char type;
    size_t len;
} wire_msg;

/* Frames the message at buf[0..n) sent by side: 1 with *m filled, 0 when
 * fewer than WIRE_HDR bytes are there, -1 when it cannot be a message of
 * that side (an unknown type, a length under 4 or over what the receiver
 * accepts for that type), with the reason in err. */
int wire_frame(enum wire_side side, const uint8_t *buf, size_t n, wire_msg *m, char *err, size_t errlen);

/* Whether a message of this type is read whole before it is passed on (the
 * proxy looks into it) or may stream through in pieces (rows, COPY data,
 * function calls, authentication). */
int wire_needs_whole(enum wire_side side, char type);

/* The startup packet at buf[0..n): 1 with *len (whole packet) and *code,
 * 0 when fewer than 8 bytes are there, -1 for an impossible length. */
int wire_startup_frame(const uint8_t *buf, size_t n, size_t *len, uint32_t *code, char *err, size_t errlen);

/* The value of parameter name in a StartupMessage (pkt, len bytes, whole),
 * or NULL. -1 in *bad when the parameter list is malformed. */
const char *wire_startup_param(const uint8_t *pkt, size_t len, const char *name, int *bad);

/* ---- reading a message's fields -------------------------------------- */

/* A cursor over one message's body. Every getter returns 0, or -1 when the
 * body is too short (or a string is not terminated inside it). */
typedef struct wire_reader {
    const uint8_t *p, *end;
} wire_reader;

/* A reader over the body of the whole message at msg (length len). */
wire_reader wire_body(const uint8_t *msg, size_t len);
int wire_get_byte(wire_reader *r, char *out);
int wire_get_i16(wire_reader *r, int *out);
int wire_get_i32(wire_reader *r, int32_t *out);
/* A NUL-terminated string; *out points into the message, *len without NUL. */
int wire_get_str(wire_reader *r, const char **out, size_t *len);
/* Nothing is left. */
int wire_at_end(const wire_reader *r);

/* ---- building messages ----------------------------------------------- */

/* A growable byte buffer: bytes [off, len) are pending. Building appends;
 * a failed allocation sets oom and every later append does nothing, so a
 * builder's caller checks once. */
typedef struct wire_buf {
    uint8_t *p;
    size_t off, len, cap;
    int oom;
} wire_buf;

void wire_buf_free(wire_buf *b);
/* The pending bytes. */
static inline size_t wire_buf_pending(const wire_buf *b) { return b->len - b->off; }
/* Marks n pending bytes consumed (the buffer empties when all are). */
void wire_buf_consume(wire_buf *b, size_t n);
/* Room for n more bytes at b->p + b->len; NULL when out of memory. */
uint8_t *wire_buf_reserve(wire_buf *b, size_t n);
void wire_buf_put(wire_buf *b, const void *p, size_t n);

void wire_put_query(wire_buf *b, const char *sql, size_t len);
void wire_put_parse(wire_buf *b, const char *name, const char *sql);
void wire_put_bind(wire_buf *b, const char *portal, const char *stmt);
void wire_put_execute(wire_buf *b, const char *portal);
void wire_put_close(wire_buf *b, char kind, const char *name);
void wire_put_sync(wire_buf *b);
/* An ErrorResponse of the proxy's own (severity ERROR or FATAL). */
void wire_put_error(wire_buf *b, const char *severity, const char *sqlstate, const char *message);
/* The StartupMessage pkt (len bytes, whole and well formed) with n
 * parameters names[i] = values[i]: each in place of the packet's own of
 * that name, at its list's end. */
void wire_put_startup_with(wire_buf *b, const uint8_t *pkt, size_t len, const char *const *names,
                           const char *const *values, int n);
/* A CancelRequest packet for (pid, key of keylen bytes). */
void wire_put_cancel(wire_buf *b, int32_t pid, const uint8_t *key, size_t keylen);

/* ---- message kinds ---------------------------------------------------- */

/* Whether backend message `reply` ends the server's answer to frontend
 * message `request` (P: ParseComplete; B: BindComplete; C: CloseComplete;
 * D: RowDescription or NoData; E: CommandComplete, EmptyQueryResponse or
 * PortalSuspended; S, Q, F: ReadyForQuery; P, B, C, D, E: an ErrorResponse
 * too, after which the server skips to the next Sync). */
int wire_reply_ends(char request, char reply);

/* Whether a frontend message of this type gets an answer of its own
 * (Flush, Terminate and COPY's messages do not). */
int wire_gets_reply(char request);

/* Backend messages that may come at any time, belonging to no request. */
static inline int wire_is_async(char type) { return type == 'N' || type == 'S' || type == 'A'; }

#endif
