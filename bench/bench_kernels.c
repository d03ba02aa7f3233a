/* bench_kernels: speed of each AVX2 kernel against its reference kernel,
 * measured in the same run (`make bench`).  Not a test: it asserts nothing.
 *
 * Dot products run as a decode matrix-vector product (one activation row,
 * many weight rows, floe_matmul on one thread) in two settings:
 *   mem:   64 MiB of weights, larger than the last-level cache, so the rate is
 *          bounded by memory bandwidth like decoding a real model;
 *   cache: 256 KiB of weights, resident in L2, the kernel's own speed.
 * GB/s counts weight bytes read.  Activation converters are timed on 4096-wide
 * rows (ns per row).  Each measurement repeats for a while and keeps the
 * fastest run, because the machine is shared.  Arguments, if
 * any, name the types to run (e.g. `bench_kernels q4_K q8_K`). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/timer.h"
#include "quant/quant.h"
#include "quant/quant_avx2.h"
#include "quant/quant_ref.h"

#define N_COLS 4096
#define MEM_BYTES (64u << 20)
#define CACHE_BYTES (256u << 10)

static uint64_t rng = 88172645463325252ull;

static uint64_t next_u64(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static float next_float(void)
{
	return (float)(next_u64() >> 40) / (float)(1 << 24) * 2.0f - 1.0f;
}

static void put_f16(uint8_t *p, float v)
{
	uint16_t h = floe_f32_to_f16(v);
	memcpy(p, &h, 2);
}

/* Random but valid weight rows: random quant bits, modest float scales (the
 * offsets of the f16 scales are ggml's block layouts).  The speed of a
 * kernel does not depend on the values, only on them being finite. */
static void fill_weights(uint32_t type, uint8_t *w, int64_t n_rows)
{
	size_t bytes = (size_t)floe_type_row_bytes(type, N_COLS) * (size_t)n_rows;
	uint32_t bb = floe_type_info(type)->block_bytes;

	if (type == FLOE_TYPE_F32) {
		for (size_t i = 0; i < bytes / 4; i++)
			((float *)w)[i] = next_float();
		return;
	}
	if (type == FLOE_TYPE_F16 || type == FLOE_TYPE_BF16) {
		for (size_t i = 0; i < bytes / 2; i++)
			((uint16_t *)w)[i] = type == FLOE_TYPE_F16 ? floe_f32_to_f16(next_float())
								   : floe_f32_to_bf16(next_float());
		return;
	}
	for (size_t i = 0; i < bytes; i++)
		w[i] = (uint8_t)next_u64();
	for (size_t b = 0; b < bytes; b += bb) {
		uint8_t *blk = w + b;
		switch (type) {
		case FLOE_TYPE_Q2_K:
			put_f16(blk + 80, 0.01f);
			put_f16(blk + 82, 0.01f);
			break;
		case FLOE_TYPE_Q3_K:
			put_f16(blk + 108, 0.01f);
			break;
		case FLOE_TYPE_Q6_K:
			put_f16(blk + 208, 0.01f);
			break;
		case FLOE_TYPE_MXFP4:
			blk[0] = 120;
			break;
		case FLOE_TYPE_Q4_1:
		case FLOE_TYPE_Q5_1:
		case FLOE_TYPE_Q4_K:
		case FLOE_TYPE_Q5_K:
			put_f16(blk + 2, 0.01f);
			put_f16(blk, 0.01f);
			break;
		default:
			put_f16(blk, 0.01f);
			break;
		}
	}
}

static float sink;

/* Seconds per matrix-vector product over n_rows rows: the fastest of the
 * repetitions in 0.3 s, because on a shared machine the slow ones measure
 * the neighbours. */
