/* dotf32: f32 dot products and row updates in the exact summation orders of
 * ggml's CPU backend on AVX2, so attention and the f32 router round like
 * llama.cpp.  Attention is where this matters: q.k and p.V feed softmax and
 * then Q8 activation rounding, and a different f32 order flips some of those
 * roundings (measured: 0.03 logit jumps on the fixtures).
 *
 *   vec order  ggml_vec_dot_f32: four 8-lane FMA accumulators over 32-wide
 *              steps (element i goes to accumulator (i/8)%4, lane i%8), then
 *              (a0+a2)+(a1+a3), then lanes (l0+l4, l1+l5, l2+l6, l3+l7)
 *              summed as (t0+t1)+(t2+t3); a tail past the last 32 is added in
 *              f32 afterwards.  ggml uses it for every f32 matmul with one
 *              token, and for q.k always (q is a permuted view).
 *   tiny order llamafile's tinyBLAS sgemm (f32 matmuls of >= 2 tokens): one
 *              8-lane FMA accumulator (element i to lane i%8), then
 *              (l0+l4)+(l2+l6) + (l1+l5)+(l3+l7).  n must be a multiple of 8.
 *
 * The AVX2 variants are bit-identical to the reference ones (fmaf is exactly
 * one fused rounding either way); floe_dotf32_get picks one. */
#ifndef FLOE_ENGINE_DOTF32_H
#define FLOE_ENGINE_DOTF32_H

#include <stdbool.h>

struct floe_dotf32 {
	float (*dot_vec)(const float *x, const float *y, int n);
	float (*dot_tiny)(const float *x, const float *y, int n);
	/* acc[i] = fmaf(v[i], p, acc[i]) for i < n */
	void (*fma_row)(float *acc, const float *v, float p, int n);
};

const struct floe_dotf32 *floe_dotf32_get(bool force_ref);

float floe_dot_vec_ref(const float *x, const float *y, int n);
float floe_dot_tiny_ref(const float *x, const float *y, int n);
void floe_fma_row_ref(float *acc, const float *v, float p, int n);
float floe_dot_vec_avx2(const float *x, const float *y, int n);
float floe_dot_tiny_avx2(const float *x, const float *y, int n);
void floe_fma_row_avx2(float *acc, const float *v, float p, int n);

/* Reduce 8 lane sums the way each order does. */
static inline float floe_lanes_tiny(const float *l)
{
	float a0 = l[0] + l[4], a1 = l[1] + l[5], a2 = l[2] + l[6], a3 = l[3] + l[7];
	return (a0 + a2) + (a1 + a3);
}

static inline float floe_lanes_vec(const float *l)
{
	float t0 = l[0] + l[4], t1 = l[1] + l[5], t2 = l[2] + l[6], t3 = l[3] + l[7];
	return (t0 + t1) + (t2 + t3);
}

#endif
