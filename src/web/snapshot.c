/* The short-lived copy of the whole history that /metrics and the overview read. The
 * public API has no counting query, so both need every retained execution: one scan
 * (tasker_list_execs over every task) is shared by all requests for
 * WEB_SNAPSHOT_TTL_US (or five times as long as the scan took, when longer), and only one request
 * at a time refreshes it, so a dashboard left open in many tabs and a Prometheus scrape cost one
 * scan every two seconds at most. The cost of a scan grows with the retained history (docs/web.md
 * has figures). */
#include "web/internal.h"

#include <stdlib.h>

static void snapshot_unref(web_server *s, web_snapshot *snap)
{
    bool last = false;
    pthread_mutex_lock(&s->snap_lock);
    last = --snap->refs == 0;
    pthread_mutex_unlock(&s->snap_lock);
    if (!last) return;
    tasker_free_execs(snap->v, snap->n);
    free(snap);
}

/* The current snapshot with a reference taken, when it is fresh. */
static web_snapshot *fresh(web_server *s, int64_t now_us)
{
    web_snapshot *snap = NULL;
    pthread_mutex_lock(&s->snap_lock);
    /* A scan that took long is reused longer: scanning takes at most about a fifth of
     * one CPU however big the history grows. */
    int64_t ttl_us = s->snap ? 5 * s->snap->scan_us : 0;
    if (ttl_us < WEB_SNAPSHOT_TTL_US) ttl_us = WEB_SNAPSHOT_TTL_US;
    if (s->snap && now_us - s->snap->taken_us < ttl_us) {
        snap = s->snap;
        snap->refs++;
    }
    pthread_mutex_unlock(&s->snap_lock);
    return snap;
}

web_snapshot *web_snapshot_get(web_server *s, int *err)
{
    web_snapshot *snap = fresh(s, web_now_us());
    if (snap) return snap;
    pthread_mutex_lock(&s->refresh_lock);
    /* Another request may have refreshed it while this one waited. */
    if ((snap = fresh(s, web_now_us()))) goto out;
    if (!(snap = calloc(1, sizeof *snap))) {
        *err = TASKER_ENOMEM;
        goto out;
    }
    snap->taken_us = web_now_us();
    int64_t start_us = snap->taken_us;
    if ((*err = tasker_list_execs(s->t, NULL, &snap->v, &snap->n)) != TASKER_OK) {
        free(snap);
        snap = NULL;
        goto out;
    }
    snap->scan_us = web_now_us() - start_us;
    if (!s->observing) metrics_observe_scan(s->metrics, snap->v, snap->n);
    snap->refs = 2; /* the server's and the caller's */
    pthread_mutex_lock(&s->snap_lock);
    web_snapshot *old = s->snap;
    s->snap = snap;
    pthread_mutex_unlock(&s->snap_lock);
    if (old) snapshot_unref(s, old);
out:
    pthread_mutex_unlock(&s->refresh_lock);
    return snap;
}

void web_snapshot_release(web_server *s, web_snapshot *snap)
{
    if (snap) snapshot_unref(s, snap);
}

void web_snapshot_drop(web_server *s)
{
    pthread_mutex_lock(&s->snap_lock);
    web_snapshot *old = s->snap;
    s->snap = NULL;
    pthread_mutex_unlock(&s->snap_lock);
    if (old) snapshot_unref(s, old);
}
