/* soak_plan.c — unit tests of modes/soakplan: rounds drawn from the seed
 * are repeatable and varied; every shrink candidate is smaller. */
#include "t/unit/check.h"

#include "modes/soakplan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    soak_round a, b;
    soak_draw(&a, 42, 7, 8, 1);
    soak_draw(&b, 42, 7, 8, 1);
    CHECK(memcmp(&a, &b, sizeof a) == 0, "the same seed and round draw the same round");

    int seen_rules[SOAK_MAX_RULES + 1] = { 0 }, commit = 0, drop = 0, ambiguous = 0, delay = 0, error = 0;
    int workers_ok = 1, distinct = 0;
    char spec[512];
    for (long k = 0; k < 2000; k++) {
        soak_draw(&b, 2, k, 8, 2);
        soak_draw(&a, 1, k, 8, 2);
        workers_ok &= a.nworkers >= 1 && a.nworkers <= 8 && a.retries >= 0 && a.retries <= 2;
        seen_rules[a.nrules]++;
        soak_rules(&a, spec, sizeof spec);
        distinct += memcmp(&a, &b, sizeof a) != 0;
        commit += strstr(spec, "commit:") != NULL;
        drop += strstr(spec, ":drop") != NULL;
        ambiguous += strstr(spec, ":ambiguous") != NULL;
        delay += strstr(spec, ":delay=") != NULL;
        error += strstr(spec, ":error=") != NULL;
        for (int i = 0; i < a.nrules; i++) {
            char *conn = strstr(a.rules[i], "conn=");
            if (conn && (conn[5] < '1' || atoi(conn + 5) > 2 * a.nworkers))
                workers_ok = 0;
        }
    }
    CHECK(workers_ok, "workers, retries and conn=K stay in range");
    CHECK(seen_rules[0] && seen_rules[1] && seen_rules[2] && seen_rules[3], "rounds have 0 to 3 rules");
    CHECK(distinct > 1900, "another seed draws other rounds (%d of 2000 differ)", distinct);
    CHECK(commit && drop && ambiguous && delay && error, "every action and COMMIT faults are drawn");

    soak_round r = { .nworkers = 8, .retries = 2, .nrules = 2 };
    snprintf(r.rules[0], SOAK_RULE_LEN, "stmt:when=2+3:error=40001");
    snprintf(r.rules[1], SOAK_RULE_LEN, "commit:when=1:delay=5ms");
    soak_round c[16];
    int n = soak_shrink(&r, c, 16);
    int smaller = 1;
    for (int i = 0; i < n; i++)
        smaller &= soak_size(&c[i]) < soak_size(&r);
    CHECK(n >= 5 && smaller, "%d shrink candidates, each smaller", n);
    CHECK(c[0].nrules == 1 && strcmp(c[0].rules[0], "stmt:when=2+3:error=40001") == 0,
          "the delay rule is the first to go");
    int single = 0;
    for (int i = 0; i < n; i++)
        single |= c[i].nrules == 2 && strcmp(c[i].rules[0], "stmt:when=2:error=40001") == 0;
    CHECK(single, "one fault instead of every third");
    soak_rules(&r, spec, sizeof spec);
    CHECK(strcmp(spec, "stmt:when=2+3:error=40001;commit:when=1:delay=5ms") == 0, "spec joins rules: %s", spec);
    soak_round minimal = { .nworkers = 1 };
    CHECK(soak_shrink(&minimal, c, 16) == 0, "a one-worker round without faults is as small as it gets");
    return check_done();
}
