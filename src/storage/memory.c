/* The in-memory storage driver ("memory:"): tasks, schedules, executions and events in
 * hash tables and intrusive lists, guarded by one mutex. Nothing survives close.
 *
 * Costs. Every hot operation (add/start/update/get exec, add event) is O(1) expected:
 * executions are found through a hash on exec_id, occurrences through a hash on
 * (scheme_id, scheduled_us), and each task's history is a list ordered by
 * (queued_us, exec_id) into which a new execution is linked from the newest end (so
 * O(1) when executions arrive in time order, which is the normal case). Pending
 * executions sit on a list ordered the same way, running ones on another.
 *
 * Retention without scans. Of a task's history list, the executions that retention
 * may prune (rank beyond max_execs_per_task, or queued_us before the age cutoff) are
 * always a prefix: the oldest ones. Each history keeps a cursor at the oldest
 * execution not yet known to be prunable ("doomed"); adding an execution moves the
 * cursor forward only as far as the rules demand, so the work per add is the number
 * of executions that become prunable. A doomed execution that is finished is freed at
 * once; one still pending or running stays and is freed when an update finishes it
 * (it goes on the `prunable` list, drained at the next add). Doomed is permanent:
 * ranks of the older executions only grow, and the cutoff only grows with the clock.
 * Histories of tasks that get no new executions (idle or removed tasks) are aged out
 * too: each add also advances the age cursor of one other history, round-robin.
 */
#include "core/error.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OWNER(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* ---- a small intrusive chained hash table ------------------------------------------ */

typedef struct hnode {
    struct hnode *next;
    uint64_t hash;
} hnode;

typedef struct htab {
    hnode **slots;
    size_t mask, count;
} htab;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static uint64_t hash_occurrence(const char *scheme_id, int64_t scheduled_us)
{
    uint64_t x = (uint64_t)scheduled_us * 0x9E3779B97F4A7C15ULL;
    return hash_str(scheme_id) ^ (x >> 29) ^ x;
}

static int htab_init(htab *h)
{
    h->mask = 63;
    h->count = 0;
    h->slots = calloc(h->mask + 1, sizeof *h->slots);
    return h->slots ? TASKER_OK : TASKER_ENOMEM;
}

/* Doubles the table when it holds more entries than slots; a failed grow is harmless
 * (chains just get longer), so it reports nothing. */
static void htab_maybe_grow(htab *h)
{
    if (h->count <= h->mask) return;
    size_t size = (h->mask + 1) * 2;
    hnode **slots = calloc(size, sizeof *slots);
    if (!slots) return;
    for (size_t i = 0; i <= h->mask; i++) {
        hnode *n = h->slots[i], *next;
        for (; n; n = next) {
            next = n->next;
            n->next = slots[n->hash & (size - 1)];
            slots[n->hash & (size - 1)] = n;
        }
    }
    free(h->slots);
    h->slots = slots;
    h->mask = size - 1;
}

static void htab_insert(htab *h, hnode *n, uint64_t hash)
{
    htab_maybe_grow(h);
    n->hash = hash;
    n->next = h->slots[hash & h->mask];
    h->slots[hash & h->mask] = n;
    h->count++;
}

static void htab_remove(htab *h, hnode *n)
{
    hnode **p = &h->slots[n->hash & h->mask];
    while (*p && *p != n) p = &(*p)->next;
    if (*p) {
        *p = n->next;
        h->count--;
    }
}

static hnode *htab_first(const htab *h, uint64_t hash)
{
    hnode *n = h->slots[hash & h->mask];
    while (n && n->hash != hash) n = n->next;
    return n;
}

static hnode *htab_next(hnode *n)
{
    uint64_t hash = n->hash;
    for (n = n->next; n && n->hash != hash;) n = n->next;
    return n;
}

/* Calls fn on every node; fn may remove the node it is given. */
static void htab_each(htab *h, void (*fn)(hnode *n, void *arg), void *arg)
{
    for (size_t i = 0; i <= h->mask; i++) {
        hnode *n = h->slots[i], *next;
        for (; n; n = next) {
            next = n->next;
            fn(n, arg);
        }
    }
}

/* ---- records --------------------------------------------------------------------- */

typedef struct mtask {
    hnode by_id;
    tasker_task rec;
} mtask;

typedef struct mscheme {
    hnode by_id;
    tasker_task_scheme rec;
} mscheme;

typedef struct mgroup mgroup;

enum { ON_NONE, ON_PENDING, ON_RUNNING, ON_PRUNABLE };

typedef struct mexec {
    hnode by_id, by_occurrence;
    mgroup *group;
    struct mexec *older, *newer; /* the task's history, by (queued_us, exec_id) */
    struct mexec *prev, *next;   /* the status list named by on_list */
    int on_list;
    bool doomed; /* retention may free it once finished */
    tasker_task_exec rec;
    tasker_task_event *events; /* exec_id left NULL: filled when copied out */
    size_t n_events, cap_events;
} mexec;

/* A task's execution history. Outlives the task (history stays after remove_task) and
 * is freed when its last execution is. */
struct mgroup {
    hnode by_task;
    char *task_id;
    mexec *oldest, *newest;
    mexec *cursor;      /* the oldest execution not doomed; NULL when none */
    size_t n_within;    /* executions from cursor to newest */
    mgroup *ring_next, *ring_prev; /* all histories, for the round-robin age sweep */
};

typedef struct xlist {
    mexec *head, *tail;
} xlist;

typedef struct mem_store {
    tasker_storage base;
    pthread_mutex_t lock; /* guards every field below */
    htab tasks, schemes, execs, occurrences, groups;
    xlist pending, running, prunable;
    mgroup *sweep; /* next history the age sweep visits */
    int64_t last_event_id;
} mem_store;

