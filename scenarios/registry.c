/* registry.c — every scenario pgrace knows; add one line per new scenario. */
#include "harness/scenario.h"

extern const scenario scenario_attestation;

const scenario *const scenario_registry[] = {
    &scenario_attestation,
    NULL,
};
