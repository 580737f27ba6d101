/* The machinery under the event-driven crawlers: curlloop (libcurl's multi handle on our loop)
 * against the real server in-process, and coro (coroutines on that loop): their waits, wake-ups and
 * cancellation, a crawler's fetch-and-parse on a coroutine stack, and the guard page below it. */
#include "ev/coro.h"
#include "base/clock.h"
#include "ev/curlloop.h"
#include "crawl/fetch.h"
#include "crawl/page.h"
#include "server/server.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static graph_t *g;
static server_t *srv;
static loop_t *l;
static char base[64];

static void setup(void) {
    char err[256];
    graph_params_t p = {.seed = 9, .pages = 300, .out_degree = 6};
    server_config_t cfg;
    cr_assert_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    g = graph_generate(&p, err);
    cr_assert_not_null(g, "%s", err);
    server_config_init(&cfg);
    cfg.graph = g;
    cfg.port = 0;
    cfg.threads = 1;
    cfg.seed = 9;
    srv = server_start(&cfg, err);
    cr_assert_not_null(srv, "server_start: %s", err);
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", server_port(srv));
    l = loop_create(1024, err, sizeof(err));
    cr_assert_not_null(l, "%s", err);
}

static void teardown(void) {
    cr_assert_eq(loop_timer_count(l), 0, "timers left armed: %zu", loop_timer_count(l));
    loop_free(l);
    server_stop(srv);
    server_wait(srv);
    graph_free(g);
    curl_global_cleanup();
}

TestSuite(curlloop, .init = setup, .fini = teardown, .timeout = 30);
TestSuite(coro, .init = setup, .fini = teardown, .timeout = 30);

static size_t discard(char *data, size_t size, size_t n, void *arg) { return size * n; }

/* An easy handle for BASE/api/<page's id><query>. */
static CURL *easy_for(uint32_t page, const char *query, long timeout_ms) {
    char url[256];
    size_t len;
    const char *id = graph_id(g, page, &len);
    snprintf(url, sizeof(url), "%s/api/%.*s%s", base, (int)len, id, query);
    CURL *e = curl_easy_init();
    cr_assert_not_null(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    return e;
}

typedef struct tally {
    int done, ok, timedout, readd_until;
    long connects;
} tally_t;

static void count_done(curlloop_t *cl, CURL *easy, CURLcode rc, void *data) {
    tally_t *t = data;
    long status = 0, connects = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects);
    t->done++;
    t->ok += rc == CURLE_OK && status == 200;
    t->timedout += rc == CURLE_OPERATION_TIMEDOUT;
    t->connects += connects;
    if (t->done < t->readd_until) cr_assert_eq(curlloop_add(cl, easy), 0); /* a retry, as async.c does */
    if (curlloop_active(cl) == 0) loop_stop(l);
}

Test(curlloop, many_transfers_complete_and_nothing_is_left) {
    char err[256];
    tally_t t = {0};
    CURL *e[50];
    curlloop_t *cl = curlloop_create(l, 64, count_done, &t, err, sizeof(err));
    cr_assert_not_null(cl, "%s", err);
    for (int i = 0; i < 50; i++) cr_assert_eq(curlloop_add(cl, e[i] = easy_for((uint32_t)i, "", 5000)), 0);
    cr_assert_null(curlloop_error(cl));
    cr_assert_eq(curlloop_add(cl, e[0]), 0, "queued: the double add is found when libcurl gets it");
    cr_assert_eq(loop_run(l), 0);
    cr_assert_eq(t.done, 50, "the handle added twice ran once");
    cr_assert_eq(t.ok, 50);
    cr_assert_not_null(curlloop_error(cl));
    cr_assert(strstr(curlloop_error(cl), "already added"), "%s", curlloop_error(cl));
    cr_assert_eq(curlloop_active(cl), 0);
    curlloop_free(cl); /* closes the pooled connections through the loop */
    for (int i = 0; i < 50; i++) curl_easy_cleanup(e[i]);
}

Test(curlloop, done_callback_may_add_the_handle_again_on_the_same_connection) {
    char err[256];
    tally_t t = {.readd_until = 20};
    curlloop_t *cl = curlloop_create(l, 64, count_done, &t, err, sizeof(err));
    CURL *e = easy_for(3, "", 5000);
    cr_assert_eq(curlloop_add(cl, e), 0);
    cr_assert_eq(loop_run(l), 0);
    cr_assert_eq(t.done, 20);
    cr_assert_eq(t.ok, 20);
    cr_assert_eq(t.connects, 1, "keep-alive: one connection for 20 transfers, got %ld", t.connects);
    curlloop_free(cl);
    curl_easy_cleanup(e);
}

