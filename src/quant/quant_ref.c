/* quant_ref: the plain-C reference kernels — dequantization, activation
 * conversion and dot products for every supported weight type — and the
 * reference kernel table.  These are floe's ground truth: they reproduce
 * ggml's CPU results (dequant bit for bit, activation blocks byte for byte,
 * dot products up to summation order), and every SIMD kernel is tested
 * against them.
 *
 * K-quant and nibble-packed blocks are first unpacked into plain int8 values
 * (one function per layout, shared by dequant and dot) so that the bit
 * shuffling lives in one place; the float arithmetic then follows ggml's
 * expression order exactly so the dequantized bits agree.  That relies on
 * a*b - c not being fused into an FMA: true for the baseline x86-64 build
 * (no -mfma outside *_avx2.c files) and for gcc in -std=c11 mode. */
#include <math.h>
#include <string.h>

#include "base/status.h"
#include "quant/quant_blocks.h"
#include "quant/quant_ref.h"

const int8_t floe_iq4nl_values[16] = {
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
};

const int8_t floe_mxfp4_values[16] = {
    0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12,
};

/* ------------------------------------------------------------------------
 * Unpacking: block -> int8 quant values in element order
 * ------------------------------------------------------------------------ */

/* Nibble layout of q4_0/q4_1/iq4_nl/mxfp4: element j in the low nibble of
 * qs[j], element j+16 in the high nibble. */
static void unpack_nibbles32(const uint8_t *qs, int8_t *q)
{
	for (int j = 0; j < 16; j++) {
		q[j] = (int8_t)(qs[j] & 0xf);
		q[j + 16] = (int8_t)(qs[j] >> 4);
	}
}

/* q5_0/q5_1: nibbles plus bit 4 of element j from bit j of qh. */
static void unpack_q5_32(const uint8_t *qs, const uint8_t *qh8, int8_t *q)
{
	uint32_t qh;

	memcpy(&qh, qh8, sizeof(qh));
	for (int j = 0; j < 16; j++) {
		q[j] = (int8_t)((qs[j] & 0xf) | (((qh >> j) << 4) & 0x10));
		q[j + 16] = (int8_t)((qs[j] >> 4) | ((qh >> (j + 12)) & 0x10));
	}
}

/* q2_K: 0..3; element 128*h + 32*j + l comes from bits 2j of qs[32*h + l]. */
static void unpack_q2_K(const struct block_q2_K *b, int8_t *q)
{
	for (int h = 0; h < 2; h++)
		for (int j = 0; j < 4; j++)
			for (int l = 0; l < 32; l++)
				q[128 * h + 32 * j + l] = (int8_t)((b->qs[32 * h + l] >> (2 * j)) & 3);
}

/* q3_K: -4..3; the low 2 bits as q2_K, minus 4 unless the element's bit in
 * hmask (bit 4h+j of hmask[l]) is set. */
static void unpack_q3_K(const struct block_q3_K *b, int8_t *q)
{
	for (int h = 0; h < 2; h++)
		for (int j = 0; j < 4; j++) {
			uint8_t m = (uint8_t)(1u << (4 * h + j));
			for (int l = 0; l < 32; l++) {
				int v = (b->qs[32 * h + l] >> (2 * j)) & 3;
				q[128 * h + 32 * j + l] = (int8_t)(v - ((b->hmask[l] & m) ? 0 : 4));
			}
		}
}

/* q3_K scales: 16 6-bit values, low nibbles in bytes 0..7 (two per byte,
 * first 8 scales low, next 8 high), top 2 bits in bytes 8..11.  Returns
 * them with the +32 bias removed. */
static void unpack_q3_K_scales(const uint8_t *raw, int8_t *sc)
{
	for (int is = 0; is < 16; is++) {
		int lo = is < 8 ? (raw[is] & 0xf) : (raw[is - 8] >> 4);
		int hi = (raw[8 + is % 4] >> (2 * (is / 4))) & 3;
		sc[is] = (int8_t)((lo | (hi << 4)) - 32);
	}
}

