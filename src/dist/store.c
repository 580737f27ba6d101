/* A crawl's state in Redis, and the scripts that are the only writers of it.
 *
 * Keys. Everything of crawl ID sits under crawlbench:{ID}: so that Redis Cluster hashes the whole
 * crawl to one slot (the braces are its hash tag) and every script may touch all of it atomically.
 * The meta hash says what the keys are (kind = crawlbench-crawl); keys without it are somebody
 * else's and are never written.
 *
 * Protocol. The frontier is a stream read through the consumer group "workers": XREADGROUP hands
 * an entry to one worker and keeps it in the group's pending list until it is acknowledged. A page
 * is acknowledged by the ack script, which in one atomic step adds its links to the visited set
 * (SADD answers whether each is new), appends the new ones to the stream, XACKs and XDELs the
 * entry (so the stream holds only pages not yet done), and moves the counters. A worker that dies
 * holding an entry loses nothing: the entry stays pending, its idle time grows, and after the
 * lease another worker's XAUTOCLAIM (the reclaim script) takes it over; a live worker renews its
 * leases (XCLAIM ... JUSTID, only on entries still its own) so a slow page is not stolen.
 *
 * The end. ctr.pending counts entries added and not yet acknowledged: the seed sets it to 1, each
 * ack adds (new links enqueued - 1). The ack that brings it to 0 is the last page of the crawl, and
 * because scripts run one at a time, exactly one ack sees the 0; it flips meta.state from running
 * to done and pushes onto the done list, once. A second ack of an entry already acknowledged (two
 * workers fetched it: the lease ran out, or a reply was lost and the script sent again) finds XACK
 * answering 0 and only counts a duplicate, so no counter moves twice. */
#include "dist/store.h"

#include "crawl/engine.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* KEYS: meta ctr seen stream workers done lat. ARGV: mode, start, then meta field/value pairs. */
static const char lua_create[] =
    "local t = redis.call('TYPE', KEYS[1])['ok']\n"
    "if t ~= 'none' then\n"
    "  if t ~= 'hash' or redis.call('HGET', KEYS[1], 'kind') ~= '" DIST__KIND "' then\n"
    "    return redis.error_reply('FOREIGN ' .. KEYS[1] .. ' exists and is not a crawlbench crawl')\n"
    "  end\n"
    "  if ARGV[1] == 'resume' then return 'resumed' end\n"
    "  if ARGV[1] ~= 'fresh' then return redis.error_reply('EXISTS') end\n"
    "  redis.call('DEL', unpack(KEYS))\n"
    "else\n"
    "  for i = 2, #KEYS do\n"
    "    if redis.call('EXISTS', KEYS[i]) == 1 then\n"
    "      return redis.error_reply('FOREIGN ' .. KEYS[i] .. ' exists but no crawl of this id does')\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local now = redis.call('TIME')\n"
    "redis.call('HSET', KEYS[1], 'kind', '" DIST__KIND "', 'version', '1', 'state', 'running',\n"
    "  'created_us', string.format('%.0f', now[1] * 1000000 + now[2]), unpack(ARGV, 3))\n"
    "redis.call('SADD', KEYS[3], ARGV[2])\n"
    "redis.call('XGROUP', 'CREATE', KEYS[4], '" DIST__GROUP "', '0', 'MKSTREAM')\n"
    "redis.call('XADD', KEYS[4], '*', 'id', ARGV[2])\n"
    "redis.call('HSET', KEYS[2], 'pending', 1, 'admitted', 1)\n"
    "return 'created'\n";

/* KEYS: meta ctr seen stream workers done lat. ARGV: 1 entry, 2 worker, 3 outcome (ok, failed,
 * invalid), 4 bytes, 5 latency key, 6 attempts, 7 commands, 8 invalid links, 9..17 the attempt
 * tallies, 18 round trips, 19.. links. Returns {acked (0: a duplicate), links enqueued, pending}. */
