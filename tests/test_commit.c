/* The shared writer (src/storage/commit.c) on a fake driver: batching, order, the
 * limit per batch, a caller leading on an idle writer, several seats at once, an owed
 * seat run again, and stop draining the queue. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <tasker/tasker.h>

#include "storage/commit.h"

#define WAIT_MS 20000 /* the longest a test waits for a condition (a loaded machine) */
#define MAX_BATCHES 256

typedef struct {
    tasker_commit_job job;
    int seq;         /* in submission order */
    int rc;          /* set by the fake run */
    int batch;       /* the batch that ran it (1-based) */
    pthread_t runner;
    bool reported;
} rec;

/* The fake driver's state: every batch it ran, and a gate that holds a batch. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int batches;
    int sizes[MAX_BATCHES];
    int seats_of[MAX_BATCHES];
    bool by_caller[MAX_BATCHES];
    int last_seq;    /* the highest seq run, for the order check */
    bool out_of_order;
    int running, max_running;
    int hold;        /* batches to hold at the gate (each waits for open) */
    bool open;
    int held;        /* batches waiting at the gate now */
    int owe_once;    /* batches that return OWED (the first ones) */
    int empty_runs;  /* batches run with no job (an owed seat run again) */
    int reports;
    bool bad_report;
    int finished[4];
} fake;

static fake F;

static void fake_reset(void)
{
    pthread_mutex_destroy(&F.lock);
    pthread_cond_destroy(&F.cond);
    memset(&F, 0, sizeof F);
    pthread_mutex_init(&F.lock, NULL);
    pthread_cond_init(&F.cond, NULL);
}

static rec *rec_of(tasker_commit_job *j)
{
    return (rec *)(void *)((char *)j - offsetof(rec, job));
}

/* Waits until cond(F) holds, for up to WAIT_MS; F.lock held. False on timeout. */
static bool wait_for(bool (*cond)(void))
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WAIT_MS / 1000;
    while (!cond())
        if (pthread_cond_timedwait(&F.cond, &F.lock, &until) != 0) return cond();
    return true;
}

static bool gate_open(void)
{
    return F.open;
}

static int fake_run(tasker_commit_batch *b)
{
    pthread_mutex_lock(&F.lock);
    int no = ++F.batches;
    int n = 0;
    for (tasker_commit_job *j = b->jobs; j; j = j->next) {
        rec *r = rec_of(j);
        if (r->seq <= F.last_seq) F.out_of_order = true;
        F.last_seq = r->seq;
        r->rc = r->seq % 7 == 3 ? TASKER_EINVAL : TASKER_OK; /* one job fails alone */
        r->batch = no;
        r->runner = pthread_self();
        n++;
    }
    if (no <= MAX_BATCHES) {
        F.sizes[no - 1] = n;
        F.seats_of[no - 1] = b->seat;
        F.by_caller[no - 1] = b->by_caller;
    }
    if (!n) F.empty_runs++;
    F.running++;
    if (F.running > F.max_running) F.max_running = F.running;
    pthread_cond_broadcast(&F.cond);
    if (F.hold > 0) {
        F.hold--;
        F.held++;
        pthread_cond_broadcast(&F.cond);
        wait_for(gate_open);
        F.held--;
    }
    F.running--;
    int owed = TASKER_COMMIT_DONE;
    if (F.owe_once > 0) {
        F.owe_once--;
        owed = TASKER_COMMIT_OWED;
    }
    pthread_mutex_unlock(&F.lock);
    return owed;
}

static void fake_finish(void *ctx, int seat)
{
    (void)ctx;
    pthread_mutex_lock(&F.lock);
    if (seat >= 0 && seat < 4) F.finished[seat]++;
    pthread_mutex_unlock(&F.lock);
}

static void fake_report(tasker_commit_job *j)
{
    rec *r = rec_of(j);
    pthread_mutex_lock(&F.lock);
    /* Checked by the tests' thread (cmocka asserts only there). */
    if (r->reported || r->batch == 0) F.bad_report = true; /* twice, or before it ran */
    r->reported = true;
    F.reports++;
    pthread_cond_broadcast(&F.cond);
    pthread_mutex_unlock(&F.lock);
}

