/* registry.c — every scenario pgrace knows; add one line per new scenario. */
#include "harness/scenario.h"

extern const scenario scenario_attestation;
extern const scenario scenario_envmerge;
extern const scenario scenario_nullifier;
extern const scenario scenario_identity;
extern const scenario scenario_credstore;
extern const scenario scenario_approve;

/* In the order of the seeds' table in ../shared/DESIGN.md. */
const scenario *const scenario_registry[] = {
    &scenario_attestation,
    &scenario_envmerge,
    &scenario_nullifier,
    &scenario_identity,
    &scenario_credstore,
    &scenario_approve,
    NULL,
};
