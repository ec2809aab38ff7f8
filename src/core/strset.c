/* A hash multiset of strings, chained, doubling when the load passes 1. */
#include "core/strset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct strset_node {
    struct strset_node *next;
    int count;
    char key[];
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

void strset_init(strset *s)
{
    memset(s, 0, sizeof *s);
}

void strset_free(strset *s)
{
    for (size_t i = 0; i < s->nbuckets; i++) {
        strset_node *n = s->buckets[i];
        while (n) {
            strset_node *next = n->next;
            free(n);
            n = next;
        }
    }
    free(s->buckets);
    memset(s, 0, sizeof *s);
}

static strset_node **find_slot(const strset *s, const char *key)
{
    if (!s->nbuckets) return NULL;
    strset_node **p = &s->buckets[hash_str(key) & (s->nbuckets - 1)];
    while (*p && strcmp((*p)->key, key) != 0) p = &(*p)->next;
    return p;
}

static int grow(strset *s)
{
    size_t nb = s->nbuckets ? s->nbuckets * 2 : 64;
    strset_node **b = calloc(nb, sizeof *b);
    if (!b) return -1;
    for (size_t i = 0; i < s->nbuckets; i++) {
        strset_node *n = s->buckets[i];
        while (n) {
            strset_node *next = n->next;
            size_t h = hash_str(n->key) & (nb - 1);
            n->next = b[h];
            b[h] = n;
            n = next;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = nb;
    return 0;
}

int strset_add(strset *s, const char *key)
{
    if (s->len >= s->nbuckets && grow(s) != 0) return -1;
    strset_node **p = find_slot(s, key);
    if (*p) return ++(*p)->count;
    size_t len = strlen(key);
    strset_node *n = malloc(sizeof *n + len + 1);
    if (!n) return -1;
    memcpy(n->key, key, len + 1);
    n->count = 1;
    n->next = NULL;
    *p = n;
    s->len++;
    return 1;
}

int strset_remove(strset *s, const char *key)
{
    strset_node **p = find_slot(s, key);
    if (!p || !*p) return 0;
    int left = --(*p)->count;
    if (left <= 0) {
        strset_node *n = *p;
        *p = n->next;
        free(n);
        s->len--;
        return 0;
    }
    return left;
}

int strset_count(const strset *s, const char *key)
{
    strset_node **p = find_slot(s, key);
    return p && *p ? (*p)->count : 0;
}
