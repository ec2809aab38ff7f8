/* The min-heap behind the schedule loop: the earliest next fire is at the top. */
#include "core/heap.h"

#include <stdlib.h>

static void swap(heap *h, size_t a, size_t b)
{
    heap_item *t = h->v[a];
    h->v[a] = h->v[b];
    h->v[b] = t;
    h->v[a]->index = a;
    h->v[b]->index = b;
}

static void sift_up(heap *h, size_t i)
{
    while (i > 0 && h->v[(i - 1) / 2]->key > h->v[i]->key) {
        swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void sift_down(heap *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->len && h->v[l]->key < h->v[m]->key) m = l;
        if (r < h->len && h->v[r]->key < h->v[m]->key) m = r;
        if (m == i) return;
        swap(h, i, m);
        i = m;
    }
}

int heap_push(heap *h, heap_item *it)
{
    if (h->len == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        heap_item **v = realloc(h->v, cap * sizeof *v);
        if (!v) return -1;
        h->v = v;
        h->cap = cap;
    }
    it->index = h->len;
    h->v[h->len++] = it;
    sift_up(h, it->index);
    return 0;
}

heap_item *heap_top(const heap *h)
{
    return h->len ? h->v[0] : NULL;
}

void heap_remove(heap *h, heap_item *it)
{
    size_t i = it->index;
    if (i >= h->len || h->v[i] != it) return;
    swap(h, i, h->len - 1);
    h->len--;
    if (i < h->len) {
        sift_up(h, i);
        sift_down(h, i);
    }
}

heap_item *heap_pop(heap *h)
{
    heap_item *top = heap_top(h);
    if (top) heap_remove(h, top);
    return top;
}

void heap_free(heap *h)
{
    free(h->v);
    h->v = NULL;
    h->len = h->cap = 0;
}