static tasker_commit_driver driver(unsigned flags, size_t batch_max)
{
    tasker_commit_driver d = {
        .version = TASKER_COMMIT_VERSION,
        .thread_name = "test-writer",
        .flags = flags,
        .batch_max = batch_max,
        .retry_min_ms = 1,
        .retry_max_ms = 4,
        .run = fake_run,
        .finish = fake_finish,
    };
    return d;
}

static bool one_held(void)
{
    return F.held >= 1;
}

typedef struct {
    tasker_commit *w;
    rec *r;
    int rc;
} submitter;

static void *submit_main(void *arg)
{
    submitter *sb = arg;
    sb->rc = tasker_commit_submit(sb->w, &sb->r->job);
    return NULL;
}

static int want_reports;
static bool reports_done(void)
{
    return F.reports >= want_reports;
}

/* A sync submit held in its batch; jobs queued meanwhile all go into the next batch,
 * in order, each with its own result, reported only after they ran. */
static void jobs_queued_during_a_batch_share_the_next_one(void **state)
{
    (void)state;
    fake_reset();
    tasker_commit_driver d = driver(0, 0);
    tasker_commit *w = NULL;
    assert_int_equal(tasker_commit_new(&d, NULL, 1, &w), TASKER_OK);
    assert_int_equal(tasker_commit_start(w), TASKER_OK);
    F.hold = 1;
    rec first = {.seq = 1};
    submitter sb = {.w = w, .r = &first};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, submit_main, &sb), 0);
    pthread_mutex_lock(&F.lock);
    assert_true(wait_for(one_held));
    pthread_mutex_unlock(&F.lock);

    enum { N = 20 };
    rec *recs = calloc(N, sizeof *recs);
    for (int i = 0; i < N; i++) {
        recs[i].seq = 2 + i;
        assert_int_equal(tasker_commit_submit_async(w, &recs[i].job, fake_report), TASKER_OK);
    }
    pthread_mutex_lock(&F.lock);
    assert_int_equal(F.reports, 0);
    F.open = true;
    pthread_cond_broadcast(&F.cond);
    want_reports = N;
    assert_true(wait_for(reports_done));
    pthread_mutex_unlock(&F.lock);
    pthread_join(th, NULL);

    assert_int_equal(sb.rc, TASKER_OK);
    assert_int_equal(first.batch, 1);
    assert_int_equal(F.batches, 2);
    assert_int_equal(F.sizes[1], N);
    assert_false(F.out_of_order);
    for (int i = 0; i < N; i++) {
        assert_int_equal(recs[i].batch, 2);
        assert_int_equal(recs[i].rc, recs[i].seq % 7 == 3 ? TASKER_EINVAL : TASKER_OK);
        assert_true(recs[i].reported);
    }
    assert_false(F.bad_report);
    tasker_commit_free(w);
    assert_int_equal(F.finished[0], 1);
    free(recs);
}

/* batch_max bounds a batch; what is left forms the next ones, still in order. */
static void a_batch_takes_at_most_batch_max(void **state)
{
    (void)state;
    fake_reset();
    tasker_commit_driver d = driver(0, 4);
    tasker_commit *w = NULL;
    assert_int_equal(tasker_commit_new(&d, NULL, 1, &w), TASKER_OK);
    assert_int_equal(tasker_commit_start(w), TASKER_OK);
    F.hold = 1;
    rec first = {.seq = 1};
    assert_int_equal(tasker_commit_submit_async(w, &first.job, fake_report), TASKER_OK);
    pthread_mutex_lock(&F.lock);
    assert_true(wait_for(one_held));
    pthread_mutex_unlock(&F.lock);
    enum { N = 10 };
    rec recs[N];
    memset(recs, 0, sizeof recs);
    for (int i = 0; i < N; i++) {
        recs[i].seq = 2 + i;
        recs[i].job.next = i + 1 < N ? &recs[i + 1].job : NULL;
    }
    pthread_mutex_lock(&F.lock);
    F.open = true;
    pthread_cond_broadcast(&F.cond);
    pthread_mutex_unlock(&F.lock);
    assert_int_equal(tasker_commit_submit_many(w, &recs[0].job, N), TASKER_OK);
    for (int i = 0; i < N; i++) assert_int_not_equal(recs[i].batch, 0);
    pthread_mutex_lock(&F.lock);
    for (int b = 0; b < F.batches; b++) assert_true(F.sizes[b] <= 4);
    assert_true(F.batches >= 1 + (N + 3) / 4);
    assert_false(F.out_of_order);
    pthread_mutex_unlock(&F.lock);
    tasker_commit_free(w);
}

