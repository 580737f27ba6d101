/* Deterministic random numbers for everything that must be reproducible across machines: the graph
 * generator and the server's fault and latency decisions. Integer-only (no libm), so the same seed
 * gives the same bits on every platform. splitmix64 (Steele, Lea, Flood 2014) is both the stream
 * generator and the stateless mixer: rng_hash3(seed, a, b) is a pure function, which is what lets the
 * server decide a fault from (seed, page, attempt) without any shared state. */
#ifndef CRAWLBENCH_RNG_H
#define CRAWLBENCH_RNG_H

#include <stdint.h>

typedef struct rng {
    uint64_t state; /* private */
} rng_t;

static inline uint64_t rng_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline void rng_seed(rng_t *r, uint64_t seed) { r->state = seed; }

static inline uint64_t rng_next(rng_t *r) {
    r->state += 0x9e3779b97f4a7c15ULL;
    return rng_mix64(r->state);
}

/* Uniform integer in [0, n), n > 0, by Lemire's multiply-shift. The tiny bias (< n / 2^64) is
 * irrelevant here and the result is identical on every machine, which rejection loops also are but
 * at a variable cost. */
static inline uint64_t rng_below(rng_t *r, uint64_t n) {
    return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

/* A pure function of three words: the same inputs give the same 64 random bits. */
static inline uint64_t rng_hash3(uint64_t a, uint64_t b, uint64_t c) {
    uint64_t h = rng_mix64(a + 0x9e3779b97f4a7c15ULL);
    h = rng_mix64(h ^ (b + 0x632be59bd9b4e019ULL));
    return rng_mix64(h ^ (c + 0x85ebca77c2b2ae63ULL));
}

/* A uniform double in [0, 1) from 53 random bits. */
static inline double rng_unit(uint64_t bits) { return (double)(bits >> 11) * 0x1.0p-53; }

#endif
