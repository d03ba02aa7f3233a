/* Tests for src/base: error messages, overflow helpers, thread pool. */
#include "harness.h"

#include <stdatomic.h>

#include "base/alloc.h"
#include "base/status.h"
#include "base/threadpool.h"

static void test_fail_formats_message(void)
{
	struct floe_err e = {0};
	int st = floe_fail(&e, FLOE_EFORMAT, "bad %s at %d", "thing", 42);
	CHECK(st == FLOE_EFORMAT);
	CHECK(e.status == FLOE_EFORMAT);
	CHECK(strcmp(e.msg, "bad thing at 42") == 0);
	floe_fail_prefix(&e, "%s: ", "file.gguf");
	CHECK(strcmp(e.msg, "file.gguf: bad thing at 42") == 0);
}

static void test_overflow_helpers(void)
{
	uint64_t r;
	CHECK(floe_mul_u64(1u << 20, 1u << 20, &r) && r == (1ull << 40));
	CHECK(!floe_mul_u64(UINT64_MAX / 2, 3, &r));
	CHECK(!floe_add_u64(UINT64_MAX, 1, &r));
	CHECK(floe_round_up(4097, 4096) == 8192);
}

static void test_aligned_alloc(void)
{
	unsigned char *p = floe_alloc_aligned(100);
	REQUIRE(p != NULL);
	CHECK(((uintptr_t)p % FLOE_ALIGN) == 0);
	CHECK(p[0] == 0 && p[99] == 0);
	floe_free_aligned(p);
}

struct sum_job {
	atomic_long total;
	long n;
	int seen[8];
};

static void sum_slice(void *ctx, int ith, int nth)
{
	struct sum_job *job = ctx;
	long lo, hi, s = 0;
	floe_split(job->n, ith, nth, &lo, &hi);
	for (long i = lo; i < hi; i++)
		s += i;
	atomic_fetch_add(&job->total, s);
	job->seen[ith]++;
}

static void test_pool_runs_every_slice(void)
{
	for (int nt = 1; nt <= 4; nt++) {
		struct floe_pool *pool;
		struct floe_err e = {0};
		REQUIRE(floe_pool_create(nt, &pool, &e) == FLOE_OK);
		for (int rep = 0; rep < 1000; rep++) {
			struct sum_job job = {.n = 1001};
			floe_pool_run(pool, sum_slice, &job);
			CHECK(atomic_load(&job.total) == 1001L * 1000 / 2);
			for (int i = 0; i < nt; i++)
				CHECK(job.seen[i] == 1);
		}
		floe_pool_destroy(pool);
	}
}

static void test_pool_rejects_bad_count(void)
{
	struct floe_pool *pool;
	struct floe_err e = {0};
	CHECK(floe_pool_create(0, &pool, &e) == FLOE_EARG);
	CHECK(strstr(e.msg, "thread count") != NULL);
}

int main(void)
{
	RUN(test_fail_formats_message);
	RUN(test_overflow_helpers);
	RUN(test_aligned_alloc);
	RUN(test_pool_runs_every_slice);
	RUN(test_pool_rejects_bad_count);
	return harness_finish();
}