Test(curlloop, timeout_is_delivered_through_the_loop_timer) {
    char err[256];
    tally_t t = {0};
    curlloop_t *cl = curlloop_create(l, 64, count_done, &t, err, sizeof(err));
    CURL *e = easy_for(4, "?fault=hang", 100);
    uint64_t t0 = clock_now_us();
    cr_assert_eq(curlloop_add(cl, e), 0);
    cr_assert_eq(loop_run(l), 0);
    uint64_t took = clock_now_us() - t0;
    cr_assert_eq(t.timedout, 1);
    cr_assert(took >= 100000 && took < 2000000, "timed out after %llu us", (unsigned long long)took);
    curlloop_free(cl);
    curl_easy_cleanup(e);
}

static curlloop_t *removing;

/* Two batches of 40 transfers, the second started once the first has ended, as the async crawler
 * does between loop iterations. libcurl's default pool holds 4 connections per handle added, so
 * with the multi empty between batches it would close nearly all of them; curlloop keeps
 * max_transfers idle connections, and the second batch connects no more. */
Test(curlloop, the_next_batch_reuses_every_connection_of_the_last) {
    char err[256];
    tally_t t = {0};
    CURL *e[40];
    curlloop_t *cl = curlloop_create(l, 40, count_done, &t, err, sizeof(err));
    cr_assert_not_null(cl, "%s", err);
    for (int batch = 0; batch < 2; batch++) {
        for (int i = 0; i < 40; i++) {
            if (!batch) e[i] = easy_for((uint32_t)i, "", 5000);
            cr_assert_eq(curlloop_add(cl, e[i]), 0);
        }
        cr_assert_eq(loop_run(l), 0);
    }
    cr_assert_eq(t.done, 80);
    cr_assert_eq(t.ok, 80);
    cr_assert_eq(t.connects, 40, "80 transfers, 40 at a time: 40 connections, got %ld", t.connects);
    curlloop_free(cl);
    for (int i = 0; i < 40; i++) curl_easy_cleanup(e[i]);
}

/* More transfers than one shard takes: they are spread over several multi handles, every one
 * completes, and the second batch still finds each handle's connection in its own shard's pool. */
Test(curlloop, many_transfers_are_sharded_and_each_shard_reuses_its_connections) {
    char err[256];
    tally_t t = {0};
    enum { N = 200 };
    CURL *e[N];
    curlloop_t *cl = curlloop_create(l, N, count_done, &t, err, sizeof(err));
    cr_assert_not_null(cl, "%s", err);
    cr_assert_eq(curlloop_shards(cl), 4, "200 transfers, 64 a shard: %u shards", curlloop_shards(cl));
    for (int batch = 0; batch < 2; batch++) {
        for (int i = 0; i < N; i++) {
            if (!batch) e[i] = easy_for((uint32_t)i, "", 5000);
            cr_assert_eq(curlloop_add(cl, e[i]), 0);
        }
        cr_assert_eq(curlloop_active(cl), N);
        cr_assert_eq(loop_run(l), 0);
        cr_assert_eq(curlloop_active(cl), 0);
    }
    cr_assert_eq(t.ok, 2 * N);
    cr_assert_eq(t.connects, N, "%d transfers, %d at a time: %d connections, got %ld", 2 * N, N, N, t.connects);
    cr_assert_null(curlloop_error(cl));
    curlloop_free(cl);
    for (int i = 0; i < N; i++) curl_easy_cleanup(e[i]);
}

static int64_t start_again(loop_t *lp, void *data) {
    cr_assert_eq(curlloop_add(removing, data), 0);
    return LOOP_TIMER_STOP;
}

/* A pooled connection's socket stays in epoll after its transfer (parked). Here the server closes
 * it while idle: the loop must not spin on it, and the next transfer must find the connection dead,
 * connect again (very likely on the same fd number) and be watched on the new socket. */
