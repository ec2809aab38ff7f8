/* One cron field's text to bit sets: lists, ranges, steps, names, the hashed values (H,
 * H(a-b), H/n), and the dom and dow specials (L, L-n, nW, LW, L-nW, nL, n#k). Every
 * error names the field and the list item. */
#include "cron_internal.h"

#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { F_SEC, F_MIN, F_HOUR, F_DOM, F_MON, F_DOW };

typedef struct {
    const char *name;
    int min, max;             /* accepted values */
    int step_max;             /* largest value a '*' or 'a/n' reaches (dow: 6, not 7) */
    const char *const *names; /* three-letter names for values names_base... */
    int names_base;
} field_def;

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL",
                                          "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

static const field_def field_defs[6] = {
    {"second", 0, 59, 59, NULL, 0},       {"minute", 0, 59, 59, NULL, 0},
    {"hour", 0, 23, 23, NULL, 0},         {"dom", 1, 31, 31, NULL, 0},
    {"month", 1, 12, 12, month_names, 1}, {"dow", 0, 7, 6, day_names, 0},
};

/* Parsing state for one list item; item/item_len are quoted in messages. */
typedef struct {
    const field_def *def;
    const char *item;
    size_t item_len;
    const char *p;
    const char *end;
    const char *key; /* what H hashes; NULL when the caller gave none */
} item_ctx;

__attribute__((format(printf, 2, 3))) static int fail_item(const item_ctx *x, const char *fmt, ...)
{
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return tasker_fail(TASKER_EINVAL, "cron: field '%s' (\"%.*s\"): %s", x->def->name,
                       (int)(x->item_len > 64 ? 64 : x->item_len), x->item, detail);
}

static char upper(char ch)
{
    return ch >= 'a' && ch <= 'z' ? (char)(ch - 32) : ch;
}

