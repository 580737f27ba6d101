/* The server in-process: start on a free port, serve several client threads at once, drain and
 * stop. Run under ASan (leaks, overflows) and TSan (races between workers, audit and reset). */
#include "server/server.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static graph_t *g;
static server_t *srv;

static void start(const char *faults) {
    char err[SERVER_ERR_LEN];
    graph_params_t p = {.seed = 9, .pages = 300, .out_degree = 6};
    server_config_t cfg;
    g = graph_generate(&p, err);
    cr_assert_not_null(g, "%s", err);
    server_config_init(&cfg);
    cfg.graph = g;
    cfg.port = 0;
    cfg.threads = 2;
    cfg.seed = 9;
    if (faults) cr_assert_eq(fault_plan_parse(faults, strlen(faults), &cfg.faults, err, sizeof(err)), 0);
    srv = server_start(&cfg, err);
    cr_assert_not_null(srv, "server_start: %s", err);
    cr_assert_gt(server_port(srv), 0);
}

static void stop(void) {
    server_stop(srv);
    server_wait(srv);
    graph_free(g);
}

static int connect_local(void) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)server_port(srv))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

/* Sends one request on fd and reads one whole response into buf; returns its status, or -1 when
 * the connection ended first (a reset or close fault). */
static int exchange(int fd, const char *target, char *buf, size_t cap) {
    char req[256];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", target);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) return -1;
    size_t got = 0;
    for (;;) {
        ssize_t r = recv(fd, buf + got, cap - got - 1, 0);
        if (r <= 0) return -1;
        got += (size_t)r;
        buf[got] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        char *cl = strstr(buf, "Content-Length: ");
        if (end && cl && got >= (size_t)(end + 4 - buf) + strtoul(cl + 16, NULL, 10)) break;
    }
    return atoi(buf + 9);
}

static void *client(void *arg) {
    long id = (long)arg;
    char buf[8192];
    int fd = connect_local(), ok = 0;
    for (int i = 0; i < 200; i++) {
        if (exchange(fd, i % 2 ? "/graph/random" : "/graph/stats", buf, sizeof(buf)) == 200) ok++;
        if (id == 0 && i % 50 == 0) {
            int rfd = connect_local();
            const char reset[] = "POST /graph/stats/reset HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n";
            cr_assert_eq(send(rfd, reset, sizeof(reset) - 1, 0), (ssize_t)sizeof(reset) - 1);
            cr_assert_gt(recv(rfd, buf, sizeof(buf), 0), 0);
            close(rfd);
        }
    }
    close(fd);
    return (void *)(long)ok;
}

Test(server, concurrent_clients_and_resets) {
    start(NULL);
    pthread_t th[4];
    for (long i = 0; i < 4; i++) cr_assert_eq(pthread_create(&th[i], NULL, client, (void *)i), 0);
    for (int i = 0; i < 4; i++) {
        void *ok;
        pthread_join(th[i], &ok);
        cr_assert_eq((long)ok, 200, "client %d: %ld of 200 answered 200", i, (long)ok);
    }
    stop();
}

Test(server, every_page_served_once_then_audit_counts_duplicates) {
    start(NULL);
    char buf[8192], target[64];
    int fd = connect_local();
    for (uint32_t pass = 0; pass < 2; pass++)
        for (uint32_t p = 0; p < graph_pages(g); p++) {
            size_t len;
            snprintf(target, sizeof(target), "/api/%s", graph_id(g, p, &len));
            cr_assert_eq(exchange(fd, target, buf, sizeof(buf)), 200, "%s", target);
        }
    cr_assert_eq(exchange(fd, "/graph/stats", buf, sizeof(buf)), 200);
    cr_assert_not_null(strstr(buf, "\"pages_served\":300,\"duplicate_fetches\":300,"), "%s", buf);
    close(fd);
    stop();
}

Test(server, faults_end_connections_but_not_the_server) {
    start("reset:0.3,close:0.3");
    char buf[8192], target[64];
    int ended = 0, ok = 0;
    for (uint32_t p = 0; p < 100; p++) {
        size_t len;
        int fd = connect_local();
        snprintf(target, sizeof(target), "/api/%s", graph_id(g, p, &len));
        if (exchange(fd, target, buf, sizeof(buf)) == 200) ok++;
        else ended++;
        close(fd);
    }
    cr_assert_eq(ok + ended, 100);
    cr_assert(ended > 40 && ended < 80, "%d of 100 requests ended by a fault", ended);
    stop();
}
