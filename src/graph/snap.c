/* Loading real web graphs in the SNAP edge-list format (web-Google, web-Stanford, web-BerkStan from
 * snap.stanford.edu), plain or gzip-compressed.
 *
 * The format: '#' lines are comments, every other non-blank line is "FromNodeId<TAB>ToNodeId". We
 * accept any run of spaces and tabs around and between the two ids, a trailing \r, and blank lines;
 * anything else is an error for the whole file, reported as "name:LINE: what". Node ids are decimal
 * integers from 0 to 2^63-1 without a sign; leading zeros are allowed and "007" is node 7. Ids are
 * sparse in the published files, so they are renumbered densely in order of first appearance (a
 * uint64 -> index hash map), and each page is served under its id as a canonical decimal string.
 *
 * Links are grouped by source with a stable counting sort, so a page keeps its links in file order.
 * Self-loops are dropped and a repeated link is kept once: a server must not list the same link
 * twice, and a crawler would never fetch a page from itself. A node seen only in self-loops is still
 * a page, with no links. A file with no links left is an error ("no edges").
 *
 * Bounds: the text (after decompression) may be at most 4 GiB, which caps the id blob and the edge
 * count; gzip input is inflated in memory with the same cap, so a small file cannot expand without
 * limit. At most UINT32_MAX - 1 distinct nodes. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/rng.h"
#include "graph/graph.h"

#define SNAP_MAX_TEXT (4ULL << 30) /* bytes of (decompressed) text */
#define SNAP_NODE_MAX UINT32_MAX    /* exclusive; UINT32_MAX is the map's empty slot */
#define SNAP_ID_MAX 9223372036854775807ULL

typedef struct snap_pair {
    uint32_t from, to;
} snap_pair_t;

/* A map slot holds the key itself, not just its index, so a lookup touches one cache line instead of
 * two: loading a web-Google-sized file is bound by these misses. */
typedef struct snap_slot {
    uint64_t key;
    uint32_t index; /* UINT32_MAX: empty */
} snap_slot_t;

/* Parser state: the node map (keys[] in first-appearance order, slots[] by hash) and the links as
 * (from, to) pairs in file order. */
typedef struct snap {
    uint64_t *keys;
    uint32_t nodes, keys_cap;
    snap_slot_t *slots;
    size_t slots_mask;
    snap_pair_t *pairs;
    uint64_t npairs, pairs_cap;
    /* The published files are sorted by source, so most lines repeat the previous line's source:
     * remembering it halves the map lookups. */
    uint64_t last_key;
    int64_t last_index; /* -1 before the first line */
} snap_t;

static void snap_release(snap_t *s) {
    free(s->keys);
    free(s->slots);
    free(s->pairs);
    *s = (snap_t){.last_index = -1};
}

/* Grows *p (*cap elements of size bytes) to at least need elements and at most max: double the old
 * capacity, or exactly need when that is more (so a first call can size a buffer exactly). */
static int grow(void **p, uint64_t *cap, uint64_t need, size_t size, uint64_t max) {
    if (need <= *cap) return 0;
    uint64_t n = *cap ? *cap * 2 : 1024;
    if (n < need) n = need;
    if (n > max) n = max;
    if (n < need || n > SIZE_MAX / size) return -1;
    void *q = realloc(*p, n * size);
    if (!q) return -1;
    *p = q;
    *cap = n;
    return 0;
}

/* Doubles the map's slot table and re-inserts every key; keeps load <= 0.5. */
static int map_rehash(snap_t *s) {
    size_t n = s->slots ? (s->slots_mask + 1) * 2 : 1024;
    snap_slot_t *slots = malloc(n * sizeof(snap_slot_t));
    if (!slots) return -1;
    for (size_t i = 0; i < n; i++) slots[i].index = UINT32_MAX;
    for (uint32_t k = 0; k < s->nodes; k++) {
        size_t i = rng_mix64(s->keys[k]) & (n - 1);
        while (slots[i].index != UINT32_MAX) i = (i + 1) & (n - 1);
        slots[i] = (snap_slot_t){s->keys[k], k};
    }
    free(s->slots);
    s->slots = slots;
    s->slots_mask = n - 1;
    return 0;
}

