/* What a distributed crawl looks like from outside: its status while it runs (`crawl --status`),
 * and its result when it is done, in the same table and JSON as every local model's
 * (crawl_print_table/json) plus the figures only a distributed crawl has. Read-only: nothing here
 * writes to Redis. */
#include "dist/store.h"


#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Everything the two reports read, in one place. */
typedef struct snapshot {
    dist__meta_t meta;
    redisReply *ctr, *workers, *pending, *lat;
    uint64_t discovered, queued, now_us;
} snapshot_t;

static uint64_t hget(const redisReply *r, const char *name) {
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
        if (!strcmp(r->element[i]->str, name)) return strtoull(r->element[i + 1]->str, NULL, 10);
    return 0;
}

static void snapshot_free(snapshot_t *s) {
    redisReply *r[] = {s->ctr, s->workers, s->pending, s->lat};
    for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
        if (r[i]) freeReplyObject(r[i]);
}

static int integer(rconn_t *c, char *err, uint64_t *out, const char *cmd, const char *key) {
    redisReply *r = rconn_cmd(c, err, 2, cmd, key);
    if (!r) return -1;
    *out = r->type == REDIS_REPLY_INTEGER ? (uint64_t)r->integer : 0;
    freeReplyObject(r);
    return 0;
}

static int snapshot_take(rconn_t *c, const char *id, snapshot_t *s, char *err) {
    dist__keys_t k;
    memset(s, 0, sizeof(*s));
    dist__keys(&k, id);
    if (dist__read_meta(c, &k, &s->meta, err) < 0) return -1;
    redisReply *t;
    if (!(s->ctr = rconn_cmd(c, err, 2, "HGETALL", k.ctr)) || !(s->workers = rconn_cmd(c, err, 2, "HGETALL", k.workers)) ||
        !(s->lat = rconn_cmd(c, err, 2, "HGETALL", k.lat)) ||
        !(s->pending = rconn_cmd(c, err, 3, "XPENDING", k.stream, DIST__GROUP)) ||
        integer(c, err, &s->discovered, "SCARD", k.seen) < 0 || integer(c, err, &s->queued, "XLEN", k.stream) < 0 ||
        !(t = rconn_cmd(c, err, 1, "TIME")))
        return snapshot_free(s), -1;
    if (t->type == REDIS_REPLY_ARRAY && t->elements == 2)
        s->now_us = strtoull(t->element[0]->str, NULL, 10) * 1000000 + strtoull(t->element[1]->str, NULL, 10);
    freeReplyObject(t);
    return 0;
}

static double elapsed_s(const snapshot_t *s) {
    uint64_t end = s->meta.finished_us ? s->meta.finished_us : s->now_us;
    return end > s->meta.created_us ? (double)(end - s->meta.created_us) / 1e6 : 0;
}

static uint64_t in_flight(const snapshot_t *s) {
    const redisReply *p = s->pending;
    return p && p->type == REDIS_REPLY_ARRAY && p->elements >= 1 ? (uint64_t)p->element[0]->integer : 0;
}

/* The workers hash as JSON: {"host:pid": {"threads": 4, "ok": 120, ...}, ...}; its fields are
 * "NAME|KEY". cJSON escapes what Redis holds, whoever wrote it. */
static cJSON *workers_json(const redisReply *w) {
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; w && i + 1 < w->elements; i += 2) {
        const char *f = w->element[i]->str, *bar = strrchr(f, '|');
        if (!bar) continue;
        char name[160];
        snprintf(name, sizeof(name), "%.*s", (int)(bar - f), f);
        cJSON *one = cJSON_GetObjectItemCaseSensitive(o, name);
        if (!one) cJSON_AddItemToObject(o, name, one = cJSON_CreateObject());
        cJSON_AddNumberToObject(one, bar + 1, strtod(w->element[i + 1]->str, NULL));
    }
    return o;
}

