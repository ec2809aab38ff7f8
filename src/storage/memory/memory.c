/* The in-memory storage driver ("memory:"): tasks, schedules, executions and events in
 * hash tables and intrusive lists, guarded by one mutex. Nothing survives close.
 *
 * This file owns the store (create, close, the ops table), tasks and schedules. The
 * costs of the data structures are described in storage/memory/internal.h.
 */
#include "storage/memory/internal.h"

#include <stdlib.h>
#include <time.h>

mtask *mem_find_task(mem_store *m, const char *id)
{
    for (hnode *n = mem_htab_first(&m->tasks, mem_hash_str(id)); n; n = mem_htab_next(n))
        if (strcmp(OWNER(n, mtask, by_id)->rec.task_id, id) == 0) return OWNER(n, mtask, by_id);
    return NULL;
}

mscheme *mem_find_scheme(mem_store *m, const char *id)
{
    for (hnode *n = mem_htab_first(&m->schemes, mem_hash_str(id)); n; n = mem_htab_next(n))
        if (strcmp(OWNER(n, mscheme, by_id)->rec.scheme_id, id) == 0)
            return OWNER(n, mscheme, by_id);
    return NULL;
}

/* ---- tasks ------------------------------------------------------------------------ */
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
    mem_copy_task_policies(&copy, task);
    copy.paused = task->paused;
    pthread_mutex_lock(&m->lock);
    t = mem_find_task(m, task->task_id);
    if (t) {
        copy.task_id = t->rec.task_id;
        copy.paused = t->rec.paused; /* state, not definition: a re-add keeps it */
        t->rec.task_id = NULL;
        tasker_task_clear(&t->rec);
        t->rec = copy;
        memset(&copy, 0, sizeof copy);
        rc = TASKER_OK;
    } else if ((t = calloc(1, sizeof *t)) && (copy.task_id = strdup(task->task_id))) {
        t->rec = copy;
        memset(&copy, 0, sizeof copy);
        mem_htab_insert(&m->tasks, &t->by_id, mem_hash_str(t->rec.task_id));
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
    mem_htab_remove(&s->m->schemes, n);
    tasker_scheme_clear(&sc->rec);
    free(sc);
}

