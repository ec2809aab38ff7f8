/* Internal: the memory driver's types and the declarations shared by memory*.c.
 *
 * memory.c owns the store, tasks, schedules and the ops table; storage/memory/htab.c the
 * intrusive hash table; storage/memory/retention.c the status lists, freeing and retention;
 * storage/memory/exec.c executions, events and interrupting the executions of dead nodes;
 * storage/memory/cluster.c claiming pending runs by handler and the overlap check.
 *
 * Costs. Every hot operation (add/start/update/get exec, add event) is O(1) expected:
 * executions are found through a hash on exec_id, occurrences through a hash on
 * (scheme_id, scheduled_us), and each task's history is a list ordered by
 * (queued_us, exec_id) into which a new execution is linked from the newest end (so
 * O(1) when executions arrive in time order, which is the normal case). Pending
 * executions sit on a list ordered the same way, running ones on another.
 */
#ifndef TASKER_SRC_MEMORY_INTERNAL_H
#define TASKER_SRC_MEMORY_INTERNAL_H

#include "core/error.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define OWNER(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* ---- a small intrusive chained hash table (storage/memory/htab.c) ------------------------- */

typedef struct hnode {
    struct hnode *next;
    uint64_t hash;
} hnode;

typedef struct htab {
    hnode **slots;
    size_t mask, count;
} htab;

uint64_t mem_hash_str(const char *s);
uint64_t mem_hash_occurrence(const char *scheme_id, int64_t scheduled_us);
int mem_htab_init(htab *h);
void mem_htab_insert(htab *h, hnode *n, uint64_t hash);
void mem_htab_remove(htab *h, hnode *n);
/* The first node with this hash, then the next one; callers compare keys. */
hnode *mem_htab_first(const htab *h, uint64_t hash);
hnode *mem_htab_next(hnode *n);
/* Calls fn on every node; fn may remove the node it is given. */
void mem_htab_each(htab *h, void (*fn)(hnode *n, void *arg), void *arg);
/* Stores every node into v (room for h->count) and returns how many. */
size_t mem_htab_collect(htab *h, hnode **v);

/* ---- records ---------------------------------------------------------------------- */

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
    bool cancel_requested; /* tasker_cancel() of a running run (storage version 4) */
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

static inline mem_store *mem(tasker_storage *st)
{
    return (mem_store *)st;
}

static inline bool id_ok(const char *id)
{
    return id && *id && strlen(id) < TASKER_ID_SIZE;
}

/* Copies src into *dst (NULL stays NULL). False only when out of memory. */
static inline bool dup_into(char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;
    return !src || *dst;
}

static inline bool is_finished(tasker_exec_status s)
{
    return s != TASKER_EXEC_PENDING && s != TASKER_EXEC_RUNNING;
}

static inline int cmp_exec(const mexec *a, const mexec *b)
{
    if (a->rec.queued_us != b->rec.queued_us) return a->rec.queued_us < b->rec.queued_us ? -1 : 1;
    return strcmp(a->rec.exec_id, b->rec.exec_id);
}

/* ---- shared between the files; the caller holds the lock -------------------------- */

/* memory.c */
mtask *mem_find_task(mem_store *m, const char *id);
/* Copies the policy fields of a task record (not its strings, not paused). */
static inline void mem_copy_task_policies(tasker_task *out, const tasker_task *in)
{
    out->max_attempts = in->max_attempts;
    out->backoff_ms = in->backoff_ms;
    out->backoff_max_ms = in->backoff_max_ms;
    out->timeout_ms = in->timeout_ms;
    out->max_concurrency = in->max_concurrency;
    out->priority = in->priority;
    out->max_execs = in->max_execs;
    out->max_exec_age_s = in->max_exec_age_s;
}

