/* A remote task worker (guide section 7.3, ray): a process that listens on a TCP port and runs the
 * tasks it is sent, one line each ("SAMPLES SEED" -> "HITS"). The driver (pi_driver.c) does not care
 * where it runs: on this machine or another, a worker is an address. This one binds 127.0.0.1;
 * binding another interface is all it takes to serve other machines (and all it takes to let them
 * run code on yours: ray's workers trust their network the same way).
 *
 * usage: pi_worker [PORT]   (default 0: any free port; prints "listening on PORT"; SIGTERM stops it) */
#include "ex.h"
#include "pi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_term(int sig) { stop = sig; }

static void serve(int c) {
    /* Two streams on one socket: a stdio stream may not switch from reading to writing unless it
     * can seek, and a socket cannot. */
    FILE *in = fdopen(c, "r"), *out = fdopen(dup(c), "w");
    if (!in || !out) die("fdopen: %s", strerror(errno));
    long samples;
    unsigned long seed;
    /* guide:begin pi_worker */
    while (fscanf(in, "%ld %lu", &samples, &seed) == 2) {
        fprintf(out, "%ld\n", pi_hits(samples, seed));
        fflush(out);
    }
    /* guide:end pi_worker */
    fclose(in);
    fclose(out);
}

int main(int argc, char **argv) {
    int port = (int)ex_arg(argc, argv, 1, 0, 0, 65535, "[PORT]");
    struct sigaction sa = {.sa_handler = on_term}; /* no SA_RESTART: accept() returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    socklen_t alen = sizeof a;
    int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 16) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &alen) != 0)
        die("listen on 127.0.0.1:%d: %s", port, strerror(errno));
    printf("listening on %d\n", ntohs(a.sin_port));
    fflush(stdout);
    long served = 0;
    while (!stop) {
        int c = accept(s, NULL, NULL);
        if (c < 0 && errno == EINTR) continue;
        if (c < 0) die("accept: %s", strerror(errno));
        serve(c); /* one driver at a time: a worker is one CPU's worth of tasks */
        served++;
    }
    fprintf(stderr, "pi_worker: stopped after %ld drivers\n", served);
    close(s);
    return 0;
}