/* With TASKER_COMMIT_CALLER_LEADS, a submit on an idle writer runs on the caller's
 * thread; without it, on a writer thread. */
static void a_caller_leads_on_an_idle_writer_when_allowed(void **state)
{
    (void)state;
    for (int leads = 0; leads <= 1; leads++) {
        fake_reset();
        tasker_commit_driver d = driver(leads ? TASKER_COMMIT_CALLER_LEADS : 0, 0);
        tasker_commit *w = NULL;
        assert_int_equal(tasker_commit_new(&d, NULL, 1, &w), TASKER_OK);
        assert_int_equal(tasker_commit_start(w), TASKER_OK);
        /* The thread may not be asleep yet: a few submits, one of them finds it so. */
        bool on_caller = false;
        for (int i = 0; i < 200 && !(leads && on_caller); i++) {
            rec r = {.seq = i + 1};
            assert_int_equal(tasker_commit_submit(w, &r.job), TASKER_OK);
            assert_int_not_equal(r.batch, 0);
            bool mine = pthread_equal(r.runner, pthread_self());
            pthread_mutex_lock(&F.lock);
            assert_int_equal(F.by_caller[r.batch - 1], mine);
            pthread_mutex_unlock(&F.lock);
            if (!leads) assert_false(mine);
            on_caller = on_caller || mine;
        }
        if (leads) assert_true(on_caller);
        tasker_commit_free(w);
    }
}

static bool three_running(void)
{
    return F.running >= 3;
}

/* Three seats: three batches run at once, each on its own seat. */
static void seats_run_batches_at_once(void **state)
{
    (void)state;
    fake_reset();
    tasker_commit_driver d = driver(0, 1);
    tasker_commit *w = NULL;
    assert_int_equal(tasker_commit_new(&d, NULL, 3, &w), TASKER_OK);
    assert_int_equal(tasker_commit_start(w), TASKER_OK);
    F.hold = 3;
    rec recs[3];
    memset(recs, 0, sizeof recs);
    for (int i = 0; i < 3; i++) {
        recs[i].seq = i + 1;
        assert_int_equal(tasker_commit_submit_async(w, &recs[i].job, fake_report), TASKER_OK);
    }
    pthread_mutex_lock(&F.lock);
    assert_true(wait_for(three_running));
    bool seen[3] = {false, false, false};
    for (int b = 0; b < 3; b++) {
        assert_in_range(F.seats_of[b], 0, 2);
        assert_false(seen[F.seats_of[b]]);
        seen[F.seats_of[b]] = true;
    }
    F.open = true;
    pthread_cond_broadcast(&F.cond);
    want_reports = 3;
    assert_true(wait_for(reports_done));
    pthread_mutex_unlock(&F.lock);
    tasker_commit_free(w);
    for (int i = 0; i < 3; i++) assert_int_equal(F.finished[i], 1);
}

static bool ran_empty(void)
{
    return F.empty_runs >= 2;
}

/* A batch that leaves its seat owed: the seat is run again by itself (with no job)
 * until it owes nothing, and the job was answered once. */
