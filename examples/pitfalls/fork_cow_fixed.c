/* fork_cow.c fixed: the counter lives in a MAP_SHARED mapping made before the fork, so parent and
 * child map the same physical page and the child's writes are the parent's too. (Shared between
 * processes that run at the same time, it would need a lock or atomics like any shared memory; here
 * the parent reads only after the child has exited.)
 *
 * usage: fork_cow_fixed [N]   (default 100) */
#include "ex.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long n = ex_arg(argc, argv, 1, 100, 1, 1000000000, "[N]");
    /* guide:begin fork_cow_fixed */
    long *counter = mmap(NULL, sizeof *counter, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (counter == MAP_FAILED) die("mmap: %s", strerror(errno));
    pid_t pid = Fork();
    if (pid == 0) {
        for (long i = 0; i < n; i++)
            (*counter)++; /* the same page as the parent's */
        _exit(0);
    }
    if (!Waitpid_ok(pid)) die("child failed");
    printf("parent: counter = %ld (the child's updates, through a shared mapping)\n", *counter);
    /* guide:end fork_cow_fixed */
    munmap(counter, sizeof *counter);
    return 0;
}
