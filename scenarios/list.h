/*
 * list.h — every scenario, one line each, in the order pgrace lists them
 * (the seeds' order in ../shared/DESIGN.md). A new scenario is its file in
 * scenarios/ and one SCENARIO(name) line here: scenarios/registry.c turns
 * the list into the registry.
 */
SCENARIO(attestation)
SCENARIO(envmerge)
SCENARIO(nullifier)
SCENARIO(identity)
SCENARIO(credstore)
SCENARIO(approve)
