/* list.c — `pgrace list`: what can be run, and the detection matrix. */
#include "modes/modes.h"
#include "scenarios/registry.h"
#include "lib/exit.h"
#include "engine/plan.h"

#include <stdio.h>
#include <string.h>

static bool has_pin(const scenario *s, const char *name)
{
    for (int p = 0; p < s->npins; p++)
        if (strcmp(s->pins[p].name, name) == 0)
            return true;
    return false;
}

/* An invariant's id: lower-case letters, digits and '-', unique, not the
 * driver's. */
static bool good_id(const scenario *s, int k)
{
    const char *id = s->invariants[k].id;
    if (!id || !*id || strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(id) ||
        strcmp(id, SCENARIO_DEADLINE_ID) == 0 || strcmp(id, SCENARIO_CONNECTION_ID) == 0)
        return false;
    return drv_invariant_find(s, id) == k;
}

static bool has_plan(const scenario *s, const char *name)
{
    for (int p = 0; p < s->nplans; p++)
        if (strcmp(s->plans[p].name, name) == 0)
            return true;
    return strcmp(name, "none") == 0;
}

/* A scenario's tables agree with each other: variant 0 is "fixed" and is
 * caught by nothing; every catch names a plan and an invariant it has.
 * Returns 0, or -1 after saying what is wrong (a scenario author's bug). */
static int check_tables(const scenario *s)
{
    if (s->nvariants < 1 || strcmp(s->variants[0].name, "fixed") != 0 || s->variants[0].caught[0].plan) {
        fprintf(stderr, "pgrace: scenario %s: variants[0] must be \"fixed\", caught by nothing\n", s->name);
        return -1;
    }
    for (int k = 0; k < s->ninvariants; k++)
        if (!good_id(s, k)) {
            fprintf(stderr, "pgrace: scenario %s: invariant '%s' needs a short id of its own (a-z, 0-9, -)\n",
                    s->name, s->invariants[k].name);
            return -1;
        }
    if (s->setup && s->setup_sql) {
        fprintf(stderr, "pgrace: scenario %s: setup and setup_sql are both set\n", s->name);
        return -1;
    }
    for (int p = 0; p < s->npins; p++)
        if (!s->pins[p].plan || !has_plan(s, s->pins[p].plan) ||
            (s->pins[p].invariant && drv_invariant_find(s, s->pins[p].invariant) < 0)) {
            fprintf(stderr, "pgrace: scenario %s: pin %s names no %s of the scenario\n", s->name, s->pins[p].name,
                    s->pins[p].plan && has_plan(s, s->pins[p].plan) ? "invariant" : "plan");
            return -1;
        }
    if (!s->variants[0].op || s->variants[0].minus[0]) {
        fprintf(stderr, "pgrace: scenario %s: the fixed form needs its op and no minus\n", s->name);
        return -1;
    }
    for (int v = 1; v < s->nvariants; v++) {
        const scenario_variant *var = &s->variants[v];
        if (!var->op == !var->minus[0]) {
            fprintf(stderr, "pgrace: scenario %s: pre-fix form %s needs an op or a minus list, not both\n", s->name,
                    var->name);
            return -1;
        }
        for (int m = 0; m < SCENARIO_MAX_MINUS && var->minus[m]; m++)
            if (!has_pin(s, var->minus[m])) {
                fprintf(stderr, "pgrace: scenario %s: %s is the fixed form minus '%s': no such pin\n", s->name,
                        var->name, var->minus[m]);
                return -1;
            }
        if (!var->caught[0].plan) {
            fprintf(stderr, "pgrace: scenario %s: pre-fix form %s says no plan that catches it\n", s->name,
                    var->name);
            return -1;
        }
        for (int c = 0; c < SCENARIO_MAX_CATCH && var->caught[c].plan; c++)
            if (!has_plan(s, var->caught[c].plan) || !var->caught[c].invariant ||
                drv_invariant_find(s, var->caught[c].invariant) < 0) {
                fprintf(stderr, "pgrace: scenario %s: %s is caught by plan '%s' with invariant '%s': no such %s\n",
                        s->name, var->name, var->caught[c].plan,
                        var->caught[c].invariant ? var->caught[c].invariant : "(none)",
                        has_plan(s, var->caught[c].plan) ? "invariant" : "plan");
                return -1;
            }
    }
    return 0;
}

