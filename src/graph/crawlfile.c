/* Loading a saved crawl (`crawlbench crawl --save-graph FILE`, docs/CRAWL.md): one fetched page a line,
 * "PAGE_ID<TAB>LINK_ID LINK_ID ...". '#' lines are comments and blank lines are skipped; a page
 * without links may end after its id. Ids are 1 to GRAPH_ID_MAX bytes of printable non-blank ASCII or
 * any byte >= 0x80; links are separated by spaces or tabs; a trailing \r is ignored. A page listed
 * twice is an error, as is anything malformed, reported as "name:LINE: what" for the whole file.
 *
 * Pages are numbered in order of first appearance, whether as a listed page or as a link; a link to a
 * page the crawl did not fetch makes that page exist, without links (networkx does the same with an
 * edge list). Like the SNAP loader, a self-link is dropped and a repeated link is kept once.
 *
 * Ids are collected into a throwaway graph_t sized for the worst case (every token a new page), used
 * only as the id -> index hash map; the real graph is then built with exactly the pages seen. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph/graph.h"

#define CRAWL_MAX_TEXT (4ULL << 30)

typedef struct crawl_pair {
    uint32_t from, to;
} crawl_pair_t;

typedef struct crawl_parse {
    graph_t *ids;     /* the hash map: every id seen, in first-appearance order */
    uint8_t *listed;  /* [tokens]: 1 when the page had its own line */
    crawl_pair_t *pairs;
    uint64_t npairs;
    uint64_t id_bytes; /* of the ids added, each with its NUL */
    uint32_t nodes;    /* ids added */
} crawl_parse_t;

static int crawl_blank(char c) { return c == ' ' || c == '\t'; }
static int crawl_id_char(unsigned char c) { return c > 0x20 && c != 0x7f; }

/* Upper bounds for the throwaway map: tokens and their bytes. */
static void crawl_count(const char *p, const char *end, uint64_t *tokens, uint64_t *bytes) {
    *tokens = *bytes = 0;
    for (int in = 0; p < end; p++) {
        int tok = crawl_id_char((unsigned char)*p);
        if (tok && !in) ++*tokens;
        *bytes += tok;
        in = tok;
    }
    *bytes += *tokens;
}

/* The index of id, adding it when new. NULL on success, else the error. */
static const char *crawl_index(crawl_parse_t *c, const char *id, size_t len, uint32_t *out) {
    if (len > GRAPH_ID_MAX) return "id longer than 32 bytes";
    int64_t k = graph_find(c->ids, id, len);
    if (k < 0) {
        if (graph__add_id(c->ids, id, len) != 0) return "out of memory";
        k = graph_find(c->ids, id, len);
        c->id_bytes += len + 1;
        c->nodes++;
    }
    *out = (uint32_t)k;
    return NULL;
}

/* Reads one id token at *p into (id, len). NULL or the error. */
static const char *crawl_token(const char **p, const char *end, const char **id, size_t *len) {
    const char *q = *p;
    while (q < end && crawl_id_char((unsigned char)*q)) q++;
    if (q < end && !crawl_blank(*q)) return "control character in an id";
    *id = *p;
    *len = (size_t)(q - *p);
    *p = q;
    return NULL;
}

static const char *crawl_line(crawl_parse_t *c, const char *p, const char *end) {
    const char *id, *e;
    size_t len;
    uint32_t from, to;
    if (p == end || *p == '#') return NULL;
    if (crawl_blank(*p)) return "line starts with a blank, expected a page id";
    if ((e = crawl_token(&p, end, &id, &len)) || (e = crawl_index(c, id, len, &from))) return e;
    if (c->listed[from]) return "page listed twice";
    c->listed[from] = 1;
    if (p < end && *p != '\t') return "expected a tab after the page id";
    for (;;) {
        while (p < end && crawl_blank(*p)) p++;
        if (p == end) return NULL;
        if ((e = crawl_token(&p, end, &id, &len)) || (e = crawl_index(c, id, len, &to))) return e;
        if (to == from) continue;
        crawl_pair_t *q = c->pairs; /* grows by doubling; capacity is a power of two past 1024 */
        if (c->npairs >= 1024 && (c->npairs & (c->npairs - 1)) == 0)
            q = realloc(c->pairs, 2 * c->npairs * sizeof(*q));
        if (!q) return "out of memory";
        c->pairs = q;
        c->pairs[c->npairs++] = (crawl_pair_t){from, to};
    }
}

