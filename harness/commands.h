/* commands.h — the subcommands other than run (see run.h for run). */
#ifndef PGRACE_COMMANDS_H
#define PGRACE_COMMANDS_H

/* pgrace list [--matrix | --guarantees]: scenarios, variants, invariants, plans, pause
 * points and pinned guarantees; or the README's detection matrix. */
int list_main(int argc, char **argv);

/* pgrace cluster -- CMD [ARG...]: CMD against a throwaway embedded cluster
 * (PGHOST, PGPORT, PGUSER, PGDATABASE set); exits with CMD's status. */
int cluster_main(char *const cmd[]);

/* pgrace replay REPORT.json [--times N]: rerun the report's first failing
 * iteration; exits 1 when it fails again. */
int replay_main(int argc, char **argv);

/* pgrace soak [SCENARIO[/VARIANT]...] --duration D | -i N: randomized
 * rounds until a violation (or the end), then shrink it. */
int soak_main(int argc, char **argv);

#endif
