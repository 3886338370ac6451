/* keepstate.c — what in SQL text keeps a session's state past its transaction (see keepstate.h). */
#include "lib/keepstate.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Functions whose effect outlives the transaction that calls them. */
static const char *const session_functions[] = {
    "pg_advisory_lock(", "pg_advisory_lock_shared(", "pg_try_advisory_lock(", "pg_try_advisory_lock_shared(",
    "pg_advisory_unlock(", "pg_advisory_unlock_shared(", "pg_advisory_unlock_all(",
};

/* sql, lower-cased, its whitespace one blank, string literals and comments
 * dropped: into all (dollar-quoted bodies kept: the functions they call
 * count) and into top (dollar-quoted bodies dropped: their statements are
 * a function's, not the session's). Each has room for strlen(sql) + 1. */
static void normalize(const char *sql, char *all, char *top)
{
    size_t a = 0, t = 0;
    bool in_dollar = false;
    char tag[64] = "";
    for (const char *p = sql; *p;) {
        if (!in_dollar && p[0] == '-' && p[1] == '-') {
            p += strcspn(p, "\n");
            continue;
        }
        if (!in_dollar && p[0] == '/' && p[1] == '*') {
            const char *end = strstr(p + 2, "*/");
            p = end ? end + 2 : p + strlen(p);
            continue;
        }
        if (!in_dollar && *p == '\'') {
            for (p++; *p; p++)
                if (*p == '\'' && *++p != '\'')
                    break;
            continue;
        }
        if (*p == '$') {
            size_t n = 1 + strspn(p + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
            if (p[n] == '$' && n + 1 < sizeof tag && (!in_dollar || strncmp(p, tag, n + 1) == 0)) {
                if (!in_dollar)
                    snprintf(tag, sizeof tag, "%.*s", (int)n + 1, p);
                in_dollar = !in_dollar;
                p += n + 1;
                continue;
            }
        }
        char c = isspace((unsigned char)*p) ? ' ' : (char)tolower((unsigned char)*p);
        p++;
        if (c == ' ' && a > 0 && all[a - 1] == ' ')
            continue;
        all[a++] = c;
        if (!in_dollar && !(c == ' ' && t > 0 && top[t - 1] == ' '))
            top[t++] = c;
    }
    all[a] = top[t] = '\0';
}

/* The word after the statement's first, or "". */
static const char *second_word(const char *stmt, char *out, size_t len)
{
    const char *p = stmt + strcspn(stmt, " ");
    p += strspn(p, " ");
    size_t n = strcspn(p, " ;");
    snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), p);
    return out;
}

static bool starts(const char *stmt, const char *word)
{
    size_t n = strlen(word);
    return strncmp(stmt, word, n) == 0 && (stmt[n] == ' ' || stmt[n] == '\0' || stmt[n] == ';');
}

/* What in the top-level statement stmt keeps state past its transaction,
 * or NULL. */
static const char *statement_state(const char *stmt)
{
    char w[32];
    stmt += strspn(stmt, " (");
    if (starts(stmt, "set")) {
        second_word(stmt, w, sizeof w);
        if (strcmp(w, "local") == 0 || strcmp(w, "transaction") == 0 || strcmp(w, "constraints") == 0)
            return NULL;
        return "a session-level SET";
    }
    if (starts(stmt, "reset"))
        return "RESET";
    if (starts(stmt, "prepare"))
        return strcmp(second_word(stmt, w, sizeof w), "transaction") == 0 ? NULL : "PREPARE (a prepared statement)";
    if (starts(stmt, "execute") || starts(stmt, "deallocate"))
        return "a prepared statement (EXECUTE, DEALLOCATE)";
    if (starts(stmt, "listen") || starts(stmt, "unlisten"))
        return "LISTEN";
    if (starts(stmt, "discard"))
        return "DISCARD";
    if (starts(stmt, "load"))
        return "LOAD";
    if (starts(stmt, "declare") && strstr(stmt, " with hold"))
        return "a cursor WITH HOLD";
    if (starts(stmt, "create")) {
        second_word(stmt, w, sizeof w);
        if (strcmp(w, "temp") == 0 || strcmp(w, "temporary") == 0 || strcmp(w, "local") == 0 ||
            strcmp(w, "global") == 0)
            return "a temporary table";
    }
    return NULL;
}

/* Whether sql may keep state at all, cheaply: only a statement that starts
 * with one of these words, holds several statements, or names an advisory
 * lock or set_config can. Most statements are none of these (a worker's
 * every statement is asked). */
static bool may_keep(const char *sql)
{
    static const char *const first[] = { "set", "reset", "prepare", "execute", "deallocate", "listen", "unlisten",
                                         "discard", "load", "declare", "create" };
    const char *p = sql + strspn(sql, " \t\r\n(");
    size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
    for (size_t i = 0; i < sizeof first / sizeof first[0]; i++)
        if (n == strlen(first[i]) && strncasecmp(p, first[i], n) == 0)
            return true;
    return strchr(sql, ';') || strcasestr(sql, "advisory") || strcasestr(sql, "set_config") || strchr(sql, '/') ||
           strstr(sql, "--");
}

const char *keepstate_of(const char *sql)
{
    if (!may_keep(sql))
        return NULL;
    size_t len = strlen(sql) + 1;
    char *all = malloc(len), *top = malloc(len);
    const char *what = NULL;
    if (!all || !top) {
        free(all);
        free(top);
        return "(out of memory reading it)";
    }
    normalize(sql, all, top);
    for (size_t i = 0; !what && i < sizeof session_functions / sizeof session_functions[0]; i++)
        if (strstr(all, session_functions[i]))
            what = session_functions[i];
    /* set_config(name, value, is_local): false is a session's setting. */
    for (const char *p = all; !what && (p = strstr(p, "set_config(")); p++) {
        size_t n = strcspn(p, ")");
        char *f = strstr(p, "false");
        if (f && (size_t)(f - p) < n)
            what = "set_config(..., false)";
    }
    for (char *stmt = top; !what && stmt; ) {
        char *semi = strchr(stmt, ';');
        if (semi)
            *semi = '\0';
        what = statement_state(stmt);
        stmt = semi ? semi + 1 : NULL;
    }
    free(all);
    free(top);
    return what;
}

