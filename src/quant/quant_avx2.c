/* quant_avx2: AVX2 + FMA + F16C activation converters and dot products.
 *
 * Built with -mavx2 -mfma -mf16c (and only this file), so nothing here may run
 * before floe_kernels_get() has checked the CPU.  Block layouts are ggml's
 * (quant_blocks.h); the comments at each kernel give the element order.
 *
 * Rounding rules that must match ggml bit for bit live in the activation
 * converters: Q8_0/Q8_1 multiply by the f32 inverse 127/amax and round half
 * to even; Q8_K uses iscale = -127/max with max the first largest |x| and
 * keeps d = 1/iscale as f32; f16 and bf16 round to nearest even.  The dot
 * products do all per-block work in exact integer arithmetic (partial sums in
 * eight int32 lanes) and differ from the reference only in how the f32
 * products of those exact sums with the block scales are added up.
 *
 * Integer dot idiom: _mm256_maddubs_epi16 multiplies unsigned bytes by signed
 * bytes and adds neighbours into int16 with saturation.  Weights are kept
 * unsigned (nibble values, 2/3/5/6-bit values before their offset) whenever
 * the type allows, and the offset is taken off afterwards, through the Q8_K
 * block sums or a second maddubs against the offset; no product pair can
 * then exceed 2 * 63 * 128 < 32767.  Signed weights (Q8_0, IQ4_NL, MXFP4) go
 * through dot_i8. */
#include "quant/quant_avx2.h"
#include "quant/quant_blocks.h"

#include <immintrin.h>
#include <string.h>

/* ---------------------------------------------------------------------
 * Helpers */

#define RNE (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define UNROLL _Pragma("GCC unroll 8")
#define ALWAYS_INLINE static inline __attribute__((always_inline))

static inline float h2f(uint16_t h)
{
	return _cvtsh_ss(h);
}

static inline uint16_t f2h(float f)
{
	return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

static inline float hsum_ps(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

/* Lane t = the horizontal int32 sum of v[t] (exact: integer adds). */
static inline __m128i hsum4_epi32(__m256i v0, __m256i v1, __m256i v2, __m256i v3)
{
	__m256i c = _mm256_hadd_epi32(_mm256_hadd_epi32(v0, v1), _mm256_hadd_epi32(v2, v3));
	return _mm_add_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
}

static inline int32_t hsum_epi32(__m256i v)
{
	__m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
	s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
	return _mm_cvtsi128_si32(s);
}

/* Signed bytes x signed bytes, summed in groups of four into int32 lanes.
 * Moving x's sign onto y lets maddubs take |x| as unsigned; exact as long as
 * y has no -128 (activation quants are in [-127, 127]). */
static inline __m256i dot_i8(__m256i x, __m256i y)
{
	__m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
	return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* Unsigned bytes (< 128) x signed bytes, summed in groups of four. */
static inline __m256i dot_u8(__m256i x, __m256i y)
{
	return _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), _mm256_set1_epi16(1));
}

/* 16 packed nibbles -> 32 bytes: low nibbles first (elements 0..15), then
 * the high nibbles (elements 16..31), the order of the 32-element blocks. */
static inline __m256i nibbles32(const uint8_t *p)
{
	/* the same 16 bytes in both halves, the upper half shifted by 4 */
	__m256i b = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)p));
	b = _mm256_srlv_epi64(b, _mm256_setr_epi64x(0, 0, 4, 4));
	return _mm256_and_si256(b, _mm256_set1_epi8(0x0f));
}

/* 32 bits -> 32 bytes, 0xff where the bit is set. */
static inline __m256i bits32(uint32_t bits)
{
	const __m256i shuf = _mm256_setr_epi64x(0, 0x0101010101010101LL, 0x0202020202020202LL,
						0x0303030303030303LL);
	const __m256i sel = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
	__m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), shuf);
	return _mm256_cmpeq_epi8(_mm256_and_si256(v, sel), sel);
}

static inline uint32_t load_u32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* Four vectors of eight int32 -> 32 int8 (saturating), in order. */
static inline __m256i pack_i32x32_to_i8(__m256i a, __m256i b, __m256i c, __m256i d)
{
	__m256i ab = _mm256_packs_epi32(a, b); /* a0-3 b0-3 | a4-7 b4-7 */
	__m256i cd = _mm256_packs_epi32(c, d);
	__m256i v = _mm256_packs_epi16(ab, cd); /* a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 ... */
	return _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* ---------------------------------------------------------------------
 * Activation converters */

void floe_quantize_act_f16_avx2(const float *src, void *dst, int64_t n)
{
	uint16_t *y = dst;
	int64_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
		_mm_storeu_si128((__m128i *)(y + i), h);
	}
	for (; i < n; i++)
		y[i] = f2h(src[i]);
}

/* ggml's fp32 -> bf16: NaN keeps its top bits and is made quiet (| 0x40);
 * everything else rounds to nearest even by adding 0x7fff + lsb. */
static inline __m256i bf16x8(__m256 x)
{
	__m256i u = _mm256_castps_si256(x);
	__m256i top = _mm256_srli_epi32(u, 16);
	__m256i lsb = _mm256_and_si256(top, _mm256_set1_epi32(1));
	__m256i rne = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
	__m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
					 _mm256_set1_epi32(0x7f800000));
	__m256i qnan = _mm256_or_si256(top, _mm256_set1_epi32(64));
	return _mm256_blendv_epi8(rne, qnan, nan);
}

void floe_quantize_act_bf16_avx2(const float *src, void *dst, int64_t n)
{
	uint16_t *y = dst;
	int64_t i = 0;

	for (; i + 16 <= n; i += 16) {
		__m256i a = bf16x8(_mm256_loadu_ps(src + i));
		__m256i b = bf16x8(_mm256_loadu_ps(src + i + 8));
		__m256i v = _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), _MM_SHUFFLE(3, 1, 2, 0));
		_mm256_storeu_si256((__m256i *)(y + i), v);
	}
	for (; i < n; i++) {
		uint32_t u;
		memcpy(&u, src + i, 4);
		if ((u & 0x7fffffff) > 0x7f800000)
			y[i] = (uint16_t)((u >> 16) | 64);
		else
			y[i] = (uint16_t)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
	}
}

/* One 32-element Q8_0/Q8_1 block: d = amax/127 stored as f16, q =
 * round_half_even(x * (127/amax)) with the inverse in f32, as ggml's AVX2
 * quantizer does.  Returns sum(q) for Q8_1. */
static inline int32_t q8_block(const float *x, int8_t *qs, float *d_out)
{
	const __m256 sign = _mm256_set1_ps(-0.0f);
	__m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
	__m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
	__m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
				 _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
	__m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
	m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
	m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
	float amax = _mm_cvtss_f32(m4);
	float id = amax != 0.0f ? 127.0f / amax : 0.0f;
	__m256 mul = _mm256_set1_ps(id);
	__m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v0, mul), RNE));
	__m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v1, mul), RNE));
	__m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v2, mul), RNE));
	__m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v3, mul), RNE));

	*d_out = amax / 127.0f;
	_mm256_storeu_si256((__m256i *)qs, pack_i32x32_to_i8(i0, i1, i2, i3));
	return hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3)));
}

void floe_quantize_act_q8_0_avx2(const float *src, void *dst, int64_t n)
{
	struct block_q8_0 *y = dst;

	for (int64_t i = 0; i < n / 32; i++) {
		float d;
		q8_block(src + 32 * i, y[i].qs, &d);
		y[i].d = f2h(d);
	}
}

/* Q8_1: as Q8_0, plus s = f16(d * sum(q)) with the unrounded f32 d. */
void floe_quantize_act_q8_1_avx2(const float *src, void *dst, int64_t n)
{
	struct block_q8_1 *y = dst;

	for (int64_t i = 0; i < n / 32; i++) {
		float d;
		int32_t sum = q8_block(src + 32 * i, y[i].qs, &d);
		y[i].d = f2h(d);
		y[i].s = f2h(d * (float)sum);
	}
}

/* Q8_K (256 elements): max = the first x with the largest |x|, iscale =
 * -127/max, q = min(127, round_half_even(iscale * x)), d = 1/iscale. */
static void q8_k_block(const float *x, struct block_q8_K *y)
{
	const __m256 sign = _mm256_set1_ps(-0.0f);
	__m256 m = _mm256_setzero_ps();
	float amax, max = 0.0f;
	int j;

	for (j = 0; j < 256; j += 8)
		m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)));
	__m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
	m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
	m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
	amax = _mm_cvtss_f32(m4);
	if (amax == 0.0f) {
		memset(y, 0, sizeof(*y));
		return;
	}
	__m256 va = _mm256_set1_ps(amax);
	for (j = 0; j < 256; j += 8) {
		__m256 v = _mm256_loadu_ps(x + j);
		int mask = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, v), va, _CMP_EQ_OQ));
		if (mask) {
			max = x[j + __builtin_ctz((unsigned)mask)];
			break;
		}
	}

	float iscale = -127.0f / max;
	__m256 mul = _mm256_set1_ps(iscale);
	const __m256i lim = _mm256_set1_epi32(127);
	for (j = 0; j < 256; j += 32) {
		__m256i q[4];
		for (int k = 0; k < 4; k++) {
			__m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + j + 8 * k), mul);
			q[k] = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_round_ps(v, RNE)), lim);
		}
		_mm256_storeu_si256((__m256i *)(y->qs + j), pack_i32x32_to_i8(q[0], q[1], q[2], q[3]));
		y->bsums[j / 16] = (int16_t)hsum_epi32(_mm256_add_epi32(q[0], q[1]));
		y->bsums[j / 16 + 1] = (int16_t)hsum_epi32(_mm256_add_epi32(q[2], q[3]));
	}
	y->d = 1.0f / iscale;
}

