/*
 * conns.c — per-connection state: ordinal, statement counters, the text of
 * prepared statements (for sql=/re/ on PQexecPrepared).
 *
 * A fixed open-addressing table keyed by the PGconn pointer, lock-free for
 * readers: every statement looks its connection up, and that path must not
 * lock or allocate.  Only connect, PQprepare and PQfinish allocate or free.
 * A slot's key is written once per connection (CAS) and turned into a
 * tombstone when the connection is finished, before libpq frees the PGconn,
 * so a pointer is never in the table twice.  More than PGF_CONN_SLOTS live
 * connections: the extra ones are untracked (ordinal 0, never conn=K, no
 * scope=conn counting).
 */
#include <stdlib.h>
#include <string.h>

#include "faults/pgf_int.h"

#define PGF_CONN_SLOTS 16384
#define TOMB ((PGconn *)1)

struct slot {
    PGconn *_Atomic key;
    struct pgf_conn *_Atomic val;
};

static struct slot table[PGF_CONN_SLOTS];
static atomic_int next_ordinal;

static size_t hash(const PGconn *c)
{
    uint64_t x = (uint64_t)(uintptr_t)c;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)(x % PGF_CONN_SLOTS);
}

void pgf_conn_register(PGconn *conn, int exempt)
{
    if (!conn) return;
    struct pgf_conn *cs = calloc(1, sizeof *cs);
    if (!cs) return; /* untracked rather than a crash in someone's program */
    cs->exempt = exempt;
    cs->ordinal = exempt ? 0 : atomic_fetch_add(&next_ordinal, 1) + 1;
    size_t h = hash(conn);
    for (size_t i = 0; i < PGF_CONN_SLOTS; i++) {
        struct slot *s = &table[(h + i) % PGF_CONN_SLOTS];
        PGconn *k = atomic_load_explicit(&s->key, memory_order_acquire);
        if (k == NULL || k == TOMB) {
            if (atomic_compare_exchange_strong(&s->key, &k, conn)) {
                atomic_store_explicit(&s->val, cs, memory_order_release);
                return;
            }
        }
    }
    free(cs);
}

static struct slot *find_slot(const PGconn *conn)
{
    size_t h = hash(conn);
    for (size_t i = 0; i < PGF_CONN_SLOTS; i++) {
        struct slot *s = &table[(h + i) % PGF_CONN_SLOTS];
        PGconn *k = atomic_load_explicit(&s->key, memory_order_acquire);
        if (k == conn) return s;
        if (k == NULL) return NULL;
    }
    return NULL;
}

struct pgf_conn *pgf_conn_find(const PGconn *conn)
{
    struct slot *s = conn ? find_slot(conn) : NULL;
    return s ? atomic_load_explicit(&s->val, memory_order_acquire) : NULL;
}

static void free_prep(struct pgf_conn *cs)
{
    struct pgf_prep *p = cs->prep;
    while (p) {
        struct pgf_prep *next = p->next;
        free(p->name);
        free(p->text);
        free(p);
        p = next;
    }
    cs->prep = NULL;
}

void pgf_conn_forget(PGconn *conn)
{
    struct slot *s = conn ? find_slot(conn) : NULL;
    if (!s) return;
    struct pgf_conn *cs = atomic_exchange(&s->val, NULL);
    atomic_store_explicit(&s->key, TOMB, memory_order_release);
    if (cs) {
        free_prep(cs);
        free(cs);
    }
}

/* After PQreset the server has forgotten the prepared statements; the
 * ordinal and counters stay (pgrace reconnects a dropped worker this way and
 * a when=1 rule must not fire again on the new session). */
void pgf_conn_clear_prepared(PGconn *conn)
{
    struct pgf_conn *cs = pgf_conn_find(conn);
    if (cs) free_prep(cs);
}

void pgf_conn_remember_prepared(PGconn *conn, const char *name, const char *text)
{
    struct pgf_conn *cs = pgf_conn_find(conn);
    if (!cs || cs->exempt || !name || !text) return;
    for (struct pgf_prep *p = cs->prep; p; p = p->next) {
        if (strcmp(p->name, name) == 0) {
            char *t = strdup(text);
            if (t) { free(p->text); p->text = t; }
            return;
        }
    }
    struct pgf_prep *p = malloc(sizeof *p);
    if (!p) return;
    p->name = strdup(name);
    p->text = strdup(text);
    if (!p->name || !p->text) { free(p->name); free(p->text); free(p); return; }
    p->next = cs->prep;
    cs->prep = p;
}

/* "" when unknown (prepared before the shim saw it, or by SQL PREPARE). */
const char *pgf_conn_prepared_text(const struct pgf_conn *cs, const char *name)
{
    if (cs && name)
        for (const struct pgf_prep *p = cs->prep; p; p = p->next)
            if (strcmp(p->name, name) == 0) return p->text;
    return "";
}

/* fork child, and pgf_reset_ordinals(): "the Kth connection" counts again
 * from here. */
void pgf_conn_reset_ordinals(void)
{
    atomic_store(&next_ordinal, 0);
}
