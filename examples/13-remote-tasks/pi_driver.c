/* The remote tasks' driver (guide section 7.3, ray's `futures = [compute_pi.remote(n) ...]` and
 * `ray.get(futures)`): it sends TASKS tasks of SAMPLES points to the workers at the given ports,
 * round-robin, all at once (pipelined: every worker starts at once), then collects the answers.
 * With no ports it runs the same tasks in-process: the reference the remote answer must equal,
 * since task k always uses the random stream k + 1.
 *
 * usage: pi_driver [SAMPLES [TASKS [PORT...]]]   (default 1000000 samples, 4 tasks, local) */
#include "ex.h"
#include "pi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A worker's two streams, one for each direction (see pi_worker.c's serve). */
static void connect_worker(int port, FILE **to, FILE **from) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) != 0)
        die("worker 127.0.0.1:%d: %s", port, strerror(errno));
    *to = fdopen(s, "w");
    *from = fdopen(dup(s), "r");
    if (!*to || !*from) die("fdopen: %s", strerror(errno));
}

int main(int argc, char **argv) {
    const char *usage = "[SAMPLES [TASKS [PORT...]]]";
    long samples = ex_arg(argc, argv, 1, 1000000, 1, 1000000000, usage);
    int tasks = (int)ex_arg(argc, argv, 2, 4, 1, 10000, usage);
    int nw = argc > 3 ? argc - 3 : 0;
    FILE *w[64], *r[64];
    if (nw > 64) die("at most 64 workers");
    for (int i = 0; i < nw; i++)
        connect_worker((int)ex_arg(argc, argv, 3 + i, 0, 1, 65535, usage), &w[i], &r[i]);

    double t0 = ex_now();
    long hits = 0;
    /* guide:begin pi_driver */
    for (int k = 0; k < tasks; k++) { /* compute_pi.remote(samples): returns at once */
        if (nw == 0)
            hits += pi_hits(samples, (uint64_t)k + 1);
        else
            fprintf(w[k % nw], "%ld %d\n", samples, k + 1);
    }
    for (int i = 0; i < nw; i++)
        fflush(w[i]);                           /* now every worker has its tasks */
    for (int k = 0; k < tasks && nw > 0; k++) { /* ray.get(futures), in submission order */
        long h;
        if (fscanf(r[k % nw], "%ld", &h) != 1) die("worker %d: no answer for task %d", k % nw, k);
        hits += h;
    }
    /* guide:end pi_driver */
    double dt = ex_now() - t0;
    for (int i = 0; i < nw; i++)
        fclose(w[i]), fclose(r[i]);
    double total = (double)samples * tasks;
    printf("pi ~ %.6f (%ld hits of %.0f samples, %d tasks, %d workers%s, %.3f s)\n", 4.0 * hits / total, hits,
           total, tasks, nw, nw ? "" : ": run in-process", dt);
    return 0;
}