static bool is_letter(char ch)
{
    return upper(ch) >= 'A' && upper(ch) <= 'Z';
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool at(const item_ctx *x, char ch)
{
    return x->p < x->end && upper(*x->p) == ch;
}

/* A three-letter name of this field. A dow name may be followed by 'L' ("FRIL"). */
static int read_name(item_ctx *x, int *value)
{
    const char *start = x->p;
    size_t len = 0;
    while (x->p + len < x->end && is_letter(x->p[len]))
        len++;
    bool with_l = x->def->names == day_names && len == 4 && upper(x->p[3]) == 'L';
    if (x->def->names && (len == 3 || with_l)) {
        for (int i = 0; x->def->names[i]; i++) {
            if (upper(start[0]) == x->def->names[i][0] && upper(start[1]) == x->def->names[i][1] &&
                upper(start[2]) == x->def->names[i][2]) {
                *value = x->def->names_base + i;
                x->p += 3;
                return TASKER_OK;
            }
        }
    }
    if (!x->def->names)
        return fail_item(x, "'%.*s' is not a number", (int)(len > 16 ? 16 : len), start);
    return fail_item(x, "unknown name '%.*s'", (int)(len > 16 ? 16 : len), start);
}

/* A number or name within [lo, hi]. */
static int read_value(item_ctx *x, int lo, int hi, int *value)
{
    const char *start = x->p;
    long long v = 0;
    if (x->p < x->end && is_letter(*x->p)) return read_name(x, value);
    if (x->p >= x->end || !is_digit(*x->p)) {
        if (x->p >= x->end) return fail_item(x, "a number is missing");
        return fail_item(x, "unexpected '%c'", *x->p);
    }
    while (x->p < x->end && is_digit(*x->p)) {
        if (v < 1000000) v = v * 10 + (*x->p - '0');
        x->p++;
    }
    if (v < lo || v > hi)
        return fail_item(x, "%.*s is out of range %d-%d",
                         (int)(x->p - start > 16 ? 16 : x->p - start), start, lo, hi);
    *value = (int)v;
    return TASKER_OK;
}

static int expect_end(item_ctx *x)
{
    if (x->p < x->end) return fail_item(x, "unexpected '%c'", *x->p);
    return TASKER_OK;
}

static void set_bits(tasker_cron *c, int index, int lo, int hi, int step)
{
    for (int v = lo; v <= hi; v += step) {
        switch (index) {
        case F_SEC: c->sec |= 1ULL << v; break;
        case F_MIN: c->min |= 1ULL << v; break;
        case F_HOUR: c->hour |= 1U << v; break;
        case F_DOM: c->dom |= 1U << v; break;
        case F_MON: c->mon |= (uint16_t)(1U << v); break;
        default: c->dow |= (uint8_t)(1U << (v % 7)); break;
        }
    }
}

/* dom items that are not plain values: L, L-n, LW, L-nW, nW. Sets *done when it was one. */
static int dom_special(tasker_cron *c, item_ctx *x, bool *done)
{
    int n;
    *done = true;
    if (at(x, 'L')) {
        x->p++;
        n = 0;
        if (x->p < x->end && *x->p == '-') {
            x->p++;
            if (x->p >= x->end || !is_digit(*x->p))
                return fail_item(x, "L- needs a number of days (L-3)");
            if (read_value(x, 0, 30, &n) != TASKER_OK) return TASKER_EINVAL;
        }
        if (at(x, 'W')) { /* "LW", "L-nW": the weekday nearest that day */
            x->p++;
            c->dom_last_near |= 1U << n;
        } else {
            c->dom_last |= 1U << n;
        }
        return expect_end(x);
    }
    const char *w = x->p;
    while (w < x->end && is_digit(*w))
        w++;
    if (w > x->p && w < x->end && upper(*w) == 'W') {
        if (read_value(x, 1, 31, &n) != TASKER_OK) return TASKER_EINVAL;
        x->p++;
        c->dom_near |= 1U << n;
        return expect_end(x);
    }
    *done = false;
    return TASKER_OK;
}

/* dow items w#k and wL, after the weekday w was read. Sets *done when it was one. */
static int dow_special(tasker_cron *c, item_ctx *x, int w, bool *done)
{
    *done = true;
    if (at(x, 'L')) {
        x->p++;
        c->dow_last |= (uint8_t)(1U << (w % 7));
        return expect_end(x);
    }
    if (x->p < x->end && *x->p == '#') {
        const char *k_start = ++x->p;
        long long k = 0;
        while (x->p < x->end && is_digit(*x->p)) {
            if (k < 1000) k = k * 10 + (*x->p - '0');
            x->p++;
        }
        if (x->p == k_start || x->p < x->end || k < 1 || k > 5)
            return fail_item(x, "occurrence must be 1-5");
        c->dow_nth[w % 7] |= (uint8_t)(1U << (k - 1));
        return TASKER_OK;
    }
    *done = false;
    return TASKER_OK;
}

/* The n of "/n", 1 to span, ending the item. */
static int read_step(item_ctx *x, int span, int *step)
{
    long long v = 0;
    const char *start = ++x->p; /* past the '/' */
    while (x->p < x->end && is_digit(*x->p)) {
        if (v < 1000000) v = v * 10 + (*x->p - '0');
        x->p++;
    }
    if (x->p == start) return fail_item(x, "a step is missing after '/'");
    if (v < 1 || v > span)
        return fail_item(x, "step %.*s is out of range 1-%d",
                         (int)(x->p - start > 16 ? 16 : x->p - start), start, span);
    *step = (int)v;
    return expect_end(x);
}

static int field_span(const field_def *d)
{
    return d->step_max - d->min + 1;
}

uint64_t cron_key_hash(const char *key, int index)
{
    /* FNV-1a 64 over the key's bytes, then the field's position as one more byte, then
     * folded (h ^ h >> 32) so that a small modulus, which reads the low bits, depends on
     * every bit of every byte. Fixed forever: a schedule's H values must not move when
     * tasker is upgraded. */
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    h = (h ^ (unsigned char)index) * 0x100000001b3ULL;
    return h ^ h >> 32;
}

/* The "(a-b)" after H, with the parentheses. */
static int hash_range(int index, item_ctx *x, int *lo, int *hi)
{
    static const char shape[] = "H( needs a range and ')': H(0-29)";
    const field_def *d = x->def;
    int rc;
    x->p++;
    if ((rc = read_value(x, d->min, d->max, lo)) != TASKER_OK) return rc;
    if (x->p >= x->end || *x->p != '-') return fail_item(x, "%s", shape);
    x->p++;
    if ((rc = read_value(x, d->min, d->max, hi)) != TASKER_OK) return rc;
    if (index == F_DOW && *hi == 0 && *lo > 0) *hi = 7; /* as in "SAT-SUN" */
    if (*hi < *lo) return fail_item(x, "range %d-%d runs backwards", *lo, *hi);
    if (x->p >= x->end || *x->p != ')') return fail_item(x, "%s", shape);
    x->p++;
    return TASKER_OK;
}

/* "H", "H(a-b)", "H/n", "H(a-b)/n" (Jenkins' forms): one value of the range chosen by the
 * key's hash, or every n-th value from an offset the hash chooses among the first n.
 * Without a range, dom picks from 1-28 (days every month has) and dow from 0-6. */
static int hash_item(tasker_cron *c, int index, item_ctx *x)
{
    const field_def *d = x->def;
    int lo = d->min, hi = index == F_DOM ? 28 : d->step_max, step = 0, rc;
    if (!x->key)
        return tasker_fail(TASKER_EINVAL,
                           "cron: field '%s': H needs a key (the task id): use "
                           "tasker_cron_parse_key",
                           d->name);
    x->p++;
    if (x->p < x->end && *x->p == '(' && (rc = hash_range(index, x, &lo, &hi)) != TASKER_OK)
        return rc;
    if (x->p < x->end && *x->p == '/' && (rc = read_step(x, hi - lo + 1, &step)) != TASKER_OK)
        return rc;
    if ((rc = expect_end(x)) != TASKER_OK) return rc;
    uint64_t h = cron_key_hash(x->key, index);
    if (step) {
        set_bits(c, index, lo + (int)(h % (uint64_t)step), hi, step);
    } else {
        int v = lo + (int)(h % (uint64_t)(hi - lo + 1));
        set_bits(c, index, v, v, 1);
    }
    c->hashed = true;
    return TASKER_OK;
}

static int parse_item(tasker_cron *c, int index, item_ctx *x)
{
    const field_def *d = x->def;
    int lo, hi, step = 1, rc;
    bool done = false;
    if (x->p == x->end) return fail_item(x, "empty list element");
    if (at(x, 'H')) return hash_item(c, index, x);
    if (at(x, '*') || at(x, '?')) {
        if (at(x, '?') && index != F_DOM && index != F_DOW)
            return fail_item(x, "'?' is only allowed in dom and dow");
        x->p++;
        lo = d->min;
        hi = d->step_max;
        if (x->p < x->end && *x->p == '/' && (rc = read_step(x, field_span(d), &step)) != TASKER_OK)
            return rc;
        if ((rc = expect_end(x)) != TASKER_OK) return rc;
        set_bits(c, index, lo, hi, step);
        return TASKER_OK;
    }
    if (index == F_DOM && ((rc = dom_special(c, x, &done)) != TASKER_OK || done)) return rc;
    if (at(x, 'L') && (x->p + 1 == x->end || x->p[1] == '-' || upper(x->p[1]) == 'W'))
        return fail_item(x, "L is only allowed in dom, and after a weekday in dow (5L)");
    if ((rc = read_value(x, d->min, d->max, &lo)) != TASKER_OK) return rc;
    if (index == F_DOW && ((rc = dow_special(c, x, lo, &done)) != TASKER_OK || done)) return rc;
    hi = lo;
    if (x->p < x->end && *x->p == '-') {
        x->p++;
        if ((rc = read_value(x, d->min, d->max, &hi)) != TASKER_OK) return rc;
        if (index == F_DOW && hi == 0 && lo > 0)
            hi = 7; /* "SAT-SUN": Sunday as the end of a range is day 7 */
        if (hi < lo) return fail_item(x, "range %d-%d runs backwards", lo, hi);
    }
    if (x->p < x->end && *x->p == '/') {
        if (hi == lo) hi = d->step_max; /* "a/n": from a to the end of the field */
        if ((rc = read_step(x, field_span(d), &step)) != TASKER_OK) return rc;
    }
    if ((rc = expect_end(x)) != TASKER_OK) return rc;
    set_bits(c, index, lo, hi, step);
    return TASKER_OK;
}

int cron_parse_field(tasker_cron *c, int index, const char *s, size_t len, const char *key)
{
    const char *end = s + len;
    const char *item = s;
    if (index == F_DOM)
        c->dom_star = *s == '*' || *s == '?';
    else if (index == F_DOW)
        c->dow_star = *s == '*' || *s == '?';
    else if (index == F_HOUR) /* "H/n" steps like a star from another start: time passing */
        c->hour_star = *s == '*' || (len > 1 && upper(*s) == 'H' && s[1] == '/');
    for (;;) {
        const char *comma = memchr(item, ',', (size_t)(end - item));
        const char *item_end = comma ? comma : end;
        item_ctx x = {&field_defs[index], item, (size_t)(item_end - item), item, item_end, key};
        int rc = parse_item(c, index, &x);
        if (rc != TASKER_OK) return rc;
        if (!comma) return TASKER_OK;
        item = comma + 1;
    }
}