/* q4_K: 64-element chunks c: 32 low nibbles of qs[32c..], then 32 high. */
static void unpack_q4_K(const struct block_q4_K *b, int8_t *q)
{
	for (int c = 0; c < 4; c++)
		for (int l = 0; l < 32; l++) {
			q[64 * c + l] = (int8_t)(b->qs[32 * c + l] & 0xf);
			q[64 * c + 32 + l] = (int8_t)(b->qs[32 * c + l] >> 4);
		}
}

/* q5_K: as q4_K plus bit 4 from qh[l], bit 2c (low half) / 2c+1 (high). */
static void unpack_q5_K(const struct block_q5_K *b, int8_t *q)
{
	for (int c = 0; c < 4; c++)
		for (int l = 0; l < 32; l++) {
			int h0 = (b->qh[l] >> (2 * c)) & 1, h1 = (b->qh[l] >> (2 * c + 1)) & 1;
			q[64 * c + l] = (int8_t)((b->qs[32 * c + l] & 0xf) | (h0 << 4));
			q[64 * c + 32 + l] = (int8_t)((b->qs[32 * c + l] >> 4) | (h1 << 4));
		}
}

/* q6_K: -32..31; per 128-element half h, element 32k + l takes 4 bits from
 * ql[64h + l + 32(k&1)] (low nibble for k < 2) and 2 bits 2k of qh[32h + l]. */
