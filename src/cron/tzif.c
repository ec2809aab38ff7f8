/* Time zones from TZif files (RFC 8536, versions 1 to 3): reading them, caching them
 * for the life of the process, and answering "which offset holds at this instant".
 * The table gives past transitions; the POSIX TZ footer (tzrule.c) the rest. Leap
 * second records are skipped: cron works on POSIX time, where they do not exist. */
#include "tz.h"

#include "core/error.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TZIF_MAX_BYTES (1 << 20) /* real files are under 4 KB */
#define TZIF_HEADER_BYTES 44
#define TZ_MAX_NAME 255
#define TZ_MAX_OFF_S (26 * 3600) /* RFC 8536 bounds offsets to under 25 h */

struct tz_zone {
    char *key;  /* what the cache is keyed by: a file path or "posix:" + TZ string */
    char *name; /* what the user wrote */
    struct tz_zone *next_cached;
    size_t n;       /* transitions */
    int64_t *at_s;  /* transition instants, strictly ascending */
    int32_t *off_s; /* offset from each transition on */
    int32_t off0_s; /* offset before the first transition (type 0) */
    bool has_rule;
    tz_rule rule;
};

static struct tz_zone utc_zone = {.key = "posix:UTC0", .name = "UTC"};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER; /* guards cache_head */
static struct tz_zone *cache_head;

const tz_zone *tz_utc(void)
{
    return &utc_zone;
}

const char *tz_name(const tz_zone *z)
{
    return z->name;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct {
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} tzif_counts;

static bool read_header(const unsigned char *p, size_t avail, tzif_counts *h, char *version)
{
    if (avail < TZIF_HEADER_BYTES || memcmp(p, "TZif", 4) != 0) return false;
    *version = (char)p[4];
    h->isutcnt = be32(p + 20);
    h->isstdcnt = be32(p + 24);
    h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32);
    h->typecnt = be32(p + 36);
    h->charcnt = be32(p + 40);
    /* Every count is bounded by the file size, which keeps the sums below from
     * overflowing. */
    return h->typecnt >= 1 && h->typecnt <= 256 && h->timecnt <= avail && h->leapcnt <= avail &&
           h->charcnt <= avail && h->isutcnt <= avail && h->isstdcnt <= avail;
}

static size_t block_bytes(const tzif_counts *h, size_t time_size)
{
    return h->timecnt * time_size + h->timecnt + h->typecnt * 6 + h->charcnt +
           h->leapcnt * (time_size + 4) + h->isstdcnt + h->isutcnt;
}

/* Fills z's table from the data block at p (time_size 4 for v1, 8 for v2+). */
static bool read_block(struct tz_zone *z, const unsigned char *p, const tzif_counts *h,
                       size_t time_size)
{
    const unsigned char *idx = p + h->timecnt * time_size;
    const unsigned char *types = idx + h->timecnt;
    z->n = h->timecnt;
    z->at_s = calloc(z->n ? z->n : 1, sizeof *z->at_s);
    z->off_s = calloc(z->n ? z->n : 1, sizeof *z->off_s);
    if (!z->at_s || !z->off_s) return false;
    for (uint32_t i = 0; i < h->typecnt; i++) {
        int32_t off = (int32_t)be32(types + 6 * i);
        if (off <= -TZ_MAX_OFF_S || off >= TZ_MAX_OFF_S) return false;
    }
    z->off0_s = (int32_t)be32(types);
    for (size_t i = 0; i < z->n; i++) {
        int64_t at = time_size == 8 ? be64(p + 8 * i) : (int32_t)be32(p + 4 * i);
        if (idx[i] >= h->typecnt || (i > 0 && at <= z->at_s[i - 1])) return false;
        z->at_s[i] = at;
        z->off_s[i] = (int32_t)be32(types + 6 * idx[i]);
    }
    return true;
}

/* Parses a whole TZif file. Returns false when it is not one. */
static bool parse_tzif(struct tz_zone *z, const unsigned char *buf, size_t len)
{
    tzif_counts h;
    char version;
    size_t body;
    if (!read_header(buf, len, &h, &version)) return false;
    body = block_bytes(&h, 4);
    if (len - TZIF_HEADER_BYTES < body) return false;
    if (version == '\0') return read_block(z, buf + TZIF_HEADER_BYTES, &h, 4);
    buf += TZIF_HEADER_BYTES + body;
    len -= TZIF_HEADER_BYTES + body;
    if (!read_header(buf, len, &h, &version)) return false;
    body = block_bytes(&h, 8);
    if (len - TZIF_HEADER_BYTES < body || !read_block(z, buf + TZIF_HEADER_BYTES, &h, 8))
        return false;
    buf += TZIF_HEADER_BYTES + body;
    len -= TZIF_HEADER_BYTES + body;
    /* The footer: "\n" TZ-string "\n". An empty string means no rule. */
    if (len >= 2 && buf[0] == '\n') {
        const unsigned char *nl = memchr(buf + 1, '\n', len - 1);
        if (nl && nl > buf + 1)
            z->has_rule = tz_rule_parse((const char *)buf + 1, (size_t)(nl - buf - 1), &z->rule);
    }
    return true;
}

static void zone_free(struct tz_zone *z)
{
    if (!z) return;
    free(z->key);
    free(z->name);
    free(z->at_s);
    free(z->off_s);
    free(z);
}

