/* repack: the x8 layouts (repack.h), built and taken apart in place one
 * group of 8 rows at a time through a stack copy of the group.
 *
 * Both layouts follow one rule: a block is a run of fields cut into chunks
 * (2 bytes for the f16 scales, 4 bytes for everything after them), and the
 * group block holds, field by field and chunk by chunk, that chunk of rows
 * 0..7 side by side.  So chunk c of row r's field at byte f of the block,
 * with chunk size z, goes to 8 * f + 8 * z * c + z * r. */
#include "quant/repack.h"

#include <string.h>

#include "base/status.h"
#include "quant/quant.h"
#include "quant/quant_blocks.h"

#define R FLOE_REPACK_ROWS
#define MAX_GROUP_BYTES ((size_t)FLOE_REPACK_MAX_COLS / 32 * R * sizeof(struct block_q4_0))

_Static_assert((size_t)FLOE_REPACK_MAX_COLS / 256 * R * sizeof(struct block_q4_K) <= MAX_GROUP_BYTES,
	       "a Q4_K group fits the stack copy");

/* Block size, elements per block, and the first byte cut in 4-byte chunks
 * (the bytes before it are f16 scales, cut in 2-byte chunks). */
static bool layout(uint32_t type, size_t *block, int64_t *elems, size_t *wide_from)
{
	switch (type) {
	case FLOE_TYPE_Q4_0:
		*block = sizeof(struct block_q4_0);
		*elems = 32;
		*wide_from = 2; /* d | qs */
		return true;
	case FLOE_TYPE_Q4_K:
		*block = sizeof(struct block_q4_K);
		*elems = 256;
		*wide_from = 4; /* d, dmin | scales, qs */
		return true;
	default:
		return false;
	}
}

bool floe_repack_supported(uint32_t type, int64_t rows, int64_t cols)
{
	size_t block = 0, wide_from = 0;
	int64_t elems = 1;

	return layout(type, &block, &elems, &wide_from) && rows > 0 && rows % R == 0 && cols > 0 &&
	       cols % elems == 0 && cols <= FLOE_REPACK_MAX_COLS;
}

/* Where byte k of row r's block lands in its group block. */
static size_t packed_at(size_t k, int r, size_t wide_from)
{
	size_t z = k < wide_from ? 2 : 4, f = k < wide_from ? 0 : wide_from, c = (k - f) / z;

	return R * f + R * z * c + z * (size_t)r + (k - f) % z;
}

static void convert(uint32_t type, void *data, int64_t rows, int64_t cols, bool pack)
{
	size_t block = 0, wide_from = 0;
	int64_t elems = 1;
	uint8_t tmp[MAX_GROUP_BYTES];

	FLOE_ASSERT(floe_repack_supported(type, rows, cols));
	layout(type, &block, &elems, &wide_from);
	const int64_t nb = cols / elems;
	const size_t group_bytes = (size_t)nb * R * block;
	for (int64_t g = 0; g < rows / R; g++) {
		uint8_t *grp = (uint8_t *)data + (size_t)g * group_bytes;
		memcpy(tmp, grp, group_bytes);
		for (int r = 0; r < R; r++)
			for (int64_t b = 0; b < nb; b++) {
				size_t plain = ((size_t)r * (size_t)nb + (size_t)b) * block;
				size_t packed = (size_t)b * R * block;
				for (size_t k = 0; k < block; k += k < wide_from ? 2 : 4) {
					size_t z = k < wide_from ? 2 : 4, at = packed + packed_at(k, r, wide_from);
					if (pack)
						memcpy(grp + at, tmp + plain + k, z);
					else
						memcpy(grp + plain + k, tmp + at, z);
				}
			}
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
