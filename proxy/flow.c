/*
 * flow.c — one connection's conversation (flow.h).
 *
 * How each action is carried out, indistinguishable from the server:
 *
 * error=   Simple protocol: the statement's text is replaced by the rule's
 *          DO block (faults/grammar.h: raise_sql), so the server raises the
 *          SQLSTATE; statements before it in the same Query run as sent and
 *          those after it are not sent (the server would skip them after
 *          the error). Extended protocol: the client's Execute is replaced
 *          by a Parse, Bind and Execute of the DO block under a name of the
 *          proxy's own ("pgrace_proxy_N"), whose ParseComplete and
 *          BindComplete are swallowed; the server then skips to the Sync as
 *          it would after a real error, and after that Sync the proxy
 *          closes its statement (Close + Sync, both answers swallowed). The
 *          client's statements and portals are never touched. A COMMIT is
 *          preceded by a ROLLBACK whose answers are swallowed: a failed
 *          COMMIT ends the transaction, rolled back.
 * drop     Both sides are closed before the statement is sent. For the
 *          Nth statement of a Query (N > 1) the statements before it run,
 *          then an error the proxy swallows aborts what they left open, and
 *          both sides close: what a connection lost at statement N leaves.
 * ambiguous  The statement is sent; at its CommandComplete the client's
 *          side is closed without it, and the server's once the pending
 *          Sync (if any) has been answered, so that the commit stands. In a
 *          Query the statements after it are not sent.
 * delay=   Held by the proxy (a statement alone in its Query, an Execute):
 *          the client's messages from it on wait, interruptible by a
 *          CancelRequest (then the server raises 57014) and by the proxy's
 *          stop; :after holds the server's answers from the statement's
 *          CommandComplete on. Between two statements of one Query the
 *          server sleeps (a DO block with pg_sleep whose answer is
 *          swallowed), so that the statements around it keep their order
 *          and their transaction.
 *
 * A statement is a Query's statement (pgf_next_statement splits a Query),
 * or an Execute of a portal not executed since its Bind (a portal's later
 * Executes fetch more rows of the same statement).
 */
#include "proxy/flow.h"

#include "proxy/names.h"
#include "faults/pgfault.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How an answer is handled. */
enum { M_FORWARD = 0, M_SWALLOW = 1 };
/* What a statement's answer does when its end comes. */
enum { F_NONE = 0, F_AMBIGUOUS, F_AFTER, F_DROP, F_SLEEP };

/* One statement of a Query, as sent. */
typedef struct unit {
    uint8_t mode, fault;
    long delay_us;
} unit;

/* One message the server owes an answer to. */
typedef struct entry {
    char type;                  /* P B C D E S Q F */
    uint8_t mode, fault;
    long delay_us;
    unit *units;                /* Query: its statements' (NULL: every one forwarded) */
    int nunits, cur;
} entry;

struct flow {
    pxf_shared *sh;
    pxf_conn pc;
    int opaque;
    int ready;                  /* the first ReadyForQuery came */
    int skipping;               /* the server ignores extended messages until a Sync */
    int copy_in;                /* the server is in COPY FROM STDIN */
    int cut;                    /* the client's side is closed: the server's at the next ReadyForQuery */
    uint8_t key[256];
    size_t keylen;
    /* the client's message held by a delay */
    int held, interrupted;
    int s2c_released;           /* the held answer may go */
    int64_t hold_until;
    /* statements of the proxy's own to close after the next Sync */
    unsigned long seq, owed_from, owed_to;
    pxn_map stmts, portals;
    entry *q;
    size_t qh, qn, qcap;
    char err[256];
};

static const char sleep_fmt[] = "DO $pgfaultdo$BEGIN PERFORM pg_sleep(%ld.%06ld); END$pgfaultdo$";
static const char drop_sql[] = "DO $pgfaultdo$BEGIN RAISE EXCEPTION 'pgrace proxy: drop'; END$pgfaultdo$";

flow *flow_new(pxf_shared *sh, int ordinal, int opaque)
{
    flow *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->sh = sh;
    f->pc.ordinal = ordinal;
    f->pc.tx = 'I';
    f->opaque = opaque;
    return f;
}

static void entry_free(entry *e)
{
    free(e->units);
    e->units = NULL;
}

