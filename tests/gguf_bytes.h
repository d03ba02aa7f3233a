/* gguf_bytes: a tiny byte builder for hand-made GGUF images in tests
 * (hostile headers, minimal vocabularies, metadata-only files).  Aborts on
 * out-of-memory: tests are not the place to recover from it. */
#ifndef FLOE_TESTS_GGUF_BYTES_H
#define FLOE_TESTS_GGUF_BYTES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"

struct bb {
	unsigned char *p;
	size_t n, cap;
};

static inline void bb_raw(struct bb *b, const void *src, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->n, src, n);
	b->n += n;
}

static inline void bb_u32(struct bb *b, uint32_t v) { bb_raw(b, &v, 4); }
static inline void bb_u64(struct bb *b, uint64_t v) { bb_raw(b, &v, 8); }

static inline void bb_strn(struct bb *b, const char *s, size_t n)
{
	bb_u64(b, n);
	bb_raw(b, s, n);
}

static inline void bb_str(struct bb *b, const char *s) { bb_strn(b, s, strlen(s)); }

static inline void bb_zeros(struct bb *b, size_t n)
{
	static const unsigned char zero[64];
	while (n) {
		size_t k = n < sizeof(zero) ? n : sizeof(zero);
		bb_raw(b, zero, k);
		n -= k;
	}
}

static inline void bb_pad(struct bb *b, size_t align)
{
	if (b->n % align)
		bb_zeros(b, align - b->n % align);
}

/* "GGUF", version, tensor count, kv count. */
static inline void bb_preamble(struct bb *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
	bb_raw(b, "GGUF", 4);
	bb_u32(b, version);
	bb_u64(b, n_tensors);
	bb_u64(b, n_kv);
}

static inline void bb_kv_u32(struct bb *b, const char *key, uint32_t v)
{
	bb_str(b, key);
	bb_u32(b, FLOE_GGUF_UINT32);
	bb_u32(b, v);
}

static inline void bb_kv_str(struct bb *b, const char *key, const char *v)
{
	bb_str(b, key);
	bb_u32(b, FLOE_GGUF_STRING);
	bb_str(b, v);
}

/* One tensor info: name, dims, ne[], type, offset relative to the data. */
static inline void bb_tensor(struct bb *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
			     uint64_t offset)
{
	bb_str(b, name);
	bb_u32(b, n_dims);
	for (uint32_t i = 0; i < n_dims; i++)
		bb_u64(b, ne[i]);
	bb_u32(b, type);
	bb_u64(b, offset);
}

#endif
