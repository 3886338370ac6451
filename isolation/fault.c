/* fault.c — step faults, with the shim's own parts (see fault.h). */
#include "isolation/fault.h"

#include "faults/grammar.h"
#include "lib/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

char *spec_fault_raise_sql(const spec_fault *f, char *err, size_t errlen)
{
    char rule[32], why[PGF_ERRLEN];
    int status;
    snprintf(rule, sizeof rule, "stmt:error=%s", f->sqlstate);
    struct pgf_ruleset *rs = pgf_rules_parse(rule, why, sizeof why, &status);
    if (!rs) {
        err_set(err, errlen, "step fault error=%s: %s", f->sqlstate, status < 0 ? why : "no rule");
        return NULL;
    }
    char *sql = strdup(rs->rules[0].raise_sql);
    pgf_ruleset_free(rs);
    if (!sql)
        err_set(err, errlen, "out of memory");
    return sql;
}

bool spec_fault_is_commit(const char *sql)
{
    return pgf_classify(sql) == PGF_K_COMMIT;
}

void spec_fault_kill(PGconn *conn)
{
    int fd = PQsocket(conn);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
}
