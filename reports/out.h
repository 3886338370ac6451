/*
 * out.h — what writing a report file takes, shared by the run's writers
 * (reports/): the file,
 * the seed and server as text or JSON, XML-escaped text, the JSON
 * report's head, and the HTML page's head with the house style.
 */
#ifndef PGRACE_REP_OUT_H
#define PGRACE_REP_OUT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* A JSON value for the seed: an integer when it fits, else a string. */
json_t *rep_seed_json(uint64_t seed);

/* "15.18" for 150018. */
void rep_server_text(int version, char *buf, size_t len);

/* Writes s with &, <, >, " and ' escaped, dropping characters XML 1.0
 * forbids (most C0 controls); s must be valid UTF-8. */
void rep_xml_text(FILE *f, const char *s);

/* Opens path for writing (truncating it in place: not atomic), and closes
 * it reporting any write error, as "cannot write PATH: reason". */
FILE *rep_open(const char *path, char *err, size_t errlen);
int rep_close(FILE *f, const char *path, char *err, size_t errlen);

/* Writes doc to path, indented, members in order; a NULL doc (out of
 * memory) is a failure. Returns 0 or -1 with a one-line reason. */
int rep_write_json(json_t *doc, const char *path, char *err, size_t errlen);

/* The JSON report's first members: key (the format's name) = name,
 * version 2, seed, command and started (ISO 8601, UTC). NULL when out of
 * memory. */
json_t *rep_json_begin(const char *key, const char *name, uint64_t seed, const char *command, time_t started);

/* rep_open, then the page's head with the house style (body, headings,
 * tables, the verdict classes held/ok, violated, error, skipped and their
 * .badge forms, section.item) followed by css (may be NULL), <body
 * data-verdict="VERDICT">, and "<h1>TITLE <span class="badge VERDICT">".
 * verdict is one of the verdict classes; title is escaped. Close the page
 * with rep_close once its body is written. */
FILE *rep_html_open(const char *path, const char *title, const char *verdict, const char *css, char *err,
                    size_t errlen);

#endif
