/* The storage conformance suite: the one set of tests every storage driver passes
 * (memory, SQLite, MySQL, and custom drivers). It talks to the driver's ops directly,
 * sets st->env itself (retention numbers and a fake clock it controls, as the core
 * does), and closes the store at the end of each test.
 *
 * A driver's test file is then:
 *
 *   static tasker_storage *open_memory(void *udata) { return tasker_memory_storage(); }
 *   int main(void) { return tasker_storage_conformance("memory", open_memory, NULL); }
 *
 * Set TASKER_CONFORMANCE_FILTER to a cmocka glob ("*retention*") to run some tests only.
 */
#ifndef TASKER_TESTS_STORAGE_CONFORMANCE_H
#define TASKER_TESTS_STORAGE_CONFORMANCE_H

#include <tasker/storage.h>

/* Returns a fresh, EMPTY store on each call (NULL fails the test). */
typedef tasker_storage *(*conformance_open_fn)(void *udata);

/* Runs every conformance test as a cmocka group named name; returns the number of
 * failures (0 = the driver conforms). */
int tasker_storage_conformance(const char *name, conformance_open_fn open, void *udata);

#endif