void floe_quantize_act_q8_K_avx2(const float *src, void *dst, int64_t n)
{
	struct block_q8_K *y = dst;

	for (int64_t i = 0; i < n / 256; i++)
		q8_k_block(src + 256 * i, &y[i]);
}

/* ---------------------------------------------------------------------
 * Float dot products: four independent FMA chains per activation row hide
 * the FMA latency.  Like the block types below, one template serves one or
 * two activation rows (each weight vector loaded and converted once); the
 * multi-row entry point takes rows in pairs, since four rows of four
 * accumulators would not fit in the sixteen registers.  Every step,
 * including the scalar tail, is an explicit FMA so one-row and multi-row
 * results are the same bits whatever the compiler's contraction setting. */

enum float_kind { FK_F32, FK_F16, FK_BF16 };

ALWAYS_INLINE __m256 fk_load8(int kind, const void *p, int64_t i)
{
	if (kind == FK_F32)
		return _mm256_loadu_ps((const float *)p + i);
	__m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)p + i));
	if (kind == FK_F16)
		return _mm256_cvtph_ps(h);
	return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

ALWAYS_INLINE __m128 fk_load1(int kind, const void *p, int64_t i)
{
	uint16_t h;
	uint32_t u;
	float f;

	if (kind == FK_F32)
		return _mm_set_ss(((const float *)p)[i]);
	memcpy(&h, (const uint16_t *)p + i, 2);
	if (kind == FK_F16)
		return _mm_set_ss(h2f(h));
	u = (uint32_t)h << 16;
	memcpy(&f, &u, 4);
	return _mm_set_ss(f);
}

#define FK_MAX_NT 2

ALWAYS_INLINE void float_dot_n(int kind, int64_t n, const void *w, const uint8_t *act, size_t stride, int nt,
			       float *out)
{
	__m256 a[4][FK_MAX_NT];
	int64_t i = 0;

	UNROLL for (int t = 0; t < nt; t++) a[0][t] = a[1][t] = a[2][t] = a[3][t] = _mm256_setzero_ps();
	for (; i + 32 <= n; i += 32) {
		UNROLL for (int k = 0; k < 4; k++)
		{
			__m256 wv = fk_load8(kind, w, i + 8 * k);
			UNROLL for (int t = 0; t < nt; t++)
				a[k][t] = _mm256_fmadd_ps(wv, fk_load8(kind, act + (size_t)t * stride, i + 8 * k), a[k][t]);
		}
	}
	for (; i + 8 <= n; i += 8) {
		__m256 wv = fk_load8(kind, w, i);
		UNROLL for (int t = 0; t < nt; t++)
			a[0][t] = _mm256_fmadd_ps(wv, fk_load8(kind, act + (size_t)t * stride, i), a[0][t]);
	}
	UNROLL for (int t = 0; t < nt; t++)
	{
		__m128 s = _mm_set_ss(hsum_ps(_mm256_add_ps(_mm256_add_ps(a[0][t], a[1][t]), _mm256_add_ps(a[2][t], a[3][t]))));
		for (int64_t j = i; j < n; j++)
			s = _mm_fmadd_ss(fk_load1(kind, w, j), fk_load1(kind, act + (size_t)t * stride, j), s);
		out[t] = _mm_cvtss_f32(s);
	}
}

#define FLOAT_FNS(name, kind)                                                                                \
	float floe_vec_dot_##name##_avx2(int64_t n, const void *w, const void *act)                           \
	{                                                                                                    \
		float r;                                                                                     \
		float_dot_n(kind, n, w, act, 0, 1, &r);                                                      \
		return r;                                                                                    \
	}                                                                                                    \
	static void name##_rows(int64_t n, const void *w, const void *act, size_t stride, int nt, float *out) \
	{                                                                                                    \
		const uint8_t *a = act;                                                                      \
		for (int t = 0; t + 1 < nt; t += 2)                                                          \
			float_dot_n(kind, n, w, a + (size_t)t * stride, stride, 2, out + t);                 \
		if (nt & 1)                                                                                  \
			float_dot_n(kind, n, w, a + (size_t)(nt - 1) * stride, stride, 1, out + nt - 1);     \
	}

FLOAT_FNS(f32, FK_F32)
FLOAT_FNS(f16, FK_F16)
FLOAT_FNS(bf16, FK_BF16)

/* ---------------------------------------------------------------------
 * 32-element block types with Q8_0/Q8_1 activations.
 *
 * Each block gives an exact int32 sum (in eight lanes) scaled by d_w * d_a.
 * One template serves all of them: b32_quants() unpacks a weight block to
 * 32 bytes in element order, b32_dot() multiplies them with the activation
 * quants, and the block scales are converted four blocks at a time (one
 * vcvtph2ps for four weight scales, one for four activation scales) and
 * spread to the lanes by vpermps.  Even blocks feed one accumulator and odd
 * blocks another, to overlap the FMA latency.
 *
 * The template takes up to MAX_NT activation rows at once (prompt
 * processing): the weights are unpacked once per block and each row's
 * arithmetic is exactly the one-row kernel's, so batched and one-at-a-time
 * results are the same bits.  Always inlined with constant kind and nt, its
 * switches and loops fold away. */

#define MAX_NT FLOE_ROWS_MAX

/* How far ahead (bytes) the decode GEMVs prefetch their weight rows: the
 * hardware prefetcher alone left a decode token latency-bound (measured:
 * 4 KiB ahead made the four-row GEMV 1.3-1.45x faster on memory-resident
 * weights, 2 threads; no prefetch made it no faster than one row). */
#define GEMV_PF 4096

/* Block i of activation row t. */
#define ACT_BLOCK(type, act, stride, t, i) ((const type *)((act) + (size_t)(t) * (stride)) + (i))

enum b32_kind { B32_Q8_0, B32_Q4_0, B32_Q5_0, B32_IQ4_NL, B32_MXFP4, B32_Q4_1, B32_Q5_1 };

static const int8_t iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
					1,    13,   25,  38,  53,  69,  89,  113};
/* e2m1 values doubled (the E8M0 scale below is halved to match). */
static const int8_t mxfp4_values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

ALWAYS_INLINE size_t b32_size(int kind)
{
	switch (kind) {
	case B32_Q8_0:
		return sizeof(struct block_q8_0);
	case B32_Q4_0:
		return sizeof(struct block_q4_0);
	case B32_Q5_0:
		return sizeof(struct block_q5_0);
	case B32_IQ4_NL:
		return sizeof(struct block_iq4_nl);
	case B32_MXFP4:
		return sizeof(struct block_mxfp4);
	case B32_Q4_1:
		return sizeof(struct block_q4_1);
	default:
		return sizeof(struct block_q5_1);
	}
}

/* Q4_1 and Q5_1 have a min and pair with Q8_1 (d, s = d * sum, quants). */
ALWAYS_INLINE bool b32_has_min(int kind)
{
	return kind == B32_Q4_1 || kind == B32_Q5_1;
}

ALWAYS_INLINE size_t b32_act_size(int kind)
{
	return b32_has_min(kind) ? sizeof(struct block_q8_1) : sizeof(struct block_q8_0);
}

/* E8M0 exponent -> 2^(e-128) (half the scale: the table holds doubled
 * values), as ggml's GGML_E8M0_TO_FP32_HALF. */
static inline float e8m0_half(uint8_t e)
{
	uint32_t bits = e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

/* Four f16 values `stride` bytes apart -> four floats. */
static inline __m128 f16x4_strided(const uint8_t *p, size_t stride)
{
	uint16_t h[4];
	for (int k = 0; k < 4; k++)
		memcpy(&h[k], p + (size_t)k * stride, 2);
	return _mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)h));
}

static inline float f16_at(const uint8_t *p)
{
	uint16_t h;
	memcpy(&h, p, 2);
	return h2f(h);
}

/* Weight scale of one block / of four consecutive blocks (d is the first
 * field of every one of these blocks). */
ALWAYS_INLINE float b32_wscale(int kind, const uint8_t *b)
{
	return kind == B32_MXFP4 ? e8m0_half(b[0]) : f16_at(b);
}

ALWAYS_INLINE __m128 b32_wscale4(int kind, const uint8_t *b)
{
	if (kind == B32_MXFP4)
		return _mm_setr_ps(e8m0_half(b[0]), e8m0_half(b[17]), e8m0_half(b[34]), e8m0_half(b[51]));
	return f16x4_strided(b, b32_size(kind));
}