static void unpack_q6_K(const struct block_q6_K *b, int8_t *q)
{
	for (int h = 0; h < 2; h++) {
		const uint8_t *ql = b->ql + 64 * h, *qh = b->qh + 32 * h;
		int8_t *y = q + 128 * h;
		for (int l = 0; l < 32; l++) {
			y[l] = (int8_t)(((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32);
			y[l + 32] = (int8_t)(((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32);
			y[l + 64] = (int8_t)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
			y[l + 96] = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
		}
	}
}

/* iq4_xs sub-block scale ib (0..7), bias removed: -32..31. */
static int iq4_xs_scale(const struct block_iq4_xs *b, int ib)
{
	int ls = ((b->scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) | (((b->scales_h >> (2 * ib)) & 3) << 4);
	return ls - 32;
}

/* ------------------------------------------------------------------------
 * Dequantization (bit-exact with ggml's dequantize_row_*)
 * ------------------------------------------------------------------------ */

void floe_dequant_f32_ref(const void *src, float *dst, int64_t n)
{
	memcpy(dst, src, (size_t)n * sizeof(float));
}

void floe_dequant_f16_ref(const void *src, float *dst, int64_t n)
{
	const uint16_t *x = src;
	for (int64_t i = 0; i < n; i++)
		dst[i] = floe_f16_to_f32(x[i]);
}

void floe_dequant_bf16_ref(const void *src, float *dst, int64_t n)
{
	const uint16_t *x = src;
	for (int64_t i = 0; i < n; i++)
		dst[i] = floe_bf16_to_f32(x[i]);
}

void floe_dequant_q4_0_ref(const void *src, float *dst, int64_t n)
{
	const struct block_q4_0 *x = src;
	int8_t q[32];

	for (int64_t i = 0; i < n / QK4_0; i++, dst += QK4_0) {
		float d = floe_f16_to_f32(x[i].d);
		unpack_nibbles32(x[i].qs, q);
		for (int j = 0; j < 32; j++)
			dst[j] = (q[j] - 8) * d;
	}
}

void floe_dequant_q4_1_ref(const void *src, float *dst, int64_t n)
{
	const struct block_q4_1 *x = src;
	int8_t q[32];

	for (int64_t i = 0; i < n / QK4_1; i++, dst += QK4_1) {
		float d = floe_f16_to_f32(x[i].d), m = floe_f16_to_f32(x[i].m);
		unpack_nibbles32(x[i].qs, q);
		for (int j = 0; j < 32; j++)
			dst[j] = q[j] * d + m;
	}
}

void floe_dequant_q5_0_ref(const void *src, float *dst, int64_t n)
{
	const struct block_q5_0 *x = src;
	int8_t q[32];

	for (int64_t i = 0; i < n / QK5_0; i++, dst += QK5_0) {
		float d = floe_f16_to_f32(x[i].d);
		unpack_q5_32(x[i].qs, x[i].qh, q);
		for (int j = 0; j < 32; j++)
			dst[j] = (q[j] - 16) * d;
	}
}

void floe_dequant_q5_1_ref(const void *src, float *dst, int64_t n)
{
	const struct block_q5_1 *x = src;
	int8_t q[32];

	for (int64_t i = 0; i < n / QK5_1; i++, dst += QK5_1) {
		float d = floe_f16_to_f32(x[i].d), m = floe_f16_to_f32(x[i].m);
		unpack_q5_32(x[i].qs, x[i].qh, q);
		for (int j = 0; j < 32; j++)
			dst[j] = q[j] * d + m;
	}
}

void floe_dequant_q8_0_ref(const void *src, float *dst, int64_t n)
{
	const struct block_q8_0 *x = src;

	for (int64_t i = 0; i < n / QK8_0; i++, dst += QK8_0) {
		float d = floe_f16_to_f32(x[i].d);
		for (int j = 0; j < 32; j++)
			dst[j] = x[i].qs[j] * d;
	}
}

void floe_dequant_q2_K_ref(const void *src, float *dst, int64_t n)
{
	const struct block_q2_K *x = src;
	int8_t q[QK_K];

	for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
		float d = floe_f16_to_f32(x[i].d), min = floe_f16_to_f32(x[i].dmin);
		unpack_q2_K(&x[i], q);
		for (int s = 0; s < 16; s++) {
			float dl = d * (x[i].scales[s] & 0xf), ml = min * (x[i].scales[s] >> 4);
			for (int l = 0; l < 16; l++)
				dst[16 * s + l] = dl * q[16 * s + l] - ml;
		}
	}
}

void floe_dequant_q3_K_ref(const void *src, float *dst, int64_t n)
{
	const struct block_q3_K *x = src;
	int8_t q[QK_K], sc[16];

	for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
		float d = floe_f16_to_f32(x[i].d);
		unpack_q3_K(&x[i], q);
		unpack_q3_K_scales(x[i].scales, sc);
		for (int s = 0; s < 16; s++) {
			float dl = d * sc[s];
			for (int l = 0; l < 16; l++)
				dst[16 * s + l] = dl * q[16 * s + l];
		}
	}
}

/* Q4_K and Q5_K share their scales: 8 sub-blocks of 32 with 6-bit scale and
 * min each; x = d * sc * q - dmin * m. */
static void dequant_k4_scales(uint16_t d16, uint16_t dmin16, const uint8_t *scales, const int8_t *q, float *dst)
{
	float d = floe_f16_to_f32(d16), min = floe_f16_to_f32(dmin16);

	for (int s = 0; s < 8; s++) {
		uint8_t sc, m;
		floe_get_scale_min_k4(s, scales, &sc, &m);
		float dl = d * sc, ml = min * m;
		for (int l = 0; l < 32; l++)
			dst[32 * s + l] = dl * q[32 * s + l] - ml;
	}
}

void floe_dequant_q4_K_ref(const void *src, float *dst, int64_t n)
{
	const struct block_q4_K *x = src;
	int8_t q[QK_K];

	for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
		unpack_q4_K(&x[i], q);
		dequant_k4_scales(x[i].d, x[i].dmin, x[i].scales, q, dst);
	}
}

void floe_dequant_q5_K_ref(const void *src, float *dst, int64_t n)
{
	const struct block_q5_K *x = src;
	int8_t q[QK_K];

	for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
		unpack_q5_K(&x[i], q);
		dequant_k4_scales(x[i].d, x[i].dmin, x[i].scales, q, dst);
	}
}

void floe_dequant_q6_K_ref(const void *src, float *dst, int64_t n)
{
	const struct block_q6_K *x = src;
	int8_t q[QK_K];

	for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
		float d = floe_f16_to_f32(x[i].d);
		unpack_q6_K(&x[i], q);
		for (int k = 0; k < QK_K; k++)
			dst[k] = d * x[i].scales[k / 16] * q[k];
	}
}

