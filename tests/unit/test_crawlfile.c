/* Unit tests for the saved-crawl loader (src/graph/crawlfile.c): good files and their numbering,
 * and hostile input table-driven, each input placed against a PROT_NONE page so that an over-read
 * faults even without ASan. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "graph/graph.h"

/* Parses len bytes that end exactly where a PROT_NONE page begins. */
static graph_t *parse_guarded(const char *text, size_t len, char *err) {
    long page = sysconf(_SC_PAGESIZE);
    size_t body = (len + (size_t)page - 1) / (size_t)page * (size_t)page + (size_t)page;
    char *base = mmap(NULL, body + (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(base, MAP_FAILED);
    cr_assert_eq(mprotect(base + body, (size_t)page, PROT_NONE), 0);
    memcpy(base + body - len, text, len);
    graph_t *g = graph_parse_crawl(base + body - len, len, "c.tsv", err);
    munmap(base, body + (size_t)page);
    return g;
}

static const struct {
    const char *name, *text, *error; /* error: a substring of the message */
} bad[] = {
    {"only a comment", "# nothing\n", "c.tsv: no links"},
    {"no links at all", "a\nb\t\n", "c.tsv: no links"},
    {"page listed twice", "a\tb\nb\ta\na\tc\n", "c.tsv:3: page listed twice"},
    {"leading blank", "a\tb\n b\ta\n", "c.tsv:2: line starts with a blank"},
    {"space after page id", "a b\n", "c.tsv:1: expected a tab after the page id"},
    {"control character", "a\tb\x01c\n", "c.tsv:1: control character in an id"},
    {"NUL byte", "a\tb\n\0\n", "c.tsv:2: control character in an id"},
    {"id too long", "a\t0123456789012345678901234567890123\n", "c.tsv:1: id longer than 32 bytes"},
    {"empty", "", "c.tsv: no pages"},
};

Test(crawlfile, hostile_input_fails_with_the_line) {
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[GRAPH_ERR_LEN] = "";
        size_t len = strlen(bad[i].text) + (strcmp(bad[i].name, "NUL byte") == 0 ? 3 : 0);
        graph_t *g = parse_guarded(bad[i].text, len, err);
        cr_assert_null(g, "%s: parsed", bad[i].name);
        cr_assert(strstr(err, bad[i].error), "%s: message '%s', expected '%s'", bad[i].name, err, bad[i].error);
    }
}

Test(crawlfile, pages_in_first_appearance_order_links_deduplicated) {
    const char *text = "# a crawl\r\nhome\tabout blog blog home\r\n\nabout\t home \t\nblog\n";
    char err[GRAPH_ERR_LEN] = "";
    graph_t *g = parse_guarded(text, strlen(text), err);
    cr_assert_not_null(g, "%s", err);
    cr_assert_eq(graph_pages(g), 3);
    cr_assert_eq(graph_edges(g), 3, "home->about, home->blog, about->home: %llu", (unsigned long long)graph_edges(g));
    cr_assert_eq(graph_find(g, "home", 4), 0);
    cr_assert_eq(graph_find(g, "about", 5), 1);
    cr_assert_eq(graph_find(g, "blog", 4), 2);
    uint32_t n;
    const uint32_t *l = graph_links(g, 0, &n);
    cr_assert(n == 2 && l[0] == 1 && l[1] == 2, "home has %u links", n);
    graph_free(g);
}

Test(crawlfile, an_unfetched_link_target_is_a_page_without_links) {
    const char *text = "a\tb c\n";
    char err[GRAPH_ERR_LEN] = "";
    graph_t *g = parse_guarded(text, strlen(text), err);
    cr_assert_not_null(g, "%s", err);
    cr_assert_eq(graph_pages(g), 3);
    uint32_t n;
    graph_links(g, 2, &n);
    cr_assert_eq(n, 0);
    graph_free(g);
}

Test(crawlfile, load_reports_missing_and_empty_files) {
    char err[GRAPH_ERR_LEN] = "", path[] = "/tmp/crawlbench-crawlfile-XXXXXX";
    cr_assert_null(graph_load_crawl("/nonexistent/crawl.tsv", err));
    cr_assert(strstr(err, "No such file"), "%s", err);
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_null(graph_load_crawl(path, err));
    cr_assert(strstr(err, "empty file"), "%s", err);
    unlink(path);
}
