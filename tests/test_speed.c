/* test_speed: the fast paths added for speed give the same bits as the plain
 * ones: the AVX2 SwiGLU against ops.c's floe_swiglu (every bit, including
 * the near-overflow/underflow branches of ggml's expf and the scalar tail),
 * and the thread pool's lock-free hand-off under jobs separated by pauses
 * long enough that the workers go to sleep between them. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/threadpool.h"
#include "engine/act_avx2.h"
#include "engine/ops.h"
#include "harness.h"
#include "quant/quant.h"
#include "quant/quant_avx2.h"
#include "quant/quant_blocks.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static float rand_float(float scale)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return ((float)(rng >> 40) / (float)(1 << 24) * 2.0f - 1.0f) * scale;
}

static void test_swiglu_avx2_bits(void)
{
	enum { N = 4099 };
	static float g[N], u[N], y0[N], y1[N];
	/* values reaching every branch of ggml's expf: |n| > 126 and > 192 */
	static const float edge[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 87.0f, -87.0f, 88.7f, -88.7f, 89.5f, -89.5f,
				     100.0f, -100.0f, 103.0f, -103.0f, 130.0f, -130.0f, 200.0f, -200.0f,
				     INFINITY, -INFINITY, 3.4e38f, -3.4e38f};

	if (!floe_cpu_has_avx2_fma()) {
		fprintf(stderr, "  skipped: CPU lacks AVX2/FMA\n");
		return;
	}
	for (int i = 0; i < N; i++) {
		float sc = i % 3 == 0 ? 4.0f : i % 3 == 1 ? 40.0f : 150.0f;
		g[i] = rand_float(sc);
		u[i] = rand_float(2.0f);
	}
	for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++)
		g[100 + i] = edge[i];
	const int lens[] = {N, N - 3, 8, 7, 1, 768, 16 * 3 + 5};
	for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		int n = lens[li];
		memset(y0, 0, sizeof(y0));
		memset(y1, 0xff, sizeof(y1));
		floe_swiglu(y0, g, u, n);
		floe_swiglu_avx2(y1, g, u, n);
		int bad = -1;
		for (int i = 0; i < n && bad < 0; i++)
			if (memcmp(&y0[i], &y1[i], sizeof(float)) != 0 && !(isnan(y0[i]) && isnan(y1[i])))
				bad = i;
		CHECKF(bad < 0, "n=%d: element %d g=%.9g: %.9g vs ref %.9g", n, bad, bad < 0 ? 0.0 : g[bad],
		       bad < 0 ? 0.0 : y1[bad], bad < 0 ? 0.0 : y0[bad]);
	}
	/* in place, as the forward pass uses it */
	memcpy(y1, g, sizeof(g));
	floe_swiglu(y0, g, u, N);
	floe_swiglu_avx2(y1, y1, u, N);
	CHECK(memcmp(y0, y1, sizeof(y0)) == 0);
}

struct count_job {
	atomic_int calls;
	atomic_long sum;
	int ith_seen[4];
};

static void count_slice(void *ctx, int ith, int nth)
{
	struct count_job *j = ctx;
	(void)nth;
	atomic_fetch_add(&j->calls, 1);
	atomic_fetch_add(&j->sum, ith + 1);
	j->ith_seen[ith]++;
}

/* Jobs back to back (spinning hand-off), then with pauses longer than the
 * spin (sleeping workers and a sleeping submitter, when a worker's slice is
 * slow), every job must run every slice exactly once. */
static void test_pool_spin_and_sleep(void)
{
	for (int nt = 2; nt <= 3; nt++) {
		struct floe_pool *pool;
		struct floe_err e = {0};
		REQUIRE(floe_pool_create(nt, &pool, &e) == FLOE_OK);
		for (int rep = 0; rep < 60; rep++) {
			struct count_job j = {0};
			floe_pool_run(pool, count_slice, &j);
			CHECK(atomic_load(&j.calls) == nt);
			CHECK(atomic_load(&j.sum) == (long)nt * (nt + 1) / 2);
			for (int i = 0; i < nt; i++)
				CHECK(j.ith_seen[i] == 1);
			if (rep % 3 == 0) {
				struct timespec ts = {0, 1000000 * (rep % 2 + 1)}; /* 1-2 ms: workers sleep */
				nanosleep(&ts, NULL);
			}
		}
		floe_pool_destroy(pool);
	}
}

static void slow_slice(void *ctx, int ith, int nth)
{
	struct count_job *j = ctx;
	(void)nth;
	if (ith == nth - 1) {
		struct timespec ts = {0, 2000000}; /* the submitter gives up spinning */
		nanosleep(&ts, NULL);
	}
	atomic_fetch_add(&j->calls, 1);
}