/* Pages in flight per worker, from XPENDING's summary: {"host:pid": 3, ...}. */
static cJSON *pending_json(const redisReply *p) {
    cJSON *o = cJSON_CreateObject();
    const redisReply *list = p && p->elements == 4 ? p->element[3] : NULL;
    for (size_t i = 0; list && list->type == REDIS_REPLY_ARRAY && i < list->elements; i++)
        cJSON_AddNumberToObject(o, list->element[i]->element[0]->str, strtod(list->element[i]->element[1]->str, NULL));
    return o;
}

static void num(cJSON *o, const char *key, double v) { cJSON_AddNumberToObject(o, key, v); }

/* Prints a JSON document on one line and frees it. */
static void print_json(FILE *f, cJSON *o) {
    char *text = cJSON_PrintUnformatted(o);
    fprintf(f, "%s\n", text ? text : "{}");
    cJSON_free(text);
    cJSON_Delete(o);
}

int dist_print_status(rconn_t *c, const char *id, int json, FILE *f, char *err) {
    snapshot_t s;
    if (snapshot_take(c, id, &s, err) < 0) return -1;
    uint64_t done = hget(s.ctr, "pages") + hget(s.ctr, "failed"), fl = in_flight(&s);
    double el = elapsed_s(&s), rate = el > 0 ? (double)done / el : 0;
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "crawl_id", id);
        cJSON_AddStringToObject(o, "state", s.meta.state);
        cJSON_AddStringToObject(o, "start", s.meta.start);
        cJSON_AddStringToObject(o, "server", s.meta.base_url);
        num(o, "pages", (double)hget(s.ctr, "pages")), num(o, "failed", (double)hget(s.ctr, "failed"));
        num(o, "discovered", (double)s.discovered), num(o, "in_flight", (double)fl);
        num(o, "waiting", (double)(s.queued > fl ? s.queued - fl : 0)), num(o, "pending", (double)hget(s.ctr, "pending"));
        num(o, "reclaimed", (double)hget(s.ctr, "reclaimed")), num(o, "duplicates", (double)hget(s.ctr, "duplicates"));
        num(o, "returned", (double)hget(s.ctr, "returned")), num(o, "requests", (double)hget(s.ctr, "requests"));
        num(o, "elapsed_s", el), num(o, "pages_per_s", rate), num(o, "lease_ms", (double)s.meta.spec.lease_ms);
        cJSON_AddItemToObject(o, "in_flight_per_worker", pending_json(s.pending));
        cJSON_AddItemToObject(o, "workers", workers_json(s.workers));
        print_json(f, o);
    }
    if (!json) {
        fprintf(f, "crawl        %s (%s), from %s on %s\n", id, s.meta.state, s.meta.start, s.meta.base_url);
        fprintf(f, "pages        %" PRIu64 " done (%" PRIu64 " failed), %" PRIu64 " in flight, %" PRIu64
                   " waiting, %" PRIu64 " discovered\n", done, hget(s.ctr, "failed"), fl,
                s.queued > fl ? s.queued - fl : 0, s.discovered);
        fprintf(f, "rate         %.1f pages/s over %.1f s\n", rate, el);
        fprintf(f, "recovery     %" PRIu64 " reclaimed after a %" PRIu64 " ms lease, %" PRIu64 " fetched twice, %"
                   PRIu64 " given back\n", hget(s.ctr, "reclaimed"), s.meta.spec.lease_ms,
                hget(s.ctr, "duplicates"), hget(s.ctr, "returned"));
        const redisReply *list = s.pending && s.pending->elements == 4 ? s.pending->element[3] : NULL;
        for (size_t i = 0; list && list->type == REDIS_REPLY_ARRAY && i < list->elements; i++)
            fprintf(f, "in flight    %s: %s\n", list->element[i]->element[0]->str, list->element[i]->element[1]->str);
    }
    snapshot_free(&s);
    return 0;
}

