/* The MySQL / MariaDB driver's top (layer 5): opening and closing the store, and the
 * operations table, which wires every part's operations (operations.h). The only file
 * that sees every part; storage/mysql/internal.h draws the layers. Connections and
 * their pool are storage/mysql/conn.c's. */
#include "core/error.h"
#include "storage/mysql/operations.h"
#include "storage/mysql/write.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static void store_free(my_store *s)
{
    my_thread_enter();
    my_writer_stop(s); /* it commits what is queued, then what the lanes owe */
    /* Claims of unknown outcome: one try to put their runs back to pending (else they
     * stay running under this node until its lease ends: docs/cluster.md). */
    if (s->nclaims_unknown && my_conn_at_hand(s)) my_claims_settle(s);
    my_claims_free(s);
    if (s->free_list && s->free_list->generation == s->generation)
        my_marks_drop(s, s->free_list, 0);
    while (s->free_list) {
        my_conn *c = s->free_list;
        s->free_list = c->next_free;
        my_conn_free(c);
    }
    pthread_mutex_destroy(&s->pool_lock);
    pthread_cond_destroy(&s->pool_cond);
    pthread_mutex_destroy(&s->claims_lock);
    if (s->trace) fclose(s->trace);
    free(s->key_sweep_task);
    free(s->key_sweep_key);
    my_commit_free(s);
    pthread_mutex_destroy(&s->commit_lock);
    my_url_clear(&s->url);
    free(s);
}

void my_store_close(tasker_storage *st)
{
    if (st) store_free((my_store *)st);
}

static void describe(my_store *s)
{
    if (s->url.socket || (strcmp(s->url.host, "localhost") == 0 && !s->url.port))
        snprintf(s->where, sizeof s->where, "%s@localhost:%s/%s", s->url.user,
                 s->url.socket ? s->url.socket : "(default socket)", s->url.db);
    else
        snprintf(s->where, sizeof s->where, "%s@%s:%u/%s", s->url.user, s->url.host,
                 s->url.port ? s->url.port : 3306, s->url.db);
}

#define MARK_MAX_AGE_US (7 * 86400 * INT64_C(1000000))

/* A random positive 63-bit id for this store's commit mark. */
static int64_t new_store_id(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
        v = (uint64_t)my_real_now_us() * 6364136223846793005ULL ^ (uint64_t)getpid();
    v &= INT64_MAX;
    return v ? (int64_t)v : 1;
}

/* The operations table: every part's operations (ops.h). */
static const tasker_storage_ops my_ops = {
    /* Version 4: the job lifecycle (storage/mysql/lifecycle.c), and the bulk
     * definitions and fires (storage/mysql/defs.c, storage/mysql/herd.c). */
    .version = 4,
    .name = "mysql",
    .add_task = my_add_task,
    .remove_task = my_remove_task,
    .get_task = my_get_task,
    .list_tasks = my_list_tasks,
    .add_task_scheme = my_add_task_scheme,
    .remove_task_scheme = my_remove_task_scheme,
    .list_task_schemes = my_list_task_schemes,
    .set_scheme_fire = my_set_scheme_fire,
    .add_task_exec = my_add_task_exec,
    .start_task_exec = my_start_task_exec,
    .update_task_exec = my_update_task_exec,
    .get_task_exec = my_get_task_exec,
    .list_task_execs = my_list_task_execs,
    .list_pending_execs = my_list_pending_execs,
    .interrupt_dead = my_interrupt_dead,
    .add_task_event = my_add_task_event,
    .list_task_events = my_list_task_events,
    .close = my_store_close,
    .add_task_event_async = my_add_task_event_async,
    .update_task_exec_async = my_update_task_exec_async,
    .add_task_execs = my_add_task_execs,
    .add_started_execs = my_add_started_execs,
    .start_task_execs = my_start_task_execs,
    .node_beat = my_node_beat,
    .list_nodes = my_list_nodes,
    .node_gone = my_node_gone,
    .interrupt_expired = my_interrupt_expired,
    .claim_task_execs = my_claim_task_execs,
    .find_active_exec = my_find_active_exec,
    .cancel_task_exec = my_cancel_task_exec,
    .set_task_paused = my_set_task_paused,
    .set_scheme_paused = my_set_scheme_paused,
    .list_task_execs_filter = my_list_task_execs_filter,
    .find_unique_exec = my_find_unique_exec,
    .list_cancel_requests = my_list_cancel_requests,
    .set_scheme_fires = my_set_scheme_fires,
    .add_definitions = my_add_definitions,
    .schemes_version = my_schemes_version,
};

/* Opens the store: parses the URL, connects once (so that a wrong password or an
 * unreachable host fails here, not at the first operation), migrates the schema. */
tasker_storage *tasker_mysql_storage(const char *url)
{
    my_store *s = calloc(1, sizeof *s);
    my_conn *c = NULL;
    if (!s) {
        tasker_fail(TASKER_ENOMEM, "mysql: out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->pool_lock, NULL);
    pthread_cond_init(&s->pool_cond, NULL);
    pthread_mutex_init(&s->claims_lock, NULL);
    my_commit_init(s);
    s->base.ops = &my_ops;
    if (my_url_parse(url, &s->url) != TASKER_OK) goto fail;
    describe(s);
    my_trace_open(s);
    if (my_conn_get(s, &c) != TASKER_OK) goto fail;
    if (my_migrate(s, c) != TASKER_OK) goto fail;
    s->store_id = new_store_id();
    if (my_marks_drop(s, c, my_real_now_us() - MARK_MAX_AGE_US) != TASKER_OK) goto fail;
    my_conn_put(s, c);
    c = NULL;
    if (my_writer_start(s) != TASKER_OK) goto fail;
    return &s->base;
fail:
    if (c) {
        c->broken = true;
        my_conn_put(s, c);
    }
    store_free(s);
    return NULL;
}