/* Scales of the blocks at b, b + stride, b + 2 stride, b + 3 stride. */
ALWAYS_INLINE __m128 b32_wscale4_strided(int kind, const uint8_t *b, size_t stride)
{
	if (kind == B32_MXFP4)
		return _mm_setr_ps(e8m0_half(b[0]), e8m0_half(b[stride]), e8m0_half(b[2 * stride]),
				   e8m0_half(b[3 * stride]));
	uint16_t h0, h1, h2, h3;
	memcpy(&h0, b, 2);
	memcpy(&h1, b + stride, 2);
	memcpy(&h2, b + 2 * stride, 2);
	memcpy(&h3, b + 3 * stride, 2);
	/* built in registers: through a stack array the compiler stores four
	 * halves and reloads them, a store-forwarding stall per block */
	__m128i v = _mm_cvtsi32_si128((int)((uint32_t)h0 | (uint32_t)h1 << 16));
	v = _mm_insert_epi32(v, (int)((uint32_t)h2 | (uint32_t)h3 << 16), 1);
	return _mm_cvtph_ps(v);
}

/* The 32 quants of one weight block, in element order: the low nibbles of
 * qs[] are elements 0..15, the high nibbles 16..31, the fifth bits (Q5) come
 * from the 32-bit qh.  Q4_0, Q5_0, Q4_1, Q5_1 stay unsigned (before their
 * offset); Q8_0, IQ4_NL and MXFP4 are signed. */
ALWAYS_INLINE __m256i b32_quants(int kind, const uint8_t *b)
{
	const __m256i b16 = _mm256_set1_epi8(16);

	switch (kind) {
	case B32_Q8_0:
		return _mm256_loadu_si256((const __m256i *)((const struct block_q8_0 *)b)->qs);
	case B32_Q4_0:
		return nibbles32(((const struct block_q4_0 *)b)->qs);
	case B32_Q4_1:
		return nibbles32(((const struct block_q4_1 *)b)->qs);
	case B32_Q5_0: {
		const struct block_q5_0 *x = (const struct block_q5_0 *)b;
		return _mm256_or_si256(nibbles32(x->qs), _mm256_and_si256(bits32(load_u32(x->qh)), b16));
	}
	case B32_Q5_1: {
		const struct block_q5_1 *x = (const struct block_q5_1 *)b;
		return _mm256_or_si256(nibbles32(x->qs), _mm256_and_si256(bits32(load_u32(x->qh)), b16));
	}
	case B32_IQ4_NL: {
		__m256i t = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)iq4nl_values));
		return _mm256_shuffle_epi8(t, nibbles32(((const struct block_iq4_nl *)b)->qs));
	}
	default: {
		__m256i t = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)mxfp4_values));
		return _mm256_shuffle_epi8(t, nibbles32(((const struct block_mxfp4 *)b)->qs));
	}
	}
}

/* sum(q * y) in groups of four (int32 lanes).  Unsigned quants with an
 * offset subtract offset * y through a second maddubs against the offset. */
ALWAYS_INLINE __m256i b32_dot(int kind, __m256i q, __m256i y)
{
	const __m256i ones = _mm256_set1_epi16(1);

	switch (kind) {
	case B32_Q4_0:
		return _mm256_madd_epi16(
			_mm256_sub_epi16(_mm256_maddubs_epi16(q, y), _mm256_maddubs_epi16(_mm256_set1_epi8(8), y)), ones);
	case B32_Q5_0:
		return _mm256_madd_epi16(
			_mm256_sub_epi16(_mm256_maddubs_epi16(q, y), _mm256_maddubs_epi16(_mm256_set1_epi8(16), y)),
			ones);
	case B32_Q4_1:
	case B32_Q5_1:
		return dot_u8(q, y);
	default:
		return dot_i8(q, y);
	}
}

/* ggml's AVX2 dots keep ONE 8-lane accumulator for Q8_0, Q4_0, Q5_0, Q4_1
 * and Q5_1 (as does llamafile's tinyBLAS_Q0_AVX, which multiplies Q8_0
 * prompt chunks), but two (even and odd blocks, added before the horizontal
 * sum) for IQ4_NL and MXFP4 (used only if they were not repacked, see
 * b32_blockwise: today they always take the blockwise order).  The order is part of the result: a second
 * accumulator moves a row by an ulp, enough to flip a later Q8 activation
 * rounding (measured on the q8_0 fixture: 0.26 logit jump). */
ALWAYS_INLINE bool b32_two_acc(int kind)
{
	return kind == B32_IQ4_NL || kind == B32_MXFP4;
}

/* On AVX2 llama.cpp repacks Q4_0, IQ4_NL and MXFP4 weights (rows a multiple
 * of 8, the default "extra buffer types") and multiplies them with its
 * 8x8 interleaved GEMV/GEMM kernels, which order the sum differently from
 * its plain dots: each block's integer dot is completed first, then
 * acc = fma((float)isum, d_w * d_a, acc) block after block, one scalar
 * accumulator per output.  Following that order is what keeps later Q8
 * activation roundings from flipping (measured on the q4_0 fixture). */
ALWAYS_INLINE bool b32_blockwise(int kind)
{
	return kind == B32_Q4_0 || kind == B32_IQ4_NL || kind == B32_MXFP4;
}

ALWAYS_INLINE void b32_dot_blockwise_n(int kind, int64_t n, const void *w, const uint8_t *act, size_t stride,
				       int nt, float *out)
{
	const uint8_t *x = w;
	const size_t xs = b32_size(kind), ys = b32_act_size(kind);
	float acc[MAX_NT];

	int64_t i = 0;

	UNROLL for (int t = 0; t < nt; t++) acc[t] = 0.0f;
	/* Same chain of fmas per token, with the integer block sums of four
	 * blocks (one token) or four tokens (one block) from one hadd tree and
	 * the scales multiplied four at a time: the same bits, fewer shuffles. */
	if (nt == 1) {
		for (; i + 4 <= n / 32; i += 4) {
			const uint8_t *xb = x + (size_t)i * xs, *yb = act + (size_t)i * ys;
			__m256i p[4];
			UNROLL for (int k = 0; k < 4; k++)
				p[k] = b32_dot(kind, b32_quants(kind, xb + (size_t)k * xs),
					       _mm256_loadu_si256((const __m256i *)(yb + (size_t)k * ys + 2)));
			float sv[4], dv[4];
			_mm_storeu_ps(sv, _mm_cvtepi32_ps(hsum4_epi32(p[0], p[1], p[2], p[3])));
			_mm_storeu_ps(dv, _mm_mul_ps(b32_wscale4(kind, xb), f16x4_strided(yb, ys)));
			UNROLL for (int k = 0; k < 4; k++) acc[0] = __builtin_fmaf(sv[k], dv[k], acc[0]);
		}
	} else {
		__m128 av = _mm_setzero_ps();
		for (; i < n / 32; i++) {
			const uint8_t *xb = x + (size_t)i * xs;
			__m256i q = b32_quants(kind, xb);
			__m128 dx = _mm_set1_ps(b32_wscale(kind, xb));
			__m256i p[4];
			float yd[4] = {0.0f, 0.0f, 0.0f, 0.0f};
			UNROLL for (int t = 0; t < 4; t++)
			{
				p[t] = _mm256_setzero_si256();
				if (t < nt) {
					const uint8_t *yb = act + (size_t)t * stride + (size_t)i * ys;
					p[t] = b32_dot(kind, q, _mm256_loadu_si256((const __m256i *)(yb + 2)));
					yd[t] = f16_at(yb);
				}
			}
			av = _mm_fmadd_ps(_mm_cvtepi32_ps(hsum4_epi32(p[0], p[1], p[2], p[3])),
					  _mm_mul_ps(dx, _mm_loadu_ps(yd)), av);
		}
		float r[4];
		_mm_storeu_ps(r, av);
		UNROLL for (int t = 0; t < nt; t++) acc[t] = r[t];
	}
	for (; i < n / 32; i++) {
		const uint8_t *xb = x + (size_t)i * xs;
		__m256i q = b32_quants(kind, xb);
		float dx = b32_wscale(kind, xb);
		UNROLL for (int t = 0; t < nt; t++)
		{
			const uint8_t *yb = act + (size_t)t * stride + (size_t)i * ys;
			int32_t isum = hsum_epi32(b32_dot(kind, q, _mm256_loadu_si256((const __m256i *)(yb + 2))));
			acc[t] = __builtin_fmaf((float)isum, dx * f16_at(yb), acc[t]);
		}
	}
	UNROLL for (int t = 0; t < nt; t++) out[t] = acc[t];
}

/* b32_dot_blockwise_n's GEMV for four weight rows ws bytes apart: per
 * block the four rows' integer sums come from one hadd tree and their fma
 * chains run in the lanes of one register (lane r: row r's chain, the same
 * products dx * dy), so each row gets the one-row kernel's bits. */
ALWAYS_INLINE void b32_gemv4_blockwise(int kind, int64_t n, const uint8_t *w, size_t ws, const uint8_t *act,
				       float *out)
{
	const size_t xs = b32_size(kind), ys = b32_act_size(kind);
	__m128 acc = _mm_setzero_ps();

	for (int64_t i = 0; i < n / 32; i++) {
		const uint8_t *xb = w + (size_t)i * xs, *yb = act + (size_t)i * ys;
		const __m256i y = _mm256_loadu_si256((const __m256i *)(yb + 2));
		__m256i p[4];
		/* The four rows advance together, xs bytes each per block, so a
		 * linear distance ahead would land in the middle of this group:
		 * prefetch the next group of rows (ws * 4 on, where the next
		 * call of a chunk continues) at 4 * xs per block, two lines to
		 * cover every line of it by two thirds of the way. */
		const char *nx = (const char *)w + 4 * ws + (size_t)i * 4 * xs;
		_mm_prefetch(nx, _MM_HINT_T0);
		_mm_prefetch(nx + 64, _MM_HINT_T0);
		UNROLL for (int r = 0; r < 4; r++)
			p[r] = b32_dot(kind, b32_quants(kind, xb + (size_t)r * ws), y);
		__m128 dx = b32_wscale4_strided(kind, xb, ws);
		acc = _mm_fmadd_ps(_mm_cvtepi32_ps(hsum4_epi32(p[0], p[1], p[2], p[3])),
				   _mm_mul_ps(dx, _mm_set1_ps(f16_at(yb))), acc);
	}
	_mm_storeu_ps(out, acc);
}

