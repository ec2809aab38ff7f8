/* The schedule loop: one thread, a min-heap of next fires, a condition variable.
 *
 * Each pass handles every schedule whose next fire is due: it lists the occurrences
 * since the schedule's last handled one, fires the latest if it is recent (within
 * MISFIRE_GRACE_US) and applies the misfire policy to the others. The same code serves
 * a process that starts after downtime, a loop that woke late, and a wall clock set
 * forward: none of them causes a burst. A clock set back re-arms from the expression;
 * occurrences already stored are refused by the store's (scheme_id, scheduled_us) key,
 * so nothing runs twice. */
#include "core/schedule.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* An occurrence older than this when handled is a misfire (Quartz's threshold is 60 s). */
#define MISFIRE_GRACE_US (60 * 1000000LL)
/* How many missed occurrences are counted before the count says "more than". */
#define MISSED_COUNT_CAP 10000
/* How often executions pending from other processes, and schedules they changed, are
 * looked for (any driver: the core cannot tell which stores are shared). */
#define RESCAN_US (1000000LL)
/* The first pause of a loop whose store failed; it doubles each failure. */
#define BACKOFF_FIRST_US 100000LL

static void entry_free(sched_entry *e)
{
    if (e->own_cron) tasker_cron_free(e->cron);
    free(e);
}

int tasker_sched_init(tasker_t *t)
{
    sched *s = &t->sched;
    pthread_mutex_init(&s->lock, NULL);
    tasker_cond_init_mono(&s->cond);
    strset_init(&s->running_schemes);
    s->reload = true;
    t->sched_ready = true;
    return TASKER_OK;
}

/* Job lifecycle: wakes the loop at when_us (the earliest known delayed run), when it
 * asks for pending runs as a wake does. */
void tasker_sched_wake_at(tasker_t *t, int64_t when_us)
{
    pthread_mutex_lock(&t->sched.lock);
    if (!t->sched.wake_at_us || when_us < t->sched.wake_at_us) {
        t->sched.wake_at_us = when_us;
        pthread_cond_signal(&t->sched.cond);
    }
    pthread_mutex_unlock(&t->sched.lock);
}

void tasker_sched_changed(tasker_t *t)
{
    pthread_mutex_lock(&t->sched.lock);
    t->sched.reload = true;
    pthread_cond_signal(&t->sched.cond);
    pthread_mutex_unlock(&t->sched.lock);
}

void tasker_sched_exec_finished(tasker_t *t, const char *scheme_id)
{
    pthread_mutex_lock(&t->sched.lock);
    strset_remove(&t->sched.running_schemes, scheme_id);
    pthread_mutex_unlock(&t->sched.lock);
}

static void drop_entries(sched *s)
{
    while (heap_pop(&s->due)) {
    }
    for (sched_entry *e = s->entries; e;) {
        sched_entry *next = e->next;
        entry_free(e);
        e = next;
    }
    s->entries = NULL;
    cron_intern_clear(&s->crons);
}

/* ---- occurrences ---- */

/* The latest occurrence in (after_us, until_us], or 0 when none. Looks back through
 * growing windows so that a schedule down for a year costs a few next() calls. */
static int64_t latest_occurrence(const tasker_cron *c, int64_t after_us, int64_t until_us)
{
    static const int64_t windows_s[] = {1, 60, 3600, 86400, 31 * 86400LL, 366 * 86400LL,
                                        5 * 366 * 86400LL};
    for (size_t w = 0; w <= sizeof windows_s / sizeof windows_s[0]; w++) {
        int64_t from = w < sizeof windows_s / sizeof windows_s[0]
                           ? until_us - windows_s[w] * 1000000LL
                           : after_us;
        if (from < after_us) from = after_us;
        int64_t o, best = 0;
        for (int64_t at = from; tasker_cron_next(c, at, &o) == TASKER_OK && o <= until_us; at = o)
            best = o;
        if (best || from == after_us) return best;
    }
    return 0;
}

/* Counts occurrences in (after_us, until_us], at most MISSED_COUNT_CAP. */
static int count_occurrences(const tasker_cron *c, int64_t after_us, int64_t until_us)
{
    int n = 0;
    int64_t o;
    for (int64_t at = after_us; n < MISSED_COUNT_CAP &&
                                tasker_cron_next(c, at, &o) == TASKER_OK && o <= until_us;
         at = o)
        n++;
    return n;
}

