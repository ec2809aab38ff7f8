/* Cluster mode's heartbeat: the node's row in the store, the clock offset, and the
 * lease rule (design section 5).
 *
 * When the store keeps a nodes table (storage version 3), a handle with workers writes a
 * heartbeat at open, at once when a handler is registered (so that its row lists it),
 * and then every heartbeat_ms from its own thread (a handle without
 * workers only reads the store's clock that often). Each beat returns the
 * store's clock; the difference to ours is the offset that tasker_now_us() adds, so
 * that fires, leases and recorded times are judged on one clock whatever each host's
 * clock says. After each beat the node applies the lease rule: the running executions
 * of nodes silent for lease_ms are marked interrupted, by whichever live node gets
 * there first (the driver makes that one atomic step).
 *
 * While the store is down the thread retries with a growing pause (250 ms doubling to
 * TASKER_BACKOFF_MAX_US) and says so on stderr once, then every LOG_EVERY_US, and
 * once more when the store is back. */
#include "core/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_HEARTBEAT_MS 2000
#define DEFAULT_LEASE_MS 10000
#define LOG_EVERY_US (30 * 1000000LL)
#define DOWN_FIRST_RETRY_US 250000LL

static bool store_keeps_nodes(const tasker_storage_ops *ops)
{
    return ops->version >= 3 && ops->node_beat && ops->list_nodes && ops->node_gone &&
           ops->interrupt_expired;
}

static int64_t heartbeat_us(const tasker_t *t)
{
    return (t->opt.heartbeat_ms > 0 ? t->opt.heartbeat_ms : DEFAULT_HEARTBEAT_MS) * 1000;
}

static void set_offset(cluster *c, int64_t store_us, int64_t before_us, int64_t after_us)
{
    int64_t measured_us = store_us - (before_us + (after_us - before_us) / 2);
    int64_t margin_us = (after_us - before_us) / 2 + 1000;
    atomic_store(&c->offset_us, llabs(measured_us) <= margin_us ? 0 : measured_us);
}

/* Writes the heartbeat and measures the offset. The store read its clock somewhere
 * between our two readings, so the offset is known within half the round trip; an
 * offset inside that margin is no evidence of skew and counts as 0 (a store of this
 * host, whose clock is ours, then never shifts our times by its own latency). */
static int beat(tasker_t *t)
{
    cluster *c = &t->cl;
    int64_t offset_us = atomic_load(&c->offset_us);
    if (!c->member) { /* a client: it only reads the store's clock */
        tasker_node *v = NULL;
        size_t n = 0;
        int64_t store_us = 0, before_us = tasker_local_us(t);
        int rc = t->st->ops->list_nodes(t->st, INT64_MAX, &v, &n, &store_us);
        int64_t after_us = tasker_local_us(t);
        tasker_free_nodes(v, n);
        if (rc == TASKER_OK) set_offset(c, store_us, before_us, after_us);
        return rc;
    }
    pthread_mutex_lock(&c->beat_lock);
    tasker_node self = {.node_id = t->node_id, .host = c->host, .pid = (int64_t)getpid(),
                        .running = tasker_running_count(t),
                        .handlers = tasker_handlers_json(t), .clock_skew_us = -offset_us};
    if (!self.handlers) {
        pthread_mutex_unlock(&c->beat_lock);
        return tasker_fail(TASKER_ENOMEM, "heartbeat: out of memory for the handler list");
    }
    int64_t store_us = 0, before_us = tasker_local_us(t);
    int rc = t->st->ops->node_beat(t->st, &self, &store_us);
    int64_t after_us = tasker_local_us(t);
    pthread_mutex_unlock(&c->beat_lock);
    free(self.handlers);
    if (rc != TASKER_OK) return rc;
    set_offset(c, store_us, before_us, after_us);
    tasker_life_read_cancels(t);
    return TASKER_OK;
}

