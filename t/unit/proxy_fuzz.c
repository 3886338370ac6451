/*
 * proxy_fuzz.c — the proxy's protocol side (proxy/wire.c framing and
 * proxy/flow.c deciding) fed real drivers' conversations and mutations of
 * them, without sockets.
 *
 * The corpus (t/corpus/proxy/NAME.client and NAME.server) is what asyncpg,
 * pgJDBC, pgx, node-postgres, psql (COPY both ways, LISTEN/NOTIFY,
 * notices, ParameterStatus) and pgbench (extended and prepared) sent and
 * got from a real server. Checked:
 *  - pass-through is byte-exact: with no rules and no gate, what the flow
 *    lets through is exactly what each side sent;
 *  - with rules that fire errors, drops, ambiguous commits and delays all
 *    over, and for thousands of mutated conversations (bits flipped,
 *    lengths corrupted, messages cut, repeated or spliced, random bytes),
 *    on either side and in any interleaving, nothing crashes, reads out of
 *    bounds or leaks (the AddressSanitizer pass runs this), and every
 *    conversation ends.
 * Deterministic: PROXY_FUZZ_SEED (default 1) and PROXY_FUZZ_N (default
 * 20000; `make fuzz` runs far more).
 */
#include "proxy/flow.h"
#include "proxy/wire.h"
#include "t/unit/check.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bytes {
    uint8_t *p;
    size_t n;
} bytes;

typedef struct pair {
    char name[64];
    bytes cli, srv;
} pair;

static uint64_t rs;
static unsigned rnd(unsigned n)
{
    rs = rs * 6364136223846793005ULL + 1442695040888963407ULL;
    return n ? (unsigned)((rs >> 33) % n) : 0;
}

static bytes slurp(const char *path)
{
    bytes b = { 0 };
    FILE *f = fopen(path, "rb");
    if (!f)
        return b;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b.p = malloc((size_t)n + 1);
    if (b.p && fread(b.p, 1, (size_t)n, f) == (size_t)n)
        b.n = (size_t)n;
    fclose(f);
    return b;
}

