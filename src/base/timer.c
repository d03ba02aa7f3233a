/* timer: CLOCK_MONOTONIC wrappers. */
#include "base/timer.h"

#include <time.h>

uint64_t floe_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double floe_now_s(void) { return (double)floe_now_ns() * 1e-9; }