void flow_free(flow *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->qn; i++)
        entry_free(&f->q[(f->qh + i) % f->qcap]);
    free(f->q);
    pxn_clear(&f->stmts);
    pxn_clear(&f->portals);
    free(f);
}

int64_t flow_hold_until(const flow *f) { return f->hold_until; }
const char *flow_error(const flow *f) { return f->err; }
pxf_conn *flow_conn(flow *f) { return &f->pc; }

int flow_backend(const flow *f, const uint8_t **key, size_t *keylen)
{
    *key = f->key;
    *keylen = f->keylen;
    return f->pc.pid;
}

int flow_interrupt(flow *f)
{
    if (!f->held)
        return 0;
    f->interrupted = 1;
    return 1;
}

/* ---- the queue of answers owed ------------------------------------------ */

static entry *head(flow *f) { return f->qn ? &f->q[f->qh] : NULL; }

/* Queues e (its units are the queue's now). Returns 0 or -1 (memory). A
 * message the server will ignore (it skips to a Sync) gets no entry. */
static int push(flow *f, entry e)
{
    if (f->skipping && e.type != 'S') {
        free(e.units);
        return 0;
    }
    if (e.type == 'S')
        f->skipping = 0;
    if (f->qn == f->qcap) {
        size_t cap = f->qcap ? 2 * f->qcap : 16;
        entry *q = malloc(cap * sizeof *q);
        if (!q) {
            free(e.units);
            return -1;
        }
        for (size_t i = 0; i < f->qn; i++)
            q[i] = f->q[(f->qh + i) % f->qcap];
        free(f->q);
        f->q = q;
        f->qh = 0;
        f->qcap = cap;
    }
    f->q[(f->qh + f->qn) % f->qcap] = e;
    f->qn++;
    return 0;
}

static void pop(flow *f)
{
    entry_free(&f->q[f->qh]);
    f->qh = (f->qh + 1) % f->qcap;
    f->qn--;
}

static int has_sync(const flow *f)
{
    for (size_t i = 0; i < f->qn; i++)
        if (f->q[(f->qh + i) % f->qcap].type == 'S')
            return 1;
    return 0;
}

int flow_server_sleeping(const flow *f)
{
    for (size_t i = 0; i < f->qn; i++) {
        const entry *e = &f->q[(f->qh + i) % f->qcap];
        for (int k = e->cur; e->units && k < e->nunits; k++)
            if (e->units[k].fault == F_SLEEP)
                return 1;
    }
    return 0;
}

static enum flow_verdict oom(flow *f, wire_buf *to_client)
{
    snprintf(f->err, sizeof f->err, "out of memory");
    wire_put_error(to_client, "FATAL", "53200", "pgrace proxy: out of memory");
    return FLOW_ERROR;
}

/* A malformed message from the client: the server's answer to it. */
static enum flow_verdict bad_client(flow *f, wire_buf *to_client, const char *what)
{
    snprintf(f->err, sizeof f->err, "invalid %s message from the client", what);
    char msg[300];
    snprintf(msg, sizeof msg, "pgrace proxy: %s", f->err);
    wire_put_error(to_client, "FATAL", "08P01", msg);
    return FLOW_ERROR;
}

/* ---- the client's side --------------------------------------------------- */

/* Decides one statement (params: a digest of its Bind's parameters, or
 * PGF_NO_PARAMS): the gate's or a rule's fault, or NULL. */
static const struct pgf_rule *decide(flow *f, const char *sql, uint64_t params)
{
    long stmt;
    return pxf_decide(f->sh, &f->pc, sql, params, &stmt);
}

/* The seq-th statement name of the proxy's own. */
static void own_name(char *buf, size_t len, unsigned long seq) { snprintf(buf, len, "pgrace_proxy_%lu", seq); }

/* An extended-protocol run of sql under a name of the proxy's own: its
 * ParseComplete and BindComplete are swallowed, the Execute's answer is
 * the client's (forward) or swallowed too. The statement is closed after
 * the next Sync. */
static int own_statement(flow *f, wire_buf *out, const char *sql, int forward)
{
    char name[40];
    own_name(name, sizeof name, f->seq);
    if (f->owed_from == f->owed_to)
        f->owed_from = f->seq;
    f->owed_to = ++f->seq;
    wire_put_parse(out, name, sql);
    wire_put_bind(out, name, name);
    wire_put_execute(out, name);
    if (push(f, (entry){ .type = 'P', .mode = M_SWALLOW }) < 0 || push(f, (entry){ .type = 'B', .mode = M_SWALLOW }) < 0)
        return -1;
    return push(f, (entry){ .type = 'E', .mode = forward ? M_FORWARD : M_SWALLOW });
}

