/*
 * registry.h — every scenario of scenarios/list.h, NULL-terminated: what
 * the command line hands to the modes (run_opts.registry, list).
 */
#ifndef PGRACE_REGISTRY_H
#define PGRACE_REGISTRY_H

#include "engine/scenario.h"

extern const scenario *const scenario_registry[];

#endif
