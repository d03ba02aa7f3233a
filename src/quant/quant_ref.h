/* quant_ref: the plain-C reference kernels, one function per type.
 *
 * dequant: one row of n weights (n a multiple of the type's block) to f32,
 *   bit for bit what ggml's dequantize_row_* gives.
 * quantize_act: one row of n f32 activations to the activation type, byte
 *   for byte what ggml's CPU backend (x86 AVX2 build) gives.
 * vec_dot: one weight row with one activation row already converted to the
 *   weight type's act_type; integer sums per block, then scale, like ggml.
 *
 * floe_kernels_ref holds all of them; SIMD tables copy it and override. */
#ifndef FLOE_QUANT_QUANT_REF_H
#define FLOE_QUANT_QUANT_REF_H

#include <stdint.h>

#include "quant/quant.h"

extern const struct floe_kernels floe_kernels_ref;

void floe_dequant_f32_ref(const void *src, float *dst, int64_t n);
void floe_dequant_f16_ref(const void *src, float *dst, int64_t n);
void floe_dequant_bf16_ref(const void *src, float *dst, int64_t n);
void floe_dequant_q4_0_ref(const void *src, float *dst, int64_t n);
void floe_dequant_q4_1_ref(const void *src, float *dst, int64_t n);
void floe_dequant_q5_0_ref(const void *src, float *dst, int64_t n);
void floe_dequant_q5_1_ref(const void *src, float *dst, int64_t n);
void floe_dequant_q8_0_ref(const void *src, float *dst, int64_t n);
void floe_dequant_q2_K_ref(const void *src, float *dst, int64_t n);
void floe_dequant_q3_K_ref(const void *src, float *dst, int64_t n);
void floe_dequant_q4_K_ref(const void *src, float *dst, int64_t n);
void floe_dequant_q5_K_ref(const void *src, float *dst, int64_t n);
void floe_dequant_q6_K_ref(const void *src, float *dst, int64_t n);
void floe_dequant_iq4_nl_ref(const void *src, float *dst, int64_t n);
void floe_dequant_iq4_xs_ref(const void *src, float *dst, int64_t n);
void floe_dequant_mxfp4_ref(const void *src, float *dst, int64_t n);

float floe_vec_dot_f32_ref(int64_t n, const void *w, const void *act);
float floe_vec_dot_f16_ref(int64_t n, const void *w, const void *act);
float floe_vec_dot_bf16_ref(int64_t n, const void *w, const void *act);
float floe_vec_dot_q4_0_ref(int64_t n, const void *w, const void *act);
float floe_vec_dot_q4_1_ref(int64_t n, const void *w, const void *act);
float floe_vec_dot_q5_0_ref(int64_t n, const void *w, const void *act);
float floe_vec_dot_q5_1_ref(int64_t n, const void *w, const void *act);
float floe_vec_dot_q8_0_ref(int64_t n, const void *w, const void *act);
float floe_vec_dot_q2_K_ref(int64_t n, const void *w, const void *act);
float floe_vec_dot_q3_K_ref(int64_t n, const void *w, const void *act);
float floe_vec_dot_q4_K_ref(int64_t n, const void *w, const void *act);
float floe_vec_dot_q5_K_ref(int64_t n, const void *w, const void *act);
float floe_vec_dot_q6_K_ref(int64_t n, const void *w, const void *act);
float floe_vec_dot_iq4_nl_ref(int64_t n, const void *w, const void *act);
float floe_vec_dot_iq4_xs_ref(int64_t n, const void *w, const void *act);
float floe_vec_dot_mxfp4_ref(int64_t n, const void *w, const void *act);

void floe_quantize_act_f32_ref(const float *src, void *dst, int64_t n);	 /* plain copy */
void floe_quantize_act_f16_ref(const float *src, void *dst, int64_t n);	 /* RNE */
void floe_quantize_act_bf16_ref(const float *src, void *dst, int64_t n); /* ggml RNE */
/* q8_0: d = amax/127 (f16), q = round-half-even(x * (127/amax)). */
void floe_quantize_act_q8_0_ref(const float *src, void *dst, int64_t n);
/* q8_1: as q8_0, plus s = f16(d * sum(q)) with the unrounded f32 d. */
void floe_quantize_act_q8_1_ref(const float *src, void *dst, int64_t n);
/* q8_K: iscale = -127/max (max = signed first largest |x|), q = min(127,
 * nearest(iscale*x)), d = 1/iscale (f32), bsums of each 16. */
void floe_quantize_act_q8_K_ref(const float *src, void *dst, int64_t n);

#endif