/* The server raises r's error for the statement sql (extended protocol). */
static int raise_extended(flow *f, wire_buf *out, const struct pgf_rule *r, const char *sql)
{
    if (pgf_classify(sql) == PGF_K_COMMIT && own_statement(f, out, "ROLLBACK", 0) < 0)
        return -1;
    return own_statement(f, out, r->raise_sql, 1);
}

/* A Query's statements, as pgf_next_statement splits it. */
typedef struct stmt_span {
    const char *start, *end, *next;     /* next: the following statement's start, or the text's end */
    const struct pgf_rule *rule;
} stmt_span;

#define MAX_SPLIT 4096

/* Appends s[0..n) to b. */
static void put_text(wire_buf *b, const char *s, size_t n) { wire_buf_put(b, s, n); }

static void put_sleep(wire_buf *b, long us)
{
    char sql[sizeof sleep_fmt + 40];
    int n = snprintf(sql, sizeof sql, sleep_fmt, us / 1000000, us % 1000000);
    put_text(b, sql, (size_t)n);
    put_text(b, ";", 1);
}

/* Rewrites the Query whose statements are sp[0..n) into to_server, with
 * the units of its answer. Returns the verdict. */
static enum flow_verdict rewrite_query(flow *f, stmt_span *sp, int n, const char *text_end, wire_buf *to_server,
                                       wire_buf *to_client)
{
    wire_buf sql = { 0 };
    unit *units = calloc((size_t)n * 2 + 1, sizeof *units);
    int nu = 0;
    if (!units)
        return oom(f, to_client);
    enum flow_verdict v = FLOW_DONE;
    for (int i = 0; i < n; i++) {
        const struct pgf_rule *r = sp[i].rule;
        const char *next = i + 1 < n ? sp[i + 1].start : text_end;
        if (!r) {
            put_text(&sql, sp[i].start, (size_t)(next - sp[i].start));
            units[nu++] = (unit){ M_FORWARD, F_NONE, 0 };
            continue;
        }
        switch (r->action) {
        case PGF_A_DELAY:
            if (!r->delay_after) {
                put_sleep(&sql, r->delay_us);
                units[nu++] = (unit){ M_SWALLOW, F_SLEEP, 0 };
            }
            put_text(&sql, sp[i].start, (size_t)(next - sp[i].start));
            units[nu++] = (unit){ M_FORWARD, F_NONE, 0 };
            if (r->delay_after) {
                if (i + 1 == n)
                    put_text(&sql, "\n;", 2);   /* the last statement may end in a comment, no ';' */
                put_sleep(&sql, r->delay_us);
                units[nu++] = (unit){ M_SWALLOW, F_SLEEP, 0 };
            }
            continue;
        case PGF_A_ERROR:
            if (pgf_classify(sp[i].start) == PGF_K_COMMIT) {
                put_text(&sql, "ROLLBACK;", 9);
                units[nu++] = (unit){ M_SWALLOW, F_NONE, 0 };
            }
            put_text(&sql, r->raise_sql, strlen(r->raise_sql));
            units[nu++] = (unit){ M_FORWARD, F_NONE, 0 };
            break;
        case PGF_A_DROP:
            if (i == 0) {
                v = FLOW_CLOSE;
                break;
            }
            put_text(&sql, drop_sql, sizeof drop_sql - 1);
            units[nu++] = (unit){ M_SWALLOW, F_DROP, 0 };
            break;
        case PGF_A_AMBIGUOUS:
            put_text(&sql, sp[i].start, (size_t)(next - sp[i].start));
            units[nu++] = (unit){ M_FORWARD, F_AMBIGUOUS, 0 };
            break;
        default:
            break;
        }
        break;      /* error, drop, ambiguous: nothing after it is sent */
    }
    if (sql.oom) {
        wire_buf_free(&sql);
        free(units);
        return oom(f, to_client);
    }
    if (v == FLOW_CLOSE) {
        wire_buf_free(&sql);
        free(units);
        return v;
    }
    wire_put_query(to_server, (const char *)sql.p, sql.len);
    wire_buf_free(&sql);
    if (push(f, (entry){ .type = 'Q', .units = units, .nunits = nu }) < 0)
        return oom(f, to_client);
    return FLOW_DONE;
}