static mem_store *mem(tasker_storage *st)
{
    return (mem_store *)st;
}

static bool id_ok(const char *id)
{
    return id && *id && strlen(id) < TASKER_ID_SIZE;
}

/* Copies src into *dst (NULL stays NULL). False only when out of memory. */
static bool dup_into(char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;
    return !src || *dst;
}

static bool is_finished(tasker_exec_status s)
{
    return s != TASKER_EXEC_PENDING && s != TASKER_EXEC_RUNNING;
}

static int cmp_exec(const mexec *a, const mexec *b)
{
    if (a->rec.queued_us != b->rec.queued_us) return a->rec.queued_us < b->rec.queued_us ? -1 : 1;
    return strcmp(a->rec.exec_id, b->rec.exec_id);
}

static mtask *find_task(mem_store *m, const char *id)
{
    for (hnode *n = htab_first(&m->tasks, hash_str(id)); n; n = htab_next(n))
        if (strcmp(OWNER(n, mtask, by_id)->rec.task_id, id) == 0) return OWNER(n, mtask, by_id);
    return NULL;
}

static mscheme *find_scheme(mem_store *m, const char *id)
{
    for (hnode *n = htab_first(&m->schemes, hash_str(id)); n; n = htab_next(n))
        if (strcmp(OWNER(n, mscheme, by_id)->rec.scheme_id, id) == 0)
            return OWNER(n, mscheme, by_id);
    return NULL;
}

static mexec *find_exec(mem_store *m, const char *id)
{
    for (hnode *n = htab_first(&m->execs, hash_str(id)); n; n = htab_next(n))
        if (strcmp(OWNER(n, mexec, by_id)->rec.exec_id, id) == 0) return OWNER(n, mexec, by_id);
    return NULL;
}

static mexec *find_occurrence(mem_store *m, const char *scheme_id, int64_t scheduled_us)
{
    uint64_t h = hash_occurrence(scheme_id, scheduled_us);
    for (hnode *n = htab_first(&m->occurrences, h); n; n = htab_next(n)) {
        mexec *x = OWNER(n, mexec, by_occurrence);
        if (x->rec.scheduled_us == scheduled_us && strcmp(x->rec.scheme_id, scheme_id) == 0)
            return x;
    }
    return NULL;
}

static mgroup *find_group(mem_store *m, const char *task_id)
{
    for (hnode *n = htab_first(&m->groups, hash_str(task_id)); n; n = htab_next(n))
        if (strcmp(OWNER(n, mgroup, by_task)->task_id, task_id) == 0)
            return OWNER(n, mgroup, by_task);
    return NULL;
}

/* ---- status lists ------------------------------------------------------------------ */

static void list_unlink(mem_store *m, mexec *x)
{
    xlist *l = x->on_list == ON_PENDING   ? &m->pending
               : x->on_list == ON_RUNNING ? &m->running
               : x->on_list == ON_PRUNABLE ? &m->prunable
                                          : NULL;
    if (!l) return;
    if (x->prev) x->prev->next = x->next; else l->head = x->next;
    if (x->next) x->next->prev = x->prev; else l->tail = x->prev;
    x->prev = x->next = NULL;
    x->on_list = ON_NONE;
}

/* Links x after `after` (NULL = at the head). */
static void list_link_after(xlist *l, mexec *after, mexec *x, int which)
{
    x->prev = after;
    x->next = after ? after->next : l->head;
    if (x->next) x->next->prev = x; else l->tail = x;
    if (after) after->next = x; else l->head = x;
    x->on_list = which;
}

/* Moves x to the list its status and doom call for. Pending stays ordered oldest
 * first; the walk starts at the newest end, where new executions belong. */
static void place_on_list(mem_store *m, mexec *x)
{
    list_unlink(m, x);
    if (x->rec.status == TASKER_EXEC_PENDING) {
        mexec *after = m->pending.tail;
        while (after && cmp_exec(after, x) > 0) after = after->prev;
        list_link_after(&m->pending, after, x, ON_PENDING);
    } else if (x->rec.status == TASKER_EXEC_RUNNING) {
        list_link_after(&m->running, m->running.tail, x, ON_RUNNING);
    } else if (x->doomed) {
        list_link_after(&m->prunable, m->prunable.tail, x, ON_PRUNABLE);
    }
}

/* ---- freeing ---------------------------------------------------------------------- */

static void group_free(mem_store *m, mgroup *g)
{
    htab_remove(&m->groups, &g->by_task);
    if (m->sweep == g) m->sweep = g->ring_next != g ? g->ring_next : NULL;
    g->ring_prev->ring_next = g->ring_next;
    g->ring_next->ring_prev = g->ring_prev;
    free(g->task_id);
    free(g);
}

static void exec_free_fields(mexec *x)
{
    for (size_t i = 0; i < x->n_events; i++) free(x->events[i].message);
    free(x->events);
    tasker_exec_clear(&x->rec);
    free(x);
}

/* Unlinks x from every index and frees it (and its history if now empty). */
static void exec_free(mem_store *m, mexec *x)
{
    mgroup *g = x->group;
    list_unlink(m, x);
    htab_remove(&m->execs, &x->by_id);
    if (x->rec.scheme_id) htab_remove(&m->occurrences, &x->by_occurrence);
    if (g->cursor == x) {
        g->cursor = x->newer;
        g->n_within--;
    }
    if (x->older) x->older->newer = x->newer; else g->oldest = x->newer;
    if (x->newer) x->newer->older = x->older; else g->newest = x->older;
    exec_free_fields(x);
    if (!g->oldest) group_free(m, g);
}

/* ---- retention -------------------------------------------------------------------- */

/* Executions queued before this are too old; INT64_MIN when ages are unlimited (or so
 * large that the cutoff would overflow, which means the same). */
