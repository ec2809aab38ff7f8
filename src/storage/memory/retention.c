/* The memory driver's status lists (pending, running, prunable), the freeing of
 * executions and their histories, and retention.
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
 * The limits are the task's own when it has them (tasker_task_opts max_execs,
 * max_exec_age_s), else the handle's. Raising a task's limit does not bring back what
 * was already doomed; it applies from there on.
 */
#include "storage/memory/internal.h"

#include <stdlib.h>

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
void mem_place_on_list(mem_store *m, mexec *x)
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
    mem_htab_remove(&m->groups, &g->by_task);
    if (m->sweep == g) m->sweep = g->ring_next != g ? g->ring_next : NULL;
    g->ring_prev->ring_next = g->ring_next;
    g->ring_next->ring_prev = g->ring_prev;
    free(g->task_id);
    free(g);
}

void mem_exec_free_fields(mexec *x)
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
    mem_htab_remove(&m->execs, &x->by_id);
    if (x->rec.scheme_id) mem_htab_remove(&m->occurrences, &x->by_occurrence);
    if (g->cursor == x) {
        g->cursor = x->newer;
        g->n_within--;
    }
    if (x->older) x->older->newer = x->newer; else g->oldest = x->newer;
    if (x->newer) x->newer->older = x->older; else g->newest = x->older;
    mem_exec_free_fields(x);
    if (!g->oldest) group_free(m, g);
}

/* ---- retention -------------------------------------------------------------------- */

/* Executions queued before this are too old; INT64_MIN when ages are unlimited (or so
 * large that the cutoff would overflow, which means the same). */
static int64_t age_cutoff_us(int64_t now_us, int64_t max_exec_age_s)
{
    int64_t age_us, cutoff_us;
    if (max_exec_age_s < 0 || __builtin_mul_overflow(max_exec_age_s, INT64_C(1000000), &age_us) ||
        __builtin_sub_overflow(now_us, age_us, &cutoff_us))
        return INT64_MIN;
    return cutoff_us;
}

/* The limits of one history: its task's overrides (tasker_task_opts), else the
 * handle's. A history whose task was removed gets the handle's. */
typedef struct {
    int max;
    int64_t cutoff_us;
} limits;

static limits group_limits(mem_store *m, mgroup *g, int64_t now_us)
{
    const mtask *t = mem_find_task(m, g->task_id);
    int max = t && t->rec.max_execs ? t->rec.max_execs : m->base.env.max_execs_per_task;
    int64_t age_s = t && t->rec.max_exec_age_s ? t->rec.max_exec_age_s : m->base.env.max_exec_age_s;
    return (limits){.max = max, .cutoff_us = age_cutoff_us(now_us, age_s)};
}

static void doom(mem_store *m, mexec *x)
{
    x->doomed = true;
    if (is_finished(x->rec.status)) mem_place_on_list(m, x);
}

/* Moves the history's cursor past every execution the rules now make prunable. */
static void group_advance(mem_store *m, mgroup *g, int64_t now_us)
{
    limits l = group_limits(m, g, now_us);
    while (g->cursor && ((l.max >= 0 && g->n_within > (size_t)l.max) ||
                         g->cursor->rec.queued_us < l.cutoff_us)) {
        mexec *x = g->cursor;
        g->cursor = x->newer;
        g->n_within--;
        doom(m, x);
    }
}

/* Counts a just-linked execution into its history's doomed prefix or the rest. */
void mem_group_admit(mem_store *m, mexec *x)
{
    mgroup *g = x->group;
    if (x->newer && x->newer->doomed) {
        doom(m, x);
        return;
    }
    g->n_within++;
    if (!x->older || x->older->doomed) g->cursor = x;
}

void mem_apply_retention(mem_store *m, mgroup *g)
{
    int64_t now_us = tasker_storage_now_us(&m->base);
    group_advance(m, g, now_us);
    if (m->sweep) {
        group_advance(m, m->sweep, now_us);
        m->sweep = m->sweep->ring_next;
    }
    while (m->prunable.head) exec_free(m, m->prunable.head);
}
