/* The crawl frontier: every page id discovered so far (the visited set), the FIFO of those not yet
 * fetched, the page cap, and the links each fetched page had (for the ideal-time simulation). Pages
 * are numbered in discovery order, and since each is queued once, when it is first seen, the FIFO is
 * simply that order plus a cursor.
 *
 * Not thread-safe, on purpose: each engine adds the synchronisation its model teaches (a mutex and a
 * condition variable in threads.c, a coordinator process in processes.c, nothing at all in the
 * single-threaded event loops). Functions return -1 only when memory runs out. */
#ifndef CRAWLBENCH_FRONTIER_H
#define CRAWLBENCH_FRONTIER_H

#include <stddef.h>
#include <stdint.h>

#define FRONTIER_ID_MAX 64 /* longer ids are invalid links */

typedef struct frontier frontier_t;

frontier_t *frontier_create(uint64_t max_pages);
void frontier_free(frontier_t *f);

/* Adds an id if it is new. Returns its page number (new or old) and sets *is_new; -1 on OOM. */
int64_t frontier_add(frontier_t *f, const char *id, size_t len, int *is_new);

/* The next page to fetch, or -1 when none is waiting or the cap is reached. */
int64_t frontier_next(frontier_t *f);

/* Puts a taken page back at the head of the queue (its worker died before finishing it). It does
 * not count against the cap a second time. */
int frontier_requeue(frontier_t *f, uint32_t page);

const char *frontier_id(const frontier_t *f, uint32_t page, size_t *len);
uint32_t frontier_discovered(const frontier_t *f);
uint64_t frontier_taken(const frontier_t *f);  /* pages handed out (requeues not counted twice) */
uint64_t frontier_waiting(const frontier_t *f); /* pages frontier_next() could still hand out */
int frontier_capped(const frontier_t *f);      /* the cap stops further pages */

/* Records the pages a fetched page links to (page numbers, in the page's order). Once per page. */
int frontier_set_links(frontier_t *f, uint32_t page, const uint32_t *links, uint32_t n);
/* Those links; NULL with *n = 0 for a page not fetched (or failed). */
const uint32_t *frontier_links(const frontier_t *f, uint32_t page, uint32_t *n);

#endif
