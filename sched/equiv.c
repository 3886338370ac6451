/*
 * equiv.c — prefix classes under commuting quiet statements (equiv.h).
 */
#include "sched/equiv.h"

#include "lib/hash.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longer prefixes are not reduced (each is its own class): the normal form
 * costs the square of the length, and explored schedules are short. */
#define EQUIV_MAX_PREFIX 512

static bool starts_with_word(const char *s, const char *word)
{
    size_t n = strlen(word);
    return strncasecmp(s, word, n) == 0 && !isalnum((unsigned char)s[n]) && s[n] != '_';
}

/* Does sql name any of these (case-insensitively)? */
static bool mentions(const char *sql, const char *const *words)
{
    for (const char *p = sql; *p; p++)
        for (int i = 0; words[i]; i++)
            if (strncasecmp(p, words[i], strlen(words[i])) == 0)
                return true;
    return false;
}

bool equiv_quiet(const char *sql)
{
    static const char *const writers[] = {
        /* locking reads, and functions that change what others see */
        " for update", " for share", " for no key", " for key share", "nextval", "setval", "advisory", "notify",
        "txid_current", "pg_current_xact_id", "set_config", "lo_", "pg_terminate", "pg_cancel", "pg_sleep",
        "dblink", NULL,
    };
    while (isspace((unsigned char)*sql) || *sql == '(')
        sql++;
    if (starts_with_word(sql, "BEGIN") || starts_with_word(sql, "START") || starts_with_word(sql, "SHOW"))
        return true;
    if (starts_with_word(sql, "SET"))
        return !mentions(sql, (const char *const[]){ "transaction snapshot", NULL });
    if (starts_with_word(sql, "SELECT") || starts_with_word(sql, "VALUES") || starts_with_word(sql, "TABLE"))
        return !mentions(sql, writers) && !mentions(sql, (const char *const[]){ " into ", NULL });
    return false;
}

bool equiv_repeats(const char *sql)
{
    static const char *const changing[] = {
        "now(", "current_time", "current_date", "localtime", "clock_timestamp", "statement_timestamp",
        "transaction_timestamp", "timeofday", "age(", "random", "uuid", "pg_stat", "pg_locks", "pg_backend",
        "pg_postmaster", "pg_is_other_temp", "pg_isolation", "inet_client", "pg_current", "txid", "pg_xact", NULL,
    };
    return !mentions(sql, changing);
}

/* ---- the set ---- */

typedef struct entry {
    uint64_t hash;
    unsigned char *key;         /* NULL: empty slot */
    size_t len;
} entry;

struct equiv_set {
    entry *slots;
    size_t cap, count;
};

equiv_set *equiv_new(void)
{
    equiv_set *s = calloc(1, sizeof *s);
    if (s && !(s->slots = calloc(s->cap = 1024, sizeof *s->slots))) {
        free(s);
        return NULL;
    }
    return s;
}

void equiv_free(equiv_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->cap; i++)
        free(s->slots[i].key);
    free(s->slots);
    free(s);
}

static entry *slot_of(entry *slots, size_t cap, uint64_t hash, const unsigned char *key, size_t len)
{
    for (size_t i = hash & (cap - 1);; i = (i + 1) & (cap - 1))
        if (!slots[i].key || (slots[i].hash == hash && slots[i].len == len && memcmp(slots[i].key, key, len) == 0))
            return &slots[i];
}

static int grow(equiv_set *s)
{
    size_t cap = 2 * s->cap;
    entry *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i].key)
            *slot_of(slots, cap, s->slots[i].hash, s->slots[i].key, s->slots[i].len) = s->slots[i];
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return 0;
}

/* The lexicographic normal form of the prefix: again and again, the least
 * worker whose next step commutes with every earlier step still left goes
 * first. (The earliest step left always can, so each pass takes one.) */
static void normal_form(const int *workers, const bool *quiet, int n, unsigned char *out)
{
    bool taken[EQUIV_MAX_PREFIX] = { false };
    for (int k = 0; k < n; k++) {
        int best = -1;
        for (int p = 0; p < n; p++) {
            if (taken[p] || (best >= 0 && workers[p] >= workers[best]))
                continue;
            /* p is its worker's first step left when no earlier left step is
             * its worker's; it moves to the front when every earlier left
             * step commutes with it. */
            bool movable = true;
            for (int q = 0; q < p && movable; q++)
                if (!taken[q])
                    movable = workers[q] != workers[p] && quiet[q] && quiet[p];
            if (movable)
                best = p;
        }
        taken[best] = true;
        out[k] = (unsigned char)workers[best];
    }
}

int equiv_add(equiv_set *s, const int *workers, const bool *quiet, int n, int fault_worker, int action)
{
    unsigned char key[EQUIV_MAX_PREFIX + 3];
    size_t len;
    if (n > EQUIV_MAX_PREFIX)
        return 1;
    normal_form(workers, quiet, n, key);
    len = (size_t)n;
    key[len++] = 0xff;          /* workers are < 255: the fault cannot read as a step */
    key[len++] = (unsigned char)fault_worker;
    key[len++] = (unsigned char)action;
    if (2 * (s->count + 1) > s->cap && grow(s) < 0)
        return -1;
    uint64_t h = hash_fnv1a(HASH_FNV1A_INIT, key, len);
    entry *e = slot_of(s->slots, s->cap, h, key, len);
    if (e->key)
        return 0;
    if (!(e->key = malloc(len)))
        return -1;
    memcpy(e->key, key, len);
    e->hash = h;
    e->len = len;
    s->count++;
    return 1;
}
