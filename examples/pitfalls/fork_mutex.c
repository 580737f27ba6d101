/* Pitfall: fork() while another thread holds a mutex. The child gets a copy of the memory, the
 * mutex in its locked state included, but only the forking thread: the thread that would unlock
 * it does not exist in the child, so the child's first lock waits forever (glibc protects its own
 * malloc this way; your locks, a logger's, a library's, are not). A barrier makes the timing certain;
 * a watchdog (pthread_mutex_timedlock) reports the hang instead of hanging. The child exits 3 on
 * the deadlock. Fixed: fork_mutex_fixed.c.
 *
 * usage: fork_mutex [TIMEOUT_MS]   (default 300) */
#include "ex.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t holding, forked;

static void *logger(void *arg) { /* another thread, busy under its lock at the wrong moment */
    Pthread_mutex_lock(&log_lock);
    pthread_barrier_wait(&holding);
    pthread_barrier_wait(&forked);
    Pthread_mutex_unlock(&log_lock);
    return NULL;
}

int main(int argc, char **argv) {
    long ms = ex_arg(argc, argv, 1, 300, 1, 60000, "[TIMEOUT_MS]");
    pthread_barrier_init(&holding, NULL, 2);
    pthread_barrier_init(&forked, NULL, 2);
    pthread_t t;
    Pthread_create(&t, logger, NULL);
    pthread_barrier_wait(&holding); /* the logger holds log_lock now */
    /* guide:begin fork_mutex */
    pid_t pid = Fork();
    if (pid == 0) { /* the child: one thread, and a copy of log_lock that is locked for good */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += ms / 1000, until.tv_nsec += (ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        int rc = pthread_mutex_timedlock(&log_lock, &until);
        printf("child: %s\n", rc == ETIMEDOUT ? "deadlock: log_lock was held at fork time by a "
                                                "thread that does not exist here"
                                              : "got log_lock");
        fflush(stdout); /* _exit() skips stdio: flush by hand */
        _exit(rc == ETIMEDOUT ? 3 : 0);
    }
    /* guide:end fork_mutex */
    pthread_barrier_wait(&forked);
    Pthread_join(t, NULL);
    int st;
    if (waitpid(pid, &st, 0) != pid) die("waitpid: %s", strerror(errno));
    printf("parent: the child exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
