/* quant_blocks: the in-memory (and in-file) layout of every supported ggml
 * quantization block, shared by the reference kernels (quant_ref.c) and the
 * SIMD kernels (quant_avx2.c).  Internal to src/quant.
 *
 * Layouts are ggml's, byte for byte, because GGUF tensors are read straight
 * from the file into these structs.  All multi-byte fields are little-endian;
 * "f16" fields hold IEEE half bits (use floe_f16_to_f32).  Each struct size
 * is checked against ggml's block size so a mistake fails the build. */
#ifndef FLOE_QUANT_QUANT_BLOCKS_H
#define FLOE_QUANT_QUANT_BLOCKS_H

#include <stdint.h>

#define QK4_0	     32
#define QK4_1	     32
#define QK5_0	     32
#define QK5_1	     32
#define QK8_0	     32
#define QK8_1	     32
#define QK_K	     256
#define QK4_NL	     32
#define QK_MXFP4     32
#define K_SCALE_SIZE 12

/* q4_0: x = d * (q - 8); q[j] in low nibble of qs[j], q[j+16] in the high. */
struct block_q4_0 {
	uint16_t d; /* f16 */
	uint8_t qs[QK4_0 / 2];
};

/* q4_1: x = d * q + m, nibbles as q4_0. */
struct block_q4_1 {
	uint16_t d; /* f16 */
	uint16_t m; /* f16 */
	uint8_t qs[QK4_1 / 2];
};

/* q5_0: x = d * (q - 16); low 4 bits as q4_0, bit 4 of q[j] is bit j of qh. */
struct block_q5_0 {
	uint16_t d; /* f16 */
	uint8_t qh[4];
	uint8_t qs[QK5_0 / 2];
};

/* q5_1: x = d * q + m, bits as q5_0. */
struct block_q5_1 {
	uint16_t d; /* f16 */
	uint16_t m; /* f16 */
	uint8_t qh[4];
	uint8_t qs[QK5_1 / 2];
};

/* q8_0: x = d * q. */
struct block_q8_0 {
	uint16_t d; /* f16 */
	int8_t qs[QK8_0];
};

/* q8_1 (activations only): x = d * q; s = d * sum(q), both stored as f16. */
struct block_q8_1 {
	uint16_t d; /* f16 */
	uint16_t s; /* f16 */
	int8_t qs[QK8_1];
};

/* q2_K: 16 sub-blocks of 16; scales[i] low nibble = scale, high = min;
 * x = d * sc * q - dmin * m, q 2 bits packed 4 per byte in qs. */
struct block_q2_K {
	uint8_t scales[QK_K / 16];
	uint8_t qs[QK_K / 4];
	uint16_t d;    /* f16 */
	uint16_t dmin; /* f16 */
};

/* q3_K: 16 sub-blocks of 16 with 6-bit signed scales (packed in 12 bytes,
 * stored +32); x = d * (sc - 32) * (q - (hbit ? 0 : 4)). */
struct block_q3_K {
	uint8_t hmask[QK_K / 8];
	uint8_t qs[QK_K / 4];
	uint8_t scales[12];
	uint16_t d; /* f16 */
};

/* q4_K: 8 sub-blocks of 32 with 6-bit scales and mins packed in 12 bytes
 * (see floe_get_scale_min_k4); x = d * sc * q - dmin * m. */
struct block_q4_K {
	uint16_t d;    /* f16 */
	uint16_t dmin; /* f16 */
	uint8_t scales[K_SCALE_SIZE];
	uint8_t qs[QK_K / 2];
};

/* q5_K: as q4_K with a fifth bit per value in qh. */
struct block_q5_K {
	uint16_t d;    /* f16 */
	uint16_t dmin; /* f16 */
	uint8_t scales[K_SCALE_SIZE];
	uint8_t qh[QK_K / 8];
	uint8_t qs[QK_K / 2];
};

/* q6_K: 16 sub-blocks of 16 with int8 scales; x = d * sc * (q - 32). */
struct block_q6_K {
	uint8_t ql[QK_K / 2];
	uint8_t qh[QK_K / 4];
	int8_t scales[QK_K / 16];
	uint16_t d; /* f16 */
};

