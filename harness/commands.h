/* commands.h — the subcommands other than run (see run.h for run). */
#ifndef PGRACE_COMMANDS_H
#define PGRACE_COMMANDS_H

/* pgrace list: scenarios, variants, invariants and pause points. */
int list_main(void);

/* pgrace cluster -- CMD [ARG...]: CMD against a throwaway embedded cluster
 * (PGHOST, PGPORT, PGUSER, PGDATABASE set); exits with CMD's status. */
int cluster_main(char *const cmd[]);

#endif