/* A simple Query: each of its statements decided in order, up to the first
 * that a fault ends. */
static enum flow_verdict on_query(flow *f, const uint8_t *m, size_t len, wire_buf *to_server, wire_buf *to_client)
{
    wire_reader r = wire_body(m, len);
    const char *text;
    size_t tlen;
    if (wire_get_str(&r, &text, &tlen) < 0 || !wire_at_end(&r))
        return bad_client(f, to_client, "Query");
    /* A Query drops the unnamed statement and portal (exec_simple_query). */
    pxn_del(&f->stmts, "");
    pxn_del(&f->portals, "");
    if (f->held) {
        /* The delay that held it is over (or was cut short). */
        f->held = 0;
        if (f->interrupted) {
            f->interrupted = 0;
            stmt_span sp = { text, text + tlen, text + tlen, pgf_gate_rule(PGF_GATE_CANCEL) };
            return rewrite_query(f, &sp, 1, text + tlen, to_server, to_client);
        }
        if (push(f, (entry){ .type = 'Q' }) < 0)
            return oom(f, to_client);
        return FLOW_PASS;
    }
    if (!f->ready || f->opaque || !pxf_active(f->sh)) {
        if (push(f, (entry){ .type = 'Q' }) < 0)
            return oom(f, to_client);
        return FLOW_PASS;
    }
    stmt_span one, *sp = &one;
    int n = 0, cap = 1, fired = 0;
    char small[512];
    for (const char *s = text; s && n < MAX_SPLIT; s = pgf_next_statement(s)) {
        if (n == cap) {
            stmt_span *bigger = malloc(sizeof *bigger * (size_t)(cap *= 8));
            if (!bigger) {
                if (sp != &one)
                    free(sp);
                return oom(f, to_client);
            }
            memcpy(bigger, sp, sizeof *sp * (size_t)n);
            if (sp != &one)
                free(sp);
            sp = bigger;
        }
        sp[n].start = s;
        sp[n].end = pgf_statement_end(s);
        sp[n].rule = NULL;
        n++;
    }
    for (int i = 0; i < n; i++) {
        const struct pgf_rule *rule;
        if (n == 1) {
            rule = decide(f, text, PGF_NO_PARAMS);        /* the whole text, as the shim matches it */
        } else {
            /* One statement of several: its own text, without the ';'. */
            size_t l = (size_t)(sp[i].end - sp[i].start);
            char *copy = l < sizeof small ? small : malloc(l + 1);
            if (!copy) {
                if (sp != &one)
                    free(sp);
                return oom(f, to_client);
            }
            memcpy(copy, sp[i].start, l);
            copy[l] = '\0';
            rule = decide(f, copy, PGF_NO_PARAMS);
            if (copy != small)
                free(copy);
        }
        sp[i].rule = rule;
        fired |= rule != NULL;
        if (rule && rule->action != PGF_A_DELAY)
            break;
    }
    enum flow_verdict v;
    if (!fired) {
        v = push(f, (entry){ .type = 'Q' }) < 0 ? oom(f, to_client) : FLOW_PASS;
    } else if (n == 1 && sp[0].rule->action == PGF_A_DELAY) {
        /* Alone in its Query: the proxy holds it, or its answer. */
        if (!sp[0].rule->delay_after) {
            f->held = 1;
            f->hold_until = clock_now_ns() + sp[0].rule->delay_us * 1000LL;
            v = FLOW_HOLD;
        } else {
            unit *u = calloc(1, sizeof *u);
            if (!u)
                v = oom(f, to_client);
            else {
                *u = (unit){ M_FORWARD, F_AFTER, sp[0].rule->delay_us };
                v = push(f, (entry){ .type = 'Q', .units = u, .nunits = 1 }) < 0 ? oom(f, to_client) : FLOW_PASS;
            }
        }
    } else {
        v = rewrite_query(f, sp, n, text + tlen, to_server, to_client);
    }
    if (sp != &one)
        free(sp);
    return v;
}

