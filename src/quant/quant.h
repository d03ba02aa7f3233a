/* quant: GGML weight types — the type table, scalar reference kernels, and
 * the run-time selected kernel table.
 *
 * Every weight type has a partner "activation type" (ggml's vec_dot_type):
 * before a dot product the f32 activations are converted to it exactly as
 * ggml's CPU backend does (F16 -> f16, BF16 -> bf16, Q4_0/Q5_0/Q8_0/IQ4_NL/
 * MXFP4 -> Q8_0, Q4_1/Q5_1 -> Q8_1, K-quants and IQ4_XS -> Q8_K, F32 -> F32),
 * so floe's logits can match llama.cpp's.  A dot product takes one weight row
 * and one converted activation row of n elements (n a multiple of the block).
 *
 * Reference kernels (*_ref) are plain C and the ground truth; SIMD kernels
 * (quant_avx2.c) are tested against them.  floe_kernels_get picks the best
 * table for this CPU, or the reference table when asked. */
#ifndef FLOE_QUANT_QUANT_H
#define FLOE_QUANT_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ggml type ids, as stored in GGUF tensor infos. */
enum floe_type {
	FLOE_TYPE_F32 = 0,
	FLOE_TYPE_F16 = 1,
	FLOE_TYPE_Q4_0 = 2,
	FLOE_TYPE_Q4_1 = 3,
	FLOE_TYPE_Q5_0 = 6,
	FLOE_TYPE_Q5_1 = 7,
	FLOE_TYPE_Q8_0 = 8,
	FLOE_TYPE_Q8_1 = 9,
	FLOE_TYPE_Q2_K = 10,
	FLOE_TYPE_Q3_K = 11,
	FLOE_TYPE_Q4_K = 12,
	FLOE_TYPE_Q5_K = 13,
	FLOE_TYPE_Q6_K = 14,
	FLOE_TYPE_Q8_K = 15,
	FLOE_TYPE_IQ2_XXS = 16,
	FLOE_TYPE_IQ2_XS = 17,
	FLOE_TYPE_IQ3_XXS = 18,
	FLOE_TYPE_IQ1_S = 19,
	FLOE_TYPE_IQ4_NL = 20,
	FLOE_TYPE_IQ3_S = 21,
	FLOE_TYPE_IQ2_S = 22,
	FLOE_TYPE_IQ4_XS = 23,
	FLOE_TYPE_I8 = 24,
	FLOE_TYPE_I16 = 25,
	FLOE_TYPE_I32 = 26,
	FLOE_TYPE_I64 = 27,
	FLOE_TYPE_F64 = 28,
	FLOE_TYPE_IQ1_M = 29,
	FLOE_TYPE_BF16 = 30,
	FLOE_TYPE_TQ1_0 = 34,
	FLOE_TYPE_TQ2_0 = 35,
	FLOE_TYPE_MXFP4 = 39,
	FLOE_TYPE_COUNT = 40, /* one past the largest id; table size */
};

struct floe_type_info {
	const char *name;       /* ggml's name: "q4_K", "f16", ... */
	uint32_t block_elems;   /* elements per block (1 for f32/f16/bf16) */
	uint32_t block_bytes;   /* bytes per block */
	uint32_t act_type;      /* partner activation type for dot products */
	bool supported;         /* floe can dequantize and dot this type as weights */
};

/* Table entry for a type id, or NULL if the id is not a known ggml type.
 * Known but unsupported types (IQ2/IQ3/IQ1, ...) have supported = false. */
const struct floe_type_info *floe_type_info(uint32_t type);
const char *floe_type_name(uint32_t type); /* "unknown" for unknown ids */

struct floe_err;
/* 0 if floe can compute with weights of this type; otherwise FLOE_EUNSUPPORTED
 * with "unsupported weight type iq2_xxs (id 16)" (or "unknown weight type id
 * N") in err.  Call before handing a type to any kernel below: the kernels
 * assume a supported type. */
int floe_type_check_supported(uint32_t type, struct floe_err *err);

/* Bytes of a row of n elements; 0 if n is not a multiple of the block size or
 * the type is unknown. */
uint64_t floe_type_row_bytes(uint32_t type, uint64_t n);

