/* repack: weight rows rearranged once, at load, for faster kernels.
 *
 * The file's Q4_0 layout keeps each row's 32-element blocks together, so a
 * dot product ends every block with a horizontal sum per row (the block's
 * integer sum meets its scale before the next block).  floe keeps Q4_0
 * matrices whose row count is a multiple of 8 as "q4_0x8" instead: each group
 * of 8 consecutive rows is stored block by block, and per block
 *
 *     16 bytes   the 8 rows' f16 scales, row 0 first
 *    128 bytes   the 8 rows' 16 quant bytes in 4-byte pieces: piece m
 *                (bytes 4m..4m+3 of the block's qs) of rows 0..7, for
 *                m = 0, 1, 2, 3
 *
 * One 32-byte load then holds piece m of all 8 rows, row r in 32-bit lane r:
 * its low nibbles are elements 4m..4m+3, its high nibbles 16+4m..16+4m+3
 * (quant bytes are not changed, only moved).  A kernel keeps row r's sum in
 * lane r and needs no horizontal sums.  A group takes exactly the bytes of
 * its 8 rows, so repacking works in place and rows [lo, hi) with lo and hi
 * multiples of 8 stay at the same byte range.
 *
 * A repacked matrix is handed to floe_matmul* as its type with
 * FLOE_TYPE_REPACKED set; only the AVX2 kernel table multiplies it (the
 * engine repacks only when that table is in use). */
#ifndef FLOE_QUANT_REPACK_H
#define FLOE_QUANT_REPACK_H

#include <stdbool.h>
#include <stdint.h>

#define FLOE_TYPE_REPACKED 0x10000u
#define FLOE_REPACK_ROWS 8
/* Longest row repacked: repacking copies a group of 8 rows to the stack
 * (36 KiB), and the kernels keep per-block activation work there.  Longer
 * rows keep the file's layout. */
#define FLOE_REPACK_MAX_COLS 8192

/* The file's type id of a possibly repacked type id. */
static inline uint32_t floe_type_base(uint32_t type)
{
	return type & ~FLOE_TYPE_REPACKED;
}

/* Whether a rows x cols matrix of this (file) type can be repacked. */
bool floe_repack_supported(uint32_t type, int64_t rows, int64_t cols);

/* Rearrange a matrix in place into / out of the repacked layout; the type
 * must be supported for this shape.  unpack exists for tests. */
void floe_repack_rows(uint32_t type, void *data, int64_t rows, int64_t cols);
void floe_unpack_rows(uint32_t type, void *data, int64_t rows, int64_t cols);

#endif
