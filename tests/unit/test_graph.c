/* Unit tests for src/graph: the generator's determinism and web-like shape, the id index, sampling,
 * reachability, and the SNAP loader against good, hostile and compressed input. Hostile SNAP input is
 * table-driven and placed against a PROT_NONE page, so an over-read faults even without ASan. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "graph/graph.h"

static graph_t *gen(uint64_t seed, uint32_t pages, uint32_t out_degree) {
    char err[GRAPH_ERR_LEN] = "";
    graph_params_t p = {.seed = seed, .pages = pages, .out_degree = out_degree};
    graph_t *g = graph_generate(&p, err);
    cr_assert_not_null(g, "graph_generate(%u pages): %s", pages, err);
    return g;
}

/* FNV-1a over every id (with its NUL) and every link list (count, then targets), little-endian, so
 * the value is the same on every machine that generates the same graph. */
static uint64_t fnv(uint64_t h, const void *data, size_t len) {
    const unsigned char *b = data;
    for (size_t k = 0; k < len; k++) h = (h ^ b[k]) * 0x100000001b3ULL;
    return h;
}

static uint64_t fnv_u32(uint64_t h, uint32_t v) {
    unsigned char le[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24};
    return fnv(h, le, 4);
}

static uint64_t checksum(const graph_t *g) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (uint32_t p = 0; p < graph_pages(g); p++) {
        size_t len;
        uint32_t n;
        const char *id = graph_id(g, p, &len);
        const uint32_t *l = graph_links(g, p, &n);
        h = fnv(h, id, len + 1);
        h = fnv_u32(h, n);
        for (uint32_t k = 0; k < n; k++) h = fnv_u32(h, l[k]);
    }
    return h;
}

static uint32_t *in_degrees(const graph_t *g) {
    uint32_t *in = calloc(graph_pages(g), sizeof(uint32_t)), n;
    cr_assert_not_null(in);
    for (uint32_t p = 0; p < graph_pages(g); p++) {
        const uint32_t *l = graph_links(g, p, &n);
        for (uint32_t k = 0; k < n; k++) in[l[k]]++;
    }
    return in;
}

/* ---- the generator ---- */

/* The graph every user gets by default. Changing the generator changes this value, and with it every
 * user's graph, every published benchmark and every saved crawl: do that only on purpose, and then
 * update the value here and say so in docs/GRAPH.md. */
#define GOLDEN_DEFAULT_CHECKSUM 0x4e11473a4f54dd58ULL
#define GOLDEN_DEFAULT_EDGES 7650

Test(generate, golden_checksum_of_default_graph) {
    graph_t *g = gen(42, 1000, 8);
    cr_assert(eq(u64, graph_edges(g), GOLDEN_DEFAULT_EDGES));
    cr_assert(eq(u64, checksum(g), GOLDEN_DEFAULT_CHECKSUM), "checksum 0x%016llx",
              (unsigned long long)checksum(g));
    graph_free(g);
}

Test(generate, null_params_mean_defaults) {
    char err[GRAPH_ERR_LEN];
    graph_t *a = graph_generate(NULL, err), *b = gen(42, 1000, 8);
    cr_assert_not_null(a, "%s", err);
    cr_assert(eq(u64, checksum(a), checksum(b)));
    cr_assert(eq(u64, graph_seed(a), 42));
    cr_assert(eq(str, (char *)graph_source(a), "generated"));
    graph_free(a);
    graph_free(b);
}

Test(generate, same_params_same_graph) {
    graph_t *a = gen(7, 5000, 8), *b = gen(7, 5000, 8);
    cr_assert(eq(u32, graph_pages(a), graph_pages(b)));
    cr_assert(eq(u64, graph_edges(a), graph_edges(b)));
    for (uint32_t p = 0; p < graph_pages(a); p++) {
        size_t la, lb;
        uint32_t na, nb;
        const char *ia = graph_id(a, p, &la), *ib = graph_id(b, p, &lb);
        cr_assert(eq(str, (char *)ia, (char *)ib), "page %u", p);
        const uint32_t *xa = graph_links(a, p, &na), *xb = graph_links(b, p, &nb);
        cr_assert(eq(u32, na, nb), "page %u", p);
        for (uint32_t k = 0; k < na; k++) cr_assert(eq(u32, xa[k], xb[k]), "page %u link %u", p, k);
    }
    graph_free(a);
    graph_free(b);
}