void floe_dequant_iq4_nl_ref(const void *src, float *dst, int64_t n)
{
	const struct block_iq4_nl *x = src;
	int8_t q[32];

	for (int64_t i = 0; i < n / QK4_NL; i++, dst += QK4_NL) {
		float d = floe_f16_to_f32(x[i].d);
		unpack_nibbles32(x[i].qs, q);
		for (int j = 0; j < 32; j++)
			dst[j] = d * floe_iq4nl_values[q[j]];
	}
}

void floe_dequant_iq4_xs_ref(const void *src, float *dst, int64_t n)
{
	const struct block_iq4_xs *x = src;
	int8_t q[32];

	for (int64_t i = 0; i < n / QK_K; i++) {
		float d = floe_f16_to_f32(x[i].d);
		for (int ib = 0; ib < 8; ib++, dst += 32) {
			float dl = d * iq4_xs_scale(&x[i], ib);
			unpack_nibbles32(x[i].qs + 16 * ib, q);
			for (int j = 0; j < 32; j++)
				dst[j] = dl * floe_iq4nl_values[q[j]];
		}
	}
}

void floe_dequant_mxfp4_ref(const void *src, float *dst, int64_t n)
{
	const struct block_mxfp4 *x = src;
	int8_t q[32];

	for (int64_t i = 0; i < n / QK_MXFP4; i++, dst += QK_MXFP4) {
		float d = floe_e8m0_to_f32_half(x[i].e);
		unpack_nibbles32(x[i].qs, q);
		for (int j = 0; j < 32; j++)
			dst[j] = floe_mxfp4_values[q[j]] * d;
	}
}

/* ------------------------------------------------------------------------
 * Activation conversion (byte-exact with ggml's CPU from_float, AVX2 build)
 * ------------------------------------------------------------------------ */

void floe_quantize_act_f32_ref(const float *src, void *dst, int64_t n)
{
	memcpy(dst, src, (size_t)n * sizeof(float));
}

void floe_quantize_act_f16_ref(const float *src, void *dst, int64_t n)
{
	uint16_t *y = dst;
	for (int64_t i = 0; i < n; i++)
		y[i] = floe_f32_to_f16(src[i]);
}

void floe_quantize_act_bf16_ref(const float *src, void *dst, int64_t n)
{
	uint16_t *y = dst;
	for (int64_t i = 0; i < n; i++)
		y[i] = floe_f32_to_bf16(src[i]);
}

/* One 32-block of q8_0/q8_1 as ggml's AVX2 path does it: the multiplier is
 * 127/amax (not 1/d) and rounding is round-half-even (vroundps).  Returns the
 * f32 d and the sum of the quants. */
static float q8_block32(const float *x, int8_t *qs, int *sum)
{
	float amax = 0.0f, d, id;
	int s = 0;

	for (int j = 0; j < 32; j++)
		amax = fmaxf(amax, fabsf(x[j]));
	d = amax / 127.f;
	id = amax != 0.0f ? 127.f / amax : 0.0f;
	for (int j = 0; j < 32; j++) {
		int v = floe_nearest_int(x[j] * id);
		qs[j] = (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v);
		s += qs[j];
	}
	*sum = s;
	return d;
}