static int64_t age_cutoff_us(mem_store *m)
{
    int64_t age_us, cutoff_us;
    if (m->base.env.max_exec_age_s < 0 ||
        __builtin_mul_overflow(m->base.env.max_exec_age_s, INT64_C(1000000), &age_us) ||
        __builtin_sub_overflow(tasker_storage_now_us(&m->base), age_us, &cutoff_us))
        return INT64_MIN;
    return cutoff_us;
}

static void doom(mem_store *m, mexec *x)
{
    x->doomed = true;
    if (is_finished(x->rec.status)) place_on_list(m, x);
}

/* Moves the history's cursor past every execution the rules now make prunable. */
static void group_advance(mem_store *m, mgroup *g, int64_t cutoff_us)
{
    int max = m->base.env.max_execs_per_task;
    while (g->cursor && ((max >= 0 && g->n_within > (size_t)max) ||
                         g->cursor->rec.queued_us < cutoff_us)) {
        mexec *x = g->cursor;
        g->cursor = x->newer;
        g->n_within--;
        doom(m, x);
    }
}

/* Counts a just-linked execution into its history's doomed prefix or the rest. */
static void group_admit(mem_store *m, mexec *x)
{
    mgroup *g = x->group;
    if (x->newer && x->newer->doomed) {
        doom(m, x);
        return;
    }
    g->n_within++;
    if (!x->older || x->older->doomed) g->cursor = x;
}

static void apply_retention(mem_store *m, mgroup *g)
{
    int64_t cutoff_us = age_cutoff_us(m);
    group_advance(m, g, cutoff_us);
    if (m->sweep) {
        group_advance(m, m->sweep, cutoff_us);
        m->sweep = m->sweep->ring_next;
    }
    while (m->prunable.head) exec_free(m, m->prunable.head);
}

/* ---- tasks ------------------------------------------------------------------------ */

static int mem_add_task(tasker_storage *st, const tasker_task *task)
{
    if (!task || !id_ok(task->task_id))
        return tasker_fail(TASKER_EINVAL, "memory: add_task: task_id missing or over %d bytes",
                           TASKER_ID_SIZE - 1);
    mem_store *m = mem(st);
    tasker_task copy = {0};
    int rc = TASKER_ENOMEM;
    mtask *t = NULL;
    if (!dup_into(&copy.handler, task->handler) || !dup_into(&copy.param, task->param) ||
        !dup_into(&copy.desc, task->desc))
        goto out;
    pthread_mutex_lock(&m->lock);
    t = find_task(m, task->task_id);
    if (t) {
        copy.task_id = t->rec.task_id;
        t->rec.task_id = NULL;
        tasker_task_clear(&t->rec);
        t->rec = copy;
        memset(&copy, 0, sizeof copy);
        rc = TASKER_OK;
    } else if ((t = calloc(1, sizeof *t)) && (copy.task_id = strdup(task->task_id))) {
        t->rec = copy;
        memset(&copy, 0, sizeof copy);
        htab_insert(&m->tasks, &t->by_id, hash_str(t->rec.task_id));
        rc = TASKER_OK;
    } else {
        free(t);
    }
    pthread_mutex_unlock(&m->lock);
out:
    tasker_task_clear(&copy);
    return rc == TASKER_OK ? rc : tasker_fail(rc, "memory: add_task '%s': out of memory",
                                              task->task_id);
}

struct scheme_sweep {
    mem_store *m;
    const char *task_id;
};

static void drop_scheme_of_task(hnode *n, void *arg)
{
    struct scheme_sweep *s = arg;
    mscheme *sc = OWNER(n, mscheme, by_id);
    if (strcmp(sc->rec.task_id, s->task_id) != 0) return;
    htab_remove(&s->m->schemes, n);
    tasker_scheme_clear(&sc->rec);
    free(sc);
}

/* Schedules are few, so removing a task's schedules scans them all. */
static int mem_remove_task(tasker_storage *st, const char *task_id)
{
    if (!task_id) return tasker_fail(TASKER_EINVAL, "memory: remove_task: task_id is NULL");
    mem_store *m = mem(st);
    pthread_mutex_lock(&m->lock);
    mtask *t = find_task(m, task_id);
    if (t) {
        struct scheme_sweep s = {m, task_id};
        htab_each(&m->schemes, drop_scheme_of_task, &s);
        htab_remove(&m->tasks, &t->by_id);
        tasker_task_clear(&t->rec);
        free(t);
    }
    pthread_mutex_unlock(&m->lock);
    return t ? TASKER_OK : tasker_fail(TASKER_ENOTFOUND, "memory: no task '%s'", task_id);
}

static bool task_copy(tasker_task *out, const tasker_task *in)
{
    memset(out, 0, sizeof *out);
    if (dup_into(&out->task_id, in->task_id) && dup_into(&out->handler, in->handler) &&
        dup_into(&out->param, in->param) && dup_into(&out->desc, in->desc))
        return true;
    tasker_task_clear(out);
    return false;
}

static int mem_get_task(tasker_storage *st, const char *task_id, tasker_task *out)
{
    if (!task_id || !out) return tasker_fail(TASKER_EINVAL, "memory: get_task: NULL argument");
    mem_store *m = mem(st);
    int rc = TASKER_OK;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&m->lock);
    mtask *t = find_task(m, task_id);
    if (!t)
        rc = tasker_fail(TASKER_ENOTFOUND, "memory: no task '%s'", task_id);
    else if (!task_copy(out, &t->rec))
        rc = tasker_fail(TASKER_ENOMEM, "memory: get_task '%s': out of memory", task_id);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* Collects the nodes of a table into an array, for sorting and copying out. */
struct gather {
    hnode **v;
    size_t n;
};

