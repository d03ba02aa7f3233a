/* act_avx2: AVX2 twins of ops.c's element-wise activations, bit-identical to
 * them (tests/test_engine.c compares every bit).  Only for CPUs where
 * floe_cpu_has_avx2_fma() is true. */
#ifndef FLOE_ENGINE_ACT_AVX2_H
#define FLOE_ENGINE_ACT_AVX2_H

/* y = silu(g) * u, exactly floe_swiglu's bits. */
void floe_swiglu_avx2(float *y, const float *g, const float *u, int n);

/* In place softmax(scale * x), exactly floe_softmax's bits. */
void floe_softmax_avx2(float *x, int n, float scale);

#endif
