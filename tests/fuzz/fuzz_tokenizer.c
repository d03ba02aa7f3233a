/* libFuzzer target for the tokenizer (src/tokenizer/tokenizer.c).
 *
 * The input is arbitrary text, usually not valid UTF-8.  The first byte
 * chooses parse_special; the rest is encoded with the reduced Qwen3 vocab
 * (loaded once from tests/fixtures, so run from the repository root).  The
 * concatenated token bytes must equal the input, and so must the output of
 * the streaming detokenizer fed the same ids; anything else traps. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct floe_tokenizer *tok;
static struct floe_detok detok;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct floe_err err = {0};
	struct floe_gguf *g;

	(void)argc;
	(void)argv;
	if (floe_gguf_open("tests/fixtures/vocab-qwen3-reduced8k.gguf", &g, &err) ||
	    floe_tokenizer_load(g, &tok, &err) || floe_detok_init(&detok, tok, true, &err))
		__builtin_trap();
	floe_gguf_close(g);
	return 0;
}

/* Append p[0..n) to the check buffer and compare it with the input so far. */
static void expect(const char *text, size_t len, size_t *at, const char *p, size_t n)
{
	if (*at + n > len || memcmp(text + *at, p, n) != 0)
		__builtin_trap();
	*at += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct floe_err err;
	const char *text = (const char *)data + 1;
	size_t len, n, at = 0, at2 = 0, k;
	int32_t *ids;
	const char *b;

	if (size == 0)
		return 0;
	len = size - 1;
	if (floe_tokenizer_encode_alloc(tok, text, len, data[0] & 1, &ids, &n, &err))
		__builtin_trap();
	for (size_t i = 0; i < n; i++) {
		b = floe_tokenizer_token_bytes(tok, ids[i], &k);
		if (!b)
			__builtin_trap();
		expect(text, len, &at, b, k);
		if (floe_detok_push(&detok, ids[i], &b, &k, &err))
			__builtin_trap();
		expect(text, len, &at2, b, k);
	}
	floe_detok_flush(&detok, &b, &k);
	expect(text, len, &at2, b, k);
	if (at != len || at2 != len)
		__builtin_trap();
	free(ids);
	return 0;
}
