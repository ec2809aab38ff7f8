/* Internal: a binary min-heap of pointers ordered by a 64-bit key, with each item
 * remembering its own index (intrusive, as libuv's timer heap), so removal is O(log n). */
#ifndef TASKER_SRC_HEAP_H
#define TASKER_SRC_HEAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct heap_item {
    int64_t key;
    size_t index;
} heap_item;

typedef struct heap {
    heap_item **v;
    size_t len, cap;
} heap;

int heap_push(heap *h, heap_item *it);    /* 0, or -1 when out of memory */
heap_item *heap_top(const heap *h);        /* NULL when empty */
heap_item *heap_pop(heap *h);              /* NULL when empty */
void heap_remove(heap *h, heap_item *it);
void heap_free(heap *h);                   /* frees the array, not the items */

#endif