static void test_pool_submitter_sleeps(void)
{
	struct floe_pool *pool;
	struct floe_err e = {0};
	REQUIRE(floe_pool_create(2, &pool, &e) == FLOE_OK);
	for (int rep = 0; rep < 20; rep++) {
		struct count_job j = {0};
		floe_pool_run(pool, slow_slice, &j);
		CHECK(atomic_load(&j.calls) == 2);
	}
	floe_pool_destroy(pool);
}

/* Q4_K multi-row kernels (GEMV and llama.cpp's GEMM order) for 2..4 tokens
 * keep each token's float chain in a lane; every result must have exactly
 * the bits of the same kernel run for that token alone. */
static void test_q4_K_lanes_bits(void)
{
	enum { COLS = 2048, NT = 4 };
	const int64_t nb = COLS / 256;
	static struct block_q4_K w[COLS / 256];
	static struct block_q8_K a[NT][COLS / 256];
	static float x[COLS];

	if (!floe_cpu_has_avx2_fma()) {
		fprintf(stderr, "  skipped: CPU lacks AVX2/FMA\n");
		return;
	}
	const struct floe_kernels *k = floe_kernels_get(false);
	for (int rep = 0; rep < 20; rep++) {
		uint8_t *wb = (uint8_t *)w;
		for (size_t i = 0; i < sizeof(w); i++)
			wb[i] = (uint8_t)(rand_float(128.0f) + 128.0f);
		for (int64_t b = 0; b < nb; b++) {
			uint16_t h = floe_f32_to_f16(rand_float(0.01f));
			memcpy(&w[b].d, &h, 2);
			h = floe_f32_to_f16(rand_float(0.01f));
			memcpy(&w[b].dmin, &h, 2);
		}
		for (int t = 0; t < NT; t++) {
			for (int i = 0; i < COLS; i++)
				x[i] = rand_float(rep % 2 ? 1.0f : 30.0f);
			k->quantize_act[FLOE_TYPE_Q8_K](x, a[t], COLS);
		}
		floe_vec_dot_rows_fn fns[2] = {floe_vec_dot_rows_avx2(FLOE_TYPE_Q4_K),
					      floe_vec_dot_rows_gemm_avx2(FLOE_TYPE_Q4_K)};
		for (int f = 0; f < 2; f++) {
			REQUIRE(fns[f]);
			for (int nt = 2; nt <= NT; nt++) {
				float got[NT], one;
				fns[f](COLS, w, a, sizeof(a[0]), nt, got);
				for (int t = 0; t < nt; t++) {
					fns[f](COLS, w, a[t], sizeof(a[0]), 1, &one);
					CHECKF(memcmp(&got[t], &one, sizeof(one)) == 0, "%s nt=%d tok %d: %.9g vs %.9g",
					       f ? "gemm" : "gemv", nt, t, got[t], one);
				}
			}
		}
	}
}

/* The AVX2 softmax equals floe_softmax bit for bit: lengths around the
 * 8-lane groups, scores spread wide enough to reach expf's underflow path. */
static void test_softmax_avx2_bits(void)
{
	enum { N = 1031 };
	static float x0[N], x1[N];

	if (!floe_cpu_has_avx2_fma()) {
		fprintf(stderr, "  skipped: CPU lacks AVX2/FMA\n");
		return;
	}
	const int lens[] = {1, 2, 7, 8, 9, 15, 16, 17, 64, 128, 129, 1000, N};
	for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		for (int rep = 0; rep < 3; rep++) {
			int n = lens[li];
			float sc = rep == 0 ? 1.0f : rep == 1 ? 20.0f : 200.0f;
			for (int i = 0; i < n; i++)
				x0[i] = x1[i] = rand_float(sc);
			floe_softmax(x0, n, 0.088388f);
			floe_softmax_avx2(x1, n, 0.088388f);
			int bad = -1;
			for (int i = 0; i < n && bad < 0; i++)
				if (memcmp(&x0[i], &x1[i], sizeof(float)) != 0)
					bad = i;
			CHECKF(bad < 0, "n=%d scale %g: element %d %.9g vs %.9g", n, sc, bad, bad < 0 ? 0 : x0[bad],
			       bad < 0 ? 0 : x1[bad]);
		}
	}
}

int main(void)
{
	RUN(test_q4_K_lanes_bits);
	RUN(test_swiglu_avx2_bits);
	RUN(test_softmax_avx2_bits);
	RUN(test_pool_spin_and_sleep);
	RUN(test_pool_submitter_sleeps);
	return harness_finish();
}
