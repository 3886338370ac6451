/* list.c — `pgrace list`: what can be run. */
#include "harness/commands.h"
#include "harness/run.h"

#include <stdio.h>

int list_main(void)
{
    for (int i = 0; scenario_registry[i]; i++) {
        const scenario *s = scenario_registry[i];
        printf("%s — %s (seed %s)\n", s->name, s->summary, s->seed);
        printf("  variants:\n");
        for (int v = 0; v < s->nvariants; v++) {
            const scenario_variant *var = &s->variants[v];
            printf("    %-12s %s", var->name, var->summary);
            if (var->caught_by)
                printf(" [caught by plan: %s]", var->caught_by);
            printf("\n");
        }
        printf("  invariants:\n");
        for (int k = 0; k < s->ninvariants; k++)
            printf("    - %s\n", s->invariants[k].name);
        if (s->nplans) {
            printf("  fault plans (--plan NAME):\n");
            for (int p = 0; p < s->nplans; p++)
                printf("    %-18s %s\n", s->plans[p].name, s->plans[p].summary);
        }
        if (s->pause_points && s->pause_points[0]) {
            printf("  pause points (--pause POINT=DURATION):\n");
            for (int p = 0; s->pause_points[p]; p++)
                printf("    %s\n", s->pause_points[p]);
        }
        printf("\n");
    }
    return EXIT_HELD;
}
