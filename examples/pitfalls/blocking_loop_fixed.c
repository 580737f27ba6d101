/* The blocking call of blocking_loop.c, moved off the loop: the handler hands it to a worker
 * thread and returns at once; the thread writes to an eventfd when it is done, and the loop, which
 * watches that eventfd next to its other sources, finishes the request then (asyncio's
 * run_in_executor, libuv's uv_queue_work). The other connections never wait more than a tick.
 *
 * usage: blocking_loop_fixed [B_MS]   (default 300) */
#include "ex.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

enum { TICK_MS = 10, RUN_MS = 600, SLOW_AT_MS = 50 };
static long block_ms;
static int done_fd;

/* guide:begin blocking_loop_fixed */
static void *off_the_loop(void *arg) {
    ex_sleep_ms(block_ms); /* the same blocking call, on a worker thread */
    uint64_t one = 1;
    if (write(done_fd, &one, sizeof one) != sizeof one) /* "done": wakes the loop */
        die("write eventfd: %s", strerror(errno));
    return NULL;
}
/* guide:end blocking_loop_fixed */

int main(int argc, char **argv) {
    block_ms = ex_arg(argc, argv, 1, 300, 1, 10000, "[B_MS]");
    int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec its = {{0, TICK_MS * 1000000L}, {0, TICK_MS * 1000000L}};
    if (tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) != 0) die("timerfd: %s", strerror(errno));
    if ((done_fd = eventfd(0, 0)) < 0) die("eventfd: %s", strerror(errno));
    double t0 = ex_now(), next_due = t0 + TICK_MS / 1000.0, worst = 0;
    int served = 0, slow_started = 0;
    pthread_t worker;
    struct pollfd fds[2] = {{.fd = tfd, .events = POLLIN}, {.fd = done_fd, .events = POLLIN}};

    while (ex_now() - t0 < RUN_MS / 1000.0) {
        if (poll(fds, 2, -1) < 0 && errno != EINTR) /* the loop's only wait */
            die("poll: %s", strerror(errno));
        uint64_t n;
        if (fds[1].revents & POLLIN) {
            if (read(done_fd, &n, sizeof n) != sizeof n) die("read eventfd: %s", strerror(errno));
            Pthread_join(worker, NULL);
            printf("slow request done at %.3f s\n", ex_now() - t0);
        }
        if (!(fds[0].revents & POLLIN)) continue;
        if (read(tfd, &n, sizeof n) != sizeof n) die("read timerfd: %s", strerror(errno));
        double wait = ex_now() - next_due;
        if (wait > worst) worst = wait;
        next_due += (double)n * TICK_MS / 1000.0;
        served += (int)n;
        if (!slow_started && ex_now() - t0 >= SLOW_AT_MS / 1000.0) {
            slow_started = 1;
            Pthread_create(&worker, off_the_loop, NULL); /* hand it off, return to the loop */
        }
    }
    printf("served %d requests; the longest any waited: %.0f ms (a blocking call of %ld ms)\n", served,
           worst * 1000, block_ms);
    close(tfd);
    close(done_fd);
    return 0;
}
