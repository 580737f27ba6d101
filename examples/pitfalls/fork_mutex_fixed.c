/* fork_mutex.c fixed with pthread_atfork: before fork() the forking thread takes the lock itself
 * (waiting, if need be, for whoever holds it), and after fork() both parent and child release it,
 * so the child's copy is always unlocked. (The other fix: fork before starting threads, or exec
 * at once in the child; a forked child of a threaded program may otherwise call only
 * async-signal-safe functions.)
 *
 * usage: fork_mutex_fixed [TIMEOUT_MS]   (default 300) */
#include "ex.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t holding;

static void *logger(void *arg) {
    Pthread_mutex_lock(&log_lock);
    pthread_barrier_wait(&holding);
    Pthread_mutex_unlock(&log_lock); /* the fork in main waits for this, in prepare() */
    return NULL;
}

/* guide:begin fork_mutex_fixed */
static void prepare(void) { Pthread_mutex_lock(&log_lock); }
static void release(void) { Pthread_mutex_unlock(&log_lock); }
/* In main, before any fork: pthread_atfork(prepare, release, release); */
/* guide:end fork_mutex_fixed */

int main(int argc, char **argv) {
    long ms = ex_arg(argc, argv, 1, 300, 1, 60000, "[TIMEOUT_MS]");
    int en = pthread_atfork(prepare, release, release);
    if (en != 0) die("pthread_atfork: %s", strerror(en));
    pthread_barrier_init(&holding, NULL, 2);
    pthread_t t;
    Pthread_create(&t, logger, NULL);
    pthread_barrier_wait(&holding); /* the logger holds log_lock now, as in fork_mutex.c */
    pid_t pid = Fork();
    if (pid == 0) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += ms / 1000, until.tv_nsec += (ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        int rc = pthread_mutex_timedlock(&log_lock, &until);
        printf("child: %s\n", rc == 0 ? "got log_lock" : "deadlock");
        fflush(stdout);
        _exit(rc == 0 ? 0 : 3);
    }
    Pthread_join(t, NULL);
    int st;
    if (waitpid(pid, &st, 0) != pid) die("waitpid: %s", strerror(errno));
    printf("parent: the child exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
