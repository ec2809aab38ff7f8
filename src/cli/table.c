/* Aligned text tables: rows are collected, then printed with each column as wide as
 * its widest cell. Widths count characters (UTF-8 code points), not bytes, so names
 * with accents line up; colour codes are added at print time, outside the padding. */
#include "cli/output.h"

#include <stdlib.h>
#include <string.h>

struct out_table {
    int ncols;
    char **headers;      /* ncols */
    int *max_width;      /* ncols; 0 = no limit */
    char **cells;        /* nrows * ncols */
    cli_colour *colours; /* nrows * ncols */
    size_t nrows, cap;
};

static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) w++;
    return w;
}

/* A copy of s fit for one cell: control characters (newlines in a message) become
 * spaces, and text beyond max_width characters is replaced by "...". */
static char *cell_text(const char *s, int max_width)
{
    if (!s) s = "-";
    size_t len = strlen(s);
    char *out = malloc(len + 4);
    if (!out) return NULL;
    size_t w = 0, i = 0, o = 0;
    for (; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        bool starts_char = (ch & 0xC0) != 0x80;
        if (starts_char && max_width > 3 && w == (size_t)max_width - 3 && text_width(s + i) > 3) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (starts_char) w++;
        out[o++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    out[o] = '\0';
    return out;
}

out_table *table_new(int ncols, const char *const *headers)
{
    out_table *tb = calloc(1, sizeof *tb);
    if (!tb) return NULL;
    tb->ncols = ncols;
    tb->headers = calloc((size_t)ncols, sizeof *tb->headers);
    tb->max_width = calloc((size_t)ncols, sizeof *tb->max_width);
    if (!tb->headers || !tb->max_width) goto fail;
    for (int c = 0; c < ncols; c++)
        if (!(tb->headers[c] = strdup(headers[c]))) goto fail;
    return tb;
fail:
    table_free(tb);
    return NULL;
}

void table_set_max_width(out_table *tb, int col, int width)
{
    if (col >= 0 && col < tb->ncols) tb->max_width[col] = width;
}

bool table_add_row(out_table *tb, const char *const *cells, const cli_colour *colours)
{
    if (tb->nrows == tb->cap) {
        size_t cap = tb->cap ? tb->cap * 2 : 16;
        char **c = realloc(tb->cells, cap * (size_t)tb->ncols * sizeof *c);
        if (!c) return false;
        tb->cells = c;
        cli_colour *k = realloc(tb->colours, cap * (size_t)tb->ncols * sizeof *k);
        if (!k) return false;
        tb->colours = k;
        tb->cap = cap;
    }
    size_t base = tb->nrows * (size_t)tb->ncols;
    for (int c = 0; c < tb->ncols; c++) {
        char *text = cell_text(cells[c], tb->max_width[c]);
        if (!text) {
            while (c-- > 0)
                free(tb->cells[base + (size_t)c]);
            return false;
        }
        tb->cells[base + (size_t)c] = text;
        tb->colours[base + (size_t)c] = colours ? colours[c] : CLR_NONE;
    }
    tb->nrows++;
    return true;
}

/* One row: two spaces between columns, each padded to its width; nothing after the
 * last non-empty cell, so lines carry no trailing blanks. */
static void print_row(FILE *f, char *const *cells, const cli_colour *colours, const size_t *width,
                      int ncols)
{
    int last = ncols - 1;
    while (last > 0 && cells[last][0] == '\0')
        last--;
    for (int c = 0; c <= last; c++) {
        cli_colour colour = colours ? colours[c] : CLR_BOLD;
        fprintf(f, "%s%s%s", out_colour_on(colour), cells[c], out_colour_off(colour));
        if (c == last) break;
        for (size_t w = text_width(cells[c]); w < width[c] + 2; w++)
            fputc(' ', f);
    }
    fputc('\n', f);
}

void table_print(const out_table *tb, FILE *f)
{
    size_t *width = calloc((size_t)tb->ncols, sizeof *width);
    if (!width) return;
    for (int c = 0; c < tb->ncols; c++) {
        width[c] = text_width(tb->headers[c]);
        for (size_t r = 0; r < tb->nrows; r++) {
            size_t w = text_width(tb->cells[r * (size_t)tb->ncols + (size_t)c]);
            if (w > width[c]) width[c] = w;
        }
    }
    print_row(f, tb->headers, NULL, width, tb->ncols); /* headers in bold */
    for (size_t r = 0; r < tb->nrows; r++) {
        size_t first = r * (size_t)tb->ncols;
        print_row(f, tb->cells + first, tb->colours + first, width, tb->ncols);
    }
    free(width);
}

void table_free(out_table *tb)
{
    if (!tb) return;
    for (size_t i = 0; i < tb->nrows * (size_t)tb->ncols; i++)
        free(tb->cells[i]);
    if (tb->headers)
        for (int c = 0; c < tb->ncols; c++)
            free(tb->headers[c]);
    free(tb->headers);
    free(tb->max_width);
    free(tb->cells);
    free(tb->colours);
    free(tb);
}