const char *const dist__lua_ack =
    "local c, w = KEYS[2], ARGV[2] .. '|'\n"
    "redis.call('HINCRBY', c, 'requests', ARGV[6])\n"
    "redis.call('HINCRBY', c, 'commands', ARGV[7])\n"
    "redis.call('HINCRBY', c, 'round_trips', ARGV[18])\n"
    "for i = 1, 9 do\n"
    "  if ARGV[8 + i] ~= '0' then redis.call('HINCRBY', c, 'tally' .. (i - 1), ARGV[8 + i]) end\n"
    "end\n"
    "if redis.call('XACK', KEYS[4], '" DIST__GROUP "', ARGV[1]) == 0 then\n"
    "  redis.call('HINCRBY', c, 'duplicates', 1)\n"
    "  redis.call('HINCRBY', KEYS[5], w .. 'duplicates', 1)\n"
    "  return {0, 0, tonumber(redis.call('HGET', c, 'pending'))}\n"
    "end\n"
    "redis.call('XDEL', KEYS[4], ARGV[1])\n"
    "if tonumber(ARGV[6]) > 1 then redis.call('HINCRBY', c, 'retries', ARGV[6] - 1) end\n"
    "if ARGV[8] ~= '0' then redis.call('HINCRBY', c, 'invalid_links', ARGV[8]) end\n"
    "redis.call('HINCRBY', KEYS[5], w .. ARGV[3], 1)\n"
    "if ARGV[3] == 'ok' then\n"
    "  redis.call('HINCRBY', c, 'pages', 1)\n"
    "  redis.call('HINCRBY', c, 'bytes', ARGV[4])\n"
    "  redis.call('HINCRBY', KEYS[7], ARGV[5], 1)\n"
    "else\n"
    "  redis.call('HINCRBY', c, 'failed', 1)\n"
    "  if ARGV[3] == 'invalid' then redis.call('HINCRBY', c, 'invalid_pages', 1) end\n"
    "end\n"
    "local max = tonumber(redis.call('HGET', KEYS[1], 'max_pages'))\n"
    "local admitted = tonumber(redis.call('HGET', c, 'admitted'))\n"
    "local added = 0\n"
    "for i = 19, #ARGV do\n"
    "  if redis.call('SADD', KEYS[3], ARGV[i]) == 1 and admitted + added < max then\n"
    "    redis.call('XADD', KEYS[4], '*', 'id', ARGV[i])\n"
    "    added = added + 1\n"
    "  end\n"
    "end\n"
    "if added > 0 then redis.call('HINCRBY', c, 'admitted', added) end\n"
    "local pending = redis.call('HINCRBY', c, 'pending', added - 1)\n"
    "if pending == 0 and redis.call('HGET', KEYS[1], 'state') == 'running' then\n"
    "  local now = redis.call('TIME')\n"
    "  redis.call('HSET', KEYS[1], 'state', 'done',\n"
    "    'finished_us', string.format('%.0f', now[1] * 1000000 + now[2]))\n"
    "  redis.call('LPUSH', KEYS[6], 'done')\n"
    "end\n"
    "return {1, added, pending}\n";

/* KEYS: stream ctr workers. ARGV: entry, page id, worker. Puts an unfinished page back as a new
 * entry (pending unchanged: one entry out, one in). Returns 1, or 0 when it was no longer ours. */
const char *const dist__lua_giveback =
    "if redis.call('XACK', KEYS[1], '" DIST__GROUP "', ARGV[1]) == 0 then return 0 end\n"
    "redis.call('XDEL', KEYS[1], ARGV[1])\n"
    "redis.call('XADD', KEYS[1], '*', 'id', ARGV[2])\n"
    "redis.call('HINCRBY', KEYS[2], 'returned', 1)\n"
    "redis.call('HINCRBY', KEYS[3], ARGV[3] .. '|returned', 1)\n"
    "return 1\n";

/* KEYS: stream. ARGV: worker, entries. Resets the idle time of those entries still pending for this
 * worker (an entry already reclaimed by another is left alone). Returns how many it renewed. */
const char *const dist__lua_renew =
    "local n = 0\n"
    "for i = 2, #ARGV do\n"
    "  local p = redis.call('XPENDING', KEYS[1], '" DIST__GROUP "', ARGV[i], ARGV[i], 1, ARGV[1])\n"
    "  if #p > 0 then\n"
    "    redis.call('XCLAIM', KEYS[1], '" DIST__GROUP "', ARGV[1], 0, ARGV[i], 'JUSTID')\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n";

