/* threadpool: one pool of worker threads that runs data-parallel jobs.
 *
 * A job is a pure function over a slice: fn(ctx, ith, nth) is called once for
 * every ith in [0, nth), nth = the pool's thread count, the caller's thread
 * being ith 0.  floe_pool_run returns when every slice is done.  Kernels split
 * their rows by (ith, nth) themselves, so the pool knows nothing of them.
 *
 * Workers spin briefly after a job before sleeping, because a decode token
 * runs hundreds of small jobs back to back and a sleep/wake per job costs
 * more than the job.  Not thread-safe: one thread submits jobs at a time. */
#ifndef FLOE_BASE_THREADPOOL_H
#define FLOE_BASE_THREADPOOL_H

#include "base/status.h"

struct floe_pool;

typedef void (*floe_pool_fn)(void *ctx, int ith, int nth);

/* Start a pool of n_threads (>= 1; 1 means the caller does all the work).
 * Owner frees with floe_pool_destroy. */
int floe_pool_create(int n_threads, struct floe_pool **out, struct floe_err *err);
void floe_pool_destroy(struct floe_pool *pool);
int floe_pool_threads(const struct floe_pool *pool);
void floe_pool_run(struct floe_pool *pool, floe_pool_fn fn, void *ctx);

/* Split n items into nth near-equal contiguous ranges; range ith is [*lo, *hi). */
static inline void floe_split(long n, int ith, int nth, long *lo, long *hi)
{
	long per = n / nth, rem = n % nth;
	*lo = ith * per + (ith < rem ? ith : rem);
	*hi = *lo + per + (ith < rem ? 1 : 0);
}

#endif
