/* tasker-bench: cron next() speed (placeholder until the cron issue lands). */
#include "bench.h"

void bench_cron(void)
{
}