ALWAYS_INLINE void b32_dot_n(int kind, int64_t n, const void *w, const uint8_t *act, size_t stride, int nt,
			     float *out)
{
	const uint8_t *x = w;
	const size_t xs = b32_size(kind), ys = b32_act_size(kind);
	const size_t qoff = b32_has_min(kind) ? 4 : 2; /* quants after d (and s) */
	int64_t nb = n / 32, i = 0;
	__m256 a0[MAX_NT], a1[MAX_NT];
	float sm[MAX_NT]; /* sum of m_w * s_a in block order, for the types with a min */

	if (b32_blockwise(kind)) {
		b32_dot_blockwise_n(kind, n, w, act, stride, nt, out);
		return;
	}

	UNROLL for (int t = 0; t < nt; t++)
	{
		a0[t] = a1[t] = _mm256_setzero_ps();
		sm[t] = 0.0f;
	}
	for (; i + 4 <= nb; i += 4) {
		const uint8_t *xb = x + (size_t)i * xs;
		__m128 dx = b32_wscale4(kind, xb);
		__m256 d4[MAX_NT];
		UNROLL for (int t = 0; t < nt; t++)
		{
			const uint8_t *yb = act + (size_t)t * stride + (size_t)i * ys;
			d4[t] = _mm256_castps128_ps256(_mm_mul_ps(dx, f16x4_strided(yb, ys)));
		}
		UNROLL for (int k = 0; k < 4; k++)
		{
			__m256i q = b32_quants(kind, xb + (size_t)k * xs);
			UNROLL for (int t = 0; t < nt; t++)
			{
				const uint8_t *yb = act + (size_t)t * stride + (size_t)(i + k) * ys;
				__m256i p = b32_dot(kind, q, _mm256_loadu_si256((const __m256i *)(yb + qoff)));
				__m256 d = _mm256_permutevar8x32_ps(d4[t], _mm256_set1_epi32(k));
				if (b32_two_acc(kind) && (k & 1))
					a1[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), a1[t]);
				else
					a0[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), a0[t]);
				if (b32_has_min(kind))
					sm[t] = __builtin_fmaf(f16_at(xb + (size_t)k * xs + 2), f16_at(yb + 2), sm[t]);
			}
		}
	}
	for (; i < nb; i++) {
		const uint8_t *xb = x + (size_t)i * xs;
		__m256i q = b32_quants(kind, xb);
		float dx = b32_wscale(kind, xb);
		UNROLL for (int t = 0; t < nt; t++)
		{
			const uint8_t *yb = act + (size_t)t * stride + (size_t)i * ys;
			__m256i p = b32_dot(kind, q, _mm256_loadu_si256((const __m256i *)(yb + qoff)));
			__m256 d = _mm256_set1_ps(dx * f16_at(yb));
			if (b32_two_acc(kind) && (i & 1))
				a1[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), a1[t]);
			else
				a0[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), a0[t]);
			if (b32_has_min(kind))
				sm[t] = __builtin_fmaf(f16_at(xb + 2), f16_at(yb + 2), sm[t]);
		}
	}
	UNROLL for (int t = 0; t < nt; t++)
	{
		out[t] = hsum_ps(b32_two_acc(kind) ? _mm256_add_ps(a0[t], a1[t]) : a0[t]);
		if (b32_has_min(kind))
			out[t] += sm[t];
	}
}

#define B32_FNS(name, kind)                                                                                  \
	ALWAYS_INLINE void name##_dot_n(int64_t n, const void *w, const uint8_t *act, size_t stride, int nt, \
					float *out)                                                          \
	{                                                                                                    \
		b32_dot_n(kind, n, w, act, stride, nt, out);                                                 \
	}                                                                                                    \
	float floe_vec_dot_##name##_avx2(int64_t n, const void *w, const void *act)                           \
	{                                                                                                    \
		float r;                                                                                     \
		b32_dot_n(kind, n, w, act, 0, 1, &r);                                                        \
		return r;                                                                                    \
	}

B32_FNS(q8_0, B32_Q8_0)
B32_FNS(q4_0, B32_Q4_0)
B32_FNS(q5_0, B32_Q5_0)
B32_FNS(iq4_nl, B32_IQ4_NL)
B32_FNS(mxfp4, B32_MXFP4)
B32_FNS(q4_1, B32_Q4_1)
B32_FNS(q5_1, B32_Q5_1)

/* Table-lookup nibbles for IQ4_XS (a K-type, below). */
static inline __m256i lookup32(const uint8_t *qs, __m256i table)
{
	return _mm256_shuffle_epi8(table, nibbles32(qs));
}

/* IQ4_XS: eight 32-element sub-blocks, each with a 6-bit scale (low 4 bits
 * in scales_l, high 2 in scales_h) minus 32, nibbles as IQ4_NL. */
float floe_vec_dot_iq4_xs_avx2(int64_t n, const void *w, const void *act)
{
	const struct block_iq4_xs *x = w;
	const struct block_q8_K *y = act;
	__m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)iq4nl_values));
	__m256 acc = _mm256_setzero_ps();

	for (int64_t i = 0; i < n / 256; i++) {
		__m256i sumi = _mm256_setzero_si256();
		for (int ib = 0; ib < 8; ib++) {
			int ls = ((x[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 15) | ((x[i].scales_h >> 2 * ib) & 3) << 4;
			__m256i p = dot_i8(lookup32(x[i].qs + 16 * ib, table),
					   _mm256_loadu_si256((const __m256i *)(y[i].qs + 32 * ib)));
			sumi = _mm256_add_epi32(sumi, _mm256_mullo_epi32(p, _mm256_set1_epi32(ls - 32)));
		}
		acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[i].d) * y[i].d), _mm256_cvtepi32_ps(sumi), acc);
	}
	return hsum_ps(acc);
}

/* ---------------------------------------------------------------------
 * K-quants with Q8_K activations (256-element super-blocks).
 *
 * Per super-block: sumi = sum over sub-blocks of scale * sum(q * y) in int32
 * lanes, then acc += d_w * d_a * sumi; terms from mins or offsets use the
 * activation block sums, acc_m += dmin_w * d_a * sum(min * bsum).
 *
 * Scales reach the lanes by pshufb from one register rather than by scalar
 * broadcasts.  Loops over sub-blocks have constant trip counts and are
 * unrolled so that masks and shift counts become immediates. */

/* pshufb mask broadcasting int16 element k of each 128-bit half. */
static inline __m256i mask_one(int k)
{
	return _mm256_set1_epi16((short)((2 * k + 1) << 8 | 2 * k));
}

/* pshufb mask for a 32-element run covered by two 16-element scales, from
 * a register holding int16 scales s0..s7 in both halves: the low 128 bits
 * (elements 0..15) get s[2k], the high 128 bits s[2k + 1]. */
static inline __m256i mask_pair(int k)
{
	int a = 4 * k, b = 4 * k + 2;
	return _mm256_set_m128i(_mm_set1_epi16((short)((b + 1) << 8 | b)), _mm_set1_epi16((short)((a + 1) << 8 | a)));
}

/* Eight int16 (128 bits) repeated in both halves. */
static inline __m256i both_halves(__m128i v)
{
	return _mm256_broadcastsi128_si256(v);
}

/* Move the bit at position `from` of every byte to position `to` (other bits
 * come along and must be masked off).  Shifts run on 16-bit lanes; for the
 * distances used here (|to - from| <= 5, the target bit ending in the same
 * byte) no bit crosses into the target position of the neighbouring byte. */
static inline __m256i move_bit(__m256i v, int from, int to)
{
	if (from < to)
		return _mm256_slli_epi16(v, to - from);
	if (from > to)
		return _mm256_srli_epi16(v, from - to);
	return v;
}