void floe_quantize_act_q8_0_ref(const float *src, void *dst, int64_t n)
{
	struct block_q8_0 *y = dst;
	int sum;

	for (int64_t i = 0; i < n / QK8_0; i++)
		y[i].d = floe_f32_to_f16(q8_block32(src + 32 * i, y[i].qs, &sum));
}

void floe_quantize_act_q8_1_ref(const float *src, void *dst, int64_t n)
{
	struct block_q8_1 *y = dst;
	int sum;

	for (int64_t i = 0; i < n / QK8_1; i++) {
		float d = q8_block32(src + 32 * i, y[i].qs, &sum);
		y[i].d = floe_f32_to_f16(d);
		y[i].s = floe_f32_to_f16(d * (float)sum);
	}
}

void floe_quantize_act_q8_K_ref(const float *src, void *dst, int64_t n)
{
	struct block_q8_K *y = dst;

	for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
		float max = 0.0f, amax = 0.0f, iscale;

		for (int j = 0; j < QK_K; j++) {
			float ax = fabsf(src[j]);
			if (ax > amax) {
				amax = ax;
				max = src[j];
			}
		}
		if (amax == 0.0f) {
			memset(&y[i], 0, sizeof(y[i]));
			continue;
		}
		iscale = -127.f / max;
		for (int j = 0; j < QK_K; j++) {
			int v = floe_nearest_int(iscale * src[j]);
			y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
		}
		for (int j = 0; j < QK_K / 16; j++) {
			int s = 0;
			for (int l = 0; l < 16; l++)
				s += y[i].qs[16 * j + l];
			y[i].bsums[j] = (int16_t)s;
		}
		y[i].d = 1 / iscale;
	}
}

/* ------------------------------------------------------------------------
 * Dot products (ggml's scalar algorithm: integer sums per block, then scale)
 * ------------------------------------------------------------------------ */

/* Float weights: accumulate in double, as ggml's scalar f16 path does; the
 * SIMD paths accumulate in f32 lanes, within 1e-5 relative of this. */
float floe_vec_dot_f32_ref(int64_t n, const void *w, const void *act)
{
	const float *x = w, *y = act;
	double s = 0;
	for (int64_t i = 0; i < n; i++)
		s += (double)x[i] * y[i];
	return (float)s;
}

float floe_vec_dot_f16_ref(int64_t n, const void *w, const void *act)
{
	const uint16_t *x = w, *y = act;
	double s = 0;
	for (int64_t i = 0; i < n; i++)
		s += (double)(floe_f16_to_f32(x[i]) * floe_f16_to_f32(y[i]));
	return (float)s;
}

float floe_vec_dot_bf16_ref(int64_t n, const void *w, const void *act)
{
	const uint16_t *x = w, *y = act;
	double s = 0;
	for (int64_t i = 0; i < n; i++)
		s += (double)(floe_bf16_to_f32(x[i]) * floe_bf16_to_f32(y[i]));
	return (float)s;
}

static int dot_i8_32(const int8_t *a, const int8_t *b)
{
	int s = 0;
	for (int j = 0; j < 32; j++)
		s += a[j] * b[j];
	return s;
}

float floe_vec_dot_q4_0_ref(int64_t n, const void *w, const void *act)
{
	const struct block_q4_0 *x = w;
	const struct block_q8_0 *y = act;
	float sumf = 0;
	int8_t q[32];

	for (int64_t i = 0; i < n / QK4_0; i++) {
		unpack_nibbles32(x[i].qs, q);
		for (int j = 0; j < 32; j++)
			q[j] = (int8_t)(q[j] - 8);
		sumf += dot_i8_32(q, y[i].qs) * (floe_f16_to_f32(x[i].d) * floe_f16_to_f32(y[i].d));
	}
	return sumf;
}

