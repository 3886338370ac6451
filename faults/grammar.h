/*
 * grammar.h — the fault rules (PGFAULT, --fault RULES) and the statement
 * classifier: the one public contract between the parts that inject faults.
 *
 * The shim (libpgfault.so, over libpq), pgrace itself (a step fault of an
 * isolation spec, a plan's rules) and the wire proxy each parse rules with
 * pgf_rules_parse, classify statements with pgf_classify and decide with
 * pgf_match, so that a rule means the same thing whichever way a
 * statement reaches the server. Nothing here knows libpq, threads or
 * sockets: how a statement is found and how an action is carried out is
 * each injector's own business.
 *
 * The grammar (README "Fault rules"):
 *   rules  = rule { ";" rule }
 *   rule   = target { ":" option }
 *   target = "stmt" | "commit" | "rollback" | "begin" | "sql=/" ERE "/"
 *   option = "when=" N | "when=" N ".." M | "when=" N "+" K | "when=" N "+"
 *          | "prob=" P | "seed=" S | "scope=conn" | "scope=proc" | "conn=" K
 *          | "error=" SQLSTATE [ "/" MESSAGE ] | "drop" | "ambiguous"
 *          | "delay=" DURATION [ ":after" ]
 */
#ifndef PGF_GRAMMAR_H
#define PGF_GRAMMAR_H

#include <regex.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define PGF_MAX_RULES 32
#define PGF_ERRLEN 256

enum pgf_target { PGF_T_STMT, PGF_T_COMMIT, PGF_T_ROLLBACK, PGF_T_BEGIN, PGF_T_SQL };
enum pgf_kind { PGF_K_OTHER, PGF_K_COMMIT, PGF_K_ROLLBACK, PGF_K_BEGIN };
enum pgf_action { PGF_A_NONE, PGF_A_ERROR, PGF_A_DROP, PGF_A_AMBIGUOUS, PGF_A_DELAY };

/* One parsed rule; immutable once parsed except the per-process counter. */
struct pgf_rule {
    int index;                 /* 1-based position in the rules */
    char *text;                /* the rule as written */
    enum pgf_target target;
    regex_t re;                /* PGF_T_SQL only */
    char lit[64];              /* literal the regex starts with (anchored) or is (whole) */
    size_t lit_len;
    int lit_anchored;          /* "^lit...": a statement not starting with lit cannot match */
    int lit_whole;             /* the regex is [^]lit: no regexec needed */
    long when_from, when_to;   /* when_to < 0: no upper bound */
    long when_step;            /* 0: every count in [from, to] */
    int has_prob;
    double prob;
    uint64_t seed;
    int scope_proc;
    int conn;                  /* 0: any connection */
    enum pgf_action action;
    char sqlstate[6];
    char *raise_sql;           /* PGF_A_ERROR: the DO block that makes the server raise it */
    long delay_us;
    int delay_after;
    char action_text[48];
    atomic_long proc_count;    /* matches in this process (scope=proc) */
};

struct pgf_ruleset {
    int nrules;
    int any_after;             /* a rule delays :after: the reply path must look */
    unsigned long gen;         /* set by the injector: counters restart when it changes */
    struct pgf_rule rules[PGF_MAX_RULES];
};

/* Parses text. Returns the rule set, or NULL with *status 0 for empty text
 * (no rules) or -1 for an error, described in err as one line naming the
 * token: `bad fault rule at "when=x": expected a number`. */
struct pgf_ruleset *pgf_rules_parse(const char *text, char *err, size_t errlen, int *status);
void pgf_ruleset_free(struct pgf_ruleset *rs);

/* The server's own wording for a SQLSTATE a test injects often, else
 * "injected error". */
const char *pgf_default_message(const char *sqlstate);

/* What kind of statement sql starts with: COMMIT (also END, COMMIT
 * PREPARED), ROLLBACK (ABORT, ROLLBACK PREPARED; not ROLLBACK TO a
 * savepoint), BEGIN (START TRANSACTION) or other. Comments and blanks
 * before it are skipped; only the first statement of a multi-statement
 * string is looked at (pgf_next_statement walks the rest). No allocation. */
enum pgf_kind pgf_classify(const char *sql);

/* The start of the statement after the one sql starts with, in a
 * multi-statement simple query ("BEGIN; UPDATE ...; COMMIT"), or NULL when
 * there is none. Quotes, dollar quotes, identifiers and comments are
 * skipped, so a ';' inside them does not split. */
const char *pgf_next_statement(const char *sql);

/* Where the statement sql starts with ends: its terminating ';' (outside
 * quotes, comments, parentheses and a BEGIN ATOMIC ... END routine body),
 * or the string's NUL. */
const char *pgf_statement_end(const char *sql);

/* A connection's counters for pgf_match: zero it when a connection opens,
 * and again whenever the rule set changes (gen). */
typedef struct pgf_counters {
    unsigned long gen;
    long stmts;                /* statements counted on the connection */
    long count[PGF_MAX_RULES]; /* matches per rule (scope=conn) */
} pgf_counters;

/* Counts one statement (sql, of connection number conn_ordinal, 1-based,
 * 0 for an untracked connection with no counters: c NULL) against every
 * rule of rs and returns the first rule that fires, or NULL. Every
 * matching rule counts the statement, in rule order; scope=proc counts are
 * atomics in rs, so several threads may match against one rs at once (each
 * with its own connection's counters). *stmt_ordinal, when not NULL, is
 * the statement's number on its connection. */
const struct pgf_rule *pgf_match(struct pgf_ruleset *rs, pgf_counters *c, int conn_ordinal, const char *sql,
                                 long *stmt_ordinal);

/* The fault a gate's answer asks for (a PGF_GATE_* of faults/pgfault.h:
 * ERROR is error=40001, DROP drop, AMBIGUOUS ambiguous, CANCEL error=57014),
 * as a rule the injector carries out like any other (its text "explore");
 * NULL for PGF_GATE_GO or an unknown answer. */
const struct pgf_rule *pgf_gate_rule(int action);

/* Appends one JSON line for a fault that fired (rule, on statement stmt
 * of connection conn, whose text is sql) to the file at path: time, pid,
 * tid, conn, stmt, rule, rule_text, action, and the first 200 bytes of
 * sql. Best effort: a log that cannot be written is skipped. */
void pgf_log_write(const char *path, int conn, long stmt, const struct pgf_rule *rule, const char *sql);

#endif
