/* quantize: f32 weights -> every supported weight type (floe_quantize_row_ref),
 * for `floe mkmodel` and tests.
 *
 * The simple types (q4_0 ... q8_0) use ggml's own round-to-nearest rules, so
 * they give ggml's blocks.  The K-quants, iq4_nl/iq4_xs and mxfp4 choose their
 * scales with a small search per sub-block: a handful of candidate scales,
 * each followed by a least-squares refit, keeping the one with the smallest
 * squared error (the idea of ggml's make_qkx2/make_qx quants, with uniform
 * weights because floe judges quantizers by plain RMS error).  The per
 * sub-block scales are then themselves quantized to the block's 4/6/8-bit
 * scale fields and the quants recomputed with the scales actually stored.
 * Cost is about 20 passes over each sub-block: linear in the row. */
#include <math.h>
#include <string.h>

#include "base/status.h"
#include "quant/quant_blocks.h"
#include "quant/quant_ref.h"

static int clampi(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Signed value of the first element with the largest |x|; that |x| goes to
 * *amax_out unless it is NULL. */
static float signed_absmax(const float *x, int n, float *amax_out)
{
	float amax = 0.0f, max = 0.0f;
	for (int j = 0; j < n; j++)
		if (fabsf(x[j]) > amax) {
			amax = fabsf(x[j]);
			max = x[j];
		}
	if (amax_out)
		*amax_out = amax;
	return max;
}

/* ------------------------------------------------------------------------
 * Simple 32-element types: ggml's rules exactly
 * ------------------------------------------------------------------------ */

static void quantize_q4_0(const float *x, void *dst, int64_t n)
{
	struct block_q4_0 *y = dst;

	for (int64_t i = 0; i < n / QK4_0; i++, x += QK4_0) {
		float max = signed_absmax(x, 32, NULL);
		float d = max / -8, id = d != 0.0f ? 1.0f / d : 0.0f;
		y[i].d = floe_f32_to_f16(d);
		for (int j = 0; j < 16; j++) {
			int q0 = clampi((int)(x[j] * id + 8.5f), 0, 15);
			int q1 = clampi((int)(x[j + 16] * id + 8.5f), 0, 15);
			y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
		}
	}
}

static void minmax(const float *x, int n, float *mn, float *mx)
{
	*mn = *mx = x[0];
	for (int j = 1; j < n; j++) {
		*mn = fminf(*mn, x[j]);
		*mx = fmaxf(*mx, x[j]);
	}
}

static void quantize_q4_1(const float *x, void *dst, int64_t n)
{
	struct block_q4_1 *y = dst;

	for (int64_t i = 0; i < n / QK4_1; i++, x += QK4_1) {
		float mn, mx;
		minmax(x, 32, &mn, &mx);
		float d = (mx - mn) / 15, id = d != 0.0f ? 1.0f / d : 0.0f;
		y[i].d = floe_f32_to_f16(d);
		y[i].m = floe_f32_to_f16(mn);
		for (int j = 0; j < 16; j++) {
			int q0 = clampi((int)((x[j] - mn) * id + 0.5f), 0, 15);
			int q1 = clampi((int)((x[j + 16] - mn) * id + 0.5f), 0, 15);
			y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
		}
	}
}

/* Pack 32 5-bit values into q5_0/q5_1's nibbles + high-bit word. */
static void pack_q5(const int *q, uint8_t *qs, uint8_t *qh8)
{
	uint32_t qh = 0;

	for (int j = 0; j < 16; j++) {
		qs[j] = (uint8_t)((q[j] & 0xf) | ((q[j + 16] & 0xf) << 4));
		qh |= (uint32_t)((q[j] >> 4) & 1) << j;
		qh |= (uint32_t)((q[j + 16] >> 4) & 1) << (j + 16);
	}
	memcpy(qh8, &qh, sizeof(qh));
}

static void quantize_q5_0(const float *x, void *dst, int64_t n)
{
	struct block_q5_0 *y = dst;
	int q[32];

	for (int64_t i = 0; i < n / QK5_0; i++, x += QK5_0) {
		float max = signed_absmax(x, 32, NULL);
		float d = max / -16, id = d != 0.0f ? 1.0f / d : 0.0f;
		y[i].d = floe_f32_to_f16(d);
		for (int j = 0; j < 32; j++)
			q[j] = clampi((int)(x[j] * id + 16.5f), 0, 31);
		pack_q5(q, y[i].qs, y[i].qh);
	}
}

static void quantize_q5_1(const float *x, void *dst, int64_t n)
{
	struct block_q5_1 *y = dst;
	int q[32];

	for (int64_t i = 0; i < n / QK5_1; i++, x += QK5_1) {
		float mn, mx;
		minmax(x, 32, &mn, &mx);
		float d = (mx - mn) / 31, id = d != 0.0f ? 1.0f / d : 0.0f;
		y[i].d = floe_f32_to_f16(d);
		y[i].m = floe_f32_to_f16(mn);
		for (int j = 0; j < 32; j++)
			q[j] = clampi((int)((x[j] - mn) * id + 0.5f), 0, 31);
		pack_q5(q, y[i].qs, y[i].qh);
	}
}

static void quantize_q8_0(const float *x, void *dst, int64_t n)
{
	struct block_q8_0 *y = dst;

	for (int64_t i = 0; i < n / QK8_0; i++, x += QK8_0) {
		float amax;
		signed_absmax(x, 32, &amax);
		float d = amax / 127, id = d != 0.0f ? 1.0f / d : 0.0f;
		y[i].d = floe_f32_to_f16(d);
		for (int j = 0; j < 32; j++)
			y[i].qs[j] = (int8_t)clampi((int)roundf(x[j] * id), -127, 127);
	}
}

/* ------------------------------------------------------------------------
 * Scale searches for one sub-block
 * ------------------------------------------------------------------------ */

/* Affine x ~ scale * L - mn, L in 0..nmax, mn >= 0 (the K-quant "min").
 * Tries nstep+1 candidate step sizes around (max - min) / nmax, refitting
 * scale and min by least squares for each; keeps the best.  Returns scale,
 * *mn_out = mn. */
static float fit_affine(const float *x, int n, int nmax, float *mn_out)
{
	enum { NSTEP = 20 };
	float mn, mx, best_scale, best_min, best_err = 0.0f;
	uint8_t L[32];

	minmax(x, n, &mn, &mx);
	if (mn > 0)
		mn = 0;
	if (mx == mn) {
		*mn_out = -mn;
		return 0.0f;
	}
	best_scale = (mx - mn) / nmax;
	best_min = mn;
	for (int i = 0; i < n; i++) {
		float diff =
		    best_scale * clampi(floe_nearest_int((x[i] - mn) / best_scale), 0, nmax) + mn - x[i];
		best_err += diff * diff;
	}
	for (int is = 0; is <= NSTEP; is++) {
		float iscale = (-1.0f + 0.1f * is + nmax) / (mx - mn);
		float sum_l = 0, sum_l2 = 0, sum_xl = 0, sum_x = 0, err = 0;
		for (int i = 0; i < n; i++) {
			int l = clampi(floe_nearest_int(iscale * (x[i] - mn)), 0, nmax);
			L[i] = (uint8_t)l;
			sum_l += l;
			sum_l2 += (float)l * l;
			sum_xl += l * x[i];
			sum_x += x[i];
		}
		float det = n * sum_l2 - sum_l * sum_l;
		if (det <= 0)
			continue;
		float scale = (n * sum_xl - sum_x * sum_l) / det;
		float min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
		if (min > 0) {
			min = 0;
			scale = sum_xl / sum_l2;
		}
		for (int i = 0; i < n; i++) {
			float diff = scale * L[i] + min - x[i];
			err += diff * diff;
		}
		if (err < best_err) {
			best_err = err;
			best_scale = scale;
			best_min = min;
		}
	}
	*mn_out = -best_min;
	return best_scale;
}

/* Symmetric x ~ scale * L, L in -nmax..nmax-1.  Candidate inverse scales
 * around nmax/max (max = the signed largest value, so it maps to -nmax, the
 * end with the extra level), each with the least-squares scale
 * sum(lx)/sum(l^2), whose squared error is sum(x^2) - sum(lx)^2/sum(l^2):
 * keep the largest sum(lx)^2/sum(l^2).  Returns the scale (negative when
 * max > 0, as in ggml). */
static float fit_symmetric(const float *x, int n, int nmax)
{
	float amax, max = signed_absmax(x, n, &amax);
	float best_scale = 0.0f, best_num = 0.0f, best_den = 1.0f;

	if (amax < 1e-30f)
		return 0.0f;
	for (int is = -9; is <= 9; is++) {
		float iscale = -(nmax + 0.1f * is) / max;
		float sum_lx = 0, sum_l2 = 0;
		for (int i = 0; i < n; i++) {
			int l = clampi(floe_nearest_int(iscale * x[i]), -nmax, nmax - 1);
			sum_lx += l * x[i];
			sum_l2 += (float)l * l;
		}
		if (sum_l2 > 0 && sum_lx * sum_lx * best_den > best_num * sum_l2) {
			best_num = sum_lx * sum_lx;
			best_den = sum_l2;
			best_scale = sum_lx / sum_l2;
		}
	}
	return best_scale;
}

/* ------------------------------------------------------------------------
 * K-quants
 * ------------------------------------------------------------------------ */

static void pack_2bit(const uint8_t *L, uint8_t *qs)
{
	for (int h = 0; h < 2; h++)
		for (int l = 0; l < 32; l++)
			qs[32 * h + l] = (uint8_t)(L[128 * h + l] | (L[128 * h + l + 32] << 2) |
						   (L[128 * h + l + 64] << 4) | (L[128 * h + l + 96] << 6));
}

/* Affine super-block: per-sub-block (scale, min) pairs quantized to nbits
 * against d = max_scale / smax and dmin = max_min / smax.  Writes the stored
 * integer scales/mins and the f16 d/dmin; L requantized with them. */
static void quantize_affine_block(const float *x, int sub, int nsub, int nmax, int smax, uint8_t *ls,
				  uint8_t *lm, uint16_t *d16, uint16_t *dmin16, uint8_t *L)
{
	float scales[16], mins[16], max_scale = 0, max_min = 0;

	for (int j = 0; j < nsub; j++) {
		scales[j] = fit_affine(x + sub * j, sub, nmax, &mins[j]);
		max_scale = fmaxf(max_scale, scales[j]);
		max_min = fmaxf(max_min, mins[j]);
	}
	float inv_scale = max_scale > 0 ? smax / max_scale : 0.0f;
	float inv_min = max_min > 0 ? smax / max_min : 0.0f;
	for (int j = 0; j < nsub; j++) {
		ls[j] = (uint8_t)clampi(floe_nearest_int(inv_scale * scales[j]), 0, smax);
		lm[j] = (uint8_t)clampi(floe_nearest_int(inv_min * mins[j]), 0, smax);
	}
	*d16 = floe_f32_to_f16(max_scale / smax);
	*dmin16 = floe_f32_to_f16(max_min / smax);
	float d = floe_f16_to_f32(*d16), dmin = floe_f16_to_f32(*dmin16);
	for (int j = 0; j < nsub; j++) {
		float dl = d * ls[j], ml = dmin * lm[j];
		for (int i = 0; i < sub; i++) {
			int l = dl != 0.0f ? floe_nearest_int((x[sub * j + i] + ml) / dl) : 0;
			L[sub * j + i] = (uint8_t)clampi(l, 0, nmax);
		}
	}
}

static void quantize_q2_K(const float *x, void *dst, int64_t n)
{
	struct block_q2_K *y = dst;
	uint8_t L[QK_K], ls[16], lm[16];

	for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
		quantize_affine_block(x, 16, 16, 3, 15, ls, lm, &y[i].d, &y[i].dmin, L);
		for (int j = 0; j < 16; j++)
			y[i].scales[j] = (uint8_t)(ls[j] | (lm[j] << 4));
		pack_2bit(L, y[i].qs);
	}
}