float floe_vec_dot_q4_1_ref(int64_t n, const void *w, const void *act)
{
	const struct block_q4_1 *x = w;
	const struct block_q8_1 *y = act;
	float sumf = 0;
	int8_t q[32];

	for (int64_t i = 0; i < n / QK4_1; i++) {
		unpack_nibbles32(x[i].qs, q);
		sumf += (floe_f16_to_f32(x[i].d) * floe_f16_to_f32(y[i].d)) * dot_i8_32(q, y[i].qs) +
			floe_f16_to_f32(x[i].m) * floe_f16_to_f32(y[i].s);
	}
	return sumf;
}

float floe_vec_dot_q5_0_ref(int64_t n, const void *w, const void *act)
{
	const struct block_q5_0 *x = w;
	const struct block_q8_0 *y = act;
	float sumf = 0;
	int8_t q[32];

	for (int64_t i = 0; i < n / QK5_0; i++) {
		unpack_q5_32(x[i].qs, x[i].qh, q);
		for (int j = 0; j < 32; j++)
			q[j] = (int8_t)(q[j] - 16);
		sumf += (floe_f16_to_f32(x[i].d) * floe_f16_to_f32(y[i].d)) * dot_i8_32(q, y[i].qs);
	}
	return sumf;
}

float floe_vec_dot_q5_1_ref(int64_t n, const void *w, const void *act)
{
	const struct block_q5_1 *x = w;
	const struct block_q8_1 *y = act;
	float sumf = 0;
	int8_t q[32];

	for (int64_t i = 0; i < n / QK5_1; i++) {
		unpack_q5_32(x[i].qs, x[i].qh, q);
		sumf += (floe_f16_to_f32(x[i].d) * floe_f16_to_f32(y[i].d)) * dot_i8_32(q, y[i].qs) +
			floe_f16_to_f32(x[i].m) * floe_f16_to_f32(y[i].s);
	}
	return sumf;
}

float floe_vec_dot_q8_0_ref(int64_t n, const void *w, const void *act)
{
	const struct block_q8_0 *x = w;
	const struct block_q8_0 *y = act;
	float sumf = 0;

	for (int64_t i = 0; i < n / QK8_0; i++)
		sumf += dot_i8_32(x[i].qs, y[i].qs) * (floe_f16_to_f32(x[i].d) * floe_f16_to_f32(y[i].d));
	return sumf;
}

float floe_vec_dot_iq4_nl_ref(int64_t n, const void *w, const void *act)
{
	const struct block_iq4_nl *x = w;
	const struct block_q8_0 *y = act;
	float sumf = 0;
	int8_t q[32];

	for (int64_t i = 0; i < n / QK4_NL; i++) {
		unpack_nibbles32(x[i].qs, q);
		for (int j = 0; j < 32; j++)
			q[j] = floe_iq4nl_values[q[j]];
		sumf += (floe_f16_to_f32(x[i].d) * floe_f16_to_f32(y[i].d)) * dot_i8_32(q, y[i].qs);
	}
	return sumf;
}

float floe_vec_dot_mxfp4_ref(int64_t n, const void *w, const void *act)
{
	const struct block_mxfp4 *x = w;
	const struct block_q8_0 *y = act;
	float sumf = 0;
	int8_t q[32];

	for (int64_t i = 0; i < n / QK_MXFP4; i++) {
		unpack_nibbles32(x[i].qs, q);
		for (int j = 0; j < 32; j++)
			q[j] = floe_mxfp4_values[q[j]];
		sumf += (floe_e8m0_to_f32_half(x[i].e) * floe_f16_to_f32(y[i].d)) * dot_i8_32(q, y[i].qs);
	}
	return sumf;
}

/* Sum over 16-element sub-blocks s of scale[s] * dot(q, q8). */
static int dot_scaled16(const int8_t *q, const int8_t *q8, const int8_t *sc16)
{
	int isum = 0;
	for (int s = 0; s < 16; s++) {
		int d = 0;
		for (int l = 0; l < 16; l++)
			d += q[16 * s + l] * q8[16 * s + l];
		isum += sc16[s] * d;
	}
	return isum;
}

