/* repack: the x8 layouts (repack.h), built and taken apart in place one
 * group of 8 rows at a time through a stack copy of the group.
 *
 * Both layouts follow one rule: a block is a run of fields cut into chunks
 * (2 bytes for the f16 scales, 4 bytes for everything after them), and the
 * group block holds, chunk by chunk, that chunk of rows 0..7 side by side:
 * 2-byte chunk c of row r goes to 16 c + 2 r, 4-byte chunk c (after n2
 * 2-byte ones) to 16 n2 + 32 c + 4 r. */
#include "quant/repack.h"

#include <string.h>

#include "base/status.h"
#include "quant/quant.h"
#include "quant/quant_blocks.h"

#define R FLOE_REPACK_ROWS
#define MAX_GROUP_BYTES ((size_t)FLOE_REPACK_MAX_COLS / 32 * R * sizeof(struct block_q4_0))

_Static_assert((size_t)FLOE_REPACK_MAX_COLS / 256 * R * sizeof(struct block_q4_K) <= MAX_GROUP_BYTES,
	       "a Q4_K group fits the stack copy");

/* Elements per block of a type that has an x8 layout, 0 for the others. */
static int64_t block_elems(uint32_t type)
{
	return type == FLOE_TYPE_Q4_0 ? 32 : type == FLOE_TYPE_Q4_K ? 256 : 0;
}

bool floe_repack_supported(uint32_t type, int64_t rows, int64_t cols)
{
	const int64_t elems = block_elems(type);

	return elems && rows > 0 && rows % R == 0 && cols > 0 && cols % elems == 0 && cols <= FLOE_REPACK_MAX_COLS;
}

/* One row's block between the file's layout (plain) and its group block
 * (packed): n2 2-byte chunks, then n4 4-byte chunks.  Inlined with the
 * types' constant counts, every copy is a plain load and store. */
static inline __attribute__((always_inline)) void move_block(uint8_t *packed, uint8_t *plain, int r, size_t n2,
							      size_t n4, bool pack)
{
	for (size_t c = 0; c < n2; c++) {
		uint8_t *p = packed + R * 2 * c + 2 * (size_t)r, *q = plain + 2 * c;
		memcpy(pack ? p : q, pack ? q : p, 2);
	}
	for (size_t c = 0; c < n4; c++) {
		uint8_t *p = packed + R * 2 * n2 + R * 4 * c + 4 * (size_t)r, *q = plain + 2 * n2 + 4 * c;
		memcpy(pack ? p : q, pack ? q : p, 4);
	}
}

static inline __attribute__((always_inline)) void convert_as(void *data, int64_t rows, int64_t nb, size_t block,
							      size_t n2, bool pack)
{
	const size_t n4 = (block - 2 * n2) / 4, group_bytes = (size_t)nb * R * block;
	uint8_t tmp[MAX_GROUP_BYTES];

	for (int64_t g = 0; g < rows / R; g++) {
		uint8_t *grp = (uint8_t *)data + (size_t)g * group_bytes;
		memcpy(tmp, grp, group_bytes);
		for (int r = 0; r < R; r++)
			for (int64_t b = 0; b < nb; b++) {
				size_t plain = ((size_t)r * (size_t)nb + (size_t)b) * block, packed = (size_t)b * R * block;
				if (pack)
					move_block(grp + packed, tmp + plain, r, n2, n4, true);
				else
					move_block(tmp + packed, grp + plain, r, n2, n4, false);
			}
	}
}

static void convert(uint32_t type, void *data, int64_t rows, int64_t cols, bool pack)
{
	FLOE_ASSERT(floe_repack_supported(type, rows, cols));
	if (type == FLOE_TYPE_Q4_0) {
		if (pack)
			convert_as(data, rows, cols / 32, sizeof(struct block_q4_0), 1, true);
		else
			convert_as(data, rows, cols / 32, sizeof(struct block_q4_0), 1, false);
	} else {
		if (pack)
			convert_as(data, rows, cols / 256, sizeof(struct block_q4_K), 2, true);
		else
			convert_as(data, rows, cols / 256, sizeof(struct block_q4_K), 2, false);
	}
}

void floe_repack_rows(uint32_t type, void *data, int64_t rows, int64_t cols)
{
	convert(type, data, rows, cols, true);
}

void floe_unpack_rows(uint32_t type, void *data, int64_t rows, int64_t cols)
{
	convert(type, data, rows, cols, false);
}
