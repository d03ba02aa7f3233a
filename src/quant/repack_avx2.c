/* repack_avx2: Q4_0 and Q4_K products over the x8 layouts (repack.h).
 *
 * Q4_0:
 * Per block of a group of 8 rows, four 32-byte loads hold the 8 rows' quants
 * (row r in 32-bit lane r).  For each activation row the block's 32 int8
 * values are taken four at a time, broadcast to all lanes, and multiplied
 * with the matching nibbles by maddubs; the eight int16 partial sums stay
 * exact (|sum| <= 8 * 2 * 15 * 127 = 30480 < 32767), one madd makes them the
 * rows' int32 block sums, and 8 * sum(y) (computed once per call and block)
 * takes off the nibbles' offset of 8.  Then lane r does row r's fma,
 * acc = fma(isum, d_w * d_a, acc): the integer sums and the float chain of
 * the file-layout kernels, so the same bits, with no horizontal sums.
 *
 * With AVX-VNNI, vpdpbusd does the four-byte dot products straight into
 * int32 lanes (no int16 stage, no madd): the same integer sums by another
 * road, so the caller may pick either path (both are tested). */
#include "quant/repack_avx2.h"

#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#include "quant/quant_blocks.h"
#include "quant/repack.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 8")

#define TOK 4 /* activation rows per pass over the weights */
#define MAXB (FLOE_REPACK_MAX_COLS / 32)
#define GBLOCK (FLOE_REPACK_ROWS * sizeof(struct block_q4_0)) /* bytes of one block of a group */
#define ABLOCK sizeof(struct block_q8_0)
/* Decode streams the weights once: prefetch 4 KiB ahead (as the file-layout
 * GEMVs do; the hardware prefetcher alone leaves it latency-bound). */
#define PF_AHEAD 4096

/* What depends only on the activations, per token and block: the scale,
 * and 8 * sum(y) for sum((q - 8) * y) = sum(q * y) - 8 * sum(y). */
struct act_blocks {
	float d[TOK][MAXB];
	int32_t s8[TOK][MAXB];
};

static inline uint32_t load_u32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline __m256i bcast4(const uint8_t *p)
{
	return _mm256_set1_epi32((int)load_u32(p));
}

/* acc + the four-byte dot products of unsigned u8 and signed s8 per int32
 * lane, exact (no int16 stage): AVX-VNNI's vpdpbusd, VEX-encoded.  Written
 * as an instruction so this file needs no -mavxvnni; called only where
 * floe_cpu_has_avx_vnni() said yes. */
static inline __m256i dpbusd(__m256i acc, __m256i u8, __m256i s8)
{
	__asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(u8), "x"(s8));
	return acc;
}

static inline int32_t hsum_epi32(__m256i v)
{
	__m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
	s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
	return _mm_cvtsi128_si32(s);
}

static void act_prepare(const uint8_t *act, size_t a_bytes, int nt, int64_t nb, struct act_blocks *ab)
{
	const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);

	for (int t = 0; t < nt; t++)
		for (int64_t b = 0; b < nb; b++) {
			const uint8_t *yb = act + (size_t)t * a_bytes + (size_t)b * ABLOCK;
			uint16_t h;
			memcpy(&h, yb, 2);
			ab->d[t][b] = _cvtsh_ss(h);
			__m256i y = _mm256_loadu_si256((const __m256i *)(yb + 2));
			ab->s8[t][b] = 8 * hsum_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(ones8, y), ones16));
		}
}

/* One group of 8 rows (g) against nt activation rows; out[t * out_stride +
 * r] for r = 0..7. */
