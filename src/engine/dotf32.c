/* dotf32: reference (scalar fmaf) f32 dots in ggml's orders, and the
 * run-time choice between them and the AVX2 variants. */

/* Exact ggml rounding needs every a*b+c rounded twice unless written as
 * fmaf: no contraction (GCC's ISO C mode already does not contract). */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif
#include "engine/dotf32.h"

#include <math.h>

#include "quant/quant.h"

float floe_dot_vec_ref(const float *x, const float *y, int n)
{
	float acc[4][8] = {{0}};
	const int np = n & ~31;
	float lanes[8], sum;

	for (int i = 0; i < np; i += 32)
		for (int a = 0; a < 4; a++)
			for (int l = 0; l < 8; l++)
				acc[a][l] = fmaf(x[i + a * 8 + l], y[i + a * 8 + l], acc[a][l]);
	for (int l = 0; l < 8; l++)
		lanes[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
	sum = floe_lanes_vec(lanes);
	for (int i = np; i < n; i++)
		sum += x[i] * y[i];
	return sum;
}

float floe_dot_tiny_ref(const float *x, const float *y, int n)
{
	float acc[8] = {0};

	for (int i = 0; i < n; i += 8)
		for (int l = 0; l < 8; l++)
			acc[l] = fmaf(x[i + l], y[i + l], acc[l]);
	return floe_lanes_tiny(acc);
}

void floe_fma_row_ref(float *acc, const float *v, float p, int n)
{
	for (int i = 0; i < n; i++)
		acc[i] = fmaf(v[i], p, acc[i]);
}

static const struct floe_dotf32 dotf32_ref = {floe_dot_vec_ref, floe_dot_tiny_ref, floe_fma_row_ref};
static const struct floe_dotf32 dotf32_avx2 = {floe_dot_vec_avx2, floe_dot_tiny_avx2, floe_fma_row_avx2};

const struct floe_dotf32 *floe_dotf32_get(bool force_ref)
{
	return !force_ref && floe_cpu_has_avx2_fma() ? &dotf32_avx2 : &dotf32_ref;
}
