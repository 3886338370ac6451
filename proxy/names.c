/* names.c — statements and portals by name (names.h): a chained hash on
 * FNV-1a, grown at a load of one. */
#include "proxy/names.h"

#include "lib/hash.h"

#include <stdlib.h>
#include <string.h>

pxn_text *pxn_text_new(const char *s, size_t len)
{
    pxn_text *t = malloc(sizeof *t + len + 1);
    if (!t)
        return NULL;
    t->refs = 1;
    t->len = len;
    memcpy(t->s, s, len);
    t->s[len] = '\0';
    return t;
}

void pxn_text_unref(pxn_text *t)
{
    if (t && --t->refs == 0)
        free(t);
}

static size_t slot(const pxn_map *m, const char *name)
{
    return (size_t)(hash_fnv1a(HASH_FNV1A_INIT, name, strlen(name)) & (m->nb - 1));
}

pxn_entry *pxn_get(pxn_map *m, const char *name)
{
    if (!m->nb)
        return NULL;
    for (pxn_entry *e = m->b[slot(m, name)]; e; e = e->next)
        if (strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

/* Doubles the table (at least 16 slots). Returns 0 or -1. */
static int grow(pxn_map *m)
{
    size_t nb = m->nb ? 2 * m->nb : 16;
    pxn_entry **b = calloc(nb, sizeof *b);
    if (!b)
        return -1;
    pxn_map n = { b, nb, m->n };
    for (size_t i = 0; i < m->nb; i++)
        for (pxn_entry *e = m->b[i], *next; e; e = next) {
            next = e->next;
            size_t k = slot(&n, e->name);
            e->next = b[k];
            b[k] = e;
        }
    free(m->b);
    *m = n;
    return 0;
}

pxn_entry *pxn_put(pxn_map *m, const char *name, pxn_text *text)
{
    pxn_entry *e = pxn_get(m, name);
    if (e) {
        text->refs++;
        pxn_text_unref(e->text);
        e->text = text;
        e->executed = 0;
        return e;
    }
    if (m->n >= m->nb && grow(m) < 0)
        return NULL;
    size_t len = strlen(name);
    e = malloc(sizeof *e + len + 1);
    if (!e)
        return NULL;
    memcpy(e->name, name, len + 1);
    text->refs++;
    e->text = text;
    e->executed = 0;
    size_t k = slot(m, name);
    e->next = m->b[k];
    m->b[k] = e;
    m->n++;
    return e;
}

void pxn_del(pxn_map *m, const char *name)
{
    if (!m->nb)
        return;
    for (pxn_entry **pp = &m->b[slot(m, name)]; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->name, name) == 0) {
            pxn_entry *e = *pp;
            *pp = e->next;
            pxn_text_unref(e->text);
            free(e);
            m->n--;
            return;
        }
}

void pxn_clear(pxn_map *m)
{
    for (size_t i = 0; i < m->nb; i++)
        for (pxn_entry *e = m->b[i], *next; e; e = next) {
            next = e->next;
            pxn_text_unref(e->text);
            free(e);
        }
    free(m->b);
    *m = (pxn_map){ 0 };
}
