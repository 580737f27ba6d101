/* The examples' id set (open addressing, FNV-1a, doubling at half full) and id list (see exset.h). */
#include "exset.h"

#include "ex.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

struct ex_set {
    char (*slot)[EX_ID_MAX]; /* "" marks a free slot */
    long count, cap;
};

ex_set_t *ex_set_new(void) {
    ex_set_t *s = Malloc(sizeof *s);
    s->cap = 1024;
    s->slot = Malloc((size_t)s->cap * EX_ID_MAX);
    return s;
}

void ex_set_free(ex_set_t *s) {
    if (s) free(s->slot);
    free(s);
}

static long find(const ex_set_t *s, const char *id) {
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = id; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    long i = (long)(h & (uint64_t)(s->cap - 1));
    while (s->slot[i][0] && strcmp(s->slot[i], id) != 0)
        i = (i + 1) & (s->cap - 1);
    return i;
}

int ex_set_has(const ex_set_t *s, const char *id) { return s->slot[find(s, id)][0] != '\0'; }
long ex_set_count(const ex_set_t *s) { return s->count; }

int ex_set_add(ex_set_t *s, const char *id) {
    if (!*id || strlen(id) >= EX_ID_MAX) die("bad page id '%s'", id);
    long i = find(s, id);
    if (s->slot[i][0]) return 0;
    strcpy(s->slot[i], id);
    if (++s->count * 2 > s->cap) { /* grow: rehash every id into a table twice the size */
        ex_set_t old = *s;
        s->cap *= 2;
        s->slot = Malloc((size_t)s->cap * EX_ID_MAX);
        for (long k = 0; k < old.cap; k++)
            if (old.slot[k][0]) strcpy(s->slot[find(s, old.slot[k])], old.slot[k]);
        free(old.slot);
    }
    return 1;
}

void ex_list_push(ex_list_t *l, const char *id) {
    if (l->len == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->id = realloc(l->id, (size_t)l->cap * EX_ID_MAX);
        if (!l->id) die("out of memory");
    }
    snprintf(l->id[l->len++], EX_ID_MAX, "%s", id);
}

const char *ex_list_pop(ex_list_t *l) { return l->head < l->len ? l->id[l->head++] : NULL; }

void ex_list_free(ex_list_t *l) {
    free(l->id);
    *l = (ex_list_t){0};
}
