/* The one clock for intervals: CLOCK_MONOTONIC in microseconds (never the wall clock, which jumps).
 * Waits on condition variables use CLOCK_MONOTONIC too: clock_deadline() builds their timespec. */
#ifndef CRAWLBENCH_CLOCK_H
#define CRAWLBENCH_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The CLOCK_MONOTONIC time us from now, for pthread_cond_timedwait on a condition variable whose
 * attribute was set with pthread_condattr_setclock(CLOCK_MONOTONIC). */
static inline struct timespec clock_deadline(uint64_t us) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(us / 1000000u);
    ts.tv_nsec += (long)(us % 1000000u) * 1000;
    if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
    return ts;
}

#endif