/* q4_K/q5_K's 12-byte packing of 8 6-bit scales and mins. */
static void pack_scales_k4(const uint8_t *ls, const uint8_t *lm, uint8_t *q)
{
	memset(q, 0, K_SCALE_SIZE);
	for (int j = 0; j < 8; j++) {
		if (j < 4) {
			q[j] = ls[j];
			q[j + 4] = lm[j];
		} else {
			q[j + 4] = (uint8_t)((ls[j] & 0xf) | ((lm[j] & 0xf) << 4));
			q[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
			q[j] |= (uint8_t)((lm[j] >> 4) << 6);
		}
	}
}

static void quantize_q4_K(const float *x, void *dst, int64_t n)
{
	struct block_q4_K *y = dst;
	uint8_t L[QK_K], ls[8], lm[8];

	for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
		quantize_affine_block(x, 32, 8, 15, 63, ls, lm, &y[i].d, &y[i].dmin, L);
		pack_scales_k4(ls, lm, y[i].scales);
		for (int c = 0; c < 4; c++)
			for (int l = 0; l < 32; l++)
				y[i].qs[32 * c + l] = (uint8_t)(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
	}
}

static void quantize_q5_K(const float *x, void *dst, int64_t n)
{
	struct block_q5_K *y = dst;
	uint8_t L[QK_K], ls[8], lm[8];

	for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
		quantize_affine_block(x, 32, 8, 31, 63, ls, lm, &y[i].d, &y[i].dmin, L);
		pack_scales_k4(ls, lm, y[i].scales);
		memset(y[i].qh, 0, sizeof(y[i].qh));
		for (int c = 0; c < 4; c++)
			for (int l = 0; l < 32; l++) {
				int l0 = L[64 * c + l], l1 = L[64 * c + 32 + l];
				y[i].qs[32 * c + l] = (uint8_t)((l0 & 0xf) | ((l1 & 0xf) << 4));
				y[i].qh[l] |= (uint8_t)(((l0 >> 4) << (2 * c)) | ((l1 >> 4) << (2 * c + 1)));
			}
	}
}