static void an_owed_seat_is_run_again(void **state)
{
    (void)state;
    fake_reset();
    tasker_commit_driver d = driver(0, 0);
    tasker_commit *w = NULL;
    assert_int_equal(tasker_commit_new(&d, NULL, 1, &w), TASKER_OK);
    assert_int_equal(tasker_commit_start(w), TASKER_OK);
    F.owe_once = 3; /* the job's batch, then two empty runs */
    rec r = {.seq = 5};
    assert_int_equal(tasker_commit_submit(w, &r.job), TASKER_OK);
    assert_int_equal(r.batch, 1);
    pthread_mutex_lock(&F.lock);
    assert_true(wait_for(ran_empty));
    pthread_mutex_unlock(&F.lock);
    tasker_commit_free(w);
    assert_int_equal(F.owe_once, 0);
    assert_true(F.empty_runs >= 2);
}

static void *stop_main(void *arg)
{
    tasker_commit_stop(arg);
    return NULL;
}

/* Stop answers every job queued before it, then finishes each seat; a submit after it
 * is refused. */
static void stop_drains_the_queue(void **state)
{
    (void)state;
    fake_reset();
    tasker_commit_driver d = driver(0, 3);
    tasker_commit *w = NULL;
    assert_int_equal(tasker_commit_new(&d, NULL, 2, &w), TASKER_OK);
    assert_int_equal(tasker_commit_start(w), TASKER_OK);
    F.hold = 1;
    enum { N = 30 };
    rec *recs = calloc(N, sizeof *recs);
    recs[0].seq = 1;
    assert_int_equal(tasker_commit_submit_async(w, &recs[0].job, fake_report), TASKER_OK);
    pthread_mutex_lock(&F.lock);
    assert_true(wait_for(one_held));
    pthread_mutex_unlock(&F.lock);
    for (int i = 1; i < N; i++) {
        recs[i].seq = i + 1;
        assert_int_equal(tasker_commit_submit_async(w, &recs[i].job, fake_report), TASKER_OK);
    }
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stop_main, w), 0);
    pthread_mutex_lock(&F.lock);
    F.open = true;
    pthread_cond_broadcast(&F.cond);
    pthread_mutex_unlock(&F.lock);
    pthread_join(th, NULL);
    assert_int_equal(F.reports, N);
    assert_false(F.bad_report);
    for (int i = 0; i < N; i++) assert_true(recs[i].reported);
    assert_int_equal(F.finished[0], 1);
    assert_int_equal(F.finished[1], 1);
    rec late = {.seq = 99};
    assert_int_equal(tasker_commit_submit(w, &late.job), TASKER_ESTATE);
    assert_int_equal(late.batch, 0);
    tasker_commit_free(w);
    assert_int_equal(F.finished[0], 1); /* stop was done: free does not finish again */
    free(recs);
}

static void bad_driver_or_seats_are_einval(void **state)
{
    (void)state;
    tasker_commit *w = (tasker_commit *)1;
    tasker_commit_driver d = driver(0, 0);
    d.version = TASKER_COMMIT_VERSION + 1;
    assert_int_equal(tasker_commit_new(&d, NULL, 1, &w), TASKER_EINVAL);
    assert_null(w);
    d = driver(0, 0);
    assert_int_equal(tasker_commit_new(&d, NULL, 0, &w), TASKER_EINVAL);
    assert_int_equal(tasker_commit_new(&d, NULL, TASKER_COMMIT_SEATS_MAX + 1, &w),
                     TASKER_EINVAL);
    assert_non_null(strstr(tasker_last_error(), "seats"));
    /* Not started: refused, not queued. */
    assert_int_equal(tasker_commit_new(&d, NULL, 1, &w), TASKER_OK);
    rec r = {.seq = 1};
    assert_int_equal(tasker_commit_submit(w, &r.job), TASKER_ESTATE);
    tasker_commit_free(w);
}

int main(void)
{
    pthread_mutex_init(&F.lock, NULL);
    pthread_cond_init(&F.cond, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jobs_queued_during_a_batch_share_the_next_one),
        cmocka_unit_test(a_batch_takes_at_most_batch_max),
        cmocka_unit_test(a_caller_leads_on_an_idle_writer_when_allowed),
        cmocka_unit_test(seats_run_batches_at_once),
        cmocka_unit_test(an_owed_seat_is_run_again),
        cmocka_unit_test(stop_drains_the_queue),
        cmocka_unit_test(bad_driver_or_seats_are_einval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
