/* Pitfall: after fork, parent and child share nothing they can write (guide section 9,
 * "multiprocessing: each process has its own memory"). fork() gives the child a copy-on-write copy
 * of the parent's memory: the child's first write to a page makes the child its own copy, and the
 * parent never sees it. Here the child adds 1 to a counter N times; the parent still reads 0.
 * Fixed: fork_cow_fixed.c (a shared mapping); or send the result back, as ../03-processes/pool.c does.
 *
 * usage: fork_cow [N]   (default 100) */
#include "ex.h"

#include <stdio.h>
#include <unistd.h>

static long counter;

int main(int argc, char **argv) {
    long n = ex_arg(argc, argv, 1, 100, 1, 1000000000, "[N]");
    /* guide:begin fork_cow */
    pid_t pid = Fork();
    if (pid == 0) {
        for (long i = 0; i < n; i++)
            counter++; /* the child's own copy of the page */
        printf("child: counter = %ld\n", counter);
        fflush(stdout);
        _exit(0);
    }
    if (!Waitpid_ok(pid)) die("child failed");
    printf("parent: counter = %ld (the child's %ld updates are invisible here)\n", counter, n);
    /* guide:end fork_cow */
    return 0;
}