/* Symmetric super-block: per-16 scales quantized to signed integers in
 * [-smax, smax-1] against d = -max_scale/smax (the signed largest scale maps
 * to -smax); L requantized in [-nmax, nmax-1] with the stored scales. */
static void quantize_symmetric_block(const float *x, int nmax, int smax, int8_t *ls, uint16_t *d16, int8_t *L)
{
	float scales[16], amax;

	for (int j = 0; j < 16; j++)
		scales[j] = fit_symmetric(x + 16 * j, 16, nmax);
	float max_scale = signed_absmax(scales, 16, &amax);
	if (amax == 0.0f) {
		memset(ls, 0, 16);
		memset(L, 0, QK_K);
		*d16 = 0;
		return;
	}
	float iscale = -smax / max_scale;
	for (int j = 0; j < 16; j++)
		ls[j] = (int8_t)clampi(floe_nearest_int(iscale * scales[j]), -smax, smax - 1);
	*d16 = floe_f32_to_f16(1 / iscale);
	float d = floe_f16_to_f32(*d16);
	for (int j = 0; j < 16; j++) {
		float dl = d * ls[j];
		for (int i = 0; i < 16; i++) {
			int l = dl != 0.0f ? floe_nearest_int(x[16 * j + i] / dl) : 0;
			L[16 * j + i] = (int8_t)clampi(l, -nmax, nmax - 1);
		}
	}
}