float floe_vec_dot_q2_K_ref(int64_t n, const void *w, const void *act)
{
	const struct block_q2_K *x = w;
	const struct block_q8_K *y = act;
	float sumf = 0;
	int8_t q[QK_K], sc[16];

	for (int64_t i = 0; i < n / QK_K; i++) {
		int summs = 0;
		for (int j = 0; j < 16; j++) {
			summs += y[i].bsums[j] * (x[i].scales[j] >> 4);
			sc[j] = (int8_t)(x[i].scales[j] & 0xf);
		}
		unpack_q2_K(&x[i], q);
		float dall = y[i].d * floe_f16_to_f32(x[i].d);
		float dmin = y[i].d * floe_f16_to_f32(x[i].dmin);
		sumf += dall * dot_scaled16(q, y[i].qs, sc) - dmin * summs;
	}
	return sumf;
}

float floe_vec_dot_q3_K_ref(int64_t n, const void *w, const void *act)
{
	const struct block_q3_K *x = w;
	const struct block_q8_K *y = act;
	float sumf = 0;
	int8_t q[QK_K], sc[16];

	for (int64_t i = 0; i < n / QK_K; i++) {
		unpack_q3_K(&x[i], q);
		unpack_q3_K_scales(x[i].scales, sc);
		float d = floe_f16_to_f32(x[i].d) * y[i].d;
		sumf += d * dot_scaled16(q, y[i].qs, sc);
	}
	return sumf;
}

/* q4_K/q5_K: scales per 32, mins applied through the activation's bsums:
 * sum(q8 * (sc*q - m)) = sc*sum(q8*q) - m*sum(q8). */
static float dot_k4_block(const int8_t *q, const uint8_t *scales, uint16_t d16, uint16_t dmin16,
			  const struct block_q8_K *y)
{
	int isum = 0, summs = 0;

	for (int s = 0; s < 8; s++) {
		uint8_t sc, m;
		floe_get_scale_min_k4(s, scales, &sc, &m);
		isum += sc * dot_i8_32(q + 32 * s, y->qs + 32 * s);
		summs += m * (y->bsums[2 * s] + y->bsums[2 * s + 1]);
	}
	float d = floe_f16_to_f32(d16) * y->d;
	float dmin = floe_f16_to_f32(dmin16) * y->d;
	return d * isum - dmin * summs;
}

float floe_vec_dot_q4_K_ref(int64_t n, const void *w, const void *act)
{
	const struct block_q4_K *x = w;
	const struct block_q8_K *y = act;
	float sumf = 0;
	int8_t q[QK_K];

	for (int64_t i = 0; i < n / QK_K; i++) {
		unpack_q4_K(&x[i], q);
		sumf += dot_k4_block(q, x[i].scales, x[i].d, x[i].dmin, &y[i]);
	}
	return sumf;
}

float floe_vec_dot_q5_K_ref(int64_t n, const void *w, const void *act)
{
	const struct block_q5_K *x = w;
	const struct block_q8_K *y = act;
	float sumf = 0;
	int8_t q[QK_K];

	for (int64_t i = 0; i < n / QK_K; i++) {
		unpack_q5_K(&x[i], q);
		sumf += dot_k4_block(q, x[i].scales, x[i].d, x[i].dmin, &y[i]);
	}
	return sumf;
}

float floe_vec_dot_q6_K_ref(int64_t n, const void *w, const void *act)
{
	const struct block_q6_K *x = w;
	const struct block_q8_K *y = act;
	float sumf = 0;
	int8_t q[QK_K];

	for (int64_t i = 0; i < n / QK_K; i++) {
		unpack_q6_K(&x[i], q);
		float d = floe_f16_to_f32(x[i].d) * y[i].d;
		sumf += d * dot_scaled16(q, y[i].qs, x[i].scales);
	}
	return sumf;
}