/* KEYS: stream ctr workers. ARGV: worker, lease (ms), count, cursor. Takes over at most count
 * entries idle longer than the lease, scanning the pending list from cursor (XAUTOCLAIM looks at
 * count x 10 entries a call, so a full pass takes several calls: the caller keeps the cursor), and
 * counts them. Returns {next cursor, entries}. */
const char *const dist__lua_reclaim =
    "local r = redis.call('XAUTOCLAIM', KEYS[1], '" DIST__GROUP "', ARGV[1], ARGV[2], ARGV[4], 'COUNT', ARGV[3])\n"
    "if #r[2] > 0 then\n"
    "  redis.call('HINCRBY', KEYS[2], 'reclaimed', #r[2])\n"
    "  redis.call('HINCRBY', KEYS[3], ARGV[1] .. '|reclaimed', #r[2])\n"
    "end\n"
    "return {r[1], r[2]}\n";

int dist_id_valid(const char *id) {
    size_t n = strlen(id);
    if (n == 0 || n > DIST_ID_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!(id[i] == '.' || id[i] == '_' || id[i] == '-' || (id[i] >= '0' && id[i] <= '9') ||
              (id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z')))
            return 0;
    return 1;
}

void dist__keys(dist__keys_t *k, const char *id) {
    snprintf(k->meta, sizeof(k->meta), "crawlbench:{%s}:meta", id);
    snprintf(k->ctr, sizeof(k->ctr), "crawlbench:{%s}:ctr", id);
    snprintf(k->seen, sizeof(k->seen), "crawlbench:{%s}:seen", id);
    snprintf(k->stream, sizeof(k->stream), "crawlbench:{%s}:frontier", id);
    snprintf(k->workers, sizeof(k->workers), "crawlbench:{%s}:workers", id);
    snprintf(k->done, sizeof(k->done), "crawlbench:{%s}:done", id);
    snprintf(k->lat, sizeof(k->lat), "crawlbench:{%s}:latency", id);
    const char *a[DIST__NKEYS] = {k->meta, k->ctr, k->seen, k->stream, k->workers, k->done, k->lat};
    memcpy(k->argv, a, sizeof(a));
}

int dist__ack_build(dist__ack_t *a, rconn_script_t *script, const dist__keys_t *k, const char *worker,
                    const char *entry, const char *page, const fetch_result_t *r, uint64_t cmds, uint64_t trips,
                    char *err) {
    size_t len = strlen(page);
    *a = (dist__ack_t){.outcome = "failed", .call = {.script = script, .nkeys = DIST__NKEYS}};
    if (page[0] && r->outcome == FETCH_OK) {
        a->parsed = crawl_page_parse(r, page, len, &a->links) == 0;
        a->outcome = a->parsed ? "ok" : "invalid";
    }
    uint32_t nlinks = a->parsed ? a->links.n : 0;
    const char **argv = calloc(DIST__NKEYS + 18 + nlinks, sizeof(*argv) + sizeof(size_t));
    if (!argv) {
        dist__ack_free(a);
        return snprintf(err, RCONN_ERR_LEN, "out of memory"), -1;
    }
    size_t *lens = (size_t *)(argv + DIST__NKEYS + 18 + nlinks);
    uint64_t v[5] = {r->body.len, dist__lat_key(r->latency_us), r->attempts, cmds, a->parsed ? a->links.invalid : 0};
    int n = 0;
    for (int i = 0; i < DIST__NKEYS; i++) argv[n++] = k->argv[i];
    argv[n++] = entry, argv[n++] = worker, argv[n++] = a->outcome;
    for (int i = 0; i < 5; i++) snprintf(a->num[i], sizeof(a->num[i]), "%" PRIu64, v[i]), argv[n++] = a->num[i];
    for (int i = 0; i < FETCH_TALLIES; i++)
        snprintf(a->num[5 + i], sizeof(a->num[0]), "%" PRIu32, r->tally[i]), argv[n++] = a->num[5 + i];
    snprintf(a->num[14], sizeof(a->num[14]), "%" PRIu64, trips), argv[n++] = a->num[14];
    for (int i = 0; i < n; i++) lens[i] = strlen(argv[i]);
    for (uint32_t i = 0; i < nlinks; i++) argv[n] = a->links.ids[i], lens[n++] = a->links.lens[i];
    a->call.argv = argv, a->call.lens = lens, a->call.argc = n;
    return 0;
}

int dist__ack_reply(const redisReply *r) {
    return !(r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[0]->integer == 0);
}

void dist__ack_free(dist__ack_t *a) {
    free((void *)a->call.argv);
    a->call.argv = NULL;
    if (a->parsed) page_links_free(&a->links);
    a->parsed = 0;
}

int dist__read_entry(const redisReply *e, char *entry, char *page) {
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING ||
        e->element[0]->len >= 48)
        return -1;
    memcpy(entry, e->element[0]->str, e->element[0]->len + 1);
    const redisReply *f = e->element[1];
    page[0] = '\0';
    if (f->type == REDIS_REPLY_ARRAY && f->elements == 2 && f->element[1]->type == REDIS_REPLY_STRING &&
        page_id_valid(f->element[1]->str, f->element[1]->len))
        memcpy(page, f->element[1]->str, f->element[1]->len + 1);
    return 0;
}

int dist__join(rconn_t *c, const char *id, uint32_t concurrency, dist__keys_t *k, dist__meta_t *m, char name[128],
               char *err) {
    char host[64] = "localhost", n[16], field[160];
    gethostname(host, sizeof(host) - 1);
    snprintf(name, 128, "%s:%ld", host, (long)getpid());
    dist__keys(k, id);
    if (dist__read_meta(c, k, m, err) < 0) return -1;
    m->spec.start = m->start; /* the copy must point into itself */
    m->spec.fetch.base_url = m->base_url;
    snprintf(field, sizeof(field), "%s|threads", name);
    snprintf(n, sizeof(n), "%" PRIu32, concurrency);
    redisReply *r = rconn_cmd(c, err, 4, "HINCRBY", k->workers, field, n);
    if (!r) return -1;
    freeReplyObject(r);
    return 0;
}

uint64_t dist__lat_key(uint64_t us) {
    if (us < 128) return us;
    unsigned shift = 63u - (unsigned)__builtin_clzll(us) - 6u;
    return (us >> shift) << shift;
}

uint64_t dist_lease_ms(const fetch_opts_t *o) {
    uint64_t us = o->timeout_us * o->max_attempts, backoff = o->backoff_us;
    for (uint32_t a = 1; a < o->max_attempts; a++) {
        us += backoff < o->backoff_max_us ? backoff : o->backoff_max_us;
        backoff *= 2;
    }
    return us / 1000 + us / 4000 + 1000; /* a quarter more, and a second */
}

int dist_create(rconn_t *c, const dist_spec_t *s, dist_mode_t mode, char *err) {
    dist__keys_t k;
    char v[6][32];
    dist__keys(&k, s->id);
    snprintf(v[0], sizeof(v[0]), "%" PRIu64, s->max_pages);
    snprintf(v[1], sizeof(v[1]), "%" PRIu64, s->fetch.timeout_us);
    snprintf(v[2], sizeof(v[2]), "%" PRIu32, s->fetch.max_attempts);
    snprintf(v[3], sizeof(v[3]), "%" PRIu64, s->fetch.backoff_us);
    snprintf(v[4], sizeof(v[4]), "%" PRIu64, s->fetch.backoff_max_us);
    snprintf(v[5], sizeof(v[5]), "%" PRIu64, s->lease_ms ? s->lease_ms : dist_lease_ms(&s->fetch));
    const char *mode_s = mode == DIST_FRESH ? "fresh" : mode == DIST_RESUME ? "resume" : "new";
    const char *argv[] = {
        k.meta, k.ctr, k.seen, k.stream, k.workers, k.done, k.lat, mode_s, s->start,
        "start", s->start, "base_url", s->fetch.base_url, "max_pages", v[0], "timeout_us", v[1],
        "max_attempts", v[2], "backoff_us", v[3], "backoff_max_us", v[4], "lease_ms", v[5]};
    rconn_script_t script = {.src = lua_create};
    char why[RCONN_ERR_LEN];
    redisReply *r = rconn_eval(c, &script, DIST__NKEYS, (int)(sizeof(argv) / sizeof(argv[0])), argv, NULL, why);
    if (!r) {
        if (strstr(why, "EXISTS"))
            snprintf(err, DIST_ERR_LEN, "crawl '%s' already exists in Redis: --resume to go on with it, "
                     "--fresh to delete it and start again", s->id);
        else if (strstr(why, "FOREIGN"))
            snprintf(err, DIST_ERR_LEN, "%.200s: refusing to touch keys of another program",
                     strstr(why, "FOREIGN") + 8);
        else
            snprintf(err, DIST_ERR_LEN, "%s", why);
        return -1;
    }
    int resumed = (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) && !strcmp(r->str, "resumed");
    freeReplyObject(r);
    return resumed;
}

static uint64_t field_u64(const redisReply *r, const char *name) {
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
        if (!strcmp(r->element[i]->str, name)) return strtoull(r->element[i + 1]->str, NULL, 10);
    return 0;
}

static const char *field_str(const redisReply *r, const char *name) {
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
        if (!strcmp(r->element[i]->str, name)) return r->element[i + 1]->str;
    return "";
}

int dist__read_meta(rconn_t *c, const dist__keys_t *k, dist__meta_t *m, char *err) {
    redisReply *r = rconn_cmd(c, err, 2, "TYPE", k->meta);
    if (!r) return -1;
    int none = !strcmp(r->str, "none"), hash = !strcmp(r->str, "hash");
    freeReplyObject(r);
    if (none) return snprintf(err, DIST_ERR_LEN, "no crawl '%s' in Redis (%s does not exist)", k->meta, k->meta), -1;
    if (!hash || !(r = rconn_cmd(c, err, 2, "HGETALL", k->meta)) || strcmp(field_str(r, "kind"), DIST__KIND)) {
        if (r) freeReplyObject(r);
        return snprintf(err, DIST_ERR_LEN, "%s is not a crawlbench crawl: refusing to touch keys of another "
                        "program", k->meta), -1;
    }
    memset(m, 0, sizeof(*m));
    snprintf(m->state, sizeof(m->state), "%s", field_str(r, "state"));
    snprintf(m->start, sizeof(m->start), "%s", field_str(r, "start"));
    snprintf(m->base_url, sizeof(m->base_url), "%s", field_str(r, "base_url"));
    m->spec.start = m->start;
    m->spec.fetch.base_url = m->base_url;
    m->spec.max_pages = field_u64(r, "max_pages");
    m->spec.fetch.timeout_us = field_u64(r, "timeout_us");
    m->spec.fetch.max_attempts = (uint32_t)field_u64(r, "max_attempts");
    m->spec.fetch.backoff_us = field_u64(r, "backoff_us");
    m->spec.fetch.backoff_max_us = field_u64(r, "backoff_max_us");
    m->spec.lease_ms = field_u64(r, "lease_ms");
    m->created_us = field_u64(r, "created_us");
    m->finished_us = field_u64(r, "finished_us");
    freeReplyObject(r);
    if (!m->spec.fetch.max_attempts || !m->spec.lease_ms || !m->base_url[0])
        return snprintf(err, DIST_ERR_LEN, "%s lacks fields of a crawl: not one this version wrote", k->meta), -1;
    return 0;
}

int dist_wait(rconn_t *c, const char *id, atomic_int *stop, char *err) {
    dist__keys_t k;
    dist__meta_t m;
    dist__keys(&k, id);
    for (;;) {
        if (dist__read_meta(c, &k, &m, err) < 0) return -1;
        if (!strcmp(m.state, "done")) return 0;
        if (stop && atomic_load(stop)) return 1;
        /* Wakes at the end's push, or after 0.5 s to look at the flag and the state again. */
        redisReply *r = rconn_cmd(c, err, 3, "BLPOP", k.done, "0.5");
        if (!r) return -1;
        freeReplyObject(r);
    }
}