/* Sum of the pairs of 16-element block sums: eight int16, one per 32 elements. */
static inline __m128i bsums_pairs(const int16_t *bsums)
{
	__m256i b = _mm256_loadu_si256((const __m256i *)bsums);
	return _mm_hadd_epi16(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
}

/* Q2_K: element 128h + 32s + l (h < 2, s < 4, l < 32) is bits 2s..2s+1 of
 * qs[32h + l]; 16-element group g = 8h + 2s + (l >= 16) has scale
 * scales[g] & 15 and min scales[g] >> 4. */
/* Q2_K in ggml_vec_dot_q2_K_q8_K's order: one 8-lane accumulator that takes
 * the mins (times -d_a * dmin) first and then the scaled sums, per block.
 * Q2_K and Q3_K are not repacked on AVX2, so this is what llama.cpp runs. */
ALWAYS_INLINE void q2_K_dot_n(int64_t n, const void *w, const uint8_t *act, size_t stride, int nt, float *out)
{
	const struct block_q2_K *x = w;
	const __m256i m3 = _mm256_set1_epi8(3);
	const __m128i m4 = _mm_set1_epi8(15);
	__m256 acc[MAX_NT];

	UNROLL for (int t = 0; t < nt; t++) acc[t] = _mm256_setzero_ps();
	for (int64_t i = 0; i < n / 256; i++) {
		__m128i sc8 = _mm_loadu_si128((const __m128i *)x[i].scales);
		__m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc8, 4), m4));
		__m128i sc_lo = _mm_and_si128(sc8, m4);
		__m256i sumi[MAX_NT];

		UNROLL for (int t = 0; t < nt; t++) sumi[t] = _mm256_setzero_si256();
		UNROLL for (int h = 0; h < 2; h++)
		{
			__m256i bits = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * h));
			__m256i sc = both_halves(_mm_cvtepu8_epi16(h ? _mm_srli_si128(sc_lo, 8) : sc_lo));
			UNROLL for (int s = 0; s < 4; s++)
			{
				__m256i q = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * s), m3);
				__m256i scs = _mm256_shuffle_epi8(sc, mask_pair(s));
				UNROLL for (int t = 0; t < nt; t++)
				{
					const int8_t *q8 = ACT_BLOCK(struct block_q8_K, act, stride, t, i)->qs + 128 * h + 32 * s;
					__m256i p = _mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)q8));
					sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(p, scs));
				}
			}
		}
		float dx = h2f(x[i].d), dmx = h2f(x[i].dmin);
		UNROLL for (int t = 0; t < nt; t++)
		{
			const struct block_q8_K *y = ACT_BLOCK(struct block_q8_K, act, stride, t, i);
			__m256i pm = _mm256_madd_epi16(mins, _mm256_loadu_si256((const __m256i *)y->bsums));
			acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(-y->d * dmx), _mm256_cvtepi32_ps(pm), acc[t]);
			acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(y->d * dx), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
		}
	}
	UNROLL for (int t = 0; t < nt; t++) out[t] = hsum_ps(acc[t]);
}

/* Q3_K scales: 16 six-bit values; the low 4 bits of scale j are the low
 * (j < 8) or high (j >= 8) nibble of byte j % 8, the high 2 bits are bits
 * 2(j / 4)..+1 of byte 8 + j % 4; each is stored +32.  Returns 16 int8. */
static inline __m128i q3_k_scales(const uint8_t *b)
{
	uint32_t a0 = load_u32(b), a1 = load_u32(b + 4), a2 = load_u32(b + 8);
	const uint32_t m4 = 0x0f0f0f0f, m2 = 0x03030303;
	__m128i v = _mm_setr_epi32((int)((a0 & m4) | (a2 & m2) << 4), (int)((a1 & m4) | (a2 >> 2 & m2) << 4),
				   (int)((a0 >> 4 & m4) | (a2 >> 4 & m2) << 4),
				   (int)((a1 >> 4 & m4) | (a2 >> 6 & m2) << 4));
	return _mm_sub_epi8(v, _mm_set1_epi8(32));
}

/* Q3_K: like Q2_K, element 128h + 32s + l has low bits 2s..2s+1 of
 * qs[32h + l] and its high bit is bit 4h + s of hmask[l]; value =
 * low + 4 * high - 4.  The weights stay unsigned (low + 4 high, 0..7) and the
 * -4 is applied once as 4 * sum(scale[g] * bsums[g]). */
ALWAYS_INLINE void q3_K_dot_n(int64_t n, const void *w, const uint8_t *act, size_t stride, int nt, float *out)
{
	const struct block_q3_K *x = w;
	const __m256i m3 = _mm256_set1_epi8(3), b2 = _mm256_set1_epi8(4);
	__m256 acc[MAX_NT];

	UNROLL for (int t = 0; t < nt; t++) acc[t] = _mm256_setzero_ps();
	for (int64_t i = 0; i < n / 256; i++) {
		__m128i sc8 = q3_k_scales(x[i].scales);
		__m256i hm = _mm256_loadu_si256((const __m256i *)x[i].hmask);
		__m256i sumi[MAX_NT];

		UNROLL for (int t = 0; t < nt; t++) sumi[t] = _mm256_setzero_si256();
		UNROLL for (int h = 0; h < 2; h++)
		{
			__m256i bits = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * h));
			__m256i sc = both_halves(_mm_cvtepi8_epi16(h ? _mm_srli_si128(sc8, 8) : sc8));
			UNROLL for (int s = 0; s < 4; s++)
			{
				__m256i lo = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * s), m3);
				__m256i nh = _mm256_andnot_si256(move_bit(hm, 4 * h + s, 2), b2); /* 4 if no high bit */
				__m256i scs = _mm256_shuffle_epi8(sc, mask_pair(s));
				UNROLL for (int t = 0; t < nt; t++)
				{
					const int8_t *q8 = ACT_BLOCK(struct block_q8_K, act, stride, t, i)->qs + 128 * h + 32 * s;
					__m256i y8 = _mm256_loadu_si256((const __m256i *)q8);
					__m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(lo, y8), _mm256_maddubs_epi16(nh, y8));
					sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(p, scs));
				}
			}
		}
		float dx = h2f(x[i].d);
		UNROLL for (int t = 0; t < nt; t++)
		{
			const struct block_q8_K *y = ACT_BLOCK(struct block_q8_K, act, stride, t, i);
			acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(y->d * dx), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
		}
	}
	UNROLL for (int t = 0; t < nt; t++) out[t] = hsum_ps(acc[t]);
}

/* Q4_K/Q5_K scales: eight 6-bit scales and eight 6-bit mins in 12 bytes b.
 * j < 4: scale = b[j] & 63, min = b[j+4] & 63; j >= 4: scale = (b[j+4] & 15)
 * | (b[j-4] >> 6) << 4, min = (b[j+4] >> 4) | (b[j] >> 6) << 4.  Done four
 * bytes at a time; returns the scales in bytes 0..7 and the mins in 8..15. */
static inline __m128i k4_scales_mins(const uint8_t *b)
{
	uint32_t a0 = load_u32(b), a1 = load_u32(b + 4), a2 = load_u32(b + 8);
	const uint32_t m6 = 0x3f3f3f3f, m4 = 0x0f0f0f0f, m2 = 0x03030303;
	return _mm_setr_epi32((int)(a0 & m6), (int)((a2 & m4) | (a0 >> 6 & m2) << 4), (int)(a1 & m6),
			      (int)((a2 >> 4 & m4) | (a1 >> 6 & m2) << 4));
}

/* Q4_K quants of elements 64j .. 64j + 63 from the 32 bytes at q4: low
 * nibbles (sub-block 2j) in *lo, high nibbles (sub-block 2j + 1) in *hi. */
static inline void q4_K_nibbles(const uint8_t *q4, __m256i *lo, __m256i *hi)
{
	const __m256i m4 = _mm256_set1_epi8(15);
	__m256i bits = _mm256_loadu_si256((const __m256i *)q4);

	*lo = _mm256_and_si256(bits, m4);
	*hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
}

/* Q4_K/Q5_K: 64 elements of a super-block, unsigned quants lo (sub-block
 * 2j) and hi (2j + 1), against the 64 activations at q8, each sub-block
 * times its scale (scl, sch: the scale in every 16-bit lane): eight int32
 * partial sums. */
static inline __m256i k_dot64(__m256i lo, __m256i hi, __m256i scl, __m256i sch, const int8_t *q8)
{
	__m256i pl = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)q8));
	__m256i ph = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 32)));

	return _mm256_add_epi32(_mm256_madd_epi16(pl, scl), _mm256_madd_epi16(ph, sch));
}

/* Q4_K: element 64j + l (l < 32) is the low nibble of qs[32j + l], element
 * 64j + 32 + l the high nibble; sub-block k (32 elements) has scale sc[k]
 * and min mn[k]: value d * sc * q - dmin * mn.  For up to MAX_NT activation
 * rows at once, like q4_0_dot_n. */
