/* repack: weight rows rearranged once, at load, for faster kernels.
 *
 * The file's layouts keep each row's blocks together, so a dot product ends
 * every block (or 64-element piece) with a horizontal sum per row before
 * the block's scale can be applied.  floe keeps Q4_0 and Q4_K matrices whose
 * row count is a multiple of 8 in "x8" layouts instead: each group of 8
 * consecutive rows is stored block by block, and per block the 8 rows' bytes
 * are interleaved in chunks:
 *
 *   q4_0x8, 144 bytes per block:
 *      16  the 8 rows' f16 scales d, row 0 first
 *     128  the quant bytes in 4-byte pieces: piece m (qs bytes 4m..4m+3)
 *          of rows 0..7, for m = 0..3
 *   q4_Kx8, 1152 bytes per 256-element super-block:
 *      16  d of rows 0..7;  16  dmin of rows 0..7
 *      96  the 12 packed 6-bit scale/min bytes in 4-byte pieces (bytes
 *          0..3 of rows 0..7, then 4..7, then 8..11)
 *    1024  the quant bytes in 4-byte pieces: piece q (qs bytes 4q..4q+3)
 *          of rows 0..7, for q = 0..31
 *
 * One 32-byte load then holds one piece of all 8 rows, row r in 32-bit lane
 * r (bytes are moved, never changed), so a kernel keeps row r's sums in lane
 * r and needs no horizontal sums.  A group takes exactly the bytes of its 8
 * rows, so repacking works in place and rows [lo, hi) with lo and hi
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