ALWAYS_INLINE void q4_0x8_group(int nt, bool vnni, int64_t nb, const uint8_t *g, const uint8_t *act, size_t a_bytes,
				const struct act_blocks *ab, float *out, int64_t out_stride)
{
	const __m256i m4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
	__m256 acc[TOK];

	UNROLL for (int t = 0; t < TOK; t++) acc[t] = _mm256_setzero_ps();
	for (int64_t b = 0; b < nb; b++) {
		const uint8_t *blk = g + (size_t)b * GBLOCK;
		if (nt == 1) {
			_mm_prefetch((const char *)blk + PF_AHEAD, _MM_HINT_T0);
			_mm_prefetch((const char *)blk + PF_AHEAD + 64, _MM_HINT_T0);
		}
		const __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk));
		__m256i lo[4], hi[4];
		UNROLL for (int m = 0; m < 4; m++)
		{
			__m256i raw = _mm256_loadu_si256((const __m256i *)(blk + 16 + 32 * m));
			lo[m] = _mm256_and_si256(raw, m4);
			hi[m] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
		}
		UNROLL for (int t = 0; t < TOK; t++)
		{
			if (t >= nt)
				break;
			const uint8_t *y = act + (size_t)t * a_bytes + (size_t)b * ABLOCK + 2;
			__m256i isum;
			if (vnni) {
				/* int32 sums straight away; start from -8 * sum(y) */
				__m256i s = _mm256_set1_epi32(-ab->s8[t][b]);
				UNROLL for (int m = 0; m < 4; m++)
				{
					s = dpbusd(s, lo[m], bcast4(y + 4 * m));
					s = dpbusd(s, hi[m], bcast4(y + 16 + 4 * m));
				}
				isum = s;
			} else {
				__m256i s = _mm256_maddubs_epi16(lo[0], bcast4(y));
				s = _mm256_add_epi16(s, _mm256_maddubs_epi16(hi[0], bcast4(y + 16)));
				UNROLL for (int m = 1; m < 4; m++)
				{
					s = _mm256_add_epi16(s, _mm256_maddubs_epi16(lo[m], bcast4(y + 4 * m)));
					s = _mm256_add_epi16(s, _mm256_maddubs_epi16(hi[m], bcast4(y + 16 + 4 * m)));
				}
				isum = _mm256_sub_epi32(_mm256_madd_epi16(s, ones), _mm256_set1_epi32(ab->s8[t][b]));
			}
			acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dx, _mm256_set1_ps(ab->d[t][b])),
						 acc[t]);
		}
	}
	UNROLL for (int t = 0; t < TOK; t++)
	{
		if (t >= nt)
			break;
		_mm256_storeu_ps(out + t * out_stride, acc[t]);
	}
}

/* One case of a switch on the token count: nt and vnni become constants,
 * so each instance is compiled with its loops unrolled and one integer path. */
#define GROUP_CASE(fn, n, ...)                      \
	case n:                                     \
		if (vnni)                           \
			fn(n, true, __VA_ARGS__);   \
		else                                \
			fn(n, false, __VA_ARGS__);  \
		break

void floe_matmul_q4_0x8_avx2(int64_t n_cols, const void *w, int64_t lo, int64_t hi, const void *act,
			     size_t a_bytes, int64_t n_tok, float *out, int64_t out_stride, bool vnni)
{
	const int64_t nb = n_cols / 32;
	const size_t gbytes = (size_t)nb * GBLOCK;
	struct act_blocks ab;

	for (int64_t t0 = 0; t0 < n_tok; t0 += TOK) {
		const int nt = n_tok - t0 < TOK ? (int)(n_tok - t0) : TOK;
		const uint8_t *a = (const uint8_t *)act + (size_t)t0 * a_bytes;
		act_prepare(a, a_bytes, nt, nb, &ab);
		for (int64_t r = lo; r < hi; r += FLOE_REPACK_ROWS) {
			const uint8_t *g = (const uint8_t *)w + (size_t)(r / FLOE_REPACK_ROWS) * gbytes;
			float *o = out + t0 * out_stride + r;
			switch (nt) {
				GROUP_CASE(q4_0x8_group, 1, nb, g, a, a_bytes, &ab, o, out_stride);
				GROUP_CASE(q4_0x8_group, 2, nb, g, a, a_bytes, &ab, o, out_stride);
				GROUP_CASE(q4_0x8_group, 3, nb, g, a, a_bytes, &ab, o, out_stride);
				GROUP_CASE(q4_0x8_group, 4, nb, g, a, a_bytes, &ab, o, out_stride);
			}
		}
	}
}

