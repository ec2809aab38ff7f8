/* Internal: a small hash multiset of strings (a count per string). Not thread-safe:
 * its owner's lock guards it. */
#ifndef TASKER_SRC_STRSET_H
#define TASKER_SRC_STRSET_H

#include <stdbool.h>
#include <stddef.h>

typedef struct strset_node strset_node;
typedef struct strset {
    strset_node **buckets;
    size_t nbuckets, len;
} strset;

void strset_init(strset *s);
void strset_free(strset *s);
/* Adds one to the string's count; returns the new count, or -1 when out of memory. */
int strset_add(strset *s, const char *key);
/* Takes one from the string's count (removing it at zero); returns the new count. */
int strset_remove(strset *s, const char *key);
/* The string's count; 0 when absent. */
int strset_count(const strset *s, const char *key);

#endif
