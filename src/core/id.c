/* Time and ids. Ids are UUIDv7-shaped (48-bit millisecond time, then randomness) so
 * they sort by creation; within one millisecond the random tail is incremented instead
 * of redrawn, so ids from one process are strictly increasing. */
#include "core/internal.h"

#include <stdio.h>
#include <sys/random.h>
#include <time.h>

int64_t tasker_real_clock_us(void *udata)
{
    (void)udata;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void tasker_cond_init_mono(pthread_cond_t *c)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(c, &ca);
    pthread_condattr_destroy(&ca);
}

int64_t tasker_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct timespec tasker_mono_after_us(int64_t delay_us)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (delay_us % 1000000) * 1000;
    ts.tv_sec += (time_t)(delay_us / 1000000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    return ts;
}

/* One clock for the cluster: the handle's clock corrected by the offset to the store's
 * clock measured at the last heartbeat (0 for a store of one host). */
int64_t tasker_now_us(tasker_t *t)
{
    return t->opt.clock(t->opt.clock_udata) + atomic_load(&t->cl.offset_us);
}

int64_t tasker_local_us(tasker_t *t)
{
    return t->opt.clock(t->opt.clock_udata);
}

static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER; /* guards last_ms, tail */
static uint64_t last_ms;
static uint64_t tail_hi, tail_lo; /* 12 + 62 random bits after the version/variant */

static void fill_random(uint64_t *hi, uint64_t *lo)
{
    uint64_t r[2] = {0, 0};
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        /* getrandom cannot fail for 16 bytes once the pool is up; stay unique anyway. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        r[0] = (uint64_t)ts.tv_nsec * 2654435761ULL;
        r[1] = (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 32);
    }
    *hi = r[0] & 0x7ff; /* leave the top bit free so increments carry without wrapping */
    *lo = r[1] & 0x3fffffffffffffffULL;
}

void tasker_new_id(tasker_t *t, char out[TASKER_ID_SIZE])
{
    /* Ids use the real clock even under an injected test clock: they must stay unique
     * and ordered when a test moves its clock back. */
    (void)t;
    uint64_t now_ms = (uint64_t)(tasker_real_clock_us(NULL) / 1000);
    uint64_t ms, hi, lo;
    pthread_mutex_lock(&id_lock);
    if (now_ms > last_ms) {
        last_ms = now_ms;
        fill_random(&tail_hi, &tail_lo);
    } else if (++tail_lo > 0x3fffffffffffffffULL) {
        tail_lo = 0;
        if (++tail_hi > 0xfff) { /* 2^73 ids in one ms: borrow the next millisecond */
            last_ms++;
            fill_random(&tail_hi, &tail_lo);
        }
    }
    ms = last_ms;
    hi = tail_hi;
    lo = tail_lo;
    pthread_mutex_unlock(&id_lock);
    snprintf(out, TASKER_ID_SIZE, "%08llx-%04llx-%04llx-%04llx-%012llx",
             (unsigned long long)(ms >> 16), (unsigned long long)(ms & 0xffff),
             (unsigned long long)(0x7000 | hi),
             (unsigned long long)(0x8000 | (lo >> 48)),
             (unsigned long long)(lo & 0xffffffffffffULL));
}