/* q8_K (activations only): f32 scale, and the sums of each 16 quants. */
struct block_q8_K {
	float d;
	int8_t qs[QK_K];
	int16_t bsums[QK_K / 16];
};

/* iq4_nl: x = d * floe_iq4nl_values[q], nibbles as q4_0. */
struct block_iq4_nl {
	uint16_t d; /* f16 */
	uint8_t qs[QK4_NL / 2];
};

/* iq4_xs: 8 sub-blocks of 32 with 6-bit scales (low 4 bits in scales_l,
 * high 2 in scales_h), x = d * (ls - 32) * floe_iq4nl_values[q]. */
struct block_iq4_xs {
	uint16_t d; /* f16 */
	uint16_t scales_h;
	uint8_t scales_l[QK_K / 64];
	uint8_t qs[QK_K / 2];
};

/* mxfp4: e8m0 shared exponent e; x = 2^(e-128) * floe_mxfp4_values[q]
 * (the table holds e2m1 values doubled, hence the -128 instead of -127). */
struct block_mxfp4 {
	uint8_t e;
	uint8_t qs[QK_MXFP4 / 2];
};

_Static_assert(sizeof(struct block_q4_0) == 18, "block_q4_0 size");
_Static_assert(sizeof(struct block_q4_1) == 20, "block_q4_1 size");
_Static_assert(sizeof(struct block_q5_0) == 22, "block_q5_0 size");
_Static_assert(sizeof(struct block_q5_1) == 24, "block_q5_1 size");
_Static_assert(sizeof(struct block_q8_0) == 34, "block_q8_0 size");
_Static_assert(sizeof(struct block_q8_1) == 36, "block_q8_1 size");
_Static_assert(sizeof(struct block_q2_K) == 84, "block_q2_K size");
_Static_assert(sizeof(struct block_q3_K) == 110, "block_q3_K size");
_Static_assert(sizeof(struct block_q4_K) == 144, "block_q4_K size");
_Static_assert(sizeof(struct block_q5_K) == 176, "block_q5_K size");
_Static_assert(sizeof(struct block_q6_K) == 210, "block_q6_K size");
_Static_assert(sizeof(struct block_q8_K) == 292, "block_q8_K size");
_Static_assert(sizeof(struct block_iq4_nl) == 18, "block_iq4_nl size");
_Static_assert(sizeof(struct block_iq4_xs) == 136, "block_iq4_xs size");
_Static_assert(sizeof(struct block_mxfp4) == 17, "block_mxfp4 size");

/* Non-linear 4-bit code books (defined in quant_ref.c). */
extern const int8_t floe_iq4nl_values[16];
extern const int8_t floe_mxfp4_values[16]; /* e2m1 values times 2 */

/* Scale and min j (0..7) of a q4_K/q5_K block from its packed 12 bytes:
 * j < 4: low 6 bits of q[j] and q[j+4]; j >= 4: low nibble of q[j+4] plus
 * the top 2 bits of q[j-4] (scale) / q[j] (min). */
static inline void floe_get_scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m)
{
	if (j < 4) {
		*sc = q[j] & 63;
		*m = q[j + 4] & 63;
	} else {
		*sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
		*m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
	}
}

/* ggml's nearest_int: round half to even through the 1.5*2^23 magic
 * constant; exact for |x| < 2^22 (callers keep |x| far below that). */
static inline int floe_nearest_int(float x)
{
	union {
		float f;
		int32_t i;
	} v;
	v.f = x + 12582912.f;
	return (v.i & 0x007fffff) - 0x00400000;
}

/* ggml's e8m0 -> f32 for mxfp4, halved (2^(e-128)); e = 0 gives 2^-128,
 * built from raw bits since it is subnormal. */
static inline float floe_e8m0_to_f32_half(uint8_t e)
{
	union {
		uint32_t u;
		float f;
	} v;
	v.u = e < 2 ? (0x00200000u << e) : ((uint32_t)(e - 1) << 23);
	return v.f;
}

#endif