static enum flow_verdict on_parse(flow *f, const uint8_t *m, size_t len, wire_buf *to_client)
{
    wire_reader r = wire_body(m, len);
    const char *name, *sql;
    size_t sl;
    if (wire_get_str(&r, &name, NULL) < 0 || wire_get_str(&r, &sql, &sl) < 0)
        return bad_client(f, to_client, "Parse");
    pxn_text *t = pxn_text_new(sql, sl);
    if (!t || !pxn_put(&f->stmts, name, t)) {
        pxn_text_unref(t);
        return oom(f, to_client);
    }
    pxn_text_unref(t);
    return push(f, (entry){ .type = 'P' }) < 0 ? oom(f, to_client) : FLOW_PASS;
}

static enum flow_verdict on_bind(flow *f, const uint8_t *m, size_t len, wire_buf *to_client)
{
    wire_reader r = wire_body(m, len);
    const char *portal, *stmt;
    if (wire_get_str(&r, &portal, NULL) < 0 || wire_get_str(&r, &stmt, NULL) < 0)
        return bad_client(f, to_client, "Bind");
    pxn_entry *s = pxn_get(&f->stmts, stmt), *p;
    pxn_text *t = s ? s->text : pxn_text_new("", 0);
    if (!t || !(p = pxn_put(&f->portals, portal, t))) {
        if (!s)
            pxn_text_unref(t);
        return oom(f, to_client);
    }
    if (!s)
        pxn_text_unref(t);
    /* The rest of the message — formats, values, result formats — says
     * which values the statement runs with. */
    uint64_t h = hash_fnv1a(HASH_FNV1A_INIT, r.p, (size_t)(r.end - r.p));
    p->params = h == PGF_NO_PARAMS ? 1 : h;
    return push(f, (entry){ .type = 'B' }) < 0 ? oom(f, to_client) : FLOW_PASS;
}

static enum flow_verdict on_close_describe(flow *f, const uint8_t *m, size_t len, wire_buf *to_client)
{
    wire_reader r = wire_body(m, len);
    char kind;
    const char *name;
    if (wire_get_byte(&r, &kind) < 0 || (kind != 'S' && kind != 'P') || wire_get_str(&r, &name, NULL) < 0
        || !wire_at_end(&r))
        return bad_client(f, to_client, m[0] == 'C' ? "Close" : "Describe");
    if (m[0] == 'C')
        pxn_del(kind == 'S' ? &f->stmts : &f->portals, name);
    return push(f, (entry){ .type = (char)m[0] }) < 0 ? oom(f, to_client) : FLOW_PASS;
}

static enum flow_verdict on_execute(flow *f, const uint8_t *m, size_t len, wire_buf *to_server, wire_buf *to_client)
{
    wire_reader r = wire_body(m, len);
    const char *portal;
    int32_t maxrows;
    if (wire_get_str(&r, &portal, NULL) < 0 || wire_get_i32(&r, &maxrows) < 0 || !wire_at_end(&r))
        return bad_client(f, to_client, "Execute");
    pxn_entry *p = pxn_get(&f->portals, portal);
    const char *sql = p ? p->text->s : "";
    const struct pgf_rule *rule = NULL;
    if (f->held) {
        f->held = 0;
        if (p)
            p->executed = 1;
        if (!f->interrupted)
            return push(f, (entry){ .type = 'E' }) < 0 ? oom(f, to_client) : FLOW_PASS;
        f->interrupted = 0;
        rule = pgf_gate_rule(PGF_GATE_CANCEL);
    } else if (f->ready && !f->opaque && pxf_active(f->sh) && !(p && p->executed)) {
        rule = decide(f, sql, p ? p->params : PGF_NO_PARAMS);
    }
    if (p)
        p->executed = 1;
    if (!rule)
        return push(f, (entry){ .type = 'E' }) < 0 ? oom(f, to_client) : FLOW_PASS;
    switch (rule->action) {
    case PGF_A_ERROR:
        if (raise_extended(f, to_server, rule, sql) < 0 || to_server->oom)
            return oom(f, to_client);
        return FLOW_DONE;
    case PGF_A_DROP:
        return FLOW_CLOSE;
    case PGF_A_AMBIGUOUS:
        return push(f, (entry){ .type = 'E', .fault = F_AMBIGUOUS }) < 0 ? oom(f, to_client) : FLOW_PASS;
    case PGF_A_DELAY:
        if (rule->delay_after)
            return push(f, (entry){ .type = 'E', .fault = F_AFTER, .delay_us = rule->delay_us }) < 0
                       ? oom(f, to_client) : FLOW_PASS;
        f->held = 1;
        f->hold_until = clock_now_ns() + rule->delay_us * 1000LL;
        return FLOW_HOLD;
    default:
        return push(f, (entry){ .type = 'E' }) < 0 ? oom(f, to_client) : FLOW_PASS;
    }
}