ALWAYS_INLINE void q4_K_core(bool gemm, int64_t n, const void *w, const uint8_t *act, size_t stride, int nt,
			     float *out)
{
	const struct block_q4_K *x = w;
	float acc[MAX_NT], acc_m[MAX_NT];

	UNROLL for (int t = 0; t < nt; t++) acc[t] = acc_m[t] = 0.0f;
	for (int64_t i = 0; i < n / 256; i++) {
		__m128i sm = k4_scales_mins(x[i].scales);
		__m256i sc = both_halves(_mm_cvtepu8_epi16(sm));
		__m128i mins = _mm_cvtepu8_epi16(_mm_unpackhi_epi64(sm, sm));
		__m256i sumi[MAX_NT];
		const uint8_t *q4 = x[i].qs;
		const float dx = h2f(x[i].d), dmx = h2f(x[i].dmin);
		uint8_t mn8[16];
		_mm_storeu_si128((__m128i *)mn8, sm);
		const uint8_t *mn8p = mn8 + 8;

		UNROLL for (int t = 0; t < nt; t++) sumi[t] = _mm256_setzero_si256();
		UNROLL for (int j = 0; j < 4; j++)
		{
			__m256i lo, hi;
			q4_K_nibbles(q4 + 32 * j, &lo, &hi);
			__m256i scl = _mm256_shuffle_epi8(sc, mask_one(2 * j));
			__m256i sch = _mm256_shuffle_epi8(sc, mask_one(2 * j + 1));
			UNROLL for (int t = 0; t < nt; t++)
			{
				const struct block_q8_K *y = ACT_BLOCK(struct block_q8_K, act, stride, t, i);
				__m256i sj = k_dot64(lo, hi, scl, sch, y->qs + 64 * j);
				if (gemm) {
					int32_t mn = mn8p[2 * j] * (y->bsums[4 * j] + y->bsums[4 * j + 1]) +
						     mn8p[2 * j + 1] * (y->bsums[4 * j + 2] + y->bsums[4 * j + 3]);
					acc[t] = __builtin_fmaf((float)hsum_epi32(sj), dx * y->d, acc[t]);
					acc_m[t] = __builtin_fmaf((float)mn, dmx * y->d, acc_m[t]);
				} else {
					sumi[t] = _mm256_add_epi32(sumi[t], sj);
				}
			}
		}
		if (gemm)
			continue;
		UNROLL for (int t = 0; t < nt; t++)
		{
			const struct block_q8_K *y = ACT_BLOCK(struct block_q8_K, act, stride, t, i);
			__m128i pm = _mm_madd_epi16(mins, bsums_pairs(y->bsums));
			__m128i pm2 = _mm_add_epi32(pm, _mm_unpackhi_epi64(pm, pm));
			int32_t imin = _mm_cvtsi128_si32(_mm_add_epi32(pm2, _mm_shuffle_epi32(pm2, 1)));
			acc[t] = __builtin_fmaf((float)hsum_epi32(sumi[t]), dx * y->d, acc[t]);
			acc_m[t] = __builtin_fmaf((float)imin, dmx * y->d, acc_m[t]);
		}
	}
	UNROLL for (int t = 0; t < nt; t++) out[t] = acc[t] - acc_m[t];
}


/* q4_K_core for 2..4 activation rows with the per-token float work in the
 * lanes of one register: lane t runs exactly token t's scalar chain of
 * q4_K_core (the same integer sums converted to float, the same products
 * dx * d_t, the same fmas in the same order), so the bits are equal; the
 * horizontal sums (one per token and sub-block in the GEMM order) become
 * one hadd tree for all tokens.  Prompt processing spends its time here. */
ALWAYS_INLINE void q4_K_core_lanes(bool gemm, int64_t n, const void *w, const uint8_t *act, size_t stride, int nt,
				   float *out)
{
	const struct block_q4_K *x = w;
	__m128 acc = _mm_setzero_ps(), acc_m = _mm_setzero_ps();
	float r[4];

	for (int64_t i = 0; i < n / 256; i++) {
		__m128i sm = k4_scales_mins(x[i].scales);
		__m256i sc = both_halves(_mm_cvtepu8_epi16(sm));
		__m128i mins = _mm_cvtepu8_epi16(_mm_unpackhi_epi64(sm, sm));
		const uint8_t *q4 = x[i].qs;
		float yd[4] = {0.0f, 0.0f, 0.0f, 0.0f};
		__m128 pm[4]; /* token t: min products of sub-block pairs j = 0..3 */
		__m256i sumi[4];

		UNROLL for (int t = 0; t < 4; t++)
		{
			sumi[t] = _mm256_setzero_si256();
			pm[t] = _mm_setzero_ps();
			if (t < nt) {
				const struct block_q8_K *y = ACT_BLOCK(struct block_q8_K, act, stride, t, i);
				yd[t] = y->d;
				pm[t] = _mm_castsi128_ps(_mm_madd_epi16(mins, bsums_pairs(y->bsums)));
			}
		}
		_MM_TRANSPOSE4_PS(pm[0], pm[1], pm[2], pm[3]); /* now pm[j], lane t */
		const __m128 yv = _mm_loadu_ps(yd);
		const __m128 d = _mm_mul_ps(_mm_set1_ps(h2f(x[i].d)), yv);
		const __m128 dm = _mm_mul_ps(_mm_set1_ps(h2f(x[i].dmin)), yv);

		UNROLL for (int j = 0; j < 4; j++)
		{
			__m256i lo, hi;
			q4_K_nibbles(q4 + 32 * j, &lo, &hi);
			__m256i scl = _mm256_shuffle_epi8(sc, mask_one(2 * j));
			__m256i sch = _mm256_shuffle_epi8(sc, mask_one(2 * j + 1));
			__m256i sj[4];
			UNROLL for (int t = 0; t < 4; t++)
			{
				sj[t] = _mm256_setzero_si256();
				if (t < nt)
					sj[t] = k_dot64(lo, hi, scl, sch,
							ACT_BLOCK(struct block_q8_K, act, stride, t, i)->qs + 64 * j);
			}
			if (gemm) {
				__m128 sf = _mm_cvtepi32_ps(hsum4_epi32(sj[0], sj[1], sj[2], sj[3]));
				acc = _mm_fmadd_ps(sf, d, acc);
				acc_m = _mm_fmadd_ps(_mm_cvtepi32_ps(_mm_castps_si128(pm[j])), dm, acc_m);
			} else {
				UNROLL for (int t = 0; t < 4; t++) sumi[t] = _mm256_add_epi32(sumi[t], sj[t]);
			}
		}
		if (gemm)
			continue;
		__m128i imin = _mm_add_epi32(_mm_add_epi32(_mm_castps_si128(pm[0]), _mm_castps_si128(pm[1])),
					     _mm_add_epi32(_mm_castps_si128(pm[2]), _mm_castps_si128(pm[3])));
		acc = _mm_fmadd_ps(_mm_cvtepi32_ps(hsum4_epi32(sumi[0], sumi[1], sumi[2], sumi[3])), d, acc);
		acc_m = _mm_fmadd_ps(_mm_cvtepi32_ps(imin), dm, acc_m);
	}
	_mm_storeu_ps(r, _mm_sub_ps(acc, acc_m));
	UNROLL for (int t = 0; t < nt; t++) out[t] = r[t];
}

/* Q4_K decode for four weight rows: q4_K_core's GEMV with the rows' float
 * chains (one fma per super-block into acc and into acc_m, then acc - acc_m)
 * in the four lanes of a register.  The integer sums are exact in any
 * order, the products d * y.d are the same floats, so each lane equals
 * q4_K_core for its row; the horizontal sums, the activation's bsums pairs
 * and the f16 conversions are shared by the four rows.  The integer part
 * walks each row front to back (one sequential stream for the hardware
 * prefetcher, as in the one-row kernel) and parks its per-block sums for
 * the float part, GEMV_SB super-blocks at a time. */
#define GEMV_SB 16
ALWAYS_INLINE void q4_K_gemv4(int64_t n, const uint8_t *w, size_t ws, const void *act, float *out)
{
	const struct block_q8_K *y = act;
	__m128 acc = _mm_setzero_ps(), acc_m = _mm_setzero_ps();
	__m256i sumi[GEMV_SB][4];
	__m128i pm[GEMV_SB][4];
	uint16_t dh[GEMV_SB][4], mh[GEMV_SB][4]; /* the rows' f16 d and dmin per block */
	const int64_t nb = n / 256;
	for (int64_t i0 = 0; i0 < nb; i0 += GEMV_SB) {
		const int ns = nb - i0 < GEMV_SB ? (int)(nb - i0) : GEMV_SB;
		UNROLL for (int r = 0; r < 4; r++)
		{
			const struct block_q4_K *x = (const struct block_q4_K *)(w + (size_t)r * ws) + i0;
			for (int i = 0; i < ns; i++) {
				const struct block_q8_K *yi = y + i0 + i;
				_mm_prefetch((const char *)&x[i] + GEMV_PF, _MM_HINT_T0);
				_mm_prefetch((const char *)&x[i] + GEMV_PF + 64, _MM_HINT_T0);
				_mm_prefetch((const char *)&x[i] + GEMV_PF + 128, _MM_HINT_T0);
				dh[i][r] = x[i].d;
				mh[i][r] = x[i].dmin;
				__m128i sm = k4_scales_mins(x[i].scales);
				__m256i sc = both_halves(_mm_cvtepu8_epi16(sm));
				pm[i][r] = _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_unpackhi_epi64(sm, sm)),
							  bsums_pairs(yi->bsums));
				__m256i s = _mm256_setzero_si256();
				UNROLL for (int j = 0; j < 4; j++)
				{
					__m256i lo, hi;
					q4_K_nibbles(x[i].qs + 32 * j, &lo, &hi);
					s = _mm256_add_epi32(s, k_dot64(lo, hi, _mm256_shuffle_epi8(sc, mask_one(2 * j)),
									_mm256_shuffle_epi8(sc, mask_one(2 * j + 1)),
									yi->qs + 64 * j));
				}
				sumi[i][r] = s;
			}
		}
		for (int i = 0; i < ns; i++) {
			const __m128i isum = hsum4_epi32(sumi[i][0], sumi[i][1], sumi[i][2], sumi[i][3]);
			const __m128i imin = _mm_hadd_epi32(_mm_hadd_epi32(pm[i][0], pm[i][1]),
							    _mm_hadd_epi32(pm[i][2], pm[i][3]));
			const __m128 yd = _mm_set1_ps(y[i0 + i].d);
			const __m128 d = _mm_mul_ps(_mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)dh[i])), yd);
			const __m128 dm = _mm_mul_ps(_mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)mh[i])), yd);
			acc = _mm_fmadd_ps(_mm_cvtepi32_ps(isum), d, acc);
			acc_m = _mm_fmadd_ps(_mm_cvtepi32_ps(imin), dm, acc_m);
		}
	}
	_mm_storeu_ps(out, _mm_sub_ps(acc, acc_m));
}