static void gather_node(hnode *n, void *arg)
{
    struct gather *g = arg;
    g->v[g->n++] = n;
}

static int cmp_task_ptr(const void *a, const void *b)
{
    const mtask *x = OWNER(*(hnode *const *)a, mtask, by_id);
    const mtask *y = OWNER(*(hnode *const *)b, mtask, by_id);
    return strcmp(x->rec.task_id, y->rec.task_id);
}

static int mem_list_tasks(tasker_storage *st, tasker_task **out, size_t *n)
{
    if (!out || !n) return tasker_fail(TASKER_EINVAL, "memory: list_tasks: NULL argument");
    mem_store *m = mem(st);
    int rc = TASKER_OK;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&m->lock);
    struct gather g = {malloc((m->tasks.count + 1) * sizeof(hnode *)), 0};
    tasker_task *v = calloc(m->tasks.count + 1, sizeof *v);
    if (!g.v || !v) {
        rc = tasker_fail(TASKER_ENOMEM, "memory: list_tasks: out of memory");
        goto out;
    }
    htab_each(&m->tasks, gather_node, &g);
    qsort(g.v, g.n, sizeof *g.v, cmp_task_ptr);
    for (size_t i = 0; i < g.n; i++) {
        if (!task_copy(&v[i], &OWNER(g.v[i], mtask, by_id)->rec)) {
            tasker_free_tasks(v, i);
            v = NULL;
            rc = tasker_fail(TASKER_ENOMEM, "memory: list_tasks: out of memory");
            goto out;
        }
    }
    if (g.n) {
        *out = v;
        *n = g.n;
        v = NULL;
    }
out:
    pthread_mutex_unlock(&m->lock);
    free(v);
    free(g.v);
    return rc;
}

/* ---- schedules -------------------------------------------------------------------- */

static bool scheme_copy(tasker_task_scheme *out, const tasker_task_scheme *in)
{
    *out = *in;
    out->scheme_id = out->task_id = out->cron = NULL;
    if (dup_into(&out->scheme_id, in->scheme_id) && dup_into(&out->task_id, in->task_id) &&
        dup_into(&out->cron, in->cron))
        return true;
    tasker_scheme_clear(out);
    return false;
}

struct scheme_match {
    const tasker_task_scheme *want;
    mscheme *found;
};

static void match_scheme(hnode *n, void *arg)
{
    struct scheme_match *s = arg;
    mscheme *sc = OWNER(n, mscheme, by_id);
    if (strcmp(sc->rec.task_id, s->want->task_id) == 0 && strcmp(sc->rec.cron, s->want->cron) == 0)
        s->found = sc;
}

/* Inserts s as a new schedule; the caller holds the lock and has checked the rest. */
static int scheme_insert(mem_store *m, const tasker_task_scheme *s)
{
    mscheme *sc = calloc(1, sizeof *sc);
    if (!sc || !scheme_copy(&sc->rec, s)) {
        free(sc);
        return tasker_fail(TASKER_ENOMEM, "memory: add_task_scheme: out of memory");
    }
    if (!sc->rec.created_us) sc->rec.created_us = tasker_storage_now_us(&m->base);
    htab_insert(&m->schemes, &sc->by_id, hash_str(sc->rec.scheme_id));
    return TASKER_OK;
}

/* Finding the same (task, cron) scans the schedules: there are few, and adding one is
 * rare (at program start). */
static int mem_add_task_scheme(tasker_storage *st, const tasker_task_scheme *s,
                               char id_out[TASKER_ID_SIZE])
{
    if (!s || !id_ok(s->scheme_id) || !id_ok(s->task_id) || !s->cron)
        return tasker_fail(TASKER_EINVAL, "memory: add_task_scheme: scheme_id, task_id or "
                                          "cron missing, or an id over %d bytes",
                           TASKER_ID_SIZE - 1);
    mem_store *m = mem(st);
    int rc = TASKER_OK;
    pthread_mutex_lock(&m->lock);
    struct scheme_match match = {s, NULL};
    if (!find_task(m, s->task_id)) {
        rc = tasker_fail(TASKER_ENOTFOUND, "memory: add_task_scheme: no task '%s'", s->task_id);
        goto out;
    }
    htab_each(&m->schemes, match_scheme, &match);
    if (match.found) {
        match.found->rec.misfire = s->misfire;
        match.found->rec.overlap = s->overlap;
    } else if (find_scheme(m, s->scheme_id)) {
        rc = tasker_fail(TASKER_EEXISTS, "memory: schedule id '%s' is taken", s->scheme_id);
        goto out;
    } else if ((rc = scheme_insert(m, s)) != TASKER_OK) {
        goto out;
    }
    if (id_out) {
        const char *id = match.found ? match.found->rec.scheme_id : s->scheme_id;
        memcpy(id_out, id, strlen(id) + 1);
    }
out:
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static int mem_remove_task_scheme(tasker_storage *st, const char *scheme_id)
{
    if (!scheme_id) return tasker_fail(TASKER_EINVAL, "memory: remove_task_scheme: NULL id");
    mem_store *m = mem(st);
    pthread_mutex_lock(&m->lock);
    mscheme *sc = find_scheme(m, scheme_id);
    if (sc) {
        htab_remove(&m->schemes, &sc->by_id);
        tasker_scheme_clear(&sc->rec);
        free(sc);
    }
    pthread_mutex_unlock(&m->lock);
    return sc ? TASKER_OK : tasker_fail(TASKER_ENOTFOUND, "memory: no schedule '%s'", scheme_id);
}

static int cmp_scheme_ptr(const void *a, const void *b)
{
    const mscheme *x = OWNER(*(hnode *const *)a, mscheme, by_id);
    const mscheme *y = OWNER(*(hnode *const *)b, mscheme, by_id);
    return strcmp(x->rec.scheme_id, y->rec.scheme_id);
}

static int mem_list_task_schemes(tasker_storage *st, tasker_task_scheme **out, size_t *n)
{
    if (!out || !n) return tasker_fail(TASKER_EINVAL, "memory: list_task_schemes: NULL argument");
    mem_store *m = mem(st);
    int rc = TASKER_OK;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&m->lock);
    struct gather g = {malloc((m->schemes.count + 1) * sizeof(hnode *)), 0};
    tasker_task_scheme *v = calloc(m->schemes.count + 1, sizeof *v);
    if (!g.v || !v) {
        rc = tasker_fail(TASKER_ENOMEM, "memory: list_task_schemes: out of memory");
        goto out;
    }
    htab_each(&m->schemes, gather_node, &g);
    qsort(g.v, g.n, sizeof *g.v, cmp_scheme_ptr);
    for (size_t i = 0; i < g.n; i++) {
        if (!scheme_copy(&v[i], &OWNER(g.v[i], mscheme, by_id)->rec)) {
            tasker_free_schemes(v, i);
            v = NULL;
            rc = tasker_fail(TASKER_ENOMEM, "memory: list_task_schemes: out of memory");
            goto out;
        }
    }
    if (g.n) {
        *out = v;
        *n = g.n;
        v = NULL;
    }
out:
    pthread_mutex_unlock(&m->lock);
    free(v);
    free(g.v);
    return rc;
}