static void quantize_q3_K(const float *x, void *dst, int64_t n)
{
	struct block_q3_K *y = dst;
	int8_t Ls[16], Lq[QK_K];
	uint8_t L[QK_K];

	for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
		quantize_symmetric_block(x, 4, 32, Ls, &y[i].d, Lq);
		memset(y[i].scales, 0, sizeof(y[i].scales));
		for (int j = 0; j < 16; j++) {
			int l = Ls[j] + 32;
			if (j < 8)
				y[i].scales[j] = (uint8_t)(l & 0xf);
			else
				y[i].scales[j - 8] |= (uint8_t)((l & 0xf) << 4);
			y[i].scales[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
		}
		memset(y[i].hmask, 0, sizeof(y[i].hmask));
		for (int k = 0; k < QK_K; k++) {
			int l = Lq[k] + 4; /* 0..7: bit 2 goes to hmask */
			if (l > 3) {
				y[i].hmask[k % 32] |= (uint8_t)(1u << (k / 32));
				l -= 4;
			}
			L[k] = (uint8_t)l;
		}
		pack_2bit(L, y[i].qs);
	}
}

static void quantize_q6_K(const float *x, void *dst, int64_t n)
{
	struct block_q6_K *y = dst;
	int8_t Lq[QK_K];

	for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
		quantize_symmetric_block(x, 32, 128, y[i].scales, &y[i].d, Lq);
		for (int h = 0; h < 2; h++) {
			uint8_t *ql = y[i].ql + 64 * h, *qh = y[i].qh + 32 * h;
			const int8_t *q = Lq + 128 * h;
			for (int l = 0; l < 32; l++) {
				int q1 = q[l] + 32, q2 = q[l + 32] + 32;
				int q3 = q[l + 64] + 32, q4 = q[l + 96] + 32;
				ql[l] = (uint8_t)((q1 & 0xf) | ((q3 & 0xf) << 4));
				ql[l + 32] = (uint8_t)((q2 & 0xf) | ((q4 & 0xf) << 4));
				qh[l] = (uint8_t)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) |
						  ((q4 >> 4) << 6));
			}
		}
	}
}