void tasker_cluster_judge(tasker_t *t)
{
    /* The same-host fast path first: a process of this host that no longer exists is
     * dead now, without waiting for its lease. */
    t->st->ops->interrupt_dead(t->st, tasker_node_alive, t, NULL);
    if (t->cl.member) t->st->ops->interrupt_expired(t->st, t->cl.lease_us, NULL);
}

/* Notes the store's state after a beat; returns the pause before the next one. */
static int64_t after_beat(tasker_t *t, int rc, int64_t *down_retry_us)
{
    cluster *c = &t->cl;
    int64_t now = tasker_mono_us();
    if (rc == TASKER_OK) {
        if (c->down_since_mono_us)
            fprintf(stderr, "tasker: node %s: the store is back after %.1f s\n", t->node_id,
                    (double)(now - c->down_since_mono_us) / 1e6);
        c->down_since_mono_us = 0;
        *down_retry_us = DOWN_FIRST_RETRY_US;
        return heartbeat_us(t);
    }
    if (!c->down_since_mono_us) c->down_since_mono_us = now;
    if (!c->last_log_mono_us || now - c->last_log_mono_us >= LOG_EVERY_US) {
        fprintf(stderr, "tasker: node %s: heartbeat failed (%s); retrying\n", t->node_id,
                tasker_last_error());
        c->last_log_mono_us = now;
    }
    int64_t pause_us = *down_retry_us;
    *down_retry_us = pause_us * 2 > TASKER_BACKOFF_MAX_US ? TASKER_BACKOFF_MAX_US : pause_us * 2;
    return pause_us;
}

/* The grace after the store comes back: no node could beat while it was away, and
 * each retries on its own backoff (up to TASKER_BACKOFF_MAX_US), so the others'
 * heartbeats are judged only once this node has beaten steadily for a lease plus the
 * longest retry pause. A beat that failed, or came a long time after the previous one
 * (a store that stalled without failing, such as a Galera cluster that lost its
 * primary component), starts the grace again. Without it, the first node back marked
 * the others' runs interrupted after any outage longer than the lease. */
static bool may_judge(tasker_t *t, int rc, int64_t *steady_since_us, int64_t *last_ok_us)
{
    int64_t now = tasker_mono_us(), grace_us = t->cl.lease_us + TASKER_BACKOFF_MAX_US;
    if (rc != TASKER_OK) {
        *steady_since_us = now;
        *last_ok_us = 0;
        return false;
    }
    if (*last_ok_us && now - *last_ok_us > heartbeat_us(t) + t->cl.lease_us / 2)
        *steady_since_us = now;
    *last_ok_us = now;
    return now - *steady_since_us >= grace_us;
}