static int mem_set_scheme_fire(tasker_storage *st, const char *scheme_id, int64_t fire_us)
{
    if (!scheme_id) return tasker_fail(TASKER_EINVAL, "memory: set_scheme_fire: NULL id");
    mem_store *m = mem(st);
    pthread_mutex_lock(&m->lock);
    mscheme *sc = find_scheme(m, scheme_id);
    if (sc && fire_us > sc->rec.last_fire_us) sc->rec.last_fire_us = fire_us;
    pthread_mutex_unlock(&m->lock);
    return sc ? TASKER_OK : tasker_fail(TASKER_ENOTFOUND, "memory: no schedule '%s'", scheme_id);
}

/* ---- executions ------------------------------------------------------------------- */

static bool exec_copy(tasker_task_exec *out, const tasker_task_exec *in)
{
    *out = *in;
    out->exec_id = out->task_id = out->scheme_id = NULL;
    out->result = out->error = out->node_id = NULL;
    if (dup_into(&out->exec_id, in->exec_id) && dup_into(&out->task_id, in->task_id) &&
        dup_into(&out->scheme_id, in->scheme_id) && dup_into(&out->result, in->result) &&
        dup_into(&out->error, in->error) && dup_into(&out->node_id, in->node_id))
        return true;
    tasker_exec_clear(out);
    return false;
}

static mgroup *group_get(mem_store *m, const char *task_id)
{
    mgroup *g = find_group(m, task_id);
    if (g) return g;
    if (!(g = calloc(1, sizeof *g)) || !(g->task_id = strdup(task_id))) {
        free(g);
        return NULL;
    }
    htab_insert(&m->groups, &g->by_task, hash_str(task_id));
    if (m->sweep) {
        g->ring_next = m->sweep;
        g->ring_prev = m->sweep->ring_prev;
        g->ring_prev->ring_next = g;
        m->sweep->ring_prev = g;
    } else {
        m->sweep = g->ring_next = g->ring_prev = g;
    }
    return g;
}

/* Links x into its history, walking from the newest end. */
static void group_link(mgroup *g, mexec *x)
{
    mexec *after = g->newest;
    while (after && cmp_exec(after, x) > 0) after = after->older;
    x->group = g;
    x->older = after;
    x->newer = after ? after->newer : g->oldest;
    if (x->newer) x->newer->older = x; else g->newest = x;
    if (after) after->newer = x; else g->oldest = x;
}

static int check_new_exec(mem_store *m, const tasker_task_exec *e)
{
    if (!find_task(m, e->task_id))
        return tasker_fail(TASKER_ENOTFOUND, "memory: add_task_exec '%s': no task '%s'",
                           e->exec_id, e->task_id);
    if (find_exec(m, e->exec_id))
        return tasker_fail(TASKER_EEXISTS, "memory: execution '%s' exists", e->exec_id);
    if (e->scheme_id && find_occurrence(m, e->scheme_id, e->scheduled_us))
        return tasker_fail(TASKER_EEXISTS,
                           "memory: schedule '%s' occurrence %lld has an execution",
                           e->scheme_id, (long long)e->scheduled_us);
    return TASKER_OK;
}

static int mem_add_task_exec(tasker_storage *st, const tasker_task_exec *e)
{
    if (!e || !id_ok(e->exec_id) || !id_ok(e->task_id) || (e->scheme_id && !id_ok(e->scheme_id)))
        return tasker_fail(TASKER_EINVAL, "memory: add_task_exec: exec_id or task_id missing, "
                                          "or an id over %d bytes",
                           TASKER_ID_SIZE - 1);
    mem_store *m = mem(st);
    mexec *x = calloc(1, sizeof *x);
    if (!x || !exec_copy(&x->rec, e)) {
        free(x);
        return tasker_fail(TASKER_ENOMEM, "memory: add_task_exec '%s': out of memory", e->exec_id);
    }
    pthread_mutex_lock(&m->lock);
    mgroup *g = NULL;
    int rc = check_new_exec(m, e);
    if (rc == TASKER_OK && !(g = group_get(m, e->task_id)))
        rc = tasker_fail(TASKER_ENOMEM, "memory: add_task_exec '%s': out of memory", e->exec_id);
    if (rc == TASKER_OK) {
        htab_insert(&m->execs, &x->by_id, hash_str(x->rec.exec_id));
        if (x->rec.scheme_id)
            htab_insert(&m->occurrences, &x->by_occurrence,
                        hash_occurrence(x->rec.scheme_id, x->rec.scheduled_us));
        group_link(g, x);
        place_on_list(m, x);
        group_admit(m, x);
        apply_retention(m, g);
        x = NULL;
    }
    pthread_mutex_unlock(&m->lock);
    if (x) exec_free_fields(x);
    return rc;
}

