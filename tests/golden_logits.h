/* golden_logits: reader for the fixtures' llama.cpp logits files
 * (tests/fixtures/logits/logits-<model>-<seq>.bin, "LOGITS01": n_vocab,
 * n_rows, the prompt's token ids, then n_rows x n_vocab float32 logits). */
#ifndef FLOE_TESTS_GOLDEN_LOGITS_H
#define FLOE_TESTS_GOLDEN_LOGITS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

struct golden_logits {
	uint32_t n_vocab, n_rows;
	int32_t *tokens; /* n_rows prompt token ids, into buf */
	float *logits;   /* n_rows x n_vocab, into buf */
	void *buf;       /* owned: free(g.buf) */
};

/* Load the goldens of fixture model (e.g. "q8_0") and sequence ("s7");
 * -1 if the file is missing or malformed. */
static inline int load_golden_logits(const char *model, const char *seq, struct golden_logits *g)
{
	char path[256];
	size_t size = 0;
	uint8_t *b;

	snprintf(path, sizeof(path), FIXTURE("logits/logits-%s-%s.bin"), model, seq);
	b = harness_read_file(path, &size);
	if (!b || size < 16 || memcmp(b, "LOGITS01", 8)) {
		free(b);
		return -1;
	}
	memcpy(&g->n_vocab, b + 8, 4);
	memcpy(&g->n_rows, b + 12, 4);
	if (size != 16 + 4ull * g->n_rows + 4ull * g->n_rows * g->n_vocab) {
		free(b);
		return -1;
	}
	g->buf = b;
	g->tokens = (int32_t *)(b + 16);
	g->logits = (float *)(b + 16 + 4ull * g->n_rows);
	return 0;
}

#endif