static void *heartbeat_main(void *arg)
{
    tasker_t *t = arg;
    cluster *c = &t->cl;
    pthread_setname_np(pthread_self(), "tasker-beat");
    int64_t pause_us = heartbeat_us(t), down_retry_us = DOWN_FIRST_RETRY_US;
    /* Opened with the store up (the first beat was in tasker_cluster_start): no grace. */
    int64_t last_ok_us = tasker_mono_us();
    int64_t steady_since_us = last_ok_us - c->lease_us - TASKER_BACKOFF_MAX_US;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        struct timespec until = tasker_mono_after_us(pause_us);
        while (!c->stopping && pthread_cond_timedwait(&c->cond, &c->lock, &until) != ETIMEDOUT) {
        }
        if (c->stopping) break;
        pthread_mutex_unlock(&c->lock);
        int rc = beat(t);
        if (may_judge(t, rc, &steady_since_us, &last_ok_us)) tasker_cluster_judge(t);
        else if (rc == TASKER_OK) t->st->ops->interrupt_dead(t->st, tasker_node_alive, t, NULL);
        pause_us = after_beat(t, rc, &down_retry_us);
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

int tasker_cluster_start(tasker_t *t)
{
    cluster *c = &t->cl;
    c->lease_us = (t->opt.lease_ms > 0 ? t->opt.lease_ms : DEFAULT_LEASE_MS) * 1000;
    if (gethostname(c->host, sizeof c->host - 1) != 0) snprintf(c->host, sizeof c->host, "?");
    if (!store_keeps_nodes(t->st->ops)) return TASKER_OK;
    c->on = true;
    /* Only a handle that takes work is a node with a row; a client (no workers: the
     * `tasker` command, a web front end) only measures the store's clock, so that what
     * it records is on that clock too. A no_pickup handle (`tasker trigger --local`,
     * one run of its own, many times a day perhaps) is a client too, so as not to fill
     * the table with rows of one-off commands; its run is judged by the same-host
     * check (interrupt_dead). */
    c->member = t->opt.workers > 0 && !t->opt.no_pickup;
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->beat_lock, NULL);
    tasker_cond_init_mono(&c->cond);
    c->ready = true;
    /* The first beat makes the row before this node can start anything, and measures
     * the offset before the first time is recorded. A store that cannot take it is
     * reported by the open itself. */
    int rc = beat(t);
    if (rc != TASKER_OK) return rc;
    if (pthread_create(&c->thread, NULL, heartbeat_main, t) != 0)
        return tasker_fail(TASKER_ESTATE, "open: cannot start the heartbeat thread");
    c->started = true;
    return TASKER_OK;
}

void tasker_cluster_handlers_changed(tasker_t *t)
{
    if (t->cl.ready && t->cl.member) beat(t);
}

/* How long a node's place is kept: it changes only when nodes come or go, which the
 * lease takes seconds to tell anyway; every schedule pass and poll would otherwise read
 * the nodes. */
#define PLACE_TTL_US INT64_C(1000000)

void tasker_cluster_place(tasker_t *t, size_t *rank, size_t *count)
{
    cluster *c = &t->cl;
    *rank = 0;
    *count = 1;
    if (!c->on || !c->ready || !c->member) return;
    int64_t mono_now_us = tasker_mono_us();
    pthread_mutex_lock(&c->lock);
    bool fresh = c->place_read_us && mono_now_us - c->place_read_us < PLACE_TTL_US;
    if (fresh) {
        *rank = c->place_rank;
        *count = c->place_count;
    }
    pthread_mutex_unlock(&c->lock);
    if (fresh) return;
    tasker_node *v = NULL;
    size_t n = 0;
    int64_t store_us = 0;
    if (t->st->ops->list_nodes(t->st, 0, &v, &n, &store_us) != TASKER_OK) return;
    size_t live = 0, mine = 0;
    bool found = false;
    for (size_t i = 0; i < n; i++) { /* ordered by node_id */
        if (v[i].stopped_us || v[i].heartbeat_us < store_us - c->lease_us) continue;
        if (strcmp(v[i].node_id, t->node_id) == 0) {
            mine = live;
            found = true;
        }
        live++;
    }
    tasker_free_nodes(v, n);
    if (found) {
        *rank = mine;
        *count = live;
    }
    pthread_mutex_lock(&c->lock);
    c->place_rank = *rank;
    c->place_count = *count;
    c->place_read_us = mono_now_us;
    pthread_mutex_unlock(&c->lock);
}

void tasker_cluster_stop(tasker_t *t)
{
    cluster *c = &t->cl;
    if (!c->ready) return;
    if (c->started) {
        pthread_mutex_lock(&c->lock);
        c->stopping = true;
        pthread_cond_signal(&c->cond);
        pthread_mutex_unlock(&c->lock);
        pthread_join(c->thread, NULL);
        c->started = false;
    }
    /* A clean stop: the others need not wait for the lease to know. */
    if (c->member) t->st->ops->node_gone(t->st, t->node_id);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->beat_lock);
    pthread_cond_destroy(&c->cond);
    c->ready = false;
}