/* Notes that e's last handled occurrence is now fire_us, for the store. */
static void note_fire(tasker_t *t, fire_batch *b, sched_entry *e, int64_t fire_us)
{
    if (b->nf == b->capf) {
        size_t cap = b->capf ? b->capf * 2 : 64;
        const char **ids = realloc(b->fire_ids, cap * sizeof *ids);
        if (ids) b->fire_ids = ids;
        int64_t *us = ids ? realloc(b->fire_us, cap * sizeof *us) : NULL;
        if (us) b->fire_us = us;
        if (!ids || !us) { /* out of memory: record it now */
            t->st->ops->set_scheme_fire(t->st, e->scheme_id, fire_us);
            return;
        }
        b->capf = cap;
    }
    b->fire_ids[b->nf] = e->scheme_id;
    b->fire_us[b->nf++] = fire_us;
}

/* Collects a skipped execution for the occurrence, saying why. */
static void record_skipped(tasker_t *t, fire_batch *b, sched_entry *e, int64_t occ_us,
                           const char *why)
{
    char *copy = strdup(why);
    fire_item *it = copy ? tasker_fires_slot(b) : NULL;
    if (!it) {
        free(copy);
        return;
    }
    it->e = e;
    it->occ_us = occ_us;
    it->now_us = tasker_now_us(t);
    it->why = copy;
    tasker_new_id(t, it->id);
}

/* The id of a run of this schedule still pending or running, for the skip message:
 * one collected in this pass, else one the store knows. */
static void find_running(tasker_t *t, fire_batch *b, sched_entry *e, char out[TASKER_ID_SIZE])
{
    for (size_t i = b->n; i-- > 0;)
        if (b->v[i].j && b->v[i].e == e) {
            snprintf(out, TASKER_ID_SIZE, "%s", b->v[i].id);
            return;
        }
    tasker_task_exec *v = NULL;
    size_t n = 0;
    snprintf(out, TASKER_ID_SIZE, "?");
    if (t->st->ops->list_task_execs(t->st, e->task_id, 50, &v, &n) != TASKER_OK) return;
    for (size_t i = 0; i < n; i++)
        if (v[i].scheme_id && strcmp(v[i].scheme_id, e->scheme_id) == 0 &&
            (v[i].status == TASKER_EXEC_RUNNING || v[i].status == TASKER_EXEC_PENDING))
            snprintf(out, TASKER_ID_SIZE, "%s", v[i].exec_id);
    tasker_free_execs(v, n);
}

/* Overlap forbid: the id of a run of e still pending or running, in this process (or
 * collected in this pass) or, when the store can say (storage version 3), on any node
 * sharing the store. */
static bool overlaps(tasker_t *t, fire_batch *b, sched_entry *e, char running[TASKER_ID_SIZE])
{
    const tasker_storage_ops *ops = t->st->ops;
    if (strset_count(&t->sched.running_schemes, e->scheme_id)) {
        find_running(t, b, e, running);
        return true;
    }
    if (ops->version < 3 || !ops->find_active_exec) return false;
    /* A store that cannot answer fires anyway: a missed occurrence is worse than the
     * rare overlap while the store is away (its add would fail too). */
    return ops->find_active_exec(t->st, e->scheme_id, running) == TASKER_OK;
}

/* Collects the execution of one occurrence. Called with sched.lock held. */
static void fire(tasker_t *t, fire_batch *b, sched_entry *e, int64_t occ_us)
{
    sched *s = &t->sched;
    char running[TASKER_ID_SIZE];
    if (e->overlap == TASKER_OVERLAP_FORBID && overlaps(t, b, e, running)) {
        char why[160];
        snprintf(why, sizeof why, "skipped: previous run %s still running", running);
        record_skipped(t, b, e, occ_us, why);
        return;
    }
    job *j = calloc(1, sizeof *j);
    fire_item *it = j && (j->scheme_id = strdup(e->scheme_id)) ? tasker_fires_slot(b) : NULL;
    if (!it) {
        if (j) tasker_job_free(j);
        return;
    }
    tasker_new_id(t, j->exec_id);
    snprintf(j->task_id, sizeof j->task_id, "%s", e->task_id);
    j->scheduled_us = occ_us;
    it->e = e;
    it->occ_us = occ_us;
    it->now_us = tasker_now_us(t);
    it->j = j;
    memcpy(it->id, j->exec_id, sizeof it->id);
    /* Counted now, so that a later fire of e in this pass sees it; undone if the store
     * refuses it. The worker's release waits for sched.lock, held here. */
    j->counted = strset_add(&s->running_schemes, e->scheme_id) > 0;
}

