/* registry.c — the registry (registry.h), made from scenarios/list.h. */
#include "scenarios/registry.h"

#define SCENARIO(name) extern const scenario scenario_##name;
#include "scenarios/list.h"
#undef SCENARIO

const scenario *const scenario_registry[] = {
#define SCENARIO(name) &scenario_##name,
#include "scenarios/list.h"
#undef SCENARIO
    NULL,
};
