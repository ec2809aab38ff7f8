/* Interned cron expressions: a chained hash table from text to parsed expression. */
#include "core/cron_intern.h"

#include "cron/cron_internal.h"

#include <tasker/tasker.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct cron_intern_node {
    cron_intern_node *next;
    tasker_cron *cron;
    char text[];
};

static size_t hash_text(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

static cron_intern_node *find(const cron_intern *ci, const char *text)
{
    if (!ci->nbuckets) return NULL;
    for (cron_intern_node *n = ci->buckets[hash_text(text) % ci->nbuckets]; n; n = n->next)
        if (strcmp(n->text, text) == 0) return n;
    return NULL;
}

/* Doubles the table when it is full; false when out of memory (it stays usable). */
static bool grow(cron_intern *ci)
{
    if (ci->len < ci->nbuckets) return true;
    size_t nb = ci->nbuckets ? ci->nbuckets * 2 : 64;
    cron_intern_node **b = calloc(nb, sizeof *b);
    if (!b) return ci->nbuckets > 0;
    for (size_t i = 0; i < ci->nbuckets; i++)
        for (cron_intern_node *n = ci->buckets[i], *next; n; n = next) {
            next = n->next;
            size_t k = hash_text(n->text) % nb;
            n->next = b[k];
            b[k] = n;
        }
    free(ci->buckets);
    ci->buckets = b;
    ci->nbuckets = nb;
    return true;
}

int cron_intern_get(cron_intern *ci, const char *text, const char *key, tasker_cron **out,
                    bool *shared)
{
    cron_intern_node *n = find(ci, text);
    if (n) {
        *out = n->cron;
        *shared = true;
        return TASKER_OK;
    }
    *shared = false;
    int rc = tasker_cron_parse_key(text, key, out);
    if (rc != TASKER_OK || tasker_cron_is_hashed(*out) || tasker_cron_is_every(*out)) return rc;
    size_t len = strlen(text);
    if (!grow(ci) || !(n = malloc(sizeof *n + len + 1))) return TASKER_OK; /* unshared */
    memcpy(n->text, text, len + 1);
    n->cron = *out;
    size_t k = hash_text(text) % ci->nbuckets;
    n->next = ci->buckets[k];
    ci->buckets[k] = n;
    ci->len++;
    *shared = true;
    return TASKER_OK;
}

void cron_intern_clear(cron_intern *ci)
{
    for (size_t i = 0; i < ci->nbuckets; i++)
        for (cron_intern_node *n = ci->buckets[i], *next; n; n = next) {
            next = n->next;
            tasker_cron_free(n->cron);
            free(n);
        }
    free(ci->buckets);
    *ci = (cron_intern){0};
}
