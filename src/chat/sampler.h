/* sampler: picks the next token from a row of logits.
 *
 * The chain follows llama.cpp's default order:
 *   repetition penalty -> top_k -> top_p -> min_p -> temperature -> draw.
 * temperature <= 0 is greedy: the argmax of the penalized logits, ties going
 * to the lowest id (llama.cpp's argmax).  top_p and min_p look at the softmax
 * of the logits before temperature, as llama.cpp's do.  The draw uses a PRNG
 * seeded from params.seed and kept in the sampler: the same seed, logits and
 * accepted tokens give the same choices.
 *
 * All buffers are sized for n_vocab at creation; sample and accept allocate
 * nothing.  A sampler is used by one thread at a time. */
#ifndef FLOE_CHAT_SAMPLER_H
#define FLOE_CHAT_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"

struct floe_sampler_params {
	float temperature;     /* <= 0: greedy */
	int32_t top_k;	       /* keep the k most likely; <= 0: off */
	float top_p;	       /* keep the smallest set with probability >= top_p; >= 1: off */
	float min_p;	       /* drop p < min_p * p_max; <= 0: off */
	float repeat_penalty;  /* 1: off.  Divides positive logits, multiplies the others */
	int32_t repeat_last_n; /* how many accepted tokens the penalty looks back over */
	uint64_t seed;
};

struct floe_sampler;

/* llama.cpp's defaults: temperature 0.8, top_k 40, top_p 0.95, min_p 0.05,
 * repeat_penalty 1.0 (off), repeat_last_n 64; seed 0. */
void floe_sampler_params_default(struct floe_sampler_params *p);

/* FLOE_EARG for n_vocab == 0, a negative or NaN parameter, repeat_last_n < 0;
 * FLOE_ENOMEM.  *out is owned by the caller (floe_sampler_free). */
int floe_sampler_create(const struct floe_sampler_params *p, uint32_t n_vocab, struct floe_sampler **out,
			struct floe_err *err);
void floe_sampler_free(struct floe_sampler *s);

/* Choose a token from logits[0..n_vocab) (not modified).  Does not record the
 * choice: call floe_sampler_accept with the token actually used. */
int32_t floe_sampler_sample(struct floe_sampler *s, const float *logits);

/* The index of the largest of x[0..n), the lowest on ties: greedy decoding
 * of plain logits (benchmarks and tests; no sampler state needed). */
int32_t floe_argmax(const float *x, int n);

/* Record a token in the repetition history (generated tokens, and prompt
 * tokens too if the penalty should see them, as llama.cpp's CLI does). */
void floe_sampler_accept(struct floe_sampler *s, int32_t id);

/* Forget the history and reseed the PRNG from params.seed. */
void floe_sampler_reset(struct floe_sampler *s);

#endif
