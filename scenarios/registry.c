/* registry.c — the registry of scenario.h, made from scenarios/list.h. */
#include "harness/scenario.h"

#define SCENARIO(name) extern const scenario scenario_##name;
#include "scenarios/list.h"
#undef SCENARIO

const scenario *const scenario_registry[] = {
#define SCENARIO(name) &scenario_##name,
#include "scenarios/list.h"
#undef SCENARIO
    NULL,
};
