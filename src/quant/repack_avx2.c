/* repack_avx2: Q4_0 products over the q4_0x8 layout (repack.h).
 *
 * Per block of a group of 8 rows, four 32-byte loads hold the 8 rows' quants
 * (row r in 32-bit lane r).  For each activation row the block's 32 int8
 * values are taken four at a time, broadcast to all lanes, and multiplied
 * with the matching nibbles by maddubs; the eight int16 partial sums stay
 * exact (|sum| <= 8 * 2 * 15 * 127 = 30480 < 32767), one madd makes them the
 * rows' int32 block sums, and 8 * sum(y) (computed once per call and block)
 * takes off the nibbles' offset of 8.  Then lane r does row r's fma,
 * acc = fma(isum, d_w * d_a, acc): the integer sums and the float chain of
 * the file-layout kernels, so the same bits, with no horizontal sums. */
#include "quant/repack_avx2.h"

#include <immintrin.h>
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
ALWAYS_INLINE void q4_0x8_group(int nt, int64_t nb, const uint8_t *g, const uint8_t *act, size_t a_bytes,
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
			__m256i s = _mm256_maddubs_epi16(lo[0], bcast4(y));
			s = _mm256_add_epi16(s, _mm256_maddubs_epi16(hi[0], bcast4(y + 16)));
			UNROLL for (int m = 1; m < 4; m++)
			{
				s = _mm256_add_epi16(s, _mm256_maddubs_epi16(lo[m], bcast4(y + 4 * m)));
				s = _mm256_add_epi16(s, _mm256_maddubs_epi16(hi[m], bcast4(y + 16 + 4 * m)));
			}
			__m256i isum = _mm256_sub_epi32(_mm256_madd_epi16(s, ones), _mm256_set1_epi32(ab->s8[t][b]));
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

void floe_matmul_q4_0x8_avx2(int64_t n_cols, const void *w, int64_t lo, int64_t hi, const void *act,
			     size_t a_bytes, int64_t n_tok, float *out, int64_t out_stride)
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
			case 1:
				q4_0x8_group(1, nb, g, a, a_bytes, &ab, o, out_stride);
				break;
			case 2:
				q4_0x8_group(2, nb, g, a, a_bytes, &ab, o, out_stride);
				break;
			case 3:
				q4_0x8_group(3, nb, g, a, a_bytes, &ab, o, out_stride);
				break;
			default:
				q4_0x8_group(4, nb, g, a, a_bytes, &ab, o, out_stride);
				break;
			}
		}
	}
}
