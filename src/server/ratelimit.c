/* Token buckets per client address (see ratelimit.h). The table is open-addressed on a hash of the
 * address; an entry, once taken, keeps its address for the server's life (clients are few, and
 * never removing one keeps probing lock-free of other stripes). */
#include "server/ratelimit.h"

#include "base/rng.h"
#include "http/http.h"

#include <arpa/inet.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STRIPES 64 /* mutexes; entry i is guarded by stripe i % STRIPES */

typedef struct ratelimit_bucket {
    int used;
    struct sockaddr_storage addr; /* the client, port cleared */
    double tokens;
    uint64_t last_us;
    uint64_t allowed, limited;
} ratelimit_bucket_t;

struct ratelimit {
    double rate;
    uint32_t burst;
    pthread_mutex_t stripe[STRIPES];
    ratelimit_bucket_t buckets[RATELIMIT_CLIENTS + 1]; /* the last one: clients beyond the table */
};

int ratelimit_parse(const char *spec, size_t len, double *rate, uint32_t *burst, char *err, size_t errlen) {
    char buf[64], *end;
    if (len == 0 || len >= sizeof(buf)) goto bad;
    memcpy(buf, spec, len);
    buf[len] = '\0';
    if (buf[0] < '0' || buf[0] > '9') goto bad;
    *rate = strtod(buf, &end);
    if (strncmp(end, "/s", 2) != 0 || !(*rate > 0) || *rate > 1e7) goto bad;
    end += 2;
    *burst = *rate < 1 ? 1 : (uint32_t)ceil(*rate);
    if (*end == ',') {
        unsigned long b = strtoul(end + 1, &end, 10);
        if (b < 1 || b > 10000000 || end[-1] == ',') goto bad;
        *burst = (uint32_t)b;
    }
    if (*end) goto bad;
    return 0;
bad:
    snprintf(err, errlen, "bad rate limit '%.*s' (expected N/s or N/s,BURST, e.g. 50/s or 50/s,10)",
             (int)(len > 40 ? 40 : len), spec);
    return -1;
}

ratelimit_t *ratelimit_create(double rate, uint32_t burst) {
    ratelimit_t *rl = calloc(1, sizeof(*rl));
    if (!rl) return NULL;
    rl->rate = rate;
    rl->burst = burst;
    for (int i = 0; i < STRIPES; i++) pthread_mutex_init(&rl->stripe[i], NULL);
    return rl;
}

void ratelimit_free(ratelimit_t *rl) {
    if (!rl) return;
    for (int i = 0; i < STRIPES; i++) pthread_mutex_destroy(&rl->stripe[i]);
    free(rl);
}

/* The address alone (the port differs per connection), and a hash of it. */
static uint64_t client_key(const struct sockaddr_storage *in, struct sockaddr_storage *out) {
    memset(out, 0, sizeof(*out));
    out->ss_family = in->ss_family;
    if (in->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)in)->sin6_addr;
        ((struct sockaddr_in6 *)out)->sin6_addr = *a;
        uint64_t hi, lo;
        memcpy(&hi, a->s6_addr, 8);
        memcpy(&lo, a->s6_addr + 8, 8);
        return rng_hash3(hi, lo, 6);
    }
    ((struct sockaddr_in *)out)->sin_addr = ((const struct sockaddr_in *)in)->sin_addr;
    return rng_hash3(((const struct sockaddr_in *)in)->sin_addr.s_addr, 0, 4);
}

/* Refills b to now and takes a token; 0, or the microseconds until the next token. */
static uint64_t take(const ratelimit_t *rl, ratelimit_bucket_t *b, uint64_t now_us) {
    if (now_us > b->last_us) b->tokens += (double)(now_us - b->last_us) * rl->rate / 1e6;
    if (b->tokens > rl->burst) b->tokens = rl->burst;
    b->last_us = now_us > b->last_us ? now_us : b->last_us;
    if (b->tokens >= 1) {
        b->tokens -= 1;
        b->allowed++;
        return 0;
    }
    b->limited++;
    uint64_t wait = (uint64_t)ceil((1 - b->tokens) * 1e6 / rl->rate);
    return wait ? wait : 1;
}

