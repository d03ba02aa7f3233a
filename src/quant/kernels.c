/* kernels: run-time kernel selection and the row-sliced matrix product.
 *
 * floe is built for baseline x86-64; only quant_avx2.c is compiled with
 * -mavx2 -mfma -mf16c.  This file decides once, from CPUID and XGETBV,
 * whether those kernels may run, and hands out either the reference table or
 * an AVX2 table (the reference table with the AVX2 entries laid over it, so
 * types without an AVX2 kernel still work).  floe_matmul is the one loop
 * every projection in the forward pass goes through. */
#include <pthread.h>
#include <string.h>

#include "base/status.h"
#include "base/threadpool.h"
#include "quant/quant.h"
#include "quant/quant_avx2.h"
#include "quant/quant_ref.h"
#include "quant/repack.h"
#include "quant/repack_avx2.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* XCR0 via xgetbv, written as an instruction so this file needs no -mxsave. */
static uint64_t read_xcr0(void)
{
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (uint64_t)hi << 32 | lo;
}

bool floe_cpu_has_avx2_fma(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return false;
	const unsigned need1 = bit_FMA | bit_F16C | bit_AVX | bit_OSXSAVE;
	if ((c & need1) != need1)
		return false;
	/* The OS must save the SSE (bit 1) and AVX (bit 2) register state. */
	if ((read_xcr0() & 6) != 6)
		return false;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return false;
	return (b & bit_AVX2) != 0;
}

bool floe_cpu_has_avx_vnni(void)
{
	unsigned a, b, c, d;

	/* CPUID.(EAX=7, ECX=1):EAX bit 4; the YMM state is checked with AVX2 */
	return floe_cpu_has_avx2_fma() && __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 4)) != 0;
}
#else
bool floe_cpu_has_avx2_fma(void)
{
	return false;
}

bool floe_cpu_has_avx_vnni(void)
{
	return false;
}
#endif

/* The AVX2 table is filled once; pthread_once makes the first concurrent
 * callers wait for it, and after that it is read-only. */
static struct floe_kernels avx2_table;
static bool avx2_ok, avx2_vnni;
static pthread_once_t avx2_once = PTHREAD_ONCE_INIT;

static void avx2_init(void)
{
	avx2_ok = floe_cpu_has_avx2_fma();
	if (!avx2_ok)
		return;
	avx2_vnni = floe_cpu_has_avx_vnni();
	memcpy(&avx2_table, &floe_kernels_ref, sizeof(avx2_table));
	floe_kernels_avx2_fill(&avx2_table);
}

const struct floe_kernels *floe_kernels_get(bool force_ref)
{
	if (force_ref)
		return &floe_kernels_ref;
	pthread_once(&avx2_once, avx2_init);
	return avx2_ok ? &avx2_table : &floe_kernels_ref;
}

/* Rows per tile when several tokens share the weights: small enough that a
 * tile of weight rows stays in L1/L2 while every token's activation row
 * streams past it, so each weight byte comes from memory once. */
#define MATMUL_TILE_BYTES (16 * 1024)

/* Several tokens with a multi-row kernel: each weight row is unpacked once
 * per group of FLOE_ROWS_MAX tokens. */
static void matmul_rows(floe_vec_dot_rows_fn rows, floe_vec_dot_tile_fn tile_fn, const uint8_t *wb,
			size_t w_bytes, long lo, long hi, long tile, int64_t n_cols, const uint8_t *ab, size_t a_bytes,
			int64_t n_tok, float *out, int64_t out_stride)
{
	float tmp[FLOE_ROWS_MAX];

	for (long r0 = lo; r0 < hi; r0 += tile) {
		long r1 = r0 + tile < hi ? r0 + tile : hi;
		for (int64_t t0 = 0; t0 < n_tok; t0 += FLOE_ROWS_MAX) {
			int nt = n_tok - t0 < FLOE_ROWS_MAX ? (int)(n_tok - t0) : FLOE_ROWS_MAX;
			const uint8_t *a = ab + (size_t)t0 * a_bytes;
			if (tile_fn) {
				tile_fn(n_cols, wb + (size_t)r0 * w_bytes, w_bytes, r1 - r0, a, a_bytes, nt,
					out + t0 * out_stride + r0, out_stride);
				continue;
			}
			for (long r = r0; r < r1; r++) {
				rows(n_cols, wb + (size_t)r * w_bytes, a, a_bytes, nt, tmp);
				for (int t = 0; t < nt; t++)
					out[(t0 + t) * out_stride + r] = tmp[t];
			}
		}
	}
}

