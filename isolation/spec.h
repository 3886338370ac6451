/*
 * spec.h — an isolation spec file, parsed: PostgreSQL 15's isolationtester
 * language (/work/shared/anchors/pg15-isolation/README.upstream) and, in the
 * extended dialect `pgrace spec` reads, pgrace's additions.
 *
 * A spec is setup blocks, an optional teardown, sessions (each with an
 * optional setup, steps and an optional teardown) and permutations (lists
 * of steps, each with optional markers). The extended dialect adds
 * top-level `invariant NAME { SQL }` and `setting NAME VALUE` items and a
 * fault on a permutation step (`s1c[error=40001]`, `[drop]`, `[ambiguous]`);
 * in it `invariant` and `setting` are keywords. In the PG15 dialect those
 * are what isolationtester makes of them: identifiers where none may stand,
 * and an unexpected character '['.
 *
 * Errors are isolationtester's own words ("syntax error at line 3",
 * "undefined step \"x\" specified in permutation"), without a newline, so
 * that `pgrace isolation` prints them as isolationtester does.
 */
#ifndef PGRACE_SPEC_H
#define PGRACE_SPEC_H

#include <stdbool.h>
#include <stddef.h>

typedef enum spec_dialect {
    SPEC_PG15,          /* exactly isolationtester's language */
    SPEC_EXTENDED,      /* plus invariants, settings and step faults */
} spec_dialect;

typedef struct spec_step {
    char *name;
    char *sql;          /* as written, leading blanks and trailing blanks trimmed */
    int session;        /* index of its session */
    bool used;          /* named by some permutation (set by spec_check) */
} spec_step;

typedef enum spec_marker_kind {
    SPEC_MARK_ONCE,     /* (*): reported waiting as soon as launched */
    SPEC_MARK_STEP,     /* (other): not complete while other is active */
    SPEC_MARK_NOTICES,  /* (other notices N): not before N more NOTICEs of other's session */
} spec_marker_kind;

typedef struct spec_marker {
    spec_marker_kind kind;
    char *step_name;            /* STEP, NOTICES */
    const spec_step *step;      /* linked by spec_check */
    int notices;                /* NOTICES */
} spec_marker;

typedef enum spec_fault_kind {
    SPEC_FAULT_NONE,
    SPEC_FAULT_ERROR,           /* the server raises sqlstate instead of the step */
    SPEC_FAULT_DROP,            /* the connection is closed before the step */
    SPEC_FAULT_AMBIGUOUS,       /* the step runs, then the connection is closed */
} spec_fault_kind;

typedef struct spec_fault {
    spec_fault_kind kind;
    char sqlstate[6];           /* ERROR */
} spec_fault;

/* One entry of a permutation: a step, its markers and its fault. */
typedef struct spec_pstep {
    char *name;
    const spec_step *step;      /* linked by spec_check */
    spec_marker *markers;
    int nmarkers;
    spec_fault fault;
} spec_pstep;

typedef struct spec_permutation {
    spec_pstep *steps;
    int nsteps;
} spec_permutation;

typedef struct spec_session {
    char *name;
    char *setup;                /* NULL when absent */
    char *teardown;
    spec_step **steps;
    int nsteps;
} spec_session;

typedef struct spec_invariant {
    char *name;
    char *sql;                  /* rows it returns are violations */
} spec_invariant;

typedef struct spec_setting {
    char *name;
    char *value;
} spec_setting;

typedef struct spec {
    char **setups;
    int nsetups;
    char *teardown;
    spec_session *sessions;
    int nsessions;
    spec_permutation *perms;    /* none: every interleaving is run */
    int nperms;
    spec_invariant *invariants;
    int ninvariants;
    spec_setting *settings;
    int nsettings;
} spec;

/* Parses text (len bytes; NUL bytes are ordinary characters). Returns 0
 * with *out, or -1 with isolationtester's message (or, for the extended
 * dialect's own items, one in the same style) in err. */
int spec_parse(const char *text, size_t len, spec_dialect dialect, spec **out, char *err, size_t errlen);

/* isolationtester's checks after parsing: unique step names, every
 * permutation step and marker defined, no marker on its own session. Links
 * steps and markers and marks used steps. Returns 0, or -1 with the
 * message. */
int spec_check(spec *s, char *err, size_t errlen);

/* The steps no permutation names, sorted by name (isolationtester warns
 * "unused step name: X" for each when permutations are listed). Returns
 * their number with *out allocated (free it), or -1 when out of memory. */
int spec_unused_steps(const spec *s, const spec_step ***out);

/* The step named name, or NULL. */
const spec_step *spec_find_step(const spec *s, const char *name);

/* Number of interleavings of all steps (every session's steps in order),
 * saturating at limit. */
long spec_count_all(const spec *s, long limit);

/* Calls fn for each interleaving of all steps, in isolationtester's order,
 * with the steps as permutation entries (no markers, no fault). Stops and
 * returns fn's value when it is not 0; returns 0 when all ran, -1 when out
 * of memory. */
typedef int (*spec_perm_fn)(void *arg, const spec_pstep *steps, int nsteps);
int spec_each_permutation(const spec *s, spec_perm_fn fn, void *arg);

/* "[error=40001]", "[drop]", "[ambiguous]" or "" for none. */
void spec_fault_text(const spec_fault *f, char *out, size_t len);

/* Drops every permutation but the last (`pgrace spec --permutation`
 * appends the one to run to the spec's text). */
void spec_keep_last_permutation(spec *s);

void spec_free(spec *s);

#endif
