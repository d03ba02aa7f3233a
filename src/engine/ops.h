/* ops: the element-wise and row operations of the forward pass, written to
 * round exactly like ggml's CPU backend (AVX2 build) so that floe's logits
 * match llama.cpp's to ~1e-6 rather than ~1e-3:
 *   - RMSNorm sums x*x (f32 products) in double, mean and scale in f32;
 *   - softmax and SiLU use ggml's vectorised expf polynomial (reproduced in
 *     scalar with fmaf, which is bit-identical to the FMA lanes), and the
 *     softmax sum adds 8-lane f32 partial sums into a double in ggml's
 *     horizontal-add order;
 *   - RoPE advances theta by repeated multiplication with base^(-2/n_rot),
 *     like ggml's rope cache, not by powf per dimension.
 * All functions are pure and allocate nothing. */
#ifndef FLOE_ENGINE_OPS_H
#define FLOE_ENGINE_OPS_H

#include <stdint.h>

/* ggml_v_expf: exp(x) to ~1 ulp, identical to ggml's AVX2/FMA lanes. */
float floe_expf_ggml(float x);

/* y[i] = x[i] * (1/sqrt(mean(x^2) + eps)) * w[i]; y may alias x. */
void floe_rms_norm(float *y, const float *x, const float *w, int n, float eps);

/* In-place softmax of x[0..n) after multiplying by scale (masked entries are
 * simply not passed: they would contribute exp(-inf) = 0). */
void floe_softmax(float *x, int n, float scale);

/* NEOX RoPE on one head of n_rot values at position pos: pairs
 * (i, i + n_rot/2) rotated by theta_i = pos * base^(-2i/n_rot). */
void floe_rope_neox(float *x, int n_rot, int pos, float base);
/* Normal (GPT-J) style: pairs (2i, 2i+1). */
void floe_rope_norm(float *x, int n_rot, int pos, float base);

/* y[i] = silu(g[i]) * u[i] with silu(x) = x / (1 + exp(-x)). */
void floe_swiglu(float *y, const float *g, const float *u, int n);

#endif
