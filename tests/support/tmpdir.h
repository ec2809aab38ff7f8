/* Test support: temporary directories that remove themselves, for file-backed stores. */
#ifndef TASKER_TEST_TMPDIR_H
#define TASKER_TEST_TMPDIR_H

/* Creates a fresh directory under $TMPDIR (or /tmp) named tasker-test-XXXXXX and returns
 * its malloc'd path. Aborts the test program if it cannot. */
char *tmpdir_make(void);
/* Returns malloc'd "dir/name". Aborts on out of memory. */
char *tmpdir_join(const char *dir, const char *name);
/* Removes the directory and everything in it, and frees dir. NULL is a no-op. */
void tmpdir_remove(char *dir);


/* A cmocka fixture: a fresh directory and a database path in it ("dir/t.db").
 * tmpfile_setup puts a tmpfile_fixture in *state; tmpfile_teardown removes both. */
typedef struct {
    char *dir;
    char *path;
} tmpfile_fixture;
int tmpfile_setup(void **state);
int tmpfile_teardown(void **state);

#endif