static int load(const char *dir, pair *out, int max)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && n < max) {
        size_t l = strlen(e->d_name);
        if (l < 8 || strcmp(e->d_name + l - 7, ".client") != 0)
            continue;
        char path[512];
        snprintf(out[n].name, sizeof out[n].name, "%.*s", (int)(l - 7), e->d_name);
        snprintf(path, sizeof path, "%s/%s.client", dir, out[n].name);
        out[n].cli = slurp(path);
        snprintf(path, sizeof path, "%s/%s.server", dir, out[n].name);
        out[n].srv = slurp(path);
        if (out[n].cli.n && out[n].srv.n)
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* Where the client's stream starts after its startup packets (SSLRequest,
 * StartupMessage: conn.c's part); *probes: how many of them were an
 * SSLRequest or GSSENCRequest (the server answered each with one byte). */
static size_t after_startup(const bytes *c, size_t *probes)
{
    size_t off = 0;
    *probes = 0;
    while (c->n - off >= 8) {
        uint32_t len = be32(c->p + off), code = be32(c->p + off + 4);
        if (len < 8 || len > c->n - off)
            break;
        off += len;
        if (code != WIRE_CODE_SSL && code != WIRE_CODE_GSSENC)
            break;
        ++*probes;
    }
    return off;
}

/* One direction of the conversation, as conn.c's pump reads it. */
typedef struct dir {
    const uint8_t *p;
    size_t n, off, avail;       /* avail: how much of it has "arrived" */
    size_t stream_left;
    int pass;
} dir;

/* Offers dir d's arrived messages to the flow. Returns 0, 1 when the
 * conversation ends. */
static int pump(flow *f, dir *d, enum wire_side who, wire_buf *to, wire_buf *to_client, int *cut)
{
    char err[256];
    for (int guard = 0; guard < 100000; guard++) {
        if (d->stream_left) {
            size_t have = d->avail - d->off, k = have < d->stream_left ? have : d->stream_left;
            if (!k)
                return 0;
            if (d->pass)
                wire_buf_put(to, d->p + d->off, k);
            d->off += k;
            d->stream_left -= k;
            continue;
        }
        wire_msg m;
        int rc = wire_frame(who, d->p + d->off, d->avail - d->off, &m, err, sizeof err);
        if (rc < 0)
            return 1;
        if (rc == 0)
            return 0;
        int whole = wire_needs_whole(who, m.type);
        if (whole && d->avail - d->off < m.len)
            return 0;
        enum flow_verdict v;
        do {
            /* A hold ends at once here: the flow is offered the message again. */
            v = who == WIRE_FRONTEND ? flow_client(f, d->p + d->off, whole ? m.len : WIRE_HDR, to, to_client)
                                     : flow_server(f, d->p + d->off, whole ? m.len : WIRE_HDR);
        } while (v == FLOW_HOLD);
        switch (v) {
        case FLOW_PASS:
        case FLOW_DONE:
        case FLOW_CUT:
            if (v == FLOW_CUT)
                *cut = 1;
            d->pass = v == FLOW_PASS && !(who == WIRE_BACKEND && *cut);
            if (whole) {
                if (d->pass)
                    wire_buf_put(to, d->p + d->off, m.len);
                d->off += m.len;
            } else {
                d->stream_left = m.len;
            }
            break;
        default:
            return 1;
        }
    }
    return 1;
}

/* Runs one conversation through a flow; with check, also that what
 * passed is exactly what was sent. Returns 1 when it ended properly. */
static int converse(pxf_shared *sh, const bytes *cli, const bytes *srv, int chunked, int check)
{
    flow *f = flow_new(sh, 1, 0);
    if (!f)
        return 0;
    size_t probes, start = after_startup(cli, &probes);
    if (probes > srv->n)
        probes = srv->n;
    dir c = { cli->p + start, cli->n - start, 0, 0, 0, 0 }, s = { srv->p + probes, srv->n - probes, 0, 0, 0, 0 };
    wire_buf to_server = { 0 }, to_client = { 0 };
    int cut = 0, over = 0, rounds = 0;
    while (!over && (c.avail < c.n || s.avail < s.n) && rounds++ < 1000000) {
        /* Bytes arrive on either side in pieces of any size. */
        if (c.avail < c.n) {
            size_t k = chunked ? 1 + rnd(600) : c.n;
            c.avail = c.avail + k > c.n ? c.n : c.avail + k;
            over = pump(f, &c, WIRE_FRONTEND, &to_server, &to_client, &cut);
        }
        if (!over && s.avail < s.n) {
            size_t k = chunked ? 1 + rnd(600) : s.n;
            s.avail = s.avail + k > s.n ? s.n : s.avail + k;
            over = pump(f, &s, WIRE_BACKEND, &to_client, &to_client, &cut);
        }
    }
    int ok = 1;
    if (check)
        ok = !over && to_server.len == c.n && memcmp(to_server.p, c.p, c.n) == 0 && to_client.len == s.n
             && memcmp(to_client.p, s.p, s.n) == 0;
    wire_buf_free(&to_server);
    wire_buf_free(&to_client);
    flow_free(f);
    return ok;
}

/* A mutation of b, in a new buffer. */
static bytes mutate(const bytes *b, const pair *pairs, int npairs)
{
    size_t cap = b->n * 2 + 4096;
    bytes m = { malloc(cap), b->n };
    memcpy(m.p, b->p, b->n);
    int edits = 1 + (int)rnd(4);
    for (int e = 0; e < edits && m.n; e++) {
        size_t at = rnd((unsigned)m.n);
        switch (rnd(7)) {
        case 0:             /* a bit flipped */
            m.p[at] ^= (uint8_t)(1u << rnd(8));
            break;
        case 1:             /* a byte anything */
            m.p[at] = (uint8_t)rnd(256);
            break;
        case 2: {           /* a length word absurd or off by a little */
            static const uint32_t lens[] = { 0, 3, 4, 5, 0x7fffffff, 0xffffffff, 0x40000000, 10001, 30001 };
            uint32_t v = rnd(2) ? lens[rnd(9)] : be32(m.p + (at + 4 <= m.n ? at : 0)) + rnd(9) - 4;
            if (at + 4 <= m.n) {
                m.p[at] = (uint8_t)(v >> 24);
                m.p[at + 1] = (uint8_t)(v >> 16);
                m.p[at + 2] = (uint8_t)(v >> 8);
                m.p[at + 3] = (uint8_t)v;
            }
            break;
        }
        case 3:             /* cut short */
            m.n = at;
            break;
        case 4: {           /* a stretch repeated */
            size_t len = rnd(64) + 1;
            if (at + len <= m.n && m.n + len <= cap) {
                memmove(m.p + at + len, m.p + at, m.n - at);
                m.n += len;
            }
            break;
        }
        case 5: {           /* a stretch of another conversation spliced in */
            const pair *o = &pairs[rnd((unsigned)npairs)];
            const bytes *src = rnd(2) ? &o->cli : &o->srv;
            size_t len = rnd(200) + 1, from = rnd((unsigned)src->n);
            if (from + len > src->n)
                len = src->n - from;
            if (m.n + len <= cap) {
                memmove(m.p + at + len, m.p + at, m.n - at);
                memcpy(m.p + at, src->p + from, len);
                m.n += len;
            }
            break;
        }
        default: {          /* random bytes */
            size_t len = rnd(32) + 1;
            if (m.n + len <= cap) {
                memmove(m.p + at + len, m.p + at, m.n - at);
                for (size_t i = 0; i < len; i++)
                    m.p[at + i] = (uint8_t)rnd(256);
                m.n += len;
            }
            break;
        }
        }
    }
    return m;
}

/* A gate that faults now and then (the proxy's gate answers as rules). */
static int gate(void *arg, const proxy_stmt *st)
{
    (void)arg;
    return st->stmt % 11 == 5 ? (int)(1 + st->stmt % 4) : 0;
}

int main(void)
{
    const char *dir = getenv("PROXY_CORPUS") ? getenv("PROXY_CORPUS") : "t/corpus/proxy";
    const char *n_env = getenv("PROXY_FUZZ_N"), *seed_env = getenv("PROXY_FUZZ_SEED");
    long n = n_env ? atol(n_env) : 20000;
    rs = seed_env ? strtoull(seed_env, NULL, 10) : 1;
    static pair pairs[128];
    int np = load(dir, pairs, 128);
    CHECK(np >= 10, "the corpus %s holds real conversations (%d)", dir, np);
    if (np == 0)
        return check_done();

    pxf_shared plain = { 0 };
    int exact = 0;
    for (int i = 0; i < np; i++)
        exact += converse(&plain, &pairs[i].cli, &pairs[i].srv, 0, 1) && converse(&plain, &pairs[i].cli, &pairs[i].srv, 1, 1);
    CHECK(exact == np, "no rule: every conversation passes byte for byte, whole and in pieces (%d of %d)", exact, np);

    char err[256];
    int status;
    pxf_shared faulty = { 0 };
    faulty.rules = pgf_rules_parse("stmt:when=3+5:error=40001;commit:when=1+2:ambiguous;sql=/insert/:when=2+3:drop;"
                                   "stmt:when=4+7:delay=1us;stmt:when=6+9:delay=1us:after;commit:when=2+2:error=40P01;"
                                   "sql=/select/:when=2+4:ambiguous",
                                   err, sizeof err, &status);
    CHECK(faulty.rules != NULL, "the fuzz rules parse (%s)", err);
    if (!faulty.rules)
        return check_done();
    faulty.rules->gen = 1;
    for (int i = 0; i < np; i++)
        converse(&faulty, &pairs[i].cli, &pairs[i].srv, 1, 0);
    atomic_store(&faulty.gate, gate);
    for (int i = 0; i < np; i++)
        converse(&faulty, &pairs[i].cli, &pairs[i].srv, 1, 0);
    CHECK(1, "every real conversation under rules and a gate that fault everywhere ends");

    long runs = 0;
    for (long k = 0; k < n; k++) {
        const pair *p = &pairs[rnd((unsigned)np)];
        int which = (int)rnd(3);    /* the client's side, the server's, or both */
        bytes c = which != 1 ? mutate(&p->cli, pairs, np) : p->cli;
        bytes s = which != 0 ? mutate(&p->srv, pairs, np) : p->srv;
        pxf_shared *sh = rnd(3) ? &faulty : &plain;
        atomic_store(&faulty.gate, rnd(2) ? gate : NULL);
        converse(sh, &c, &s, (int)rnd(2), 0);
        runs++;
        if (which != 1)
            free(c.p);
        if (which != 0)
            free(s.p);
    }
    CHECK(runs == n, "%ld mutated conversations (client's side, server's side, both) ran to their end", runs);
    pgf_ruleset_free(faulty.rules);
    for (int i = 0; i < np; i++) {
        free(pairs[i].cli.p);
        free(pairs[i].srv.p);
    }
    return check_done();
}