/* Fires the latest of n_missed occurrences up to latest_us, by the misfire policy. */
static void handle_missed(tasker_t *t, fire_batch *b, sched_entry *e, int64_t latest_us, int n_missed)
{
    char why[160];
    const char *more = n_missed >= MISSED_COUNT_CAP ? "more than " : "";
    if (e->misfire == TASKER_MISFIRE_ONCE) {
        fire(t, b, e, latest_us);
    } else if (e->misfire == TASKER_MISFIRE_SKIP) {
        snprintf(why, sizeof why, "skipped: missed while down, misfire policy skip "
                 "(%s%d fires missed)", more, n_missed);
        record_skipped(t, b, e, latest_us, why);
    } else { /* all: replay oldest first, at most TASKER_MISFIRE_ALL_MAX */
        int64_t o, at = e->last_us;
        for (int i = 0; i < n_missed && i < TASKER_MISFIRE_ALL_MAX &&
                        tasker_cron_next(e->cron, at, &o) == TASKER_OK; i++, at = o)
            fire(t, b, e, o);
        if (n_missed > TASKER_MISFIRE_ALL_MAX) {
            snprintf(why, sizeof why, "skipped: missed while down, misfire policy all "
                     "replays at most %d (%s%d more fires missed)", TASKER_MISFIRE_ALL_MAX,
                     more, n_missed - TASKER_MISFIRE_ALL_MAX);
            record_skipped(t, b, e, latest_us, why);
        }
    }
}

/* Handles every occurrence of e in (e->last_us, now_us] and re-arms it. */
static void process_entry(tasker_t *t, fire_batch *b, sched_entry *e, int64_t now_us)
{
    int64_t latest = latest_occurrence(e->cron, e->last_us, now_us);
    if (latest && e->paused) { /* job lifecycle: not fired; resuming starts from now */
        e->last_us = latest;
        latest = 0;
    }
    if (latest) {
        bool recent = latest > now_us - MISFIRE_GRACE_US;
        int n = count_occurrences(e->cron, e->last_us, now_us);
        if (recent && (n == 1 || e->misfire != TASKER_MISFIRE_ALL)) {
            /* On time, or late with earlier occurrences coalesced into this one. */
            if (n > 1 && e->misfire == TASKER_MISFIRE_SKIP) {
                char why[160];
                snprintf(why, sizeof why, "skipped: missed while down, misfire policy skip "
                         "(%d fires missed)", n - 1);
                int64_t prev = latest_occurrence(e->cron, e->last_us, latest - 1);
                if (prev) record_skipped(t, b, e, prev, why);
            }
            fire(t, b, e, latest);
        } else {
            handle_missed(t, b, e, latest, n);
        }
        e->last_us = latest;
        note_fire(t, b, e, latest);
    }
    int64_t next;
    e->armed = tasker_cron_next(e->cron, e->last_us > now_us ? e->last_us : now_us, &next) ==
               TASKER_OK;
    if (e->armed) {
        e->item.key = next;
        heap_push(&t->sched.due, &e->item);
    }
    /* Between schedules, never within one: a run of e must not finish (the lock is let
     * go during the write) while later fires of e in this pass are decided. */
    if (b->n >= (b->limit ? b->limit : FIRE_BATCH_MAX)) {
        tasker_fires_flush(t, b, false);
        b->limit = FIRE_BATCH_MAX;
    }
}

/* ---- a herd shared among nodes ----
 *
 * When several nodes share a store, each fires every schedule it holds, and the store's
 * (scheme_id, scheduled_us) key lets one of them store each occurrence. Were they to
 * walk a herd in the same order, they would write the same batches at once: one wins
 * each, the others' whole batches are refused and redone item by item, and the first
 * node ends up firing nearly everything (and running it: a node runs what it stored).
 * That holds for any pass of several schedules, not only for herds: sixty schedules
 * due each second went, each second, to the node whose batch committed first.
 * So a pass over more than one due schedule walks them in scheme id order
 * from a point of its own: node k of the n live nodes (by node id) starts k/n of the
 * way along and wraps around. Each node first fires its own share, then goes over the
 * others' (their occurrences are refused by the key; any a node that died left are
 * fired). Batches are cut where a share begins, so that no two nodes' first batches
 * hold rows the other waits for. */

static int by_scheme_id(const void *a, const void *b)
{
    return strcmp((*(sched_entry *const *)a)->scheme_id, (*(sched_entry *const *)b)->scheme_id);
}

