/* repack_avx2: AVX2 + FMA + F16C matrix products over repacked weights
 * (quant/repack.h).  Callable only where floe_cpu_has_avx2_fma() is true;
 * reached through floe_matmul_range with a FLOE_TYPE_REPACKED type. */
#ifndef FLOE_QUANT_REPACK_AVX2_H
#define FLOE_QUANT_REPACK_AVX2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* out[t * out_stride + r] = dot(row r of w, activation row t) for the rows
 * [lo, hi) (multiples of 8) of a q4_0x8 matrix of n_cols columns and the
 * n_tok Q8_0 activation rows at act, a_bytes apart.  Every result has the
 * bits of the file-layout kernels (floe_vec_dot_q4_0_avx2, the Q4_0 GEMV
 * and prompt tile): the same integer block sums and the same chain of one
 * fma per block, acc = fma(isum, d_w * d_a, acc).  vnni as below. */
void floe_matmul_q4_0x8_avx2(int64_t n_cols, const void *w, int64_t lo, int64_t hi, const void *act,
			     size_t a_bytes, int64_t n_tok, float *out, int64_t out_stride, bool vnni);

/* The same for a q4_Kx8 matrix and Q8_K activation rows: tokens [0, n_gemm)
 * (a multiple of 4) in the order of llama.cpp's repacked GEMM, the rest in
 * its GEMV order, with the bits of quant_avx2.c's Q4_K kernels.  vnni: use
 * AVX-VNNI's vpdpbusd (only where floe_cpu_has_avx_vnni()); the integer
 * sums, and so the results, are the same either way. */
void floe_matmul_q4_Kx8_avx2(int64_t n_cols, const void *w, int64_t lo, int64_t hi, const void *act,
			     size_t a_bytes, int64_t n_tok, int64_t n_gemm, float *out, int64_t out_stride, bool vnni);

#endif