static void q4_K_gemv(int64_t n, const void *w, size_t ws, int n_rows, const void *act, float *out)
{
	const uint8_t *wb = w;
	int r = 0;

	for (; r + 4 <= n_rows; r += 4)
		q4_K_gemv4(n, wb + (size_t)r * ws, ws, act, out + r);
	for (; r < n_rows; r++)
		q4_K_core(false, n, wb + (size_t)r * ws, act, 0, 1, out + r);
}

ALWAYS_INLINE void q4_K_dot_n(int64_t n, const void *w, const uint8_t *act, size_t stride, int nt, float *out)
{
	if (nt > 1)
		q4_K_core_lanes(false, n, w, act, stride, nt, out);
	else
		q4_K_core(false, n, w, act, stride, nt, out);
}

ALWAYS_INLINE void q4_K_gemm_dot_n(int64_t n, const void *w, const uint8_t *act, size_t stride, int nt,
				   float *out)
{
	if (nt > 1)
		q4_K_core_lanes(true, n, w, act, stride, nt, out);
	else
		q4_K_core(true, n, w, act, stride, nt, out);
}

/* Q5_K: as Q4_K with a fifth bit: bit 2j of qh[l] for element 64j + l and
 * bit 2j + 1 for element 64j + 32 + l. */
ALWAYS_INLINE void q5_K_dot_n(int64_t n, const void *w, const uint8_t *act, size_t stride, int nt, float *out)
{
	const struct block_q5_K *x = w;
	const __m256i m4 = _mm256_set1_epi8(15), b4 = _mm256_set1_epi8(16);
	__m256 acc[MAX_NT];
	float acc_m[MAX_NT];

	UNROLL for (int t = 0; t < nt; t++)
	{
		acc[t] = _mm256_setzero_ps();
		acc_m[t] = 0.0f;
	}
	for (int64_t i = 0; i < n / 256; i++) {
		__m128i sm = k4_scales_mins(x[i].scales);
		__m256i sc = both_halves(_mm_cvtepu8_epi16(sm));
		__m128i mins = _mm_cvtepu8_epi16(_mm_unpackhi_epi64(sm, sm));
		__m256i qh = _mm256_loadu_si256((const __m256i *)x[i].qh);
		__m256i sumi[MAX_NT];

		UNROLL for (int t = 0; t < nt; t++) sumi[t] = _mm256_setzero_si256();
		UNROLL for (int j = 0; j < 4; j++)
		{
			__m256i bits = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * j));
			__m256i lo = _mm256_or_si256(_mm256_and_si256(bits, m4),
						     _mm256_and_si256(move_bit(qh, 2 * j, 4), b4));
			__m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 4), m4),
						     _mm256_and_si256(move_bit(qh, 2 * j + 1, 4), b4));
			__m256i scl = _mm256_shuffle_epi8(sc, mask_one(2 * j));
			__m256i sch = _mm256_shuffle_epi8(sc, mask_one(2 * j + 1));
			UNROLL for (int t = 0; t < nt; t++)
			{
				sumi[t] = _mm256_add_epi32(
					sumi[t], k_dot64(lo, hi, scl, sch,
							 ACT_BLOCK(struct block_q8_K, act, stride, t, i)->qs + 64 * j));
			}
		}
		float dx = h2f(x[i].d), dmx = h2f(x[i].dmin);
		UNROLL for (int t = 0; t < nt; t++)
		{
			const struct block_q8_K *y = ACT_BLOCK(struct block_q8_K, act, stride, t, i);
			__m128i pm = _mm_madd_epi16(mins, bsums_pairs(y->bsums));
			acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(y->d * dx), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
			__m128i pm2 = _mm_add_epi32(pm, _mm_unpackhi_epi64(pm, pm));
			int32_t imin = _mm_cvtsi128_si32(_mm_add_epi32(pm2, _mm_shuffle_epi32(pm2, 1)));
			acc_m[t] = __builtin_fmaf(-y->d * dmx, (float)imin, acc_m[t]);
		}
	}
	UNROLL for (int t = 0; t < nt; t++) out[t] = hsum_ps(acc[t]) + acc_m[t];
}

/* Q6_K: in each 128-element half h (ql += 64h, qh += 32h), for l < 32:
 *   element      l: ql[l] & 15      | (qh[l] >> 0 & 3) << 4
 *   element 32 + l: ql[l + 32] & 15 | (qh[l] >> 2 & 3) << 4
 *   element 64 + l: ql[l] >> 4      | (qh[l] >> 4 & 3) << 4
 *   element 96 + l: ql[l + 32] >> 4 | (qh[l] >> 6 & 3) << 4
 * value = d * scales[e / 16] * (q - 32).  The -32 is applied once per block
 * as 32 * sum(scales[g] * bsums[g]).  For up to MAX_NT activation rows. */
ALWAYS_INLINE void q6_K_dot_n(int64_t n, const void *w, const uint8_t *act, size_t stride, int nt, float *out)
{
	const struct block_q6_K *x = w;
	const __m256i m4 = _mm256_set1_epi8(15), m3 = _mm256_set1_epi8(3 << 4);
	__m256 acc[MAX_NT];

	UNROLL for (int t = 0; t < nt; t++) acc[t] = _mm256_setzero_ps();
	for (int64_t i = 0; i < n / 256; i++) {
		__m128i sc8 = _mm_loadu_si128((const __m128i *)x[i].scales);
		__m256i sc16 = _mm256_cvtepi8_epi16(sc8);
		__m256i sumi[MAX_NT];

		UNROLL for (int t = 0; t < nt; t++) sumi[t] = _mm256_setzero_si256();
		UNROLL for (int h = 0; h < 2; h++)
		{
			const uint8_t *ql = x[i].ql + 64 * h;
			__m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
			__m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
			__m256i qh = _mm256_loadu_si256((const __m256i *)(x[i].qh + 32 * h));
			__m256i sc = both_halves(_mm_cvtepi8_epi16(h ? _mm_srli_si128(sc8, 8) : sc8));
			__m256i q[4];
			q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m3));
			q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m3));
			q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(qh, m3));
			q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
					       _mm256_and_si256(_mm256_srli_epi16(qh, 2), m3));
			UNROLL for (int k = 0; k < 4; k++)
			{
				__m256i s = _mm256_shuffle_epi8(sc, mask_pair(k));
				UNROLL for (int t = 0; t < nt; t++)
				{
					const int8_t *q8 = ACT_BLOCK(struct block_q8_K, act, stride, t, i)->qs + 128 * h + 32 * k;
					__m256i p = _mm256_maddubs_epi16(q[k], _mm256_loadu_si256((const __m256i *)q8));
					sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(p, s));
				}
			}
		}
		float dx = h2f(x[i].d);
		UNROLL for (int t = 0; t < nt; t++)
		{
			const struct block_q8_K *y = ACT_BLOCK(struct block_q8_K, act, stride, t, i);
			__m256i off = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)y->bsums));
			__m256i s = _mm256_sub_epi32(sumi[t], _mm256_slli_epi32(off, 5));
			acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(y->d * dx), _mm256_cvtepi32_ps(s), acc[t]);
		}
	}
	UNROLL for (int t = 0; t < nt; t++) out[t] = hsum_ps(acc[t]);
}


#define ONE_ROW_FN(name)                                                                             \
	float floe_vec_dot_##name##_avx2(int64_t n, const void *w, const void *act)                   \
	{                                                                                            \
		float r;                                                                             \
		name##_dot_n(n, w, act, 0, 1, &r);                                                   \
		return r;                                                                            \
	}

ONE_ROW_FN(q2_K)
ONE_ROW_FN(q3_K)
ONE_ROW_FN(q4_K)
ONE_ROW_FN(q5_K)
ONE_ROW_FN(q6_K)

/* ---------------------------------------------------------------------
 * Multi-row entry points: nt is made a constant for each case so the
 * always-inlined cores specialize. */

#define ROWS_FN(name)                                                                                        \
	static void name##_rows(int64_t n, const void *w, const void *act, size_t stride, int nt, float *out) \
	{                                                                                                    \
		switch (nt) {                                                                                \
		case 1:                                                                                      \
			name##_dot_n(n, w, act, stride, 1, out);                                             \
			break;                                                                               \
		case 2:                                                                                      \
			name##_dot_n(n, w, act, stride, 2, out);                                             \
			break;                                                                               \
		case 3:                                                                                      \
			name##_dot_n(n, w, act, stride, 3, out);                                             \
			break;                                                                               \
		default:                                                                                     \
			name##_dot_n(n, w, act, stride, 4, out);                                             \
			break;                                                                               \
		}                                                                                            \
	}

