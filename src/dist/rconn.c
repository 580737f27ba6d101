/* A Redis connection over hiredis 0.14's blocking API: URL parsing, connect/AUTH/SELECT, commands
 * that survive a Redis restart (reconnect with backoff, then send again), and EVALSHA with the
 * NOSCRIPT fallback. The crawl's commands are written so that sending one twice is harmless. */
#include "dist/rconn.h"

#include "base/clock.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CMD_TIMEOUT_S 10 /* a reply takes longer only if Redis hangs; then we reconnect */
#define ARGS_MAX 64

struct rconn {
    redisContext *ctx;
    rconn_url_t url;
    uint64_t retry_us;
    uint64_t commands, round_trips, reconnects;
};

/* ---- URL ---- */

static int copy_part(char *dst, size_t cap, const char *s, size_t n) {
    if (n >= cap) return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

/* Parses "[[USER]:PASS@]" at the start of s[0..n); returns the bytes it used, or -1. */
static long parse_auth(const char *s, size_t n, rconn_url_t *u) {
    const char *at = memrchr(s, '@', n);
    if (!at) return 0;
    const char *colon = memchr(s, ':', (size_t)(at - s));
    if (!colon) return -1; /* redis://user@host names no password: refuse rather than guess */
    if (copy_part(u->user, sizeof(u->user), s, (size_t)(colon - s)) < 0 ||
        copy_part(u->pass, sizeof(u->pass), colon + 1, (size_t)(at - colon - 1)) < 0)
        return -1;
    return at + 1 - s;
}

static int parse_number(const char *s, size_t n, long max, int *out) {
    long v = 0;
    if (n == 0 || n > 6) return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max) return -1;
    *out = (int)v;
    return 0;
}

