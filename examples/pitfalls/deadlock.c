/* Pitfall: a deadlock from inconsistent lock order (guide section 9). Thread 1 takes A then B,
 * thread 2 takes B then A. A barrier after the first lock makes the bad interleaving certain (each
 * holds one lock and wants the other's), rather than a once-a-week event; a watchdog
 * (pthread_mutex_timedlock) turns the silent hang into a report. Exits 3 when it caught the
 * deadlock. Fixed: deadlock_fixed.c.
 *
 * usage: deadlock [TIMEOUT_MS]   (default 500: how long a thread waits before it calls it a deadlock) */
#include "ex.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold_one;
static long timeout_ms;
static int deadlocks;
static pthread_mutex_t report = PTHREAD_MUTEX_INITIALIZER;

/* Takes second, giving up after timeout_ms (the watchdog). 0, or -1 on a timeout. */
static int lock_or_report(pthread_mutex_t *second, const char *who) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until); /* timedlock's clock is CLOCK_REALTIME */
    until.tv_sec += timeout_ms / 1000;
    if ((until.tv_nsec += (timeout_ms % 1000) * 1000000L) >= 1000000000L)
        until.tv_sec++, until.tv_nsec -= 1000000000L;
    int rc = pthread_mutex_timedlock(second, &until);
    if (rc == 0) return 0;
    if (rc != ETIMEDOUT) die("pthread_mutex_timedlock: %s", strerror(rc));
    Pthread_mutex_lock(&report);
    deadlocks++;
    printf("%s: deadlock: waited %ld ms for its second lock, held by the other thread\n", who, timeout_ms);
    Pthread_mutex_unlock(&report);
    return -1;
}

/* guide:begin deadlock */
static void *one(void *arg) {
    Pthread_mutex_lock(&a);
    pthread_barrier_wait(&both_hold_one); /* now two holds B: the cycle is certain */
    if (lock_or_report(&b, "thread 1 (A then B)") == 0) Pthread_mutex_unlock(&b);
    Pthread_mutex_unlock(&a);
    return NULL;
}

static void *two(void *arg) {
    Pthread_mutex_lock(&b);
    pthread_barrier_wait(&both_hold_one);
    if (lock_or_report(&a, "thread 2 (B then A)") == 0) Pthread_mutex_unlock(&a);
    Pthread_mutex_unlock(&b);
    return NULL;
}
/* guide:end deadlock */

int main(int argc, char **argv) {
    timeout_ms = ex_arg(argc, argv, 1, 500, 1, 60000, "[TIMEOUT_MS]");
    if (pthread_barrier_init(&both_hold_one, NULL, 2) != 0) die("pthread_barrier_init failed");
    pthread_t t1, t2;
    Pthread_create(&t1, one, NULL);
    Pthread_create(&t2, two, NULL);
    Pthread_join(t1, NULL);
    Pthread_join(t2, NULL);
    printf("%s\n", deadlocks ? "deadlock detected" : "no deadlock");
    return deadlocks ? 3 : 0;
}
