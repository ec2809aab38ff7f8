/* The daemon's log of finished runs. A worker only queues the execution id when its
 * handler returns; this thread then waits for the core to store the outcome
 * (tasker_wait) and prints the stored record, so the log shows exactly what
 * `tasker exec show` will. */
#include "cli/runlog.h"
#include "cli/follow.h"
#include "cli/output.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define RECORD_WAIT_MS 10000 /* a stored outcome later than this is not worth waiting for */

typedef struct entry {
    struct entry *next;
    char exec_id[TASKER_ID_SIZE];
} entry;

struct runlog {
    tasker_t *t;
    bool json;
    pthread_t thread;
    pthread_mutex_t queue_lock; /* guards head, tail and stopping */
    pthread_cond_t queue_cond;
    entry *head, *tail;
    bool stopping;
};

static void print_run(runlog *log, const char *exec_id)
{
    tasker_task_exec e = {0};
    if (tasker_wait(log->t, exec_id, RECORD_WAIT_MS) != TASKER_OK ||
        tasker_get_exec(log->t, exec_id, &e) != TASKER_OK) {
        fprintf(stderr, "tasker: exec %s: %s\n", exec_id, tasker_last_error());
        return;
    }
    if (log->json) {
        json_t *o = json_exec(&e);
        if (o) {
            json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
            fputc('\n', stdout);
            fflush(stdout);
            json_decref(o);
        }
    } else {
        print_run_line(stdout, &e);
    }
    tasker_exec_clear(&e);
}

static void *runlog_main(void *arg)
{
    runlog *log = arg;
    pthread_mutex_lock(&log->queue_lock);
    for (;;) {
        while (!log->head && !log->stopping)
            pthread_cond_wait(&log->queue_cond, &log->queue_lock);
        entry *e = log->head;
        if (!e) break; /* stopping and nothing left */
        log->head = e->next;
        if (!log->head) log->tail = NULL;
        pthread_mutex_unlock(&log->queue_lock);
        print_run(log, e->exec_id);
        free(e);
        pthread_mutex_lock(&log->queue_lock);
    }
    pthread_mutex_unlock(&log->queue_lock);
    return NULL;
}

runlog *runlog_start(tasker_t *t, bool json)
{
    runlog *log = calloc(1, sizeof *log);
    if (!log) return NULL;
    log->t = t;
    log->json = json;
    pthread_mutex_init(&log->queue_lock, NULL);
    pthread_cond_init(&log->queue_cond, NULL);
    if (pthread_create(&log->thread, NULL, runlog_main, log) != 0) {
        pthread_mutex_destroy(&log->queue_lock);
        pthread_cond_destroy(&log->queue_cond);
        free(log);
        return NULL;
    }
    return log;
}

void runlog_ended(runlog *log, const char *exec_id)
{
    if (!log) return;
    entry *e = calloc(1, sizeof *e);
    if (!e) return; /* a line missing from the log; the record is still stored */
    snprintf(e->exec_id, sizeof e->exec_id, "%s", exec_id);
    pthread_mutex_lock(&log->queue_lock);
    if (log->tail)
        log->tail->next = e;
    else
        log->head = e;
    log->tail = e;
    pthread_cond_signal(&log->queue_cond);
    pthread_mutex_unlock(&log->queue_lock);
}

void runlog_stop(runlog *log)
{
    if (!log) return;
    pthread_mutex_lock(&log->queue_lock);
    log->stopping = true;
    pthread_cond_signal(&log->queue_cond);
    pthread_mutex_unlock(&log->queue_lock);
    pthread_join(log->thread, NULL);
    pthread_mutex_destroy(&log->queue_lock);
    pthread_cond_destroy(&log->queue_cond);
    free(log);
}