/* The AVX2-only kernels a product may use (NULL: none for this type and
 * token count), picked in floe_matmul_range. */
struct fast_kernels {
	floe_vec_dot_rows_fn rows; /* several tokens, one row at a time */
	floe_vec_dot_tile_fn tile; /* several tokens over a tile of rows */
	floe_gemv_fn gemv;         /* one token, several rows at a time */
};

static void matmul_with(const struct floe_kernels *k, uint32_t type, const struct fast_kernels *fast,
			const void *w, int64_t n_cols, const void *act, int64_t n_tok, float *out,
			int64_t out_stride, long lo, long hi)
{
	const struct floe_type_info *ti = floe_type_info(type);
	FLOE_ASSERT(ti && type < FLOE_TYPE_COUNT && k->vec_dot[type]);
	floe_vec_dot_fn dot = k->vec_dot[type];
	size_t w_bytes = (size_t)floe_type_row_bytes(type, (uint64_t)n_cols);
	size_t a_bytes = (size_t)floe_type_row_bytes(ti->act_type, (uint64_t)n_cols);
	FLOE_ASSERT(w_bytes && a_bytes);
	const uint8_t *wb = w, *ab = act;

	if (n_tok == 1 && !fast->rows) {
		if (fast->gemv) {
			for (long r = lo; r < hi; r += FLOE_GEMV_ROWS) {
				int nr = hi - r < FLOE_GEMV_ROWS ? (int)(hi - r) : FLOE_GEMV_ROWS;
				fast->gemv(n_cols, wb + (size_t)r * w_bytes, w_bytes, nr, ab, out + r);
			}
			return;
		}
		/* The other types' one-row dots: prefetch the row about 4 KiB
		 * ahead, as the GEMVs do (the hardware prefetcher alone leaves a
		 * decode matrix-vector product latency-bound). */
		long ahead = (long)(4096 / w_bytes) + 1;
		for (long r = lo; r < hi; r++) {
			if (r + ahead < hi)
				for (size_t off = 0; off < w_bytes; off += 64)
					__builtin_prefetch(wb + (size_t)(r + ahead) * w_bytes + off);
			out[r] = dot(n_cols, wb + (size_t)r * w_bytes, ab);
		}
		return;
	}
	long tile = (long)(MATMUL_TILE_BYTES / w_bytes);
	if (tile < 1)
		tile = 1;
	if (fast->rows) {
		matmul_rows(fast->rows, fast->tile, wb, w_bytes, lo, hi, tile, n_cols, ab, a_bytes, n_tok, out,
			    out_stride);
		return;
	}
	for (long r0 = lo; r0 < hi; r0 += tile) {
		long r1 = r0 + tile < hi ? r0 + tile : hi;
		for (int64_t t = 0; t < n_tok; t++) {
			const uint8_t *a = ab + (size_t)t * a_bytes;
			float *o = out + t * out_stride;
			for (long r = r0; r < r1; r++)
				o[r] = dot(n_cols, wb + (size_t)r * w_bytes, a);
		}
	}
}

