/* repack: the q4_0x8 layout (repack.h), built and taken apart in place one
 * group of 8 rows at a time through a stack copy of the group. */
#include "quant/repack.h"

#include <string.h>

#include "base/status.h"
#include "quant/quant.h"
#include "quant/quant_blocks.h"

#define GROUP_BLOCK_BYTES (FLOE_REPACK_ROWS * sizeof(struct block_q4_0)) /* 144 */
#define PIECES 4

bool floe_repack_supported(uint32_t type, int64_t rows, int64_t cols)
{
	return type == FLOE_TYPE_Q4_0 && rows > 0 && rows % FLOE_REPACK_ROWS == 0 && cols > 0 && cols % 32 == 0 &&
	       cols <= FLOE_REPACK_MAX_COLS;
}

/* Byte offsets of one row's block b inside its group, repacked: the scale,
 * and quant piece m. */
static size_t scale_at(int64_t b, int r)
{
	return (size_t)b * GROUP_BLOCK_BYTES + (size_t)r * 2;
}

static size_t piece_at(int64_t b, int r, int m)
{
	return (size_t)b * GROUP_BLOCK_BYTES + 16 + (size_t)m * 32 + (size_t)r * 4;
}

static void convert(void *data, int64_t rows, int64_t cols, bool pack)
{
	const int64_t nb = cols / 32;
	const size_t group_bytes = (size_t)nb * GROUP_BLOCK_BYTES;
	uint8_t tmp[(FLOE_REPACK_MAX_COLS / 32) * GROUP_BLOCK_BYTES];

	for (int64_t g = 0; g < rows / FLOE_REPACK_ROWS; g++) {
		uint8_t *grp = (uint8_t *)data + (size_t)g * group_bytes;
		memcpy(tmp, grp, group_bytes);
		for (int r = 0; r < FLOE_REPACK_ROWS; r++)
			for (int64_t b = 0; b < nb; b++) {
				/* the block in the file's layout: row r, block b */
				size_t plain = ((size_t)r * (size_t)nb + (size_t)b) * sizeof(struct block_q4_0);
				if (pack) {
					memcpy(grp + scale_at(b, r), tmp + plain, 2);
					for (int m = 0; m < PIECES; m++)
						memcpy(grp + piece_at(b, r, m), tmp + plain + 2 + (size_t)m * 4, 4);
				} else {
					memcpy(grp + plain, tmp + scale_at(b, r), 2);
					for (int m = 0; m < PIECES; m++)
						memcpy(grp + plain + 2 + (size_t)m * 4, tmp + piece_at(b, r, m), 4);
				}
			}
	}
}

void floe_repack_rows(uint32_t type, void *data, int64_t rows, int64_t cols)
{
	FLOE_ASSERT(floe_repack_supported(type, rows, cols));
	convert(data, rows, cols, true);
}

void floe_unpack_rows(uint32_t type, void *data, int64_t rows, int64_t cols)
{
	FLOE_ASSERT(floe_repack_supported(type, rows, cols));
	convert(data, rows, cols, false);
}