/* Handles every schedule due at now_us: several in this node's order (see above), one
 * as the heap gives it. Called with sched.lock held. */
static void process_due(tasker_t *t, fire_batch *b, int64_t now_us)
{
    sched *s = &t->sched;
    heap_item *top;
    sched_entry **v = NULL;
    size_t n = 0, cap = 0;
    while ((top = heap_top(&s->due)) && top->key <= now_us) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            sched_entry **nv = realloc(v, ncap * sizeof *nv);
            if (!nv) break; /* out of memory: the rest are handled one by one below */
            v = nv;
            cap = ncap;
        }
        heap_pop(&s->due);
        v[n++] = (sched_entry *)top;
    }
    size_t start = 0, rank = 0, count = 1;
    if (n > 1) {
        /* Unlocked: the store's answer may take a while, and the loop owns the entries. */
        pthread_mutex_unlock(&s->lock);
        tasker_cluster_place(t, &rank, &count);
        pthread_mutex_lock(&s->lock);
        /* Alone too: the rows of one batch then land side by side in the store's
         * occurrence index (scheme_id, scheduled_us), fewer pages written per commit. */
        qsort(v, n, sizeof *v, by_scheme_id);
        if (count > 1) start = n * rank / count;
    }
    for (size_t i = 0; i < n; i++) {
        size_t at = (start + i) % n;
        /* A batch ends where another node's share begins: were it to run on into it,
         * the nodes' first batches would each wait for the next one's rows (the
         * occurrence key), in a circle: a deadlock. */
        for (size_t k = 0; i > 0 && count > 1 && k < count; k++)
            if (at == n * k / count) {
                tasker_fires_flush(t, b, false);
                break;
            }
        process_entry(t, b, v[at], now_us);
    }
    free(v);
    /* Out of memory above: the rest, one by one. */
    while ((top = heap_top(&s->due)) && top->key <= now_us) {
        heap_pop(&s->due);
        process_entry(t, b, (sched_entry *)top, now_us);
    }
}

/* Rereads the schedules from the store. Called with sched.lock held. While the store
 * is down the loop retries after a pause that grows to TASKER_BACKOFF_MAX_US. */
static void reload(tasker_t *t)
{
    sched *s = &t->sched;
    tasker_task_scheme *v = NULL;
    size_t n = 0;
    const tasker_storage_ops *ops = t->st->ops;
    /* Read before the listing: a change while listing shows at the next rescan. */
    s->have_version = ops->version >= 4 && ops->schemes_version &&
                      ops->schemes_version(t->st, &s->version) == TASKER_OK;
    if (t->st->ops->list_task_schemes(t->st, &v, &n) != TASKER_OK) {
        s->backoff_us = s->backoff_us ? s->backoff_us * 2 : BACKOFF_FIRST_US;
        if (s->backoff_us > TASKER_BACKOFF_MAX_US) s->backoff_us = TASKER_BACKOFF_MAX_US;
        return;
    }
    s->backoff_us = 0;
    s->reload = false;
    drop_entries(s);
    for (size_t i = 0; i < n; i++) {
        size_t ls = strlen(v[i].scheme_id) + 1, lt = strlen(v[i].task_id) + 1;
        sched_entry *e = malloc(sizeof *e + ls + lt);
        if (!e) break;
        *e = (sched_entry){.misfire = (uint8_t)v[i].misfire, .overlap = (uint8_t)v[i].overlap};
        bool shared;
        if (cron_intern_get(&s->crons, v[i].cron, v[i].task_id, &e->cron, &shared) != TASKER_OK) {
            free(e);
            continue;
        }
        e->own_cron = !shared;
        if (!shared) tasker_cron_set_anchor(e->cron, v[i].created_us);
        memcpy(e->ids, v[i].scheme_id, ls);
        memcpy(e->ids + ls, v[i].task_id, lt);
        e->scheme_id = e->ids;
        e->task_id = e->ids + ls;
        e->paused = v[i].paused;
        /* Occurrences before a schedule existed are not misfires. */
        e->last_us = v[i].last_fire_us ? v[i].last_fire_us : v[i].created_us;
        e->next = s->entries;
        s->entries = e;
        /* Armed at its first occurrence after the last handled one: one that is due
         * (missed while down, or now) is handled by the loop's pass with the others, in
         * this node's order (process_due). */
        int64_t first;
        e->armed = tasker_cron_next(e->cron, e->last_us, &first) == TASKER_OK;
        if (e->armed) {
            e->item.key = first;
            heap_push(&s->due, &e->item);
        }
    }
    tasker_free_schemes(v, n);
}

