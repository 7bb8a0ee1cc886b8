// Runtime dispatch for hot loops: an AVX2 clone where the CPU has it, the baseline otherwise
// (wheels are never built with -march=native).
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define GENOMAP_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define GENOMAP_CLONES
#endif
