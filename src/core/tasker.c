/* The handle: open, close, and the task and schedule calls that go to the store. */
#include "core/internal.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void apply_defaults(tasker_options *o)
{
    if (o->workers == 0) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        o->workers = ncpu > 0 ? (int)ncpu : 2;
    }
    if (o->max_execs_per_task == 0) o->max_execs_per_task = TASKER_DEFAULT_MAX_EXECS;
    if (o->max_exec_age_s == 0) o->max_exec_age_s = TASKER_DEFAULT_MAX_EXEC_AGE_S;
    if (o->max_json_bytes == 0) o->max_json_bytes = TASKER_DEFAULT_MAX_JSON_BYTES;
    if (o->max_event_bytes == 0) o->max_event_bytes = TASKER_DEFAULT_MAX_EVENT_BYTES;
    if (o->max_events_per_exec == 0) o->max_events_per_exec = TASKER_DEFAULT_MAX_EVENTS;
    if (o->heartbeat_ms <= 0) o->heartbeat_ms = 2000;
    if (o->lease_ms <= 0) o->lease_ms = 10000;
    if (o->poll_ms <= 0) o->poll_ms = 200;
    if (!o->clock) {
        o->clock = tasker_real_clock_us;
        o->clock_udata = NULL;
    }
}

static bool storage_ops_complete(const tasker_storage_ops *ops)
{
    return ops->add_task && ops->remove_task && ops->get_task && ops->list_tasks &&
           ops->add_task_scheme && ops->remove_task_scheme && ops->list_task_schemes &&
           ops->set_scheme_fire && ops->add_task_exec && ops->start_task_exec &&
           ops->update_task_exec && ops->get_task_exec && ops->list_task_execs &&
           ops->list_pending_execs && ops->interrupt_dead && ops->add_task_event &&
           ops->list_task_events && ops->close;
}

/* Node ids of the handles open in this process: a run started under our own node id is
 * alive only while such a handle is open; otherwise it belongs to an earlier process
 * that had our pid (a container's pid 1 restarting, say). */
static pthread_mutex_t open_nodes_lock = PTHREAD_MUTEX_INITIALIZER; /* guards open_nodes */
static strset open_nodes;

static void open_nodes_update(const char *node_id, bool add)
{
    pthread_mutex_lock(&open_nodes_lock);
    if (add) strset_add(&open_nodes, node_id);
    else if (strset_remove(&open_nodes, node_id) == 0 && open_nodes.len == 0)
        strset_free(&open_nodes);
    pthread_mutex_unlock(&open_nodes_lock);
}

/* The fast path of liveness: a node is alive unless it is a process of this host that
 * no longer exists (or this very node id, left by an earlier process). Other hosts'
 * nodes, and nodes whose id is not "host:pid", are judged by the lease rule
 * (heartbeat.c) when the store keeps a nodes table. */
bool tasker_node_alive(const char *node_id, void *udata)
{
    tasker_t *t = udata;
    if (!node_id) return false;
    if (strcmp(node_id, t->node_id) == 0) {
        pthread_mutex_lock(&open_nodes_lock);
        bool open = strset_count(&open_nodes, node_id) > 0;
        pthread_mutex_unlock(&open_nodes_lock);
        return open;
    }
    const char *colon = strrchr(node_id, ':');
    char host[256];
    if (!colon || gethostname(host, sizeof host) != 0) return true;
    host[sizeof host - 1] = '\0';
    if ((size_t)(colon - node_id) != strlen(host) || strncmp(node_id, host, strlen(host)) != 0)
        return true;
    char *end;
    long pid = strtol(colon + 1, &end, 10);
    if (*end || pid <= 0) return true;
    return !(kill((pid_t)pid, 0) != 0 && errno == ESRCH);
}

static int64_t store_clock(void *t) { return tasker_now_us(t); }