static double time_matvec(const struct floe_kernels *k, uint32_t type, const uint8_t *w, int64_t n_rows,
			  const void *act, float *out)
{
	double best = 1e9, start = floe_now_s(), t0, t1;
	long iters = 0;

	do {
		t0 = floe_now_s();
		floe_matmul(k, type, w, n_rows, N_COLS, act, 1, out, n_rows, 0, 1);
		t1 = floe_now_s();
		sink += out[iters++ % n_rows];
		if (t1 - t0 < best)
			best = t1 - t0;
	} while (t1 - start < 0.3 || iters < 5);
	return best;
}

static void bench_dot(uint32_t type, const struct floe_kernels *ref, const struct floe_kernels *fast)
{
	uint32_t at = floe_type_info(type)->act_type;
	size_t rb = (size_t)floe_type_row_bytes(type, N_COLS);
	int64_t rows_mem = (int64_t)(MEM_BYTES / rb), rows_cache = (int64_t)(CACHE_BYTES / rb);
	uint8_t *w = floe_alloc_aligned((size_t)rows_mem * rb);
	void *act = floe_alloc_aligned((size_t)floe_type_row_bytes(at, N_COLS));
	float *out = floe_alloc_aligned((size_t)rows_mem * sizeof(float));
	float x[N_COLS];

	if (!w || !act || !out) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	fill_weights(type, w, rows_mem);
	for (int i = 0; i < N_COLS; i++)
		x[i] = next_float();
	ref->quantize_act[at](x, act, N_COLS);

	double rm = time_matvec(ref, type, w, rows_mem, act, out);
	double fm = time_matvec(fast, type, w, rows_mem, act, out);
	double rc = time_matvec(ref, type, w, rows_cache, act, out);
	double fc = time_matvec(fast, type, w, rows_cache, act, out);
	double gb_mem = (double)rows_mem * (double)rb / 1e9, gb_cache = (double)rows_cache * (double)rb / 1e9;
	printf("%-7s %6zu  | %7.2f %7.2f %5.1fx | %7.2f %7.2f %5.1fx | %7.1f %7.1f\n", floe_type_name(type), rb,
	       gb_mem / rm, gb_mem / fm, rm / fm, gb_cache / rc, gb_cache / fc, rc / fc,
	       rc / (double)rows_cache * 1e9, fc / (double)rows_cache * 1e9);
	floe_free_aligned(w);
	floe_free_aligned(act);
	floe_free_aligned(out);
}

/* Prompt processing: N_TOK tokens against 256 KiB of weights (in cache),
 * through floe_matmul with the AVX2 table (multi-row kernels where a type
 * has them) and with a copy of that table, which floe_matmul runs with the
 * one-row kernels.  Prints ns per row and token. */
#define N_TOK 8
static void bench_prefill(uint32_t type, const struct floe_kernels *fast)
{
	uint32_t at = floe_type_info(type)->act_type;
	size_t rb = (size_t)floe_type_row_bytes(type, N_COLS), ab = (size_t)floe_type_row_bytes(at, N_COLS);
	int64_t rows = (int64_t)(CACHE_BYTES / rb);
	uint8_t *w = floe_alloc_aligned((size_t)rows * rb), *act = floe_alloc_aligned(ab * N_TOK);
	float *out = floe_alloc_aligned((size_t)rows * N_TOK * sizeof(float));
	float *x = floe_alloc_aligned(N_COLS * sizeof(float));
	struct floe_kernels plain = *fast;
	double best[2] = {1e9, 1e9};

	if (!w || !act || !out || !x) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	fill_weights(type, w, rows);
	for (int t = 0; t < N_TOK; t++) {
		for (int i = 0; i < N_COLS; i++)
			x[i] = next_float();
		fast->quantize_act[at](x, act + (size_t)t * ab, N_COLS);
	}
	for (int v = 0; v < 2; v++) {
		const struct floe_kernels *k = v ? fast : &plain;
		double start = floe_now_s(), t0, t1;
		long iters = 0;
		do {
			t0 = floe_now_s();
			floe_matmul(k, type, w, rows, N_COLS, act, N_TOK, out, rows, 0, 1);
			t1 = floe_now_s();
			sink += out[iters++ % rows];
			if (t1 - t0 < best[v])
				best[v] = t1 - t0;
		} while (t1 - start < 0.2 || iters < 5);
	}
	printf("%-7s | %8.1f %8.1f %5.2fx\n", floe_type_name(type), best[0] / (double)(rows * N_TOK) * 1e9,
	       best[1] / (double)(rows * N_TOK) * 1e9, best[0] / best[1]);
	floe_free_aligned(w);
	floe_free_aligned(act);
	floe_free_aligned(out);
	floe_free_aligned(x);
}

