/* threadpool: generation-counted job hand-off with spin-then-sleep workers. */
#include "base/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long an idle thread spins before it sleeps.  A decode token runs
 * about a thousand jobs with a few microseconds of serial work between them;
 * spinning through those gaps is what keeps a job hand-off at ~100 ns instead
 * of a futex wake (~5-50 us, much more on a loaded machine).  Longer idle
 * stretches (between tokens, waiting on expert reads) end in a sleep so an
 * idle engine does not burn a core. */
#define SPIN_NS 200000ull
/* After this much pure spinning, each further check yields the core first:
 * on a machine with more runnable threads than cores (shared, or other
 * work), a thread spinning at full speed would take the core from exactly
 * the thread it waits for. */
#define SPIN_PURE_NS SPIN_NS
#define SPIN_CHECK 64 /* pauses between clock reads */

struct floe_pool {
	int n_threads;
	pthread_t *threads;
	pthread_mutex_t mu;
	pthread_cond_t wake;
	pthread_cond_t done_cv;
	floe_pool_fn fn;
	void *ctx;
	atomic_uint generation; /* bumped once per job */
	atomic_int pending;     /* workers still running the current job */
	atomic_bool stop;
	/* Sleep announcements, set under mu and read without it: the submitter
	 * (and the last worker done) take the mutex only when someone sleeps.
	 * Each side writes its own variable and then reads the other's, all
	 * seq_cst, so at least one of them sees the other (Dekker): either the
	 * sleeper sees the new generation / pending == 0 before it waits, or the
	 * waker sees the sleeper and signals under the mutex. */
	atomic_int sleepers;     /* workers blocked on wake */
	atomic_bool main_asleep; /* the submitter blocked on done_cv */
};

struct worker_arg {
	struct floe_pool *pool;
	int ith;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Spin until *gen != seen or stop, for at most SPIN_NS; true if it changed. */
static bool spin_for_job(struct floe_pool *pool, unsigned seen)
{
	uint64_t t0 = 0;

	for (unsigned i = 1;; i++) {
		if (atomic_load_explicit(&pool->generation, memory_order_acquire) != seen ||
		    atomic_load_explicit(&pool->stop, memory_order_relaxed))
			return true;
		cpu_relax();
		if (i % SPIN_CHECK == 0) {
			uint64_t t = now_ns();
			if (!t0)
				t0 = t;
			else if (t - t0 > SPIN_NS)
				return false;
			else if (t - t0 > SPIN_PURE_NS)
				sched_yield();
		}
	}
}

static void *worker_main(void *p)
{
	struct worker_arg *arg = p;
	struct floe_pool *pool = arg->pool;
	int ith = arg->ith;
	unsigned seen = 0, gen;

	free(arg);
	for (;;) {
		if (!spin_for_job(pool, seen)) {
			pthread_mutex_lock(&pool->mu);
			atomic_fetch_add(&pool->sleepers, 1);
			while (atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop))
				pthread_cond_wait(&pool->wake, &pool->mu);
			atomic_fetch_sub(&pool->sleepers, 1);
			pthread_mutex_unlock(&pool->mu);
		}
		if (atomic_load(&pool->stop))
			return NULL;
		gen = atomic_load_explicit(&pool->generation, memory_order_acquire);
		seen = gen;
		pool->fn(pool->ctx, ith, pool->n_threads);
		if (atomic_fetch_sub(&pool->pending, 1) == 1 && atomic_load(&pool->main_asleep)) {
			pthread_mutex_lock(&pool->mu);
			pthread_cond_signal(&pool->done_cv);
			pthread_mutex_unlock(&pool->mu);
		}
	}
}

int floe_pool_create(int n_threads, struct floe_pool **out, struct floe_err *err)
{
	struct floe_pool *pool;

	if (n_threads < 1 || n_threads > 256)
		return floe_fail(err, FLOE_EARG, "thread count %d out of range 1..256", n_threads);
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return floe_fail(err, FLOE_ENOMEM, "out of memory for thread pool");
	pool->n_threads = n_threads;
	pthread_mutex_init(&pool->mu, NULL);
	pthread_cond_init(&pool->wake, NULL);
	pthread_cond_init(&pool->done_cv, NULL);
	pool->threads = calloc((size_t)n_threads, sizeof(pthread_t));
	if (!pool->threads)
		goto fail_threads;
	for (int i = 1; i < n_threads; i++) {
		struct worker_arg *arg = malloc(sizeof(*arg));
		if (!arg)
			goto fail_threads;
		arg->pool = pool;
		arg->ith = i;
		if (pthread_create(&pool->threads[i], NULL, worker_main, arg) != 0) {
			free(arg);
			pool->n_threads = i; /* destroy joins only the started ones */
			floe_pool_destroy(pool);
			return floe_fail(err, FLOE_ENOMEM, "cannot start worker thread %d", i);
		}
	}
	*out = pool;
	return FLOE_OK;

fail_threads:
	floe_pool_destroy(pool);
	return floe_fail(err, FLOE_ENOMEM, "out of memory for thread pool");
}

void floe_pool_destroy(struct floe_pool *pool)
{
	if (!pool)
		return;
	pthread_mutex_lock(&pool->mu);
	atomic_store(&pool->stop, true);
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->mu);
	if (pool->threads)
		for (int i = 1; i < pool->n_threads; i++)
			if (pool->threads[i])
				pthread_join(pool->threads[i], NULL);
	free(pool->threads);
	pthread_mutex_destroy(&pool->mu);
	pthread_cond_destroy(&pool->wake);
	pthread_cond_destroy(&pool->done_cv);
	free(pool);
}

int floe_pool_threads(const struct floe_pool *pool) { return pool->n_threads; }

void floe_pool_run(struct floe_pool *pool, floe_pool_fn fn, void *ctx)
{
	if (pool->n_threads == 1) {
		fn(ctx, 0, 1);
		return;
	}
	pool->fn = fn;
	pool->ctx = ctx;
	atomic_store_explicit(&pool->pending, pool->n_threads - 1, memory_order_relaxed);
	atomic_fetch_add(&pool->generation, 1); /* seq_cst: publishes fn, ctx, pending */
	if (atomic_load(&pool->sleepers) > 0) {
		pthread_mutex_lock(&pool->mu);
		pthread_cond_broadcast(&pool->wake);
		pthread_mutex_unlock(&pool->mu);
	}

	fn(ctx, 0, pool->n_threads);

	uint64_t t0 = 0;
	for (unsigned i = 1; atomic_load_explicit(&pool->pending, memory_order_acquire) > 0; i++) {
		cpu_relax();
		if (i % SPIN_CHECK)
			continue;
		uint64_t t = now_ns();
		if (!t0) {
			t0 = t;
			continue;
		}
		if (t - t0 < SPIN_NS) {
			if (t - t0 > SPIN_PURE_NS)
				sched_yield();
			continue;
		}
		pthread_mutex_lock(&pool->mu);
		atomic_store(&pool->main_asleep, true);
		while (atomic_load(&pool->pending) > 0)
			pthread_cond_wait(&pool->done_cv, &pool->mu);
		atomic_store(&pool->main_asleep, false);
		pthread_mutex_unlock(&pool->mu);
		break;
	}
}