static int init_sync(tasker_t *t)
{
    pthread_rwlock_init(&t->handlers_lock, NULL);
    pthread_mutex_init(&t->life.lock, NULL);
    pthread_mutex_init(&t->done_lock, NULL);
    tasker_cond_init_mono(&t->done_cond);
    tasker_cond_init_mono(&t->run_cond);
    pthread_mutex_init(&t->run_lock, NULL);
    if (pipe2(t->stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        return tasker_fail(TASKER_ESTATE, "open: cannot create the stop pipe: %s",
                           strerror(errno));
    return TASKER_OK;
}

tasker_t *tasker_new(tasker_storage *st, const tasker_options *opt)
{
    tasker_clear_error();
    if (!st || !st->ops) {
        tasker_fail(TASKER_EINVAL, "tasker_new: storage is NULL");
        return NULL;
    }
    if (st->ops->version < 1 || st->ops->version > TASKER_STORAGE_VERSION ||
        !storage_ops_complete(st->ops)) {
        tasker_fail(TASKER_EINVAL, "tasker_new: driver '%s' has version %d or misses operations",
                    st->ops->name ? st->ops->name : "?", st->ops->version);
        if (st->ops->close) st->ops->close(st);
        return NULL;
    }
    tasker_t *t = calloc(1, sizeof *t);
    if (!t) {
        st->ops->close(st);
        tasker_fail(TASKER_ENOMEM, "open: out of memory");
        return NULL;
    }
    t->st = st;
    t->stop_pipe[0] = t->stop_pipe[1] = -1;
    if (opt) t->opt = *opt;
    apply_defaults(&t->opt);
    if (t->opt.node_id) {
        snprintf(t->node_id, sizeof t->node_id, "%s", t->opt.node_id);
    } else {
        char host[200] = "localhost";
        gethostname(host, sizeof host);
        host[sizeof host - 1] = '\0';
        snprintf(t->node_id, sizeof t->node_id, "%s:%ld", host, (long)getpid());
    }
    t->opt.node_id = t->node_id;
    st->env.max_execs_per_task = t->opt.max_execs_per_task;
    st->env.max_exec_age_s = t->opt.max_exec_age_s;
    /* The driver's ages and stamps on the cluster's one clock, as the core's own. */
    st->env.clock = store_clock;
    st->env.clock_udata = t;

    int rc;
    if ((rc = init_sync(t)) != TASKER_OK) goto fail;
    /* The first heartbeat (cluster mode) before anything is judged or recorded. */
    if ((rc = tasker_cluster_start(t)) != TASKER_OK) goto fail;
    if ((rc = st->ops->interrupt_dead(st, tasker_node_alive, t, NULL)) != TASKER_OK) goto fail;
    if (t->cl.member) st->ops->interrupt_expired(st, t->cl.lease_us, NULL);
    open_nodes_update(t->node_id, true);
    t->node_registered = true;
    if ((rc = tasker_sched_init(t)) != TASKER_OK) goto fail;
    if ((rc = tasker_pool_init(t)) != TASKER_OK) goto fail;
    atomic_store(&t->pickup_due, true);
    return t;
fail:;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", tasker_last_error());
    tasker_close(t);
    tasker_fail(rc, "%s", msg);
    return NULL;
}

tasker_t *tasker_open_opts(const char *dsn, const tasker_options *opt)
{
    tasker_clear_error();
    tasker_storage *st = tasker_storage_open(dsn);
    return st ? tasker_new(st, opt) : NULL;
}

tasker_t *tasker_open(const char *dsn)
{
    return tasker_open_opts(dsn, NULL);
}

tasker_t *tasker_default(void)
{
    const char *dsn = getenv("TASKER_DSN");
    return tasker_open(dsn && *dsn ? dsn : "sqlite:tasker.db");
}

void tasker_close(tasker_t *t)
{
    if (!t) return;
    tasker_sched_stop(t);
    tasker_pool_shutdown(t);
    tasker_cluster_stop(t); /* after the workers: the node beats while they finish */
    tasker_sched_destroy(t);
    if (t->st) t->st->ops->close(t->st);
    if (t->node_registered) open_nodes_update(t->node_id, false);
    tasker_free_handlers(t);
    if (t->stop_pipe[0] >= 0) close(t->stop_pipe[0]);
    if (t->stop_pipe[1] >= 0) close(t->stop_pipe[1]);
    pthread_rwlock_destroy(&t->handlers_lock);
    pthread_mutex_destroy(&t->life.lock);
    pthread_mutex_destroy(&t->done_lock);
    pthread_cond_destroy(&t->done_cond);
    pthread_mutex_destroy(&t->run_lock);
    pthread_cond_destroy(&t->run_cond);
    free(t);
}

/* ---- tasks ---- */

/* The policies of section 6: negative values mean nothing and are refused. */
static int check_task_opts(const char *task_id, const tasker_task_opts *o)
{
    const struct {
        const char *name;
        bool bad;
    } fields[] = {
        {"max_attempts", o->max_attempts < 0},     {"backoff_ms", o->backoff_ms < 0},
        {"backoff_max_ms", o->backoff_max_ms < 0}, {"timeout_ms", o->timeout_ms < 0},
        {"max_concurrency", o->max_concurrency < 0},
    };
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        if (fields[i].bad)
            return tasker_fail(TASKER_EINVAL, "task '%s': %s must not be negative", task_id,
                               fields[i].name);
    return TASKER_OK;
}

/* The policies the store acts on (retries, limits, priority) need its version-4
 * operations: refused, naming the field, on a store without them. */
static int check_store_policies(const tasker_t *t, const char *task_id,
                                const tasker_task_opts *o)
{
    if (t->st->ops->version >= 4) return TASKER_OK;
    const char *field = o->max_attempts > 1     ? "max_attempts"
                        : o->max_concurrency    ? "max_concurrency"
                        : o->priority           ? "priority"
                                                : NULL;
    if (!field) return TASKER_OK;
    return tasker_fail(TASKER_EINVAL, "task '%s': %s is not supported by the '%s' store yet",
                       task_id, field, t->st->ops->name);
}

int tasker_check_task_policies(const tasker_t *t, const char *task_id, const tasker_task_opts *o)
{
    int rc = check_task_opts(task_id, o);
    return rc != TASKER_OK ? rc : check_store_policies(t, task_id, o);
}

int tasker_add_task_opts(tasker_t *t, const char *task_id, const char *handler,
                         const char *param_json, const tasker_task_opts *o)
{
    int rc;
    tasker_task_opts defaults = {0};
    if (!o) o = &defaults;
    if ((rc = tasker_check_handle(t)) || (rc = tasker_check_id("task id", task_id)) ||
        (rc = tasker_check_id("handler name", handler)) ||
        (rc = tasker_check_json(t, "param", param_json)) ||
        (rc = tasker_check_task_policies(t, task_id, o)))
        return rc;
    tasker_task task = {.task_id = (char *)task_id, .handler = (char *)handler,
                        .desc = (char *)o->desc,
                        .param = (char *)(param_json ? param_json : "null"),
                        .max_attempts = o->max_attempts, .backoff_ms = o->backoff_ms,
                        .backoff_max_ms = o->backoff_max_ms, .timeout_ms = o->timeout_ms,
                        .max_concurrency = o->max_concurrency, .priority = o->priority,
                        .max_execs = o->max_execs, .max_exec_age_s = o->max_exec_age_s};
    rc = t->st->ops->add_task(t->st, &task);
    if (rc == TASKER_OK) tasker_sched_changed(t);
    return rc;
}

int tasker_add_task_desc(tasker_t *t, const char *task_id, const char *handler,
                         const char *param_json, const char *desc)
{
    tasker_task_opts o = {.desc = desc};
    return tasker_add_task_opts(t, task_id, handler, param_json, &o);
}

int tasker_add_task(tasker_t *t, const char *task_id, const char *handler,
                    const char *param_json)
{
    return tasker_add_task_desc(t, task_id, handler, param_json, NULL);
}

int tasker_remove_task(tasker_t *t, const char *task_id)
{
    int rc;
    if ((rc = tasker_check_handle(t)) || (rc = tasker_check_id("task id", task_id))) return rc;
    rc = t->st->ops->remove_task(t->st, task_id);
    if (rc == TASKER_OK) tasker_sched_changed(t);
    return rc;
}

/* ---- schedules ---- */

int tasker_add_task_schedule_opts(tasker_t *t, const char *task_id, const char *cron,
                                  const tasker_schedule_opts *opt,
                                  char scheme_id[TASKER_ID_SIZE])
{
    int rc;
    if ((rc = tasker_check_handle(t)) || (rc = tasker_check_id("task id", task_id))) return rc;
    if (!cron) return tasker_fail(TASKER_EINVAL, "cron: expression is NULL");
    tasker_schedule_opts defaults = {0};
    if (!opt) opt = &defaults;
    if ((unsigned)opt->misfire > TASKER_MISFIRE_ALL || (unsigned)opt->overlap > TASKER_OVERLAP_FORBID)
        return tasker_fail(TASKER_EINVAL, "schedule: unknown misfire or overlap policy");
    tasker_cron *parsed;
    if ((rc = tasker_cron_parse_key(cron, task_id, &parsed)) != TASKER_OK) return rc;
    tasker_cron_free(parsed);

    char new_id[TASKER_ID_SIZE], stored_id[TASKER_ID_SIZE] = "";
    tasker_new_id(t, new_id);
    tasker_task_scheme s = {.scheme_id = new_id, .task_id = (char *)task_id,
                            .cron = (char *)cron, .misfire = opt->misfire,
                            .overlap = opt->overlap, .created_us = tasker_now_us(t)};
    rc = t->st->ops->add_task_scheme(t->st, &s, stored_id);
    if (rc != TASKER_OK) return rc;
    if (scheme_id) memcpy(scheme_id, stored_id, TASKER_ID_SIZE);
    tasker_sched_changed(t);
    return TASKER_OK;
}

int tasker_add_task_schedule(tasker_t *t, const char *task_id, const char *cron,
                             char scheme_id[TASKER_ID_SIZE])
{
    return tasker_add_task_schedule_opts(t, task_id, cron, NULL, scheme_id);
}

int tasker_remove_task_schedule(tasker_t *t, const char *scheme_id)
{
    int rc;
    if ((rc = tasker_check_handle(t)) || (rc = tasker_check_id("schedule id", scheme_id)))
        return rc;
    rc = t->st->ops->remove_task_scheme(t->st, scheme_id);
    if (rc == TASKER_OK) tasker_sched_changed(t);
    return rc;
}

/* ---- queries ---- */

static int check_out(void *out, size_t *n)
{
    if (!out || !n) return tasker_fail(TASKER_EINVAL, "output argument is NULL");
    return TASKER_OK;
}

int tasker_list_tasks(tasker_t *t, tasker_task **out, size_t *n)
{
    int rc;
    if ((rc = tasker_check_handle(t)) || (rc = check_out(out, n))) return rc;
    return t->st->ops->list_tasks(t->st, out, n);
}

int tasker_list_schemes(tasker_t *t, tasker_task_scheme **out, size_t *n)
{
    int rc;
    if ((rc = tasker_check_handle(t)) || (rc = check_out(out, n))) return rc;
    return t->st->ops->list_task_schemes(t->st, out, n);
}

int tasker_list_execs(tasker_t *t, const char *task_id, tasker_task_exec **out, size_t *n)
{
    int rc;
    if ((rc = tasker_check_handle(t)) || (rc = check_out(out, n))) return rc;
    if (task_id && (rc = tasker_check_id("task id", task_id))) return rc;
    return t->st->ops->list_task_execs(t->st, task_id, 0, out, n);
}

int tasker_get_exec(tasker_t *t, const char *exec_id, tasker_task_exec *out)
{
    int rc;
    if ((rc = tasker_check_handle(t)) || (rc = tasker_check_id("execution id", exec_id)))
        return rc;
    if (!out) return tasker_fail(TASKER_EINVAL, "output argument is NULL");
    return t->st->ops->get_task_exec(t->st, exec_id, out);
}

int tasker_list_events(tasker_t *t, const char *exec_id, tasker_task_event **out, size_t *n)
{
    int rc;
    if ((rc = tasker_check_handle(t)) || (rc = tasker_check_id("execution id", exec_id)) ||
        (rc = check_out(out, n)))
        return rc;
    return t->st->ops->list_task_events(t->st, exec_id, out, n);
}