static int mem_start_task_exec(tasker_storage *st, const char *exec_id, int64_t start_us,
                               const char *node_id)
{
    if (!exec_id) return tasker_fail(TASKER_EINVAL, "memory: start_task_exec: NULL exec_id");
    mem_store *m = mem(st);
    char *node = NULL;
    if (!dup_into(&node, node_id))
        return tasker_fail(TASKER_ENOMEM, "memory: start_task_exec '%s': out of memory", exec_id);
    int rc = TASKER_OK;
    pthread_mutex_lock(&m->lock);
    mexec *x = find_exec(m, exec_id);
    if (!x) {
        rc = tasker_fail(TASKER_ENOTFOUND, "memory: no execution '%s'", exec_id);
    } else if (x->rec.status != TASKER_EXEC_PENDING) {
        rc = tasker_fail(TASKER_ESTATE, "memory: execution '%s' is %s, not pending", exec_id,
                         tasker_exec_status_name(x->rec.status));
    } else {
        free(x->rec.node_id);
        x->rec.node_id = node;
        node = NULL;
        x->rec.start_us = start_us;
        x->rec.status = TASKER_EXEC_RUNNING;
        place_on_list(m, x);
    }
    pthread_mutex_unlock(&m->lock);
    free(node);
    return rc;
}

static int mem_update_task_exec(tasker_storage *st, const tasker_task_exec *e)
{
    if (!e || !e->exec_id) return tasker_fail(TASKER_EINVAL, "memory: update_task_exec: NULL id");
    mem_store *m = mem(st);
    char *result = NULL, *error = NULL;
    if (!dup_into(&result, e->result) || !dup_into(&error, e->error)) {
        free(result);
        return tasker_fail(TASKER_ENOMEM, "memory: update_task_exec '%s': out of memory",
                           e->exec_id);
    }
    pthread_mutex_lock(&m->lock);
    mexec *x = find_exec(m, e->exec_id);
    if (x) {
        free(x->rec.result);
        free(x->rec.error);
        x->rec.result = result;
        x->rec.error = error;
        result = error = NULL;
        x->rec.end_us = e->end_us;
        x->rec.success = e->success;
        x->rec.status = e->status;
        place_on_list(m, x); /* a doomed execution that finished waits on `prunable` */
    }
    pthread_mutex_unlock(&m->lock);
    free(result);
    free(error);
    return x ? TASKER_OK : tasker_fail(TASKER_ENOTFOUND, "memory: no execution '%s'", e->exec_id);
}

static int mem_get_task_exec(tasker_storage *st, const char *exec_id, tasker_task_exec *out)
{
    if (!exec_id || !out) return tasker_fail(TASKER_EINVAL, "memory: get_task_exec: NULL argument");
    mem_store *m = mem(st);
    int rc = TASKER_OK;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&m->lock);
    mexec *x = find_exec(m, exec_id);
    if (!x)
        rc = tasker_fail(TASKER_ENOTFOUND, "memory: no execution '%s'", exec_id);
    else if (!exec_copy(out, &x->rec))
        rc = tasker_fail(TASKER_ENOMEM, "memory: get_task_exec '%s': out of memory", exec_id);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* Copies n executions out into a new array; the caller holds the lock. */
static int copy_execs_out(mexec **v, size_t n, tasker_task_exec **out, size_t *n_out)
{
    if (!n) return TASKER_OK;
    tasker_task_exec *r = calloc(n, sizeof *r);
    if (!r) return tasker_fail(TASKER_ENOMEM, "memory: listing executions: out of memory");
    for (size_t i = 0; i < n; i++) {
        if (!exec_copy(&r[i], &v[i]->rec)) {
            tasker_free_execs(r, i);
            return tasker_fail(TASKER_ENOMEM, "memory: listing executions: out of memory");
        }
    }
    *out = r;
    *n_out = n;
    return TASKER_OK;
}

static int cmp_exec_newest_first(const void *a, const void *b)
{
    const mexec *x = OWNER(*(hnode *const *)a, mexec, by_id);
    const mexec *y = OWNER(*(hnode *const *)b, mexec, by_id);
    return -cmp_exec(x, y);
}

/* Every task's executions: not a hot path (a listing for people), so it sorts. */
static int list_all_execs(mem_store *m, size_t limit, tasker_task_exec **out, size_t *n)
{
    hnode **nodes = malloc((m->execs.count + 1) * sizeof *nodes);
    mexec **v = malloc((m->execs.count + 1) * sizeof *v);
    int rc = TASKER_ENOMEM;
    if (!nodes || !v) {
        tasker_fail(rc, "memory: list_task_execs: out of memory");
        goto out;
    }
    struct gather g = {nodes, 0};
    htab_each(&m->execs, gather_node, &g);
    qsort(nodes, g.n, sizeof *nodes, cmp_exec_newest_first);
    size_t count = limit && limit < g.n ? limit : g.n;
    for (size_t i = 0; i < count; i++) v[i] = OWNER(nodes[i], mexec, by_id);
    rc = copy_execs_out(v, count, out, n);
out:
    free(nodes);
    free(v);
    return rc;
}