/* ------------------------------------------------------------------------
 * Non-linear 4-bit: iq4_nl, iq4_xs, mxfp4
 * ------------------------------------------------------------------------ */

/* Index of the iq4 code-book entry nearest to v: the number of midpoints
 * between neighbouring entries that lie below v (a tie picks the lower
 * entry).  Branch-free so the compiler vectorises it. */
static const float iq4_mid[15] = {
    -115.5f, -93.5f, -74.0f, -57.0f, -42.0f, -28.5f, -16.0f, -4.5f,
    7.0f,    19.0f,  31.5f,  45.5f,  61.0f,  79.0f,  101.0f,
};

/* Code-book indices of 32 scaled values, k = number of midpoints below v;
 * written as j-outer loops so the compiler vectorises them. */
static void nearest_iq4_32(const float *x, float id, int32_t *k)
{
	float v[32];

	for (int i = 0; i < 32; i++) {
		v[i] = id * x[i];
		k[i] = 0;
	}
	for (int j = 0; j < 15; j++)
		for (int i = 0; i < 32; i++)
			k[i] += v[i] > iq4_mid[j];
}

/* Best scale for 32 values on the iq4 code book: candidate inverse scales
 * mapping the signed largest value near either end of the book (-127 or
 * +113), each with the least-squares scale d = sum(qx)/sum(q^2), whose error
 * is sum(x^2) - sum(qx)^2/sum(q^2): keep the largest sum(qx)^2/sum(q^2).
 * Returns the scale (0 for an all-zero block). */
static float fit_iq4(const float *x)
{
	float amax, max = signed_absmax(x, 32, &amax);
	float best_d = 0.0f, best_num = 0.0f, best_den = 1.0f;
	int32_t k[32];

	if (amax < 1e-30f)
		return 0.0f;
	for (int itry = -7; itry <= 7; itry++) {
		for (int end = 0; end < 2; end++) {
			float id =
			    end ? (floe_iq4nl_values[15] - itry) / max : (floe_iq4nl_values[0] + itry) / max;
			float sumqx = 0, sumq2 = 0;
			nearest_iq4_32(x, id, k);
			for (int j = 0; j < 32; j++) {
				float q = floe_iq4nl_values[k[j]];
				sumqx += q * x[j];
				sumq2 += q * q;
			}
			/* sumqx^2/sumq2 > best_num/best_den, without dividing */
			if (sumq2 > 0 && sumqx * sumqx * best_den > best_num * sumq2) {
				best_num = sumqx * sumqx;
				best_den = sumq2;
				best_d = sumqx / sumq2;
			}
		}
	}
	return best_d;
}

static void pack_iq4_32(const float *x, float d, uint8_t *qs)
{
	int32_t k[32];

	nearest_iq4_32(x, d != 0.0f ? 1.0f / d : 0.0f, k);
	for (int j = 0; j < 16; j++)
		qs[j] = (uint8_t)(k[j] | (k[j + 16] << 4));
}

static void quantize_iq4_nl(const float *x, void *dst, int64_t n)
{
	struct block_iq4_nl *y = dst;

	for (int64_t i = 0; i < n / QK4_NL; i++, x += QK4_NL) {
		y[i].d = floe_f32_to_f16(fit_iq4(x));
		pack_iq4_32(x, floe_f16_to_f32(y[i].d), y[i].qs);
	}
}

static void quantize_iq4_xs(const float *x, void *dst, int64_t n)
{
	struct block_iq4_xs *y = dst;

	for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
		float scales[8], amax;
		for (int ib = 0; ib < 8; ib++)
			scales[ib] = fit_iq4(x + 32 * ib);
		float max_scale = signed_absmax(scales, 8, &amax);
		float d = amax > 0 ? -max_scale / 32 : 0.0f;
		float id = d != 0.0f ? 1.0f / d : 0.0f;
		y[i].d = floe_f32_to_f16(d);
		d = floe_f16_to_f32(y[i].d);
		y[i].scales_h = 0;
		memset(y[i].scales_l, 0, sizeof(y[i].scales_l));
		for (int ib = 0; ib < 8; ib++) {
			int l = clampi(floe_nearest_int(id * scales[ib]), -32, 31);
			y[i].scales_l[ib / 2] |= (uint8_t)(((l + 32) & 0xf) << (4 * (ib % 2)));
			y[i].scales_h |= (uint16_t)(((l + 32) >> 4) << (2 * ib));
			pack_iq4_32(x + 32 * ib, d * l, y[i].qs + 16 * ib);
		}
	}
}