/* A Sync: passed on, then the proxy's own statements of the batch closed
 * (Close and Sync of its own, both answers swallowed). */
static enum flow_verdict on_sync(flow *f, const uint8_t *m, size_t len, wire_buf *to_server, wire_buf *to_client)
{
    if (f->copy_in)
        return FLOW_PASS;       /* the server ignores a Sync in COPY FROM STDIN */
    if (push(f, (entry){ .type = 'S' }) < 0)
        return oom(f, to_client);
    if (f->owed_from == f->owed_to)
        return FLOW_PASS;
    wire_buf_put(to_server, m, len);
    for (unsigned long k = f->owed_from; k < f->owed_to; k++) {
        char name[40];
        own_name(name, sizeof name, k);
        wire_put_close(to_server, 'S', name);
        if (push(f, (entry){ .type = 'C', .mode = M_SWALLOW }) < 0)
            return oom(f, to_client);
    }
    wire_put_sync(to_server);
    f->owed_from = f->owed_to;
    if (push(f, (entry){ .type = 'S', .mode = M_SWALLOW }) < 0 || to_server->oom)
        return oom(f, to_client);
    return FLOW_DONE;
}

enum flow_verdict flow_client(flow *f, const uint8_t *m, size_t len, wire_buf *to_server, wire_buf *to_client)
{
    char type = (char)m[0];
    if (f->opaque)
        return FLOW_PASS;
    switch (type) {
    case 'Q':
        return on_query(f, m, len, to_server, to_client);
    case 'P':
        return on_parse(f, m, len, to_client);
    case 'B':
        return on_bind(f, m, len, to_client);
    case 'C': case 'D':
        return on_close_describe(f, m, len, to_client);
    case 'E':
        return on_execute(f, m, len, to_server, to_client);
    case 'S':
        return on_sync(f, m, len, to_server, to_client);
    case 'F':
        return push(f, (entry){ .type = 'F' }) < 0 ? oom(f, to_client) : FLOW_PASS;
    case 'c': case 'f':
        f->copy_in = 0;
        return FLOW_PASS;
    default:                    /* H, X, d, p: no answer of their own */
        return FLOW_PASS;
    }
}

/* ---- the server's side ---------------------------------------------------- */

/* The server's BackendKeyData: the backend's pid and key. */
static void on_key(flow *f, const uint8_t *m, size_t len)
{
    wire_reader r = wire_body(m, len);
    int32_t pid;
    size_t keylen = (size_t)(r.end - r.p) - 4;
    if (wire_get_i32(&r, &pid) < 0 || keylen > sizeof f->key)
        return;                 /* the client will judge it */
    memcpy(f->key, r.p, keylen);
    f->keylen = keylen;
    f->pc.pid = pid;
}

/* The verdict for a message that belongs to an answer: forwarded or
 * swallowed as its mode says. */
static enum flow_verdict by_mode(int mode) { return mode == M_SWALLOW ? FLOW_DONE : FLOW_PASS; }

/* Holds the answer from here for us (once); FLOW_PASS when released. */
static enum flow_verdict hold_answer(flow *f, long us)
{
    if (f->s2c_released) {
        f->s2c_released = 0;
        return FLOW_PASS;
    }
    f->s2c_released = 1;
    f->hold_until = clock_now_ns() + us * 1000LL;
    return FLOW_HOLD;
}

/* The end of a faulted statement's answer: cut, or held. */
static enum flow_verdict fault_end(flow *f, int fault, long delay_us, int mode)
{
    if (fault == F_AMBIGUOUS) {
        f->cut = 1;
        return has_sync(f) ? FLOW_CUT : FLOW_CLOSE;
    }
    if (fault == F_AFTER)
        return hold_answer(f, delay_us);
    return by_mode(mode);
}