static int mem_list_task_execs(tasker_storage *st, const char *task_id, size_t limit,
                               tasker_task_exec **out, size_t *n)
{
    if (!out || !n) return tasker_fail(TASKER_EINVAL, "memory: list_task_execs: NULL argument");
    mem_store *m = mem(st);
    int rc = TASKER_OK;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&m->lock);
    if (!task_id) {
        rc = list_all_execs(m, limit, out, n);
        goto out;
    }
    mgroup *g = find_group(m, task_id);
    size_t count = 0;
    for (mexec *x = g ? g->newest : NULL; x && (!limit || count < limit); x = x->older) count++;
    mexec **v = malloc((count + 1) * sizeof *v);
    if (!v) {
        rc = tasker_fail(TASKER_ENOMEM, "memory: list_task_execs: out of memory");
        goto out;
    }
    count = 0;
    for (mexec *x = g ? g->newest : NULL; x && (!limit || count < limit); x = x->older)
        v[count++] = x;
    rc = copy_execs_out(v, count, out, n);
    free(v);
out:
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static int mem_list_pending_execs(tasker_storage *st, size_t limit, tasker_task_exec **out,
                                  size_t *n)
{
    if (!out || !n) return tasker_fail(TASKER_EINVAL, "memory: list_pending_execs: NULL argument");
    mem_store *m = mem(st);
    int rc = TASKER_OK;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&m->lock);
    size_t count = 0;
    for (mexec *x = m->pending.head; x && (!limit || count < limit); x = x->next) count++;
    mexec **v = malloc((count + 1) * sizeof *v);
    if (v) {
        count = 0;
        for (mexec *x = m->pending.head; x && (!limit || count < limit); x = x->next)
            v[count++] = x;
        rc = copy_execs_out(v, count, out, n);
        free(v);
    } else {
        rc = tasker_fail(TASKER_ENOMEM, "memory: list_pending_execs: out of memory");
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* ---- interrupting the executions of dead nodes ------------------------------------ */

typedef struct node_verdict {
    char *node_id;
    bool dead;
} node_verdict;

static const char *node_name(const mexec *x)
{
    return x->rec.node_id ? x->rec.node_id : "";
}

/* The distinct nodes of the running executions; the caller holds the lock. */
static int running_nodes(mem_store *m, node_verdict **out, size_t *n)
{
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    for (mexec *x = m->running.head; x; x = x->next) cap++;
    if (!cap) return TASKER_OK;
    node_verdict *v = calloc(cap, sizeof *v);
    if (!v) return tasker_fail(TASKER_ENOMEM, "memory: interrupt_dead: out of memory");
    size_t count = 0;
    for (mexec *x = m->running.head; x; x = x->next) {
        size_t i = 0;
        while (i < count && strcmp(v[i].node_id, node_name(x)) != 0) i++;
        if (i < count) continue;
        if (!(v[count].node_id = strdup(node_name(x)))) {
            for (i = 0; i < count; i++) free(v[i].node_id);
            free(v);
            return tasker_fail(TASKER_ENOMEM, "memory: interrupt_dead: out of memory");
        }
        count++;
    }
    *out = v;
    *n = count;
    return TASKER_OK;
}

static bool node_is_dead(const node_verdict *v, size_t n, const char *node_id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].node_id, node_id) == 0) return v[i].dead;
    return false; /* started after we asked: its node is alive */
}

/* Marks one running execution interrupted; the caller holds the lock. */
static int interrupt_exec(mem_store *m, mexec *x, int64_t now_us)
{
    size_t len = strlen(node_name(x)) + 40;
    char *error = malloc(len);
    if (!error) return tasker_fail(TASKER_ENOMEM, "memory: interrupt_dead: out of memory");
    snprintf(error, len, "interrupted: node %s stopped", node_name(x));
    free(x->rec.error);
    x->rec.error = error;
    x->rec.end_us = now_us;
    x->rec.success = false;
    x->rec.status = TASKER_EXEC_INTERRUPTED;
    place_on_list(m, x);
    return TASKER_OK;
}

/* alive() is called without the lock held, so it may use the store. */
static int mem_interrupt_dead(tasker_storage *st, tasker_node_alive_fn alive, void *udata,
                              size_t *n)
{
    if (!alive) return tasker_fail(TASKER_EINVAL, "memory: interrupt_dead: alive is NULL");
    mem_store *m = mem(st);
    node_verdict *nodes = NULL;
    size_t n_nodes = 0, marked = 0;
    pthread_mutex_lock(&m->lock);
    int rc = running_nodes(m, &nodes, &n_nodes);
    pthread_mutex_unlock(&m->lock);
    if (rc != TASKER_OK) goto out;
    for (size_t i = 0; i < n_nodes; i++) nodes[i].dead = !alive(nodes[i].node_id, udata);
    pthread_mutex_lock(&m->lock);
    int64_t now_us = tasker_storage_now_us(st);
    for (mexec *x = m->running.head, *next; x && rc == TASKER_OK; x = next) {
        next = x->next;
        if (!node_is_dead(nodes, n_nodes, node_name(x))) continue;
        if ((rc = interrupt_exec(m, x, now_us)) == TASKER_OK) marked++;
    }
    pthread_mutex_unlock(&m->lock);
out:
    for (size_t i = 0; i < n_nodes; i++) free(nodes[i].node_id);
    free(nodes);
    if (n) *n = marked;
    return rc;
}

/* ---- events ----------------------------------------------------------------------- */