/* The dense index of node id key, adding it if new. -1 out of memory, -2 too many nodes. */
static int64_t map_index(snap_t *s, uint64_t key) {
    if (!s->slots && map_rehash(s) < 0) return -1;
    size_t i = rng_mix64(key) & s->slots_mask;
    for (; s->slots[i].index != UINT32_MAX; i = (i + 1) & s->slots_mask)
        if (s->slots[i].key == key) return s->slots[i].index;
    if (s->nodes == SNAP_NODE_MAX - 1) return -2;
    uint64_t cap = s->keys_cap;
    if (grow((void **)&s->keys, &cap, (uint64_t)s->nodes + 1, sizeof(uint64_t), SNAP_NODE_MAX) < 0)
        return -1;
    s->keys_cap = (uint32_t)cap;
    s->keys[s->nodes] = key;
    s->slots[i] = (snap_slot_t){key, s->nodes};
    uint32_t v = s->nodes++;
    if (2 * (size_t)s->nodes > s->slots_mask + 1 && map_rehash(s) < 0) {
        s->nodes--; /* the old table is still in place: take the key back out */
        s->slots[i].index = UINT32_MAX;
        return -1;
    }
    return v;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* Parses a node id at *p: digits only, at most 2^63-1. NULL on success, else the error. */
static const char *parse_id(const char **p, const char *end, uint64_t *out) {
    const char *q = *p;
    uint64_t v = 0;
    if (q == end) return "expected two node ids";
    if (*q < '0' || *q > '9') return "node id must be decimal digits";
    for (; q < end && *q >= '0' && *q <= '9'; q++) {
        unsigned d = (unsigned)(*q - '0');
        if (v > (SNAP_ID_MAX - d) / 10) return "node id exceeds 2^63-1";
        v = v * 10 + d;
    }
    if (q < end && !is_blank(*q)) return "node id must be decimal digits";
    *p = q;
    *out = v;
    return NULL;
}

/* One line without its newline and trailing \r. Returns NULL when fine, else the error message (which
 * for running out of memory or node ids is about the load, but still names the line it stopped at). */
static const char *parse_line(snap_t *s, const char *p, const char *end) {
    uint64_t ids[2];
    int64_t idx[2] = {-1, -1};
    const char *e;
    while (p < end && is_blank(*p)) p++;
    if (p == end || *p == '#') return NULL;
    if ((e = parse_id(&p, end, &ids[0]))) return e;
    while (p < end && is_blank(*p)) p++;
    if ((e = parse_id(&p, end, &ids[1]))) return e;
    while (p < end && is_blank(*p)) p++;
    if (p != end) return "expected two node ids, found more";
    idx[0] = s->last_index >= 0 && ids[0] == s->last_key ? s->last_index : map_index(s, ids[0]);
    if (idx[0] >= 0) idx[1] = map_index(s, ids[1]);
    for (int k = 0; k < 2; k++) {
        if (idx[k] == -2) return "more than 4294967294 distinct node ids";
        if (idx[k] < 0) return "out of memory";
    }
    s->last_key = ids[0];
    s->last_index = idx[0];
    if (idx[0] == idx[1]) return NULL; /* self-loop: the node exists, the link does not */
    if (grow((void **)&s->pairs, &s->pairs_cap, s->npairs + 1, sizeof(snap_pair_t), UINT64_MAX) < 0)
        return "out of memory";
    s->pairs[s->npairs++] = (snap_pair_t){(uint32_t)idx[0], (uint32_t)idx[1]};
    return NULL;
}

static int parse_text(snap_t *s, const char *buf, size_t len, const char *name, char *err) {
    const char *p = buf, *end = buf + len;
    for (uint64_t line = 1; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        if (eol > p && eol[-1] == '\r') eol--;
        const char *e = parse_line(s, p, eol);
        if (e) {
            graph__errf(err, "%s:%llu: %s", name, (unsigned long long)line, e);
            return -1;
        }
        p = nl ? nl + 1 : end;
    }
    if (s->npairs == 0) {
        graph__errf(err, "%s: no edges", name);
        return -1;
    }
    return 0;
}

/* Stable counting sort of the pairs by source into CSR form, then per-source de-duplication in place
 * (stamp[t] == from + 1 marks t as already linked from `from`). */
static int build_links(snap_t *s, uint64_t **off_out, uint32_t **links_out) {
    uint32_t n = s->nodes, *stamp = NULL, *links = NULL;
    uint64_t *off = calloc((size_t)n + 1, sizeof(uint64_t));
    if (!off || !(links = malloc(s->npairs * sizeof(uint32_t)))) goto fail;
    for (uint64_t k = 0; k < s->npairs; k++) off[s->pairs[k].from + 1]++;
    for (uint32_t v = 0; v < n; v++) off[v + 1] += off[v];
    for (uint64_t k = 0; k < s->npairs; k++) links[off[s->pairs[k].from]++] = s->pairs[k].to;
    memmove(off + 1, off, (size_t)n * sizeof(uint64_t)); /* the fill advanced each start one page */
    off[0] = 0;
    free(s->pairs);
    s->pairs = NULL;

    if (!(stamp = calloc(n, sizeof(uint32_t)))) goto fail;
    uint64_t r = 0, w = 0;
    for (uint32_t v = 0; v < n; v++) {
        uint64_t end = off[v + 1];
        off[v] = w;
        for (; r < end; r++) {
            if (stamp[links[r]] == v + 1) continue;
            stamp[links[r]] = v + 1;
            links[w++] = links[r];
        }
    }
    off[n] = w;
    free(stamp);
    if (w < s->npairs) { /* give back the duplicates' room; keeping the larger block is fine too */
        uint32_t *shrunk = realloc(links, (w ? w : 1) * sizeof(uint32_t));
        if (shrunk) links = shrunk;
    }
    *off_out = off;
    *links_out = links;
    return 0;

fail:
    free(off);
    free(links);
    return -1;
}

static size_t u64_digits(uint64_t v, char *out) { /* out holds 20 bytes */
    char tmp[20];
    size_t n = 0;
    do tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10));
    for (size_t k = 0; k < n; k++) out[k] = tmp[n - 1 - k];
    return n;
}

