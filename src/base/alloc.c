/* alloc: aligned blocks for kernels and O_DIRECT buffers. */
#include "base/alloc.h"

#include <stdlib.h>
#include <string.h>

void *floe_alloc_aligned(size_t size)
{
	void *p = NULL;
	size_t n = size ? (size + FLOE_ALIGN - 1) / FLOE_ALIGN * FLOE_ALIGN : FLOE_ALIGN;

	if (n < size || posix_memalign(&p, FLOE_ALIGN, n) != 0)
		return NULL;
	memset(p, 0, n);
	return p;
}

void floe_free_aligned(void *p) { free(p); }
