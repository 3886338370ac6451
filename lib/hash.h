/*
 * hash.h — FNV-1a, 64-bit: a small, stable hash for keys pgrace builds
 * itself (the template cache's key, interned strings, explored prefixes).
 * Not for anything an adversary chooses.
 */
#ifndef PGRACE_HASH_H
#define PGRACE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV1A_INIT 0xcbf29ce484222325ULL

/* h extended by the n bytes at p (start from HASH_FNV1A_INIT). */
uint64_t hash_fnv1a(uint64_t h, const void *p, size_t n);

#endif