/* The graph from the parsed map and pairs. Frees each of s's arrays as soon as it is used up, to
 * lower the peak; the caller releases whatever is left. */
static graph_t *snap_build(snap_t *s, const char *name, char *err) {
    graph_t *g = NULL;
    uint64_t *off = NULL;
    uint32_t *links = NULL;
    char id[20];
    uint64_t id_bytes = 0;
    for (uint32_t v = 0; v < s->nodes; v++) id_bytes += u64_digits(s->keys[v], id) + 1;
    if (!(g = graph__new(s->nodes, id_bytes, 0, name, err))) goto fail;
    for (uint32_t v = 0; v < s->nodes; v++) {
        if (graph__add_id(g, id, u64_digits(s->keys[v], id)) != 0) {
            graph__errf(err, "%s: internal error adding node %u", name, v);
            goto fail;
        }
    }
    free(s->keys);
    free(s->slots);
    s->keys = NULL;
    s->slots = NULL;
    if (build_links(s, &off, &links) < 0) {
        graph__errf(err, "%s: out of memory for %llu links", name, (unsigned long long)s->npairs);
        goto fail;
    }
    if (graph__finish(g, off, links, err) < 0) goto fail;
    return g;

fail:
    graph_free(g);
    return NULL;
}

/* Inflates a gzip buffer (one or more members, as gzip -c a b > c writes) into *out, at most
 * SNAP_MAX_TEXT bytes. 0 or -1 with err set. */
