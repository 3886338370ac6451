/*
 * state.h — a schema's rows in canonical form, for the serial oracle
 * (engine/oracle.h): what the concurrent run left and what each serial
 * order leaves are read the same way and compared.
 *
 * What is compared. Every table of the schema (or the tables named), each
 * a sorted list of rows; a row is its columns' values as text, in the
 * table's column order. A column is compared one of five ways:
 *   exact    the value (the default);
 *   renamed  a value the database generates (a sequence, an identity, a
 *            uuid default): up to a consistent renaming — each distinct
 *            value becomes a label (#1, #2 ...) numbered in the order of the
 *            table's rows sorted by their other columns, and every column
 *            that references it by a FOREIGN KEY, and every token of a
 *            caller's answer equal to it, gets the same label;
 *   ranked   values a sequence hands out in commit order (taken under a row
 *            lock): up to a renaming that keeps their order — each becomes
 *            its rank among every ranked value (r1, r2 ...), so "this
 *            change committed after that one" is compared, the gaps failed
 *            calls leave are not;
 *   present  a value of the clock or of chance (now(), clock_timestamp(),
 *            random()): only whether it is NULL;
 *   ignore   not compared.
 * From the catalog: a column whose default calls nextval, or an identity
 * column, is renamed; a uuid column whose default calls a function is
 * renamed; a column of a clock type (timestamp, timestamptz, time, timetz)
 * or whose default calls now(), clock_timestamp(), statement_timestamp(),
 * transaction_timestamp(), timeofday() or random() is present. Declared
 * modes ("TABLE.COLUMN=MODE", from the scenario or the command line) win.
 *
 * Answers. An answer is text; its tokens (runs of letters, digits, '_',
 * '-', '.') that equal a renamed or ranked value of the state read with it
 * are compared as that value's labels; parts an answer mask (a POSIX ERE)
 * matches are not compared at all.
 */
#ifndef PGRACE_STATE_H
#define PGRACE_STATE_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#define STATE_MAX_DECL 16

/* What the user or the scenario says about the state. Strings are the
 * caller's and must outlive the description made from them. */
typedef struct state_opts {
    const char *columns[STATE_MAX_DECL];    /* "TABLE.COLUMN=MODE" */
    int ncolumns;
    const char *tables[STATE_MAX_DECL];     /* only these (none: every table) */
    int ntables;
    const char *mask;                       /* ERE: parts of answers not compared, or NULL */
    const char *hidden;                     /* a table never compared, listed or not (the harness's own), or NULL */
} state_opts;

/* Checks one "TABLE.COLUMN=MODE" declaration's syntax (MODE: exact,
 * renamed, ranked, present, ignore). Returns 0, or -1 with a reason. */
int state_check_decl(const char *decl, char *err, size_t errlen);

/* Appends to dst what src declares (dst's own first: a scenario's
 * declarations, then the command line's, which win). Returns 0, or -1 past
 * STATE_MAX_DECL (err). */
int state_opts_merge(state_opts *dst, const state_opts *src, char *err, size_t errlen);

/* A schema's tables as the oracle reads them: which are compared, each
 * column's mode, how to empty them and how to read them. */
typedef struct state_desc state_desc;

/* Reads schema's catalog on c and applies o. Returns the description, or
 * NULL with a reason (a declared table or column that does not exist, a
 * bad mask). */
state_desc *state_describe(PGconn *c, const char *schema, const state_opts *o, char *err, size_t errlen);

void state_desc_free(state_desc *d);

/* Prepares on c (search_path: the schema) the statements that empty and
 * read the tables, and sets c's lock_timeout (a session setting, until
 * state_unprepare): what waits for a lock while emptying gives up then.
 * Returns 0 or -1. */
int state_prepare(PGconn *c, const state_desc *d, int lock_timeout_ms, char *err, size_t errlen);
void state_unprepare(PGconn *c, const state_desc *d);

/* Empties every table of the schema and restarts its sequences, on c
 * (search_path: the schema), in one statement: a DELETE per table in one
 * WITH, or TRUNCATE when a table has ON DELETE triggers. With prepared
 * (state_prepare was called on c), the prepared statement. A lock timeout
 * names who holds the locks in err. Returns 0 or -1. */
int state_clear(PGconn *c, const state_desc *d, bool prepared, char *err, size_t errlen);

/* The compared tables in canonical form, and the labels of their
 * generated values. */
typedef struct state state;

/* Reads the compared tables on c (search_path: the schema) in one round
 * trip (prepared: as for state_clear). iteration is what the rows are
 * normalised by when compared with a state of another iteration
 * (state_equal). Returns the state or NULL with a reason. */
state *state_read(PGconn *c, const state_desc *d, long iteration, bool prepared, char *err, size_t errlen);

/* s frees its description with it (a description made for one read). */
void state_adopt_desc(state *s);

void state_free(state *s);

/* Whether a and b hold the same rows. When their iterations differ, each
 * row is compared with its iteration's number (as text, wherever it
 * occurs) read as one placeholder: iteration i of a workload and iteration
 * j of the same one write the same rows but for their keys. */
bool state_equal(const state *a, const state *b);

/* The rows only a holds and only b holds (as "TABLE {col=value, ...}"
 * lines, each cut to a readable length), appended to only_a and only_b
 * (either may be NULL). Returns their number. */
int state_diff(const state *a, const state *b, json_t *only_a, json_t *only_b);

/* Every row of s as such a line, appended to rows (at most max). */
void state_rows(const state *s, json_t *rows, int max);

/* Whether answer a (of a's state) and answer b (of b's) are the same: the
 * same text but for masked parts, with tokens equal to generated values
 * compared as their labels. NULL equals only NULL. */
bool state_answers_equal(const state_desc *d, const state *sa, const char *a, const state *sb, const char *b);

/* Answer a as compared: masked parts shown as "…", generated values as
 * their labels ("issued_credentials.id#2"); into buf. */
void state_answer_text(const state_desc *d, const state *s, const char *a, char *buf, size_t len);

#endif
