/*
 * pgf_int.h — the shim's internal types, shared by the faults/ sources only.
 *
 * Data flow of one statement: interpose.c (a libpq wrapper) builds a
 * struct pgf_call, rules.c decides (pgf_decide) whether a rule fires, and
 * inject.c carries the action out; otherwise real.c's pointer to the real
 * libpq function sends it untouched.  Classification and the decision live in
 * one place (pgf_decide) so that a future scheduling gate can hook there.
 */
#ifndef PGF_INT_H
#define PGF_INT_H

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "faults/grammar.h"
#include "faults/pgfault.h"

/* grammar.c (pgf_rules_parse), match.c (pgf_match), classify.c
 * (pgf_classify): the public contract in grammar.h. */

/* Per-connection state; used only by the thread that uses the PGconn
 * (libpq forbids concurrent use of one connection). */
struct pgf_prep {
    struct pgf_prep *next;
    char *name, *text;
};
struct pgf_conn {
    int ordinal;               /* 0: exempt */
    int exempt;
    pgf_counters counters;     /* pgf_match's: statements and matches per rule */
    long delay_after_us;       /* async :after delay owed by the next PQgetResult */
    atomic_ulong interrupt_gen;/* pgf_interrupt under ruleset generation N: delays of
                                * that generation are cut short (any thread writes it) */
    struct pgf_prep *prep;
};

/* conns.c */
void pgf_conn_register(PGconn *conn, int exempt);
struct pgf_conn *pgf_conn_find(const PGconn *conn);
void pgf_conn_forget(PGconn *conn);
void pgf_conn_clear_prepared(PGconn *conn);
void pgf_conn_remember_prepared(PGconn *conn, const char *name, const char *text);
const char *pgf_conn_prepared_text(const struct pgf_conn *cs, const char *name);
void pgf_conn_reset_ordinals(void);

/* How a statement arrived: enough to replay it through the real function. */
enum pgf_api {
    PGF_API_EXEC, PGF_API_EXEC_PARAMS, PGF_API_EXEC_PREPARED,
    PGF_API_SEND_QUERY, PGF_API_SEND_PARAMS, PGF_API_SEND_PREPARED
};
struct pgf_call {
    enum pgf_api api;
    PGconn *conn;
    const char *sql;           /* text classified and matched (never NULL) */
    const char *command;       /* query text or prepared statement name */
    int nparams;
    const Oid *types;
    const char *const *values;
    const int *lengths;
    const int *formats;
    int result_format;
};

struct pgf_decision {
    const struct pgf_rule *rule;
    int conn_ordinal;
    long stmt_ordinal;
    struct pgf_conn *cs;
};

/* rules.c */
extern struct pgf_ruleset *_Atomic pgf_active;
extern pgf_gate_fn _Atomic pgf_gate;
void pgf_gate_install(pgf_gate_fn fn, void *arg);
int pgf_decide(const struct pgf_call *c, struct pgf_decision *d);
int pgf_install(const char *rules, char *err, size_t errlen);
void pgf_rules_atfork_child(void);

/* inject.c */
PGresult *pgf_inject_sync(const struct pgf_call *c, const struct pgf_decision *d);
int pgf_inject_async(const struct pgf_call *c, const struct pgf_decision *d);
PGresult *pgf_real_sync(const struct pgf_call *c);
int pgf_real_async(const struct pgf_call *c);
void pgf_sleep_us(long us);
void pgf_interrupt_conn(PGconn *conn);

/* log.c */
void pgf_log_init(void);
void pgf_fired(const struct pgf_call *c, const struct pgf_decision *d);

/* real.c: libpq's own entry points, resolved with dlsym(RTLD_NEXT). */
struct pgf_real {
    PGresult *(*PQexec)(PGconn *, const char *);
    PGresult *(*PQexecParams)(PGconn *, const char *, int, const Oid *,
                              const char *const *, const int *, const int *, int);
    PGresult *(*PQprepare)(PGconn *, const char *, const char *, int, const Oid *);
    PGresult *(*PQexecPrepared)(PGconn *, const char *, int, const char *const *,
                                const int *, const int *, int);
    int (*PQsendQuery)(PGconn *, const char *);
    int (*PQsendQueryParams)(PGconn *, const char *, int, const Oid *,
                             const char *const *, const int *, const int *, int);
    int (*PQsendPrepare)(PGconn *, const char *, const char *, int, const Oid *);
    int (*PQsendQueryPrepared)(PGconn *, const char *, int, const char *const *,
                               const int *, const int *, int);
    PGresult *(*PQgetResult)(PGconn *);
    PGconn *(*PQconnectdb)(const char *);
    PGconn *(*PQconnectdbParams)(const char *const *, const char *const *, int);
    PGconn *(*PQsetdbLogin)(const char *, const char *, const char *, const char *,
                            const char *, const char *, const char *);
    PGconn *(*PQconnectStart)(const char *);
    PGconn *(*PQconnectStartParams)(const char *const *, const char *const *, int);
    void (*PQreset)(PGconn *);
    int (*PQresetStart)(PGconn *);
    void (*PQfinish)(PGconn *);
    void *(*dlopen)(const char *, int);
    void *(*dlmopen)(Lmid_t, const char *, int);
};
extern struct pgf_real pgf_real;
void pgf_real_init(void);
/* The real f, resolving on the spot if a wrapper runs before the constructor
 * (another library's constructor calling in): see real.c. */
#define REAL(f) (pgf_real.f ? pgf_real.f : (pgf_real_init(), pgf_real.f))
/* The wrappers are the shim's only exported symbols besides pgfault.h. */
#define EXPORT __attribute__((visibility("default")))

/* dl.c: dlopen of libpq answered with the shim (FFI bindings). */
void pgf_dl_init(void);

/* Per-thread state (control.c).  __thread, not pthread_getspecific, which
 * could itself be interposed; initial-exec because the shim is preloaded. */
#define PGF_TLS __thread __attribute__((tls_model("initial-exec")))
extern PGF_TLS int pgf_depth;   /* >0: inside the shim; wrappers pass through */
extern PGF_TLS int pgf_exempt;  /* pgf_thread_exempt() */

#endif
