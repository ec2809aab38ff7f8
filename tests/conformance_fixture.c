/* The conformance suite's fixture (see conformance_fixture.h). */
#include "conformance_fixture.h"

#include <stdio.h>
#include <stdlib.h>

conformance_open_fn conformance_open;
void *conformance_udata;

static int64_t fake_clock(void *udata)
{
    return __atomic_load_n(&((fixture *)udata)->now_us, __ATOMIC_SEQ_CST);
}

void set_clock(fixture *f, int64_t now_us)
{
    __atomic_store_n(&f->now_us, now_us, __ATOMIC_SEQ_CST);
}

void set_retention(fixture *f, int max_execs, int64_t max_age_s)
{
    f->st->env.max_execs_per_task = max_execs;
    f->st->env.max_exec_age_s = max_age_s;
}

int conformance_setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    f->now_us = T0_US;
    f->st = conformance_open(conformance_udata);
    if (!f->st) {
        fprintf(stderr, "conformance: open failed: %s\n", tasker_last_error());
        free(f);
        return -1;
    }
    f->st->env.max_execs_per_task = TASKER_DEFAULT_MAX_EXECS;
    f->st->env.max_exec_age_s = TASKER_DEFAULT_MAX_EXEC_AGE_S;
    f->st->env.clock = fake_clock;
    f->st->env.clock_udata = f;
    *state = f;
    return 0;
}

int conformance_teardown(void **state)
{
    fixture *f = *state;
    if (f->st) f->st->ops->close(f->st);
    free(f);
    return 0;
}