static unsigned char *read_file(const char *path, size_t *len)
{
    unsigned char *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    buf = malloc(TZIF_MAX_BYTES);
    if (buf) *len = fread(buf, 1, TZIF_MAX_BYTES, f);
    if (buf && (ferror(f) || *len == TZIF_MAX_BYTES)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

static struct tz_zone *zone_new(const char *key, const char *name)
{
    struct tz_zone *z = calloc(1, sizeof *z);
    if (!z) return NULL;
    z->key = strdup(key);
    z->name = strdup(name);
    if (!z->key || !z->name) {
        zone_free(z);
        return NULL;
    }
    return z;
}

/* Loads a zone from the file at path (key "path") or from a POSIX TZ string (key
 * "posix:..."). Caller holds cache_lock. NULL when it is neither. */
static struct tz_zone *zone_load(const char *key, const char *name)
{
    struct tz_zone *z = zone_new(key, name);
    if (!z) return NULL;
    if (strncmp(key, "posix:", 6) == 0) {
        if (tz_rule_parse(key + 6, strlen(key + 6), &z->rule)) {
            z->has_rule = true;
            z->off0_s = z->rule.std_off_s;
            return z;
        }
    } else {
        size_t len = 0;
        unsigned char *buf = read_file(key, &len);
        bool ok = buf && parse_tzif(z, buf, len);
        free(buf);
        if (ok) return z;
    }
    zone_free(z);
    return NULL;
}

/* The cached zone for key, loading and caching it on first use. */
static const tz_zone *zone_get(const char *key, const char *name)
{
    struct tz_zone *z;
    pthread_mutex_lock(&cache_lock);
    for (z = cache_head; z; z = z->next_cached)
        if (strcmp(z->key, key) == 0) goto out;
    z = zone_load(key, name);
    if (z) {
        z->next_cached = cache_head;
        cache_head = z;
    }
out:
    pthread_mutex_unlock(&cache_lock);
    return z;
}

/* A zone name may not climb out of the zone directory nor name something odd. */
static bool name_is_safe(const char *name, size_t len)
{
    if (len == 0 || len > TZ_MAX_NAME || name[0] == '/' || name[0] == '.') return false;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= '0' && ch <= '9') || ch == '/' || ch == '_' || ch == '-' || ch == '+' ||
                  ch == '.';
        if (!ok || (ch == '.' && i > 0 && name[i - 1] == '.') || (ch == '.' && name[i - 1] == '/'))
            return false;
    }
    return true;
}

static const char *zone_dir(void)
{
    const char *dir = getenv("TZDIR");
    return dir && *dir ? dir : "/usr/share/zoneinfo";
}

int tz_find(const char *name, size_t len, const tz_zone **out)
{
    char path[4096];
    char plain[TZ_MAX_NAME + 1];
    const tz_zone *z = NULL;
    if (name_is_safe(name, len)) {
        memcpy(plain, name, len);
        plain[len] = '\0';
        if (snprintf(path, sizeof path, "%s/%s", zone_dir(), plain) < (int)sizeof path)
            z = zone_get(path, plain);
    }
    if (!z)
        return tasker_fail(TASKER_EINVAL, "cron: unknown time zone '%.*s'",
                           (int)(len > TZ_MAX_NAME ? TZ_MAX_NAME : len), name);
    *out = z;
    return TASKER_OK;
}

const tz_zone *tz_local(void)
{
    const char *tz = getenv("TZ");
    char key[4096];
    const tz_zone *z = NULL;
    if (!tz)
        z = zone_get("/etc/localtime", "localtime");
    else {
        if (*tz == ':') tz++;
        if (*tz == '\0' || strlen(tz) > TZ_MAX_NAME) return &utc_zone;
        if (*tz == '/')
            z = zone_get(tz, tz);
        else if (name_is_safe(tz, strlen(tz)) &&
                 snprintf(key, sizeof key, "%s/%s", zone_dir(), tz) < (int)sizeof key)
            z = zone_get(key, tz);
        if (!z && snprintf(key, sizeof key, "posix:%s", tz) < (int)sizeof key)
            z = zone_get(key, tz);
    }
    return z ? z : &utc_zone;
}

/* The index of the last transition at or before t_s, or -1. */
static ptrdiff_t last_transition(const struct tz_zone *z, int64_t t_s)
{
    size_t lo = 0, hi = z->n; /* answer + 1 lies in [lo, hi] */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->at_s[mid] <= t_s)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (ptrdiff_t)lo - 1;
}

void tz_span_at(const tz_zone *z, int64_t t_s, tz_span *out)
{
    ptrdiff_t k = last_transition(z, t_s);
    if (z->n == 0 && z->has_rule) {
        tz_rule_span(&z->rule, t_s, out);
        return;
    }
    if (k < 0) {
        *out = (tz_span){INT64_MIN, z->n ? z->at_s[0] : INT64_MAX, z->off0_s, z->off0_s};
        return;
    }
    *out = (tz_span){z->at_s[k], INT64_MAX, z->off_s[k], k > 0 ? z->off_s[k - 1] : z->off0_s};
    if ((size_t)k + 1 < z->n) {
        out->end_s = z->at_s[k + 1];
    } else if (z->has_rule) {
        /* Past the table: the footer rule decides, from the last transition on. */
        tz_span rs;
        tz_rule_span(&z->rule, t_s, &rs);
        if (rs.start_s > out->start_s)
            *out = rs;
        else
            out->end_s = rs.end_s;
    }
}
