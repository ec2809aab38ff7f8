/* The MySQL driver's retention (layer 2, below rows.c): pruning a task, now or per
 * group-commit batch (retain.c), and the tasks of a bulk add a chunk at a time: their
 * retention and whether they exist (herd.c, above retain.c). Everything runs on the
 * caller's connection, in its open transaction. It calls only stmt.h and conn.h. */
#ifndef TASKER_SRC_MYSQL_RETAIN_H
#define TASKER_SRC_MYSQL_RETAIN_H

#include "storage/mysql/stmt.h"

/* ---- retention (retain.c) ---- */
/* Per batch: prunes the tasks that got new executions, now or (with one committer,
 * under load) a little later; *pruned when it did prune the remembered tasks, which
 * my_retain_forget() drops once the batch committed. */
int my_retain_batch(my_store *s, my_conn *c, my_write *batch, bool *pruned);
void my_retain_forget(my_store *s);
/* Prunes one task now. */
int my_retain_task(my_store *s, my_conn *c, const char *task_id);

/* ---- a herd: a bulk add, a chunk at a time (herd.c) ---- */
/* Retention for the tasks of a bulk add (duplicates allowed), a few statements per 512
 * tasks rather than a few per task. */
int my_retain_tasks(my_store *s, my_conn *c, const char *const *task_ids, size_t n);
/* *all: every task of task_ids (duplicates allowed) exists and none is held (those
 * found share-locked until the transaction ends); the bulk add stores held = 0, so a
 * held task's adds go one by one. */
int my_tasks_exist(my_store *s, my_conn *c, const char *const *task_ids, size_t n, bool *all);
/* As my_tasks_exist, and each task's handler: handler[i] (n entries, malloc'd, the
 * caller frees each and the array) is task_ids[i]'s; NULL when *all is false. */
int my_tasks_handlers(my_store *s, my_conn *c, const char *const *task_ids, size_t n,
                      bool *all, char ***handler);

#endif
