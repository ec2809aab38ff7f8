/* Cron expression text to a tasker_cron: the CRON_TZ=/TZ= prefix, descriptors
 * (@daily, @every_second...), "@every D", and the split into 5 or 6 fields (fields.c
 * parses each, with the key that H hashes). */
#include "cron_internal.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

#define CRON_MAX_EXPR 1024

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && is_space(*p))
        p++;
    return p;
}

static const char *skip_word(const char *p, const char *end)
{
    while (p < end && !is_space(*p))
        p++;
    return p;
}

static bool word_is(const char *w, size_t len, const char *lit)
{
    if (strlen(lit) != len) return false;
    for (size_t i = 0; i < len; i++) {
        char ch = w[i] >= 'A' && w[i] <= 'Z' ? (char)(w[i] + 32) : w[i];
        if (ch != lit[i]) return false;
    }
    return true;
}

/* "@every 1h30m": units h, m, s, ms, any number of parts, total above zero. */
static int parse_every(tasker_cron *c, const char *p, const char *end)
{
    const char *start = p;
    int64_t total_us = 0;
    if (p == end) return tasker_fail(TASKER_EINVAL, "cron: @every needs a duration (@every 1h30m)");
    while (p < end) {
        int64_t n = 0, unit_us;
        const char *digits = p;
        while (p < end && *p >= '0' && *p <= '9') {
            if (n > INT64_MAX / 100) goto bad;
            n = n * 10 + (*p++ - '0');
        }
        if (p == digits || p == end) goto bad;
        if (end - p >= 2 && p[0] == 'm' && p[1] == 's') {
            unit_us = 1000;
            p += 2;
        } else if (*p == 'h' || *p == 'm' || *p == 's') {
            unit_us = *p == 'h' ? 3600000000LL : *p == 'm' ? 60000000LL : 1000000LL;
            p++;
        } else {
            goto bad;
        }
        if (n > (INT64_MAX / 4 - total_us) / unit_us)
            return tasker_fail(TASKER_EINVAL, "cron: @every: duration '%.*s' is too long",
                               (int)(end - start > 64 ? 64 : end - start), start);
        total_us += n * unit_us;
    }
    if (total_us <= 0)
        return tasker_fail(TASKER_EINVAL, "cron: @every: duration must be above zero");
    c->every = true;
    c->every_us = total_us;
    return TASKER_OK;
bad:
    return tasker_fail(TASKER_EINVAL,
                       "cron: @every: bad duration '%.*s' (use h, m, s, ms: 1h30m, 90s)",
                       (int)(end - start > 64 ? 64 : end - start), start);
}

/* The 5-field equivalents of the descriptors. */
static const struct {
    const char *name;
    const char *fields;
} descriptors[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"},     {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},        {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"}, {"@every_minute", "* * * * *"}, {"@every_second", "* * * * * *"},
};

static int parse_fields(tasker_cron *c, const char *p, const char *end, const char *key);

static int parse_descriptor(tasker_cron *c, const char *p, const char *end, const char *key)
{
    const char *word_end = skip_word(p, end);
    const char *rest = skip_space(word_end, end);
    size_t len = (size_t)(word_end - p);
    if (word_is(p, len, "@every")) return parse_every(c, rest, end);
    for (size_t i = 0; i < sizeof descriptors / sizeof descriptors[0]; i++) {
        if (!word_is(p, len, descriptors[i].name)) continue;
        if (rest != end)
            return tasker_fail(TASKER_EINVAL, "cron: %s takes nothing after it, got '%.*s'",
                               descriptors[i].name, (int)(end - rest > 64 ? 64 : end - rest), rest);
        const char *f = descriptors[i].fields;
        return parse_fields(c, f, f + strlen(f), key);
    }
    return tasker_fail(TASKER_EINVAL, "cron: unknown descriptor '%.*s'", (int)(len > 32 ? 32 : len),
                       p);
}

static int parse_fields(tasker_cron *c, const char *p, const char *end, const char *key)
{
    const char *starts[6], *ends[6];
    int n = 0, rc;
    while ((p = skip_space(p, end)) < end) {
        if (n < 6) {
            starts[n] = p;
            ends[n] = skip_word(p, end);
        }
        n++;
        p = skip_word(p, end);
    }
    if (n != 5 && n != 6)
        return tasker_fail(TASKER_EINVAL, "cron: expected 5 or 6 fields, got %d", n);
    for (int i = 0; i < n; i++) {
        int index = n == 6 ? i : i + 1;
        if ((rc = cron_parse_field(c, index, starts[i], (size_t)(ends[i] - starts[i]), key)) !=
            TASKER_OK)
            return rc;
    }
    if (n == 5) c->sec = 1; /* second 0 */
    return TASKER_OK;
}

/* "CRON_TZ=Area/City " or "TZ=Area/City ": sets c->zone and advances *p past it. */
static int parse_zone_prefix(tasker_cron *c, const char **p, const char *end)
{
    size_t skip = 0;
    if (end - *p >= 8 && memcmp(*p, "CRON_TZ=", 8) == 0)
        skip = 8;
    else if (end - *p >= 3 && memcmp(*p, "TZ=", 3) == 0)
        skip = 3;
    if (!skip) {
        c->zone = tz_local();
        return TASKER_OK;
    }
    const char *name = *p + skip;
    const char *name_end = skip_word(name, end);
    int rc = tz_find(name, (size_t)(name_end - name), &c->zone);
    *p = name_end;
    return rc;
}

int tasker_cron_parse(const char *expr, tasker_cron **out)
{
    return tasker_cron_parse_key(expr, NULL, out);
}

int tasker_cron_parse_key(const char *expr, const char *hash_key, tasker_cron **out)
{
    tasker_cron *c = NULL;
    const char *p, *end;
    int rc = TASKER_EINVAL;
    if (!expr || !out) {
        rc = tasker_fail(TASKER_EINVAL, "cron: expression or output is NULL");
        goto out;
    }
    *out = NULL;
    end = expr + strnlen(expr, CRON_MAX_EXPR + 1);
    if (end - expr > CRON_MAX_EXPR) {
        rc = tasker_fail(TASKER_EINVAL, "cron: expression is longer than %d bytes", CRON_MAX_EXPR);
        goto out;
    }
    if (!(c = calloc(1, sizeof *c))) {
        rc = tasker_fail(TASKER_ENOMEM, "cron: out of memory");
        goto out;
    }
    p = skip_space(expr, end);
    if ((rc = parse_zone_prefix(c, &p, end)) != TASKER_OK) goto out;
    p = skip_space(p, end);
    while (end > p && is_space(end[-1]))
        end--;
    if (p < end && *p == '@')
        rc = parse_descriptor(c, p, end, hash_key);
    else
        rc = parse_fields(c, p, end, hash_key);
    if (rc == TASKER_OK) {
        *out = c;
        c = NULL;
    }
out:
    free(c);
    return rc;
}

void tasker_cron_set_anchor(tasker_cron *c, int64_t anchor_us)
{
    if (c) c->anchor_us = anchor_us;
}

void tasker_cron_free(tasker_cron *c)
{
    free(c); /* the zone belongs to the cache */
}

bool tasker_cron_is_hashed(const tasker_cron *c)
{
    return c && c->hashed;
}

bool tasker_cron_is_every(const tasker_cron *c)
{
    return c && c->every;
}

int64_t tasker_cron_every_us(const tasker_cron *c)
{
    return c && c->every ? c->every_us : 0;
}

const char *tasker_cron_zone_name(const tasker_cron *c)
{
    return tz_name(c->zone);
}