static int nearest_mxfp4(float v)
{
	int best = 0;
	float best_err = fabsf(v - floe_mxfp4_values[0]);
	for (int k = 1; k < 16; k++) {
		float err = fabsf(v - floe_mxfp4_values[k]);
		if (err < best_err) {
			best_err = err;
			best = k;
		}
	}
	return best;
}

/* Squared error of 32 values on the mxfp4 grid with exponent e; fills qs. */
static float mxfp4_try(const float *x, int e, uint8_t *qs)
{
	float d = floe_e8m0_to_f32_half((uint8_t)e), id = 1.0f / d, err = 0;
	for (int j = 0; j < 16; j++) {
		int q0 = nearest_mxfp4(x[j] * id), q1 = nearest_mxfp4(x[j + 16] * id);
		float e0 = floe_mxfp4_values[q0] * d - x[j];
		float e1 = floe_mxfp4_values[q1] * d - x[j + 16];
		err += e0 * e0 + e1 * e1;
		qs[j] = (uint8_t)(q0 | (q1 << 4));
	}
	return err;
}

/* ggml's exponent, floor(log2(amax)) - 2 (clipping amax in [1.5, 2) * 2^k to
 * 6 * 2^(k-2)), or one more, whichever fits the block better. */
static void quantize_mxfp4(const float *x, void *dst, int64_t n)
{
	struct block_mxfp4 *y = dst;
	uint8_t alt[16];

	for (int64_t i = 0; i < n / QK_MXFP4; i++, x += QK_MXFP4) {
		float amax;
		signed_absmax(x, 32, &amax);
		int e = amax > 0 ? clampi((int)floorf(log2f(amax)) - 2 + 127, 1, 253) : 0;
		float err = mxfp4_try(x, e, y[i].qs);
		y[i].e = (uint8_t)e;
		if (amax > 0 && mxfp4_try(x, e + 1, alt) < err) {
			memcpy(y[i].qs, alt, sizeof(alt));
			y[i].e = (uint8_t)(e + 1);
		}
	}
}

/* ------------------------------------------------------------------------ */

static void quantize_f32(const float *x, void *dst, int64_t n)
{
	memcpy(dst, x, (size_t)n * sizeof(float));
}

static const floe_quantize_fn quantizers[FLOE_TYPE_COUNT] = {
    [FLOE_TYPE_F32] = quantize_f32,
    [FLOE_TYPE_F16] = floe_quantize_act_f16_ref,
    [FLOE_TYPE_BF16] = floe_quantize_act_bf16_ref,
    [FLOE_TYPE_Q4_0] = quantize_q4_0,
    [FLOE_TYPE_Q4_1] = quantize_q4_1,
    [FLOE_TYPE_Q5_0] = quantize_q5_0,
    [FLOE_TYPE_Q5_1] = quantize_q5_1,
    [FLOE_TYPE_Q8_0] = quantize_q8_0,
    [FLOE_TYPE_Q2_K] = quantize_q2_K,
    [FLOE_TYPE_Q3_K] = quantize_q3_K,
    [FLOE_TYPE_Q4_K] = quantize_q4_K,
    [FLOE_TYPE_Q5_K] = quantize_q5_K,
    [FLOE_TYPE_Q6_K] = quantize_q6_K,
    [FLOE_TYPE_IQ4_NL] = quantize_iq4_nl,
    [FLOE_TYPE_IQ4_XS] = quantize_iq4_xs,
    [FLOE_TYPE_MXFP4] = quantize_mxfp4,
};

/* Callers pass a supported type (floe_type_check_supported): anything else
 * is a bug in floe. */
void floe_quantize_row_ref(uint32_t type, const float *src, void *dst, int64_t n)
{
	FLOE_ASSERT(type < FLOE_TYPE_COUNT && quantizers[type]);
	quantizers[type](src, dst, n);
}
