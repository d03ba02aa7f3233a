/* threadpool: generation-counted job hand-off with spin-then-sleep workers. */
#include "base/threadpool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SPIN_ITERS 20000

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
	int sleepers;           /* workers blocked on wake (under mu) */
};

struct worker_arg {
	struct floe_pool *pool;
	int ith;
};

static void *worker_main(void *p)
{
	struct worker_arg *arg = p;
	struct floe_pool *pool = arg->pool;
	int ith = arg->ith;
	unsigned seen = 0;

	free(arg);
	for (;;) {
		unsigned gen;
		int spins = 0;
		while ((gen = atomic_load_explicit(&pool->generation, memory_order_acquire)) == seen &&
		       !atomic_load(&pool->stop) && spins < SPIN_ITERS)
			spins++;
		if (gen == seen && !atomic_load(&pool->stop)) {
			pthread_mutex_lock(&pool->mu);
			pool->sleepers++;
			while ((gen = atomic_load(&pool->generation)) == seen && !atomic_load(&pool->stop))
				pthread_cond_wait(&pool->wake, &pool->mu);
			pool->sleepers--;
			pthread_mutex_unlock(&pool->mu);
		}
		if (atomic_load(&pool->stop))
			return NULL;
		seen = gen;
		pool->fn(pool->ctx, ith, pool->n_threads);
		if (atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel) == 1) {
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
	atomic_store(&pool->pending, pool->n_threads - 1);
	pthread_mutex_lock(&pool->mu);
	atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
	if (pool->sleepers)
		pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->mu);

	fn(ctx, 0, pool->n_threads);

	for (int spins = 0; atomic_load_explicit(&pool->pending, memory_order_acquire) > 0; spins++) {
		if (spins < SPIN_ITERS)
			continue;
		pthread_mutex_lock(&pool->mu);
		while (atomic_load(&pool->pending) > 0)
			pthread_cond_wait(&pool->done_cv, &pool->mu);
		pthread_mutex_unlock(&pool->mu);
	}
}