float floe_vec_dot_iq4_xs_ref(int64_t n, const void *w, const void *act)
{
	const struct block_iq4_xs *x = w;
	const struct block_q8_K *y = act;
	float sumf = 0;
	int8_t q[32];

	for (int64_t i = 0; i < n / QK_K; i++) {
		int isum = 0;
		for (int ib = 0; ib < 8; ib++) {
			unpack_nibbles32(x[i].qs + 16 * ib, q);
			for (int j = 0; j < 32; j++)
				q[j] = floe_iq4nl_values[q[j]];
			isum += iq4_xs_scale(&x[i], ib) * dot_i8_32(q, y[i].qs + 32 * ib);
		}
		sumf += floe_f16_to_f32(x[i].d) * y[i].d * isum;
	}
	return sumf;
}

/* ------------------------------------------------------------------------
 * The reference table and the switch-style entry points
 * ------------------------------------------------------------------------ */

#define W(id, t) .vec_dot[id] = floe_vec_dot_##t##_ref, .dequant_row[id] = floe_dequant_##t##_ref

const struct floe_kernels floe_kernels_ref = {
    .isa = "ref",
    .quantize_act[FLOE_TYPE_F32] = floe_quantize_act_f32_ref,
    .quantize_act[FLOE_TYPE_F16] = floe_quantize_act_f16_ref,
    .quantize_act[FLOE_TYPE_BF16] = floe_quantize_act_bf16_ref,
    .quantize_act[FLOE_TYPE_Q8_0] = floe_quantize_act_q8_0_ref,
    .quantize_act[FLOE_TYPE_Q8_1] = floe_quantize_act_q8_1_ref,
    .quantize_act[FLOE_TYPE_Q8_K] = floe_quantize_act_q8_K_ref,
    W(FLOE_TYPE_F32, f32),
    W(FLOE_TYPE_F16, f16),
    W(FLOE_TYPE_BF16, bf16),
    W(FLOE_TYPE_Q4_0, q4_0),
    W(FLOE_TYPE_Q4_1, q4_1),
    W(FLOE_TYPE_Q5_0, q5_0),
    W(FLOE_TYPE_Q5_1, q5_1),
    W(FLOE_TYPE_Q8_0, q8_0),
    W(FLOE_TYPE_Q2_K, q2_K),
    W(FLOE_TYPE_Q3_K, q3_K),
    W(FLOE_TYPE_Q4_K, q4_K),
    W(FLOE_TYPE_Q5_K, q5_K),
    W(FLOE_TYPE_Q6_K, q6_K),
    W(FLOE_TYPE_IQ4_NL, iq4_nl),
    W(FLOE_TYPE_IQ4_XS, iq4_xs),
    W(FLOE_TYPE_MXFP4, mxfp4),
};

#undef W

/* The generic entry points: callers have checked the type is supported
 * (floe_type_check_supported), so a missing kernel is a bug in floe. */
void floe_dequant_row_ref(uint32_t type, const void *src, float *dst, int64_t n)
{
	FLOE_ASSERT(type < FLOE_TYPE_COUNT && floe_kernels_ref.dequant_row[type]);
	floe_kernels_ref.dequant_row[type](src, dst, n);
}

void floe_quantize_act_ref(uint32_t act_type, const float *src, void *dst, int64_t n)
{
	FLOE_ASSERT(act_type < FLOE_TYPE_COUNT && floe_kernels_ref.quantize_act[act_type]);
	floe_kernels_ref.quantize_act[act_type](src, dst, n);
}

float floe_vec_dot_ref(uint32_t type, int64_t n, const void *w, const void *act)
{
	FLOE_ASSERT(type < FLOE_TYPE_COUNT && floe_kernels_ref.vec_dot[type]);
	return floe_kernels_ref.vec_dot[type](n, w, act);
}