void floe_matmul_range(const struct floe_kernels *k, uint32_t type, const void *w, int64_t n_cols,
		       const void *act, int64_t n_tok, int64_t n_gemm, float *out, int64_t out_stride, int64_t lo,
		       int64_t hi)
{
	/* Only the AVX2 table itself may use the AVX2 multi-row, tile and GEMV
	 * kernels (it is handed out only on CPUs that have AVX2); they give the
	 * same bits as its one-row kernels (the GEMM ones: llama.cpp's GEMM's). */
	const bool avx2 = k == &avx2_table;
	if (type & FLOE_TYPE_REPACKED) {
		const uint32_t base = floe_type_base(type);
		const size_t a_bytes =
			(size_t)floe_type_row_bytes(floe_type_info(base)->act_type, (uint64_t)n_cols);
		FLOE_ASSERT(avx2 && lo % FLOE_REPACK_ROWS == 0 && hi % FLOE_REPACK_ROWS == 0);
		if (base == FLOE_TYPE_Q4_K) {
			floe_matmul_q4_Kx8_avx2(n_cols, w, lo, hi, act, a_bytes, n_tok, n_gemm, out, out_stride,
						avx2_vnni);
			return;
		}
		/* Q4_0: llama.cpp's GEMM and GEMV orders agree */
		FLOE_ASSERT(base == FLOE_TYPE_Q4_0);
		floe_matmul_q4_0x8_avx2(n_cols, w, lo, hi, act, a_bytes, n_tok, out, out_stride, avx2_vnni);
		return;
	}
	floe_vec_dot_rows_fn gemm = n_gemm > 0 && avx2 ? floe_vec_dot_rows_gemm_avx2(type) : NULL;
	struct fast_kernels fast = {0};

	if (gemm) {
		const struct floe_type_info *ti = floe_type_info(type);
		const struct fast_kernels g = {.rows = gemm};
		FLOE_ASSERT(ti && n_gemm <= n_tok);
		matmul_with(k, type, &g, w, n_cols, act, n_gemm, out, out_stride, lo, hi);
		if (n_gemm == n_tok)
			return;
		size_t a_bytes = (size_t)floe_type_row_bytes(ti->act_type, (uint64_t)n_cols);
		act = (const uint8_t *)act + (size_t)n_gemm * a_bytes;
		out += n_gemm * out_stride;
		n_tok -= n_gemm;
	}
	if (avx2 && n_tok > 1) {
		fast.rows = floe_vec_dot_rows_avx2(type);
		fast.tile = fast.rows ? floe_vec_dot_tile_avx2(type) : NULL;
	} else if (avx2) {
		fast.gemv = floe_gemv_avx2(type);
	}
	matmul_with(k, type, &fast, w, n_cols, act, n_tok, out, out_stride, lo, hi);
}

void floe_matmul(const struct floe_kernels *k, uint32_t type, const void *w, int64_t n_rows,
		 int64_t n_cols, const void *act, int64_t n_tok, float *out, int64_t out_stride,
		 int ith, int nth)
{
	floe_matmul_gemm(k, type, w, n_rows, n_cols, act, n_tok, 0, out, out_stride, ith, nth);
}

void floe_matmul_gemm(const struct floe_kernels *k, uint32_t type, const void *w, int64_t n_rows,
		      int64_t n_cols, const void *act, int64_t n_tok, int64_t n_gemm, float *out,
		      int64_t out_stride, int ith, int nth)
{
	/* repacked rows go in whole groups */
	const long unit = type & FLOE_TYPE_REPACKED ? FLOE_REPACK_ROWS : 1;
	long lo, hi;

	floe_split((long)n_rows / unit, ith, nth, &lo, &hi);
	floe_matmul_range(k, type, w, n_cols, act, n_tok, n_gemm, out, out_stride, lo * unit, hi * unit);
}

int64_t floe_matmul_chunk_rows(uint32_t type, int64_t n_rows, int64_t n_cols, int64_t n_tok, int nth)
{
	/* About eight chunks per thread: enough for a thread that was
	 * descheduled (the machine is shared) or is slower to be made up by the
	 * others, few enough that taking a chunk (one atomic add) costs nothing.
	 * Whole tiles when several tokens share the weights, and a multiple of
	 * 16 rows so row-wise epilogues (SwiGLU's 8-lane split) line up. */
	int64_t want = n_rows / ((int64_t)nth * 8);
	int64_t unit = 16;

	if (n_tok > 1) {
		uint64_t wb = floe_type_row_bytes(floe_type_base(type), (uint64_t)n_cols);
		int64_t tile = wb ? (int64_t)(MATMUL_TILE_BYTES / wb) : 1;
		if (tile > unit)
			unit = (tile + 15) / 16 * 16;
	}
	if (want < unit)
		want = unit;
	return (want + unit - 1) / unit * unit;
}