/* ---------------------------------------------------------------------
 * Q4_K over q4_Kx8.  Per 64-element piece j of a super-block the 8 rows'
 * nibble sums against each sub-block's activations are built as for Q4_0
 * (eight pieces of four elements per 32-element sub-block, int16 partial
 * sums <= 30480), one madd per sub-block applies the rows' 6-bit scales,
 * and the rows' mins meet the activations' 32-element sums by one madd per
 * pair of sub-blocks (VNNI: int32 sums times the int32 scales).  The float
 * work follows q4_K_core in quant_avx2.c
 * exactly: in the GEMV order one fma per super-block for the scaled sums
 * (acc) and one for the mins (acc_m), in the GEMM order (llama.cpp's
 * repacked GEMM, dense matmuls' first n_gemm tokens) one of each per
 * 64-element piece; the result is acc - acc_m. */

#define MAXSB (FLOE_REPACK_MAX_COLS / 256)
#define KBLOCK (FLOE_REPACK_ROWS * sizeof(struct block_q4_K)) /* 1152 */
#define KSCALES 32                                            /* after d[8], dmin[8] */
#define KQUANTS 128

/* Per token and super-block: the activation scale, and the 32-element sums
 * of sub-blocks 2k and 2k+1 as two int16 in dword k. */
struct act_k {
	float d[TOK][MAXSB];
	int32_t ypair[TOK][MAXSB][4];
};

static void act_prepare_k(const uint8_t *act, size_t a_bytes, int nt, int64_t nsb, struct act_k *ak)
{
	for (int t = 0; t < nt; t++)
		for (int64_t i = 0; i < nsb; i++) {
			const struct block_q8_K *y =
				(const struct block_q8_K *)(act + (size_t)t * a_bytes + (size_t)i * sizeof(*y));
			ak->d[t][i] = y->d;
			__m256i b = _mm256_loadu_si256((const __m256i *)y->bsums);
			__m128i pairs = _mm_hadd_epi16(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
			_mm_storeu_si128((__m128i *)ak->ypair[t][i], pairs);
		}
}

/* The 8 rows' scale (sc) and min (mn) of sub-block s, one per 32-bit lane,
 * from the packed bytes: A, B, C hold bytes 0..3, 4..7, 8..11 of each row.
 * s < 4: scale = byte s & 63, min = byte 4+s & 63; s = 4+k: the low four
 * bits from byte 8+k (scale: low nibble, min: high nibble), the top two
 * from bits 6..7 of byte k (scale) or 4+k (min). */
ALWAYS_INLINE void k_scale_min(__m256i A, __m256i B, __m256i C, int s, __m256i *sc, __m256i *mn)
{
	const __m256i m6 = _mm256_set1_epi32(0x3f), l4 = _mm256_set1_epi32(0x0f), h2 = _mm256_set1_epi32(0x30);

	if (s < 4) {
		*sc = _mm256_and_si256(_mm256_srli_epi32(A, 8 * s), m6);
		*mn = _mm256_and_si256(_mm256_srli_epi32(B, 8 * s), m6);
		return;
	}
	const int k = s - 4;
	*sc = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(A, 8 * k + 2), h2),
			      _mm256_and_si256(_mm256_srli_epi32(C, 8 * k), l4));
	*mn = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(B, 8 * k + 2), h2),
			      _mm256_and_si256(_mm256_srli_epi32(C, 8 * k + 4), l4));
}

