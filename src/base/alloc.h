/* alloc: aligned allocation and overflow-checked size arithmetic. */
#ifndef FLOE_BASE_ALLOC_H
#define FLOE_BASE_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Alignment for every buffer the kernels or O_DIRECT touch. */
#define FLOE_ALIGN 4096

/* Zeroed, FLOE_ALIGN-aligned block of size bytes (size may be 0); NULL on
 * failure.  Free with floe_free_aligned. */
void *floe_alloc_aligned(size_t size);
void floe_free_aligned(void *p);

/* a*b / a+b into *out; false on overflow. */
static inline bool floe_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}
static inline bool floe_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	return !__builtin_add_overflow(a, b, out);
}

static inline uint64_t floe_round_up(uint64_t x, uint64_t align)
{
	return (x + align - 1) / align * align;
}

#endif