/* Whether another process may have changed the schedules since the last reload: the
 * store's change counter moved, or it has none (then every rescan rereads them all). */
static bool schemes_changed(tasker_t *t)
{
    sched *s = &t->sched;
    const tasker_storage_ops *ops = t->st->ops;
    uint64_t v;
    if (!s->have_version || ops->version < 4 || !ops->schemes_version ||
        ops->schemes_version(t->st, &v) != TASKER_OK)
        return true;
    return v != s->version;
}

static void *sched_main(void *arg)
{
    tasker_t *t = arg;
    sched *s = &t->sched;
    int64_t next_rescan_us = 0;
    fire_batch batch = {0}; /* empty between passes */
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        int64_t now_us = tasker_now_us(t);
        if (now_us < s->last_now_us - 1000000) { /* the clock was set back */
            s->reload = true;
            next_rescan_us = 0;
        }
        if (s->reload) reload(t); /* first pass, a schedule change, a clock step */
        s->last_now_us = now_us;
        batch.limit = FIRE_BATCH_FIRST;
        process_due(t, &batch, now_us);
        heap_item *top;
        tasker_fires_flush(t, &batch, true);
        if (s->wake_at_us && now_us >= s->wake_at_us) { /* job lifecycle: a run came due */
            s->wake_at_us = 0;
            s->rescan = true;
        }
        if (s->rescan || now_us >= next_rescan_us) {
            /* Another process may have changed the schedules: reread them too. */
            bool asked = s->rescan;
            if (!s->rescan && schemes_changed(t)) s->reload = true;
            s->rescan = false;
            next_rescan_us = now_us + RESCAN_US;
            /* In cluster mode the poller looks for pending runs every poll_ms already:
             * only a wake asks it to look now. */
            if (asked || !t->pool.can_claim) {
                pthread_mutex_unlock(&s->lock);
                tasker_pool_pickup_pending(t);
                pthread_mutex_lock(&s->lock);
            }
            continue;
        }
        /* At most RESCAN_US of real time, whatever the clock says: a clock set back
         * must not stretch the sleep. */
        int64_t sleep_us = next_rescan_us - now_us;
        if (sleep_us > RESCAN_US) sleep_us = RESCAN_US;
        if ((top = heap_top(&s->due)) && top->key - now_us < sleep_us) sleep_us = top->key - now_us;
        if (s->wake_at_us && s->wake_at_us - now_us < sleep_us) sleep_us = s->wake_at_us - now_us;
        if (sleep_us < 0) sleep_us = 0;
        /* The store is down: pause before the reload is tried again, rather than spin. */
        bool backing_off = s->reload && s->backoff_us > 0;
        if (backing_off) sleep_us = s->backoff_us;
        struct timespec until = tasker_mono_after_us(sleep_us);
        if ((!s->reload || backing_off) && !s->rescan && !s->stopping)
            pthread_cond_timedwait(&s->cond, &s->lock, &until);
    }
    s->exited = true;
    pthread_mutex_unlock(&s->lock);
    tasker_fires_free(&batch);
    return NULL;
}

/* ---- start, run, stop ---- */

/* Turns the byte tasker_stop wrote from (maybe) a signal handler into a wake-up. */
static void *stop_watcher_main(void *arg)
{
    tasker_t *t = arg;
    for (;;) {
        struct pollfd pfd = {.fd = t->stop_pipe[0], .events = POLLIN};
        if (poll(&pfd, 1, -1) < 0 && errno != EINTR) return NULL;
        char buf[64];
        while (read(t->stop_pipe[0], buf, sizeof buf) > 0) {
        }
        pthread_mutex_lock(&t->run_lock);
        bool quit = t->run_state == 3;
        if (t->stop_requested && t->run_state == 1) t->run_state = 2;
        pthread_cond_broadcast(&t->run_cond);
        pthread_mutex_unlock(&t->run_lock);
        if (t->stop_requested) {
            pthread_mutex_lock(&t->sched.lock);
            t->sched.stopping = true;
            pthread_cond_signal(&t->sched.cond);
            pthread_mutex_unlock(&t->sched.lock);
        }
        if (quit) return NULL;
    }
}

/* Starts the loop thread. clear_stop: forget a tasker_stop() that came before; tasker_run
 * keeps it, so that a stop (say, a SIGINT) arriving before tasker_run still ends it. */
