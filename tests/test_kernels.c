/* test_kernels: the run-time kernel table, the AVX2 kernels against the
 * scalar reference kernels and against ggml's goldens, and floe_matmul's
 * thread split.
 *
 * Every AVX2 activation converter must give the reference's bytes exactly;
 * every AVX2 dot product must agree with the reference dot within the f32
 * summation bound explained at dot_bound().  Inputs are seeded random rows
 * (random bytes with bounded scales, so every bit pattern of the quants is
 * exercised) plus hand-made edge cases (exact .5 ties, zero blocks, f16/bf16
 * halfway values).  On a CPU without AVX2/FMA/F16C the AVX2 checks are
 * skipped and say so; the table-selection and matmul checks still run. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "harness.h"
#include "quant/quant.h"
#include "quant/quant_avx2.h"
#include "quant/quant_ref.h"
#include "quant/repack.h"
#include "quant/repack_avx2.h"

/* ---------------------------------------------------------------------
 * Helpers */

static uint64_t rng_state;

static void rng_seed(uint64_t s)
{
	rng_state = s * 0x9E3779B97F4A7C15ull + 1;
}

static uint64_t rng_u64(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

static float rng_unit(void) /* [0, 1) */
{
	return (float)(rng_u64() >> 40) / (float)(1 << 24);
}

/* Roughly normal, with every 7th value four times larger (like the fixture
 * sources) so block maxima vary. */
static void rand_floats(float *x, int64_t n)
{
	for (int64_t i = 0; i < n; i++) {
		float v = rng_unit() + rng_unit() + rng_unit() - 1.5f;
		x[i] = (i % 7 == 3) ? 4 * v : v;
	}
}

static const struct floe_kernels *avx2_or_skip(const char *what)
{
	const struct floe_kernels *k = floe_kernels_get(false);
	if (k == &floe_kernels_ref) {
		fprintf(stderr, "  skipped %s: CPU lacks AVX2/FMA/F16C\n", what);
		return NULL;
	}
	return k;
}

/* Weight types with an AVX2 dot product, and the activation types. */
static const uint32_t weight_types[] = {
	FLOE_TYPE_F32,  FLOE_TYPE_F16,  FLOE_TYPE_BF16, FLOE_TYPE_Q4_0, FLOE_TYPE_Q4_1,   FLOE_TYPE_Q5_0,
	FLOE_TYPE_Q5_1, FLOE_TYPE_Q8_0, FLOE_TYPE_Q2_K, FLOE_TYPE_Q3_K, FLOE_TYPE_Q4_K,   FLOE_TYPE_Q5_K,
	FLOE_TYPE_Q6_K, FLOE_TYPE_IQ4_NL, FLOE_TYPE_IQ4_XS, FLOE_TYPE_MXFP4,
};
#define N_WEIGHT_TYPES (sizeof(weight_types) / sizeof(weight_types[0]))

static const uint32_t act_types[] = {
	FLOE_TYPE_F16, FLOE_TYPE_BF16, FLOE_TYPE_Q8_0, FLOE_TYPE_Q8_1, FLOE_TYPE_Q8_K,
};
#define N_ACT_TYPES (sizeof(act_types) / sizeof(act_types[0]))

static uint32_t blk_elems(uint32_t type)
{
	return floe_type_info(type)->block_elems;
}

static uint32_t blk_bytes(uint32_t type)
{
	return floe_type_info(type)->block_bytes;
}

static void put_f16(uint8_t *p, float v)
{
	uint16_t h = floe_f32_to_f16(v);
	memcpy(p, &h, 2);
}

/* A random but valid weight row: random quant bits everywhere, then each
 * block's float scales overwritten with modest values (random bits would make
 * NaN/inf scales, which the kernels need not agree on). */
static void rand_weights(uint32_t type, void *dst, int64_t n)
{
	uint8_t *p = dst;
	uint64_t bytes = floe_type_row_bytes(type, (uint64_t)n);
	uint32_t bb = blk_bytes(type);

	if (type == FLOE_TYPE_F32) {
		rand_floats(dst, n);
		return;
	}
	if (type == FLOE_TYPE_F16 || type == FLOE_TYPE_BF16) {
		uint16_t *h = dst;
		for (int64_t i = 0; i < n; i++) {
			float v = rng_unit() * 2 - 1;
			h[i] = type == FLOE_TYPE_F16 ? floe_f32_to_f16(v) : floe_f32_to_bf16(v);
		}
		return;
	}
	for (uint64_t i = 0; i < bytes; i++)
		p[i] = (uint8_t)rng_u64();
	for (uint64_t b = 0; b < bytes; b += bb) {
		uint8_t *blk = p + b;
		float d = 0.001f + 0.05f * rng_unit(), m = 0.001f + 0.05f * rng_unit();
		switch (type) {
		case FLOE_TYPE_Q4_1:
		case FLOE_TYPE_Q5_1:
		case FLOE_TYPE_Q4_K:
		case FLOE_TYPE_Q5_K:
			put_f16(blk, d);
			put_f16(blk + 2, m);
			break;
		case FLOE_TYPE_Q2_K:
			put_f16(blk + 80, d);
			put_f16(blk + 82, m);
			break;
		case FLOE_TYPE_Q3_K:
			put_f16(blk + 108, d);
			break;
		case FLOE_TYPE_Q6_K:
			put_f16(blk + 208, d);
			break;
		case FLOE_TYPE_MXFP4:
			blk[0] = (uint8_t)(118 + rng_u64() % 16); /* 2^-10 .. 2^5 */
			break;
		default: /* q4_0, q5_0, q8_0, iq4_nl, iq4_xs: d first */
			put_f16(blk, d);
			break;
		}
	}
}

/* The activation row as floats, for error bounds. */
static void act_to_float(uint32_t act_type, const void *a, float *x, int64_t n)
{
	const uint8_t *p = a;
	switch (act_type) {
	case FLOE_TYPE_F32:
		memcpy(x, a, (size_t)n * 4);
		break;
	case FLOE_TYPE_F16:
	case FLOE_TYPE_BF16:
		for (int64_t i = 0; i < n; i++) {
			uint16_t h;
			memcpy(&h, p + 2 * i, 2);
			x[i] = act_type == FLOE_TYPE_F16 ? floe_f16_to_f32(h) : floe_bf16_to_f32(h);
		}
		break;
	case FLOE_TYPE_Q8_0:
	case FLOE_TYPE_Q8_1: {
		uint32_t bb = blk_bytes(act_type), off = act_type == FLOE_TYPE_Q8_0 ? 2 : 4;
		for (int64_t i = 0; i < n; i++) {
			const uint8_t *blk = p + (i / 32) * bb;
			uint16_t h;
			memcpy(&h, blk, 2);
			x[i] = floe_f16_to_f32(h) * (float)(int8_t)blk[off + i % 32];
		}
		break;
	}
	case FLOE_TYPE_Q8_K:
		for (int64_t i = 0; i < n; i++) {
			const uint8_t *blk = p + (i / 256) * 292;
			float d;
			memcpy(&d, blk, 4);
			x[i] = d * (float)(int8_t)blk[4 + i % 256];
		}
		break;
	default:
		FLOE_ASSERT(0);
	}
}

/* sum |w_i * x_i| over the row, in double, from the dequantized weights. */
static double abs_terms(uint32_t type, const void *w, const void *act, int64_t n)
{
	float *wf = malloc((size_t)n * sizeof(float)), *af = malloc((size_t)n * sizeof(float));
	double s = 0;

	FLOE_ASSERT(wf && af);
	floe_dequant_row_ref(type, w, wf, n);
	act_to_float(floe_type_info(type)->act_type, act, af, n);
	for (int64_t i = 0; i < n; i++)
		s += fabs((double)wf[i] * (double)af[i]);
	free(wf);
	free(af);
	return s;
}

/* Allowed |avx2 - ref| for a dot product.  Both kernels compute exact integer
 * sums per block and differ only in how they add the per-block (or, for the
 * float types, per-element) f32 products: the reference left to right, the
 * AVX2 kernels in eight lanes and several accumulators.  Each of the k
 * additions rounds with relative error u = 2^-24 = 6e-8 of a partial sum,
 * and every partial sum is at most sum|terms|, so each side is off by at
 * most about k*u*sum|terms| (k = blocks: at most 128 here, 7.6e-6) plus one
 * rounding per block scale product.  1e-5 * sum|terms| covers that for the
 * block types; for the float types (k up to 4099 elements) the same bound is
 * the typical sqrt(k)*u growth with a wide margin, not a worst case.  The
 * tiny absolute term covers rows whose terms are all zero. */
static double dot_bound(double sum_abs)
{
	return 1e-5 * sum_abs + 1e-30;
}

/* ---------------------------------------------------------------------
 * Table selection */

static void test_table_selection(void)
{
	const struct floe_kernels *ref = floe_kernels_get(true);
	const struct floe_kernels *best = floe_kernels_get(false);

	CHECK(ref == &floe_kernels_ref);
	CHECK(strcmp(ref->isa, "ref") == 0);
	CHECK(floe_kernels_get(false) == best); /* one static table */
	CHECK(floe_kernels_get(true) == ref);
	/* Cross-check the CPUID/XGETBV probe with the compiler's own (which also
	 * asks the OS); F16C is left out because clang cannot name it here, and
	 * every CPU with AVX2 and FMA has it. */
	__builtin_cpu_init();
	CHECK(floe_cpu_has_avx2_fma() == (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")));
	if (!floe_cpu_has_avx2_fma()) {
		CHECK(best == ref);
		fprintf(stderr, "  skipped avx2 table checks: CPU lacks AVX2/FMA/F16C\n");
		return;
	}
	REQUIRE(best != ref);
	CHECK(strcmp(best->isa, "avx2") == 0);
	/* Every entry of the ref table is there (maybe overridden), nothing
	 * extra appears, and dequant rows are still the reference's. */
	for (uint32_t t = 0; t < FLOE_TYPE_COUNT; t++) {
		CHECKF(!ref->vec_dot[t] == !best->vec_dot[t], "vec_dot %s", floe_type_name(t));
		CHECKF(!ref->quantize_act[t] == !best->quantize_act[t], "quantize_act %s", floe_type_name(t));
		CHECKF(ref->dequant_row[t] == best->dequant_row[t], "dequant %s", floe_type_name(t));
	}
	/* The hot types really are overridden. */
	CHECK(best->vec_dot[FLOE_TYPE_Q4_K] != ref->vec_dot[FLOE_TYPE_Q4_K]);
	CHECK(best->vec_dot[FLOE_TYPE_Q6_K] != ref->vec_dot[FLOE_TYPE_Q6_K]);
	CHECK(best->vec_dot[FLOE_TYPE_Q4_0] != ref->vec_dot[FLOE_TYPE_Q4_0]);
	CHECK(best->quantize_act[FLOE_TYPE_Q8_0] != ref->quantize_act[FLOE_TYPE_Q8_0]);
	CHECK(best->quantize_act[FLOE_TYPE_Q8_K] != ref->quantize_act[FLOE_TYPE_Q8_K]);
}

/* ---------------------------------------------------------------------
 * Activation converters: exact bytes */

/* Compare the converters on one input; dst buffers start poisoned alike so
 * bytes a converter forgets to write also count. */
static bool act_same(const struct floe_kernels *k, uint32_t at, const float *x, int64_t n)
{
	size_t bytes = (size_t)floe_type_row_bytes(at, (uint64_t)n);
	uint8_t *a = malloc(bytes), *b = malloc(bytes);
	bool same;

	FLOE_ASSERT(a && b);
	memset(a, 0xa5, bytes);
	memset(b, 0xa5, bytes);
	floe_kernels_ref.quantize_act[at](x, a, n);
	k->quantize_act[at](x, b, n);
	same = memcmp(a, b, bytes) == 0;
	if (!same) {
		for (size_t i = 0; i < bytes; i++)
			if (a[i] != b[i]) {
				fprintf(stderr, "  %s n=%lld: first differing byte %zu: ref %02x avx2 %02x\n",
					floe_type_name(at), (long long)n, i, a[i], b[i]);
				break;
			}
	}
	free(a);
	free(b);
	return same;
}

static void test_act_random(void)
{
	const struct floe_kernels *k = avx2_or_skip("act converters (random)");
	if (!k)
		return;
	static const int64_t blocks[] = {1, 2, 3, 7, 9};
	float *x = malloc(256 * 9 * sizeof(float) + 64);
	REQUIRE(x);
	rng_seed(1);
	for (size_t ti = 0; ti < N_ACT_TYPES; ti++) {
		uint32_t at = act_types[ti];
		int64_t be = at == FLOE_TYPE_F16 || at == FLOE_TYPE_BF16 ? 13 : blk_elems(at);
		for (size_t bi = 0; bi < sizeof(blocks) / sizeof(blocks[0]); bi++) {
			int64_t n = blocks[bi] * be;
			for (int rep = 0; rep < 4; rep++) {
				rand_floats(x, n);
				if (rep == 1) /* large and tiny magnitudes */
					for (int64_t i = 0; i < n; i++)
						x[i] *= (i & 1) ? 3e4f : 1e-6f;
				CHECKF(act_same(k, at, x, n), "%s n=%lld rep %d", floe_type_name(at), (long long)n,
				       rep);
			}
		}
	}
	free(x);
}

/* Exact ties: with amax = 127 the Q8_0 multiplier 127/amax is exactly 1, so
 * x = m + 0.5 lands on a tie that must round to even; with max = -127 the Q8_K
 * iscale is exactly 1 too.  Zero and -0 blocks, and a block where +a and -a
 * both reach the largest |x| (Q8_K must take the first one's sign). */
static void test_act_edge(void)
{
	const struct floe_kernels *k = avx2_or_skip("act converters (edge cases)");
	if (!k)
		return;
	float x[512];

	/* Q8_0 / Q8_1 ties: block 0 has amax 127, block 1 amax -127. */
	for (int i = 0; i < 64; i++)
		x[i] = (float)((i % 32) * 8 - 126) + 0.5f;
	x[5] = 127.0f;
	x[32 + 9] = -127.0f;
	CHECK(act_same(k, FLOE_TYPE_Q8_0, x, 64));
	CHECK(act_same(k, FLOE_TYPE_Q8_1, x, 64));
	/* zero and negative-zero blocks, then a tie block */
	for (int i = 0; i < 96; i++)
		x[i] = i < 32 ? 0.0f : i < 64 ? -0.0f : (float)(i - 80) + 0.5f;
	x[70] = -127.0f;
	CHECK(act_same(k, FLOE_TYPE_Q8_0, x, 96));
	CHECK(act_same(k, FLOE_TYPE_Q8_1, x, 96));

	/* Q8_K: block 0 max -127 (iscale 1) with ties; block 1 all zero. */
	for (int i = 0; i < 256; i++)
		x[i] = (float)(i % 254 - 126) + (i % 3 ? 0.5f : 0.0f);
	x[17] = -127.0f;
	for (int i = 256; i < 512; i++)
		x[i] = 0.0f;
	CHECK(act_same(k, FLOE_TYPE_Q8_K, x, 512));
	/* +a before -a, then -a before +a, as the largest |x|. */
	rng_seed(2);
	rand_floats(x, 512);
	x[40] = 9.0f;
	x[41] = -9.0f;
	x[256 + 3] = -9.0f;
	x[256 + 200] = 9.0f;
	CHECK(act_same(k, FLOE_TYPE_Q8_K, x, 512));
	/* max = +127: iscale -1, ties again */
	for (int i = 0; i < 256; i++)
		x[i] = -(float)(i % 200) / 2 + 0.25f;
	x[0] = 127.0f;
	CHECK(act_same(k, FLOE_TYPE_Q8_K, x, 256));

	/* f16 and bf16 halfway values, overflow, subnormals, infinities. */
	const float f16_cases[] = {
		1.0f + 0x1p-11f,   1.0f + 3 * 0x1p-11f, -1.0f - 0x1p-11f, 65504.0f, 65519.0f, 65520.0f,
		1e6f,              -1e6f,               0x1p-24f,         0x1p-25f, 0x1.8p-25f, 3 * 0x1p-25f,
		0x1p-14f + 0x1p-25f, -0.0f,             0.0f,             INFINITY, -INFINITY, 0.1f,
		(float)M_PI,       1e-8f,               -2.5e-5f,         1234.56f,   NAN,      -NAN,
	};
	int nf = (int)(sizeof(f16_cases) / sizeof(f16_cases[0]));
	CHECK(act_same(k, FLOE_TYPE_F16, f16_cases, nf));
	const float bf16_cases[] = {
		1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, -1.0f - 0x1p-8f, 3.4e38f, -3.4e38f, 1e-40f, NAN, -NAN,
		INFINITY,       -INFINITY,          0.0f,            -0.0f,   0.1f,     1.00390625f, 255.5f,
		65535.0f,       1e-38f,             3.3895314e38f,
	};
	int nb = (int)(sizeof(bf16_cases) / sizeof(bf16_cases[0]));
	CHECK(act_same(k, FLOE_TYPE_BF16, bf16_cases, nb));
}

/* ---------------------------------------------------------------------
 * Dot products against the reference */

static void check_dot(const struct floe_kernels *k, uint32_t t, int64_t n)
{
	uint32_t at = floe_type_info(t)->act_type;
	size_t wb = (size_t)floe_type_row_bytes(t, (uint64_t)n);
	size_t ab = (size_t)floe_type_row_bytes(at, (uint64_t)n);
	void *w = malloc(wb), *a = malloc(ab);
	float *x = malloc((size_t)n * sizeof(float));

	FLOE_ASSERT(w && a && x);
	rand_weights(t, w, n);
	rand_floats(x, n);
	floe_kernels_ref.quantize_act[at](x, a, n);
	float r = floe_kernels_ref.vec_dot[t](n, w, a);
	float v = k->vec_dot[t](n, w, a);
	double bound = dot_bound(abs_terms(t, w, a, n));
	CHECKF(fabs((double)r - (double)v) <= bound, "%s n=%lld: ref %.9g avx2 %.9g (bound %.3g)",
	       floe_type_name(t), (long long)n, r, v, bound);
	free(w);
	free(a);
	free(x);
}

static void test_dot_vs_ref(void)
{
	const struct floe_kernels *k = avx2_or_skip("vec_dot vs ref");
	if (!k)
		return;
	static const int64_t blocks[] = {1, 2, 3, 5, 8, 11, 16};
	static const int64_t float_n[] = {1, 7, 8, 31, 32, 33, 100, 257, 1000, 4099};

	rng_seed(3);
	for (size_t ti = 0; ti < N_WEIGHT_TYPES; ti++) {
		uint32_t t = weight_types[ti];
		if (k->vec_dot[t] == floe_kernels_ref.vec_dot[t])
			continue; /* no avx2 kernel: nothing to compare */
		if (blk_elems(t) == 1) {
			for (size_t i = 0; i < sizeof(float_n) / sizeof(float_n[0]); i++)
				check_dot(k, t, float_n[i]);
		} else {
			for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++)
				for (int rep = 0; rep < 3; rep++)
					check_dot(k, t, blocks[i] * blk_elems(t));
		}
	}
}

/* ---------------------------------------------------------------------
 * ggml goldens: tests/fixtures/quant/NAME.{act.f32,actq,q,deq.f32,dot.f32} */

#define FIX_ROWS 8
#define FIX_COLS 1024

static bool same_order_as_vec_dot(uint32_t t)
{
	switch (t) {
	case FLOE_TYPE_Q8_0:
	case FLOE_TYPE_Q5_0:
	case FLOE_TYPE_Q4_1:
	case FLOE_TYPE_Q5_1:
	case FLOE_TYPE_Q2_K:
	case FLOE_TYPE_Q3_K:
	case FLOE_TYPE_Q5_K:
	case FLOE_TYPE_Q6_K:
	case FLOE_TYPE_IQ4_XS:
		return true;
	default:
		return false;
	}
}

static void check_fixture(const struct floe_kernels *k, const char *name, uint32_t t)
{
	char path[256];
	size_t sz_act = 0, sz_actq = 0, sz_q = 0, sz_deq = 0, sz_dot = 0;
	uint32_t at = floe_type_info(t)->act_type;
	size_t wb = (size_t)floe_type_row_bytes(t, FIX_COLS);
	size_t ab = (size_t)floe_type_row_bytes(at, FIX_COLS);

#define LOAD(var, ext)                                                            \
	snprintf(path, sizeof(path), FIXTURE("quant/%s.%s"), name, ext);          \
	void *var = harness_read_file(path, &sz_##var)
	LOAD(act, "act.f32");
	LOAD(actq, "actq");
	LOAD(q, "q");
	LOAD(deq, "deq.f32");
	LOAD(dot, "dot.f32");
#undef LOAD
	uint8_t *mine = malloc(ab);
	float *af = malloc(FIX_COLS * sizeof(float));

	if (!act || !actq || !q || !deq || !dot || !mine || !af) {
		CHECKF(0, "cannot read fixtures for %s", name);
		goto out;
	}
	CHECKF(sz_act == FIX_COLS * 4 && sz_actq == ab && sz_q == FIX_ROWS * wb && sz_deq == FIX_ROWS * FIX_COLS * 4 &&
		       sz_dot == FIX_ROWS * 4,
	       "%s: fixture sizes", name);
	if (harness_cur_failed)
		goto out;
	/* the activation converter reproduces ggml's bytes */
	memset(mine, 0xa5, ab);
	k->quantize_act[at](act, mine, FIX_COLS);
	CHECKF(memcmp(mine, actq, ab) == 0, "%s: %s activation bytes differ from ggml", name, floe_type_name(at));
	/* each row's dot with ggml's activation equals ggml's dot */
	act_to_float(at, actq, af, FIX_COLS);
	for (int r = 0; r < FIX_ROWS; r++) {
		const float *wr = (const float *)deq + (size_t)r * FIX_COLS;
		double sabs = 0;
		for (int i = 0; i < FIX_COLS; i++)
			sabs += fabs((double)wr[i] * af[i]);
		float want = ((const float *)dot)[r];
		float got = k->vec_dot[t](FIX_COLS, (const uint8_t *)q + (size_t)r * wb, actq);
		CHECKF(fabs((double)got - want) <= 1e-5 * fabs((double)want) ||
			       fabs((double)got - want) <= dot_bound(sabs),
		       "%s row %d: ggml %.9g avx2 %.9g", name, r, want, got);
		/* The forward pass matches llama.cpp bit for bit only if each
		 * kernel sums in the order llama.cpp runs for that type: ggml's
		 * plain AVX2 vec_dot (these goldens) for the types it does not
		 * repack on AVX2.  Q4_0, Q4_K, IQ4_NL and MXFP4 are repacked and
		 * follow the repacked GEMV order instead (~1e-6 relative from
		 * these goldens; checked through test_engine's logits). */
		if (same_order_as_vec_dot(t))
			CHECKF(memcmp(&got, &want, sizeof(got)) == 0, "%s row %d: ggml %.9g avx2 %.9g, not bit-identical",
			       name, r, want, got);
	}
out:
	free(act);
	free(actq);
	free(q);
	free(deq);
	free(dot);
	free(mine);
	free(af);
}

static void test_fixtures(void)
{
	const struct floe_kernels *k = avx2_or_skip("ggml fixtures");
	if (!k)
		return;
	static const struct {
		const char *name;
		uint32_t type;
	} fx[] = {
		{"f16", FLOE_TYPE_F16},   {"bf16", FLOE_TYPE_BF16},     {"q4_0", FLOE_TYPE_Q4_0},
		{"q4_1", FLOE_TYPE_Q4_1}, {"q5_0", FLOE_TYPE_Q5_0},     {"q5_1", FLOE_TYPE_Q5_1},
		{"q8_0", FLOE_TYPE_Q8_0}, {"q2_K", FLOE_TYPE_Q2_K},     {"q3_K", FLOE_TYPE_Q3_K},
		{"q4_K", FLOE_TYPE_Q4_K}, {"q5_K", FLOE_TYPE_Q5_K},     {"q6_K", FLOE_TYPE_Q6_K},
		{"iq4_nl", FLOE_TYPE_IQ4_NL}, {"iq4_xs", FLOE_TYPE_IQ4_XS}, {"mxfp4", FLOE_TYPE_MXFP4},
	};
	for (size_t i = 0; i < sizeof(fx) / sizeof(fx[0]); i++)
		check_fixture(k, fx[i].name, fx[i].type);
}

/* ---------------------------------------------------------------------
 * floe_matmul */

/* One matmul problem, run single-threaded and split over nth = 2, 3 (each
 * slice run in turn); the splits must give the same bits, every output
 * must match the reference dot, and padding between out rows is untouched. */
static void check_matmul(const struct floe_kernels *k, uint32_t t, int64_t n_rows, int64_t n_cols, int64_t n_tok)
{
	uint32_t at = floe_type_info(t)->act_type;
	size_t wb = (size_t)floe_type_row_bytes(t, (uint64_t)n_cols);
	size_t ab = (size_t)floe_type_row_bytes(at, (uint64_t)n_cols);
	int64_t stride = n_rows + 3;
	size_t out_n = (size_t)(stride * n_tok);
	uint8_t *w = malloc(wb * (size_t)n_rows), *a = malloc(ab * (size_t)n_tok);
	float *x = malloc((size_t)n_cols * sizeof(float));
	float *o1 = malloc(out_n * sizeof(float)), *on = malloc(out_n * sizeof(float));

	FLOE_ASSERT(w && a && x && o1 && on);
	for (int64_t r = 0; r < n_rows; r++)
		rand_weights(t, w + (size_t)r * wb, n_cols);
	for (int64_t i = 0; i < n_tok; i++) {
		rand_floats(x, n_cols);
		k->quantize_act[at](x, a + (size_t)i * ab, n_cols);
	}
	for (size_t i = 0; i < out_n; i++)
		o1[i] = -12345.0f;
	floe_matmul(k, t, w, n_rows, n_cols, a, n_tok, o1, stride, 0, 1);
	for (int64_t i = 0; i < n_tok; i++) {
		for (int64_t r = 0; r < n_rows; r++) {
			const uint8_t *wr = w + (size_t)r * wb, *ar = a + (size_t)i * ab;
			float want = floe_kernels_ref.vec_dot[t](n_cols, wr, ar);
			double bound = dot_bound(abs_terms(t, wr, ar, n_cols));
			float got = o1[i * stride + r];
			CHECKF(fabs((double)got - want) <= bound, "%s %s tok %lld row %lld: %.9g vs ref %.9g", k->isa,
			       floe_type_name(t), (long long)i, (long long)r, got, want);
			/* batched rows give exactly the one-row kernel's bits */
			float one = k->vec_dot[t](n_cols, wr, ar);
			CHECKF(memcmp(&got, &one, sizeof(got)) == 0, "%s %s tok %lld row %lld: %.9g vs one-row %.9g",
			       k->isa, floe_type_name(t), (long long)i, (long long)r, got, one);
		}
		for (int64_t r = n_rows; r < stride; r++)
			CHECK(o1[i * stride + r] == -12345.0f);
	}
	for (int nth = 2; nth <= 3; nth++) {
		for (size_t i = 0; i < out_n; i++)
			on[i] = -12345.0f;
		for (int ith = nth - 1; ith >= 0; ith--)
			floe_matmul(k, t, w, n_rows, n_cols, a, n_tok, on, stride, ith, nth);
		CHECKF(memcmp(o1, on, out_n * sizeof(float)) == 0, "%s %s nth=%d differs from nth=1", k->isa,
		       floe_type_name(t), nth);
	}
	/* Row ranges in any order and size (the pool hands out chunks
	 * dynamically): the chunk size floe_matmul_chunk_rows picks and 5 rows,
	 * last chunk first. */
	int64_t chunks[2] = {floe_matmul_chunk_rows(t, n_rows, n_cols, n_tok, 2), 5};
	for (int ci = 0; ci < 2; ci++) {
		int64_t ch = chunks[ci];
		CHECK(ch > 0 && (ci == 1 || ch % 16 == 0));
		for (size_t i = 0; i < out_n; i++)
			on[i] = -12345.0f;
		for (int64_t lo = (n_rows - 1) / ch * ch; lo >= 0; lo -= ch)
			floe_matmul_range(k, t, w, n_cols, a, n_tok, 0, on, stride, lo,
					  lo + ch < n_rows ? lo + ch : n_rows);
		CHECKF(memcmp(o1, on, out_n * sizeof(float)) == 0, "%s %s chunks of %lld differ from nth=1", k->isa,
		       floe_type_name(t), (long long)ch);
	}
	free(w);
	free(a);
	free(x);
	free(o1);
	free(on);
}

static void test_matmul(void)
{
	static const uint32_t types[] = {FLOE_TYPE_Q4_K, FLOE_TYPE_Q6_K, FLOE_TYPE_Q4_0, FLOE_TYPE_Q8_0,
					 FLOE_TYPE_F32,  FLOE_TYPE_F16,  FLOE_TYPE_Q2_K, FLOE_TYPE_Q3_K,
					 FLOE_TYPE_Q5_K, FLOE_TYPE_BF16, FLOE_TYPE_Q4_1, FLOE_TYPE_Q5_0,
					 FLOE_TYPE_Q5_1, FLOE_TYPE_IQ4_NL, FLOE_TYPE_MXFP4, FLOE_TYPE_IQ4_XS};
	const struct floe_kernels *tabs[2] = {floe_kernels_get(true), floe_kernels_get(false)};
	int n_tabs = tabs[1] == tabs[0] ? 1 : 2;

	if (n_tabs == 1)
		fprintf(stderr, "  skipped avx2 matmul: CPU lacks AVX2/FMA/F16C\n");
	rng_seed(4);
	for (int ki = 0; ki < n_tabs; ki++) {
		for (size_t ti = 0; ti < sizeof(types) / sizeof(types[0]); ti++) {
			uint32_t t = types[ti];
			int64_t cols = blk_elems(t) == 1 ? 96 : 3 * (int64_t)blk_elems(t);
			check_matmul(tabs[ki], t, 1, cols, 1);
			check_matmul(tabs[ki], t, 7, cols, 1);
			check_matmul(tabs[ki], t, 37, cols, 3);
			check_matmul(tabs[ki], t, 5, cols, 5);
			/* 9 tokens: two groups of four and one; 7 or 13 blocks
			 * reach the four-block paths and their tails */
			check_matmul(tabs[ki], t, 6, blk_elems(t) == 1 ? 77 : 7 * (int64_t)blk_elems(t), 9);
			check_matmul(tabs[ki], t, 3, blk_elems(t) == 1 ? 130 : 13 * (int64_t)blk_elems(t), 2);
		}
		/* rows long enough that a 16 KiB tile holds only a few of them */
		check_matmul(tabs[ki], FLOE_TYPE_Q4_K, 29, 8192, 3);
		check_matmul(tabs[ki], FLOE_TYPE_Q4_K, 45, 2048, 1);
		check_matmul(tabs[ki], FLOE_TYPE_Q4_0, 45, 2048, 1);
		check_matmul(tabs[ki], FLOE_TYPE_Q4_0, 23, 8192, 6);
		/* more blocks than the Q4_0 prompt tile keeps on its stack */
		check_matmul(tabs[ki], FLOE_TYPE_Q4_0, 3, 513 * 32, 5);
		check_matmul(tabs[ki], FLOE_TYPE_F32, 11, 2048, 2);
	}
}

/* The decode GEMV (several weight rows against one activation row) gives
 * every row exactly the one-row kernel's bits, for every row count it takes
 * and row lengths of one and several blocks. */
static void test_gemv(void)
{
	const struct floe_kernels *k = avx2_or_skip("gemv");
	int n_checked = 0;

	if (!k)
		return;
	rng_seed(5);
	for (size_t ti = 0; ti < N_WEIGHT_TYPES; ti++) {
		uint32_t t = weight_types[ti], at = floe_type_info(t)->act_type;
		floe_gemv_fn gemv = floe_gemv_avx2(t);
		if (!gemv)
			continue;
		static const int blocks[] = {1, 2, 3, 8, 13};
		for (size_t bi = 0; bi < sizeof(blocks) / sizeof(blocks[0]); bi++) {
			int64_t cols = (int64_t)blocks[bi] * blk_elems(t);
			size_t wb = (size_t)floe_type_row_bytes(t, (uint64_t)cols);
			size_t ab = (size_t)floe_type_row_bytes(at, (uint64_t)cols);
			uint8_t *w = malloc(wb * FLOE_GEMV_ROWS), *a = malloc(ab);
			float *x = malloc((size_t)cols * sizeof(float));
			FLOE_ASSERT(w && a && x);
			for (int rep = 0; rep < 4; rep++) {
				for (int r = 0; r < FLOE_GEMV_ROWS; r++)
					rand_weights(t, w + (size_t)r * wb, cols);
				rand_floats(x, cols);
				if (rep % 2)
					for (int64_t i = 0; i < cols; i++)
						x[i] *= 40.0f;
				k->quantize_act[at](x, a, cols);
				for (int nr = 1; nr <= FLOE_GEMV_ROWS; nr++) {
					float got[FLOE_GEMV_ROWS + 1];
					got[nr] = -12345.0f;
					gemv(cols, w, wb, nr, a, got);
					CHECK(got[nr] == -12345.0f);
					for (int r = 0; r < nr; r++) {
						float one = k->vec_dot[t](cols, w + (size_t)r * wb, a);
						CHECKF(memcmp(&got[r], &one, sizeof(one)) == 0,
						       "%s gemv %d rows x %lld: row %d %.9g vs one-row %.9g",
						       floe_type_name(t), nr, (long long)cols, r, got[r], one);
					}
					n_checked++;
				}
			}
			free(w);
			free(a);
			free(x);
		}
	}
	CHECK(n_checked > 0); /* at least Q4_K has one */
}

/* The x8 layouts (repack.h): which shapes repack, that unpack restores the
 * file's bytes, and that products over repacked rows give exactly the
 * file-layout kernels' bits for every token count, GEMM/GEMV split, thread
 * split and chunk order the engine uses. */
static void check_repacked(const struct floe_kernels *k, uint32_t t, int64_t n_rows, int64_t n_cols, int64_t n_tok,
			   int64_t n_gemm)
{
	const uint32_t at = floe_type_info(t)->act_type, tr = t | FLOE_TYPE_REPACKED;
	size_t wb = (size_t)floe_type_row_bytes(t, (uint64_t)n_cols);
	size_t ab = (size_t)floe_type_row_bytes(at, (uint64_t)n_cols);
	size_t out_n = (size_t)n_tok * (size_t)n_rows;
	uint8_t *w = malloc(wb * (size_t)n_rows), *wp = malloc(wb * (size_t)n_rows), *a = malloc(ab * (size_t)n_tok);
	float *x = malloc(sizeof(float) * (size_t)n_cols), *want = malloc(sizeof(float) * out_n);
	float *got = malloc(sizeof(float) * out_n);
	REQUIRE(w && wp && a && x && want && got);

	for (int64_t r = 0; r < n_rows; r++)
		rand_weights(t, w + (size_t)r * wb, n_cols);
	for (int64_t i = 0; i < n_tok; i++) {
		rand_floats(x, n_cols);
		k->quantize_act[at](x, a + (size_t)i * ab, n_cols);
	}
	memcpy(wp, w, wb * (size_t)n_rows);
	floe_repack_rows(t, wp, n_rows, n_cols);
	CHECKF(memcmp(wp, w, wb * (size_t)n_rows) != 0, "repack of %s %lldx%lld changed nothing", floe_type_name(t),
	       (long long)n_rows, (long long)n_cols);
	floe_matmul_gemm(k, t, w, n_rows, n_cols, a, n_tok, n_gemm, want, n_rows, 0, 1);
	for (int nth = 1; nth <= 3; nth++) {
		for (size_t i = 0; i < out_n; i++)
			got[i] = -12345.0f;
		for (int ith = nth - 1; ith >= 0; ith--)
			floe_matmul_gemm(k, tr, wp, n_rows, n_cols, a, n_tok, n_gemm, got, n_rows, ith, nth);
		CHECKF(memcmp(want, got, out_n * sizeof(float)) == 0,
		       "%sx8 %lldx%lld, %lld tokens (%lld gemm), %d threads: not the file layout's bits",
		       floe_type_name(t), (long long)n_rows, (long long)n_cols, (long long)n_tok, (long long)n_gemm,
		       nth);
	}
	/* the engine's chunks, last chunk first */
	int64_t ch = floe_matmul_chunk_rows(tr, n_rows, n_cols, n_tok, 2);
	CHECK(ch % FLOE_REPACK_ROWS == 0);
	for (size_t i = 0; i < out_n; i++)
		got[i] = -12345.0f;
	for (int64_t lo = (n_rows - 1) / ch * ch; lo >= 0; lo -= ch)
		floe_matmul_range(k, tr, wp, n_cols, a, n_tok, n_gemm, got, n_rows, lo,
				  lo + ch < n_rows ? lo + ch : n_rows);
	CHECKF(memcmp(want, got, out_n * sizeof(float)) == 0, "%sx8 %lldx%lld in chunks of %lld differs",
	       floe_type_name(t), (long long)n_rows, (long long)n_cols, (long long)ch);
	/* both integer paths (maddubs, and vpdpbusd where the CPU has it) */
	for (int vnni = 0; vnni <= (int)floe_cpu_has_avx_vnni(); vnni++) {
		for (size_t i = 0; i < out_n; i++)
			got[i] = -12345.0f;
		if (t == FLOE_TYPE_Q4_K)
			floe_matmul_q4_Kx8_avx2(n_cols, wp, 0, n_rows, a, ab, n_tok, n_gemm, got, n_rows, vnni);
		else
			floe_matmul_q4_0x8_avx2(n_cols, wp, 0, n_rows, a, ab, n_tok, got, n_rows, vnni);
		CHECKF(memcmp(want, got, out_n * sizeof(float)) == 0, "%sx8 %lldx%lld vnni=%d differs",
		       floe_type_name(t), (long long)n_rows, (long long)n_cols, vnni);
	}
	floe_unpack_rows(t, wp, n_rows, n_cols);
	CHECK(memcmp(wp, w, wb * (size_t)n_rows) == 0);
	free(w);
	free(wp);
	free(a);
	free(x);
	free(want);
	free(got);
}

static void test_repack(void)
{
	CHECK(floe_repack_supported(FLOE_TYPE_Q4_0, 8, 32));
	CHECK(floe_repack_supported(FLOE_TYPE_Q4_0, 4096, FLOE_REPACK_MAX_COLS));
	CHECK(!floe_repack_supported(FLOE_TYPE_Q4_0, 12, 64));
	CHECK(!floe_repack_supported(FLOE_TYPE_Q4_0, 8, FLOE_REPACK_MAX_COLS + 32));
	CHECK(floe_repack_supported(FLOE_TYPE_Q4_K, 8, 256));
	CHECK(!floe_repack_supported(FLOE_TYPE_Q4_K, 8, 288));
	CHECK(!floe_repack_supported(FLOE_TYPE_Q6_K, 8, 256));
	CHECK(!floe_repack_supported(FLOE_TYPE_Q8_0, 8, 32));
	CHECK(floe_type_base(FLOE_TYPE_Q4_0 | FLOE_TYPE_REPACKED) == FLOE_TYPE_Q4_0);
	CHECK(floe_type_info(FLOE_TYPE_Q4_0 | FLOE_TYPE_REPACKED) == NULL);

	const struct floe_kernels *k = avx2_or_skip("repacked products");
	if (!k)
		return;
	rng_seed(11);
	static const int64_t toks[] = {1, 2, 3, 4, 5, 9};
	for (size_t i = 0; i < sizeof(toks) / sizeof(toks[0]); i++) {
		check_repacked(k, FLOE_TYPE_Q4_0, 8, 32, toks[i], 0);
		check_repacked(k, FLOE_TYPE_Q4_0, 24, 96, toks[i], 0);
		check_repacked(k, FLOE_TYPE_Q4_0, 200, 2048, toks[i], 0);
		/* Q4_K: all tokens in the GEMV order, and llama.cpp's dense split
		 * (the first n - n % 4 in its GEMM order) */
		const int64_t gemm = toks[i] - toks[i] % 4;
		check_repacked(k, FLOE_TYPE_Q4_K, 8, 256, toks[i], 0);
		check_repacked(k, FLOE_TYPE_Q4_K, 8, 256, toks[i], gemm);
		check_repacked(k, FLOE_TYPE_Q4_K, 40, 768, toks[i], gemm);
		check_repacked(k, FLOE_TYPE_Q4_K, 72, 2048, toks[i], 0);
	}
	check_repacked(k, FLOE_TYPE_Q4_0, 16, FLOE_REPACK_MAX_COLS, 3, 0);
	check_repacked(k, FLOE_TYPE_Q4_0, 768, 2048, 1, 0);
	check_repacked(k, FLOE_TYPE_Q4_K, 16, FLOE_REPACK_MAX_COLS, 6, 4);
	check_repacked(k, FLOE_TYPE_Q4_K, 768, 2048, 1, 0);
}

int main(void)
{
	RUN(test_table_selection);
	RUN(test_act_random);
	RUN(test_act_edge);
	RUN(test_dot_vs_ref);
	RUN(test_fixtures);
	RUN(test_matmul);
	RUN(test_gemv);
	RUN(test_repack);
	return harness_finish();
}
