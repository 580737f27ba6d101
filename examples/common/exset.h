/* The examples' two containers for page ids: a set (the guide's `visited = set()`) and a list that
 * also serves as a FIFO queue (`to_visit`). Not thread-safe: callers lock, and that is the lesson. */
#ifndef EXSET_H
#define EXSET_H

#include "exhttp.h"

typedef struct ex_set ex_set_t;
ex_set_t *ex_set_new(void);
void ex_set_free(ex_set_t *s);
int ex_set_add(ex_set_t *s, const char *id); /* 1 when id was new, 0 when already there */
int ex_set_has(const ex_set_t *s, const char *id);
long ex_set_count(const ex_set_t *s);

typedef struct {
    char (*id)[EX_ID_MAX];
    long head, len, cap; /* items [head, len): a list from 0, a queue from head */
} ex_list_t;

void ex_list_push(ex_list_t *l, const char *id);
const char *ex_list_pop(ex_list_t *l); /* the oldest item, or NULL when empty */
void ex_list_free(ex_list_t *l);

#endif