static int parse_host(const char *s, size_t n, rconn_url_t *u) {
    const char *port = NULL;
    size_t hlen = n;
    if (n && s[0] == '[') { /* [IPv6]:port */
        const char *close = memchr(s, ']', n);
        if (!close) return -1;
        if (copy_part(u->host, sizeof(u->host), s + 1, (size_t)(close - s - 1)) < 0) return -1;
        if (close + 1 < s + n && close[1] != ':') return -1;
        port = close + 1 < s + n ? close + 2 : NULL;
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon) hlen = (size_t)(colon - s), port = colon + 1;
        if (copy_part(u->host, sizeof(u->host), s, hlen) < 0) return -1;
    }
    if (!u->host[0]) return -1;
    for (const char *h = u->host; *h; h++)
        if (!(*h == '.' || *h == '-' || *h == ':' || *h == '_' || (*h >= '0' && *h <= '9') ||
              (*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z')))
            return -1;
    if (port && (parse_number(port, (size_t)(s + n - port), 65535, &u->port) < 0 || u->port == 0)) return -1;
    return 0;
}

int rconn_url_parse(const char *s, size_t len, rconn_url_t *u, char *err, size_t errlen) {
    memset(u, 0, sizeof(*u));
    u->port = 6379;
    if (len < 8 || memcmp(s, "redis://", 8) != 0) goto bad;
    for (size_t i = 0; i < len; i++) /* visible ASCII only: no NUL to cut a field short, no spaces */
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f) goto bad;
    s += 8, len -= 8;
    const char *slash = memchr(s, '/', len);
    size_t hostpart = slash ? (size_t)(slash - s) : len;
    long used = parse_auth(s, hostpart, u);
    if (used < 0 || parse_host(s + used, hostpart - (size_t)used, u) < 0) goto bad;
    if (slash && slash + 1 < s + len && parse_number(slash + 1, (size_t)(s + len - slash - 1), 15, &u->db) < 0)
        goto bad;
    return 0;
bad:
    snprintf(err, errlen, "'%.*s' is not a Redis URL like redis://[:PASSWORD@]HOST[:PORT][/DB]",
             (int)(len > 100 ? 100 : len), s);
    return -1;
}

/* ---- connecting ---- */

static void sleep_us(uint64_t us) {
    struct timespec ts = {.tv_sec = (time_t)(us / 1000000), .tv_nsec = (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

/* AUTH and SELECT on a fresh context; a PING first when there is no password, so that a server
 * that wants one says so now rather than at the first real command. */
static int handshake(redisContext *ctx, const rconn_url_t *u, char *err, size_t errlen) {
    redisReply *r;
    if (u->pass[0] && u->user[0]) r = redisCommand(ctx, "AUTH %s %s", u->user, u->pass);
    else if (u->pass[0]) r = redisCommand(ctx, "AUTH %s", u->pass);
    else r = redisCommand(ctx, "PING");
    if (!r) return snprintf(err, errlen, "redis %.100s:%d: %.120s", u->host, u->port, ctx->errstr), -1;
    int bad = r->type == REDIS_REPLY_ERROR;
    if (bad && strstr(r->str, "NOAUTH"))
        snprintf(err, errlen, "redis %.100s:%d wants a password: give it in the URL, redis://:PASSWORD@HOST:PORT",
                 u->host, u->port);
    else if (bad)
        snprintf(err, errlen, "redis %.100s:%d refused the login: %.120s", u->host, u->port, r->str);
    freeReplyObject(r);
    if (bad) return -1;
    if (u->db == 0) return 0;
    if (!(r = redisCommand(ctx, "SELECT %d", u->db)))
        return snprintf(err, errlen, "redis %.100s:%d: %.120s", u->host, u->port, ctx->errstr), -1;
    bad = r->type == REDIS_REPLY_ERROR;
    if (bad) snprintf(err, errlen, "redis %.100s:%d: SELECT %d: %.100s", u->host, u->port, u->db, r->str);
    freeReplyObject(r);
    return bad ? -1 : 0;
}

/* One connection attempt. Returns the context, or NULL with err; *retry says whether trying again
 * later may help (refused or dropped), as opposed to a login that will fail again. */
static redisContext *connect_once(const rconn_url_t *u, char *err, size_t errlen, int *retry) {
    struct timeval tv = {.tv_sec = 2};
    redisContext *ctx = redisConnectWithTimeout(u->host, u->port, tv);
    *retry = 1;
    if (!ctx) return snprintf(err, errlen, "redis %.100s:%d: out of memory", u->host, u->port), NULL;
    if (ctx->err) {
        snprintf(err, errlen, "cannot reach redis at %.100s:%d: %.120s", u->host, u->port, ctx->errstr);
        goto fail;
    }
    tv.tv_sec = CMD_TIMEOUT_S;
    if (redisSetTimeout(ctx, tv) != REDIS_OK) {
        snprintf(err, errlen, "redis %.100s:%d: cannot set a timeout", u->host, u->port);
        goto fail;
    }
    if (handshake(ctx, u, err, errlen) < 0) {
        *retry = ctx->err != 0 || strstr(err, "LOADING") != NULL; /* a reply error will not change */
        goto fail;
    }
    return ctx;
fail:
    redisFree(ctx);
    return NULL;
}

/* Connects, retrying with doubling delays (10 ms to 1 s) for up to retry_us. */
static redisContext *connect_retrying(const rconn_url_t *u, uint64_t retry_us, char *err, size_t errlen) {
    uint64_t deadline = clock_now_us() + retry_us, delay = 10000;
    for (;;) {
        int retry;
        redisContext *ctx = connect_once(u, err, errlen, &retry);
        if (ctx || !retry || clock_now_us() + delay > deadline) return ctx;
        sleep_us(delay);
        delay = delay * 2 > 1000000 ? 1000000 : delay * 2;
    }
}

rconn_t *rconn_open(const rconn_url_t *u, uint64_t retry_us, char *err, size_t errlen) {
    rconn_t *c = calloc(1, sizeof(*c));
    if (!c) return snprintf(err, errlen, "out of memory"), NULL;
    c->url = *u;
    c->retry_us = retry_us;
    if (!(c->ctx = connect_retrying(u, 0, err, errlen))) { /* a first failure is reported at once */
        free(c);
        return NULL;
    }
    return c;
}

void rconn_close(rconn_t *c) {
    if (!c) return;
    if (c->ctx) redisFree(c->ctx);
    free(c);
}

uint64_t rconn_commands(const rconn_t *c) { return c->commands; }
uint64_t rconn_round_trips(const rconn_t *c) { return c->round_trips; }
uint64_t rconn_reconnects(const rconn_t *c) { return c->reconnects; }

/* ---- commands ---- */

/* Sends once; on a dropped link reconnects and sends once more. Error replies stay replies. */
static redisReply *send_raw(rconn_t *c, int argc, const char **argv, const size_t *lens, char *err) {
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!c->ctx && !(c->ctx = connect_retrying(&c->url, c->retry_us, err, RCONN_ERR_LEN))) return NULL;
        c->commands++, c->round_trips++;
        redisReply *r = redisCommandArgv(c->ctx, argc, argv, lens);
        if (r) return r;
        snprintf(err, RCONN_ERR_LEN, "redis %.100s:%d: %.120s", c->url.host, c->url.port, c->ctx->errstr);
        redisFree(c->ctx);
        c->ctx = NULL;
        c->reconnects++;
    }
    return NULL;
}

/* Turns an error reply into NULL with its text in err. */
static redisReply *check(redisReply *r, const char *what, char *err) {
    if (!r || r->type != REDIS_REPLY_ERROR) return r;
    snprintf(err, RCONN_ERR_LEN, "redis %s: %.200s", what, r->str);
    freeReplyObject(r);
    return NULL;
}

redisReply *rconn_argv(rconn_t *c, int argc, const char **argv, const size_t *lens, char *err) {
    return check(send_raw(c, argc, argv, lens, err), argv[0], err);
}

redisReply *rconn_cmd(rconn_t *c, char *err, int argc, ...) {
    const char *argv[ARGS_MAX];
    size_t lens[ARGS_MAX];
    va_list ap;
    if (argc > ARGS_MAX) return snprintf(err, RCONN_ERR_LEN, "too many arguments"), NULL;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++) {
        argv[i] = va_arg(ap, const char *);
        lens[i] = strlen(argv[i]);
    }
    va_end(ap);
    return rconn_argv(c, argc, argv, lens, err);
}

int rconn_script_load(rconn_t *c, rconn_script_t *s, char *err) {
    redisReply *r = rconn_cmd(c, err, 3, "SCRIPT", "LOAD", s->src);
    if (!r) return -1;
    int ok = r->type == REDIS_REPLY_STRING && r->len == 40;
    if (ok) memcpy(s->sha, r->str, 41);
    else snprintf(err, RCONN_ERR_LEN, "redis SCRIPT LOAD: unexpected reply");
    freeReplyObject(r);
    return ok ? 0 : -1;
}

const char **rconn_call_argv(const rconn_call_t *k, int *argc, size_t **al, char nk[16]) {
    int h = k->script ? 3 : 0;
    const char **av = malloc(((size_t)k->argc + 3) * (sizeof(*av) + sizeof(**al)));
    if (!av) return NULL;
    *al = (size_t *)(av + k->argc + 3);
    *argc = k->argc + h;
    if (k->script) {
        snprintf(nk, 16, "%d", k->nkeys);
        av[0] = "EVALSHA", av[1] = k->script->sha, av[2] = nk;
        (*al)[0] = 7, (*al)[1] = 40, (*al)[2] = strlen(nk);
    }
    for (int i = 0; i < k->argc; i++) av[i + h] = k->argv[i], (*al)[i + h] = k->lens ? k->lens[i] : strlen(k->argv[i]);
    return av;
}

static int is_noscript(const redisReply *r) {
    return r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

redisReply *rconn_eval(rconn_t *c, rconn_script_t *s, int nkeys, int argc, const char **argv, const size_t *lens,
                       char *err) {
    size_t *al;
    char nk[16];
    int ac;
    rconn_call_t k = {.script = s, .nkeys = nkeys, .argc = argc, .argv = argv, .lens = lens};
    const char **av = rconn_call_argv(&k, &ac, &al, nk);
    redisReply *r = NULL;
    if (!av) return snprintf(err, RCONN_ERR_LEN, "out of memory"), NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!s->sha[0] && rconn_script_load(c, s, err) < 0) goto done;
        r = send_raw(c, ac, av, al, err);
        if (!is_noscript(r)) break;
        freeReplyObject(r); /* Redis restarted (or SCRIPT FLUSH): load it again */
        r = NULL;
        s->sha[0] = '\0';
        snprintf(err, RCONN_ERR_LEN, "redis: the script is not accepted after loading it");
    }
    r = check(r, "script", err);
done:
    free(av);
    return r;
}