static int start_loop(tasker_t *t, bool clear_stop)
{
    sched *s = &t->sched;
    pthread_mutex_lock(&s->lock);
    if (s->started && s->exited) { /* a tasker_stop() ended it: reap the thread */
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
        pthread_mutex_lock(&s->lock);
        s->started = false;
    }
    if (s->started) {
        pthread_mutex_unlock(&s->lock);
        return tasker_fail(TASKER_ESTATE, "start: the schedule loop runs already");
    }
    s->stopping = false;
    s->exited = false;
    s->reload = true;
    if (clear_stop) t->stop_requested = 0;
    tasker_pool_pickup_first(t);
    if (!t->stop_watcher_started) {
        if (pthread_create(&t->stop_watcher, NULL, stop_watcher_main, t) != 0) {
            pthread_mutex_unlock(&s->lock);
            return tasker_fail(TASKER_ESTATE, "start: cannot start a thread");
        }
        t->stop_watcher_started = true;
    }
    if (pthread_create(&s->thread, NULL, sched_main, t) != 0) {
        pthread_mutex_unlock(&s->lock);
        return tasker_fail(TASKER_ESTATE, "start: cannot start the schedule thread");
    }
    s->started = true;
    pthread_mutex_unlock(&s->lock);
    return TASKER_OK;
}

int tasker_start(tasker_t *t)
{
    int rc;
    if ((rc = tasker_check_handle(t))) return rc;
    return start_loop(t, true);
}

/* Joins the schedule thread if it runs. */
static void join_loop(tasker_t *t)
{
    sched *s = &t->sched;
    pthread_mutex_lock(&s->lock);
    bool started = s->started;
    s->stopping = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    if (started) pthread_join(s->thread, NULL);
    pthread_mutex_lock(&s->lock);
    s->started = false;
    pthread_mutex_unlock(&s->lock);
}

int tasker_run(tasker_t *t)
{
    int rc;
    if ((rc = tasker_check_handle(t))) return rc;
    pthread_mutex_lock(&t->run_lock);
    if (t->run_state != 0) {
        pthread_mutex_unlock(&t->run_lock);
        return tasker_fail(TASKER_ESTATE, "run: tasker_run runs already");
    }
    t->run_state = 1;
    pthread_mutex_unlock(&t->run_lock);
    rc = start_loop(t, false);
    if (rc != TASKER_OK && rc != TASKER_ESTATE) goto out;
    rc = TASKER_OK;
    pthread_mutex_lock(&t->run_lock);
    while (t->run_state == 1 && !t->stop_requested) pthread_cond_wait(&t->run_cond, &t->run_lock);
    pthread_mutex_unlock(&t->run_lock);
    join_loop(t);
out:
    pthread_mutex_lock(&t->run_lock);
    t->run_state = 0;
    t->stop_requested = 0;
    pthread_mutex_unlock(&t->run_lock);
    return rc;
}

void tasker_stop(tasker_t *t)
{
    if (!t) return;
    t->stop_requested = 1;
    ssize_t w = write(t->stop_pipe[1], "s", 1); /* EAGAIN: a byte is there already */
    (void)w;
}

void tasker_wake(tasker_t *t)
{
    if (!t) return;
    pthread_mutex_lock(&t->sched.lock);
    bool started = t->sched.started;
    t->sched.rescan = true;
    t->sched.reload = true;
    pthread_cond_signal(&t->sched.cond);
    pthread_mutex_unlock(&t->sched.lock);
    atomic_store(&t->pickup_due, false);
    if (!started) tasker_pool_pickup_pending(t);
}

void tasker_sched_stop(tasker_t *t)
{
    if (!t->sched_ready) return;
    join_loop(t);
    if (t->stop_watcher_started) {
        pthread_mutex_lock(&t->run_lock);
        t->run_state = 3;
        pthread_mutex_unlock(&t->run_lock);
        ssize_t w = write(t->stop_pipe[1], "q", 1);
        (void)w;
        pthread_join(t->stop_watcher, NULL);
        t->stop_watcher_started = false;
    }
}

void tasker_sched_destroy(tasker_t *t)
{
    if (!t->sched_ready) return;
    t->sched_ready = false;
    drop_entries(&t->sched);
    heap_free(&t->sched.due);
    strset_free(&t->sched.running_schemes);
    pthread_mutex_destroy(&t->sched.lock);
    pthread_cond_destroy(&t->sched.cond);
}