Test(generate, different_seed_different_graph) {
    graph_t *a = gen(1, 2000, 8), *b = gen(2, 2000, 8);
    cr_assert(ne(str, (char *)graph_id(a, 0, NULL), (char *)graph_id(b, 0, NULL)));
    cr_assert(ne(u64, checksum(a), checksum(b)));
    graph_free(a);
    graph_free(b);
}

Test(generate, rejects_bad_params) {
    char err[GRAPH_ERR_LEN] = "";
    graph_params_t no_pages = {.seed = 1, .pages = 0, .out_degree = 8};
    graph_params_t no_links = {.seed = 1, .pages = 10, .out_degree = 0};
    cr_assert_null(graph_generate(&no_pages, err));
    cr_assert(eq(str, err, "graph: pages must be between 1 and 4294967294"));
    cr_assert_null(graph_generate(&no_links, err));
    cr_assert(eq(str, err, "graph: out_degree must be at least 1"));
    graph_params_t too_many = {.seed = 1, .pages = 100000000, .out_degree = 1000};
    cr_assert_null(graph_generate(&too_many, err));
    cr_assert(eq(str, err, "graph: 100000000 pages with 1000 links each is more than 2^34 links"));
}

Test(generate, tiny_graphs) {
    graph_t *one = gen(3, 1, 8), *two = gen(3, 2, 8);
    graph_shape_t s;
    graph_shape(one, &s);
    cr_assert(eq(u64, s.edges, 0));
    cr_assert(eq(u32, s.dangling, 1));
    cr_assert(eq(u32, s.zero_in_degree, 1));
    uint32_t n;
    for (uint32_t p = 0; p < 2; p++) {
        const uint32_t *l = graph_links(two, p, &n);
        cr_assert(eq(u32, n, 1), "page %u", p); /* the only link a page can have: the other one */
        cr_assert(eq(u32, l[0], 1 - p));
    }
    graph_free(one);
    graph_free(two);
}