ALWAYS_INLINE void q4_Kx8_group(int nt, bool vnni, bool gemm, int64_t nsb, const uint8_t *g, const uint8_t *act,
				size_t a_bytes, const struct act_k *ak, float *out, int64_t out_stride)
{
	const __m256i m4 = _mm256_set1_epi8(0x0f);
	__m256 acc[TOK], accm[TOK];

	UNROLL for (int t = 0; t < TOK; t++) acc[t] = accm[t] = _mm256_setzero_ps();
	for (int64_t i = 0; i < nsb; i++) {
		const uint8_t *blk = g + (size_t)i * KBLOCK;
		if (nt == 1)
			for (size_t k = 0; k < KBLOCK; k += 64)
				_mm_prefetch((const char *)blk + PF_AHEAD + k, _MM_HINT_T0);
		const __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk));
		const __m256 dm = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 16)));
		const __m256i A = _mm256_loadu_si256((const __m256i *)(blk + KSCALES));
		const __m256i B = _mm256_loadu_si256((const __m256i *)(blk + KSCALES + 32));
		const __m256i C = _mm256_loadu_si256((const __m256i *)(blk + KSCALES + 64));
		__m256i sc16[8], min16[4];
		UNROLL for (int k = 0; k < 4; k++)
		{
			__m256i sa, ma, sb, mb;
			k_scale_min(A, B, C, 2 * k, &sa, &ma);
			k_scale_min(A, B, C, 2 * k + 1, &sb, &mb);
			/* scales in both int16 halves (madd against int16 pair sums),
			 * a pair of mins in the two halves (madd against a pair of
			 * sub-block sums) */
			sc16[2 * k] = vnni ? sa : _mm256_or_si256(sa, _mm256_slli_epi32(sa, 16));
			sc16[2 * k + 1] = vnni ? sb : _mm256_or_si256(sb, _mm256_slli_epi32(sb, 16));
			min16[k] = _mm256_or_si256(ma, _mm256_slli_epi32(mb, 16));
		}
		__m256i isum[TOK];
		UNROLL for (int t = 0; t < TOK; t++) isum[t] = _mm256_setzero_si256();
		UNROLL for (int j = 0; j < 4; j++)
		{
			__m256i slo[TOK], shi[TOK];
			UNROLL for (int t = 0; t < TOK; t++) slo[t] = shi[t] = _mm256_setzero_si256();
			UNROLL for (int p = 0; p < 8; p++)
			{
				__m256i raw = _mm256_loadu_si256((const __m256i *)(blk + KQUANTS + 32 * (8 * j + p)));
				__m256i lo = _mm256_and_si256(raw, m4);
				__m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
				UNROLL for (int t = 0; t < TOK; t++)
				{
					if (t >= nt)
						break;
					const uint8_t *y = act + (size_t)t * a_bytes + (size_t)i * sizeof(struct block_q8_K) +
							   offsetof(struct block_q8_K, qs) + 64 * j + 4 * p;
					if (vnni) {
						slo[t] = dpbusd(slo[t], lo, bcast4(y));
						shi[t] = dpbusd(shi[t], hi, bcast4(y + 32));
					} else {
						slo[t] = _mm256_add_epi16(slo[t], _mm256_maddubs_epi16(lo, bcast4(y)));
						shi[t] = _mm256_add_epi16(shi[t], _mm256_maddubs_epi16(hi, bcast4(y + 32)));
					}
				}
			}
			UNROLL for (int t = 0; t < TOK; t++)
			{
				if (t >= nt)
					break;
				/* VNNI: int32 sums times the int32 scales */
				__m256i sj = vnni ? _mm256_add_epi32(_mm256_mullo_epi32(slo[t], sc16[2 * j]),
								     _mm256_mullo_epi32(shi[t], sc16[2 * j + 1]))
						  : _mm256_add_epi32(_mm256_madd_epi16(slo[t], sc16[2 * j]),
								     _mm256_madd_epi16(shi[t], sc16[2 * j + 1]));
				if (!gemm) {
					isum[t] = _mm256_add_epi32(isum[t], sj);
					continue;
				}
				const __m256 yd = _mm256_set1_ps(ak->d[t][i]);
				__m256i mn = _mm256_madd_epi16(min16[j], _mm256_set1_epi32(ak->ypair[t][i][j]));
				acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sj), _mm256_mul_ps(dx, yd), acc[t]);
				accm[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mn), _mm256_mul_ps(dm, yd), accm[t]);
			}
		}
		if (gemm)
			continue;
		UNROLL for (int t = 0; t < TOK; t++)
		{
			if (t >= nt)
				break;
			__m256i imin = _mm256_madd_epi16(min16[0], _mm256_set1_epi32(ak->ypair[t][i][0]));
			UNROLL for (int k = 1; k < 4; k++)
				imin = _mm256_add_epi32(imin, _mm256_madd_epi16(min16[k], _mm256_set1_epi32(ak->ypair[t][i][k])));
			const __m256 yd = _mm256_set1_ps(ak->d[t][i]);
			acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_mul_ps(dx, yd), acc[t]);
			accm[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(imin), _mm256_mul_ps(dm, yd), accm[t]);
		}
	}
	UNROLL for (int t = 0; t < TOK; t++)
	{
		if (t >= nt)
			break;
		_mm256_storeu_ps(out + t * out_stride, _mm256_sub_ps(acc[t], accm[t]));
	}
}

