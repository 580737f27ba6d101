/* The task both sides agree on (ray's compute_pi): how many of `samples` random points of the unit
 * square, drawn from the stream `seed`, fall inside the quarter circle. Header-only, so that the
 * driver's local reference run and the workers compute exactly the same thing. */
#ifndef PI_H
#define PI_H

#include "ex.h"

static inline long pi_hits(long samples, uint64_t seed) {
    long count = 0;
    for (long i = 0; i < samples; i++) {
        double x = ex_rand01(&seed), y = ex_rand01(&seed);
        count += x * x + y * y <= 1.0;
    }
    return count;
}

#endif
