/*
 * flow.h — one proxied connection's conversation: what becomes of each
 * message either side sends, once the startup packet has gone.
 *
 * The client's statements are counted and decided (proxy/faults.c); a
 * fault rewrites what goes to the server so that the server itself fails
 * the statement (error=), or closes the connection (drop, ambiguous), or
 * holds it (delay=). To give the client exactly the answers it asked for,
 * the flow keeps the server's pending answers in order — a queue with an
 * entry per message that gets one (Parse, Bind, Describe, Execute, Close,
 * Sync, Query, FunctionCall), and within a Query one unit per statement —
 * so that it knows which answer belongs to a message the proxy inserted
 * (swallowed), to a faulted statement (cut, held), or to the client
 * (passed on unchanged).
 *
 * No sockets here: proxy/conn.c frames the bytes (proxy/wire.h), offers
 * each message and carries the verdict out, so the whole conversation can
 * also be driven from a buffer (t/unit/proxy_fuzz.c).
 */
#ifndef PGRACE_FLOW_H
#define PGRACE_FLOW_H

#include "proxy/faults.h"
#include "proxy/wire.h"

#include <stdint.h>

typedef struct flow flow;

enum flow_verdict {
    FLOW_PASS,          /* pass the message on unchanged */
    FLOW_DONE,          /* consumed: what goes out instead (if anything) is written */
    FLOW_HOLD,          /* not consumed: hold this direction until flow_hold_until, then offer it again */
    FLOW_CUT,           /* consumed: close the client's side now; the server's stays until a FLOW_CLOSE */
    FLOW_CLOSE,         /* consumed: close both sides once what is queued for the client is written */
    FLOW_ERROR,         /* a protocol error (flow_error says which; an ErrorResponse is queued for the client) */
};

/* A connection's flow, number ordinal. opaque: a replication connection,
 * whose messages pass uncounted. NULL when out of memory. */
flow *flow_new(pxf_shared *sh, int ordinal, int opaque);
void flow_free(flow *f);

/* A whole message from the client (type m[0], len bytes). Messages of the
 * types wire_needs_whole(WIRE_FRONTEND, ...) says stream are offered by
 * their first WIRE_HDR bytes (len = WIRE_HDR); their verdict is always
 * FLOW_PASS. Writes what the proxy sends instead to to_server, and its own
 * answers to to_client. */
enum flow_verdict flow_client(flow *f, const uint8_t *m, size_t len, wire_buf *to_server, wire_buf *to_client);

/* The same for a message from the server: whole when wire_needs_whole
 * (WIRE_BACKEND, ...), else its first WIRE_HDR bytes. FLOW_DONE means
 * swallow it: the client never asked for it. */
enum flow_verdict flow_server(flow *f, const uint8_t *m, size_t len);

/* When the direction a FLOW_HOLD stopped may go on (clock_now_ns time). */
int64_t flow_hold_until(const flow *f);

/* A CancelRequest for this connection arrived: a statement held by a delay
 * is let go as a cancelled one (the server raises 57014). Returns 1 when
 * it was (the request is then not forwarded), 0 when nothing is held. */
int flow_interrupt(flow *f);

/* The reason of a FLOW_ERROR. */
const char *flow_error(const flow *f);

/* The connection's backend (BackendKeyData): pid and secret key; 0 before
 * the server sent it. */
int flow_backend(const flow *f, const uint8_t **key, size_t *keylen);

/* The connection's part of the decisions (its number, pid, counters). */
pxf_conn *flow_conn(flow *f);

/* Whether the server may be running a delay the proxy inserted (a pg_sleep
 * between two statements of one Query): a connection that ends then
 * cancels it, so that no backend sleeps on after the proxy stops. */
int flow_server_sleeping(const flow *f);

#endif