/* Tokens [t_lo, t_hi) in one order, TOK at a time over the rows [lo, hi). */
static void q4_Kx8_tokens(bool gemm, bool vnni, int64_t nsb, const uint8_t *w, int64_t lo, int64_t hi, const uint8_t *act,
			  size_t a_bytes, int64_t t_lo, int64_t t_hi, float *out, int64_t out_stride)
{
	const size_t gbytes = (size_t)nsb * KBLOCK;
	struct act_k ak;

	for (int64_t t0 = t_lo; t0 < t_hi; t0 += TOK) {
		const int nt = t_hi - t0 < TOK ? (int)(t_hi - t0) : TOK;
		const uint8_t *a = act + (size_t)t0 * a_bytes;
		act_prepare_k(a, a_bytes, nt, nsb, &ak);
		for (int64_t r = lo; r < hi; r += FLOE_REPACK_ROWS) {
			const uint8_t *g = w + (size_t)(r / FLOE_REPACK_ROWS) * gbytes;
			float *o = out + t0 * out_stride + r;
			if (gemm) {
				switch (nt) {
					GROUP_CASE(q4_Kx8_group, 1, true, nsb, g, a, a_bytes, &ak, o, out_stride);
					GROUP_CASE(q4_Kx8_group, 2, true, nsb, g, a, a_bytes, &ak, o, out_stride);
					GROUP_CASE(q4_Kx8_group, 3, true, nsb, g, a, a_bytes, &ak, o, out_stride);
					GROUP_CASE(q4_Kx8_group, 4, true, nsb, g, a, a_bytes, &ak, o, out_stride);
				}
			} else {
				switch (nt) {
					GROUP_CASE(q4_Kx8_group, 1, false, nsb, g, a, a_bytes, &ak, o, out_stride);
					GROUP_CASE(q4_Kx8_group, 2, false, nsb, g, a, a_bytes, &ak, o, out_stride);
					GROUP_CASE(q4_Kx8_group, 3, false, nsb, g, a, a_bytes, &ak, o, out_stride);
					GROUP_CASE(q4_Kx8_group, 4, false, nsb, g, a, a_bytes, &ak, o, out_stride);
				}
			}
		}
	}
}

void floe_matmul_q4_Kx8_avx2(int64_t n_cols, const void *w, int64_t lo, int64_t hi, const void *act,
			     size_t a_bytes, int64_t n_tok, int64_t n_gemm, float *out, int64_t out_stride, bool vnni)
{
	const int64_t nsb = n_cols / 256;

	q4_Kx8_tokens(true, vnni, nsb, w, lo, hi, act, a_bytes, 0, n_gemm, out, out_stride);
	q4_Kx8_tokens(false, vnni, nsb, w, lo, hi, act, a_bytes, n_gemm, n_tok, out, out_stride);
}