uint64_t ratelimit_take(ratelimit_t *rl, const struct sockaddr_storage *addr, uint64_t now_us) {
    struct sockaddr_storage key;
    uint64_t h = client_key(addr, &key);
    for (uint32_t probe = 0; probe < RATELIMIT_CLIENTS; probe++) {
        uint32_t i = (uint32_t)((h + probe) % RATELIMIT_CLIENTS);
        pthread_mutex_t *m = &rl->stripe[i % STRIPES];
        pthread_mutex_lock(m);
        ratelimit_bucket_t *b = &rl->buckets[i];
        if (!b->used) { /* a new client starts with a full bucket */
            *b = (ratelimit_bucket_t){.used = 1, .addr = key, .tokens = rl->burst, .last_us = now_us};
        }
        if (!memcmp(&b->addr, &key, sizeof(key))) {
            uint64_t wait = take(rl, b, now_us);
            pthread_mutex_unlock(m);
            return wait;
        }
        pthread_mutex_unlock(m);
    }
    pthread_mutex_t *m = &rl->stripe[RATELIMIT_CLIENTS % STRIPES]; /* the overflow bucket */
    pthread_mutex_lock(m);
    ratelimit_bucket_t *b = &rl->buckets[RATELIMIT_CLIENTS];
    if (!b->used) *b = (ratelimit_bucket_t){.used = 1, .tokens = rl->burst, .last_us = now_us};
    uint64_t wait = take(rl, b, now_us);
    pthread_mutex_unlock(m);
    return wait;
}

void ratelimit_stats_json(ratelimit_t *rl, buf_t *body) {
    buf_printf(body, "{\"rate\":%.3f,\"burst\":%u,\"clients\":{", rl->rate, rl->burst);
    int first = 1;
    for (uint32_t i = 0; i <= RATELIMIT_CLIENTS; i++) {
        pthread_mutex_t *m = &rl->stripe[i % STRIPES];
        char name[INET6_ADDRSTRLEN] = "other";
        pthread_mutex_lock(m);
        ratelimit_bucket_t b = rl->buckets[i];
        pthread_mutex_unlock(m);
        if (!b.used) continue;
        if (i < RATELIMIT_CLIENTS) {
            const void *a = b.addr.ss_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)&b.addr)->sin6_addr
                                                         : (const void *)&((struct sockaddr_in *)&b.addr)->sin_addr;
            inet_ntop(b.addr.ss_family, a, name, sizeof(name));
        }
        buf_printf(body, "%s\"%s\":{\"allowed\":%llu,\"limited\":%llu}", first ? "" : ",", name,
                   (unsigned long long)b.allowed, (unsigned long long)b.limited);
        first = 0;
    }
    buf_puts(body, "}}");
}

void ratelimit_reset_counts(ratelimit_t *rl) {
    for (uint32_t i = 0; i <= RATELIMIT_CLIENTS; i++) {
        pthread_mutex_t *m = &rl->stripe[i % STRIPES];
        pthread_mutex_lock(m);
        rl->buckets[i].allowed = rl->buckets[i].limited = 0;
        pthread_mutex_unlock(m);
    }
}

void ratelimit_policy_line(const ratelimit_t *rl, char *buf, size_t cap) {
    uint64_t w = 1;
    while (w < 1000 && fabs(rl->rate * (double)w - round(rl->rate * (double)w)) > 1e-9) w *= 10;
    snprintf(buf, cap, HTTP_RATELIMIT_POLICY_HEADER ": %llu;w=%llu\r\n", (unsigned long long)llround(rl->rate * (double)w),
             (unsigned long long)w);
}