Test(generate, ids_unique_url_safe_and_found) {
    graph_t *g = gen(11, 10000, 8);
    for (uint32_t p = 0; p < graph_pages(g); p++) {
        size_t len;
        const char *id = graph_id(g, p, &len);
        cr_assert(eq(sz, len, 8), "page %u", p);
        cr_assert(eq(sz, strlen(id), len), "page %u", p);
        cr_assert(eq(sz, strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"), len),
                  "page %u id %s", p, id);
        /* Finding each page under its own id also proves no two pages share one. */
        cr_assert(eq(i64, graph_find(g, id, len), p), "id %s", id);
    }
    graph_free(g);
}

Test(generate, find_unknown_ids) {
    graph_t *g = gen(11, 1000, 8);
    size_t len;
    const char *id = graph_id(g, 5, &len);
    char longer[GRAPH_ID_MAX + 2];
    memset(longer, 'a', sizeof(longer));
    snprintf(longer, sizeof(longer), "%sx", id);
    cr_assert(eq(i64, graph_find(g, "", 0), -1));
    cr_assert(eq(i64, graph_find(g, NULL, 0), -1));
    cr_assert(eq(i64, graph_find(g, "!!!!!!!!", 8), -1));
    cr_assert(eq(i64, graph_find(g, id, len - 1), -1)); /* a prefix */
    cr_assert(eq(i64, graph_find(g, longer, len + 1), -1));
    cr_assert(eq(i64, graph_find(g, id, len + 1), -1)); /* the NUL is not part of the id */
    memset(longer, 'a', sizeof(longer));
    cr_assert(eq(i64, graph_find(g, longer, GRAPH_ID_MAX + 1), -1));
    cr_assert_null(graph_id(g, 1000, &len));
    cr_assert(eq(sz, len, 0));
    uint32_t n = 99;
    cr_assert_null(graph_links(g, 1000, &n));
    cr_assert(eq(u32, n, 0));
    graph_free(g);
}

Test(generate, mean_out_degree_near_requested) {
    static const uint32_t degrees[] = {1, 4, 8, 20};
    for (size_t k = 0; k < sizeof(degrees) / sizeof(degrees[0]); k++) {
        graph_t *g = gen(5, 20000, degrees[k]);
        graph_shape_t s;
        graph_shape(g, &s);
        cr_assert(ge(dbl, s.mean_out_degree, 0.9 * degrees[k]), "out_degree %u", degrees[k]);
        cr_assert(le(dbl, s.mean_out_degree, 1.1 * degrees[k]), "out_degree %u", degrees[k]);
        cr_assert(eq(u32, s.dangling, 0), "out_degree %u", degrees[k]);
        graph_free(g);
    }
}

Test(generate, no_self_or_duplicate_links) {
    graph_t *g = gen(9, 10000, 16);
    uint32_t *seen = calloc(graph_pages(g), sizeof(uint32_t)), n;
    cr_assert_not_null(seen);
    for (uint32_t p = 0; p < graph_pages(g); p++) {
        const uint32_t *l = graph_links(g, p, &n);
        for (uint32_t k = 0; k < n; k++) {
            cr_assert(lt(u32, l[k], graph_pages(g)));
            cr_assert(ne(u32, l[k], p), "self-link on page %u", p);
            cr_assert(ne(u32, seen[l[k]], p + 1), "page %u links %u twice", p, l[k]);
            seen[l[k]] = p + 1;
        }
    }
    free(seen);
    graph_free(g);
}

Test(generate, heavy_tailed_in_degree) {
    graph_t *g = gen(42, 20000, 8);
    graph_shape_t s;
    graph_shape(g, &s);
    uint32_t *in = in_degrees(g), max = 0, zero = 0;
    for (uint32_t p = 0; p < s.pages; p++) {
        max = in[p] > max ? in[p] : max;
        zero += in[p] == 0;
    }
    double mean = (double)s.edges / s.pages;
    cr_assert(gt(dbl, (double)s.max_in_degree, 10 * mean));
    cr_assert(eq(u32, s.max_in_degree, max)); /* graph_shape agrees with a recount */
    cr_assert(eq(u32, s.zero_in_degree, zero));
    cr_assert(gt(u32, s.zero_in_degree, 0)); /* some pages nobody links to, as on the web */
    free(in);
    graph_free(g);
}

Test(generate, giant_reachable_core) {
    graph_t *g = gen(42, 10000, 8);
    uint8_t *mark = malloc(graph_pages(g));
    uint32_t starts[5];
    cr_assert_not_null(mark);
    cr_assert(eq(u32, graph_sample(g, 99, 5, starts), 5));
    for (int k = 0; k < 5; k++) {
        uint32_t n = graph_reachable(g, starts[k], mark), marked = 0;
        for (uint32_t p = 0; p < graph_pages(g); p++) marked += mark[p];
        cr_assert(eq(u32, marked, n));
        cr_assert(gt(dbl, (double)n / graph_pages(g), 0.8), "start page %u", starts[k]);
    }
    free(mark);
    graph_free(g);
}

Test(generate, million_pages_fit_in_memory, .timeout = 60) {
    graph_t *g = gen(42, 1000000, 8);
    graph_shape_t s;
    graph_shape(g, &s);
    cr_assert(lt(sz, s.memory_bytes, (size_t)200 << 20));
    cr_assert(gt(dbl, s.mean_out_degree, 7.2));
    graph_free(g);
}

/* ---- sampling ---- */

Test(sample, deterministic_distinct_and_capped) {
    graph_t *g = gen(1, 3000, 8);
    uint32_t a[4000], b[4000];
    uint8_t seen[3000] = {0};
    cr_assert(eq(u32, graph_sample(g, 5, 100, a), 100));
    cr_assert(eq(u32, graph_sample(g, 5, 100, b), 100));
    cr_assert(zero(int, memcmp(a, b, sizeof(uint32_t) * 100)));
    cr_assert(eq(u32, graph_sample(g, 5, 10, b), 10));
    cr_assert(zero(int, memcmp(a, b, sizeof(uint32_t) * 10))); /* a smaller sample is a prefix */
    cr_assert(eq(u32, graph_sample(g, 6, 100, b), 100));
    cr_assert(ne(int, memcmp(a, b, sizeof(uint32_t) * 100), 0));
    cr_assert(eq(u32, graph_sample(g, 5, 4000, a), 3000)); /* capped: every page exactly once */
    for (uint32_t k = 0; k < 3000; k++) {
        cr_assert(lt(u32, a[k], 3000));
        cr_assert(eq(u8, seen[a[k]], 0), "page %u sampled twice", a[k]);
        seen[a[k]] = 1;
    }
    cr_assert(eq(u32, graph_sample(g, 5, 0, a), 0));
    graph_free(g);
}

Test(sample, one_page) {
    graph_t *g = gen(1, 1, 8);
    uint32_t out[3] = {7, 7, 7};
    cr_assert(eq(u32, graph_sample(g, 5, 3, out), 1));
    cr_assert(eq(u32, out[0], 0));
    graph_free(g);
}

/* ---- SNAP input ---- */

typedef struct guarded {
    char *base;
    size_t map_len;
    char *data;
} guarded_t;

/* Copies len bytes so they end exactly where a PROT_NONE page begins. */
static guarded_t guard(const char *s, size_t len) {
    long page = sysconf(_SC_PAGESIZE);
    size_t body = (len + (size_t)page - 1) / (size_t)page * (size_t)page;
    guarded_t gd = {.map_len = body + (size_t)page};
    gd.base = mmap(NULL, gd.map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert(ne(ptr, gd.base, MAP_FAILED));
    cr_assert(zero(int, mprotect(gd.base + body, (size_t)page, PROT_NONE)));
    gd.data = gd.base + body - len;
    memcpy(gd.data, s, len);
    return gd;
}

static graph_t *parse_len(const char *text, size_t len, char *err) {
    guarded_t gd = guard(text, len);
    graph_t *g = graph_parse_snap(gd.data, len, "t.txt", err);
    munmap(gd.base, gd.map_len);
    return g;
}

static graph_t *parse_ok(const char *text) {
    char err[GRAPH_ERR_LEN] = "";
    graph_t *g = parse_len(text, strlen(text), err);
    cr_assert_not_null(g, "%s", err);
    return g;
}

/* The ids of page p's links, space-separated, for comparing link lists in one assert. */
static char *links_str(const graph_t *g, uint32_t p, char *out, size_t cap) {
    uint32_t n;
    const uint32_t *l = graph_links(g, p, &n);
    size_t used = 0;
    out[0] = '\0';
    for (uint32_t k = 0; k < n; k++)
        used += (size_t)snprintf(out + used, cap - used, "%s%s", k ? " " : "", graph_id(g, l[k], NULL));
    return out;
}

static int64_t find(const graph_t *g, const char *id) { return graph_find(g, id, strlen(id)); }

Test(snap, comments_crlf_spaces_and_sparse_ids) {
    graph_t *g = parse_ok("# Directed graph (each unordered pair of nodes is saved once): web-Google.txt\r\n"
                          "# FromNodeId\tToNodeId\r\n"
                          "0\t11342\r\n"
                          "0  824020\r\n"
                          "\r\n"
                          "  11342 \t 0  \r\n"
                          "\t\n"
                          "824020\t91807");
    char buf[256];
    cr_assert(eq(u32, graph_pages(g), 4));
    cr_assert(eq(u64, graph_edges(g), 4));
    cr_assert(eq(u64, graph_seed(g), 0));
    cr_assert(eq(str, (char *)graph_source(g), "t.txt"));
    const char *ids[] = {"0", "11342", "824020", "91807"}; /* dense, in order of first appearance */
    for (uint32_t p = 0; p < 4; p++) {
        cr_assert(eq(str, (char *)graph_id(g, p, NULL), (char *)ids[p]));
        cr_assert(eq(i64, find(g, ids[p]), p));
    }
    cr_assert(eq(str, links_str(g, 0, buf, sizeof(buf)), "11342 824020"));
    cr_assert(eq(str, links_str(g, 1, buf, sizeof(buf)), "0"));
    cr_assert(eq(str, links_str(g, 2, buf, sizeof(buf)), "91807"));
    cr_assert(eq(str, links_str(g, 3, buf, sizeof(buf)), ""));
    cr_assert(eq(i64, find(g, "1"), -1));
    graph_shape_t s;
    graph_shape(g, &s);
    cr_assert(eq(u32, s.dangling, 1));
    cr_assert(eq(u32, s.zero_in_degree, 0));
    graph_free(g);
}

Test(snap, duplicates_and_self_loops_dropped_order_kept) {
    graph_t *g = parse_ok("5\t9\n5\t7\n5\t9\n5\t5\n9\t5\n5\t7\n3\t3\n");
    char buf[256];
    cr_assert(eq(u32, graph_pages(g), 4)); /* 3 appears only in a self-loop: a page without links */
    cr_assert(eq(u64, graph_edges(g), 3));
    cr_assert(eq(str, links_str(g, (uint32_t)find(g, "5"), buf, sizeof(buf)), "9 7"));
    cr_assert(eq(str, links_str(g, (uint32_t)find(g, "9"), buf, sizeof(buf)), "5"));
    cr_assert(eq(str, links_str(g, (uint32_t)find(g, "3"), buf, sizeof(buf)), ""));
    graph_free(g);
}

Test(snap, extreme_and_zero_padded_ids) {
    graph_t *g = parse_ok("9223372036854775807\t0\n007\t0000000000000000000000000000008\n");
    cr_assert(eq(u32, graph_pages(g), 4));
    cr_assert(eq(str, (char *)graph_id(g, 0, NULL), "9223372036854775807"));
    cr_assert(eq(str, (char *)graph_id(g, 1, NULL), "0"));
    cr_assert(eq(str, (char *)graph_id(g, 2, NULL), "7")); /* served in canonical form */
    cr_assert(eq(str, (char *)graph_id(g, 3, NULL), "8"));
    cr_assert(eq(i64, find(g, "007"), -1));
    graph_free(g);
}

Test(snap, malformed_input_names_the_line) {
    static const struct {
        const char *name, *input;
        size_t len; /* 0: strlen(input) */
        const char *err;
    } cases[] = {
        {"letters", "1\t2\nfoo\tbar\n", 0, "t.txt:2: node id must be decimal digits"},
        {"letter after digits", "12a\t3\n", 0, "t.txt:1: node id must be decimal digits"},
        {"one column", "# c\n1\t2\n3\n", 0, "t.txt:3: expected two node ids"},
        {"one column, trailing tab", "3\t\n", 0, "t.txt:1: expected two node ids"},
        {"three columns", "1\t2\t3\n", 0, "t.txt:1: expected two node ids, found more"},
        {"negative", "1\t2\n-1\t2\n", 0, "t.txt:2: node id must be decimal digits"},
        {"plus sign", "1\t+2\n", 0, "t.txt:1: node id must be decimal digits"},
        {"comma separator", "1,2\n", 0, "t.txt:1: node id must be decimal digits"},
        {"2^63", "9223372036854775808\t1\n", 0, "t.txt:1: node id exceeds 2^63-1"},
        {"2^64", "1\t18446744073709551616\n", 0, "t.txt:1: node id exceeds 2^63-1"},
        {"30 digits", "1\t123456789012345678901234567890\n", 0, "t.txt:1: node id exceeds 2^63-1"},
        {"carriage return inside", "1\r\t2\n", 0, "t.txt:1: node id must be decimal digits"},
        {"NUL byte", "1\t2\0\n", 5, "t.txt:1: node id must be decimal digits"},
        {"line 5 after CRLF", "# x\r\n1\t2\r\n\r\n3\t4\r\nx\r\n", 0, "t.txt:5: node id must be decimal digits"},
        {"last line unterminated", "1\t2\n3 4 5", 0, "t.txt:2: expected two node ids, found more"},
        {"empty file", "", 0, "t.txt: no edges"},
        {"only comments", "# a\n#\n", 0, "t.txt: no edges"},
        {"only blank lines", "\n\r\n \t \n", 0, "t.txt: no edges"},
        {"only self-loops", "5\t5\n6 6\n", 0, "t.txt: no edges"},
        {"gzip magic, no stream", "\x1f\x8b", 0, "t.txt: gzip: unexpected end of file"},
        {"gzip magic, garbage", "\x1f\x8b\x08\x00garbage-garbage", 0, "t.txt: gzip: "},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char err[GRAPH_ERR_LEN] = "";
        size_t len = cases[k].len ? cases[k].len : strlen(cases[k].input);
        graph_t *g = parse_len(cases[k].input, len, err);
        cr_assert_null(g, "case \"%s\" parsed", cases[k].name);
        err[strlen(cases[k].err) < strlen(err) ? strlen(cases[k].err) : strlen(err)] = '\0';
        cr_assert(eq(str, err, (char *)cases[k].err), "case \"%s\"", cases[k].name);
    }
}

Test(snap, refuses_more_than_4_gib_before_reading) {
    char err[GRAPH_ERR_LEN] = "";
    guarded_t gd = guard("1\t2\n", 4); /* the length is checked before a byte is read */
    cr_assert_null(graph_parse_snap(gd.data, (4ULL << 30) + 1, "huge.txt", err));
    cr_assert(eq(str, err, "huge.txt: larger than 4 GiB"));
    munmap(gd.base, gd.map_len);
}

Test(snap, shape_of_a_loaded_graph) {
    graph_t *g = parse_ok("10 20\n10 30\n20 30\n30 10\n40 10\n");
    graph_shape_t s;
    graph_shape(g, &s);
    cr_assert(eq(u32, s.pages, 4));
    cr_assert(eq(u64, s.edges, 5));
    cr_assert(eq(dbl, s.mean_out_degree, 1.25));
    cr_assert(eq(u32, s.max_out_degree, 2));
    cr_assert(eq(u32, s.max_in_degree, 2)); /* 10 and 30 */
    cr_assert(eq(u32, s.zero_in_degree, 1)); /* 40 */
    cr_assert(eq(u32, s.dangling, 0));
    cr_assert(gt(sz, s.memory_bytes, 0));
    graph_free(g);
}

/* ---- loading files ---- */

static void temp_path(char *path, size_t cap, const char *suffix) {
    snprintf(path, cap, "/tmp/crawlbench-graph-XXXXXX%s", suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    cr_assert(ge(int, fd, 0));
    close(fd);
}

static void write_gz(const char *path, const char *mode, const char *text) {
    gzFile gz = gzopen(path, mode);
    cr_assert_not_null(gz);
    cr_assert(eq(int, gzwrite(gz, text, (unsigned)strlen(text)), (int)strlen(text)));
    cr_assert(eq(int, gzclose(gz), Z_OK));
}

static const char edge_text[] = "# web-Stanford style\n1\t6548\n1\t15409\n6548\t57031\n15409\t13102\n"
                                "13102\t1\n57031\t1\n";

Test(load, plain_and_gzip_give_the_same_graph) {
    char plain[64], packed[64], err[GRAPH_ERR_LEN] = "";
    temp_path(plain, sizeof(plain), ".txt");
    temp_path(packed, sizeof(packed), ".txt.gz");
    FILE *f = fopen(plain, "w");
    cr_assert_not_null(f);
    fputs(edge_text, f);
    fclose(f);
    write_gz(packed, "wb", edge_text);

    graph_t *a = graph_load_snap(plain, err);
    cr_assert_not_null(a, "%s", err);
    graph_t *b = graph_load_snap(packed, err);
    cr_assert_not_null(b, "%s", err);
    cr_assert(eq(u32, graph_pages(b), 5));
    cr_assert(eq(u64, graph_edges(b), 6));
    cr_assert(eq(u64, checksum(a), checksum(b)));
    cr_assert(eq(str, (char *)graph_source(b), packed));
    graph_free(a);
    graph_free(b);
    unlink(plain);
    unlink(packed);
}

Test(load, concatenated_gzip_members) {
    char path[64], err[GRAPH_ERR_LEN] = "";
    temp_path(path, sizeof(path), ".gz");
    write_gz(path, "wb", "1\t2\n");
    write_gz(path, "ab", "2\t3\n"); /* a second gzip member, as `cat a.gz b.gz` makes */
    graph_t *g = graph_load_snap(path, err);
    cr_assert_not_null(g, "%s", err);
    cr_assert(eq(u64, graph_edges(g), 2));
    graph_free(g);
    unlink(path);
}

Test(load, errors_name_the_file) {
    char path[64], err[GRAPH_ERR_LEN] = "", want[GRAPH_ERR_LEN];
    cr_assert_null(graph_load_snap("/nonexistent/web.txt", err));
    cr_assert(eq(str, err, "/nonexistent/web.txt: No such file or directory"));
    cr_assert_null(graph_load_snap("/tmp", err));
    cr_assert(eq(str, err, "/tmp: Is a directory"));

    /* A gzip file cut short must fail, not load the part that survived. */
    temp_path(path, sizeof(path), ".gz");
    write_gz(path, "wb", edge_text);
    FILE *f = fopen(path, "r+");
    cr_assert_not_null(f);
    cr_assert(zero(int, fseek(f, 0, SEEK_END)));
    cr_assert(zero(int, ftruncate(fileno(f), ftell(f) - 6)));
    fclose(f);
    cr_assert_null(graph_load_snap(path, err));
    snprintf(want, sizeof(want), "%s: gzip: unexpected end of file", path);
    cr_assert(eq(str, err, want));

    write_gz(path, "wb", "1\t2\nbad\n");
    cr_assert_null(graph_load_snap(path, err));
    snprintf(want, sizeof(want), "%s:2: node id must be decimal digits", path);
    cr_assert(eq(str, err, want));
    unlink(path);
}

/* ---- reachability ---- */

Test(reachable, follows_links_only_forward) {
    graph_t *g = parse_ok("1 2\n2 3\n3 1\n4 1\n5 5\n");
    uint8_t mark[5];
    memset(mark, 7, sizeof(mark)); /* graph_reachable clears it */
    cr_assert(eq(u32, graph_reachable(g, (uint32_t)find(g, "1"), mark), 3));
    cr_assert(eq(u8, mark[find(g, "4")], 0));
    cr_assert(eq(u8, mark[find(g, "3")], 1));
    cr_assert(eq(u32, graph_reachable(g, (uint32_t)find(g, "4"), mark), 4));
    cr_assert(eq(u32, graph_reachable(g, (uint32_t)find(g, "5"), mark), 1));
    cr_assert(eq(u32, graph_reachable(g, 5, mark), 0)); /* no such page */
    cr_assert(eq(u8, mark[0] | mark[1] | mark[2] | mark[3] | mark[4], 0));
    graph_free(g);
}

Test(graph, free_null) { graph_free(NULL); }