ROWS_FN(q8_0)
ROWS_FN(q4_0)
ROWS_FN(q4_K)
ROWS_FN(q4_K_gemm)
ROWS_FN(q6_K)
ROWS_FN(q2_K)
ROWS_FN(q3_K)
ROWS_FN(q5_K)
ROWS_FN(q5_0)
ROWS_FN(iq4_nl)
ROWS_FN(mxfp4)
ROWS_FN(q4_1)
ROWS_FN(q5_1)

floe_vec_dot_rows_fn floe_vec_dot_rows_avx2(uint32_t type)
{
	switch (type) {
	case FLOE_TYPE_F32:
		return f32_rows;
	case FLOE_TYPE_F16:
		return f16_rows;
	case FLOE_TYPE_BF16:
		return bf16_rows;
	case FLOE_TYPE_Q8_0:
		return q8_0_rows;
	case FLOE_TYPE_Q4_0:
		return q4_0_rows;
	case FLOE_TYPE_Q4_K:
		return q4_K_rows;
	case FLOE_TYPE_Q6_K:
		return q6_K_rows;
	case FLOE_TYPE_Q2_K:
		return q2_K_rows;
	case FLOE_TYPE_Q3_K:
		return q3_K_rows;
	case FLOE_TYPE_Q5_K:
		return q5_K_rows;
	case FLOE_TYPE_Q5_0:
		return q5_0_rows;
	case FLOE_TYPE_IQ4_NL:
		return iq4_nl_rows;
	case FLOE_TYPE_MXFP4:
		return mxfp4_rows;
	case FLOE_TYPE_Q4_1:
		return q4_1_rows;
	case FLOE_TYPE_Q5_1:
		return q5_1_rows;
	default:
		return NULL;
	}
}

/* Multi-row kernels in the order of llama.cpp's repacked GEMM, where it
 * differs from its GEMV (see q4_K_core); NULL where the two agree. */
floe_vec_dot_rows_fn floe_vec_dot_rows_gemm_avx2(uint32_t type)
{
	return type == FLOE_TYPE_Q4_K ? q4_K_gemm_rows : NULL;
}

/* Q4_0 prompt tile: n_rows weight rows (ws bytes apart) against nt <= 4
 * activation rows, out[t * out_stride + r].  Per row it is
 * b32_dot_blockwise_n's multi-token chain (each token's fma chain in a
 * lane, one fma per block with the block's integer sum and dx * dy), but
 * what depends only on the activations is done once for the whole tile:
 * the four tokens' scales, and 8 * sum(y) per block, so that
 * sum((q - 8) * y) = sum(q * y) - 8 * sum(y) (exact integers) needs one
 * maddubs per row, token and block instead of two and a subtract. */
#define Q4_0_TILE_MAXB 512
static void q4_0_tile(int64_t n, const void *w, size_t ws, long n_rows, const uint8_t *act, size_t stride,
		      int nt, float *out, int64_t out_stride)
{
	const int64_t nb = n / 32;
	const size_t xs = sizeof(struct block_q4_0), ys = sizeof(struct block_q8_0);
	const __m256i ones16 = _mm256_set1_epi16(1), ones8 = _mm256_set1_epi8(1);
	__m128 yd[Q4_0_TILE_MAXB];
	__m128i s8[Q4_0_TILE_MAXB];

	if (nb > Q4_0_TILE_MAXB) {
		for (long r = 0; r < n_rows; r++) {
			float tmp[4];
			q4_0_rows(n, (const uint8_t *)w + (size_t)r * ws, act, stride, nt, tmp);
			for (int t = 0; t < nt; t++)
				out[t * out_stride + r] = tmp[t];
		}
		return;
	}
	for (int64_t b = 0; b < nb; b++) {
		float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};
		__m256i sv[4];
		UNROLL for (int t = 0; t < 4; t++)
		{
			sv[t] = _mm256_setzero_si256();
			if (t < nt) {
				const uint8_t *yb = act + (size_t)t * stride + (size_t)b * ys;
				d[t] = f16_at(yb);
				sv[t] = _mm256_madd_epi16(
					_mm256_maddubs_epi16(ones8, _mm256_loadu_si256((const __m256i *)(yb + 2))), ones16);
			}
		}
		yd[b] = _mm_loadu_ps(d);
		s8[b] = _mm_slli_epi32(hsum4_epi32(sv[0], sv[1], sv[2], sv[3]), 3);
	}
	for (long r = 0; r < n_rows; r++) {
		const uint8_t *x = (const uint8_t *)w + (size_t)r * ws;
		__m128 acc = _mm_setzero_ps();
		for (int64_t b = 0; b < nb; b++) {
			const uint8_t *xb = x + (size_t)b * xs;
			const __m256i q = nibbles32(xb + 2);
			__m256i p[4];
			UNROLL for (int t = 0; t < 4; t++)
			{
				p[t] = _mm256_setzero_si256();
				if (t < nt) {
					const uint8_t *yb = act + (size_t)t * stride + (size_t)b * ys;
					p[t] = _mm256_madd_epi16(
						_mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)(yb + 2))), ones16);
				}
			}
			const __m128i isum = _mm_sub_epi32(hsum4_epi32(p[0], p[1], p[2], p[3]), s8[b]);
			acc = _mm_fmadd_ps(_mm_cvtepi32_ps(isum), _mm_mul_ps(_mm_set1_ps(f16_at(xb)), yd[b]), acc);
		}
		float o[4];
		_mm_storeu_ps(o, acc);
		for (int t = 0; t < nt; t++)
			out[t * out_stride + r] = o[t];
	}
}

floe_vec_dot_tile_fn floe_vec_dot_tile_avx2(uint32_t type)
{
	return type == FLOE_TYPE_Q4_0 ? q4_0_tile : NULL;
}

#define B32_GEMV_FN(name, kind)                                                                              \
	static void name##_gemv(int64_t n, const void *w, size_t ws, int n_rows, const void *act, float *out) \
	{                                                                                                    \
		const uint8_t *wb = w;                                                                       \
		int r = 0;                                                                                   \
		for (; r + 4 <= n_rows; r += 4)                                                              \
			b32_gemv4_blockwise(kind, n, wb + (size_t)r * ws, ws, act, out + r);                 \
		for (; r < n_rows; r++)                                                                      \
			b32_dot_blockwise_n(kind, n, wb + (size_t)r * ws, act, 0, 1, out + r);               \
	}

B32_GEMV_FN(q4_0, B32_Q4_0)
B32_GEMV_FN(iq4_nl, B32_IQ4_NL)
B32_GEMV_FN(mxfp4, B32_MXFP4)

floe_gemv_fn floe_gemv_avx2(uint32_t type)
{
	switch (type) {
	case FLOE_TYPE_Q4_K:
		return q4_K_gemv;
	case FLOE_TYPE_Q4_0:
		return q4_0_gemv;
	case FLOE_TYPE_IQ4_NL:
		return iq4_nl_gemv;
	case FLOE_TYPE_MXFP4:
		return mxfp4_gemv;
	default:
		return NULL;
	}
}

/* ---------------------------------------------------------------------
 * Table */

void floe_kernels_avx2_fill(struct floe_kernels *k)
{
	k->isa = "avx2";
	k->quantize_act[FLOE_TYPE_F16] = floe_quantize_act_f16_avx2;
	k->quantize_act[FLOE_TYPE_BF16] = floe_quantize_act_bf16_avx2;
	k->quantize_act[FLOE_TYPE_Q8_0] = floe_quantize_act_q8_0_avx2;
	k->quantize_act[FLOE_TYPE_Q8_1] = floe_quantize_act_q8_1_avx2;
	k->quantize_act[FLOE_TYPE_Q8_K] = floe_quantize_act_q8_K_avx2;

	k->vec_dot[FLOE_TYPE_F32] = floe_vec_dot_f32_avx2;
	k->vec_dot[FLOE_TYPE_F16] = floe_vec_dot_f16_avx2;
	k->vec_dot[FLOE_TYPE_BF16] = floe_vec_dot_bf16_avx2;
	k->vec_dot[FLOE_TYPE_Q4_0] = floe_vec_dot_q4_0_avx2;
	k->vec_dot[FLOE_TYPE_Q4_1] = floe_vec_dot_q4_1_avx2;
	k->vec_dot[FLOE_TYPE_Q5_0] = floe_vec_dot_q5_0_avx2;
	k->vec_dot[FLOE_TYPE_Q5_1] = floe_vec_dot_q5_1_avx2;
	k->vec_dot[FLOE_TYPE_Q8_0] = floe_vec_dot_q8_0_avx2;
	k->vec_dot[FLOE_TYPE_IQ4_NL] = floe_vec_dot_iq4_nl_avx2;
	k->vec_dot[FLOE_TYPE_IQ4_XS] = floe_vec_dot_iq4_xs_avx2;
	k->vec_dot[FLOE_TYPE_MXFP4] = floe_vec_dot_mxfp4_avx2;
	k->vec_dot[FLOE_TYPE_Q2_K] = floe_vec_dot_q2_K_avx2;
	k->vec_dot[FLOE_TYPE_Q3_K] = floe_vec_dot_q3_K_avx2;
	k->vec_dot[FLOE_TYPE_Q4_K] = floe_vec_dot_q4_K_avx2;
	k->vec_dot[FLOE_TYPE_Q5_K] = floe_vec_dot_q5_K_avx2;
	k->vec_dot[FLOE_TYPE_Q6_K] = floe_vec_dot_q6_K_avx2;
}