static int inflate_gzip(const char *buf, size_t len, const char *name, char **out, size_t *out_len,
                        char *err) {
    z_stream z = {0};
    char *text = NULL;
    uint64_t cap = 0, used = 0;
    int rc = Z_OK;
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) goto oom;
    z.next_in = (Bytef *)buf;
    z.avail_in = 0;
    size_t left = len;
    for (;;) {
        if (z.avail_in == 0 && left > 0) { /* avail_in is 32 bits: feed at most 1 GiB at a time */
            z.avail_in = left > (1u << 30) ? (1u << 30) : (uInt)left;
            left -= z.avail_in;
        }
        if (used == cap) {
            if (used == SNAP_MAX_TEXT) {
                graph__errf(err, "%s: decompressed size exceeds 4 GiB", name);
                goto fail;
            }
            if (grow((void **)&text, &cap, used + 1 < 4 * len ? 4 * len : used + 1, 1, SNAP_MAX_TEXT) < 0)
                goto oom;
        }
        uint64_t room = cap - used > (1u << 30) ? (1u << 30) : cap - used;
        z.next_out = (Bytef *)text + used;
        z.avail_out = (uInt)room;
        rc = inflate(&z, Z_NO_FLUSH);
        used += room - z.avail_out;
        if (rc == Z_STREAM_END) {
            if (z.avail_in == 0 && left == 0) break;
            if (inflateReset(&z) != Z_OK) goto oom; /* another member follows */
            continue;
        }
        if (rc == Z_BUF_ERROR && z.avail_in == 0 && left == 0) {
            graph__errf(err, "%s: gzip: unexpected end of file", name);
            goto fail;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            graph__errf(err, "%s: gzip: %s", name, z.msg ? z.msg : "corrupt data");
            goto fail;
        }
    }
    inflateEnd(&z);
    *out = text;
    *out_len = (size_t)used;
    return 0;

oom:
    graph__errf(err, "%s: out of memory inflating gzip data", name);
fail:
    inflateEnd(&z);
    free(text);
    return -1;
}

graph_t *graph_parse_snap(const char *buf, size_t len, const char *name, char *err) {
    snap_t s = {.last_index = -1};
    char *text = NULL;
    if (!name) name = "snap";
    if (len > SNAP_MAX_TEXT) {
        graph__errf(err, "%s: larger than 4 GiB", name);
        return NULL;
    }
    /* gzip is recognised by its magic bytes, so a .txt.gz renamed to anything still loads. */
    if (len >= 2 && (unsigned char)buf[0] == 0x1f && (unsigned char)buf[1] == 0x8b) {
        if (inflate_gzip(buf, len, name, &text, &len, err) < 0) return NULL;
        buf = text;
    }
    graph_t *g = NULL;
    int rc = parse_text(&s, buf, len, name, err);
    free(text); /* from here on the pairs and the node map are all that is needed */
    if (rc == 0) g = snap_build(&s, name, err);
    snap_release(&s);
    return g;
}

/* Reads the whole file (plain or gzip, up to 4 GiB) and hands it to graph_parse_snap(). */
graph_t *graph_load_snap(const char *path, char *err) {
    char *buf = NULL;
    uint64_t cap = 0, len = 0;
    graph_t *g = NULL;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) goto syserr;
    if (S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        goto syserr;
    }
    for (;;) { /* st_size only sizes the first buffer: pipes and /proc files report 0 */
        if (len == cap) {
            if (len > SNAP_MAX_TEXT || (uint64_t)st.st_size > SNAP_MAX_TEXT) {
                graph__errf(err, "%s: larger than 4 GiB", path);
                goto fail;
            }
            uint64_t want = st.st_size > 0 ? (uint64_t)st.st_size + 1 : 65536;
            if (grow((void **)&buf, &cap, want > len + 1 ? want : len + 1, 1, SNAP_MAX_TEXT + 1) < 0) {
                graph__errf(err, "%s: out of memory reading the file", path);
                goto fail;
            }
        }
        ssize_t n = read(fd, buf + len, cap - len > (1u << 30) ? (1u << 30) : cap - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) goto syserr;
        if (n == 0) break;
        len += (uint64_t)n;
    }
    close(fd);
    fd = -1;
    g = graph_parse_snap(buf ? buf : "", (size_t)len, path, err);
    free(buf);
    return g;

syserr:
    graph__errf(err, "%s: %s", path, strerror(errno));
fail:
    if (fd >= 0) close(fd);
    free(buf);
    return NULL;
}
