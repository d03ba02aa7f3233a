/* act_avx2: SwiGLU over 8 lanes with ggml's expf polynomial.
 *
 * floe_swiglu (ops.c) evaluates ggml's vectorised expf one lane at a time
 * with fmaf, the way ggml's AVX2 lanes do; this is the same sequence of
 * roundings eight lanes at a time (every fmaf an FMA, every other operation
 * the same IEEE operation), so the bits are equal.  A decode token runs
 * SwiGLU over n_expert_used x n_ff elements per layer (~300k expf), which in
 * scalar code with a libm fmaf call per step was a few percent of a token. */
#include "engine/act_avx2.h"

#include <immintrin.h>
#include <math.h>

#include "engine/ops.h"

static inline __m256 expf8(__m256 x)
{
	const __m256 shift = _mm256_set1_ps(0x1.8p23f);
	const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), shift);
	const __m256 n = _mm256_sub_ps(z, shift);
	const __m256 nn = _mm256_xor_ps(n, _mm256_set1_ps(-0.0f));
	const __m256 b = _mm256_fmadd_ps(nn, _mm256_set1_ps(0x1.7f7d1cp-20f),
					 _mm256_fmadd_ps(nn, _mm256_set1_ps(0x1.62e4p-1f), x));
	const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
	const __m256 k = _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1.0f))));
	const __m256 u = _mm256_mul_ps(b, b);
	const __m256 j = _mm256_fmadd_ps(
		_mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
				_mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
		u, _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), b));
	const __m256 an = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
	const __m256 big = _mm256_cmp_ps(an, _mm256_set1_ps(126.0f), _CMP_GT_OQ);
	__m256 r = _mm256_fmadd_ps(k, j, k);

	if (!_mm256_movemask_ps(big))
		return r;
	/* Near overflow / underflow: 2^n as two factors, like ggml. */
	const __m256 le0 = _mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ);
	const __m256i g = _mm256_and_si256(_mm256_castps_si256(le0), _mm256_set1_epi32((int)0x82000000u));
	const __m256 s1 = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f000000)));
	const __m256 s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
	const __m256 huge = _mm256_cmp_ps(an, _mm256_set1_ps(192.0f), _CMP_GT_OQ);
	const __m256 rb = _mm256_blendv_ps(_mm256_mul_ps(_mm256_fmadd_ps(s2, j, s2), s1), _mm256_mul_ps(s1, s1), huge);
	return _mm256_blendv_ps(r, rb, big);
}

void floe_swiglu_avx2(float *y, const float *g, const float *u, int n)
{
	const __m256 one = _mm256_set1_ps(1.0f), neg = _mm256_set1_ps(-0.0f);
	int i = 0;

	for (; i + 8 <= n; i += 8) {
		__m256 gv = _mm256_loadu_ps(g + i);
		__m256 ev = expf8(_mm256_xor_ps(gv, neg));
		__m256 r = _mm256_mul_ps(_mm256_div_ps(gv, _mm256_add_ps(one, ev)), _mm256_loadu_ps(u + i));
		_mm256_storeu_ps(y + i, r);
	}
	/* floe_swiglu's scalar tail (libm expf) for the last n % 8. */
	if (i < n)
		floe_swiglu(y + i, g + i, u + i, n - i);
}

/* floe_softmax eight lanes at a time: the same scaling and max, the same
 * per-element expf, each group of eight summed in hsum8's order (a partial
 * last group with zeros in the missing lanes) into the same double. */
void floe_softmax_avx2(float *x, int n, float scale)
{
	const __m256 sv = _mm256_set1_ps(scale);
	__m256 mv = _mm256_set1_ps(-INFINITY);
	float max = -INFINITY;
	double sum = 0.0;
	int i = 0;

	for (; i + 8 <= n; i += 8) {
		__m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), sv);
		_mm256_storeu_ps(x + i, v);
		mv = _mm256_max_ps(v, mv); /* NaN-free inputs: max is order-free */
	}
	for (; i < n; i++) {
		x[i] *= scale;
		max = x[i] > max ? x[i] : max;
	}
	float lanes[8];
	_mm256_storeu_ps(lanes, mv);
	for (int l = 0; l < 8; l++)
		max = lanes[l] > max ? lanes[l] : max;
	const __m256 maxv = _mm256_set1_ps(max);
	for (i = 0; i < n; i += 8) {
		__m256 e;
		if (i + 8 <= n) {
			e = expf8(_mm256_sub_ps(_mm256_loadu_ps(x + i), maxv));
			_mm256_storeu_ps(x + i, e);
		} else {
			float t[8] = {0};
			for (int l = 0; i + l < n; l++)
				t[l] = x[i + l] - max;
			e = expf8(_mm256_loadu_ps(t));
			_mm256_storeu_ps(t, e);
			for (int l = 0; l < 8; l++) {
				if (i + l < n)
					x[i + l] = t[l];
				else
					t[l] = 0.0f;
			}
			e = _mm256_loadu_ps(t);
		}
		/* hsum8: (lane l + lane l+4), then (0 + 2) + (1 + 3) */
		__m128 a = _mm_add_ps(_mm256_castps256_ps128(e), _mm256_extractf128_ps(e, 1));
		__m128 b = _mm_add_ps(a, _mm_movehl_ps(a, a));
		sum += (double)_mm_cvtss_f32(_mm_add_ss(b, _mm_movehdup_ps(b)));
	}
	const __m256 inv = _mm256_set1_ps((float)(1.0 / sum));
	for (i = 0; i + 8 <= n; i += 8)
		_mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
	for (; i < n; i++)
		x[i] *= (float)(1.0 / sum);
}
