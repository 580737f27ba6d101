/* `crawlbench graph`: the graph a server would serve, without a server: its shape, the pages
 * reachable from one page (what an exact crawl must visit), or the graph as a SNAP edge list for
 * other tools (networkx, the GAP Benchmark Suite), computed by the graph module alone. */
#include "cli/cli.h"

#include "base/outfile.h"
#include "graph/graph.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char graph_usage[] =
    "usage: crawlbench graph [options]\n"
    "\n"
    "Builds the graph 'crawlbench serve' would serve with the same options and prints its shape,\n"
    "or the ids of the pages reachable from one page, one per line (breadth-first order).\n"
    "\n"
    "  --seed N              graph seed (default 42)\n"
    "  --pages N             pages (default 1000)\n"
    "  --out-degree N        mean links per page (default 8)\n"
    "  --graph FILE          a SNAP edge list instead (plain or .gz)\n"
    "  --reachable-from ID   print the pages reachable from ID (ID included)\n"
    "  --edges FILE          write the graph as a SNAP edge list instead: 'FROM<TAB>TO' lines of 0-based\n"
    "                        page indices after a '#' header (written atomically)\n";

enum { OPT_SEED = 256, OPT_PAGES, OPT_OUT_DEGREE, OPT_GRAPH, OPT_REACHABLE, OPT_EDGES };

static const struct option graph_options[] = {
    {"seed", required_argument, 0, OPT_SEED},     {"pages", required_argument, 0, OPT_PAGES},
    {"out-degree", required_argument, 0, OPT_OUT_DEGREE}, {"graph", required_argument, 0, OPT_GRAPH},
    {"reachable-from", required_argument, 0, OPT_REACHABLE}, {"edges", required_argument, 0, OPT_EDGES},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

/* Prints the pages reachable from `from` in breadth-first order. */
static int print_reachable(const graph_t *g, const char *from) {
    int64_t start = graph_find(g, from, strlen(from));
    if (start < 0) {
        fprintf(stderr, "crawlbench graph: no page has id '%s'\n", from);
        return CLI_FAIL;
    }
    uint32_t n = graph_pages(g), head = 0, tail = 0;
    uint8_t *seen = calloc(n, 1);
    uint32_t *queue = malloc((size_t)n * sizeof(*queue));
    if (!seen || !queue) {
        free(seen);
        free(queue);
        fprintf(stderr, "crawlbench graph: out of memory\n");
        return CLI_FAIL;
    }
    queue[tail++] = (uint32_t)start;
    seen[start] = 1;
    while (head < tail) {
        uint32_t p = queue[head++], nl;
        size_t len;
        const char *id = graph_id(g, p, &len);
        printf("%.*s\n", (int)len, id);
        const uint32_t *links = graph_links(g, p, &nl);
        for (uint32_t i = 0; i < nl; i++)
            if (!seen[links[i]]) {
                seen[links[i]] = 1;
                queue[tail++] = links[i];
            }
    }
    free(seen);
    free(queue);
    return CLI_OK;
}

/* The edge list: page indices are the node ids, so page i of the generated graph is node i in
 * networkx or gapbs. */
static int write_edges(FILE *f, void *ctx) {
    const graph_t *g = ctx;
    if (fprintf(f, "# crawlbench graph: %s, seed %llu, %u pages, %llu links\n# FromNodeId\tToNodeId\n",
                graph_source(g), (unsigned long long)graph_seed(g), graph_pages(g),
                (unsigned long long)graph_edges(g)) < 0)
        return -1;
    for (uint32_t p = 0; p < graph_pages(g); p++) {
        uint32_t n;
        const uint32_t *l = graph_links(g, p, &n);
        for (uint32_t i = 0; i < n; i++)
            if (fprintf(f, "%u\t%u\n", p, l[i]) < 0) return -1;
    }
    return 0;
}

/* The graph's shape as one JSON object (cJSON: the source is a file path, which may hold anything). */
static void print_shape(const graph_t *g) {
    graph_shape_t s;
    graph_shape(g, &s);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "source", graph_source(g));
    cJSON_AddNumberToObject(o, "seed", (double)graph_seed(g));
    cJSON_AddNumberToObject(o, "pages", s.pages);
    cJSON_AddNumberToObject(o, "edges", (double)s.edges);
    cJSON_AddNumberToObject(o, "mean_out_degree", s.mean_out_degree);
    cJSON_AddNumberToObject(o, "max_out_degree", s.max_out_degree);
    cJSON_AddNumberToObject(o, "max_in_degree", s.max_in_degree);
    cJSON_AddNumberToObject(o, "zero_in_degree", s.zero_in_degree);
    cJSON_AddNumberToObject(o, "dangling", s.dangling);
    cJSON_AddNumberToObject(o, "memory_bytes", (double)s.memory_bytes);
    char *text = cJSON_PrintUnformatted(o);
    puts(text ? text : "{}");
    cJSON_free(text);
    cJSON_Delete(o);
}

int cli_graph(int argc, char **argv) {
    graph_params_t p = {.seed = 42, .pages = 1000, .out_degree = 8};
    const char *file = NULL, *from = NULL, *edges = NULL;
    uint64_t n;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", graph_options, NULL)) != -1) {
        switch (opt) {
        case 'h': fputs(graph_usage, stdout); return CLI_OK;
        case OPT_SEED: if (cli_parse_u64("--seed", optarg, 0, UINT64_MAX, &n)) return CLI_USAGE; p.seed = n; break;
        case OPT_PAGES: if (cli_parse_u64("--pages", optarg, 1, 50000000, &n)) return CLI_USAGE; p.pages = (uint32_t)n; break;
        case OPT_OUT_DEGREE: if (cli_parse_u64("--out-degree", optarg, 1, 1000, &n)) return CLI_USAGE; p.out_degree = (uint32_t)n; break;
        case OPT_GRAPH: file = optarg; break;
        case OPT_REACHABLE: from = optarg; break;
        case OPT_EDGES: edges = optarg; break;
        default: return cli_option_error("graph", argv, opt);
        }
    }
    if (optind < argc) return cli_usage_error("graph", "unexpected argument '%s'", argv[optind]);
    if (from && edges) return cli_usage_error("graph", "--reachable-from and --edges do not go together");
    char err[GRAPH_ERR_LEN];
    graph_t *g = file ? graph_load_snap(file, err) : graph_generate(&p, err);
    if (!g) {
        fprintf(stderr, "crawlbench graph: %s\n", err);
        return CLI_FAIL;
    }
    int rc = CLI_OK;
    if (from) rc = print_reachable(g, from);
    else if (edges && outfile_write(edges, write_edges, g, err, sizeof(err)) < 0) {
        fprintf(stderr, "crawlbench graph: %s\n", err);
        rc = CLI_FAIL;
    }
    else print_shape(g);
    graph_free(g);
    return rc;
}
