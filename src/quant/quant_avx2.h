/* quant_avx2: AVX2 + FMA + F16C kernels for the decode hot path.
 *
 * Every function here has a scalar twin in quant_ref.c and is tested against
 * it (tests/test_kernels.c).  Activation quantizers produce exactly the bytes
 * of the reference (they are what makes floe's logits equal llama.cpp's); dot
 * products agree with the reference up to f32 summation order.
 *
 * This header may be included anywhere, but the functions may only be called
 * on a CPU for which floe_cpu_has_avx2_fma() is true: quant_avx2.c is the only
 * file built with -mavx2 -mfma -mf16c.  Callers normally reach them through
 * floe_kernels_get(). */
#ifndef FLOE_QUANT_QUANT_AVX2_H
#define FLOE_QUANT_QUANT_AVX2_H

#include <stddef.h>
#include <stdint.h>

#include "quant/quant.h"

/* Activation converters (f32 -> activation type), n a multiple of the block. */
void floe_quantize_act_f16_avx2(const float *src, void *dst, int64_t n);
void floe_quantize_act_bf16_avx2(const float *src, void *dst, int64_t n);
void floe_quantize_act_q8_0_avx2(const float *src, void *dst, int64_t n);
void floe_quantize_act_q8_1_avx2(const float *src, void *dst, int64_t n);
void floe_quantize_act_q8_K_avx2(const float *src, void *dst, int64_t n);

/* Dot products: weight row w (n elements of the type) with an activation row
 * already converted to the type's activation type. */
float floe_vec_dot_f32_avx2(int64_t n, const void *w, const void *act);
float floe_vec_dot_f16_avx2(int64_t n, const void *w, const void *act);
float floe_vec_dot_bf16_avx2(int64_t n, const void *w, const void *act);
float floe_vec_dot_q4_0_avx2(int64_t n, const void *w, const void *act);
float floe_vec_dot_q4_1_avx2(int64_t n, const void *w, const void *act);
float floe_vec_dot_q5_0_avx2(int64_t n, const void *w, const void *act);
float floe_vec_dot_q5_1_avx2(int64_t n, const void *w, const void *act);
float floe_vec_dot_q8_0_avx2(int64_t n, const void *w, const void *act);
float floe_vec_dot_iq4_nl_avx2(int64_t n, const void *w, const void *act);
float floe_vec_dot_iq4_xs_avx2(int64_t n, const void *w, const void *act);
float floe_vec_dot_mxfp4_avx2(int64_t n, const void *w, const void *act);
float floe_vec_dot_q2_K_avx2(int64_t n, const void *w, const void *act);
float floe_vec_dot_q3_K_avx2(int64_t n, const void *w, const void *act);
float floe_vec_dot_q4_K_avx2(int64_t n, const void *w, const void *act);
float floe_vec_dot_q5_K_avx2(int64_t n, const void *w, const void *act);
float floe_vec_dot_q6_K_avx2(int64_t n, const void *w, const void *act);

/* One weight row against n_act (1..FLOE_ROWS_MAX) activation rows that are
 * act_stride bytes apart: out[t] = dot(w, act + t * act_stride).  Each result
 * has exactly the bits of the one-row kernel (prompt processing gives the
 * same numbers as token-by-token decoding); the weights are loaded and
 * unpacked once for all rows. */
#define FLOE_ROWS_MAX 4
typedef void (*floe_vec_dot_rows_fn)(int64_t n, const void *w, const void *act, size_t act_stride, int n_act,
				     float *out);

/* The multi-row kernel for a weight type, or NULL (use the one-row kernel). */
floe_vec_dot_rows_fn floe_vec_dot_rows_avx2(uint32_t type);
/* Multi-row kernels in llama.cpp's repacked-GEMM order where it differs
 * from the GEMV order of the kernels above (Q4_K); NULL otherwise. */
floe_vec_dot_rows_fn floe_vec_dot_rows_gemm_avx2(uint32_t type);

/* Several tokens over a tile of n_rows weight rows (w_stride bytes apart) at
 * once, out[t * out_stride + r], with the rows kernel's bits: for types
 * whose activation-only work can be shared by the rows of a tile.  NULL for
 * the others. */
typedef void (*floe_vec_dot_tile_fn)(int64_t n, const void *w, size_t w_stride, long n_rows, const uint8_t *act,
				     size_t act_stride, int n_act, float *out, int64_t out_stride);
floe_vec_dot_tile_fn floe_vec_dot_tile_avx2(uint32_t type);

/* Decode: one activation row against n_rows (1..FLOE_GEMV_ROWS) consecutive
 * weight rows w, w + w_stride, ...; out[r] gets the same bits as the type's
 * one-row vec_dot.  Several rows at once share the activation loads and
 * the per-block float work (each row's chain in its own lane), which is
 * where a decode token spends its time.  NULL for types without one. */
#define FLOE_GEMV_ROWS 8
typedef void (*floe_gemv_fn)(int64_t n, const void *w, size_t w_stride, int n_rows, const void *act, float *out);

floe_gemv_fn floe_gemv_avx2(uint32_t type);

/* Overwrite the entries of k that have an AVX2 kernel (k starts as a copy of
 * the reference table). */
void floe_kernels_avx2_fill(struct floe_kernels *k);

#endif