static int mem_add_task_event(tasker_storage *st, const tasker_task_event *ev)
{
    if (!ev || !ev->exec_id) return tasker_fail(TASKER_EINVAL, "memory: add_task_event: NULL id");
    mem_store *m = mem(st);
    char *message = NULL;
    if (!dup_into(&message, ev->message))
        return tasker_fail(TASKER_ENOMEM, "memory: add_task_event '%s': out of memory",
                           ev->exec_id);
    int rc = TASKER_OK;
    pthread_mutex_lock(&m->lock);
    mexec *x = find_exec(m, ev->exec_id);
    if (!x) {
        rc = tasker_fail(TASKER_ENOTFOUND, "memory: add_task_event: no execution '%s'",
                         ev->exec_id);
    } else if (x->n_events == x->cap_events) {
        size_t cap = x->cap_events ? x->cap_events * 2 : 4;
        tasker_task_event *v = realloc(x->events, cap * sizeof *v);
        if (v) {
            x->events = v;
            x->cap_events = cap;
        } else {
            rc = tasker_fail(TASKER_ENOMEM, "memory: add_task_event '%s': out of memory",
                             ev->exec_id);
        }
    }
    if (rc == TASKER_OK) {
        tasker_task_event *slot = &x->events[x->n_events++];
        *slot = *ev;
        slot->exec_id = NULL;
        slot->event_id = ++m->last_event_id;
        slot->message = message;
        message = NULL;
    }
    pthread_mutex_unlock(&m->lock);
    free(message);
    return rc;
}

static int copy_events_out(const mexec *x, tasker_task_event **out, size_t *n)
{
    if (!x->n_events) return TASKER_OK;
    tasker_task_event *v = calloc(x->n_events, sizeof *v);
    if (!v) return tasker_fail(TASKER_ENOMEM, "memory: list_task_events: out of memory");
    for (size_t i = 0; i < x->n_events; i++) {
        v[i] = x->events[i];
        v[i].exec_id = strdup(x->rec.exec_id);
        v[i].message = NULL;
        if (!v[i].exec_id || !dup_into(&v[i].message, x->events[i].message)) {
            tasker_free_events(v, i + 1);
            return tasker_fail(TASKER_ENOMEM, "memory: list_task_events: out of memory");
        }
    }
    *out = v;
    *n = x->n_events;
    return TASKER_OK;
}

static int mem_list_task_events(tasker_storage *st, const char *exec_id,
                                tasker_task_event **out, size_t *n)
{
    if (!exec_id || !out || !n)
        return tasker_fail(TASKER_EINVAL, "memory: list_task_events: NULL argument");
    mem_store *m = mem(st);
    int rc;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&m->lock);
    mexec *x = find_exec(m, exec_id);
    rc = x ? copy_events_out(x, out, n)
           : tasker_fail(TASKER_ENOTFOUND, "memory: no execution '%s'", exec_id);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* ---- the driver ------------------------------------------------------------------- */

static void free_task_node(hnode *n, void *arg)
{
    mtask *t = OWNER(n, mtask, by_id);
    tasker_task_clear(&t->rec);
    free(t);
}

static void free_scheme_node(hnode *n, void *arg)
{
    mscheme *sc = OWNER(n, mscheme, by_id);
    tasker_scheme_clear(&sc->rec);
    free(sc);
}

static void free_exec_node(hnode *n, void *arg)
{
    exec_free_fields(OWNER(n, mexec, by_id));
}

static void free_group_node(hnode *n, void *arg)
{
    mgroup *g = OWNER(n, mgroup, by_task);
    free(g->task_id);
    free(g);
}

static void mem_close(tasker_storage *st)
{
    mem_store *m = mem(st);
    if (!m) return;
    if (m->tasks.slots) htab_each(&m->tasks, free_task_node, NULL);
    if (m->schemes.slots) htab_each(&m->schemes, free_scheme_node, NULL);
    if (m->execs.slots) htab_each(&m->execs, free_exec_node, NULL);
    if (m->groups.slots) htab_each(&m->groups, free_group_node, NULL);
    free(m->tasks.slots);
    free(m->schemes.slots);
    free(m->execs.slots);
    free(m->occurrences.slots);
    free(m->groups.slots);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static const tasker_storage_ops memory_ops = {
    .version = TASKER_STORAGE_VERSION,
    .name = "memory",
    .add_task = mem_add_task,
    .remove_task = mem_remove_task,
    .get_task = mem_get_task,
    .list_tasks = mem_list_tasks,
    .add_task_scheme = mem_add_task_scheme,
    .remove_task_scheme = mem_remove_task_scheme,
    .list_task_schemes = mem_list_task_schemes,
    .set_scheme_fire = mem_set_scheme_fire,
    .add_task_exec = mem_add_task_exec,
    .start_task_exec = mem_start_task_exec,
    .update_task_exec = mem_update_task_exec,
    .get_task_exec = mem_get_task_exec,
    .list_task_execs = mem_list_task_execs,
    .list_pending_execs = mem_list_pending_execs,
    .interrupt_dead = mem_interrupt_dead,
    .add_task_event = mem_add_task_event,
    .list_task_events = mem_list_task_events,
    .close = mem_close,
};

/* Until tasker_new() sets the core's clock, ages are read from the real clock. */
static int64_t realtime_us(void *udata)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

tasker_storage *tasker_memory_storage(void)
{
    mem_store *m = calloc(1, sizeof *m);
    if (!m) goto fail;
    m->base.ops = &memory_ops;
    m->base.env.max_execs_per_task = TASKER_DEFAULT_MAX_EXECS;
    m->base.env.max_exec_age_s = TASKER_DEFAULT_MAX_EXEC_AGE_S;
    m->base.env.clock = realtime_us;
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        goto fail;
    }
    if (htab_init(&m->tasks) || htab_init(&m->schemes) || htab_init(&m->execs) ||
        htab_init(&m->occurrences) || htab_init(&m->groups)) {
        mem_close(&m->base);
        goto fail;
    }
    return &m->base;
fail:
    tasker_fail(TASKER_ENOMEM, "memory: cannot create the store: out of memory");
    return NULL;
}