Test(curlloop, a_parked_connection_closed_by_the_server_is_replaced) {
    char err[256];
    server_config_t cfg;
    server_config_init(&cfg);
    cfg.graph = g;
    cfg.port = 0;
    cfg.threads = 1;
    cfg.idle_timeout_us = 100000;
    server_t *quick = server_start(&cfg, err);
    cr_assert_not_null(quick, "server_start: %s", err);
    char url[256];
    size_t len;
    const char *id = graph_id(g, 7, &len);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/%.*s", server_port(quick), (int)len, id);
    CURL *e = easy_for(7, "", 5000);
    curl_easy_setopt(e, CURLOPT_URL, url);
    tally_t t = {0};
    loop_timer_t later = {0};
    removing = curlloop_create(l, 1, count_done, &t, err, sizeof(err));
    cr_assert_eq(curlloop_add(removing, e), 0);
    cr_assert_eq(loop_run(l), 0);
    cr_assert_eq(t.ok, 1);
    loop_timer_start(l, &later, 500000, start_again, e); /* the server closes it within ~200 ms */
    cr_assert_eq(loop_run(l), 0);
    cr_assert_eq(t.done, 2);
    cr_assert_eq(t.ok, 2, "the second transfer failed");
    cr_assert_eq(t.connects, 2, "the dead connection was reused, or not replaced: %ld connects", t.connects);
    cr_assert_null(curlloop_error(removing), "%s", curlloop_error(removing));
    curlloop_free(removing);
    curl_easy_cleanup(e);
    server_stop(quick);
    server_wait(quick);
}

static CURL *removed;

static int64_t remove_it(loop_t *lp, void *data) {
    curlloop_remove(removing, removed);
    return LOOP_TIMER_STOP;
}

static int64_t stop_it(loop_t *lp, void *data) {
    loop_stop(lp);
    return LOOP_TIMER_STOP;
}

/* ---- a pooled connection reset by its peer ---- */

/* A one-connection HTTP server: answers one request with keep-alive, then, when told, resets the
 * connection (SO_LINGER 0) while the client holds it idle in its pool. */
typedef struct resetter {
    int lfd, tell[2];
} resetter_t;

static void *resetter_main(void *arg) {
    resetter_t *r = arg;
    char req[4096], go;
    size_t got = 0;
    int fd = accept(r->lfd, NULL, NULL);
    cr_assert_geq(fd, 0);
    while (got < sizeof(req) - 1 && !memmem(req, got, "\r\n\r\n", 4)) {
        ssize_t n = read(fd, req + got, sizeof(req) - 1 - got);
        cr_assert_gt(n, 0);
        got += (size_t)n;
    }
    const char *resp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    cr_assert_eq(write(fd, resp, strlen(resp)), (ssize_t)strlen(resp));
    cr_assert_eq(read(r->tell[0], &go, 1), 1);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd); /* RST */
    return NULL;
}

/* The reset makes the parked socket report an error and a hang-up, which epoll reports whatever
 * events are asked for. The adapter must take the socket out of epoll, not leave the loop spinning
 * on it until libcurl next looks at its pool. */
