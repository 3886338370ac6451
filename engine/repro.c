/* repro.c — the repeat and replay commands (see repro.h). */
#include "engine/repro.h"

#include "lib/shell.h"
#include "engine/drive.h"
#include "lib/parse.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Appends to the command in buf; a command too long for buf is cut. */
__attribute__((format(printf, 3, 4))) static void add(char *buf, size_t len, const char *fmt, ...)
{
    size_t used = strlen(buf);
    if (used + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

/* Appends option and its value, quoted for a shell. */
static void add_quoted(char *buf, size_t len, const char *option, const char *value)
{
    char q[2048];
    shell_quote(value, q, sizeof q);
    add(buf, len, "%s%s", option, q);
}

static void add_pauses(char *buf, size_t len, const drv_pauses *p)
{
    for (int i = 0; i < p->n; i++) {
        char d[24];
        format_duration(p->p[i].ns, d, sizeof d);
        add(buf, len, " --pause %s=%s", p->p[i].name, d);
    }
}

/* Appends the serial oracle's options of o (--oracle and what it compares):
 * every command carries them. */
static void repro_add_oracle(const run_opts *o, char *buf, size_t len)
{
    if (!o->oracle)
        return;
    add(buf, len, " --oracle %s", oracle_mode_name(o->oracle));
    for (int i = 0; i < o->oracle_opts.ncolumns; i++)
        add_quoted(buf, len, " --oracle-column ", o->oracle_opts.columns[i]);
    for (int i = 0; i < o->oracle_opts.ntables; i++)
        add_quoted(buf, len, " --oracle-table ", o->oracle_opts.tables[i]);
    if (o->oracle_opts.mask)
        add_quoted(buf, len, " --oracle-mask ", o->oracle_opts.mask);
}

/* What every reproduction shares: the server, the pooler, the deadline and
 * the oracle. */
static void add_common(char *buf, size_t len, const run_opts *o)
{
    repro_add_oracle(o, buf, len);
    char d[24];
    format_duration(o->call_timeout_ns, d, sizeof d);
    if (o->call_timeout_ns)
        add(buf, len, " --call-timeout %s", d);
    if (o->dsn)
        add_quoted(buf, len, " --dsn ", o->dsn);
    if (o->pooler)
        add(buf, len, " --pooler %s", pooler_name(o->pooler));
    if (o->no_conn_check)
        add(buf, len, " --no-conn-check");
}

/* The command's words before its options: "pgrace run SCENARIO/VARIANT"
 * (or explore), or the words of an item's origin (pgrace exec's, whose
 * explorer is an option). */
static void add_head(char *buf, size_t len, const run_opts *o, const plan_item *item, bool explore)
{
    buf[0] = '\0';
    if (item->origin)
        add(buf, len, "%s%s", item->origin->command, explore ? " --explore" : "");
    else
        add(buf, len, "%s %s %s/%s", o->argv0, explore ? "explore" : "run", item->scenario->name,
            item->variant->name);
}

/* ... and after them. */
static void add_tail(char *buf, size_t len, const plan_item *item)
{
    if (item->origin)
        add(buf, len, "%s", item->origin->tail);
}

void repro_repeat_command(const run_opts *o, const plan_item *item, const item_settings *st, char *buf,
                          size_t len)
{
    add_head(buf, len, o, item, false);
    /* A sweep counts its own iterations. */
    if (!st->sweep)
        add(buf, len, " -i %ld", o->iterations);
    add(buf, len, " --seed %" PRIu64, o->seed);
    /* -n only when given: a plan or a sweep picks its own otherwise. */
    if (o->nworkers_given)
        add(buf, len, " -n %d", o->nworkers);
    if (o->plan)
        add(buf, len, " --plan %s", o->plan);
    if (o->fault_sweep)
        add(buf, len, " --fault-sweep");
    if (o->fault)
        add_quoted(buf, len, " --fault ", o->fault);
    /* Only what the plan did not set: the plan brings its own. */
    add_pauses(buf, len, &o->pauses);
    if (o->retries_given)
        add(buf, len, " --retries %d", st->retries);
    if (o->params)
        add_quoted(buf, len, " --params ", o->params);
    if (o->first_iteration > 1)
        add(buf, len, " --from-iteration %ld", o->first_iteration);
    if (o->failfast) {
        /* An id needs no quotes; anything else the user typed gets them. */
        char w[256];
        shell_word(o->failfast_on ? o->failfast_on : "", w, sizeof w);
        o->failfast_on ? add(buf, len, " --failfast=%s", w) : add(buf, len, " --failfast");
    }
    add_common(buf, len, o);
    add_tail(buf, len, item);
}

void repro_replay_command(const run_opts *o, const plan_item *item, const item_settings *st, long first,
                          long count, const char *fault_rules, char *buf, size_t len)
{
    add_head(buf, len, o, item, false);
    add(buf, len, " --from-iteration %ld -i %ld -n %d", first, count, st->nworkers);
    /* A program's caller does not retry: pgrace exec has no retries. */
    if (!item->origin)
        add(buf, len, " --retries %d", st->retries);
    add(buf, len, " --seed %" PRIu64, o->seed);
    add_pauses(buf, len, &st->pauses);
    /* The plan's settings of the operation (its side roles, a shorter
     * lock_timeout): without them the iteration is another one. */
    if (st->params)
        add_quoted(buf, len, " --params ", st->params);
    if (fault_rules && *fault_rules)
        add_quoted(buf, len, " --fault ", fault_rules);
    add_common(buf, len, o);
    add_tail(buf, len, item);
}

void repro_schedule_command(const run_opts *o, const plan_item *item, const item_settings *st, const char *token,
                            long iteration, char *buf, size_t len)
{
    add_head(buf, len, o, item, false);
    add_quoted(buf, len, " --schedule ", token);
    add(buf, len, " --from-iteration %ld -n %d", iteration, st->nworkers);
    if (!item->origin)
        add(buf, len, " --retries %d", st->retries);
    add(buf, len, " --seed %" PRIu64, o->seed);
    if (o->plan)
        add(buf, len, " --plan %s", o->plan);
    if (o->dsn)
        add_quoted(buf, len, " --dsn ", o->dsn);
    if (o->pooler)
        add(buf, len, " --pooler %s", pooler_name(o->pooler));
    repro_add_oracle(o, buf, len);
    add_tail(buf, len, item);
}

void repro_explore_command(const run_opts *o, const plan_item *item, const item_settings *st, int bound,
                           bool faults, bool every_prefix, bool no_yield, char *buf, size_t len)
{
    add_head(buf, len, o, item, true);
    add(buf, len, " -n %d --preemptions %d%s%s%s --seed %" PRIu64, st->nworkers, bound, faults ? " --faults" : "",
        every_prefix ? " --every-prefix" : "", no_yield ? " --no-yield" : "", o->seed);
    if (o->pooler)
        add(buf, len, " --pooler %s", pooler_name(o->pooler));
    repro_add_oracle(o, buf, len);
    add_tail(buf, len, item);
}