/* Scalar conversions, round-to-nearest-even like ggml. */
float floe_f16_to_f32(uint16_t h);
uint16_t floe_f32_to_f16(float f);
float floe_bf16_to_f32(uint16_t h);
uint16_t floe_f32_to_bf16(float f);

/* Reference kernels: ground truth.  n is a multiple of the block size. */
void floe_dequant_row_ref(uint32_t type, const void *src, float *dst, int64_t n);
void floe_quantize_act_ref(uint32_t act_type, const float *src, void *dst, int64_t n);
float floe_vec_dot_ref(uint32_t type, int64_t n, const void *w, const void *act);

/* Weight quantizer (for floe mkmodel and tests): f32 -> type, for every
 * supported type.  q4_0..q8_0, f16 and bf16 give ggml's exact bytes; the
 * K-quants, iq4_nl/iq4_xs and mxfp4 use a small scale search per sub-block
 * (not ggml's, but with no more RMS error on the fixtures). */
void floe_quantize_row_ref(uint32_t type, const float *src, void *dst, int64_t n);

typedef void (*floe_quantize_fn)(const float *src, void *dst, int64_t n);
typedef float (*floe_vec_dot_fn)(int64_t n, const void *w, const void *act);
typedef void (*floe_dequant_fn)(const void *src, float *dst, int64_t n);

/* A kernel table: one function per type id (NULL where unsupported). */
struct floe_kernels {
	const char *isa;                                /* "ref" or "avx2" */
	floe_quantize_fn quantize_act[FLOE_TYPE_COUNT]; /* indexed by activation type */
	floe_vec_dot_fn vec_dot[FLOE_TYPE_COUNT];       /* indexed by weight type */
	floe_dequant_fn dequant_row[FLOE_TYPE_COUNT];   /* indexed by weight type */
};

/* The best table for this CPU (CPUID + XGETBV), or the reference table if
 * force_ref.  Tables are static and immutable; the pointer lives forever. */
const struct floe_kernels *floe_kernels_get(bool force_ref);
bool floe_cpu_has_avx2_fma(void);
/* AVX-VNNI (VEX vpdpbusd) on top of the AVX2 set: the repacked kernels use
 * it when present (same results). */
bool floe_cpu_has_avx_vnni(void);

/* Matrix-vector products over a slice of rows, for one thread of a pool.
 * W: n_rows rows of n_cols elements of `type`, consecutive.  act: n_tok
 * activation rows already converted to the type's act_type, each
 * floe_type_row_bytes(act_type, n_cols) bytes apart.  out[t * out_stride + r]
 * = dot(W row r, act row t) for rows r in this thread's share of [0, n_rows). */
void floe_matmul(const struct floe_kernels *k, uint32_t type, const void *w, int64_t n_rows,
		 int64_t n_cols, const void *act, int64_t n_tok, float *out, int64_t out_stride,
		 int ith, int nth);

/* floe_matmul for a dense weight as llama.cpp multiplies it: its repacked
 * GEMM (activation rows 0..n_gemm, a multiple of 4 in llama.cpp) sums some
 * types (Q4_K) in another order than its GEMV (the other rows, and every
 * row of an expert matmul).  The same as floe_matmul where the orders agree
 * or with the reference table. */
void floe_matmul_gemm(const struct floe_kernels *k, uint32_t type, const void *w, int64_t n_rows,
		      int64_t n_cols, const void *act, int64_t n_tok, int64_t n_gemm, float *out,
		      int64_t out_stride, int ith, int nth);

/* floe_matmul_gemm for the rows [lo, hi) only (any thread, any order: the
 * result of each row does not depend on how rows are split); n_gemm = 0 is
 * floe_matmul. */
void floe_matmul_range(const struct floe_kernels *k, uint32_t type, const void *w, int64_t n_cols,
		       const void *act, int64_t n_tok, int64_t n_gemm, float *out, int64_t out_stride, int64_t lo,
		       int64_t hi);

/* Rows per chunk when nth threads take chunks of an n_rows matrix
 * dynamically: a multiple of 16 (and of the multi-token tile). */
int64_t floe_matmul_chunk_rows(uint32_t type, int64_t n_rows, int64_t n_cols, int64_t n_tok, int nth);

#endif