static void list_scenario(const scenario *s)
{
    printf("%s — %s", s->name, s->summary);
    if (s->seed)
        printf(" (seed %s)", s->seed);
    printf("\n  variants:\n");
    for (int v = 0; v < s->nvariants; v++) {
        const scenario_variant *var = &s->variants[v];
        printf("    %-14s %s\n", var->name, var->summary);
        for (int m = 0; m < SCENARIO_MAX_MINUS && var->minus[m]; m++)
            printf("    %-14s the fixed form without pin %s\n", "", var->minus[m]);
        for (int c = 0; c < SCENARIO_MAX_CATCH && var->caught[c].plan; c++)
            printf("    %-14s caught by plan %s: %s\n", "", var->caught[c].plan, var->caught[c].invariant);
    }
    printf("  invariants (ID: what must hold; --failfast=ID):\n");
    for (int k = 0; k < drv_ninvariants(s); k++)
        printf("    - %s: %s\n", drv_invariant_id(s, k), drv_invariant_name(s, k));
    if (s->nplans) {
        printf("  fault plans (--plan NAME):\n");
        for (int p = 0; p < s->nplans; p++) {
            const scenario_plan *pl = &s->plans[p];
            printf("    %-24s %s\n", pl->name, pl->summary);
            /* What it sets, for a reader and for the tests that pick
             * plans by what they do. */
            if (pl->sweep)
                printf("    %-24s sweep: one iteration per statement position and action\n", "");
            if (pl->fault)
                printf("    %-24s fault: %s\n", "", pl->fault);
            if (pl->params)
                printf("    %-24s params: %s\n", "", pl->params);
            if (pl->pause)
                printf("    %-24s pause: %s\n", "", pl->pause);
        }
    }
    if (s->npause_points) {
        printf("  pause points (--pause POINT=DURATION):\n");
        for (int p = 0; p < s->npause_points; p++)
            printf("    %s\n", s->pause_points[p]);
    }
    if (s->npins) {
        printf("  pinned guarantees (t/55-pins.t removes each and watches its plan catch it):\n");
        for (int p = 0; p < s->npins; p++)
            printf("    %-24s %s [plan %s%s%s]\n", s->pins[p].name, s->pins[p].what, s->pins[p].plan,
                   s->pins[p].invariant ? ", invariant " : "", s->pins[p].invariant ? s->pins[p].invariant : "");
    }
    printf("\n");
}

/* The README's detection matrix, as Markdown rows: every fixed form under
 * "none" and every plan, every pre-fix form under each plan that catches
 * it. t/50-matrix.t checks every row and that the README holds exactly
 * this text. */
static void print_matrix(void)
{
    printf("| scenario | variant | plan | expected verdict |\n|---|---|---|---|\n");
    for (int i = 0; scenario_registry[i]; i++) {
        const scenario *s = scenario_registry[i];
        for (int p = -1; p < s->nplans; p++)
            printf("| `%s` | `fixed` | `%s` | holds (all %d invariants) |\n", s->name,
                   p < 0 ? "none" : s->plans[p].name, drv_ninvariants(s));
        for (int v = 1; v < s->nvariants; v++)
            for (int c = 0; c < SCENARIO_MAX_CATCH && s->variants[v].caught[c].plan; c++) {
                const scenario_catch *k = &s->variants[v].caught[c];
                printf("| `%s` | `%s` | `%s` | caught: %s (`%s`) |\n", s->name, s->variants[v].name, k->plan,
                       drv_invariant_name(s, drv_invariant_find(s, k->invariant)), k->invariant);
            }
    }
}

/* The README's guarantee table, as Markdown rows: each pinned guarantee
 * of each fixed form, and the plan that catches its removal (t/55-pins.t
 * removes each one; t/55 checks the README holds exactly this text). */
static void print_guarantees(void)
{
    printf("| scenario | guarantee of the fix | pin | its removal is caught by |\n|---|---|---|---|\n");
    for (int i = 0; scenario_registry[i]; i++) {
        const scenario *s = scenario_registry[i];
        for (int p = 0; p < s->npins; p++) {
            printf("| `%s` | %s | `%s` | plan `%s`", s->name, s->pins[p].what, s->pins[p].name, s->pins[p].plan);
            if (s->pins[p].invariant)
                printf(": `%s`", s->pins[p].invariant);
            printf(" |\n");
        }
    }
}

int list_main(enum list_what what)
{
    bool matrix = what == LIST_MATRIX, guarantees = what == LIST_GUARANTEES;
    for (int i = 0; scenario_registry[i]; i++)
        if (check_tables(scenario_registry[i]) < 0)
            return EXIT_USAGE;
    if (matrix || guarantees) {
        (matrix ? print_matrix : print_guarantees)();
        return EXIT_HELD;
    }
    for (int i = 0; scenario_registry[i]; i++)
        list_scenario(scenario_registry[i]);
    return EXIT_HELD;
}
