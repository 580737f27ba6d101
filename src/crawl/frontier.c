/* Frontier storage: ids in one growing character arena, an open-addressing hash index over them
 * (linear probing, load under 1/2), the FIFO as a cursor over discovery order, a small stack of
 * requeued pages in front of it, and an append-only array of link lists.
 *
 * Each index slot holds the page number and 32 bits of its id's hash. A lookup compares the tags
 * and reads an id only when they match: without the tag every probe cost two cache misses (the
 * page's offsets, then its characters), and frontier_add was a sixth of the epoll crawler's CPU. */
#include "crawl/frontier.h"

#include <stdlib.h>
#include <string.h>

#define NO_PAGE UINT32_MAX

typedef struct slot {
    uint32_t page;
    uint32_t tag; /* the high 32 bits of the id's hash */
} slot_t;

struct frontier {
    uint64_t max_pages;
    uint64_t taken;
    uint32_t cursor;      /* next page in discovery order to hand out */
    uint32_t count;       /* pages discovered */
    uint32_t cap_pages;   /* room in the per-page arrays */
    uint64_t *id_off;     /* id of page p: chars[id_off[p] .. id_off[p + 1]) */
    char *chars;
    uint64_t chars_len, chars_cap;
    slot_t *table;        /* hash index: NO_PAGE in page when empty */
    uint32_t table_mask;
    uint32_t *requeued;   /* stack of pages handed back */
    uint32_t nrequeued, requeued_cap;
    uint64_t *link_at;    /* page p's links: links[link_at[p] .. + link_n[p]) */
    uint32_t *link_n;
    uint32_t *links;
    uint64_t links_len, links_cap;
};

static uint64_t hash_id(const char *s, size_t len) { /* FNV-1a: ids are short */
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return h;
}

frontier_t *frontier_create(uint64_t max_pages) {
    frontier_t *f = calloc(1, sizeof(*f));
    if (!f) return NULL;
    f->max_pages = max_pages;
    f->table_mask = 1023;
    f->table = malloc(1024 * sizeof(*f->table));
    f->id_off = calloc(1, sizeof(*f->id_off));
    if (!f->table || !f->id_off) {
        frontier_free(f);
        return NULL;
    }
    memset(f->table, 0xff, 1024 * sizeof(*f->table));
    return f;
}

void frontier_free(frontier_t *f) {
    if (!f) return;
    free(f->id_off);
    free(f->chars);
    free(f->table);
    free(f->requeued);
    free(f->link_at);
    free(f->link_n);
    free(f->links);
    free(f);
}

/* Grows *p (elements of size sz) so that it holds at least need; doubling. */
static int grow(void **p, uint64_t *cap, uint64_t need, size_t sz) {
    if (need <= *cap) return 0;
    uint64_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * sz);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

static int grow_pages(frontier_t *f) {
    uint32_t old = f->cap_pages, want = old ? old * 2 : 1024;
    uint64_t *off = realloc(f->id_off, ((size_t)want + 1) * sizeof(*off));
    if (off) f->id_off = off;
    uint64_t *at = realloc(f->link_at, (size_t)want * sizeof(*at));
    if (at) f->link_at = at;
    uint32_t *n = realloc(f->link_n, (size_t)want * sizeof(*n));
    if (n) f->link_n = n;
    if (!off || !at || !n) return -1;
    memset(f->link_n + old, 0, (size_t)(want - old) * sizeof(*n));
    f->cap_pages = want;
    return 0;
}

static void rehash(frontier_t *f, slot_t *table, uint32_t mask) {
    for (uint32_t p = 0; p < f->count; p++) {
        uint64_t h = hash_id(f->chars + f->id_off[p], f->id_off[p + 1] - f->id_off[p]);
        uint32_t i = (uint32_t)h & mask;
        while (table[i].page != NO_PAGE) i = (i + 1) & mask;
        table[i] = (slot_t){.page = p, .tag = (uint32_t)(h >> 32)};
    }
}

static int grow_table(frontier_t *f) {
    uint32_t mask = f->table_mask * 2 + 1;
    slot_t *t = malloc(((size_t)mask + 1) * sizeof(*t));
    if (!t) return -1;
    memset(t, 0xff, ((size_t)mask + 1) * sizeof(*t));
    rehash(f, t, mask);
    free(f->table);
    f->table = t;
    f->table_mask = mask;
    return 0;
}

int64_t frontier_add(frontier_t *f, const char *id, size_t len, int *is_new) {
    uint64_t h = hash_id(id, len);
    uint32_t i = (uint32_t)h & f->table_mask, tag = (uint32_t)(h >> 32);
    *is_new = 0;
    for (; f->table[i].page != NO_PAGE; i = (i + 1) & f->table_mask) {
        uint32_t p = f->table[i].page;
        if (f->table[i].tag == tag && f->id_off[p + 1] - f->id_off[p] == len &&
            !memcmp(f->chars + f->id_off[p], id, len))
            return p;
    }
    if (f->count == NO_PAGE - 1) return -1;
    if (f->count == f->cap_pages && grow_pages(f) < 0) return -1;
    if (grow((void **)&f->chars, &f->chars_cap, f->chars_len + len, 1) < 0) return -1;
    uint32_t p = f->count++;
    memcpy(f->chars + f->chars_len, id, len);
    f->chars_len += len;
    f->id_off[p + 1] = f->chars_len;
    f->table[i] = (slot_t){.page = p, .tag = tag};
    *is_new = 1;
    if ((uint64_t)f->count * 2 > f->table_mask && grow_table(f) < 0) return -1;
    return p;
}

int64_t frontier_next(frontier_t *f) {
    if (f->nrequeued) return f->requeued[--f->nrequeued];
    if (f->cursor == f->count || f->taken >= f->max_pages) return -1;
    f->taken++;
    return f->cursor++;
}

int frontier_requeue(frontier_t *f, uint32_t page) {
    uint64_t cap = f->requeued_cap;
    if (grow((void **)&f->requeued, &cap, (uint64_t)f->nrequeued + 1, sizeof(uint32_t)) < 0) return -1;
    f->requeued_cap = (uint32_t)cap;
    f->requeued[f->nrequeued++] = page;
    return 0;
}

const char *frontier_id(const frontier_t *f, uint32_t page, size_t *len) {
    *len = f->id_off[page + 1] - f->id_off[page];
    return f->chars + f->id_off[page];
}

uint32_t frontier_discovered(const frontier_t *f) { return f->count; }
uint64_t frontier_taken(const frontier_t *f) { return f->taken; }
int frontier_capped(const frontier_t *f) { return f->taken >= f->max_pages; }

uint64_t frontier_waiting(const frontier_t *f) {
    uint64_t queued = f->count - f->cursor, room = f->max_pages - f->taken;
    return f->nrequeued + (queued < room ? queued : room);
}

int frontier_set_links(frontier_t *f, uint32_t page, const uint32_t *links, uint32_t n) {
    if (grow((void **)&f->links, &f->links_cap, f->links_len + n, sizeof(uint32_t)) < 0) return -1;
    if (n) memcpy(f->links + f->links_len, links, (size_t)n * sizeof(uint32_t));
    f->link_at[page] = f->links_len;
    f->link_n[page] = n;
    f->links_len += n;
    return 0;
}

const uint32_t *frontier_links(const frontier_t *f, uint32_t page, uint32_t *n) {
    *n = page < f->count ? f->link_n[page] : 0;
    return *n ? f->links + f->link_at[page] : NULL;
}
