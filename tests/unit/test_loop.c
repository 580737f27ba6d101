/* The event loop: timer ordering and cancellation, repeating timers, fd readiness, cross-thread
 * wake-ups. Nothing here depends on how fast the machine is: orders and counts, never durations. */
#include "ev/loop.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct rec {
    loop_timer_t t;
    int id;
    uint64_t deadline;
    int *order;
    int *n;
    int total;
} rec_t;

static int64_t record(loop_t *l, void *data) {
    rec_t *r = data;
    r->order[(*r->n)++] = r->id;
    r->deadline = r->t.deadline_us;
    if (*r->n == r->total) loop_stop(l);
    return LOOP_TIMER_STOP;
}

static loop_t *new_loop(void) {
    char err[128];
    loop_t *l = loop_create(1024, err, sizeof(err));
    cr_assert_not_null(l, "loop_create: %s", err);
    return l;
}

Test(loop, zero_delay_timers_fire_in_start_order) {
    loop_t *l = new_loop();
    enum { N = 200 };
    static rec_t r[N];
    int order[N], n = 0;
    for (int i = 0; i < N; i++) {
        r[i] = (rec_t){.id = i, .order = order, .n = &n, .total = N};
        cr_assert_eq(loop_timer_start(l, &r[i].t, 0, record, &r[i]), 0);
    }
    cr_assert_eq(loop_timer_count(l), N);
    loop_run(l);
    cr_assert_eq(n, N);
    for (int i = 0; i < N; i++) cr_assert_eq(order[i], i, "position %d fired timer %d", i, order[i]);
    cr_assert_eq(loop_timer_count(l), 0);
    loop_free(l);
}

Test(loop, random_delays_fire_by_deadline_and_stopped_ones_never) {
    loop_t *l = new_loop();
    enum { N = 500 };
    static rec_t r[N];
    int order[N], n = 0, live = 0;
    srand(7);
    for (int i = 0; i < N; i++) {
        r[i] = (rec_t){.id = i, .order = order, .n = &n};
        loop_timer_start(l, &r[i].t, (uint64_t)(rand() % 3000), record, &r[i]);
    }
    for (int i = 0; i < N; i += 3) loop_timer_stop(l, &r[i].t); /* every third is cancelled */
    for (int i = 0; i < N; i++) live += i % 3 != 0;
    for (int i = 0; i < N; i++) r[i].total = live;
    cr_assert_eq(loop_timer_count(l), (size_t)live);
    loop_run(l);
    cr_assert_eq(n, live);
    for (int i = 0; i < n; i++) cr_assert_neq(order[i] % 3, 0, "cancelled timer %d fired", order[i]);
    for (int i = 1; i < n; i++)
        cr_assert_leq(r[order[i - 1]].deadline, r[order[i]].deadline, "timer %d fired before %d out of order",
                      order[i - 1], order[i]);
    loop_free(l);
}

static int64_t repeat_three_times(loop_t *l, void *data) {
    int *count = data;
    if (++*count == 3) {
        loop_stop(l);
        return LOOP_TIMER_STOP;
    }
    return 100; /* again in 100 us */
}

Test(loop, repeating_timer_runs_until_it_says_stop) {
    loop_t *l = new_loop();
    loop_timer_t t = {0};
    int count = 0;
    loop_timer_start(l, &t, 0, repeat_three_times, &count);
    loop_run(l);
    cr_assert_eq(count, 3);
    cr_assert_not(loop_timer_active(&t));
    loop_free(l);
}

static void on_readable(loop_t *l, int fd, void *data, int mask) {
    char buf[16];
    int *got = data;
    cr_assert(mask & LOOP_READABLE);
    *got += (int)read(fd, buf, sizeof(buf));
    loop_stop(l);
}

Test(loop, fd_callback_reports_readable) {
    loop_t *l = new_loop();
    int p[2], got = 0;
    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(loop_add_fd(l, p[0], LOOP_READABLE, on_readable, &got), 0);
    cr_assert_eq(write(p[1], "hello", 5), 5);
    loop_run(l);
    cr_assert_eq(got, 5);
    loop_del_fd(l, p[0]);
    close(p[0]);
    close(p[1]);
    loop_free(l);
}

Test(loop, add_fd_beyond_setsize_fails) {
    char err[128];
    loop_t *l = loop_create(8, err, sizeof(err));
    int p[2];
    cr_assert_eq(pipe(p), 0);
    int big = dup2(p[0], 100);
    cr_assert_eq(big, 100);
    cr_assert_eq(loop_add_fd(l, big, LOOP_READABLE, on_readable, NULL), -1);
    close(big);
    close(p[0]);
    close(p[1]);
    loop_free(l);
}

static void on_wake_stop(loop_t *l, void *data) {
    int *woken = data;
    (*woken)++;
    loop_stop(l);
}

static void *waker(void *arg) {
    loop_wake(arg);
    return NULL;
}

Test(loop, wake_from_another_thread) {
    loop_t *l = new_loop();
    int woken = 0;
    pthread_t th;
    loop_set_wake(l, on_wake_stop, &woken);
    cr_assert_eq(pthread_create(&th, NULL, waker, l), 0);
    loop_run(l); /* returns only once the wake-up arrived */
    pthread_join(th, NULL);
    cr_assert_eq(woken, 1);
    loop_free(l);
}