Test(curlloop, a_parked_connection_reset_by_the_peer_does_not_spin_the_loop) {
    char err[256], url[128];
    resetter_t r;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    pthread_t th;
    r.lfd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(bind(r.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(r.lfd, 1), 0);
    cr_assert_eq(getsockname(r.lfd, (struct sockaddr *)&a, &alen), 0);
    cr_assert_eq(pipe(r.tell), 0);
    cr_assert_eq(pthread_create(&th, NULL, resetter_main, &r), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/x", ntohs(a.sin_port));
    CURL *e = easy_for(0, "", 5000);
    curl_easy_setopt(e, CURLOPT_URL, url);
    tally_t t = {0};
    loop_timer_t later = {0};
    curlloop_t *cl = curlloop_create(l, 1, count_done, &t, err, sizeof(err));
    cr_assert_eq(curlloop_add(cl, e), 0);
    cr_assert_eq(loop_run(l), 0);
    cr_assert_eq(t.ok, 1);
    cr_assert_eq(write(r.tell[1], "x", 1), 1);
    cr_assert_eq(pthread_join(th, NULL), 0); /* the RST is on its way */
    uint64_t before = loop_iterations(l);
    loop_timer_start(l, &later, 300000, stop_it, NULL);
    cr_assert_eq(loop_run(l), 0);
    uint64_t spins = loop_iterations(l) - before;
    cr_assert_lt(spins, 50, "the loop polled %llu times in 300 ms with nothing to do",
                 (unsigned long long)spins);
    curlloop_free(cl);
    curl_easy_cleanup(e);
    close(r.lfd);
    close(r.tell[0]);
    close(r.tell[1]);
}

Test(curlloop, a_removed_transfer_never_calls_back) {
    char err[256];
    tally_t t = {0};
    loop_timer_t t1 = {0}, t2 = {0};
    removing = curlloop_create(l, 64, count_done, &t, err, sizeof(err));
    removed = easy_for(5, "?fault=hang", 5000);
    cr_assert_eq(curlloop_add(removing, removed), 0);
    loop_timer_start(l, &t1, 50000, remove_it, NULL);
    loop_timer_start(l, &t2, 200000, stop_it, NULL);
    cr_assert_eq(loop_run(l), 0);
    cr_assert_eq(t.done, 0);
    cr_assert_eq(curlloop_active(removing), 0);
    curlloop_free(removing);
    curl_easy_cleanup(removed);
}

/* ---- coroutines ---- */

static coro_sched_t *s;
static char trace[64];
static coro_queue_t q;

static void trace_add(char c) { trace[strlen(trace)] = c; }

static void waiter(void *arg) {
    trace_add(*(const char *)arg);
    cr_assert_eq(coro_wait(s, &q), 0);
    trace_add((char)(*(const char *)arg - 32)); /* upper case: woken */
}

static void signaller(void *arg) {
    trace_add('s');
    coro_signal(&q);
    cr_assert_eq(coro_sleep(s, 1000), 0);
    trace_add('b');
    coro_broadcast(&q);
}

static coro_sched_t *new_sched(size_t stack) {
    char err[256];
    coro_sched_t *sc = coro_sched_create(l, stack, err, sizeof(err));
    cr_assert_not_null(sc, "%s", err);
    return sc;
}

Test(coro, signal_wakes_the_longest_waiter_broadcast_wakes_the_rest) {
    s = new_sched(CORO_STACK_DEFAULT);
    cr_assert_not_null(coro_spawn(s, waiter, "x"));
    cr_assert_not_null(coro_spawn(s, waiter, "y"));
    cr_assert_not_null(coro_spawn(s, waiter, "z"));
    cr_assert_not_null(coro_spawn(s, signaller, NULL));
    cr_assert_eq(coro_alive(s), 4);
    cr_assert_eq(coro_run(s), 0);
    cr_assert_str_eq(trace, "xyzsXbYZ");
    cr_assert_eq(coro_alive(s), 0);
    coro_sched_free(s);
}

static coro_t *sleeper_co;
static int sleeper_rc[2], sleeper_errno;

static void sleeper(void *arg) {
    sleeper_co = coro_current(s);
    sleeper_rc[0] = coro_sleep(s, 10000000);
    sleeper_errno = errno;
    sleeper_rc[1] = coro_wait(s, &q); /* cancelled already: returns at once */
}

static void canceller(void *arg) {
    cr_assert_eq(coro_sleep(s, 1000), 0);
    coro_cancel(sleeper_co);
    cr_assert(coro_cancelled(sleeper_co));
}

Test(coro, cancel_undoes_a_sleep_and_fails_every_later_wait) {
    s = new_sched(CORO_STACK_DEFAULT);
    coro_spawn(s, sleeper, NULL);
    coro_spawn(s, canceller, NULL);
    uint64_t t0 = clock_now_us();
    cr_assert_eq(coro_run(s), 0);
    cr_assert_lt(clock_now_us() - t0, 1000000, "the 10 s sleep was not cut short");
    cr_assert_eq(sleeper_rc[0], -1);
    cr_assert_eq(sleeper_errno, ECANCELED);
    cr_assert_eq(sleeper_rc[1], -1);
    cr_assert_null(q.head, "the cancelled waiter is still queued");
    coro_sched_free(s); /* teardown checks that no timer is left */
}

static int parked_rc[2];

static void parked_without_undo(void *arg) {
    sleeper_co = coro_current(s);
    parked_rc[0] = coro_park(s, NULL, NULL);
    parked_rc[1] = coro_sleep(s, 10000000);
}

static void cancel_then_wake(void *arg) {
    coro_cancel(sleeper_co);
    coro_wake(sleeper_co);
}

Test(coro, a_wait_without_undo_is_not_a_cancellation_point) {
    s = new_sched(CORO_STACK_DEFAULT);
    coro_spawn(s, parked_without_undo, NULL);
    coro_spawn(s, cancel_then_wake, NULL);
    cr_assert_eq(coro_run(s), 0);
    cr_assert_eq(parked_rc[0], 0, "woken normally: its operation completed");
    cr_assert_eq(parked_rc[1], -1, "the next wait sees the cancellation");
    coro_sched_free(s);
}

/* ---- coroutines on curlloop: the green fetch, and cancelling it ---- */

typedef struct fetcher_co {
    curlloop_t *cl;
    CURL *easy;
    coro_t *co;
    CURLcode rc;
    fetch_result_t r;
    int pages, parked_rc;
} fetcher_co_t;

static void wake_fetcher(curlloop_t *cl, CURL *easy, CURLcode rc, void *data) {
    fetcher_co_t *f = data;
    f->rc = rc;
    coro_wake(f->co);
}

static void undo_transfer(void *arg) {
    fetcher_co_t *f = arg;
    curlloop_remove(f->cl, f->easy);
}

/* What green.c's workers do for each page, on a coroutine stack: set up, fetch, classify, parse. */
static void fetch_pages(void *arg) {
    fetcher_co_t *f = arg;
    fetch_opts_t o = {.base_url = base, .timeout_us = 5000000, .max_attempts = 1};
    f->co = coro_current(s);
    cr_assert_not_null(f->easy = fetch_easy_create(&o, &f->r, NULL));
    for (uint32_t p = 0; p < 20; p++) {
        size_t len;
        const char *id = graph_id(g, p, &len);
        page_links_t links;
        char why[128];
        cr_assert_eq(fetch_easy_url(f->easy, &o, id, len, &f->r), 0);
        cr_assert_eq(curlloop_add(f->cl, f->easy), 0);
        cr_assert_eq(coro_park(s, undo_transfer, f), 0);
        fetch_classify(f->easy, &o, f->rc, &f->r);
        cr_assert_eq(f->r.outcome, FETCH_OK, "%s", f->r.error);
        int rc = page_parse(f->r.body.data, f->r.body.len, id, len, &links, why, sizeof(why));
        cr_assert_eq(rc, 0, "%s", why);
        cr_assert_gt(links.n, 0);
        page_links_free(&links);
        f->pages++;
    }
}

Test(coro, a_coroutine_fetches_and_parses_pages_on_a_small_stack) {
    char err[256];
    fetcher_co_t f = {.easy = NULL};
    s = new_sched(CORO_STACK_DEFAULT);
    f.cl = curlloop_create(l, 1, wake_fetcher, &f, err, sizeof(err));
    coro_spawn(s, fetch_pages, &f);
    cr_assert_eq(coro_run(s), 0);
    cr_assert_eq(f.pages, 20);
    size_t peak = coro_stack_peak(s);
    cr_log_info("deepest stack use of a fetch-and-parse coroutine: %zu of %u bytes", peak,
                CORO_STACK_DEFAULT);
    cr_assert(peak > 0 && peak <= 16384, "stack peak %zu bytes: is 64 KiB still enough?", peak);
    curlloop_free(f.cl);
    curl_easy_cleanup(f.easy);
    buf_free(&f.r.body);
    coro_sched_free(s);
}

static void fetch_hung(void *arg) {
    fetcher_co_t *f = arg;
    f->co = sleeper_co = coro_current(s);
    cr_assert_eq(curlloop_add(f->cl, f->easy), 0);
    f->parked_rc = coro_park(s, undo_transfer, f);
}

Test(coro, cancelling_a_fetch_takes_it_off_the_multi) {
    char err[256];
    fetcher_co_t f = {.easy = easy_for(6, "?fault=hang", 5000), .parked_rc = 99};
    s = new_sched(CORO_STACK_DEFAULT);
    f.cl = curlloop_create(l, 1, wake_fetcher, &f, err, sizeof(err));
    coro_spawn(s, fetch_hung, &f);
    coro_spawn(s, canceller, NULL);
    cr_assert_eq(coro_run(s), 0);
    cr_assert_eq(f.parked_rc, -1);
    cr_assert_eq(curlloop_active(f.cl), 0);
    curlloop_free(f.cl);
    curl_easy_cleanup(f.easy);
    coro_sched_free(s);
}

/* ---- the guard page ---- */

static int recurse(int depth) {
    volatile char frame[512];
    frame[0] = (char)depth;
    return depth > 100000 ? frame[0] : recurse(depth + 1) + frame[0];
}

static void overflow(void *arg) { *(int *)arg = recurse(0); }

Test(coro, a_stack_overflow_faults_on_the_guard_page) {
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int sink = 0;
        signal(SIGSEGV, SIG_DFL); /* die of it, rather than have a sanitizer report it */
        if (!freopen("/dev/null", "w", stderr)) _exit(2);
        s = new_sched(16384);
        coro_spawn(s, overflow, &sink);
        coro_run(s);
        _exit(0); /* survived: no guard page */
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "child status %#x", status);
}