/* Schedules are few, so removing a task's schedules scans them all. */
static int mem_remove_task(tasker_storage *st, const char *task_id)
{
    if (!task_id) return tasker_fail(TASKER_EINVAL, "memory: remove_task: task_id is NULL");
    mem_store *m = mem(st);
    pthread_mutex_lock(&m->lock);
    mtask *t = mem_find_task(m, task_id);
    if (t) {
        struct scheme_sweep s = {m, task_id};
        mem_htab_each(&m->schemes, drop_scheme_of_task, &s);
        mem_htab_remove(&m->tasks, &t->by_id);
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
        dup_into(&out->param, in->param) && dup_into(&out->desc, in->desc)) {
        mem_copy_task_policies(out, in);
        out->paused = in->paused;
        return true;
    }
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
    mtask *t = mem_find_task(m, task_id);
    if (!t)
        rc = tasker_fail(TASKER_ENOTFOUND, "memory: no task '%s'", task_id);
    else if (!task_copy(out, &t->rec))
        rc = tasker_fail(TASKER_ENOMEM, "memory: get_task '%s': out of memory", task_id);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* How to list one table: its nodes sorted by cmp (which compares hnode pointers), each
 * record copied by copy into an array of `size`-byte records that free_all releases. */
typedef struct listing {
    const char *what; /* the operation, for messages */
    size_t size;
    int (*cmp)(const void *a, const void *b);
    bool (*copy)(void *dst, hnode *n);
    void (*free_all)(void *v, size_t n);
} listing;

/* Copies every record of h out into a new array; the caller holds the lock. An empty
 * table leaves *out NULL and *n 0. */
static int copy_table(htab *h, const listing *l, void **out, size_t *n)
{
    hnode **nodes = malloc((h->count + 1) * sizeof *nodes);
    char *v = calloc(h->count + 1, l->size);
    int rc = TASKER_OK;
    if (!nodes || !v) {
        rc = tasker_fail(TASKER_ENOMEM, "memory: %s: out of memory", l->what);
        goto out;
    }
    size_t count = mem_htab_collect(h, nodes);
    qsort(nodes, count, sizeof *nodes, l->cmp);
    for (size_t i = 0; i < count; i++) {
        if (!l->copy(v + i * l->size, nodes[i])) {
            l->free_all(v, i);
            v = NULL;
            rc = tasker_fail(TASKER_ENOMEM, "memory: %s: out of memory", l->what);
            goto out;
        }
    }
    if (count) {
        *out = v;
        *n = count;
        v = NULL;
    }
out:
    free(v);
    free(nodes);
    return rc;
}

/* The listing operations: checks the arguments and copies the table under the lock. */
static int list_table(mem_store *m, htab *h, const listing *l, void **out, size_t *n)
{
    if (!out || !n) return tasker_fail(TASKER_EINVAL, "memory: %s: NULL argument", l->what);
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&m->lock);
    int rc = copy_table(h, l, out, n);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static int cmp_task_ptr(const void *a, const void *b)
{
    const mtask *x = OWNER(*(hnode *const *)a, mtask, by_id);
    const mtask *y = OWNER(*(hnode *const *)b, mtask, by_id);
    return strcmp(x->rec.task_id, y->rec.task_id);
}

static bool copy_task_node(void *dst, hnode *n)
{
    return task_copy(dst, &OWNER(n, mtask, by_id)->rec);
}

static void free_task_array(void *v, size_t n)
{
    tasker_free_tasks(v, n);
}

static const listing task_listing = {"list_tasks", sizeof(tasker_task), cmp_task_ptr,
                                     copy_task_node, free_task_array};

static int mem_list_tasks(tasker_storage *st, tasker_task **out, size_t *n)
{
    void *v = NULL;
    int rc = list_table(mem(st), &mem(st)->tasks, &task_listing, out ? &v : NULL, n);
    if (out) *out = v;
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
    mem_htab_insert(&m->schemes, &sc->by_id, mem_hash_str(sc->rec.scheme_id));
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
    if (!mem_find_task(m, s->task_id)) {
        rc = tasker_fail(TASKER_ENOTFOUND, "memory: add_task_scheme: no task '%s'", s->task_id);
        goto out;
    }
    mem_htab_each(&m->schemes, match_scheme, &match);
    if (match.found) {
        match.found->rec.misfire = s->misfire;
        match.found->rec.overlap = s->overlap;
    } else if (mem_find_scheme(m, s->scheme_id)) {
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
    mscheme *sc = mem_find_scheme(m, scheme_id);
    if (sc) {
        mem_htab_remove(&m->schemes, &sc->by_id);
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

static bool copy_scheme_node(void *dst, hnode *n)
{
    return scheme_copy(dst, &OWNER(n, mscheme, by_id)->rec);
}

static void free_scheme_array(void *v, size_t n)
{
    tasker_free_schemes(v, n);
}

static const listing scheme_listing = {"list_task_schemes", sizeof(tasker_task_scheme),
                                       cmp_scheme_ptr, copy_scheme_node, free_scheme_array};

static int mem_list_task_schemes(tasker_storage *st, tasker_task_scheme **out, size_t *n)
{
    void *v = NULL;
    int rc = list_table(mem(st), &mem(st)->schemes, &scheme_listing, out ? &v : NULL, n);
    if (out) *out = v;
    return rc;
}

static int mem_set_scheme_fire(tasker_storage *st, const char *scheme_id, int64_t fire_us)
{
    if (!scheme_id) return tasker_fail(TASKER_EINVAL, "memory: set_scheme_fire: NULL id");
    mem_store *m = mem(st);
    pthread_mutex_lock(&m->lock);
    mscheme *sc = mem_find_scheme(m, scheme_id);
    if (sc && fire_us > sc->rec.last_fire_us) sc->rec.last_fire_us = fire_us;
    pthread_mutex_unlock(&m->lock);
    return sc ? TASKER_OK : tasker_fail(TASKER_ENOTFOUND, "memory: no schedule '%s'", scheme_id);
}

/* version 4: bulk definitions. Under one lock, so a reader sees all or none. */
static int mem_set_scheme_fires(tasker_storage *st, const char *const *ids,
                                const int64_t *fire_us, size_t n)
{
    if (n > 0 && (!ids || !fire_us))
        return tasker_fail(TASKER_EINVAL, "memory: set_scheme_fires: NULL argument");
    mem_store *m = mem(st);
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < n; i++) {
        mscheme *sc = ids[i] ? mem_find_scheme(m, ids[i]) : NULL;
        if (sc && fire_us[i] > sc->rec.last_fire_us) sc->rec.last_fire_us = fire_us[i];
    }
    pthread_mutex_unlock(&m->lock);
    return TASKER_OK;
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
    mem_exec_free_fields(OWNER(n, mexec, by_id));
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
    if (m->tasks.slots) mem_htab_each(&m->tasks, free_task_node, NULL);
    if (m->schemes.slots) mem_htab_each(&m->schemes, free_scheme_node, NULL);
    if (m->execs.slots) mem_htab_each(&m->execs, free_exec_node, NULL);
    if (m->groups.slots) mem_htab_each(&m->groups, free_group_node, NULL);
    free(m->tasks.slots);
    free(m->schemes.slots);
    free(m->execs.slots);
    free(m->occurrences.slots);
    free(m->groups.slots);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* The memory store writes at once, so its asynchronous writes are the synchronous ones
 * followed by the callback. */
static int mem_add_task_event_async(tasker_storage *st, const tasker_task_event *ev,
                                    tasker_storage_done_fn done, void *udata)
{
    int rc = mem_add_task_event(st, ev);
    if (done) done(udata, rc, rc == TASKER_OK ? NULL : tasker_last_error());
    return TASKER_OK;
}

static int mem_update_task_exec_async(tasker_storage *st, const tasker_task_exec *e,
                                      tasker_storage_done_fn done, void *udata)
{
    int rc = mem_update_task_exec(st, e);
    if (done) done(udata, rc, rc == TASKER_OK ? NULL : tasker_last_error());
    return TASKER_OK;
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
    .add_task_event_async = mem_add_task_event_async,
    .update_task_exec_async = mem_update_task_exec_async,
    .add_task_execs = mem_add_task_execs,
    .start_task_execs = mem_start_task_execs,
    .claim_task_execs = mem_claim_task_execs,
    .find_active_exec = mem_find_active_exec,
    .cancel_task_exec = mem_cancel_task_exec,
    .set_task_paused = mem_set_task_paused,
    .set_scheme_paused = mem_set_scheme_paused,
    .list_task_execs_filter = mem_list_task_execs_filter,
    .find_unique_exec = mem_find_unique_exec,
    /* version 4: bulk definitions */
    .set_scheme_fires = mem_set_scheme_fires,
    /* version 4: firing a herd */
    .add_started_execs = mem_add_started_execs,
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
    if (mem_htab_init(&m->tasks) || mem_htab_init(&m->schemes) || mem_htab_init(&m->execs) ||
        mem_htab_init(&m->occurrences) || mem_htab_init(&m->groups)) {
        mem_close(&m->base);
        goto fail;
    }
    return &m->base;
fail:
    tasker_fail(TASKER_ENOMEM, "memory: cannot create the store: out of memory");
    return NULL;
}