/* The crawl's figures as a local model's result (no visit order: Redis keeps the set, not the order). */
static void fill_result(const snapshot_t *s, crawl_result_t *r) {
    memset(r, 0, sizeof(*r));
    hist_init(&r->latency);
    snprintf(r->model, sizeof(r->model), "distributed");
    snprintf(r->start, sizeof(r->start), "%s", s->meta.start);
    for (size_t i = 0; s->workers && i + 1 < s->workers->elements; i += 2) {
        const char *bar = strrchr(s->workers->element[i]->str, '|');
        if (bar && !strcmp(bar, "|threads")) r->concurrency += (uint32_t)atoi(s->workers->element[i + 1]->str);
    }
    r->peak_in_flight = r->concurrency;
    r->concurrency = r->concurrency ? r->concurrency : 1;
    r->pages = hget(s->ctr, "pages"), r->failed = hget(s->ctr, "failed");
    r->requests = hget(s->ctr, "requests"), r->retries = hget(s->ctr, "retries");
    r->invalid_links = hget(s->ctr, "invalid_links"), r->invalid_pages = hget(s->ctr, "invalid_pages");
    r->bytes = hget(s->ctr, "bytes"), r->discovered = s->discovered;
    for (int t = 0; t < FETCH_TALLIES; t++) {
        char name[24];
        snprintf(name, sizeof(name), "tally%d", t);
        r->tally[t] = hget(s->ctr, name);
    }
    /* Each latency key stands for its pages: rebuilt value by value (one record per page). */
    for (size_t i = 0; s->lat && i + 1 < s->lat->elements; i += 2) {
        uint64_t v = strtoull(s->lat->element[i]->str, NULL, 10), n = strtoull(s->lat->element[i + 1]->str, NULL, 10);
        while (n--) hist_record(&r->latency, v);
    }
    r->elapsed_s = elapsed_s(s);
    r->pages_per_s = r->elapsed_s > 0 ? (double)r->pages / r->elapsed_s : 0;
    r->interrupted = strcmp(s->meta.state, "done") != 0; /* reported before its end */
}

int dist_print_result(rconn_t *c, const char *id, int json, FILE *f, char *err) {
    snapshot_t s;
    crawl_result_t r;
    if (snapshot_take(c, id, &s, err) < 0) return -1;
    fill_result(&s, &r);
    uint64_t cmds = hget(s.ctr, "commands"), trips = hget(s.ctr, "round_trips"), done = r.pages + r.failed;
    double per_page = done ? (double)trips / (double)done : 0; /* a pipeline is one round trip */
    if (json) { /* the local models' result, plus what only a distributed crawl has */
        char *text = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&text, &len);
        if (m) crawl_print_json(m, &r);
        cJSON *o = m && fclose(m) == 0 ? cJSON_ParseWithLength(text, len) : NULL;
        free(text);
        if (!o) {
            snprintf(err, DIST_ERR_LEN, "out of memory");
            snapshot_free(&s);
            return -1;
        }
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "crawl_id", id);
        num(d, "reclaimed", (double)hget(s.ctr, "reclaimed")), num(d, "duplicates", (double)hget(s.ctr, "duplicates"));
        num(d, "returned", (double)hget(s.ctr, "returned")), num(d, "lease_ms", (double)s.meta.spec.lease_ms);
        num(d, "redis_commands", (double)cmds), num(d, "redis_round_trips_per_page", per_page);
        cJSON_AddItemToObject(d, "workers", workers_json(s.workers));
        cJSON_AddItemToObject(o, "distributed", d);
        print_json(f, o);
    } else {
        crawl_print_table(f, &r);
        fprintf(f, "distributed  crawl %s: %" PRIu64 " reclaimed after a %" PRIu64 " ms lease, %" PRIu64
                   " fetched twice, %" PRIu64 " given back; %.2f Redis round trips a page\n",
                id, hget(s.ctr, "reclaimed"), s.meta.spec.lease_ms, hget(s.ctr, "duplicates"),
                hget(s.ctr, "returned"), per_page);
    }
    snapshot_free(&s);
    return 0;
}
