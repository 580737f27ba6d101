/* Pitfall: a blocking call inside an event loop (guide section 9, "blocking calls"). The loop
 * serves a stream of small requests, one every 10 ms (a timerfd stands for the other connections);
 * at 50 ms one handler makes a blocking call of B ms (a sleep stands for a synchronous DNS lookup,
 * file read or database query). While it blocks, the loop serves nobody: every other connection
 * waits B ms. The program prints the longest wait. Fixed: blocking_loop_fixed.c.
 *
 * usage: blocking_loop [B_MS]   (default 300) */
#include "ex.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

enum { TICK_MS = 10, RUN_MS = 600, SLOW_AT_MS = 50 };

int main(int argc, char **argv) {
    long block_ms = ex_arg(argc, argv, 1, 300, 1, 10000, "[B_MS]");
    int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec its = {{0, TICK_MS * 1000000L}, {0, TICK_MS * 1000000L}};
    if (tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) != 0) die("timerfd: %s", strerror(errno));
    double t0 = ex_now(), next_due = t0 + TICK_MS / 1000.0, worst = 0;
    int served = 0, slow_started = 0;

    while (ex_now() - t0 < RUN_MS / 1000.0) {
        uint64_t ticks;
        if (read(tfd, &ticks, sizeof ticks) != sizeof ticks) /* the loop's wait */
            die("read timerfd: %s", strerror(errno));
        double wait = ex_now() - next_due; /* how late the oldest waiting request is served */
        if (wait > worst) worst = wait;
        next_due += (double)ticks * TICK_MS / 1000.0;
        served += (int)ticks;
        /* guide:begin blocking_loop */
        if (!slow_started && ex_now() - t0 >= SLOW_AT_MS / 1000.0) {
            slow_started = 1;
            ex_sleep_ms(block_ms); /* the blocking call, on the loop's own thread */
            printf("slow request done at %.3f s\n", ex_now() - t0);
        }
        /* guide:end blocking_loop */
    }
    printf("served %d requests; the longest any waited: %.0f ms (a blocking call of %ld ms)\n", served,
           worst * 1000, block_ms);
    close(tfd);
    return 0;
}