static double time_quant(floe_quantize_fn fn, const float *x, void *dst)
{
	double best = 1e9, start = floe_now_s(), t0, t1;

	do {
		t0 = floe_now_s();
		fn(x, dst, N_COLS);
		t1 = floe_now_s();
		if (t1 - t0 < best)
			best = t1 - t0;
	} while (t1 - start < 0.1);
	return best;
}

/* With arguments, only the named types (ggml names: q4_K f16 q8_0 ...). */
static bool wanted(uint32_t type, int argc, char **argv)
{
	if (argc < 2)
		return true;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], floe_type_name(type)) == 0)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	const struct floe_kernels *ref = floe_kernels_get(true), *fast = floe_kernels_get(false);
	static const uint32_t types[] = {
		FLOE_TYPE_Q4_K, FLOE_TYPE_Q6_K, FLOE_TYPE_Q4_0, FLOE_TYPE_Q8_0, FLOE_TYPE_F32,
		FLOE_TYPE_F16,  FLOE_TYPE_BF16, FLOE_TYPE_Q2_K, FLOE_TYPE_Q3_K, FLOE_TYPE_Q5_K,
		FLOE_TYPE_Q4_1, FLOE_TYPE_Q5_0, FLOE_TYPE_Q5_1, FLOE_TYPE_IQ4_NL, FLOE_TYPE_IQ4_XS,
		FLOE_TYPE_MXFP4,
	};
	static const uint32_t acts[] = {FLOE_TYPE_Q8_0, FLOE_TYPE_Q8_1, FLOE_TYPE_Q8_K, FLOE_TYPE_F16,
					FLOE_TYPE_BF16};

	if (fast == ref) {
		printf("bench_kernels: this CPU lacks AVX2/FMA/F16C; nothing to compare\n");
		return 0;
	}
	printf("kernels %s vs %s, %d columns, one thread\n", fast->isa, ref->isa, N_COLS);
	printf("dot     row B   | mem GB/s: ref    avx2  ratio | cache GB/s: ref  avx2  ratio | ns/row: ref  avx2\n");
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (fast->vec_dot[types[i]] != ref->vec_dot[types[i]] && wanted(types[i], argc, argv))
			bench_dot(types[i], ref, fast);

	printf("prefill %d tokens, weights in cache | ns per row-token: one-row  multi-row  ratio\n", N_TOK);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (floe_vec_dot_rows_avx2(types[i]) && wanted(types[i], argc, argv))
			bench_prefill(types[i], fast);

	float *x = floe_alloc_aligned(N_COLS * sizeof(float));
	void *dst = floe_alloc_aligned(N_COLS * 4);
	if (!x || !dst)
		return 1;
	for (int i = 0; i < N_COLS; i++)
		x[i] = next_float() * 3.0f;
	printf("act     | ns/row: ref    avx2  ratio\n");
	for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
		uint32_t at = acts[i];
		if (fast->quantize_act[at] == ref->quantize_act[at] || !wanted(at, argc, argv))
			continue;
		double r = time_quant(ref->quantize_act[at], x, dst);
		double f = time_quant(fast->quantize_act[at], x, dst);
		printf("%-7s | %9.0f %7.0f %5.1fx\n", floe_type_name(at), r * 1e9, f * 1e9, r / f);
	}
	floe_free_aligned(x);
	floe_free_aligned(dst);
	return sink == 12345.0f; /* keep the results live */
}
