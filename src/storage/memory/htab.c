/* The memory driver's small intrusive chained hash table: the caller embeds an hnode in
 * each record and compares keys itself, so an insert allocates nothing (but a grow). */
#include "storage/memory/internal.h"

#include <stdlib.h>

uint64_t mem_hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

uint64_t mem_hash_occurrence(const char *scheme_id, int64_t scheduled_us)
{
    uint64_t x = (uint64_t)scheduled_us * 0x9E3779B97F4A7C15ULL;
    return mem_hash_str(scheme_id) ^ (x >> 29) ^ x;
}

int mem_htab_init(htab *h)
{
    h->mask = 63;
    h->count = 0;
    h->slots = calloc(h->mask + 1, sizeof *h->slots);
    return h->slots ? TASKER_OK : TASKER_ENOMEM;
}

/* Doubles the table when it holds more entries than slots; a failed grow is harmless
 * (chains just get longer), so it reports nothing. */
static void maybe_grow(htab *h)
{
    if (h->count <= h->mask) return;
    size_t size = (h->mask + 1) * 2;
    hnode **slots = calloc(size, sizeof *slots);
    if (!slots) return;
    for (size_t i = 0; i <= h->mask; i++) {
        hnode *n = h->slots[i], *next;
        for (; n; n = next) {
            next = n->next;
            n->next = slots[n->hash & (size - 1)];
            slots[n->hash & (size - 1)] = n;
        }
    }
    free(h->slots);
    h->slots = slots;
    h->mask = size - 1;
}

void mem_htab_insert(htab *h, hnode *n, uint64_t hash)
{
    maybe_grow(h);
    n->hash = hash;
    n->next = h->slots[hash & h->mask];
    h->slots[hash & h->mask] = n;
    h->count++;
}

void mem_htab_remove(htab *h, hnode *n)
{
    hnode **p = &h->slots[n->hash & h->mask];
    while (*p && *p != n) p = &(*p)->next;
    if (*p) {
        *p = n->next;
        h->count--;
    }
}

hnode *mem_htab_first(const htab *h, uint64_t hash)
{
    hnode *n = h->slots[hash & h->mask];
    while (n && n->hash != hash) n = n->next;
    return n;
}

hnode *mem_htab_next(hnode *n)
{
    uint64_t hash = n->hash;
    for (n = n->next; n && n->hash != hash;) n = n->next;
    return n;
}

/* Calls fn on every node; fn may remove the node it is given. */
void mem_htab_each(htab *h, void (*fn)(hnode *n, void *arg), void *arg)
{
    for (size_t i = 0; i <= h->mask; i++) {
        hnode *n = h->slots[i], *next;
        for (; n; n = next) {
            next = n->next;
            fn(n, arg);
        }
    }
}

static void collect_node(hnode *n, void *arg)
{
    hnode ***cursor = arg;
    *(*cursor)++ = n;
}

size_t mem_htab_collect(htab *h, hnode **v)
{
    hnode **cursor = v;
    mem_htab_each(h, collect_node, &cursor);
    return (size_t)(cursor - v);
}
