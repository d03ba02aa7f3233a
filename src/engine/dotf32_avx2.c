/* dotf32_avx2: the dotf32 orders with AVX2/FMA intrinsics; bit-identical to
 * the reference versions in dotf32.c. */

/* Exact ggml rounding needs every a*b+c rounded twice unless written as
 * fmaf: no contraction (GCC's ISO C mode already does not contract). */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif
#include <immintrin.h>

#include "engine/dotf32.h"

float floe_dot_vec_avx2(const float *x, const float *y, int n)
{
	__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
	const int np = n & ~31;
	float lanes[8], sum;

	for (int i = 0; i < np; i += 32) {
		a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
		a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
		a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), a2);
		a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), a3);
	}
	_mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_add_ps(a0, a2), _mm256_add_ps(a1, a3)));
	sum = floe_lanes_vec(lanes);
	for (int i = np; i < n; i++)
		sum += x[i] * y[i];
	return sum;
}

float floe_dot_tiny_avx2(const float *x, const float *y, int n)
{
	__m256 acc = _mm256_setzero_ps();
	float lanes[8];

	for (int i = 0; i < n; i += 8)
		acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc);
	_mm256_storeu_ps(lanes, acc);
	return floe_lanes_tiny(lanes);
}

void floe_fma_row_avx2(float *acc, const float *v, float p, int n)
{
	const __m256 pv = _mm256_set1_ps(p);
	int i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(acc + i, _mm256_fmadd_ps(_mm256_loadu_ps(v + i), pv, _mm256_loadu_ps(acc + i)));
	for (; i < n; i++)
		acc[i] = __builtin_fmaf(v[i], p, acc[i]);
}
