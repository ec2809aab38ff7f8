/* The MySQL driver's operations (layer 4): the entries of the operations table that
 * mysql.c wires, one group per file. None of these files calls another; each calls
 * only write.h, rows.h, stmt.h and conn.h. Writes go through the group commit
 * (write.h); reads take a pooled connection (my_read); cancel, pause and the cluster
 * paths run short transactions of their own. */
#ifndef TASKER_SRC_MYSQL_OPERATIONS_H
#define TASKER_SRC_MYSQL_OPERATIONS_H

#include "storage/mysql/internal.h"

/* ---- tasks, schedules and events (ops.c) ---- */
int my_add_task(tasker_storage *st, const tasker_task *task);
int my_remove_task(tasker_storage *st, const char *task_id);
int my_get_task(tasker_storage *st, const char *task_id, tasker_task *out);
int my_list_tasks(tasker_storage *st, tasker_task **out, size_t *n);
int my_add_task_scheme(tasker_storage *st, const tasker_task_scheme *sc,
                       char id_out[TASKER_ID_SIZE]);
int my_remove_task_scheme(tasker_storage *st, const char *scheme_id);
int my_list_task_schemes(tasker_storage *st, tasker_task_scheme **out, size_t *n);
int my_set_scheme_fire(tasker_storage *st, const char *scheme_id, int64_t fire_us);
int my_add_task_event(tasker_storage *st, const tasker_task_event *ev);
int my_add_task_event_async(tasker_storage *st, const tasker_task_event *ev,
                            tasker_storage_done_fn done, void *udata);
int my_list_task_events(tasker_storage *st, const char *exec_id, tasker_task_event **out,
                        size_t *n);

/* ---- executions: adds, starts, fenced outcomes, reads (exec.c) ---- */
int my_add_task_exec(tasker_storage *st, const tasker_task_exec *e);
int my_add_task_execs(tasker_storage *st, const tasker_task_exec *v, size_t n);
int my_add_started_execs(tasker_storage *st, const tasker_task_exec *v, size_t n,
                         int64_t start_us, const char *node_id, const char *const *handlers,
                         size_t nh, size_t max_start, bool *started);
int my_start_task_execs(tasker_storage *st, const char *const *ids, size_t n,
                        int64_t start_us, const char *node_id, int *rcs);
int my_start_task_exec(tasker_storage *st, const char *exec_id, int64_t start_us,
                       const char *node_id);
int my_update_task_exec(tasker_storage *st, const tasker_task_exec *e);
int my_update_task_exec_async(tasker_storage *st, const tasker_task_exec *e,
                              tasker_storage_done_fn done, void *udata);
int my_get_task_exec(tasker_storage *st, const char *exec_id, tasker_task_exec *out);
int my_list_task_execs(tasker_storage *st, const char *task_id, size_t limit,
                       tasker_task_exec **out, size_t *n);
int my_list_pending_execs(tasker_storage *st, size_t limit, tasker_task_exec **out,
                          size_t *n);
int my_interrupt_dead(tasker_storage *st, tasker_node_alive_fn alive, void *udata,
                      size_t *n);

/* ---- bulk definitions, fires, the change counter (defs.c; storage version 4) ---- */
int my_add_definitions(tasker_storage *st, const tasker_task *tasks, size_t nt,
                       const tasker_task_scheme *schemes, size_t ns);
int my_set_scheme_fires(tasker_storage *st, const char *const *ids, const int64_t *fire_us,
                        size_t n);
int my_schemes_version(tasker_storage *st, uint64_t *out);

/* ---- the job lifecycle (lifecycle.c; storage version 4) ---- */
int my_cancel_task_exec(tasker_storage *st, const char *exec_id, int64_t now_us,
                        tasker_exec_status *was);
int my_set_task_paused(tasker_storage *st, const char *task_id, bool paused);
int my_set_scheme_paused(tasker_storage *st, const char *scheme_id, bool paused,
                         int64_t now_us);
int my_list_task_execs_filter(tasker_storage *st, const tasker_exec_filter *f,
                              int64_t after_queued_us, const char *after_exec_id, size_t limit,
                              tasker_task_exec **out, size_t *n);
int my_find_unique_exec(tasker_storage *st, const char *task_id, const char *key,
                        char exec_id_out[TASKER_ID_SIZE]);
int my_list_cancel_requests(tasker_storage *st, const char *node_id, tasker_task_exec **out,
                            size_t *n);

/* ---- nodes and leases (nodes.c; storage version 3) ---- */
int my_node_beat(tasker_storage *st, const tasker_node *self, int64_t *store_now_us);
int my_list_nodes(tasker_storage *st, int64_t since_us, tasker_node **out, size_t *n,
                  int64_t *store_now_us);
int my_node_gone(tasker_storage *st, const char *node_id);
int my_interrupt_expired(tasker_storage *st, int64_t lease_us, size_t *n);
int my_find_active_exec(tasker_storage *st, const char *scheme_id,
                        char exec_id_out[TASKER_ID_SIZE]);

/* ---- the cluster claim (claim.c; storage version 3) ---- */
int my_claim_task_execs(tasker_storage *st, const char *node_id, const char *const *handlers,
                        size_t nh, size_t max, int64_t now_us, tasker_task_exec **out,
                        size_t *n);

#endif
