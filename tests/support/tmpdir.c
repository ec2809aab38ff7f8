/* Test support: temporary directories (see tmpdir.h). */
#include "tmpdir.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *tmpdir_make(void)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    char *dir = tmpdir_join(base, "tasker-test-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("tmpdir_make: mkdtemp");
        abort();
    }
    return dir;
}

char *tmpdir_join(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = malloc(len);
    if (!path) abort();
    snprintf(path, len, "%s/%s", dir, name);
    return path;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void tmpdir_remove(char *dir)
{
    if (!dir) return;
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

int tmpfile_setup(void **state)
{
    tmpfile_fixture *f = calloc(1, sizeof *f);
    if (!f) abort();
    f->dir = tmpdir_make();
    f->path = tmpdir_join(f->dir, "t.db");
    *state = f;
    return 0;
}

int tmpfile_teardown(void **state)
{
    tmpfile_fixture *f = *state;
    free(f->path);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}
