/*
 * names.h — a connection's prepared statements and portals, by name, with
 * the SQL text each executes: what the extended protocol's Execute names
 * only by portal, the proxy matches rules against.
 *
 * Texts are shared and counted (a portal keeps its statement's text after
 * the statement is closed, as the server keeps its plan). The unnamed
 * statement and portal ("") are entries like the others. One connection's
 * thread uses its maps.
 */
#ifndef PGRACE_NAMES_H
#define PGRACE_NAMES_H

#include <stddef.h>
#include <stdint.h>

/* A statement's text: NUL-terminated, shared by count. */
typedef struct pxn_text {
    int refs;
    size_t len;
    char s[];
} pxn_text;

/* A new text holding s[0..len), one reference; NULL when out of memory. */
pxn_text *pxn_text_new(const char *s, size_t len);
void pxn_text_unref(pxn_text *t);

typedef struct pxn_entry {
    struct pxn_entry *next;
    pxn_text *text;
    int executed;               /* a portal: executed since its Bind */
    uint64_t params;            /* a portal: a digest of its Bind's parameters (faults/pgfault.h's gate) */
    char name[];
} pxn_entry;

typedef struct pxn_map {
    pxn_entry **b;
    size_t nb, n;
} pxn_map;

/* The entry named name, or NULL. */
pxn_entry *pxn_get(pxn_map *m, const char *name);

/* Binds name to text (a new reference is taken), replacing an entry of
 * that name; returns it, or NULL when out of memory. */
pxn_entry *pxn_put(pxn_map *m, const char *name, pxn_text *text);

void pxn_del(pxn_map *m, const char *name);
void pxn_clear(pxn_map *m);

#endif