/* ---- pipelines ---- */

static void free_replies(int n, redisReply **rep) {
    for (int i = 0; i < n; i++) {
        if (rep[i]) freeReplyObject(rep[i]);
        rep[i] = NULL;
    }
}

/* Writes the n commands in one go and reads the n replies: one round trip. 0, or -1 (link lost). */
static int pipe_once(rconn_t *c, int n, const char ***av, size_t **al, const int *ac, redisReply **rep, char *err) {
    for (int i = 0; i < n; i++)
        if (redisAppendCommandArgv(c->ctx, ac[i], av[i], al[i]) != REDIS_OK) goto lost;
    c->commands += (uint64_t)n, c->round_trips++;
    for (int i = 0; i < n; i++)
        if (redisGetReply(c->ctx, (void **)&rep[i]) != REDIS_OK) goto lost;
    return 0;
lost:
    snprintf(err, RCONN_ERR_LEN, "redis %.100s:%d: %.120s", c->url.host, c->url.port, c->ctx->errstr);
    free_replies(n, rep);
    redisFree(c->ctx);
    c->ctx = NULL;
    c->reconnects++;
    return -1;
}

/* Sends once; on a dropped link reconnects and sends the whole batch once more (like send_raw). */
static int pipe_raw(rconn_t *c, int n, const char ***av, size_t **al, const int *ac, redisReply **rep, char *err) {
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!c->ctx && !(c->ctx = connect_retrying(&c->url, c->retry_us, err, RCONN_ERR_LEN))) return -1;
        if (pipe_once(c, n, av, al, ac, rep, err) == 0) return 0;
    }
    return -1;
}

