/* libFuzzer target for the GGUF header parser (src/gguf/gguf.c).
 *
 * The input is a GGUF image.  It is parsed twice: as a whole file (so
 * tensor data must fit in the input), and as the header of a 64 GiB file, so
 * inputs without tensor data still reach the offset, overlap and lookup
 * code.  On success every key and tensor is looked up and the typed getters
 * run, which walks every string and array the parser returned.  Seeds:
 * tests/fuzz/gguf_seeds.py (see docs/fuzzing.md). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gguf/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const struct floe_gguf *g)
{
	struct floe_err e;
	volatile uint64_t sink = 0;

	for (uint64_t i = 0; i < g->n_kv; i++) {
		const struct floe_gguf_kv *kv = &g->kv[i];
		uint64_t u64;
		uint32_t u32;
		float f;
		bool b;
		struct floe_gguf_str s;
		const void *d;
		uint64_t n;

		if (floe_gguf_find(g, kv->key.s) == NULL && strlen(kv->key.s) == kv->key.len)
			__builtin_trap(); /* a key that is in the table must be found */
		floe_gguf_get_u64(g, kv->key.s, &u64, &e);
		floe_gguf_get_u32(g, kv->key.s, &u32, &e);
		floe_gguf_get_f32(g, kv->key.s, &f, &e);
		floe_gguf_get_bool(g, kv->key.s, &b, &e);
		if (floe_gguf_get_str(g, kv->key.s, &s, &e) == 0)
			sink += s.len ? (unsigned char)s.s[s.len - 1] : 0;
		if (floe_gguf_get_arr(g, kv->key.s, FLOE_GGUF_STRING, &d, &n, &e) == 0)
			for (uint64_t j = 0; j < n; j++)
				sink += ((const struct floe_gguf_str *)d)[j].len;
	}
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const struct floe_gguf_tensor *t = &g->tensors[i];
		if (t->offset < g->data_offset || t->offset + t->size > g->file_size)
			__builtin_trap();
		if (strlen(t->name.s) == t->name.len && floe_gguf_find_tensor(g, t->name.s) != t)
			__builtin_trap();
		sink += t->n_elems;
	}
	(void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct floe_err e;
	struct floe_gguf *g = NULL;
	static const uint64_t sizes_extra[2] = {0, 64ull << 30};

	for (int k = 0; k < 2; k++) {
		if (floe_gguf_parse(data, size, size + sizes_extra[k], &g, &e) == FLOE_OK) {
			exercise(g);
			floe_gguf_close(g);
		} else if (g != NULL || e.msg[0] == '\0') {
			__builtin_trap(); /* failure must leave no handle and say why */
		}
	}
	return 0;
}
