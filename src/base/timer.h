/* timer: monotonic clock for stats lines and benchmarks. */
#ifndef FLOE_BASE_TIMER_H
#define FLOE_BASE_TIMER_H

#include <stdint.h>

/* Monotonic time in nanoseconds / seconds since an arbitrary start. */
uint64_t floe_now_ns(void);
double floe_now_s(void);

#endif