int rconn_pipe(rconn_t *c, int n, const rconn_call_t *calls, redisReply **rep, char *err) {
    const char **av[RCONN_PIPE_MAX] = {0};
    size_t *al[RCONN_PIPE_MAX];
    int ac[RCONN_PIPE_MAX], rc = -1;
    char nk[RCONN_PIPE_MAX][16];
    memset(rep, 0, (size_t)n * sizeof(*rep));
    if (n > RCONN_PIPE_MAX) return snprintf(err, RCONN_ERR_LEN, "too many commands in one pipeline"), -1;
    for (int i = 0; i < n; i++) {
        const rconn_call_t *k = &calls[i];
        if (k->script && !k->script->sha[0] && rconn_script_load(c, k->script, err) < 0) goto done;
        if (!(av[i] = rconn_call_argv(k, &ac[i], &al[i], nk[i]))) goto oom;
    }
    if (pipe_raw(c, n, av, al, ac, rep, err) < 0) goto done;
    rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        if (is_noscript(rep[i])) { /* Redis restarted between the load and now: once more, alone */
            freeReplyObject(rep[i]);
            calls[i].script->sha[0] = '\0';
            rep[i] = rconn_eval(c, calls[i].script, calls[i].nkeys, calls[i].argc, calls[i].argv, calls[i].lens, err);
            if (!rep[i]) rc = -1;
        } else if (!(rep[i] = check(rep[i], calls[i].script ? "script" : calls[i].argv[0], err))) {
            rc = -1;
        }
    }
    if (rc < 0) free_replies(n, rep);
    goto done;
oom:
    snprintf(err, RCONN_ERR_LEN, "out of memory");
done:
    for (int i = 0; i < n; i++)
        free(av[i]);
    return rc;
}
