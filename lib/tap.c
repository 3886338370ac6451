/* tap.c — TAP version 13 emitter with YAML diagnostics (see tap.h). */
#include "lib/tap.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t tap_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *tap_out;
static int tap_n;

static FILE *out(void) { return tap_out ? tap_out : stdout; }

void tap_begin(FILE *o)
{
    pthread_mutex_lock(&tap_lock);
    tap_out = o;
    tap_n = 0;
    fputs("TAP version 13\n", out());
    fflush(out());
    pthread_mutex_unlock(&tap_lock);
}

void tap_plan(int n)
{
    pthread_mutex_lock(&tap_lock);
    fprintf(out(), "1..%d\n", n);
    fflush(out());
    pthread_mutex_unlock(&tap_lock);
}

int tap_count(void)
{
    pthread_mutex_lock(&tap_lock);
    int n = tap_n;
    pthread_mutex_unlock(&tap_lock);
    return n;
}

static void scalar(FILE *o, json_t *v)
{
    /* JSON text of a scalar is a valid YAML flow scalar. */
    char *s = json_dumps(v, JSON_ENCODE_ANY);
    fputs(s ? s : "null", o);
    free(s);
}

/* A sequence item that is a string. Test::Harness's YAMLish reader takes
 * "- TOKEN: rest" for a mapping even when it is quoted ("- \"w1: BEGIN\""
 * becomes the key "\"w1"), and then cannot parse the block: the colon of
 * such a string is written as the escape \x3a, which YAML and YAMLish
 * both read back as ':'. */
static void item_scalar(FILE *o, json_t *v)
{
    char *s = json_dumps(v, JSON_ENCODE_ANY);
    if (!s) {
        fputs("null", o);
        return;
    }
    size_t token = json_is_string(v) ? strcspn(s + 1, " \t:") + 1 : 0;
    if (token > 1 && s[token] == ':' && (s[token + 1] == ' ' || s[token + 1] == '"')) {
        fwrite(s, 1, token, o);
        fputs("\\x3a", o);
        fputs(s + token + 1, o);
    } else {
        fputs(s, o);
    }
    free(s);
}

void tap_yaml(FILE *o, json_t *v, int indent)
{
    const char *key;
    json_t *item;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach(v, key, item) {
            fprintf(o, "%*s%s:", indent, "", key);
            if ((json_is_object(item) && json_object_size(item)) ||
                (json_is_array(item) && json_array_size(item))) {
                fputc('\n', o);
                tap_yaml(o, item, indent + 2);
            } else {
                fputc(' ', o);
                if (json_is_object(item))
                    fputs("{}", o);
                else if (json_is_array(item))
                    fputs("[]", o);
                else
                    scalar(o, item);
                fputc('\n', o);
            }
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, item) {
            if (json_is_object(item) && json_object_size(item)) {
                /* "- " then the first key on the same line, the rest below. */
                fprintf(o, "%*s-\n", indent, "");
                tap_yaml(o, item, indent + 2);
            } else {
                fprintf(o, "%*s- ", indent, "");
                item_scalar(o, item);
                fputc('\n', o);
            }
        }
    } else {
        fprintf(o, "%*s", indent, "");
        scalar(o, v);
        fputc('\n', o);
    }
}

/* Prints point number n: its description (a '#' in it would start a TAP
 * directive, so it becomes a space), the directive when there is one, and
 * diag as YAML. */
static void point(bool ok, json_t *diag, const char *directive, const char *fmt, va_list ap)
{
    char desc[1024];
    vsnprintf(desc, sizeof desc, fmt, ap);
    for (char *p = desc; *p; p++)
        if (*p == '#' || *p == '\n')
            *p = ' ';
    pthread_mutex_lock(&tap_lock);
    fprintf(out(), "%s %d - %s%s%s\n", ok ? "ok" : "not ok", ++tap_n, desc, directive ? " # " : "",
            directive ? directive : "");
    if (diag && json_object_size(diag)) {
        fputs("  ---\n", out());
        tap_yaml(out(), diag, 2);
        fputs("  ...\n", out());
    }
    fflush(out());
    pthread_mutex_unlock(&tap_lock);
}

bool tap_point(bool ok, json_t *diag, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    point(ok, diag, NULL, fmt, ap);
    va_end(ap);
    return ok;
}

void tap_skip(const char *reason, const char *fmt, ...)
{
    char directive[600];
    snprintf(directive, sizeof directive, "SKIP %s", reason);
    for (char *p = directive; *p; p++)
        if (*p == '#' || *p == '\n')
            *p = ' ';
    va_list ap;
    va_start(ap, fmt);
    point(true, NULL, directive, fmt, ap);
    va_end(ap);
}

static void prefixed(const char *prefix, const char *fmt, va_list ap)
{
    char buf[4096];
    vsnprintf(buf, sizeof buf, fmt, ap);
    pthread_mutex_lock(&tap_lock);
    char *line = buf, *nl;
    do {
        nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        fprintf(out(), "%s%s\n", prefix, line);
        line = nl + 1;
    } while (nl && *line);
    fflush(out());
    pthread_mutex_unlock(&tap_lock);
}

void tap_comment(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    prefixed("# ", fmt, ap);
    va_end(ap);
}

void tap_bail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    prefixed("Bail out! ", fmt, ap);
    va_end(ap);
}
