/* The deadlock of deadlock.c, fixed by lock ordering: every thread takes A before B, so no thread
 * can hold B while waiting for A, and no cycle can form. The same watchdog as deadlock.c; no barrier
 * can force the bad interleaving any more, since a thread waiting for A holds nothing. Exits 0,
 * having found no deadlock (3 if the watchdog ever fired).
 *
 * usage: deadlock_fixed [TIMEOUT_MS]   (default 500) */
#include "ex.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
static long timeout_ms;
static atomic_int deadlocks;
static int done; /* guarded by a and b */

static int lock_or_report(pthread_mutex_t *m) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    if ((until.tv_nsec += (timeout_ms % 1000) * 1000000L) >= 1000000000L)
        until.tv_sec++, until.tv_nsec -= 1000000000L;
    int rc = pthread_mutex_timedlock(m, &until);
    if (rc != 0 && rc != ETIMEDOUT) die("pthread_mutex_timedlock: %s", strerror(rc));
    return rc == 0 ? 0 : -1;
}

/* guide:begin deadlock_fixed */
/* Both threads run this: A, then B, always in that order. */
static void *worker(void *arg) {
    int ok = lock_or_report(&a) == 0;
    if (ok) {
        if ((ok = lock_or_report(&b) == 0)) {
            done++;
            Pthread_mutex_unlock(&b);
        }
        Pthread_mutex_unlock(&a);
    }
    if (!ok) atomic_fetch_add(&deadlocks, 1);
    return NULL;
}
/* guide:end deadlock_fixed */

int main(int argc, char **argv) {
    timeout_ms = ex_arg(argc, argv, 1, 500, 1, 60000, "[TIMEOUT_MS]");
    pthread_t t1, t2;
    Pthread_create(&t1, worker, NULL);
    Pthread_create(&t2, worker, NULL);
    Pthread_join(t1, NULL);
    Pthread_join(t2, NULL);
    printf("%d threads took both locks; %s\n", done, deadlocks ? "deadlock detected" : "no deadlock");
    return deadlocks ? 3 : 0;
}