/* storage/memory/retention.c */
/* Moves x to the list its status and doom call for. */
void mem_place_on_list(mem_store *m, mexec *x);
/* Counts a just-linked execution into its history's doomed prefix or the rest. */
void mem_group_admit(mem_store *m, mexec *x);
/* Dooms what the rules now make prunable in g (and one other history), frees it. */
void mem_apply_retention(mem_store *m, mgroup *g);
/* Frees an execution that is on no index. */
void mem_exec_free_fields(mexec *x);

/* storage/memory/exec.c: the operations on executions and events */
int mem_add_task_exec(tasker_storage *st, const tasker_task_exec *e);
int mem_add_task_execs(tasker_storage *st, const tasker_task_exec *v, size_t n);
int mem_add_started_execs(tasker_storage *st, const tasker_task_exec *v, size_t n,
                          int64_t start_us, const char *node_id, const char *const *handlers,
                          size_t nh, size_t max_start, bool *started);
int mem_start_task_exec(tasker_storage *st, const char *exec_id, int64_t start_us,
                        const char *node_id);
int mem_update_task_exec(tasker_storage *st, const tasker_task_exec *e);
int mem_start_task_execs(tasker_storage *st, const char *const *ids, size_t n,
                         int64_t start_us, const char *node_id, int *rcs);
int mem_get_task_exec(tasker_storage *st, const char *exec_id, tasker_task_exec *out);
int mem_list_task_execs(tasker_storage *st, const char *task_id, size_t limit,
                        tasker_task_exec **out, size_t *n);
int mem_list_pending_execs(tasker_storage *st, size_t limit, tasker_task_exec **out, size_t *n);
int mem_interrupt_dead(tasker_storage *st, tasker_node_alive_fn alive, void *udata, size_t *n);
int mem_add_task_event(tasker_storage *st, const tasker_task_event *ev);
/* The event text of a refused late outcome e of the execution now in state cur
 * (malloc'd; NULL when out of memory). */
char *mem_refusal_message(const tasker_task_exec *e, const tasker_task_exec *cur);

/* storage/memory/cluster.c: the version 3 operations that apply to a private store */
int mem_claim_task_execs(tasker_storage *st, const char *node_id, const char *const *handlers,
                         size_t nh, size_t max, int64_t now_us, tasker_task_exec **out,
                         size_t *n);
int mem_find_active_exec(tasker_storage *st, const char *scheme_id,
                         char exec_id_out[TASKER_ID_SIZE]);
/* Copies an execution record (strings duplicated); false when out of memory. */
bool mem_exec_copy(tasker_task_exec *out, const tasker_task_exec *in);
bool mem_startable(mem_store *m, const mexec *x, int64_t now_us);
mexec *mem_find_exec(mem_store *m, const char *id);
void mem_add_retry(mem_store *m, mexec *x);
mgroup *mem_group_get(mem_store *m, const char *task_id);
void mem_group_link(mgroup *g, mexec *x);
int mem_check_new_exec(mem_store *m, const tasker_task_exec *e);
mgroup *mem_find_group(mem_store *m, const char *task_id);
int mem_copy_execs_out(mexec **v, size_t n, tasker_task_exec **out, size_t *n_out);
mscheme *mem_find_scheme(mem_store *m, const char *id);
/* job lifecycle (storage/memory/lifecycle.c, storage version 4) */
int mem_cancel_task_exec(tasker_storage *st, const char *exec_id, int64_t now_us,
                         tasker_exec_status *was);
int mem_set_task_paused(tasker_storage *st, const char *task_id, bool paused);
int mem_set_scheme_paused(tasker_storage *st, const char *scheme_id, bool paused,
                          int64_t now_us);
int mem_list_task_execs_filter(tasker_storage *st, const tasker_exec_filter *f,
                               int64_t after_queued_us, const char *after_exec_id,
                               size_t limit, tasker_task_exec **out, size_t *n);
int mem_find_unique_exec(tasker_storage *st, const char *task_id, const char *key,
                         char exec_id_out[TASKER_ID_SIZE]);
int mem_list_task_events(tasker_storage *st, const char *exec_id, tasker_task_event **out,
                         size_t *n);

#endif
