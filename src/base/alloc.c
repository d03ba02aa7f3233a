/* alloc: aligned blocks for kernels and O_DIRECT buffers. */
#include "base/alloc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Blocks this large (the expert cache's slot arena, big scratch) are aligned
 * to 2 MiB and asked for transparent huge pages: kernels stream gigabytes of
 * weights through them per token, and with 4 KiB pages every 4 KiB costs a
 * TLB miss (a two-level page walk under a hypervisor).  Only advice: if THP
 * is off the block simply stays in small pages. */
#define HUGE_MIN (8u << 20)
#define HUGE_ALIGN (2u << 20)

void *floe_alloc_aligned(size_t size)
{
	void *p = NULL;
	size_t n = size ? (size + FLOE_ALIGN - 1) / FLOE_ALIGN * FLOE_ALIGN : FLOE_ALIGN;

	size_t align = n >= HUGE_MIN ? HUGE_ALIGN : FLOE_ALIGN;

	if (n < size || posix_memalign(&p, align, n) != 0)
		return NULL;
#ifdef MADV_HUGEPAGE
	if (align == HUGE_ALIGN)
		(void)madvise(p, n / HUGE_ALIGN * HUGE_ALIGN, MADV_HUGEPAGE);
#endif
	memset(p, 0, n);
	return p;
}

void floe_free_aligned(void *p) { free(p); }
