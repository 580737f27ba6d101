/* The nine lessons, in the order the guide teaches them: this folder's table of contents. Each
 * model describes itself (crawl/engine.h); this header only lists them and finds one by name. */
#ifndef CRAWLBENCH_MODELS_H
#define CRAWLBENCH_MODELS_H

#include "crawl/engine.h"

/* Every model, in teaching order, NULL-terminated. */
extern const crawl_engine_t *const models_all[];

/* The model called name, or NULL. */
const crawl_engine_t *models_find(const char *name);

/* The baseline every speedup is measured against: the model that runs one page at a time
 * (max_concurrency 1). */
const crawl_engine_t *models_baseline(void);

/* Where a model stands in models_all (0 for the first), or -1: reports give each model the same
 * colour and place from it. */
int models_index(const char *name);

#endif