/* A message of a Query's answer. */
static enum flow_verdict in_query(flow *f, entry *h, char t)
{
    unit *u = h->units && h->cur < h->nunits ? &h->units[h->cur] : NULL;
    switch (t) {
    case 'E':
        h->cur = h->nunits;     /* the server skips the rest of the Query */
        if (u && u->fault == F_DROP)
            return FLOW_CLOSE;
        if (u && u->fault == F_AMBIGUOUS) {
            f->cut = 1;
            return FLOW_CUT;
        }
        return FLOW_PASS;
    case 'C': case 'I':
        if (!u)
            return FLOW_PASS;
        if (u->fault == F_AFTER) {
            enum flow_verdict v = hold_answer(f, u->delay_us);
            if (v == FLOW_HOLD)
                return v;
        }
        h->cur++;
        if (u->fault == F_AMBIGUOUS) {
            f->cut = 1;
            return FLOW_CUT;    /* its ReadyForQuery closes the server's side */
        }
        return by_mode(u->mode);
    default:
        return u ? by_mode(u->mode) : FLOW_PASS;
    }
}

/* The server entered COPY FROM STDIN: it ignores the Syncs sent after the
 * COPY's Execute until the COPY ends (libpq sends one with the Execute and
 * another after CopyDone), so they get no answer. */
static void copy_in_begins(flow *f)
{
    f->copy_in = 1;
    for (size_t i = 1; i < f->qn; i++) {
        entry *e = &f->q[(f->qh + i) % f->qcap];
        if (e->type == 'S') {
            entry_free(e);
            for (size_t k = i; k + 1 < f->qn; k++)
                f->q[(f->qh + k) % f->qcap] = f->q[(f->qh + k + 1) % f->qcap];
            f->qn--;
            i--;
        }
    }
}

enum flow_verdict flow_server(flow *f, const uint8_t *m, size_t len)
{
    char t = (char)m[0];
    if (t == 'K' && len >= WIRE_HDR + 4) {
        on_key(f, m, len);
        return f->cut ? FLOW_DONE : FLOW_PASS;
    }
    if (t == 'G')
        copy_in_begins(f);
    if (!f->ready || f->opaque) {
        if (t == 'Z')
            f->ready = 1;
        return FLOW_PASS;
    }
    entry *h = head(f);
    if (t == 'A' || t == 'S')
        return f->cut ? FLOW_DONE : FLOW_PASS;
    if (!h)                     /* no answer owed: a FATAL at shutdown, a notice */
        return f->cut ? FLOW_DONE : FLOW_PASS;
    if (t == 'Z' && h->type != 'Q' && h->type != 'S' && h->type != 'F') {
        /* Answers the proxy expected did not come (the server skipped them):
         * a ReadyForQuery answers the first Sync, Query or FunctionCall. */
        while (f->qn && strchr("QSF", head(f)->type) == NULL)
            pop(f);
        if (!(h = head(f)))
            return f->cut ? FLOW_CLOSE : FLOW_PASS;
    }
    enum flow_verdict v;
    if (h->type == 'Q') {
        if (t == 'Z') {
            f->pc.tx = m[len - 1] == 'T' || m[len - 1] == 'E' ? (char)m[len - 1] : 'I';
            pop(f);
            return f->cut ? FLOW_CLOSE : FLOW_PASS;
        }
        v = in_query(f, h, t);
    } else if (t == 'N') {
        v = by_mode(h->mode);
    } else if (!wire_reply_ends(h->type, t)) {
        v = by_mode(h->mode);
    } else if (t == 'E' && h->type != 'S' && h->type != 'F') {
        /* An extended message failed: the server skips to the next Sync. */
        int fault = h->fault;
        while (f->qn && head(f)->type != 'S')
            pop(f);
        f->skipping = f->qn == 0;
        if (fault == F_AMBIGUOUS) {
            f->cut = 1;
            return has_sync(f) ? FLOW_CUT : FLOW_CLOSE;
        }
        v = FLOW_PASS;          /* an error is the client's, whoever caused it */
    } else {
        if (t == 'Z')
            f->pc.tx = m[len - 1] == 'T' || m[len - 1] == 'E' ? (char)m[len - 1] : 'I';
        v = fault_end(f, h->fault, h->delay_us, h->mode);
        if (v != FLOW_HOLD)
            pop(f);
        if (t == 'Z' && f->cut)
            return FLOW_CLOSE;
    }
    if (f->cut && (v == FLOW_PASS || v == FLOW_DONE))
        return FLOW_DONE;
    return v;
}