/* The final graph: ids in index order, links grouped by source (stable), repeats dropped. */
static graph_t *crawl_build(crawl_parse_t *c, const char *name, char *err) {
    uint32_t n = c->nodes, *links = NULL, *stamp = NULL;
    uint64_t *off = NULL;
    graph_t *g = graph__new(n, c->id_bytes, 0, name, err);
    if (!g) return NULL;
    for (uint32_t v = 0; v < n; v++) {
        size_t l;
        const char *id = graph_id(c->ids, v, &l);
        graph__add_id(g, id, l);
    }
    off = calloc((size_t)n + 1, sizeof(uint64_t));
    links = malloc((c->npairs ? c->npairs : 1) * sizeof(uint32_t));
    stamp = calloc(n, sizeof(uint32_t));
    if (!off || !links || !stamp) goto oom;
    for (uint64_t k = 0; k < c->npairs; k++) off[c->pairs[k].from + 1]++;
    for (uint32_t v = 0; v < n; v++) off[v + 1] += off[v];
    for (uint64_t k = 0; k < c->npairs; k++) links[off[c->pairs[k].from]++] = c->pairs[k].to;
    memmove(off + 1, off, (size_t)n * sizeof(uint64_t));
    off[0] = 0;
    uint64_t j = 0; /* de-duplicate in place, each source's first occurrence kept */
    for (uint32_t v = 0; v < n; v++) {
        uint64_t a = off[v];
        off[v] = j;
        for (uint64_t k = a; k < off[v + 1]; k++)
            if (stamp[links[k]] != v + 1) stamp[links[k]] = v + 1, links[j++] = links[k];
    }
    off[n] = j;
    free(stamp);
    if (graph__finish(g, off, links, err) < 0) { /* it owns off and links either way */
        graph_free(g);
        return NULL;
    }
    return g;
oom:
    free(off);
    free(links);
    free(stamp);
    graph_free(g);
    graph__errf(err, "%s: out of memory", name);
    return NULL;
}

static void crawl_release(crawl_parse_t *c) {
    graph_free(c->ids);
    free(c->listed);
    free(c->pairs);
}

graph_t *graph_parse_crawl(const char *buf, size_t len, const char *name, char *err) {
    crawl_parse_t c = {0};
    graph_t *g = NULL;
    uint64_t tokens, bytes;
    if (len > CRAWL_MAX_TEXT) {
        graph__errf(err, "%s: larger than 4 GiB", name);
        return NULL;
    }
    crawl_count(buf, buf + len, &tokens, &bytes);
    if (tokens == 0) {
        graph__errf(err, "%s: no pages", name);
        return NULL;
    }
    if (tokens >= UINT32_MAX) {
        graph__errf(err, "%s: more than 4294967294 ids", name);
        return NULL;
    }
    if (!(c.ids = graph__new((uint32_t)tokens, bytes, 0, name, err))) return NULL;
    c.listed = calloc(tokens, 1);
    c.pairs = malloc(1024 * sizeof(crawl_pair_t));
    if (!c.listed || !c.pairs) {
        graph__errf(err, "%s: out of memory", name);
        goto done;
    }
    const char *p = buf, *end = buf + len;
    for (uint64_t line = 1; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *eol = nl ? nl : end;
        if (eol > p && eol[-1] == '\r') eol--;
        const char *e = crawl_line(&c, p, eol);
        if (e) {
            graph__errf(err, "%s:%llu: %s", name, (unsigned long long)line, e);
            goto done;
        }
        p = nl ? nl + 1 : end;
    }
    if (c.npairs == 0) graph__errf(err, "%s: no links", name);
    else g = crawl_build(&c, name, err);
done:
    crawl_release(&c);
    return g;
}

graph_t *graph_load_crawl(const char *path, char *err) {
    struct stat st;
    char *buf = NULL;
    graph_t *g = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) goto sys;
    if (!S_ISREG(st.st_mode)) {
        graph__errf(err, "%s: not a regular file", path);
        goto done;
    }
    if ((uint64_t)st.st_size > CRAWL_MAX_TEXT) {
        graph__errf(err, "%s: larger than 4 GiB", path);
        goto done;
    }
    if (!(buf = malloc((size_t)st.st_size + 1))) {
        graph__errf(err, "%s: out of memory reading the file", path);
        goto done;
    }
    for (size_t got = 0; got < (size_t)st.st_size;) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) goto sys;
        if (n == 0) {
            st.st_size = (off_t)got; /* shrank while we read: parse what is there */
            break;
        }
        got += (size_t)n;
    }
    if (st.st_size == 0) graph__errf(err, "%s: empty file", path);
    else g = graph_parse_crawl(buf, (size_t)st.st_size, path, err);
    goto done;
sys:
    graph__errf(err, "%s: %s", path, strerror(errno));
done:
    if (fd >= 0) close(fd);
    free(buf);
    return g;
}
