/*
 * schedule.c — a schedule as a printable token, and its replay (see
 * strategy.h).
 *
 *   token  = "s=" workers [ ";f=" worker ":" nth ":" action ] [ ";h=" hex ]
 *   workers = digits (one worker each, 1-9) | number { "." number }
 *   action = "error" | "drop" | "ambiguous" | "cancel"
 *
 * "s=1122121;f=2:4:ambiguous": workers 1, 1, 2, 2, 1, 2, 1 go in turn, and
 * worker 2's fourth statement commits but its client loses the connection.
 * ";h=" is the digest of the statements the schedule let go (sched_digest),
 * which pgrace exec's tokens carry: a program's statements may vary from
 * run to run, and a replay that sent others says so.
 */
#include "sched/strategy.h"

#include "faults/pgfault.h"
#include "lib/err.h"
#include "lib/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const action_names[] = {
    [PGF_GATE_ERROR] = "error", [PGF_GATE_DROP] = "drop", [PGF_GATE_AMBIGUOUS] = "ambiguous",
    [PGF_GATE_CANCEL] = "cancel",
};

const char *schedule_action_name(int action)
{
    return action > 0 && action <= PGF_GATE_CANCEL ? action_names[action] : "go";
}

/* The fault part "W:K:action" (after "f="). */
static int parse_fault(const char *p, int nworkers, sched_fault *f, char *err, size_t errlen)
{
    char w[16], k[16], a[16];
    if (sscanf(p, "%15[0-9]:%15[0-9]:%15[a-z]", w, k, a) != 3) {
        err_set(err, errlen, "bad fault '%s' in the schedule: expected WORKER:NTH:ACTION, e.g. 2:4:ambiguous", p);
        return -1;
    }
    long wv, kv;
    if (parse_long(w, 1, nworkers, &wv) < 0 || parse_long(k, 1, SCHED_MAX_STEPS, &kv) < 0) {
        err_set(err, errlen, "bad fault '%s' in the schedule: worker 1..%d, statement 1..%d", p, nworkers,
                SCHED_MAX_STEPS);
        return -1;
    }
    f->worker = (int)wv - 1;
    f->nth = (int)kv;
    for (int i = PGF_GATE_ERROR; i <= PGF_GATE_CANCEL; i++)
        if (strcmp(a, action_names[i]) == 0) {
            f->action = i;
            return 0;
        }
    err_set(err, errlen, "bad fault action '%s' in the schedule: error, drop, ambiguous or cancel", a);
    return -1;
}

int schedule_parse(const char *token, int nworkers, schedule *out, char *err, size_t errlen)
{
    *out = (schedule){ .fault = { .worker = -1 } };
    if (strncmp(token, "s=", 2) != 0) {
        err_set(err, errlen, "bad schedule '%s': expected s=WORKERS[;f=WORKER:NTH:ACTION], e.g. s=1212", token);
        return -1;
    }
    const char *p = token + 2;
    bool dotted = strchr(p, '.') && (!strchr(p, ';') || strchr(p, '.') < strchr(p, ';'));
    while (*p && *p != ';') {
        long v = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && (dotted || digits == 0)) {
            v = v * 10 + (*p++ - '0');
            if (++digits > 3)
                break;
        }
        if (digits == 0 || v < 1 || v > nworkers || out->n == SCHED_MAX_STEPS) {
            err_set(err, errlen, "bad schedule '%s': workers are 1..%d%s", token, nworkers,
                    out->n == SCHED_MAX_STEPS ? ", and a schedule has at most 4096 steps" : "");
            return -1;
        }
        out->choices[out->n++] = (int)v - 1;
        if (dotted && *p == '.')
            p++;
    }
    if (out->n == 0) {
        err_set(err, errlen, "bad schedule '%s': no workers after s=", token);
        return -1;
    }
    const char *h = strstr(p, ";h=");
    if (h) {
        char *end;
        unsigned long d = strtoul(h + 3, &end, 16);
        if (end == h + 3 || *end || end - (h + 3) > 8) {
            err_set(err, errlen, "bad schedule '%s': ;h= takes the statements' digest, up to 8 hex digits", token);
            return -1;
        }
        out->has_digest = true;
        out->digest = (uint32_t)d;
    }
    if (*p == ';' && p != h) {
        if (strncmp(p, ";f=", 3) != 0) {
            err_set(err, errlen, "bad schedule '%s': after the workers, only ;f=WORKER:NTH:ACTION and ;h=DIGEST",
                    token);
            return -1;
        }
        char fault[64];
        snprintf(fault, sizeof fault, "%.*s", h ? (int)(h - p - 3) : (int)strlen(p + 3), p + 3);
        return parse_fault(fault, nworkers, &out->fault, err, errlen);
    }
    return 0;
}

int schedule_choose(void *arg, int step, uint32_t runnable, int last)
{
    const schedule *s = arg;
    if (step >= s->n)
        return strategy_default(runnable, last);
    int c = s->choices[step];
    return runnable & (1u << c) ? c : -1;
}
