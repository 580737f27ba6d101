/* The table of contents of the models (see models.h). */
#include "crawl/models/models.h"

#include <string.h>

extern const crawl_engine_t engine_sequential, engine_threads, engine_processes, engine_async, engine_epoll,
    engine_pool, engine_green, engine_nursery, engine_pipeline;

const crawl_engine_t *const models_all[] = {
    &engine_sequential, &engine_threads, &engine_processes, &engine_async,    &engine_epoll,
    &engine_pool,       &engine_green,   &engine_nursery,   &engine_pipeline, NULL,
};

int models_index(const char *name) {
    for (int i = 0; models_all[i]; i++)
        if (!strcmp(models_all[i]->name, name)) return i;
    return -1;
}

const crawl_engine_t *models_find(const char *name) {
    int i = models_index(name);
    return i < 0 ? NULL : models_all[i];
}

const crawl_engine_t *models_baseline(void) {
    for (int i = 0; models_all[i]; i++)
        if (models_all[i]->max_concurrency == 1) return models_all[i];
    return models_all[0];
}
